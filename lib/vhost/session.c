/*
 * A session: one connected VM's queues, served on the controller's thread.
 *
 * Polling and sleeping. While requests flow, one active poller walks every
 * queue and the guest is told not to kick (a kick is a VM exit for a KVM
 * guest and an eventfd wake-up for us, both wasted while we poll). When no
 * request has arrived for VHOST_IDLE_US the session asks the guest to kick
 * again, checks the rings once more (a request may have slipped in before
 * the guest saw the change), and pauses its poller; the reactor can then
 * sleep in epoll on the kick eventfds. The first kick resumes the poller.
 *
 * Notifications. Completions mark the queue as wanting a call; the poller
 * makes the call decision once per pass (one eventfd write for a burst),
 * after the coalescing delay when coalescing is on. With the poller paused
 * (interrupt mode) or the session stopping, a completion decides at once.
 *
 * Inflight tracking (split rings, when QEMU shares an inflight region):
 * each request is marked in flight when taken and cleared after its used
 * element is published, so a restarted lvstord finds and resubmits exactly
 * the requests the previous one had taken but not finished.
 *
 * Invariant: s->in_flight counts requests taken and not yet pushed back;
 * the session stops (and guest memory may go) only when it is zero.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <rte_vhost.h>

#include "lvstor/env.h"
#include "lvstor/log.h"
#include "lvstor/thread.h"
#include "vhost_internal.h"

/*
 * Idle time before a session goes back to waiting for kicks. Switching
 * costs the guest one kick and us one wake-up (tens of microseconds); a
 * request stream with gaps shorter than this stays polled. 1 ms keeps a
 * QD1 stream of a slow (TCG) guest mostly polled yet lets an idle
 * daemon's reactor sleep almost at once.
 */
#define VHOST_IDLE_US 1000
/* Coalescing judges the completion rate over windows of this length. */
#define VHOST_RATE_WINDOW_US 10000
/* How often a stopping session checks whether its last request is done. */
#define VHOST_STOP_CHECK_US 1000

static uint64_t
us_to_ticks(uint64_t us)
{
	return us * env_get_ticks_hz() / 1000000;
}

static void
call_guest(struct vhost_queue *q)
{
	if (q->callfd < 0) {
		q->call_missed = true;
		return;
	}
	if (eventfd_write(q->callfd, 1) != 0)
		LOG_DEBUG(vhost, "%s: call on queue %u: %s", q->session->name, q->index,
			  strerror(errno));
}

/* Decides about one call for everything pushed since the last decision. */
static void
queue_signal(struct vhost_queue *q, uint64_t now)
{
	q->call_wanted = false;
	q->next_call_tsc = now + q->call_delay_ticks;
	if (vq_should_notify(&q->vq))
		call_guest(q);
}

/*
 * Counting requests in flight. The session's count is also read, without
 * the controller thread, by vhost_get_controllers: stored whole (no torn
 * value), never read-modify-written by anyone else.
 */
static void
count_taken(struct vhost_queue *q)
{
	struct vhost_session *s = q->session;

	q->in_flight++;
	__atomic_store_n(&s->in_flight, s->in_flight + 1, __ATOMIC_RELAXED);
}

static void
count_returned(struct vhost_queue *q)
{
	struct vhost_session *s = q->session;

	assert(q->in_flight > 0 && s->in_flight > 0);
	q->in_flight--;
	__atomic_store_n(&s->in_flight, s->in_flight - 1, __ATOMIC_RELAXED);
}

int
vhost_queue_pop(struct vhost_queue *q, struct vq_chain *chain)
{
	struct vhost_session *s = q->session;
	int rc = vq_pop(&q->vq, &s->mem, chain);

	if (rc == 1 || rc == -EINVAL) {
		if (q->inflight_tracked)
			rte_vhost_set_inflight_desc_split(s->vid, q->index, chain->id);
		count_taken(q);
	} else if (rc == -EIO) {
		LOG_ERR("%s: queue %u: the guest corrupted the ring; queue stopped", s->name,
			q->index);
	}
	if (rc == -EINVAL)
		LOG_ERR("%s: queue %u: malformed descriptor chain (head %u) failed", s->name,
			q->index, chain->id);
	return rc;
}

