/*
 * vhost-blk: virtio-blk requests from a guest queue, served by one bdev.
 *
 * A request is a descriptor chain: a 16-byte header the guest wrote
 * (type, ioprio, sector), the data (read by us for OUT, written by us for
 * IN), and one status byte we write last. The data iovecs point straight
 * into guest memory; the header and status are trimmed off the chain's
 * iovecs in place, so nothing is copied but the header.
 *
 * Invariants:
 *  - a request's status byte is written after its data and before its
 *    used element is published (vhost_queue_complete orders the latter);
 *  - a task belongs to exactly one request between pop and complete, and
 *    an id the guest has in flight is never accepted twice (a guest that
 *    does so gets its queue stopped, never two completions for one id);
 *  - every guest-supplied range is checked against the bdev before any
 *    I/O is submitted: sectors are 512-byte units whatever the block size,
 *    and must be block-aligned.
 *
 * The bdev is opened on the app thread (controller create). Hot removal
 * arrives there too: the controller thread is told first (new requests
 * fail with IOERR, its channel is put), then the descriptor is closed.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <rte_vhost.h>

#include "lvstor/bdev.h"
#include "lvstor/log.h"
#include "lvstor/thread.h"
#include "vhost_internal.h"

/* Data segments per request we accept (config seg_max); VQ_MAX_IOVS adds
 * header, status and slack for buffers that cross memory regions. */
#define BLK_SEG_MAX 128
/* One discard / write-zeroes range per request, up to 4 GiB: the bdev
 * layer splits it by the device's own limits. */
#define BLK_MAX_DISCARD_SECTORS (1u << 23)
#define BLK_SECTOR 512u

struct blk_ctrlr {
	struct vhost_controller *c;
	struct bdev_desc *desc;     /* app thread; NULL once closed */
	char bdev_name[NAME_MAX + 1];
	bool readonly;
	bool packed_ring;
	bool removed;               /* controller thread: fail new I/O */
	bool remove_pending;        /* app thread: detach/close messages under way */
	bool destroyed;             /* app thread: controller gone, free on close */
	bool unmap;                 /* bdev supports unmap (DISCARD) */
	bool flush;
	uint32_t block_size;
	uint64_t num_blocks;
	struct io_channel *ch;      /* controller thread, while a session runs */
};

struct blk_task {
	struct vhost_queue *q;
	struct blk_ctrlr *bc;
	uint16_t id;
	uint16_t ndesc;
	uint32_t type;
	uint64_t offset_blocks;
	uint64_t num_blocks;
	uint8_t *status;            /* guest's status byte */
	uint32_t data_len;          /* bytes of data in iov */
	uint32_t written;           /* used length to report */
	struct iovec *iov;          /* data: a slice of chain.iov */
	int iovcnt;
	struct bdev_io_wait_entry wait;
	struct vq_chain chain;
};

struct blk_queue {
	struct blk_task *tasks;
	struct blk_task **free;
	uint32_t nfree;
	uint8_t *id_busy;           /* per id: a request with it is in flight */
};

LOG_REGISTER_COMPONENT(vhost_blk)

/* ---- completion ----------------------------------------------------------- */

static void
task_finish(struct blk_task *t, uint8_t status)
{
	struct vhost_queue *q = t->q;
	struct blk_queue *bq = q->backend_ctx;

	if (t->status != NULL) {
		*(volatile uint8_t *)t->status = status;
		t->written += 1;
	}
	bq->id_busy[t->id] = 0;
	bq->free[bq->nfree++] = t;
	vhost_queue_complete(q, t->id, t->ndesc, t->written);
}

static void
io_done(struct bdev_io *io, bool success, void *arg)
{
	struct blk_task *t = arg;

	bdev_free_io(io);
	if (success && (t->type == VIRTIO_BLK_T_IN))
		t->written = t->data_len;
	task_finish(t, success ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR);
}

static void submit(void *arg);

