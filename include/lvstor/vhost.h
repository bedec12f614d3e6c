/*
 * vhost-user controllers: each is a Unix socket `<socket dir>/<name>` that a
 * VM (QEMU) connects to. lvstord shares the guest's memory and polls its
 * virtqueues on one reactor thread per controller. rte_vhost speaks the
 * socket protocol; lib/vhost owns everything after that (virtqueues,
 * requests, notifications) -- see doc/vhost.md and doc/architecture.
 *
 * Threading: every function here is called on the app thread (where RPCs
 * run) unless it says otherwise. A controller's I/O runs on its own thread
 * (vhost_controller_get_thread()), created on the least-loaded reactor of
 * its cpumask.
 */
#ifndef LVSTOR_VHOST_H
#define LVSTOR_VHOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct vhost_controller;
struct thread;

/*
 * Directory the sockets are created in (the daemon's -S option); a trailing
 * '/' is added when missing. NULL or "" = the working directory. Returns 0
 * or -ENAMETOOLONG.
 */
int vhost_set_socket_dir(const char *dir);
const char *vhost_get_socket_dir(void);

/* Coalescing defaults (vhost_get_controllers shows them). */
#define VHOST_DEFAULT_DELAY_BASE_US 0
#define VHOST_DEFAULT_IOPS_THRESHOLD 60000

struct vhost_blk_opts {
	size_t opts_size;      /* sizeof(struct vhost_blk_opts), set by _init */
	const char *cpumask;   /* "0x3", "3" or "[0,1]"; NULL = app core mask */
	bool readonly;         /* offer VIRTIO_BLK_F_RO; OUT requests fail */
	bool packed_ring;      /* offer VIRTIO_F_RING_PACKED */
	const char *transport; /* NULL or "vhost_user_blk" (the only one) */
};
void vhost_blk_opts_init(struct vhost_blk_opts *opts, size_t opts_size);

/*
 * Creates a vhost-blk controller serving bdev `bdev_name` and starts
 * listening on its socket. Synchronous. Errors: -EEXIST (name in use),
 * -ENODEV (no such bdev), -EINVAL (bad name, cpumask outside the app mask,
 * unknown transport, socket path too long), -EPERM (bdev claimed
 * exclusively), -EIO (the socket path exists and is not a socket, or
 * rte_vhost refused it), -ENOMEM.
 */
int vhost_blk_controller_create(const char *name, const char *bdev_name,
				const struct vhost_blk_opts *opts);

/*
 * Deletes a controller: stops listening, removes the socket file, closes
 * the bdev. Refused with -EBUSY while a VM is connected (SPDK <= v24.05
 * behaviour, which tools expect). -ENODEV if there is no such controller,
 * -EIO if the socket cannot be unregistered.
 */
int vhost_controller_delete(const char *name);

/* Deletes every controller, waiting for connected VMs to be dropped
 * (shutdown). cb runs on the app thread when done. */
void vhost_fini(void (*cb)(void *ctx), void *ctx);

struct vhost_controller *vhost_controller_find(const char *name);
struct vhost_controller *vhost_controller_first(void);
struct vhost_controller *vhost_controller_next(struct vhost_controller *ctrlr);

const char *vhost_controller_get_name(const struct vhost_controller *ctrlr);
const char *vhost_controller_get_socket(const struct vhost_controller *ctrlr);
struct thread *vhost_controller_get_thread(const struct vhost_controller *ctrlr);

/*
 * Interrupt coalescing: with delay_base_us 0 every batch of completions
 * that the guest wants to hear about gets a call notification at once.
 * Otherwise, when a queue completes more than iops_threshold requests per
 * second, calls are delayed by up to delay_base_us scaled by the rate, so
 * one interrupt covers many completions. Errors: -EINVAL when
 * iops_threshold < 100, or the delay does not fit 32 bits of ticks.
 */
int vhost_controller_set_coalescing(struct vhost_controller *ctrlr, uint32_t delay_base_us,
				    uint32_t iops_threshold);
void vhost_controller_get_coalescing(const struct vhost_controller *ctrlr,
				     uint32_t *delay_base_us, uint32_t *iops_threshold);

/* The vhost_get_controllers element for ctrlr (spec §2.4.6); new reference. */
json_t *vhost_controller_info_json(const struct vhost_controller *ctrlr);

/* Appends the replayable creation calls of every controller of the given
 * type ("blk" or "scsi") to config (save_config, spec §2.1.6). */
void vhost_write_config(json_t *config, const char *type);

#endif
