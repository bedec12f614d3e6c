/*
 * lib/vhost internals: controllers, sessions, queues, and the interface a
 * device type (blk now; scsi and nvme later) implements.
 *
 * Objects and who owns them:
 *   controller  created/deleted on the app thread; lives in the global
 *               list, which the rte_vhost event thread also reads, so the
 *               list and each controller's `session` pointer are guarded
 *               by g_vhost_mutex (the one lock of lib/vhost, taken only at
 *               the edge where rte_vhost calls in -- never in the I/O path).
 *   session     one VM connection (rte_vhost "vid"). Created by the
 *               new_connection callback, started/stopped on the
 *               controller's thread by messages the event thread sends and
 *               waits for (new_device / destroy_device), freed by
 *               destroy_connection.
 *   queue       one virtqueue of a started session; touched only on the
 *               controller's thread.
 *
 * Invariant: while a session is started, guest memory stays mapped
 * (rte_vhost unmaps only after destroy_device returns), and destroy_device
 * returns only after every request of the session has completed, so an
 * iovec into guest memory is never used after the memory is gone.
 */
#ifndef LVSTOR_VHOST_INTERNAL_H
#define LVSTOR_VHOST_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/un.h>

#include "lvstor/cpuset.h"
#include "lvstor/vhost.h"
#include "guest_mem.h"
#include "virtqueue.h"

/*
 * Queues per session. QEMU's vhost-user-blk defaults num-queues to the
 * number of vCPUs; 16 covers the guests this daemon is sized for, and each
 * queue costs its task array (queue size x ~2.3 KiB) only when used.
 */
#define VHOST_MAX_QUEUES 16
/* Requests a device type takes from one queue per poller pass: bounds the
 * time one busy queue can hold the others (and the bdev's pollers) off. */
#define VHOST_BATCH 32

struct vhost_controller;
struct vhost_session;
struct vhost_queue;

/* What a device type provides. All session/queue calls run on the
 * controller's thread; the others on the app thread unless noted. */
struct vhost_backend {
	const char *type;         /* "blk" */
	/* Session started: set up per-session and per-queue state. */
	int (*session_start)(struct vhost_session *s);
	/* No request in flight any more: free what session_start made. */
	void (*session_stop)(struct vhost_session *s);
	/* Take and start up to a batch of requests; returns how many. */
	int (*process_queue)(struct vhost_session *s, struct vhost_queue *q);
	/* Start a request again from its (split) head after a reconnect. */
	void (*resubmit)(struct vhost_session *s, struct vhost_queue *q, uint16_t head);
	/* Device config space (VHOST_USER_GET_CONFIG); rte_vhost thread,
	 * under g_vhost_mutex. Returns bytes filled or -errno. */
	int (*get_config)(struct vhost_controller *c, uint8_t *buf, uint32_t len);
	/* Fill backend_specific of vhost_get_controllers. */
	void (*info_json)(const struct vhost_controller *c, json_t *backend_specific);
	/* Append creation calls for save_config. */
	void (*write_config)(const struct vhost_controller *c, json_t *config);
	/* The controller is being deleted (no session): release everything. */
	void (*destroy)(struct vhost_controller *c);
};

struct vhost_queue {
	struct virtqueue vq;
	struct vhost_session *session;
	uint16_t index;
	bool enabled;
	int kickfd;
	int callfd;               /* -1 while the guest is switching it */
	struct fd_handler *kick_handler;
	bool inflight_tracked;    /* guest gave us an inflight region */
	uint32_t in_flight;       /* requests taken and not yet pushed back */
	/* notification coalescing */
	bool call_wanted;         /* pushed something since the last decision */
	bool call_missed;         /* wanted a call while callfd was being replaced */
	uint64_t next_call_tsc;
	uint64_t call_delay_ticks;
	uint64_t window_start_tsc;
	uint32_t window_completions;
	void *backend_ctx;        /* device type's per-queue state */
};

struct vhost_session {
	struct vhost_controller *ctrlr;
	int vid;
	char name[64];            /* "<ctrlr>s<vid>" */
	bool started;             /* new_device done, destroy_device not yet */
	uint64_t features;        /* negotiated virtio features */
	uint64_t protocol_features;
	struct guest_mem mem;
	uint16_t nqueues;
	struct vhost_queue queues[VHOST_MAX_QUEUES];
	struct poller *poller;    /* active poller over every queue */
	struct poller *stop_poller;
	bool interrupt_mode;      /* poller paused, sleeping on kick fds */
	bool stopping;
	uint64_t last_busy_tsc;
	uint32_t in_flight;       /* sum over queues */
	/* the event thread waits for start/stop on this */
	sem_t done;
	int done_rc;
	void *backend_ctx;
};

struct vhost_controller {
	char name[NAME_MAX + 1];
	char socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct cpuset cpumask;
	struct thread *thread;
	const struct vhost_backend *backend;
	void *backend_ctx;
	uint64_t virtio_features;       /* offered to the guest */
	uint64_t protocol_features;
	uint32_t delay_base_us;
	uint32_t iops_threshold;
	/* copies the controller thread reads (changed by message) */
	uint64_t coalescing_delay_ticks;
	uint32_t coalescing_threshold_per_window;
	struct vhost_session *session;  /* g_vhost_mutex */
	bool deleting;                  /* g_vhost_mutex */
	TAILQ_ENTRY(vhost_controller) link;
};

extern pthread_mutex_t g_vhost_mutex;

/*
 * Creates a controller of the given backend: validates name and cpumask,
 * creates its thread and registers the socket with rte_vhost offering
 * virtio_features. Returns the controller or NULL with *rc = -errno.
 * The backend sets c->backend_ctx before calling vhost_controller_start.
 */
struct vhost_controller *vhost_controller_construct(const char *name, const char *cpumask,
						    const struct vhost_backend *backend,
						    uint64_t virtio_features, int *rc);
/* Starts listening. 0 or -EIO. */
int vhost_controller_start(struct vhost_controller *c);
/* Undo vhost_controller_construct before start (error paths). */
void vhost_controller_free(struct vhost_controller *c);

/* ---- used by device types on the controller thread ---------------------- */

/*
 * Takes the next request from q into chain and records it in the inflight
 * region. Same returns as vq_pop. On 1 and -EINVAL the request counts as
 * in flight until vhost_queue_complete.
 */
int vhost_queue_pop(struct vhost_queue *q, struct vq_chain *chain);
/* Re-reads a resubmitted head's chain (no avail index change). */
int vhost_queue_get_chain(struct vhost_queue *q, uint16_t head, struct vq_chain *chain);
/*
 * Returns a request to the guest (written bytes into its writable part),
 * clears its inflight record and calls the guest when it wants a call
 * (coalesced per the controller's settings).
 */
void vhost_queue_complete(struct vhost_queue *q, uint16_t id, uint16_t ndesc, uint32_t written);

/*
 * Forgets a taken request without giving it back: only for a queue that
 * is broken (the guest reused an id still in flight), where nothing more
 * is pushed.
 */
void vhost_queue_drop(struct vhost_queue *q);

/* ---- session.c: run on the controller thread, sent by controller.c ------ */

/* Start the session (ctx = session); posts s->done with s->done_rc. */
void vhost_session_start_on_thread(void *ctx);
/* Stop it once every request has completed; posts s->done. */
void vhost_session_stop_on_thread(void *ctx);
/* A queue was enabled (with its current fds) or disabled. */
void vhost_session_vring_change_on_thread(struct vhost_session *s, uint16_t index, bool enable,
					  int kickfd, int callfd);

#endif