static void
submit_or_fail(struct blk_task *t, int rc)
{
	if (rc == 0)
		return;
	if (rc == -ENOMEM) {
		/* Out of bdev_io: resubmit when one is free. */
		t->wait.bdev = bdev_desc_get_bdev(t->bc->desc);
		t->wait.cb_fn = submit;
		t->wait.cb_arg = t;
		if (bdev_queue_io_wait(t->wait.bdev, t->bc->ch, &t->wait) == 0)
			return;
	}
	task_finish(t, VIRTIO_BLK_S_IOERR);
}

static void
submit(void *arg)
{
	struct blk_task *t = arg;
	struct blk_ctrlr *bc = t->bc;
	int rc;

	if (bc->removed || bc->ch == NULL) {
		task_finish(t, VIRTIO_BLK_S_IOERR);
		return;
	}
	switch (t->type) {
	case VIRTIO_BLK_T_IN:
		rc = bdev_readv(bc->desc, bc->ch, t->iov, t->iovcnt, t->offset_blocks,
				t->num_blocks, io_done, t);
		break;
	case VIRTIO_BLK_T_OUT:
		rc = bdev_writev(bc->desc, bc->ch, t->iov, t->iovcnt, t->offset_blocks,
				 t->num_blocks, io_done, t);
		break;
	case VIRTIO_BLK_T_FLUSH:
		rc = bdev_flush(bc->desc, bc->ch, 0, bc->num_blocks, io_done, t);
		break;
	case VIRTIO_BLK_T_DISCARD:
		rc = bdev_unmap(bc->desc, bc->ch, t->offset_blocks, t->num_blocks, io_done, t);
		break;
	case VIRTIO_BLK_T_WRITE_ZEROES:
		rc = bdev_write_zeroes(bc->desc, bc->ch, t->offset_blocks, t->num_blocks,
				       io_done, t);
		break;
	default:
		rc = -EINVAL;
		break;
	}
	submit_or_fail(t, rc);
}

/* ---- parsing -------------------------------------------------------------- */

/* Copies len bytes off the front of iov[0..*cnt), dropping what it used. */
static bool
iov_take_front(struct iovec **iov, int *cnt, void *dst, size_t len)
{
	uint8_t *out = dst;

	while (len > 0 && *cnt > 0) {
		size_t n = (*iov)->iov_len < len ? (*iov)->iov_len : len;

		memcpy(out, (*iov)->iov_base, n);
		out += n;
		len -= n;
		(*iov)->iov_base = (uint8_t *)(*iov)->iov_base + n;
		(*iov)->iov_len -= n;
		if ((*iov)->iov_len == 0) {
			(*iov)++;
			(*cnt)--;
		}
	}
	return len == 0;
}

/* Converts a guest (sector, bytes) range to blocks; false if it is not
 * block-aligned or not inside the bdev. */
static bool
range_to_blocks(struct blk_task *t, uint64_t sector, uint64_t bytes)
{
	struct blk_ctrlr *bc = t->bc;
	uint64_t start;

	if (sector > UINT64_MAX / BLK_SECTOR)
		return false;
	start = sector * BLK_SECTOR;
	if (start % bc->block_size != 0 || bytes % bc->block_size != 0)
		return false;
	t->offset_blocks = start / bc->block_size;
	t->num_blocks = bytes / bc->block_size;
	return t->offset_blocks <= bc->num_blocks &&
	       t->num_blocks <= bc->num_blocks - t->offset_blocks;
}

static void
fill_id(struct blk_task *t)
{
	char id[VIRTIO_BLK_ID_BYTES];
	uint32_t left = VIRTIO_BLK_ID_BYTES < t->data_len ? VIRTIO_BLK_ID_BYTES : t->data_len;
	uint32_t n = left;
	int i;

	/* The serial is the bdev name; 20 bytes, not NUL-terminated if full. */
	memset(id, 0, sizeof(id));
	memcpy(id, t->bc->bdev_name, strnlen(t->bc->bdev_name, sizeof(id)));
	for (i = 0; i < t->iovcnt && left > 0; i++) {
		size_t k = t->iov[i].iov_len < left ? t->iov[i].iov_len : left;

		memcpy(t->iov[i].iov_base, id + (n - left), k);
		left -= k;
	}
	t->written = n;
}

/*
 * Works out what a popped chain asks for and starts it. Anything a guest
 * can get wrong ends in a status byte (IOERR or UNSUPP), or, when there is
 * no writable byte to put a status in, a completion with nothing written.
 */
