/*
 * File descriptors watched by a thread.
 *
 * Each thread owns one epoll fd. It holds the thread's message eventfd,
 * the timerfd for its next timed poller, and every fd registered with
 * thread_fd_register(). A sleeping reactor waits on the epoll fds of all its
 * threads at once (they nest); a spinning one asks each thread's epoll fd
 * with a zero timeout, but only every fd_poll_interval iterations, because
 * that is a system call (see reactor.c for the number).
 *
 * Invariants:
 *  - A handler is touched only on its thread.
 *  - A handler is freed only outside thread_poll(): unregistering inside
 *    one (from its own callback, or another handler of the same batch)
 *    marks it and removes it from epoll, so later events of the batch that
 *    still point at it are skipped, then thread_poll() sweeps it.
 *  - n_fds counts the handlers that are not unregistered.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "lvstor/log.h"
#include "thread_internal.h"

/* Events taken per check; the rest stay ready (level-triggered) for the next. */
#define FD_EVENT_BATCH 32

static uint32_t
to_epoll(uint32_t events)
{
	uint32_t ev = 0;

	if (events & FD_EVENT_IN)
		ev |= EPOLLIN;
	if (events & FD_EVENT_OUT)
		ev |= EPOLLOUT;
	if (events & FD_EVENT_ERR)
		ev |= EPOLLERR;
	if (events & FD_EVENT_HUP)
		ev |= EPOLLHUP;
	return ev;
}

static uint32_t
from_epoll(uint32_t ev)
{
	uint32_t events = 0;

	if (ev & EPOLLIN)
		events |= FD_EVENT_IN;
	if (ev & EPOLLOUT)
		events |= FD_EVENT_OUT;
	if (ev & EPOLLERR)
		events |= FD_EVENT_ERR;
	if (ev & EPOLLHUP)
		events |= FD_EVENT_HUP;
	return events;
}

struct fd_handler *
thread_fd_register(int fd, uint32_t events, fd_fn fn, void *ctx, const char *name)
{
	struct thread *t = thread_get_current();
	struct epoll_event ev;
	struct fd_handler *h;

	if (t == NULL || fn == NULL || fd < 0) {
		errno = EINVAL;
		return NULL;
	}
	if (!thread_is_running(t)) {
		errno = ESHUTDOWN;
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return NULL;
	h->thread = t;
	h->fd = fd;
	h->events = events;
	h->fn = fn;
	h->ctx = ctx;
	snprintf(h->name, sizeof(h->name), "%s", name ? name : "fd");
	ev.events = to_epoll(events);
	ev.data.ptr = h;
	if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
		int err = errno;

		LOG_ERR("fd handler %s: epoll_ctl(ADD, %d): %s", h->name, fd, strerror(err));
		free(h);
		errno = err;
		return NULL;
	}
	TAILQ_INSERT_TAIL(&t->fds, h, link);
	t->n_fds++;
	return h;
}

int
thread_fd_set_events(struct fd_handler *h, uint32_t events)
{
	struct epoll_event ev;

	assert(h->thread == thread_get_current());
	ev.events = to_epoll(events);
	ev.data.ptr = h;
	if (epoll_ctl(h->thread->epfd, EPOLL_CTL_MOD, h->fd, &ev) != 0)
		return -errno;
	h->events = events;
	return 0;
}

void
thread_fd_unregister(struct fd_handler **ph)
{
	struct fd_handler *h = *ph;
	struct thread *t;

	if (h == NULL)
		return;
	*ph = NULL;
	t = h->thread;
	assert(t == thread_get_current());
	assert(!h->unregistered);
	/* EBADF/ENOENT: the fd was closed first; epoll forgot it already. */
	epoll_ctl(t->epfd, EPOLL_CTL_DEL, h->fd, NULL);
	h->unregistered = true;
	t->n_fds--;
	if (t->in_poll) {
		t->fds_dirty = true;
		return;
	}
	TAILQ_REMOVE(&t->fds, h, link);
	free(h);
}

int
fds_poll(struct thread *t)
{
	struct epoll_event evs[FD_EVENT_BATCH];
	int n, i, busy = 0;

	if (!t->fd_check_now && t->fd_poll_interval > 1) {
		if (--t->fd_poll_countdown > 0)
			return 0;
		t->fd_poll_countdown = t->fd_poll_interval;
	}
	t->fd_check_now = false;
	n = epoll_wait(t->epfd, evs, FD_EVENT_BATCH, 0);
	for (i = 0; i < n; i++) {
		struct fd_handler *h = evs[i].data.ptr;

		if (thread_is_own_fd_tag(h)) {
			thread_drain_own_fd(t, h);
			continue;
		}
		if (h->unregistered)
			continue;
		h->fn(h->ctx, from_epoll(evs[i].events));
		busy = 1;
	}
	return busy;
}

void
fds_sweep(struct thread *t)
{
	struct fd_handler *h, *next;

	for (h = TAILQ_FIRST(&t->fds); h != NULL; h = next) {
		next = TAILQ_NEXT(h, link);
		if (h->unregistered) {
			TAILQ_REMOVE(&t->fds, h, link);
			free(h);
		}
	}
	t->fds_dirty = false;
}

void
fds_free_all(struct thread *t)
{
	struct fd_handler *h;

	while ((h = TAILQ_FIRST(&t->fds)) != NULL) {
		if (!h->unregistered)
			LOG_WARN("thread %s: fd handler %s leaked", thread_get_name(t), h->name);
		TAILQ_REMOVE(&t->fds, h, link);
		free(h);
	}
}
