/*
 * io_devices and their per-thread io_channels.
 *
 * An io_device is any pointer a library registers (a bdev, a blobstore, a
 * controller). Each thread that wants to use it asks for its own channel,
 * which carries the per-thread state (queue pairs, caches) so that the I/O
 * path needs no lock.
 *
 * Invariants:
 *  - A channel is touched only on its thread: created there (create_cb
 *    runs there), referenced and put there, destroyed there (destroy_cb
 *    runs there). for_each_channel reaches it by message, on that thread.
 *  - A channel is destroyed only by its destroy message, never inside
 *    io_channel_put(): a put from inside a callback that still uses the
 *    channel is safe. If the channel is taken again before the message
 *    runs, the message finds ref > 0 and leaves it alone.
 *  - A channel in a walk holds one extra reference from the moment fn is
 *    called until io_channel_iter_continue(), so a concurrent put cannot
 *    free it under an asynchronous fn.
 *  - An io_device's refcnt counts its channels (created, not yet
 *    destroyed) and for_each_count its walks in progress; both change under
 *    g_devices_lock, which is taken only when a channel is created or
 *    destroyed or a walk starts or ends -- never by io_channel_get() on a
 *    channel that exists.
 *  - The registered devices are indexed by pointer in a hash table under
 *    g_devices_lock (a list walk per register made registering thousands
 *    of bdevs quadratic). Once unregistered, a device is out of the index: io_channel_get()
 *    returns NULL for it and the pointer may be registered again. Its
 *    unregister_cb runs, by message, on the unregistering thread once
 *    refcnt and for_each_count are both zero; exactly one of those events
 *    sends it (unregister_sent).
 *  - A thread with channels, or with a walk or an unregister it started
 *    still in flight (pending_ops), does not exit.
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lvstor/hash.h"
#include "lvstor/log.h"
#include "thread_internal.h"

struct io_device {
	struct hash_entry he;	/* first: the entry is the device; under g_devices_lock */
	void *io_device;
	io_channel_create_cb create_cb;
	io_channel_destroy_cb destroy_cb;
	size_t ctx_size;
	char name[64];
	_Atomic bool unregistered;	/* read without the lock by io_channel_get */
	/* under g_devices_lock */
	uint32_t refcnt;
	uint32_t for_each_count;
	bool unregister_sent;
	io_device_unregister_cb unregister_cb;
	struct thread *unregister_thread;
	struct thread_msg unregister_msg;
};

struct io_channel {
	TAILQ_ENTRY(io_channel) link;
	struct thread *thread;
	struct io_device *dev;
	uint32_t ref;
	bool destroy_pending;
	struct thread_msg destroy_msg;
	/* Cache-line aligned: channels of different threads never share a line. */
	_Alignas(64) unsigned char ctx[];
};
_Static_assert(offsetof(struct io_channel, ctx) == IO_CHANNEL_CTX_OFFSET,
	       "io_channel_get_ctx() in thread.h assumes this offset");

struct io_channel_iter {
	struct io_device *dev;
	void *io_device;
	channel_msg_fn fn;
	void *ctx;
	channel_for_each_cpl cpl;
	struct thread *orig;
	struct thread *cur;
	struct io_channel *ch;
	int status;
	struct thread_msg msg;
};

static pthread_mutex_t g_devices_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hash_table g_devices = HASH_TABLE_INITIALIZER;

static struct io_device *
device_find_locked(void *io_device)
{
	struct hash_entry *e;

	for (e = hash_table_first(&g_devices, hash_ptr(io_device)); e != NULL;
	     e = hash_table_next(e)) {
		struct io_device *dev = (struct io_device *)e;

		if (dev->io_device == io_device)
			return dev;
	}
	return NULL;
}

void
io_device_register(void *io_device, io_channel_create_cb create_cb,
		   io_channel_destroy_cb destroy_cb, size_t ctx_size, const char *name)
{
	struct io_device *dev;

	assert(io_device != NULL);
	dev = calloc(1, sizeof(*dev));
	if (dev == NULL) {
		LOG_ERR("io_device %s: out of memory", name ? name : "?");
		return;
	}
	dev->io_device = io_device;
	dev->create_cb = create_cb;
	dev->destroy_cb = destroy_cb;
	dev->ctx_size = ctx_size;
	snprintf(dev->name, sizeof(dev->name), "%s", name ? name : "io_device");
	atomic_init(&dev->unregistered, false);

	pthread_mutex_lock(&g_devices_lock);
	if (device_find_locked(io_device) != NULL) {
		pthread_mutex_unlock(&g_devices_lock);
		LOG_ERR("io_device %s (%p) registered twice", dev->name, io_device);
		assert(false);
		free(dev);
		return;
	}
	if (hash_table_insert(&g_devices, &dev->he, hash_ptr(io_device)) != 0) {
		pthread_mutex_unlock(&g_devices_lock);
		LOG_ERR("io_device %s: out of memory", dev->name);
		free(dev);
		return;
	}
	pthread_mutex_unlock(&g_devices_lock);
}