static void
start_request(struct blk_task *t)
{
	struct vq_chain *ch = &t->chain;
	struct blk_ctrlr *bc = t->bc;
	struct virtio_blk_outhdr hdr;
	struct virtio_blk_discard_write_zeroes seg;
	struct iovec *rd = ch->iov, *wr = ch->iov + ch->nreadable, *last;
	int nrd = ch->nreadable, nwr = ch->iovcnt - ch->nreadable;
	uint8_t status = VIRTIO_BLK_S_IOERR;

	t->status = NULL;
	t->written = 0;
	t->data_len = 0;
	if (nwr == 0) {
		LOG_ERR("%s: request %u has no status byte", t->q->session->name, t->id);
		task_finish(t, 0);
		return;
	}
	last = &wr[nwr - 1];
	t->status = (uint8_t *)last->iov_base + last->iov_len - 1;
	if (--last->iov_len == 0)
		nwr--;
	if (!iov_take_front(&rd, &nrd, &hdr, sizeof(hdr)))
		goto fail;
	t->type = le32toh(hdr.type);
	switch (t->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_GET_ID:
		if (nrd != 0)
			goto fail; /* data to read into must all be writable */
		t->iov = wr;
		t->iovcnt = nwr;
		t->data_len = (uint32_t)(ch->writable_len - 1);
		if (t->type == VIRTIO_BLK_T_GET_ID) {
			fill_id(t);
			task_finish(t, VIRTIO_BLK_S_OK);
			return;
		}
		if (!range_to_blocks(t, le64toh(hdr.sector), t->data_len))
			goto fail;
		break;
	case VIRTIO_BLK_T_OUT:
		if (bc->readonly)
			goto fail;
		t->iov = rd;
		t->iovcnt = nrd;
		t->data_len = (uint32_t)(ch->readable_len - sizeof(hdr));
		if (!range_to_blocks(t, le64toh(hdr.sector), t->data_len))
			goto fail;
		break;
	case VIRTIO_BLK_T_FLUSH:
		/* Read-only: the descriptor is too (bdev_flush would refuse
		 * it), and nothing written through us can need flushing. */
		if (!bc->flush || bc->readonly) {
			task_finish(t, VIRTIO_BLK_S_OK);
			return;
		}
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		if (bc->readonly || (t->type == VIRTIO_BLK_T_DISCARD && !bc->unmap)) {
			status = VIRTIO_BLK_S_UNSUPP;
			goto fail;
		}
		/* max_discard_seg / max_write_zeroes_seg are 1. */
		if (ch->readable_len != sizeof(hdr) + sizeof(seg) ||
		    !iov_take_front(&rd, &nrd, &seg, sizeof(seg)))
			goto fail;
		if (t->type == VIRTIO_BLK_T_DISCARD && le32toh(seg.flags) != 0) {
			status = VIRTIO_BLK_S_UNSUPP;
			goto fail;
		}
		if (le32toh(seg.flags) & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) {
			status = VIRTIO_BLK_S_UNSUPP;
			goto fail;
		}
		if (!range_to_blocks(t, le64toh(seg.sector),
				     (uint64_t)le32toh(seg.num_sectors) * BLK_SECTOR))
			goto fail;
		break;
	default:
		status = VIRTIO_BLK_S_UNSUPP;
		goto fail;
	}
	if (t->type != VIRTIO_BLK_T_FLUSH && t->num_blocks == 0) {
		task_finish(t, VIRTIO_BLK_S_OK);
		return;
	}
	submit(t);
	return;
fail:
	LOG_DEBUG(vhost_blk, "%s: request %u (type %u) failed with status %u",
		  t->q->session->name, t->id, t->type, status);
	task_finish(t, status);
}

