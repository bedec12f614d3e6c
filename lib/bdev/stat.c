/*
 * lib/bdev/stat.c: I/O statistics and latency histograms.
 *
 * Every channel counts its own completions (bdev_stat_update in
 * bdev_internal.h: a few additions on memory only its thread touches) and,
 * when enabled, adds each latency to its own histogram. Readers collect
 * by visiting every channel on its thread (io_device_for_each_channel)
 * and adding what destroyed channels left behind in the bdev.
 *
 * Invariants:
 *  - A channel's stat and histogram are read, reset and freed only on the
 *    channel's thread; the bdev's stat_gone and histogram_gone only under
 *    g_bdev_lock.
 *  - min_*_latency_ticks is UINT64_MAX while no I/O of that type has
 *    completed; readers see 0 then (as the RPC reports it).
 *  - Latencies are in env_get_ticks() ticks, submit to completion
 *    callback, for the user's I/O (split children are not counted).
 *  - Only one histogram enable/disable walk runs per bdev at a time
 *    (-EBUSY otherwise), so a channel never sees two shapes at once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lvstor/env.h"
#include "lvstor/log.h"
#include "bdev_internal.h"

void
bdev_stat_init(struct bdev_io_stat *stat)
{
	memset(stat, 0, sizeof(*stat));
	stat->min_read_latency_ticks = UINT64_MAX;
	stat->min_write_latency_ticks = UINT64_MAX;
	stat->min_unmap_latency_ticks = UINT64_MAX;
	stat->min_copy_latency_ticks = UINT64_MAX;
}

static uint64_t
max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static uint64_t
min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

void
bdev_stat_add(struct bdev_io_stat *d, const struct bdev_io_stat *s)
{
	d->bytes_read += s->bytes_read;
	d->num_read_ops += s->num_read_ops;
	d->bytes_written += s->bytes_written;
	d->num_write_ops += s->num_write_ops;
	d->bytes_unmapped += s->bytes_unmapped;
	d->num_unmap_ops += s->num_unmap_ops;
	d->bytes_copied += s->bytes_copied;
	d->num_copy_ops += s->num_copy_ops;
	d->read_latency_ticks += s->read_latency_ticks;
	d->max_read_latency_ticks = max_u64(d->max_read_latency_ticks, s->max_read_latency_ticks);
	d->min_read_latency_ticks = min_u64(d->min_read_latency_ticks, s->min_read_latency_ticks);
	d->write_latency_ticks += s->write_latency_ticks;
	d->max_write_latency_ticks = max_u64(d->max_write_latency_ticks,
					     s->max_write_latency_ticks);
	d->min_write_latency_ticks = min_u64(d->min_write_latency_ticks,
					     s->min_write_latency_ticks);
	d->unmap_latency_ticks += s->unmap_latency_ticks;
	d->max_unmap_latency_ticks = max_u64(d->max_unmap_latency_ticks,
					     s->max_unmap_latency_ticks);
	d->min_unmap_latency_ticks = min_u64(d->min_unmap_latency_ticks,
					     s->min_unmap_latency_ticks);
	d->copy_latency_ticks += s->copy_latency_ticks;
	d->max_copy_latency_ticks = max_u64(d->max_copy_latency_ticks, s->max_copy_latency_ticks);
	d->min_copy_latency_ticks = min_u64(d->min_copy_latency_ticks, s->min_copy_latency_ticks);
	for (size_t i = 0; i < COUNTOF(d->io_error); i++)
		d->io_error[i] += s->io_error[i];
}

static void
stat_reset(struct bdev_io_stat *s, enum bdev_reset_stat_mode mode)
{
	switch (mode) {
	case BDEV_RESET_STAT_ALL:
		bdev_stat_init(s);
		break;
	case BDEV_RESET_STAT_MAXMIN:
		s->max_read_latency_ticks = 0;
		s->max_write_latency_ticks = 0;
		s->max_unmap_latency_ticks = 0;
		s->max_copy_latency_ticks = 0;
		s->min_read_latency_ticks = UINT64_MAX;
		s->min_write_latency_ticks = UINT64_MAX;
		s->min_unmap_latency_ticks = UINT64_MAX;
		s->min_copy_latency_ticks = UINT64_MAX;
		break;
	case BDEV_RESET_STAT_ERROR:
		memset(s->io_error, 0, sizeof(s->io_error));
		break;
	default:
		break;
	}
}

/* The reader's view: a min of "no I/O yet" is 0. */
static void
stat_for_reader(struct bdev_io_stat *s)
{
	if (s->min_read_latency_ticks == UINT64_MAX)
		s->min_read_latency_ticks = 0;
	if (s->min_write_latency_ticks == UINT64_MAX)
		s->min_write_latency_ticks = 0;
	if (s->min_unmap_latency_ticks == UINT64_MAX)
		s->min_unmap_latency_ticks = 0;
	if (s->min_copy_latency_ticks == UINT64_MAX)
		s->min_copy_latency_ticks = 0;
}