int
vhost_queue_get_chain(struct vhost_queue *q, uint16_t head, struct vq_chain *chain)
{
	struct vhost_session *s = q->session;
	int rc = vq_get_chain_split(&q->vq, &s->mem, head, chain);

	if (rc == 1 || rc == -EINVAL)
		count_taken(q);
	return rc;
}

void
vhost_queue_drop(struct vhost_queue *q)
{
	count_returned(q);
}

void
vhost_queue_complete(struct vhost_queue *q, uint16_t id, uint16_t ndesc, uint32_t written)
{
	struct vhost_session *s = q->session;

	if (q->inflight_tracked)
		rte_vhost_set_last_inflight_io_split(s->vid, q->index, id);
	vq_push(&q->vq, id, ndesc, written);
	if (q->inflight_tracked)
		rte_vhost_clr_inflight_desc_split(s->vid, q->index, q->vq.last_used_idx, id);
	count_returned(q);
	q->window_completions++;
	q->call_wanted = true;
	if (s->interrupt_mode || s->stopping)
		queue_signal(q, env_get_ticks());
}

/* ---- polling and interrupt mode ------------------------------------------- */

static void
set_kicks(struct vhost_session *s, bool enable)
{
	uint16_t i;

	for (i = 0; i < s->nqueues; i++) {
		if (s->queues[i].enabled)
			vq_enable_kick(&s->queues[i].vq, enable);
	}
}

static bool
any_avail(struct vhost_session *s)
{
	uint16_t i;

	for (i = 0; i < s->nqueues; i++) {
		struct vhost_queue *q = &s->queues[i];

		if (q->enabled && !q->vq.broken && vq_has_avail(&q->vq))
			return true;
	}
	return false;
}

static void
enter_interrupt_mode(struct vhost_session *s, uint64_t now)
{
	uint16_t i;

	set_kicks(s, true);
	if (any_avail(s)) {
		set_kicks(s, false);
		s->last_busy_tsc = now;
		return;
	}
	/* Nothing may wait for a coalesced call while the poller sleeps. */
	for (i = 0; i < s->nqueues; i++) {
		if (s->queues[i].call_wanted)
			queue_signal(&s->queues[i], now);
	}
	s->interrupt_mode = true;
	poller_pause(s->poller);
}

static void
leave_interrupt_mode(struct vhost_session *s)
{
	if (!s->interrupt_mode || s->stopping)
		return;
	s->interrupt_mode = false;
	set_kicks(s, false);
	s->last_busy_tsc = env_get_ticks();
	poller_resume(s->poller);
}