/* A popped (or resubmitted) chain: claim its id, then start it. */
static void
handle_chain(struct vhost_queue *q, struct blk_task *t, int rc)
{
	struct blk_queue *bq = q->backend_ctx;

	bq->nfree--;
	if (bq->id_busy[t->chain.id]) {
		LOG_ERR("%s: queue %u: guest reused id %u while in flight; queue stopped",
			q->session->name, q->index, t->chain.id);
		q->vq.broken = true;
		bq->free[bq->nfree++] = t;
		vhost_queue_drop(q);
		return;
	}
	bq->id_busy[t->chain.id] = 1;
	t->id = t->chain.id;
	t->ndesc = t->chain.ndesc;
	if (rc == -EINVAL) {
		t->status = NULL;
		t->written = 0;
		task_finish(t, 0);
		return;
	}
	start_request(t);
}

static int
blk_process_queue(struct vhost_session *s, struct vhost_queue *q)
{
	struct blk_queue *bq = q->backend_ctx;
	int n = 0, rc;

	while (n < VHOST_BATCH && bq->nfree > 0 && !q->vq.broken) {
		struct blk_task *t = bq->free[bq->nfree - 1];

		rc = vhost_queue_pop(q, &t->chain);
		if (rc == 0 || rc == -EIO)
			break;
		n++;
		handle_chain(q, t, rc);
	}
	return n;
}

static void
blk_resubmit(struct vhost_session *s, struct vhost_queue *q, uint16_t head)
{
	struct blk_queue *bq = q->backend_ctx;
	struct blk_task *t;
	int rc;

	if (bq->nfree == 0)
		return;
	t = bq->free[bq->nfree - 1];
	rc = vhost_queue_get_chain(q, head, &t->chain);
	if (rc == 1 || rc == -EINVAL)
		handle_chain(q, t, rc);
}

/* ---- sessions ------------------------------------------------------------- */

static void
free_queue(struct vhost_queue *q)
{
	struct blk_queue *bq = q->backend_ctx;

	if (bq == NULL)
		return;
	free(bq->tasks);
	free(bq->free);
	free(bq->id_busy);
	free(bq);
	q->backend_ctx = NULL;
}

static int
alloc_queue(struct blk_ctrlr *bc, struct vhost_queue *q)
{
	struct blk_queue *bq = calloc(1, sizeof(*bq));
	uint32_t i, n = q->vq.size;

	if (bq == NULL)
		return -ENOMEM;
	q->backend_ctx = bq;
	/* A queue of n slots cannot have more than n requests in flight. */
	bq->tasks = calloc(n, sizeof(*bq->tasks));
	bq->free = calloc(n, sizeof(*bq->free));
	bq->id_busy = calloc(n, 1);
	if (bq->tasks == NULL || bq->free == NULL || bq->id_busy == NULL) {
		free_queue(q);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		bq->tasks[i].q = q;
		bq->tasks[i].bc = bc;
		bq->free[bq->nfree++] = &bq->tasks[n - 1 - i];
	}
	return 0;
}

static void blk_session_stop(struct vhost_session *s);

static int
blk_session_start(struct vhost_session *s)
{
	struct blk_ctrlr *bc = s->ctrlr->backend_ctx;
	uint16_t i;
	int rc;

	for (i = 0; i < s->nqueues; i++) {
		if (!s->queues[i].enabled)
			continue;
		rc = alloc_queue(bc, &s->queues[i]);
		if (rc != 0) {
			blk_session_stop(s);
			return rc;
		}
	}
	if (!bc->removed && bc->ch == NULL)
		bc->ch = bdev_get_io_channel(bc->desc);
	return 0;
}

static void
blk_session_stop(struct vhost_session *s)
{
	struct blk_ctrlr *bc = s->ctrlr->backend_ctx;
	uint16_t i;

	for (i = 0; i < s->nqueues; i++)
		free_queue(&s->queues[i]);
	if (bc->ch != NULL) {
		io_channel_put(bc->ch);
		bc->ch = NULL;
	}
}

/* ---- hot removal ---------------------------------------------------------- */

static void
close_desc_on_app(void *ctx)
{
	struct blk_ctrlr *bc = ctx;

	if (bc->desc != NULL) {
		bdev_close(bc->desc);
		bc->desc = NULL;
	}
	bc->remove_pending = false;
	if (bc->destroyed)
		free(bc);
}

static void
detach_on_controller(void *ctx)
{
	struct blk_ctrlr *bc = ctx;

	bc->removed = true;
	if (bc->ch != NULL) {
		/* In-flight I/O keeps the channel alive until it completes. */
		io_channel_put(bc->ch);
		bc->ch = NULL;
	}
	thread_send_msg(thread_get_app_thread(), close_desc_on_app, bc);
}