/* ---- histograms: shape from the options ----------------------------------------- */

static void
histogram_opts_default(struct histogram_opts *o)
{
	o->granularity = HISTOGRAM_DEFAULT_GRANULARITY;
	o->min_nsec = 1000;
	o->max_nsec = 120ULL * 1000 * 1000 * 1000;
	o->io_type = -1;
}

static uint64_t
nsec_to_ticks(uint64_t ns)
{
	uint64_t hz = env_get_ticks_hz();

	return (uint64_t)((unsigned __int128)ns * hz / 1000000000ULL);
}

static struct histogram *
histogram_for(const struct histogram_opts *o)
{
	uint32_t lo = histogram_value_range(o->granularity, nsec_to_ticks(o->min_nsec));
	uint32_t hi = histogram_value_range(o->granularity, nsec_to_ticks(o->max_nsec));

	uint32_t top = (uint32_t)HISTOGRAM_MAX_RANGE(o->granularity);

	if (o->granularity > 20)
		return NULL;
	if (hi > top)
		hi = top;
	if (lo > hi)
		lo = hi;
	return histogram_create(o->granularity, lo, hi);
}

void
bdev_histogram_add(struct bdev_channel *ch, struct bdev_io *io, uint64_t ticks)
{
	if (ch->histogram_io_type < 0 || ch->histogram_io_type == (int)io->type)
		histogram_add(ch->histogram, ticks);
}

/* ---- channels -------------------------------------------------------------------- */

void
bdev_stat_channel_init(struct bdev_channel *ch)
{
	struct bdev_internal *in = ch->bdev->internal;
	struct histogram_opts o;
	bool enabled;

	bdev_stat_init(&ch->stat);
	pthread_mutex_lock(&g_bdev_lock);
	enabled = in->histogram_enabled;
	o = in->histogram_opts;
	pthread_mutex_unlock(&g_bdev_lock);
	if (enabled) {
		ch->histogram = histogram_for(&o);
		ch->histogram_io_type = o.io_type;
	}
}

void
bdev_stat_channel_fini(struct bdev_channel *ch)
{
	struct bdev_internal *in = ch->bdev->internal;

	pthread_mutex_lock(&g_bdev_lock);
	bdev_stat_add(&in->stat_gone, &ch->stat);
	if (ch->histogram != NULL) {
		if (in->histogram_gone == NULL)
			in->histogram_gone = ch->histogram;   /* handed over */
		else
			(void)histogram_merge(in->histogram_gone, ch->histogram);
		if (in->histogram_gone != ch->histogram)
			histogram_free(ch->histogram);
		ch->histogram = NULL;
	}
	pthread_mutex_unlock(&g_bdev_lock);
}

void
bdev_stat_free_bdev(struct bdev_internal *in)
{
	histogram_free(in->histogram_gone);
	in->histogram_gone = NULL;
}

/* ---- bdev_get_io_stat ------------------------------------------------------------ */

struct stat_ctx {
	struct bdev *bdev;
	bool per_channel;
	enum bdev_reset_stat_mode reset;
	bdev_stat_cb cb;
	void *cb_arg;
	struct bdev_io_stat total;
	struct bdev_io_stat *chans;
	uint64_t *thread_ids;
	size_t n, cap;
	int rc;
};

static void
stat_visit(struct io_channel_iter *iter)
{
	struct stat_ctx *c = io_channel_iter_get_ctx(iter);
	struct io_channel *ioch = io_channel_iter_get_channel(iter);
	struct bdev_channel *ch = io_channel_get_ctx(ioch);

	bdev_stat_add(&c->total, &ch->stat);
	if (c->per_channel) {
		if (c->n == c->cap) {
			size_t cap = c->cap ? c->cap * 2 : 8;
			struct bdev_io_stat *s = realloc(c->chans, cap * sizeof(*s));
			uint64_t *t;

			if (s != NULL)
				c->chans = s;
			t = s ? realloc(c->thread_ids, cap * sizeof(*t)) : NULL;
			if (t == NULL) {
				c->rc = -ENOMEM;
				io_channel_iter_continue(iter, 0);
				return;
			}
			c->thread_ids = t;
			c->cap = cap;
		}
		c->chans[c->n] = ch->stat;
		c->thread_ids[c->n] = thread_get_id(io_channel_get_thread(ioch));
		c->n++;
	}
	stat_reset(&ch->stat, c->reset);
	io_channel_iter_continue(iter, 0);
}