static int
kick_ready(void *ctx, uint32_t events)
{
	struct vhost_queue *q = ctx;
	uint64_t count;

	/* Level-triggered and readable: this read does not block. */
	if (read(q->kickfd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		LOG_DEBUG(vhost, "%s: kick fd of queue %u: %s", q->session->name, q->index,
			  strerror(errno));
	leave_interrupt_mode(q->session);
	return 1;
}

/* Recomputes each queue's call delay from its completion rate. */
static void
update_coalescing(struct vhost_session *s, uint64_t now)
{
	struct vhost_controller *c = s->ctrlr;
	uint64_t window = us_to_ticks(VHOST_RATE_WINDOW_US);
	uint32_t threshold = c->coalescing_threshold_per_window;
	uint16_t i;

	for (i = 0; i < s->nqueues; i++) {
		struct vhost_queue *q = &s->queues[i];
		uint64_t delay = 0;

		if (now - q->window_start_tsc < window)
			continue;
		/* Above the threshold the delay grows with the rate, up to
		 * delay_base_us at twice the threshold. */
		if (c->coalescing_delay_ticks != 0 && threshold != 0 &&
		    q->window_completions > threshold) {
			uint64_t excess = q->window_completions - threshold;

			delay = excess >= threshold ? c->coalescing_delay_ticks :
				c->coalescing_delay_ticks * excess / threshold;
		}
		q->call_delay_ticks = delay;
		q->window_completions = 0;
		q->window_start_tsc = now;
	}
}

static int
session_poll(void *ctx)
{
	struct vhost_session *s = ctx;
	const struct vhost_backend *backend = s->ctrlr->backend;
	uint64_t now = env_get_ticks();
	int taken = 0;
	uint16_t i;

	for (i = 0; i < s->nqueues; i++) {
		struct vhost_queue *q = &s->queues[i];

		if (q->enabled && !q->vq.broken)
			taken += backend->process_queue(s, q);
	}
	update_coalescing(s, now);
	for (i = 0; i < s->nqueues; i++) {
		struct vhost_queue *q = &s->queues[i];

		if (q->call_wanted && now >= q->next_call_tsc)
			queue_signal(q, now);
	}
	if (taken > 0)
		s->last_busy_tsc = now;
	else if (now - s->last_busy_tsc > us_to_ticks(VHOST_IDLE_US))
		enter_interrupt_mode(s, now);
	return taken > 0 ? POLLER_BUSY : POLLER_IDLE;
}

/* ---- start and stop ------------------------------------------------------- */

static int
queue_watch_kicks(struct vhost_queue *q)
{
	char name[96];

	if (q->kickfd < 0)
		return 0;
	snprintf(name, sizeof(name), "%s.kick%u", q->session->name, q->index);
	q->kick_handler = thread_fd_register(q->kickfd, FD_EVENT_IN, kick_ready, q, name);
	return q->kick_handler == NULL ? -errno : 0;
}

static int
queue_start(struct vhost_session *s, uint16_t index)
{
	struct vhost_queue *q = &s->queues[index];
	struct rte_vhost_vring vring;
	struct rte_vhost_ring_inflight inflight;
	uint16_t last_avail, last_used;
	bool packed = s->features & (1ULL << VIRTIO_F_RING_PACKED);
	bool event_idx = s->features & (1ULL << VIRTIO_RING_F_EVENT_IDX);
	int rc;

	memset(q, 0, sizeof(*q));
	q->session = s;
	q->index = index;
	q->kickfd = -1;
	q->callfd = -1;
	if (rte_vhost_get_vhost_vring(s->vid, index, &vring) != 0 || vring.desc == NULL)
		return 0; /* the guest does not use this queue */
	if (rte_vhost_get_vring_base(s->vid, index, &last_avail, &last_used) != 0)
		return -EIO;
	if (packed)
		rc = vq_init_packed(&q->vq, vring.size, vring.desc_packed, vring.driver_event,
				    vring.device_event, event_idx, last_avail, last_used);
	else
		rc = vq_init_split(&q->vq, vring.size, vring.desc, vring.avail, vring.used,
				   event_idx, last_avail, last_used);
	if (rc != 0) {
		LOG_ERR("%s: queue %u: unusable ring (size %u)", s->name, index, vring.size);
		return rc;
	}
	q->kickfd = vring.kickfd;
	q->callfd = vring.callfd;
	if (!packed && (s->protocol_features & (1ULL << VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD)) &&
	    rte_vhost_get_vhost_ring_inflight(s->vid, index, &inflight) == 0 &&
	    inflight.inflight_split != NULL)
		q->inflight_tracked = true;
	q->window_start_tsc = env_get_ticks();
	q->enabled = true;
	return 0;
}

/*
 * Requests the previous lvstord took but never finished, oldest first.
 * rte_vhost found them in the inflight region when the queue was set up;
 * the flag is checked again so nothing finished meanwhile runs twice.
 */
static void
queue_resubmit(struct vhost_session *s, struct vhost_queue *q)
{
	struct rte_vhost_ring_inflight inflight;
	struct rte_vhost_resubmit_info *info;
	int i;

	if (!q->inflight_tracked ||
	    rte_vhost_get_vhost_ring_inflight(s->vid, q->index, &inflight) != 0)
		return;
	info = inflight.resubmit_inflight;
	if (info == NULL || info->resubmit_list == NULL)
		return;
	for (i = info->resubmit_num - 1; i >= 0; i--) {
		uint16_t head = info->resubmit_list[i].index;

		if (head >= inflight.inflight_split->desc_num || head >= q->vq.size ||
		    !inflight.inflight_split->desc[head].inflight)
			continue;
		LOG_NOTICE("%s: queue %u: resubmitting request %u after reconnect", s->name,
			   q->index, head);
		s->ctrlr->backend->resubmit(s, q, head);
	}
	info->resubmit_num = 0;
}

static void
session_unwatch(struct vhost_session *s)
{
	uint16_t i;

	poller_unregister(&s->poller);
	for (i = 0; i < s->nqueues; i++)
		thread_fd_unregister(&s->queues[i].kick_handler);
}

void
vhost_session_start_on_thread(void *ctx)
{
	struct vhost_session *s = ctx;
	uint16_t i;
	int rc = 0;

	s->in_flight = 0;
	s->interrupt_mode = false;
	s->stopping = false;
	for (i = 0; i < s->nqueues && rc == 0; i++)
		rc = queue_start(s, i);
	if (rc == 0)
		rc = s->ctrlr->backend->session_start(s);
	if (rc != 0)
		goto out;
	for (i = 0; i < s->nqueues && rc == 0; i++)
		rc = queue_watch_kicks(&s->queues[i]);
	s->poller = poller_register(session_poll, s, 0, s->name);
	if (rc != 0 || s->poller == NULL) {
		session_unwatch(s);
		s->ctrlr->backend->session_stop(s);
		rc = rc != 0 ? rc : -ENOMEM;
		goto out;
	}
	set_kicks(s, false);
	s->last_busy_tsc = env_get_ticks();
	s->started = true;
	for (i = 0; i < s->nqueues; i++)
		queue_resubmit(s, &s->queues[i]);
	LOG_NOTICE("%s: started, %u queue(s)%s", s->name, s->nqueues,
		   (s->features & (1ULL << VIRTIO_F_RING_PACKED)) ? ", packed rings" : "");
out:
	s->done_rc = rc;
	sem_post(&s->done);
}

static void
stop_finish(struct vhost_session *s)
{
	uint16_t i;

	poller_unregister(&s->stop_poller);
	for (i = 0; i < s->nqueues; i++) {
		struct vhost_queue *q = &s->queues[i];

		if (q->vq.size == 0)
			continue; /* never set up by the guest */
		if (q->call_wanted)
			queue_signal(q, env_get_ticks());
		/* GET_VRING_BASE answers from this: where to resume. */
		rte_vhost_set_vring_base(s->vid, i, vq_get_avail_base(&q->vq),
					 vq_get_used_base(&q->vq));
		q->enabled = false;
	}
	s->ctrlr->backend->session_stop(s);
	s->started = false;
	s->stopping = false;
	s->interrupt_mode = false;
	LOG_NOTICE("%s: stopped", s->name);
	sem_post(&s->done);
}

static int
stop_check(void *ctx)
{
	struct vhost_session *s = ctx;

	if (s->in_flight == 0)
		stop_finish(s);
	return POLLER_IDLE;
}

void
vhost_session_stop_on_thread(void *ctx)
{
	struct vhost_session *s = ctx;

	s->stopping = true;
	session_unwatch(s);
	if (s->in_flight == 0) {
		stop_finish(s);
		return;
	}
	LOG_NOTICE("%s: stopping, waiting for %u request(s)", s->name, s->in_flight);
	s->stop_poller = poller_register(stop_check, s, VHOST_STOP_CHECK_US, "vhost_stop");
	if (s->stop_poller == NULL) /* out of memory: try again shortly */
		thread_send_msg(thread_get_current(), vhost_session_stop_on_thread, s);
}

void
vhost_session_vring_change_on_thread(struct vhost_session *s, uint16_t index, bool enable,
				     int kickfd, int callfd)
{
	struct vhost_queue *q = &s->queues[index];

	if (!s->started || s->stopping || q->vq.size == 0)
		return;
	thread_fd_unregister(&q->kick_handler);
	if (!enable) {
		/* A disabled ring is not processed (requests already taken
		 * still complete into it); its fds may be closed after this. */
		q->enabled = false;
		q->kickfd = -1;
		q->callfd = -1;
		return;
	}
	q->enabled = true;
	q->kickfd = kickfd;
	q->callfd = callfd;
	if (queue_watch_kicks(q) != 0)
		LOG_ERR("%s: queue %u: cannot watch the new kick fd", s->name, index);
	if (q->call_missed) {
		q->call_missed = false;
		call_guest(q);
	}
	/* A request may have arrived while no kick fd was watched. */
	leave_interrupt_mode(s);
}