static void
bdev_event(enum bdev_event_type type, struct bdev *bdev, void *ctx)
{
	struct blk_ctrlr *bc = ctx;

	switch (type) {
	case BDEV_EVENT_REMOVE:
		bc->remove_pending = true;
		LOG_NOTICE("vhost: bdev %s removed under controller %s: I/O now fails",
			   bc->bdev_name, bc->c->name);
		thread_send_msg(bc->c->thread, detach_on_controller, bc);
		break;
	case BDEV_EVENT_RESIZE:
		/* Seen by the guest at its next config read. */
		__atomic_store_n(&bc->num_blocks, bdev_get_num_blocks(bdev), __ATOMIC_RELAXED);
		break;
	}
}

/* ---- controller ----------------------------------------------------------- */

static int
blk_get_config(struct vhost_controller *c, uint8_t *buf, uint32_t len)
{
	struct blk_ctrlr *bc = c->backend_ctx;
	struct virtio_blk_config cfg;
	uint64_t num_blocks = __atomic_load_n(&bc->num_blocks, __ATOMIC_RELAXED);
	uint32_t per_block = bc->block_size / BLK_SECTOR;

	memset(&cfg, 0, sizeof(cfg));
	cfg.capacity = htole64(num_blocks * per_block);
	cfg.seg_max = htole32(BLK_SEG_MAX);
	cfg.blk_size = htole32(bc->block_size);
	cfg.num_queues = htole16(VHOST_MAX_QUEUES);
	cfg.max_discard_sectors = htole32(BLK_MAX_DISCARD_SECTORS);
	cfg.max_discard_seg = htole32(1);
	cfg.discard_sector_alignment = htole32(per_block);
	cfg.max_write_zeroes_sectors = htole32(BLK_MAX_DISCARD_SECTORS);
	cfg.max_write_zeroes_seg = htole32(1);
	cfg.write_zeroes_may_unmap = 0;
	if (len > sizeof(cfg))
		len = sizeof(cfg);
	memcpy(buf, &cfg, len);
	return (int)len;
}

static void
blk_info_json(const struct vhost_controller *c, json_t *backend_specific)
{
	const struct blk_ctrlr *bc = c->backend_ctx;
	json_t *blk = json_object();

	json_object_set_new(blk, "readonly", json_boolean(bc->readonly));
	json_object_set_new(blk, "bdev", bc->desc != NULL ? json_string(bc->bdev_name) : json_null());
	json_object_set_new(blk, "transport", json_string("vhost_user_blk"));
	json_object_set_new(backend_specific, "block", blk);
}

static void
blk_write_config(const struct vhost_controller *c, json_t *config)
{
	const struct blk_ctrlr *bc = c->backend_ctx;
	json_t *params = json_object(), *entry = json_object();
	char mask[300];

	json_object_set_new(params, "ctrlr", json_string(c->name));
	json_object_set_new(params, "dev_name", json_string(bc->bdev_name));
	json_object_set_new(params, "cpumask", json_string(cpuset_fmt(&c->cpumask, mask,
								       sizeof(mask))));
	json_object_set_new(params, "readonly", json_boolean(bc->readonly));
	json_object_set_new(params, "packed_ring", json_boolean(bc->packed_ring));
	json_object_set_new(params, "transport", json_string("vhost_user_blk"));
	json_object_set_new(entry, "method", json_string("vhost_create_blk_controller"));
	json_object_set_new(entry, "params", params);
	json_array_append_new(config, entry);
}

static void
blk_destroy(struct vhost_controller *c)
{
	struct blk_ctrlr *bc = c->backend_ctx;

	if (bc == NULL)
		return;
	c->backend_ctx = NULL;
	if (bc->remove_pending) {
		/* The detach message is on its way through the controller
		 * thread (which exits only after it); the close frees bc. */
		bc->destroyed = true;
		return;
	}
	if (bc->desc != NULL)
		bdev_close(bc->desc);
	free(bc);
}