static void
device_unregister_done(void *arg)
{
	struct io_device *dev = arg;
	struct thread *t = dev->unregister_thread;

	assert(t == thread_get_current());
	if (dev->unregister_cb)
		dev->unregister_cb(dev->io_device);
	t->pending_ops--;
	free(dev);
}

/* Called without the lock, after the caller set unregister_sent. */
static void
device_send_unregister_done(struct io_device *dev)
{
	dev->unregister_msg.fn = device_unregister_done;
	dev->unregister_msg.ctx = dev;
	if (thread_send_msg_embedded(dev->unregister_thread, &dev->unregister_msg) != 0)
		LOG_ERR("io_device %s: unregistering thread is gone", dev->name);
}

/* True when this call must send the unregister completion. */
static bool
device_last_locked(struct io_device *dev)
{
	if (!atomic_load_explicit(&dev->unregistered, memory_order_relaxed) ||
	    dev->refcnt > 0 || dev->for_each_count > 0 || dev->unregister_sent)
		return false;
	dev->unregister_sent = true;
	return true;
}

void
io_device_unregister(void *io_device, io_device_unregister_cb unregister_cb)
{
	struct thread *t = thread_get_current();
	struct io_device *dev;
	bool last;

	assert(t != NULL);
	pthread_mutex_lock(&g_devices_lock);
	dev = device_find_locked(io_device);
	if (dev == NULL) {
		pthread_mutex_unlock(&g_devices_lock);
		LOG_ERR("io_device %p: unregister of an unknown device", io_device);
		assert(false);
		return;
	}
	hash_table_remove(&g_devices, &dev->he);
	dev->unregister_cb = unregister_cb;
	dev->unregister_thread = t;
	t->pending_ops++;
	atomic_store_explicit(&dev->unregistered, true, memory_order_relaxed);
	last = device_last_locked(dev);
	pthread_mutex_unlock(&g_devices_lock);
	if (last)
		device_send_unregister_done(dev);
}

/* A channel of dev is gone (or never came to be). */
static void
device_release(struct io_device *dev)
{
	bool last;

	pthread_mutex_lock(&g_devices_lock);
	assert(dev->refcnt > 0);
	dev->refcnt--;
	last = device_last_locked(dev);
	pthread_mutex_unlock(&g_devices_lock);
	if (last)
		device_send_unregister_done(dev);
}

struct io_channel *
io_channel_get(void *io_device)
{
	struct thread *t = thread_get_current();
	struct io_channel *ch;
	struct io_device *dev;
	int rc;

	if (t == NULL) {
		LOG_ERR("io_channel_get: no current thread");
		return NULL;
	}
	if (!thread_is_running(t))
		return NULL;
	TAILQ_FOREACH(ch, &t->channels, link) {
		if (ch->dev->io_device == io_device &&
		    !atomic_load_explicit(&ch->dev->unregistered, memory_order_relaxed)) {
			ch->ref++;
			return ch;
		}
	}

	pthread_mutex_lock(&g_devices_lock);
	dev = device_find_locked(io_device);
	if (dev != NULL)
		dev->refcnt++;
	pthread_mutex_unlock(&g_devices_lock);
	if (dev == NULL)
		return NULL;

	if (posix_memalign((void **)&ch, 64, sizeof(*ch) + dev->ctx_size) != 0) {
		device_release(dev);
		return NULL;
	}
	memset(ch, 0, sizeof(*ch) + dev->ctx_size);
	ch->thread = t;
	ch->dev = dev;
	ch->ref = 1;
	TAILQ_INSERT_TAIL(&t->channels, ch, link);
	rc = dev->create_cb ? dev->create_cb(io_device, ch->ctx) : 0;
	if (rc != 0) {
		LOG_ERR("io_device %s: channel create failed on thread %s: %d", dev->name,
			thread_get_name(t), rc);
		TAILQ_REMOVE(&t->channels, ch, link);
		free(ch);
		device_release(dev);
		return NULL;
	}
	return ch;
}

static void
channel_destroy(void *arg)
{
	struct io_channel *ch = arg;
	struct io_device *dev = ch->dev;

	assert(ch->thread == thread_get_current());
	ch->destroy_pending = false;
	if (ch->ref > 0)
		return;	/* taken again after the last put */
	TAILQ_REMOVE(&ch->thread->channels, ch, link);
	if (dev->destroy_cb)
		dev->destroy_cb(dev->io_device, ch->ctx);
	free(ch);
	device_release(dev);
}