static void
stat_done(struct io_channel_iter *iter, int status)
{
	struct stat_ctx *c = io_channel_iter_get_ctx(iter);
	struct bdev_internal *in = c->bdev->internal;

	pthread_mutex_lock(&g_bdev_lock);
	bdev_stat_add(&c->total, &in->stat_gone);
	stat_reset(&in->stat_gone, c->reset);
	pthread_mutex_unlock(&g_bdev_lock);
	for (size_t i = 0; i < c->n; i++) {
		stat_for_reader(&c->chans[i]);
		c->cb(c->bdev, &c->chans[i], c->thread_ids[i], c->rc, c->cb_arg);
	}
	stat_for_reader(&c->total);
	c->cb(c->bdev, &c->total, UINT64_MAX, c->rc, c->cb_arg);
	free(c->chans);
	free(c->thread_ids);
	free(c);
}

void
bdev_get_io_stat(struct bdev *bdev, bool per_channel, enum bdev_reset_stat_mode reset,
		 bdev_stat_cb cb, void *cb_arg)
{
	struct stat_ctx *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		struct bdev_io_stat empty;

		memset(&empty, 0, sizeof(empty));
		cb(bdev, &empty, UINT64_MAX, -ENOMEM, cb_arg);
		return;
	}
	c->bdev = bdev;
	c->per_channel = per_channel;
	c->reset = reset;
	c->cb = cb;
	c->cb_arg = cb_arg;
	bdev_stat_init(&c->total);
	io_device_for_each_channel(bdev->internal, stat_visit, c, stat_done);
}

/* ---- histogram enable / get ------------------------------------------------------ */

struct histo_ctx {
	struct bdev *bdev;
	bool enable;
	struct histogram_opts opts;
	void (*cb)(void *cb_arg, int rc);
	void (*get_cb)(void *cb_arg, int rc, const struct histogram *h);
	void *cb_arg;
	struct histogram *merged;
	int rc;
};

static void
histo_set_channel(struct io_channel_iter *iter)
{
	struct histo_ctx *c = io_channel_iter_get_ctx(iter);
	struct bdev_channel *ch = io_channel_get_ctx(io_channel_iter_get_channel(iter));

	histogram_free(ch->histogram);
	ch->histogram = NULL;
	if (c->enable) {
		ch->histogram = histogram_for(&c->opts);
		ch->histogram_io_type = c->opts.io_type;
		if (ch->histogram == NULL)
			c->rc = -ENOMEM;
	}
	io_channel_iter_continue(iter, 0);
}

static void
histo_set_done(struct io_channel_iter *iter, int status)
{
	struct histo_ctx *c = io_channel_iter_get_ctx(iter);
	struct bdev_internal *in = c->bdev->internal;

	pthread_mutex_lock(&g_bdev_lock);
	in->histogram_changing = false;
	pthread_mutex_unlock(&g_bdev_lock);
	if (c->cb != NULL)
		c->cb(c->cb_arg, c->rc);
	free(c);
}

struct histo_err {
	void (*cb)(void *cb_arg, int rc);
	void (*get_cb)(void *cb_arg, int rc, const struct histogram *h);
	void *cb_arg;
	int rc;
};

static void
histo_err_run(void *arg)
{
	struct histo_err *e = arg;

	if (e->cb != NULL)
		e->cb(e->cb_arg, e->rc);
	if (e->get_cb != NULL)
		e->get_cb(e->cb_arg, e->rc, NULL);
	free(e);
}

/*
 * Reports an error by message: never inside the call that failed -- unless
 * there is no memory for the message, when an answer inside the call beats
 * a caller (an RPC) that waits for ever.
 */