static const struct vhost_backend g_blk_backend = {
	.type = "blk",
	.session_start = blk_session_start,
	.session_stop = blk_session_stop,
	.process_queue = blk_process_queue,
	.resubmit = blk_resubmit,
	.get_config = blk_get_config,
	.info_json = blk_info_json,
	.write_config = blk_write_config,
	.destroy = blk_destroy,
};

void
vhost_blk_opts_init(struct vhost_blk_opts *opts, size_t opts_size)
{
	memset(opts, 0, opts_size);
	opts->opts_size = opts_size;
}

static uint64_t
blk_features(const struct blk_ctrlr *bc)
{
	uint64_t f = (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_RING_F_INDIRECT_DESC) |
		     (1ULL << VIRTIO_RING_F_EVENT_IDX) | (1ULL << VHOST_USER_F_PROTOCOL_FEATURES) |
		     (1ULL << VIRTIO_BLK_F_SEG_MAX) | (1ULL << VIRTIO_BLK_F_BLK_SIZE) |
		     (1ULL << VIRTIO_BLK_F_MQ);

	if (bc->readonly)
		f |= 1ULL << VIRTIO_BLK_F_RO;
	else
		f |= (1ULL << VIRTIO_BLK_F_WRITE_ZEROES) |
		     (bc->unmap ? 1ULL << VIRTIO_BLK_F_DISCARD : 0);
	if (bc->packed_ring)
		f |= 1ULL << VIRTIO_F_RING_PACKED;
	/* Without FLUSH the guest treats the disk as write-through, which is
	 * what a bdev with no flush (memory, null) is. */
	if (bc->flush)
		f |= 1ULL << VIRTIO_BLK_F_FLUSH;
	return f;
}

int
vhost_blk_controller_create(const char *name, const char *bdev_name,
			    const struct vhost_blk_opts *opts_in)
{
	struct vhost_blk_opts opts;
	struct vhost_controller *c;
	struct blk_ctrlr *bc;
	struct bdev *bdev;
	int rc;

	vhost_blk_opts_init(&opts, sizeof(opts));
	if (opts_in != NULL)
		memcpy(&opts, opts_in, opts_in->opts_size < sizeof(opts) ? opts_in->opts_size :
		       sizeof(opts));
	if (opts.transport != NULL && strcmp(opts.transport, "vhost_user_blk") != 0)
		return -EINVAL;
	if (bdev_name == NULL || strlen(bdev_name) > NAME_MAX)
		return -EINVAL;
	if (vhost_controller_find(name) != NULL)
		return -EEXIST;
	bc = calloc(1, sizeof(*bc));
	if (bc == NULL)
		return -ENOMEM;
	bc->readonly = opts.readonly;
	bc->packed_ring = opts.packed_ring;
	rc = bdev_open(bdev_name, !opts.readonly, bdev_event, bc, &bc->desc);
	if (rc != 0) {
		free(bc);
		return rc;
	}
	bdev = bdev_desc_get_bdev(bc->desc);
	/* The canonical name: what save_config must write to find it again. */
	snprintf(bc->bdev_name, sizeof(bc->bdev_name), "%s", bdev_get_name(bdev));
	bc->block_size = bdev_get_block_size(bdev);
	bc->num_blocks = bdev_get_num_blocks(bdev);
	bc->unmap = bdev_io_type_supported(bdev, BDEV_IO_TYPE_UNMAP);
	bc->flush = bdev_io_type_supported(bdev, BDEV_IO_TYPE_FLUSH);
	if (bc->block_size % BLK_SECTOR != 0) {
		LOG_ERR("vhost: bdev %s has %u-byte blocks; virtio-blk needs multiples of 512",
			bdev_name, bc->block_size);
		bdev_close(bc->desc);
		free(bc);
		return -EINVAL;
	}
	c = vhost_controller_construct(name, opts.cpumask, &g_blk_backend, blk_features(bc), &rc);
	if (c == NULL) {
		bdev_close(bc->desc);
		free(bc);
		return rc;
	}
	bc->c = c;
	c->backend_ctx = bc;
	rc = vhost_controller_start(c);
	if (rc != 0) {
		blk_destroy(c);
		vhost_controller_free(c);
		return rc;
	}
	return 0;
}