void
io_channel_put(struct io_channel *ch)
{
	assert(ch->thread == thread_get_current());
	assert(ch->ref > 0);
	if (--ch->ref > 0 || ch->destroy_pending)
		return;
	ch->destroy_pending = true;
	ch->destroy_msg.fn = channel_destroy;
	ch->destroy_msg.ctx = ch;
	/* The thread holds a channel, so it has not exited: this cannot fail. */
	thread_send_msg_embedded(ch->thread, &ch->destroy_msg);
}


struct thread *
io_channel_get_thread(struct io_channel *ch)
{
	return ch->thread;
}

void *
io_channel_get_io_device(struct io_channel *ch)
{
	return ch->dev->io_device;
}

/* ---- for_each_channel --------------------------------------------------- */

static void channel_iter_step(void *arg);

static void
channel_iter_done(void *arg)
{
	struct io_channel_iter *it = arg;
	struct io_device *dev = it->dev;
	bool last = false;

	assert(it->orig == thread_get_current());
	if (dev != NULL) {
		pthread_mutex_lock(&g_devices_lock);
		dev->for_each_count--;
		last = device_last_locked(dev);
		pthread_mutex_unlock(&g_devices_lock);
	}
	if (it->cpl)
		it->cpl(it, it->status);
	it->orig->pending_ops--;
	free(it);
	/* After cpl: unregister_cb never runs before the walk's completion. */
	if (last)
		device_send_unregister_done(dev);
}

static void
channel_iter_finish(struct io_channel_iter *it)
{
	it->msg.fn = channel_iter_done;
	if (thread_send_msg_embedded(it->orig, &it->msg) != 0)
		LOG_ERR("for_each_channel: originating thread is gone");
}

static void
channel_iter_advance(struct io_channel_iter *it)
{
	it->msg.fn = channel_iter_step;
	if (thread_send_to_next(it->cur, &it->msg) != NULL)
		return;	/* `it` belongs to the next thread now */
	channel_iter_finish(it);
}

static void
channel_iter_step(void *arg)
{
	struct io_channel_iter *it = arg;
	struct thread *t = thread_get_current();
	struct io_channel *ch;

	it->cur = t;
	TAILQ_FOREACH(ch, &t->channels, link) {
		if (ch->dev == it->dev && ch->ref > 0)
			break;
	}
	if (ch == NULL) {
		channel_iter_advance(it);
		return;
	}
	ch->ref++;
	it->ch = ch;
	it->fn(it);	/* calls io_channel_iter_continue, now or later */
}

void
io_channel_iter_continue(struct io_channel_iter *it, int status)
{
	struct io_channel *ch = it->ch;

	assert(it->cur == thread_get_current());
	it->ch = NULL;
	it->status = status;
	if (ch != NULL)
		io_channel_put(ch);
	if (status != 0)
		channel_iter_finish(it);
	else
		channel_iter_advance(it);
}

void
io_device_for_each_channel(void *io_device, channel_msg_fn fn, void *ctx,
			   channel_for_each_cpl cpl)
{
	struct thread *orig = thread_get_current();
	struct io_channel_iter *it;

	assert(orig != NULL);
	it = calloc(1, sizeof(*it));
	if (it == NULL) {
		LOG_ERR("for_each_channel: out of memory; not run");
		assert(false);
		return;
	}
	it->io_device = io_device;
	it->fn = fn;
	it->ctx = ctx;
	it->cpl = cpl;
	it->orig = orig;
	it->cur = orig;
	it->msg.ctx = it;
	orig->pending_ops++;

	pthread_mutex_lock(&g_devices_lock);
	it->dev = device_find_locked(io_device);
	if (it->dev != NULL)
		it->dev->for_each_count++;
	pthread_mutex_unlock(&g_devices_lock);
	if (it->dev == NULL) {
		LOG_ERR("for_each_channel: unknown io_device %p", io_device);
		it->status = -ENODEV;
		channel_iter_finish(it);
		return;
	}
	it->msg.fn = channel_iter_step;
	if (thread_send_to_next(NULL, &it->msg) == NULL)
		channel_iter_finish(it);
}

void *
io_channel_iter_get_ctx(struct io_channel_iter *it)
{
	return it->ctx;
}

void *
io_channel_iter_get_io_device(struct io_channel_iter *it)
{
	return it->io_device;
}

struct io_channel *
io_channel_iter_get_channel(struct io_channel_iter *it)
{
	return it->ch;
}

void
io_devices_fini(void)
{
	struct io_device *dev;

	pthread_mutex_lock(&g_devices_lock);
	while ((dev = (struct io_device *)hash_table_any(&g_devices)) != NULL) {
		LOG_WARN("io_device %s still registered at thread_lib_fini", dev->name);
		hash_table_remove(&g_devices, &dev->he);
		if (dev->refcnt == 0)
			free(dev);
	}
	hash_table_fini(&g_devices);
	pthread_mutex_unlock(&g_devices_lock);
}
