/*
 * lib/vhost/subsystem.c: the "vhost_blk" subsystem (spec/rpc.md §2.1.5,
 * §2.1.6): where vhost-blk controllers sit in the daemon's start-up,
 * shut-down and saved configuration.
 *
 * It depends on "bdev": controllers hold bdev descriptors, so they must be
 * created after the bdev layer is up (the --json replay creates them in
 * the runtime pass, after the bdevs of the "bdev" section) and be gone
 * before it goes down (fini runs in reverse order, so every controller is
 * deleted -- its VM dropped, its socket removed, its bdev closed -- before
 * the bdev layer unregisters the bdevs).
 *
 * Init only records the socket directory (-S); no socket exists until a
 * controller is created. The vhost-scsi controllers get their own
 * "vhost_scsi" subsystem (depending on "scsi") with the SCSI work.
 */
#include <errno.h>
#include <string.h>

#include "lvstor/app.h"
#include "lvstor/log.h"
#include "lvstor/vhost.h"

static void
vhost_blk_subsystem_init(void)
{
	const struct app_opts *opts = app_get_opts();
	int rc;

	rc = vhost_set_socket_dir(opts->vhost_sock_dir);
	if (rc != 0)
		LOG_ERR("vhost: socket directory '%s': %s", opts->vhost_sock_dir, strerror(-rc));
	subsystem_init_done(rc);
}

static void
vhost_fini_done(void *ctx)
{
	subsystem_fini_done();
}

static void
vhost_blk_subsystem_fini(void)
{
	vhost_fini(vhost_fini_done, NULL);
}

static void
vhost_blk_subsystem_write_config(json_t *config)
{
	vhost_write_config(config, "blk");
}

static struct subsystem g_vhost_blk_subsystem = {
	.name = "vhost_blk",
	.init = vhost_blk_subsystem_init,
	.fini = vhost_blk_subsystem_fini,
	.write_config = vhost_blk_subsystem_write_config,
	.depends_on = { "bdev", NULL },
};
SUBSYSTEM_REGISTER(g_vhost_blk_subsystem)
