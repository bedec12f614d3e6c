/*
 * lib/lvol/esnap.c: external snapshots seen from the lvol layer: the
 * opener every store installs in its blobstore, which lvols are
 * "degraded" (an esnap clone whose external snapshot did not open), and
 * the hot-plug that brings such an lvol back when its external snapshot
 * appears later (spec §7.4: EXTSNAP holds the external bdev's UUID string).
 *
 * Degraded lvols. An esnap clone whose external snapshot is missing when
 * its blob opens still loads (listed, no bdev). The blobstore leaves its
 * back device NULL (blob_esnap_dev_missing), and lvol_attach marks the
 * lvol degraded. Every degraded lvol is on its store's `degraded` list; a
 * process-wide count adds them up, so that a caller can tell in O(1) that
 * no lvol anywhere waits for anything (the bdev module asks on every new
 * bdev, thousands of times while a big store registers its lvol bdevs).
 *
 * Hot-plug. lvs_esnap_hotplug(lvs, id, ...) walks only the store's
 * degraded list (O(degraded), not O(lvols)); for each lvol whose EXTSNAP
 * bytes equal `id` (or every one, with id NULL) it calls the store's
 * opener again and, when that succeeds, hands the device to the blob with
 * blob_esnap_attach. Nothing is written: the EXTSNAP already names it.
 * An opener that fails again leaves the lvol exactly as it was.
 *
 * Invariants (app thread only, no locks):
 *  - lvol->degraded <=> the lvol is on lvol->lvs->degraded;
 *    lvs->degraded_count is that list's length and g_degraded_total the
 *    sum over every store in memory (loaded or still loading);
 *  - an attach in flight is counted in lvol->ops and lvs->ops (so neither
 *    the lvol nor its store can go meanwhile) and marked esnap_attaching
 *    (a second hot-plug of the same lvol does not open a second device).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lvstor/log.h"

#include "lvol_internal.h"

static uint64_t g_degraded_total;

/* ---- the opener wrapper ------------------------------------------------------------------ */

/*
 * Installed as every lvolstore's bs_opts.esnap_bs_dev_create (bs_ctx is the
 * store): calls the application's opener with blob_ctx = the store. A
 * failure is not an error of the open: the blob opens without its device
 * (blob_esnap_dev_missing) and its lvol comes up degraded (spec: listed, no
 * bdev). Which lvol is degraded is asked of its blob handle when the lvol
 * is made (lvol_attach), never remembered by blob id: a blob re-opened by
 * a delete while its external snapshot is gone must not make a later lvol
 * with the same id look degraded.
 */
int
lvs_esnap_dev_create(void *bs_ctx, void *blob_ctx, struct blob *blob, const void *esnap_id,
		     uint32_t id_len, struct bs_dev **dev)
{
	struct lvol_store *lvs = bs_ctx;

	*dev = NULL;
	if (lvs->esnap_bs_dev_create == NULL)
		return -ENODEV;
	return lvs->esnap_bs_dev_create(lvs->esnap_ctx, lvs, blob, esnap_id, id_len, dev);
}

/* ---- the degraded lvols ------------------------------------------------------------------ */

void
lvol_set_degraded(struct lvol *lvol, bool degraded)
{
	struct lvol_store *lvs = lvol->lvs;

	if (lvol->degraded == degraded)
		return;
	lvol->degraded = degraded;
	if (degraded) {
		TAILQ_INSERT_TAIL(&lvs->degraded, lvol, degraded_link);
		lvs->degraded_count++;
		g_degraded_total++;
	} else {
		TAILQ_REMOVE(&lvs->degraded, lvol, degraded_link);
		lvs->degraded_count--;
		g_degraded_total--;
	}
}

uint64_t
lvs_get_degraded_count(const struct lvol_store *lvs)
{
	return lvs == NULL ? g_degraded_total : lvs->degraded_count;
}

/* ---- hot-plug ---------------------------------------------------------------------------- */

/* One call of lvs_esnap_hotplug: its attaches still running, and whom to tell. */
struct esnap_hotplug {
	uint32_t pending;
	lvol_op_with_handle_complete lvol_cb;
	lvs_op_complete done;
	void *cb_arg;
};