static void
histo_fail(void (*cb)(void *, int), void (*get_cb)(void *, int, const struct histogram *),
	   void *cb_arg, int rc)
{
	struct histo_err *e = calloc(1, sizeof(*e));

	if (e != NULL) {
		e->cb = cb;
		e->get_cb = get_cb;
		e->cb_arg = cb_arg;
		e->rc = rc;
		if (thread_send_msg(thread_get_current(), histo_err_run, e) == 0)
			return;
		free(e);
	}
	if (cb != NULL)
		cb(cb_arg, rc);
	else if (get_cb != NULL)
		get_cb(cb_arg, rc, NULL);
}

void
bdev_histogram_enable(struct bdev *bdev, bool enable, const struct histogram_opts *opts,
		      void (*cb)(void *cb_arg, int rc), void *cb_arg)
{
	struct bdev_internal *in = bdev->internal;
	struct histo_ctx *c = calloc(1, sizeof(*c));
	struct histogram *probe;

	if (c == NULL) {
		histo_fail(cb, NULL, cb_arg, -ENOMEM);
		return;
	}
	c->bdev = bdev;
	c->enable = enable;
	c->cb = cb;
	c->cb_arg = cb_arg;
	histogram_opts_default(&c->opts);
	if (opts != NULL)
		c->opts = *opts;
	if (c->opts.io_type >= BDEV_NUM_IO_TYPES || c->opts.io_type < -1 ||
	    c->opts.min_nsec > c->opts.max_nsec) {
		free(c);
		histo_fail(cb, NULL, cb_arg, -EINVAL);
		return;
	}
	if (enable) {
		probe = histogram_for(&c->opts);
		if (probe == NULL) {
			free(c);
			histo_fail(cb, NULL, cb_arg, -EINVAL);
			return;
		}
		histogram_free(probe);
	}
	pthread_mutex_lock(&g_bdev_lock);
	if (in->histogram_changing) {
		pthread_mutex_unlock(&g_bdev_lock);
		free(c);
		histo_fail(cb, NULL, cb_arg, -EBUSY);
		return;
	}
	in->histogram_changing = true;
	in->histogram_enabled = enable;
	in->histogram_opts = c->opts;
	/* What gone channels left has the old shape, or is no longer wanted. */
	histogram_free(in->histogram_gone);
	in->histogram_gone = NULL;
	pthread_mutex_unlock(&g_bdev_lock);
	io_device_for_each_channel(in, histo_set_channel, c, histo_set_done);
}

bool
bdev_histogram_is_enabled(const struct bdev *bdev)
{
	bool enabled;

	pthread_mutex_lock(&g_bdev_lock);
	enabled = bdev->internal->histogram_enabled;
	pthread_mutex_unlock(&g_bdev_lock);
	return enabled;
}

static void
histo_get_channel(struct io_channel_iter *iter)
{
	struct histo_ctx *c = io_channel_iter_get_ctx(iter);
	struct bdev_channel *ch = io_channel_get_ctx(io_channel_iter_get_channel(iter));

	if (ch->histogram != NULL)
		(void)histogram_merge(c->merged, ch->histogram);
	io_channel_iter_continue(iter, 0);
}

static void
histo_get_done(struct io_channel_iter *iter, int status)
{
	struct histo_ctx *c = io_channel_iter_get_ctx(iter);
	struct bdev_internal *in = c->bdev->internal;

	pthread_mutex_lock(&g_bdev_lock);
	if (in->histogram_gone != NULL)
		(void)histogram_merge(c->merged, in->histogram_gone);
	pthread_mutex_unlock(&g_bdev_lock);
	c->get_cb(c->cb_arg, 0, c->merged);
	histogram_free(c->merged);
	free(c);
}

void
bdev_histogram_get(struct bdev *bdev, void (*cb)(void *cb_arg, int rc, const struct histogram *h),
		   void *cb_arg)
{
	struct bdev_internal *in = bdev->internal;
	struct histo_ctx *c;
	struct histogram_opts o;
	bool enabled;

	pthread_mutex_lock(&g_bdev_lock);
	enabled = in->histogram_enabled;
	o = in->histogram_opts;
	pthread_mutex_unlock(&g_bdev_lock);
	if (!enabled) {
		histo_fail(NULL, cb, cb_arg, -EFAULT);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL || (c->merged = histogram_for(&o)) == NULL) {
		free(c);
		histo_fail(NULL, cb, cb_arg, -ENOMEM);
		return;
	}
	c->bdev = bdev;
	c->get_cb = cb;
	c->cb_arg = cb_arg;
	io_device_for_each_channel(in, histo_get_channel, c, histo_get_done);
}