/* One lvol being given its device. */
struct esnap_attach {
	struct esnap_hotplug *h;
	struct lvol *lvol;
	struct bs_dev *dev;
};

static void
hotplug_put(struct esnap_hotplug *h)
{
	if (--h->pending > 0)
		return;
	h->done(h->cb_arg, 0);
	free(h);
}

static void
attach_done(void *arg, int rc)
{
	struct esnap_attach *a = arg;
	struct esnap_hotplug *h = a->h;
	struct lvol *lvol = a->lvol;

	lvol->esnap_attaching = false;
	lvol->ops--;
	lvol->lvs->ops--;
	if (rc == 0) {
		lvol_set_degraded(lvol, false);
		LOG_NOTICE("lvol: %s/%s: its external snapshot appeared; no longer degraded\n",
			   lvol->lvs->name, lvol->name);
	} else {
		/* The blobstore takes the device only when it succeeds. */
		LOG_ERR("lvol: %s/%s: its external snapshot appeared but cannot be attached: %d\n",
			lvol->lvs->name, lvol->name, rc);
		a->dev->destroy(a->dev);
	}
	free(a);
	h->lvol_cb(h->cb_arg, lvol, rc);
	hotplug_put(h);
}

/* Does this degraded lvol wait for `id` (any id when id is NULL)? Its id in *eid / *elen. */
static bool
waits_for(struct lvol *lvol, const void *id, uint32_t id_len, const void **eid, size_t *elen)
{
	if (lvol->esnap_attaching || lvol_op_check(lvol) != 0 ||
	    blob_get_esnap_id(lvol->blob, eid, elen) != 0)
		return false;
	return id == NULL || (*elen == id_len && memcmp(*eid, id, id_len) == 0);
}

/* Opens the lvol's external snapshot again and starts the attach. 0 if started. */
static int
attach_start(struct esnap_hotplug *h, struct lvol *lvol, const void *eid, size_t elen)
{
	struct lvol_store *lvs = lvol->lvs;
	struct esnap_attach *a = calloc(1, sizeof(*a));
	int rc;

	if (a == NULL)
		return -ENOMEM;
	rc = lvs->esnap_bs_dev_create(lvs->esnap_ctx, lvs, lvol->blob, eid, (uint32_t)elen,
				      &a->dev);
	if (rc != 0 || a->dev == NULL) {
		/* Still missing (or not openable): the lvol stays as it was. */
		free(a);
		return rc != 0 ? rc : -ENODEV;
	}
	a->h = h;
	a->lvol = lvol;
	lvol->esnap_attaching = true;
	lvol->ops++;
	lvs->ops++;
	h->pending++;
	blob_esnap_attach(lvol->blob, a->dev, attach_done, a);
	return 0;
}

int
lvs_esnap_hotplug(struct lvol_store *lvs, const void *esnap_id, uint32_t id_len,
		  lvol_op_with_handle_complete lvol_cb, lvs_op_complete done, void *cb_arg)
{
	struct esnap_hotplug *h;
	struct lvol *lvol;
	const void *eid;
	size_t elen;
	int started = 0;

	if (lvs == NULL || lvol_cb == NULL || done == NULL || (esnap_id == NULL) != (id_len == 0))
		return -EINVAL;
	if (lvs->degraded_count == 0 || lvs->esnap_bs_dev_create == NULL || lvs->unloading)
		return 0;
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return -ENOMEM;
	h->lvol_cb = lvol_cb;
	h->done = done;
	h->cb_arg = cb_arg;
	/* Held over the walk: no attach completes inside it, but say so anyway. */
	h->pending = 1;
	/* attach_start changes no list: the walk is safe. */
	TAILQ_FOREACH(lvol, &lvs->degraded, degraded_link) {
		if (!waits_for(lvol, esnap_id, id_len, &eid, &elen))
			continue;
		if (attach_start(h, lvol, eid, elen) == 0)
			started++;
	}
	if (started == 0) {
		free(h);
		return 0;
	}
	hotplug_put(h);
	return started;
}
