/*
 * Unit tests for lib/vhost/blk.c against a hostile guest: the test plays
 * the guest driver on a split ring in fake guest memory, a malloc bdev
 * (512- or 4096-byte blocks) serves the requests through the real bdev
 * layer, and the deterministic thread harness runs everything in this
 * one process. Each test checks what the guest sees (used element id and
 * len, the status byte, the data) and, for requests that must fail before
 * reaching the bdev, that blk.c submitted nothing.
 *
 * How blk.c is reached: it is #included, so the test sees its static
 * functions and struct blk_ctrlr. Its three external symbols are renamed
 * first (the library's own blk.o is linked in too). The controller,
 * session and queue are built by hand, with no rte_vhost connection:
 * q->inflight_tracked stays false and callfd is -1, so session.c's
 * vhost_queue_pop/complete never call into rte_vhost.
 *
 * Threads: 0 is the app thread (bdev open/close, hot removal), 1 the
 * controller thread (session start/stop, process_queue, the channel).
 *
 * Guest memory (each region its own mapping between PROT_NONE guard
 * pages, so any access outside the regions faults):
 *   R0 gpa [0, 256 KiB)          desc table 0x0, avail 0x1000, used
 *                                0x2000, buffers from 0x4000
 *   R1 gpa [4 GiB, 8 GiB + 4 KiB) PROT_NONE reservation: only for
 *                                huge lengths, which must be refused,
 *                                never touched
 */
/* blk.c's external symbols, renamed: the archive's blk.o defines them
 * too (a new non-static symbol in blk.c needs a line here). */
#define vhost_blk_controller_create ut_unused_vhost_blk_controller_create
#define vhost_blk_opts_init ut_unused_vhost_blk_opts_init
#define LOG_FLAG_vhost_blk ut_LOG_FLAG_vhost_blk

#include <errno.h>
#include <sys/mman.h>

#include "../bdev_modules/ut_modules.h"
#include "../../../module/bdev/malloc/bdev_malloc.h"

/*
 * Every bdev submission blk.c makes goes through these counting wrappers,
 * so a test can say "rejected before any I/O" exactly (the bdev layer's
 * own range checks would otherwise hide a missing check in blk.c).
 */
static int g_submits;
/* When g_submits reaches it, that submission fails with -ENOMEM instead. */
static int g_nomem_at;

static int
ut_bdev_readv(struct bdev_desc *d, struct io_channel *ch, struct iovec *iov, int iovcnt,
	      uint64_t off, uint64_t num, bdev_io_cb cb, void *arg)
{
	if (++g_submits == g_nomem_at)
		return -ENOMEM;
	return bdev_readv(d, ch, iov, iovcnt, off, num, cb, arg);
}

static int
ut_bdev_writev(struct bdev_desc *d, struct io_channel *ch, struct iovec *iov, int iovcnt,
	       uint64_t off, uint64_t num, bdev_io_cb cb, void *arg)
{
	g_submits++;
	return bdev_writev(d, ch, iov, iovcnt, off, num, cb, arg);
}

static int
ut_bdev_flush(struct bdev_desc *d, struct io_channel *ch, uint64_t off, uint64_t num,
	      bdev_io_cb cb, void *arg)
{
	g_submits++;
	return bdev_flush(d, ch, off, num, cb, arg);
}

static int
ut_bdev_unmap(struct bdev_desc *d, struct io_channel *ch, uint64_t off, uint64_t num,
	      bdev_io_cb cb, void *arg)
{
	g_submits++;
	return bdev_unmap(d, ch, off, num, cb, arg);
}

static int
ut_bdev_write_zeroes(struct bdev_desc *d, struct io_channel *ch, uint64_t off, uint64_t num,
		     bdev_io_cb cb, void *arg)
{
	g_submits++;
	return bdev_write_zeroes(d, ch, off, num, cb, arg);
}

#define bdev_readv ut_bdev_readv
#define bdev_writev ut_bdev_writev
#define bdev_flush ut_bdev_flush
#define bdev_unmap ut_bdev_unmap
#define bdev_write_zeroes ut_bdev_write_zeroes
#include "../../../lib/vhost/blk.c"
#undef bdev_readv
#undef bdev_writev
#undef bdev_flush
#undef bdev_unmap
#undef bdev_write_zeroes

#define APP 0
#define CTRL 1

#define PAGE 4096ul
#define QSIZE 128
#define RING_DESC 0x0
#define RING_AVAIL 0x1000
#define RING_USED 0x2000
#define HEAP 0x4000
#define R0_SIZE 0x40000ul
#define R1_GPA 0x100000000ull
#define R1_SIZE (0x100000000ull + PAGE)
#define DISK_BYTES (64u * 1024)
/* What the guest leaves in its buffers: any byte blk.c writes shows. */
#define FILL 0xa5
#define NO_STATUS 0xee

static const uint64_t g_reg_gpa[2] = { 0, R1_GPA };
static const uint64_t g_reg_size[2] = { R0_SIZE, R1_SIZE };
static const char *const g_modules[] = { "malloc", NULL };

static uint8_t *g_map[2];       /* whole mappings, guards included */
static uint8_t *g_shadow;       /* snapshot of R0's buffers */
static struct vring_desc *g_desc;
static struct vring_avail *g_avail;
static struct vring_used *g_used;
static uint64_t g_heap;         /* next free buffer gpa in R0 */
static uint16_t g_next_desc;
static uint16_t g_used_seen;    /* used elements the test has checked */

static struct vhost_controller g_c;
static struct vhost_session g_s;
static struct vhost_queue *g_q;
static struct blk_ctrlr *g_bc;
static char g_bdev_name[64];
static bool g_started;

/* ---- fake guest memory ---------------------------------------------------- */

static void *
gp(uint64_t gpa)
{
	void *p = guest_mem_to_ptr(&g_s.mem, gpa, 1);

	assert_non_null(p);
	return p;
}

/* A guest buffer of len bytes in R0, filled with FILL. */
static uint64_t
galloc(uint32_t len)
{
	uint64_t gpa = g_heap;

	assert_true(len <= R0_SIZE - g_heap);
	g_heap += (len + 15) & ~15u;
	return gpa;
}

static void
snapshot(void)
{
	free(g_shadow);
	g_shadow = malloc(R0_SIZE - HEAP);
	assert_non_null(g_shadow);
	memcpy(g_shadow, gp(HEAP), R0_SIZE - HEAP);
}

/* No buffer byte changed since snapshot(). */
static void
assert_buffers_untouched(void)
{
	assert_memory_equal(gp(HEAP), g_shadow, R0_SIZE - HEAP);
}

static int
setup(void **state)
{
	memset(&g_s, 0, sizeof(g_s));
	memset(&g_c, 0, sizeof(g_c));
	for (int i = 0; i < 2; i++) {
		size_t len = g_reg_size[i] + 2 * PAGE;

		g_map[i] = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
				-1, 0);
		assert_true(g_map[i] != MAP_FAILED);
		if (i == 0)
			assert_int_equal(mprotect(g_map[0] + PAGE, R0_SIZE, PROT_READ | PROT_WRITE),
					 0);
		g_s.mem.regions[i].guest_phys_addr = g_reg_gpa[i];
		g_s.mem.regions[i].size = g_reg_size[i];
		g_s.mem.regions[i].host_addr = (uintptr_t)(g_map[i] + PAGE);
	}
	g_s.mem.nregions = 2;
	memset(gp(0), 0, HEAP);
	memset(gp(HEAP), FILL, R0_SIZE - HEAP);
	g_desc = gp(RING_DESC);
	g_avail = gp(RING_AVAIL);
	g_used = gp(RING_USED);
	g_heap = HEAP;
	g_next_desc = 0;
	g_used_seen = 0;
	g_submits = 0;
	g_nomem_at = 0;
	g_bc = NULL;
	g_started = false;
	ut_layer_setup(g_modules);
	return 0;
}

/* ---- the device side: controller, session, queue --------------------------- */

/*
 * A malloc bdev `name` of DISK_BYTES and the blk controller state over it,
 * as vhost_blk_controller_create sets it up (minus rte_vhost), then a
 * started session with one split queue of QSIZE.
 */
static void
start(const char *name, uint32_t bs, bool readonly)
{
	struct malloc_opts o;
	struct bdev *bdev = NULL;

	malloc_opts_init(&o, sizeof(o));
	o.name = name;
	o.num_blocks = DISK_BYTES / bs;
	o.block_size = bs;
	assert_int_equal(malloc_disk_create(&o, &bdev), 0);
	snprintf(g_bdev_name, sizeof(g_bdev_name), "%s", name);

	g_bc = calloc(1, sizeof(*g_bc));
	assert_non_null(g_bc);
	g_bc->c = &g_c;
	g_bc->readonly = readonly;
	assert_int_equal(bdev_open(name, !readonly, bdev_event, g_bc, &g_bc->desc), 0);
	snprintf(g_bc->bdev_name, sizeof(g_bc->bdev_name), "%s", bdev_get_name(bdev));
	g_bc->block_size = bdev_get_block_size(bdev);
	g_bc->num_blocks = bdev_get_num_blocks(bdev);
	g_bc->unmap = bdev_io_type_supported(bdev, BDEV_IO_TYPE_UNMAP);
	g_bc->flush = bdev_io_type_supported(bdev, BDEV_IO_TYPE_FLUSH);

	snprintf(g_c.name, sizeof(g_c.name), "ut_blk");
	g_c.thread = ut_thread(CTRL);
	g_c.backend = &g_blk_backend;
	g_c.backend_ctx = g_bc;

	g_s.ctrlr = &g_c;
	snprintf(g_s.name, sizeof(g_s.name), "ut_blks0");
	g_s.nqueues = 1;
	g_q = &g_s.queues[0];
	g_q->session = &g_s;
	g_q->index = 0;
	g_q->kickfd = -1;
	g_q->callfd = -1;
	g_q->enabled = true;
	assert_int_equal(vq_init_split(&g_q->vq, QSIZE, g_desc, g_avail, g_used, false, 0, 0), 0);

	ut_set_thread(CTRL);
	assert_int_equal(g_blk_backend.session_start(&g_s), 0);
	assert_non_null(g_bc->ch);
	ut_set_thread(APP);
	g_started = true;
}

static void
delete_done(void *arg, int rc)
{
	*(int *)arg = rc;
}

static void
delete_bdev(void)
{
	int rc = 1;

	ut_set_thread(APP);
	assert_int_equal(malloc_disk_delete(g_bdev_name, delete_done, &rc), 0);
	ut_wait_rc(&rc, 1);
	assert_int_equal(rc, 0);
}

static int
teardown(void **state)
{
	if (g_started) {
		/* Nothing may be in flight when a session stops. */
		assert_int_equal(g_q->in_flight, 0);
		assert_int_equal(g_s.in_flight, 0);
		ut_set_thread(CTRL);
		g_blk_backend.session_stop(&g_s);
		ut_set_thread(APP);
		g_blk_backend.destroy(&g_c);
		ut_poll_threads();
		if (bdev_get_by_name(g_bdev_name) != NULL)
			delete_bdev();
	}
	ut_layer_teardown();
	for (int i = 0; i < 2; i++)
		munmap(g_map[i], g_reg_size[i] + 2 * PAGE);
	free(g_shadow);
	g_shadow = NULL;
	return 0;
}

/* ---- the guest side: building requests ------------------------------------ */

struct seg {
	uint64_t gpa;
	uint32_t len;
	bool wr;
};

struct req {
	struct seg seg[VQ_MAX_IOVS];
	int n;
	uint64_t status;   /* gpa of the status byte, 0 if none */
	uint16_t head;
};

static void
rq_init(struct req *r)
{
	memset(r, 0, sizeof(*r));
}

/* Any descriptor: readable or device-writable. */
static void
rq_raw(struct req *r, uint64_t gpa, uint32_t len, bool wr)
{
	assert_true(r->n < VQ_MAX_IOVS);
	r->seg[r->n++] = (struct seg){ gpa, len, wr };
}

static void
put_hdr(uint64_t gpa, uint32_t type, uint64_t sector)
{
	struct virtio_blk_outhdr h = {
		.type = htole32(type), .ioprio = 0, .sector = htole64(sector),
	};

	memcpy(gp(gpa), &h, sizeof(h));
}

/* The 16-byte header in a descriptor of its own. */
static void
rq_hdr(struct req *r, uint32_t type, uint64_t sector)
{
	uint64_t gpa = galloc(sizeof(struct virtio_blk_outhdr));

	put_hdr(gpa, type, sector);
	rq_raw(r, gpa, sizeof(struct virtio_blk_outhdr), false);
}

/* A data descriptor of len bytes; returns its gpa. */
static uint64_t
rq_data(struct req *r, uint32_t len, bool wr)
{
	uint64_t gpa = galloc(len);

	rq_raw(r, gpa, len, wr);
	return gpa;
}

/* The status byte in a descriptor of its own (preset to NO_STATUS). */
static void
rq_status(struct req *r)
{
	uint64_t gpa = galloc(1);

	*(uint8_t *)gp(gpa) = NO_STATUS;
	rq_raw(r, gpa, 1, true);
	r->status = gpa;
}

/* One discard / write-zeroes segment (16 bytes) in its own descriptor. */
static void
rq_dwz_seg(struct req *r, uint64_t sector, uint32_t num_sectors, uint32_t flags)
{
	struct virtio_blk_discard_write_zeroes s = {
		.sector = htole64(sector), .num_sectors = htole32(num_sectors),
		.flags = htole32(flags),
	};
	uint64_t gpa = galloc(sizeof(s));

	memcpy(gp(gpa), &s, sizeof(s));
	rq_raw(r, gpa, sizeof(s), false);
}

static void
publish(uint16_t head)
{
	g_avail->ring[g_avail->idx % QSIZE] = head;
	__atomic_store_n(&g_avail->idx, (uint16_t)(g_avail->idx + 1), __ATOMIC_RELEASE);
}

/* Chains the request's descriptors from the next free slots, publishes
 * the head and returns it. */
static uint16_t
rq_post(struct req *r)
{
	assert_true(r->n > 0);
	r->head = g_next_desc;
	for (int i = 0; i < r->n; i++) {
		uint16_t d = g_next_desc, next = (uint16_t)((d + 1) % QSIZE);

		g_desc[d].addr = r->seg[i].gpa;
		g_desc[d].len = r->seg[i].len;
		g_desc[d].flags = (r->seg[i].wr ? VRING_DESC_F_WRITE : 0) |
				  (i + 1 < r->n ? VRING_DESC_F_NEXT : 0);
		g_desc[d].next = next;
		g_next_desc = next;
	}
	publish(r->head);
	return r->head;
}

static uint8_t
status_of(const struct req *r)
{
	return *(volatile uint8_t *)gp(r->status);
}

/* ---- running and checking ------------------------------------------------- */

/* The controller thread takes what it can (one poller pass). */
static int
process(void)
{
	int n;

	ut_set_thread(CTRL);
	n = g_blk_backend.process_queue(&g_s, g_q);
	ut_set_thread(APP);
	return n;
}

/* One pass, then every thread works until idle (malloc completes). */
static int
run(void)
{
	int n = process();

	ut_poll_threads();
	return n;
}

/* The next used element is (id, len). */
static void
expect_used(uint16_t id, uint32_t len)
{
	uint16_t idx = __atomic_load_n(&g_used->idx, __ATOMIC_ACQUIRE);
	struct vring_used_elem *e = &g_used->ring[g_used_seen % QSIZE];

	assert_true((uint16_t)(idx - g_used_seen) > 0);
	assert_int_equal(e->id, id);
	assert_int_equal(e->len, len);
	g_used_seen++;
}

static void
expect_no_more_used(void)
{
	assert_int_equal(g_used->idx, g_used_seen);
	assert_int_equal(g_q->in_flight, 0);
}

/* Posts r, runs it and checks its completion (status and used len). */
static void
expect_status(struct req *r, uint8_t status, uint32_t len)
{
	uint16_t head = rq_post(r);

	assert_int_equal(run(), 1);
	expect_used(head, len);
	assert_int_equal(status_of(r), status);
	expect_no_more_used();
}

static void
pattern(uint8_t *buf, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 7u + seed * 13u + (i >> 9));
}

/* An OUT of buf at sector in one data descriptor; expects OK. */
static void
guest_write(uint64_t sector, const void *buf, uint32_t len)
{
	struct req r;

	rq_init(&r);
	rq_hdr(&r, VIRTIO_BLK_T_OUT, sector);
	memcpy(gp(rq_data(&r, len, false)), buf, len);
	rq_status(&r);
	expect_status(&r, VIRTIO_BLK_S_OK, 1);
}

/* An IN at sector into one data descriptor; expects OK, copies to buf. */
static void
guest_read(uint64_t sector, void *buf, uint32_t len)
{
	struct req r;
	uint64_t data;

	rq_init(&r);
	rq_hdr(&r, VIRTIO_BLK_T_IN, sector);
	data = rq_data(&r, len, true);
	rq_status(&r);
	expect_status(&r, VIRTIO_BLK_S_OK, len + 1);
	memcpy(buf, gp(data), len);
}

/* Reads the disk through a descriptor of the test's own (not through blk.c). */
static void
disk_read(uint64_t offset, void *buf, uint32_t len)
{
	struct ut_events ev;
	uint32_t bs = g_bc->block_size;

	ut_set_thread(APP);
	ut_open(g_bdev_name, false, &ev);
	assert_int_equal(ut_rw_buf(&ev, false, buf, offset / bs, len / bs),
			 BDEV_IO_STATUS_SUCCESS);
	ut_close(&ev);
}

/* ---- IN / OUT ------------------------------------------------------------- */

/* Multi-segment OUT then IN, header and status in descriptors of their own,
 * segments cut at odd byte counts; used len is data + 1 for IN, 1 for OUT. */
static void
test_in_out_multi_segment(void **state)
{
	uint8_t w[2048], r[2048], disk[4096];
	static const uint32_t wcut[] = { 100, 412, 1024, 512 };
	static const uint32_t rcut[] = { 1000, 1, 1047 };
	struct req rq;
	uint64_t gpa[4];
	uint32_t off;
	int i;

	start("Malloc0", 512, false);
	pattern(w, sizeof(w), 1);

	rq_init(&rq);
	rq_hdr(&rq, VIRTIO_BLK_T_OUT, 4);
	for (i = 0, off = 0; i < 4; off += wcut[i], i++)
		memcpy(gp(rq_data(&rq, wcut[i], false)), w + off, wcut[i]);
	rq_status(&rq);
	expect_status(&rq, VIRTIO_BLK_S_OK, 1);
	assert_int_equal(g_submits, 1);

	/* Where it landed: bytes [2048, 4096) of the disk, nothing before. */
	disk_read(0, disk, sizeof(disk));
	assert_true(ut_all_bytes(disk, 2048, 0));
	assert_memory_equal(disk + 2048, w, sizeof(w));

	rq_init(&rq);
	rq_hdr(&rq, VIRTIO_BLK_T_IN, 4);
	for (i = 0; i < 3; i++)
		gpa[i] = rq_data(&rq, rcut[i], true);
	rq_status(&rq);
	expect_status(&rq, VIRTIO_BLK_S_OK, sizeof(r) + 1);
	for (i = 0, off = 0; i < 3; off += rcut[i], i++)
		memcpy(r + off, gp(gpa[i]), rcut[i]);
	assert_memory_equal(r, w, sizeof(w));
	assert_int_equal(g_submits, 2);
}

/* Header and data in one readable descriptor (OUT), data and status in
 * one writable descriptor (IN), and a header split over two descriptors. */
static void
test_in_out_combined_descriptors(void **state)
{
	uint8_t w[1024];
	struct req rq;
	uint64_t gpa;

	start("Malloc0", 512, false);
	pattern(w, sizeof(w), 2);

	rq_init(&rq);
	gpa = galloc(16 + sizeof(w));
	put_hdr(gpa, VIRTIO_BLK_T_OUT, 10);
	memcpy(gp(gpa + 16), w, sizeof(w));
	rq_raw(&rq, gpa, 16 + sizeof(w), false);
	rq_status(&rq);
	expect_status(&rq, VIRTIO_BLK_S_OK, 1);

	rq_init(&rq);
	rq_hdr(&rq, VIRTIO_BLK_T_IN, 10);
	gpa = galloc(sizeof(w) + 1);
	*(uint8_t *)gp(gpa + sizeof(w)) = NO_STATUS;
	rq_raw(&rq, gpa, sizeof(w) + 1, true);
	rq.status = gpa + sizeof(w);
	expect_status(&rq, VIRTIO_BLK_S_OK, sizeof(w) + 1);
	assert_memory_equal(gp(gpa), w, sizeof(w));

	/* Header as 10 + 6 bytes in two descriptors, data after it. */
	rq_init(&rq);
	gpa = galloc(16);
	put_hdr(gpa, VIRTIO_BLK_T_IN, 11);
	rq_raw(&rq, gpa, 10, false);
	rq_raw(&rq, gpa + 10, 6, false);
	gpa = rq_data(&rq, 512, true);
	rq_status(&rq);
	expect_status(&rq, VIRTIO_BLK_S_OK, 513);
	assert_memory_equal(gp(gpa), w + 512, 512);
}

static void
test_in_out_4096_byte_blocks(void **state)
{
	uint8_t w[8192], r[8192];

	start("Malloc0", 4096, false);
	pattern(w, sizeof(w), 3);
	guest_write(8, w, sizeof(w));           /* blocks 1 and 2 */
	guest_read(8, r, sizeof(r));
	assert_memory_equal(r, w, sizeof(w));
	memset(r, 0xff, sizeof(r));
	disk_read(4096, r, sizeof(r));
	assert_memory_equal(r, w, sizeof(w));
	/* Zero-length IN: OK, len 1, no I/O. */
	{
		struct req rq;

		rq_init(&rq);
		rq_hdr(&rq, VIRTIO_BLK_T_IN, 0);
		rq_status(&rq);
		g_submits = 0;
		expect_status(&rq, VIRTIO_BLK_S_OK, 1);
		assert_int_equal(g_submits, 0);
	}
}

/* ---- GET_ID, FLUSH -------------------------------------------------------- */

static void
test_get_id(void **state)
{
	struct req rq;
	uint64_t id;
	char want[VIRTIO_BLK_ID_BYTES] = "Malloc0";

	start("Malloc0", 512, false);

	/* Full 20 bytes: the name, NUL-padded. */
	rq_init(&rq);
	rq_hdr(&rq, VIRTIO_BLK_T_GET_ID, 0);
	id = rq_data(&rq, VIRTIO_BLK_ID_BYTES, true);
	rq_status(&rq);
	expect_status(&rq, VIRTIO_BLK_S_OK, VIRTIO_BLK_ID_BYTES + 1);
	assert_memory_equal(gp(id), want, VIRTIO_BLK_ID_BYTES);

	/* A shorter buffer over two descriptors (3 + 2): truncated to it. */
	rq_init(&rq);
	rq_hdr(&rq, VIRTIO_BLK_T_GET_ID, 0);
	id = galloc(16);
	rq_raw(&rq, id, 3, true);
	rq_raw(&rq, id + 3, 2, true);
	rq_status(&rq);
	expect_status(&rq, VIRTIO_BLK_S_OK, 5 + 1);
	assert_memory_equal(gp(id), "Mallo", 5);
	assert_int_equal(*(uint8_t *)gp(id + 5), FILL);

	/* Longer buffer: 20 bytes written, the rest left alone. */
	rq_init(&rq);
	rq_hdr(&rq, VIRTIO_BLK_T_GET_ID, 0);
	id = rq_data(&rq, 32, true);
	rq_status(&rq);
	expect_status(&rq, VIRTIO_BLK_S_OK, VIRTIO_BLK_ID_BYTES + 1);
	assert_memory_equal(gp(id), want, VIRTIO_BLK_ID_BYTES);
	assert_int_equal(*(uint8_t *)gp(id + VIRTIO_BLK_ID_BYTES), FILL);

	/* No data buffer: OK with nothing but the status. */
	rq_init(&rq);
	rq_hdr(&rq, VIRTIO_BLK_T_GET_ID, 0);
	rq_status(&rq);
	expect_status(&rq, VIRTIO_BLK_S_OK, 1);

	/* A readable data descriptor: IOERR, nothing written. */
	rq_init(&rq);
	rq_hdr(&rq, VIRTIO_BLK_T_GET_ID, 0);
	id = rq_data(&rq, 20, false);
	rq_status(&rq);
	expect_status(&rq, VIRTIO_BLK_S_IOERR, 1);
	assert_int_equal(*(uint8_t *)gp(id), FILL);
	assert_int_equal(g_submits, 0);
}

/* A name of 20 or more bytes fills the field with no NUL. */
static void
test_get_id_long_name_not_terminated(void **state)
{
	const char *name = "a-bdev-name-longer-than-twenty";
	struct req rq;
	uint64_t id;

	start(name, 512, false);
	rq_init(&rq);
	rq_hdr(&rq, VIRTIO_BLK_T_GET_ID, 0);
	id = rq_data(&rq, 24, true);
	rq_status(&rq);
	expect_status(&rq, VIRTIO_BLK_S_OK, VIRTIO_BLK_ID_BYTES + 1);
	assert_memory_equal(gp(id), name, VIRTIO_BLK_ID_BYTES);
	assert_int_equal(*(uint8_t *)gp(id + VIRTIO_BLK_ID_BYTES), FILL);
}

static void
test_flush(void **state)
{
	struct req rq;

	start("Malloc0", 512, false);
	rq_init(&rq);
	rq_hdr(&rq, VIRTIO_BLK_T_FLUSH, 0);
	rq_status(&rq);
	expect_status(&rq, VIRTIO_BLK_S_OK, 1);
	assert_int_equal(g_submits, 1);

	/* A bdev without flush (write-through): OK at once, no I/O. */
	g_bc->flush = false;
	rq_init(&rq);
	rq_hdr(&rq, VIRTIO_BLK_T_FLUSH, 0);
	rq_status(&rq);
	expect_status(&rq, VIRTIO_BLK_S_OK, 1);
	assert_int_equal(g_submits, 1);
}

/* ---- DISCARD, WRITE_ZEROES ------------------------------------------------ */

static void
dwz(uint32_t type, uint64_t sector, uint32_t num, uint32_t flags, uint8_t status)
{
	struct req rq;

	rq_init(&rq);
	rq_hdr(&rq, type, 0);
	rq_dwz_seg(&rq, sector, num, flags);
	rq_status(&rq);
	expect_status(&rq, status, 1);
}

static void
test_discard_and_write_zeroes(void **state)
{
	uint8_t w[16 * 512], r[16 * 512], want[16 * 512];

	start("Malloc0", 512, false);
	pattern(w, sizeof(w), 4);
	guest_write(0, w, sizeof(w));
	memcpy(want, w, sizeof(w));

	dwz(VIRTIO_BLK_T_DISCARD, 2, 2, 0, VIRTIO_BLK_S_OK);
	memset(want + 2 * 512, 0, 2 * 512);
	dwz(VIRTIO_BLK_T_WRITE_ZEROES, 8, 1, 0, VIRTIO_BLK_S_OK);
	memset(want + 8 * 512, 0, 512);
	dwz(VIRTIO_BLK_T_WRITE_ZEROES, 12, 3, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP,
	    VIRTIO_BLK_S_OK);
	memset(want + 12 * 512, 0, 3 * 512);
	assert_int_equal(g_submits, 1 + 3);

	guest_read(0, r, sizeof(r));
	assert_memory_equal(r, want, sizeof(want));

	/* Header and segment in one readable descriptor. */
	{
		struct req rq;
		struct virtio_blk_discard_write_zeroes s = {
			.sector = htole64(0), .num_sectors = htole32(1), .flags = 0,
		};
		uint64_t gpa = galloc(32);

		put_hdr(gpa, VIRTIO_BLK_T_WRITE_ZEROES, 0);
		memcpy(gp(gpa + 16), &s, sizeof(s));
		rq_init(&rq);
		rq_raw(&rq, gpa, 32, false);
		rq_status(&rq);
		expect_status(&rq, VIRTIO_BLK_S_OK, 1);
		guest_read(0, r, 512);
		assert_true(ut_all_bytes(r, 512, 0));
	}
}

static void
test_discard_and_write_zeroes_rejected(void **state)
{
	static const uint32_t types[] = { VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_T_WRITE_ZEROES };
	uint8_t w[8 * 512], r[8 * 512];
	struct req rq;

	start("Malloc0", 512, false);
	pattern(w, sizeof(w), 5);
	guest_write(0, w, sizeof(w));
	g_submits = 0;

	for (int i = 0; i < 2; i++) {
		/* Two segments (max_*_seg is 1). */
		rq_init(&rq);
		rq_hdr(&rq, types[i], 0);
		rq_dwz_seg(&rq, 0, 1, 0);
		rq_dwz_seg(&rq, 2, 1, 0);
		rq_status(&rq);
		expect_status(&rq, VIRTIO_BLK_S_IOERR, 1);
		/* A short segment. */
		rq_init(&rq);
		rq_hdr(&rq, types[i], 0);
		rq_data(&rq, 8, false);
		rq_status(&rq);
		expect_status(&rq, VIRTIO_BLK_S_IOERR, 1);
		/* No segment at all. */
		rq_init(&rq);
		rq_hdr(&rq, types[i], 0);
		rq_status(&rq);
		expect_status(&rq, VIRTIO_BLK_S_IOERR, 1);
		/* Past the end, and a sector that overflows in bytes. */
		dwz(types[i], DISK_BYTES / 512 - 1, 2, 0, VIRTIO_BLK_S_IOERR);
		dwz(types[i], UINT64_MAX / 512 + 1, 1, 0, VIRTIO_BLK_S_IOERR);
		dwz(types[i], UINT64_MAX - 1, 4, 0, VIRTIO_BLK_S_IOERR);
		/* Unknown flag bits. */
		dwz(types[i], 0, 1, 0x2, VIRTIO_BLK_S_UNSUPP);
		dwz(types[i], 0, 1, 0x80000000u, VIRTIO_BLK_S_UNSUPP);
	}
	/* Discard with the unmap flag (only for write zeroes). */
	dwz(VIRTIO_BLK_T_DISCARD, 0, 1, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP, VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(g_submits, 0);

	guest_read(0, r, sizeof(r));
	assert_memory_equal(r, w, sizeof(w));
}

/* ---- malformed requests --------------------------------------------------- */

static void
test_unknown_type_unsupp(void **state)
{
	static const uint32_t types[] = { 2, 3, 5, 12, 0x80000000u, UINT32_MAX };
	struct req rq;

	start("Malloc0", 512, false);
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		rq_init(&rq);
		rq_hdr(&rq, types[i], 0);
		rq_data(&rq, 512, true);
		rq_status(&rq);
		expect_status(&rq, VIRTIO_BLK_S_UNSUPP, 1);
	}
	assert_int_equal(g_submits, 0);
}

static void
test_short_header_ioerr(void **state)
{
	struct req rq;
	uint64_t gpa;

	start("Malloc0", 512, false);
	/* 15 bytes of header. */
	rq_init(&rq);
	gpa = galloc(16);
	put_hdr(gpa, VIRTIO_BLK_T_IN, 0);
	rq_raw(&rq, gpa, 15, false);
	rq_data(&rq, 512, true);
	rq_status(&rq);
	snapshot();
	expect_status(&rq, VIRTIO_BLK_S_IOERR, 1);
	/* Only the status byte changed. */
	*(uint8_t *)gp(rq.status) = NO_STATUS;
	assert_buffers_untouched();

	/* No readable descriptor at all. */
	rq_init(&rq);
	rq_data(&rq, 512, true);
	rq_status(&rq);
	expect_status(&rq, VIRTIO_BLK_S_IOERR, 1);
	assert_int_equal(g_submits, 0);
}

/* Without a writable byte there is nowhere to put a status: the request
 * is completed with len 0 and no guest byte changes. */
static void
test_no_writable_byte(void **state)
{
	struct req rq;
	uint16_t head;
	uint8_t w[512];

	start("Malloc0", 512, false);
	pattern(w, sizeof(w), 6);
	rq_init(&rq);
	rq_hdr(&rq, VIRTIO_BLK_T_OUT, 0);
	memcpy(gp(rq_data(&rq, sizeof(w), false)), w, sizeof(w));
	head = rq_post(&rq);
	snapshot();
	assert_int_equal(run(), 1);
	expect_used(head, 0);
	expect_no_more_used();
	assert_buffers_untouched();
	assert_int_equal(g_submits, 0);

	/* Header only. */
	rq_init(&rq);
	rq_hdr(&rq, VIRTIO_BLK_T_IN, 0);
	head = rq_post(&rq);
	snapshot();
	assert_int_equal(run(), 1);
	expect_used(head, 0);
	expect_no_more_used();
	assert_buffers_untouched();
	assert_int_equal(g_submits, 0);
}

/* IN data must all be device-writable. */
static void
test_in_with_readable_data_ioerr(void **state)
{
	struct req rq;
	uint64_t data;

	start("Malloc0", 512, false);
	rq_init(&rq);
	rq_hdr(&rq, VIRTIO_BLK_T_IN, 0);
	data = rq_data(&rq, 512, false);
	rq_data(&rq, 512, true);
	rq_status(&rq);
	snapshot();
	expect_status(&rq, VIRTIO_BLK_S_IOERR, 1);
	*(uint8_t *)gp(rq.status) = NO_STATUS;
	assert_buffers_untouched();
	assert_int_equal(*(uint8_t *)gp(data), FILL);
	assert_int_equal(g_submits, 0);
}

/* A bad sector/length: IOERR, no bdev I/O, no data byte written. */
static void
expect_bad_range(uint32_t type, uint64_t sector, uint32_t len)
{
	struct req rq;

	rq_init(&rq);
	rq_hdr(&rq, type, sector);
	rq_data(&rq, len, type == VIRTIO_BLK_T_IN);
	rq_status(&rq);
	snapshot();
	expect_status(&rq, VIRTIO_BLK_S_IOERR, 1);
	*(uint8_t *)gp(rq.status) = NO_STATUS;
	assert_buffers_untouched();
	assert_int_equal(g_submits, 0);
}

static void
test_bad_ranges_512(void **state)
{
	static const uint32_t types[] = { VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT };
	const uint64_t sectors = DISK_BYTES / 512;
	uint8_t r[DISK_BYTES];

	start("Malloc0", 512, false);
	for (int i = 0; i < 2; i++) {
		expect_bad_range(types[i], sectors, 512);            /* starts at the end */
		expect_bad_range(types[i], sectors - 1, 1024);       /* runs past it */
		expect_bad_range(types[i], UINT64_MAX / 512 + 1, 512); /* sector * 512 overflows */
		expect_bad_range(types[i], 1ull << 63, 512);
		expect_bad_range(types[i], UINT64_MAX, 512);
		expect_bad_range(types[i], 0, 513);                  /* not whole sectors */
		expect_bad_range(types[i], 0, 511);
	}
	/* The whole disk is still fine, and still zero. */
	guest_read(0, r, sizeof(r));
	assert_true(ut_all_bytes(r, sizeof(r), 0));
}

static void
test_bad_ranges_4096(void **state)
{
	static const uint32_t types[] = { VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT };
	uint8_t w[4096], r[4096];

	start("Malloc0", 4096, false);
	for (int i = 0; i < 2; i++) {
		expect_bad_range(types[i], 1, 4096);       /* not block-aligned */
		expect_bad_range(types[i], 7, 4096);
		expect_bad_range(types[i], 0, 512);        /* not whole blocks */
		expect_bad_range(types[i], 8, 4096 + 512);
		expect_bad_range(types[i], DISK_BYTES / 512, 4096);
	}
	dwz(VIRTIO_BLK_T_DISCARD, 1, 8, 0, VIRTIO_BLK_S_IOERR);
	dwz(VIRTIO_BLK_T_WRITE_ZEROES, 0, 1, 0, VIRTIO_BLK_S_IOERR);
	assert_int_equal(g_submits, 0);
	pattern(w, sizeof(w), 7);
	guest_write(8, w, sizeof(w));
	guest_read(8, r, sizeof(r));
	assert_memory_equal(r, w, sizeof(w));
}

/*
 * Huge data lengths (descriptors into the R1 reservation, which faults if
 * touched): just under the 4 GiB a chain may carry, the range check
 * refuses them before any I/O; over it, vq_pop refuses the chain (so
 * blk.c's 32-bit data_len cannot wrap) and the request completes with
 * len 0 and no status.
 */
static void
test_huge_data_lengths(void **state)
{
	static const uint32_t types[] = { VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT };
	struct req rq;
	uint16_t head;

	start("Malloc0", 512, false);
	for (int i = 0; i < 2; i++) {
		bool wr = types[i] == VIRTIO_BLK_T_IN;

		/* 16 + (4 GiB - 512) + 1 bytes: a legal chain, past the disk. */
		rq_init(&rq);
		rq_hdr(&rq, types[i], 0);
		rq_raw(&rq, R1_GPA, UINT32_MAX - 511, wr);
		rq_status(&rq);
		expect_status(&rq, VIRTIO_BLK_S_IOERR, 1);

		/* 16 + 1 + (4 GiB - 1) + 512 + 1 bytes: more than a chain may hold. */
		rq_init(&rq);
		rq_hdr(&rq, types[i], 0);
		rq_data(&rq, 1, wr);
		rq_raw(&rq, R1_GPA, UINT32_MAX, wr);
		rq_data(&rq, 512, wr);
		rq_status(&rq);
		head = rq_post(&rq);
		snapshot();
		assert_int_equal(run(), 1);
		expect_used(head, 0);
		expect_no_more_used();
		assert_buffers_untouched();
	}
	assert_int_equal(g_submits, 0);
}

/* vq_pop's -EINVAL (here: a buffer outside guest memory): used len 0,
 * nothing written, the queue goes on. */
static void
test_malformed_chain_len_0(void **state)
{
	struct req rq;
	uint16_t head;
	uint8_t r[512];

	start("Malloc0", 512, false);
	rq_init(&rq);
	rq_hdr(&rq, VIRTIO_BLK_T_IN, 0);
	rq_raw(&rq, 0x80000000ull, 512, true);    /* in no region */
	rq_status(&rq);
	head = rq_post(&rq);
	snapshot();
	assert_int_equal(run(), 1);
	expect_used(head, 0);
	expect_no_more_used();
	assert_buffers_untouched();
	assert_false(g_q->vq.broken);
	assert_int_equal(g_submits, 0);
	guest_read(0, r, sizeof(r));
}

/* ---- read-only, id reuse, resubmission, batches ---------------------------- */

static void
test_readonly_refuses_writes(void **state)
{
	uint8_t w[1024], r[1024];
	struct req rq;

	start("Malloc0", 512, true);
	pattern(w, sizeof(w), 8);
	rq_init(&rq);
	rq_hdr(&rq, VIRTIO_BLK_T_OUT, 0);
	memcpy(gp(rq_data(&rq, sizeof(w), false)), w, sizeof(w));
	rq_status(&rq);
	expect_status(&rq, VIRTIO_BLK_S_IOERR, 1);
	dwz(VIRTIO_BLK_T_DISCARD, 0, 1, 0, VIRTIO_BLK_S_UNSUPP);
	dwz(VIRTIO_BLK_T_WRITE_ZEROES, 0, 1, 0, VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(g_submits, 0);

	/* Reads work and see the untouched (zero) disk. */
	guest_read(0, r, sizeof(r));
	assert_true(ut_all_bytes(r, sizeof(r), 0));
	disk_read(0, r, sizeof(r));
	assert_true(ut_all_bytes(r, sizeof(r), 0));
	assert_true(blk_features(g_bc) & (1ULL << VIRTIO_BLK_F_RO));
}

/*
 * A read-only controller offers FLUSH when the bdev has it, and a guest
 * may flush (fsync on /dev/vda opened read-only does). The descriptor is
 * read-only, so bdev_flush would refuse (-EBADF) and the guest saw EIO;
 * nothing was written through this controller, so the flush succeeds.
 */
static void
test_readonly_flush_succeeds(void **state)
{
	struct req rq;

	start("Malloc0", 512, true);
	assert_true(blk_features(g_bc) & (1ULL << VIRTIO_BLK_F_FLUSH));
	rq_init(&rq);
	rq_hdr(&rq, VIRTIO_BLK_T_FLUSH, 0);
	rq_status(&rq);
	expect_status(&rq, VIRTIO_BLK_S_OK, 1);
}

/*
 * The bdev layer is out of bdev_io (-ENOMEM, injected here): the request
 * waits for one to be freed on this thread and then runs.
 */
static void
test_nomem_waits_for_a_free_io(void **state)
{
	struct req a, b;
	uint8_t w[512];

	start("Malloc0", 512, false);
	pattern(w, sizeof(w), 11);
	guest_write(5, w, sizeof(w));

	rq_init(&a);
	rq_hdr(&a, VIRTIO_BLK_T_IN, 5);
	rq_data(&a, 512, true);
	rq_status(&a);
	rq_post(&a);
	rq_init(&b);
	rq_hdr(&b, VIRTIO_BLK_T_IN, 5);
	rq_data(&b, 512, true);
	rq_status(&b);
	rq_post(&b);

	g_submits = 0;
	g_nomem_at = 2;          /* the second submission finds no bdev_io */
	assert_int_equal(process(), 2);
	assert_int_equal(g_submits, 2);
	assert_int_equal(g_q->in_flight, 2);
	ut_poll_threads();       /* a's io is freed: b is submitted again */
	assert_int_equal(g_submits, 3);
	expect_used(a.head, 513);
	expect_used(b.head, 513);
	expect_no_more_used();
	assert_int_equal(status_of(&a), VIRTIO_BLK_S_OK);
	assert_int_equal(status_of(&b), VIRTIO_BLK_S_OK);
	assert_memory_equal(gp(a.seg[1].gpa), w, sizeof(w));
	assert_memory_equal(gp(b.seg[1].gpa), w, sizeof(w));
}

/* The guest publishes a head that is still in flight: the queue stops,
 * the first request completes once, the second never. */
static void
test_reused_head_in_flight_breaks_queue(void **state)
{
	struct req rq, again;
	uint16_t head;
	uint8_t w[512];

	start("Malloc0", 512, false);
	pattern(w, sizeof(w), 9);
	guest_write(3, w, sizeof(w));

	rq_init(&rq);
	rq_hdr(&rq, VIRTIO_BLK_T_IN, 3);
	rq_data(&rq, 512, true);
	rq_status(&rq);
	head = rq_post(&rq);
	publish(head);
	/* And a good request after it, which must not be taken either. */
	rq_init(&again);
	rq_hdr(&again, VIRTIO_BLK_T_FLUSH, 0);
	rq_status(&again);
	rq_post(&again);

	g_submits = 0;
	assert_int_equal(process(), 2);
	assert_true(g_q->vq.broken);
	assert_int_equal(g_q->in_flight, 1);   /* the first one, at the bdev */
	ut_poll_threads();
	expect_used(head, 512 + 1);
	assert_int_equal(status_of(&rq), VIRTIO_BLK_S_OK);
	assert_memory_equal(gp(rq.seg[1].gpa), w, sizeof(w));
	expect_no_more_used();
	assert_int_equal(g_s.in_flight, 0);
	assert_int_equal(g_submits, 1);

	/* A broken queue takes nothing more. */
	assert_int_equal(run(), 0);
	expect_no_more_used();
	assert_int_equal(status_of(&again), NO_STATUS);
}

/* After a reconnect a head is started again from the descriptor table. */
static void
test_resubmit(void **state)
{
	struct req rq;
	uint8_t w[512];
	uint64_t data;

	start("Malloc0", 512, false);
	pattern(w, sizeof(w), 10);
	guest_write(1, w, sizeof(w));

	/* Chained but not published: only the inflight region knew it. */
	rq_init(&rq);
	rq_hdr(&rq, VIRTIO_BLK_T_IN, 1);
	data = rq_data(&rq, 512, true);
	rq_status(&rq);
	rq_post(&rq);
	g_avail->idx--;
	ut_set_thread(CTRL);
	g_blk_backend.resubmit(&g_s, g_q, rq.head);
	/* The same head again while it is in flight: the queue stops. */
	g_blk_backend.resubmit(&g_s, g_q, rq.head);
	ut_set_thread(APP);
	assert_true(g_q->vq.broken);
	ut_poll_threads();
	expect_used(rq.head, 513);
	assert_int_equal(status_of(&rq), VIRTIO_BLK_S_OK);
	assert_memory_equal(gp(data), w, sizeof(w));
	expect_no_more_used();
}

/* More requests than one pass takes: VHOST_BATCH per pass, all complete. */
static void
test_batches(void **state)
{
	enum { NREQ = VHOST_BATCH + 8 };
	struct req *rq = calloc(NREQ, sizeof(*rq));
	uint8_t w[512];

	assert_non_null(rq);
	start("Malloc0", 512, false);
	for (int i = 0; i < NREQ; i++) {
		rq_init(&rq[i]);
		rq_hdr(&rq[i], VIRTIO_BLK_T_OUT, i);
		pattern(w, sizeof(w), 100 + i);
		memcpy(gp(rq_data(&rq[i], 512, false)), w, sizeof(w));
		rq_status(&rq[i]);
		rq_post(&rq[i]);
	}
	assert_int_equal(process(), VHOST_BATCH);
	assert_int_equal(process(), NREQ - VHOST_BATCH);
	assert_int_equal(g_q->in_flight, NREQ);
	ut_poll_threads();
	for (int i = 0; i < NREQ; i++) {
		expect_used(rq[i].head, 1);
		assert_int_equal(status_of(&rq[i]), VIRTIO_BLK_S_OK);
	}
	expect_no_more_used();
	for (int i = 0; i < NREQ; i++) {
		uint8_t r[512];

		guest_read(i, r, sizeof(r));
		pattern(w, sizeof(w), 100 + i);
		assert_memory_equal(r, w, sizeof(w));
	}
	expect_no_more_used();
	free(rq);
}

/* ---- hot removal ---------------------------------------------------------- */

static void
test_hot_remove_fails_new_io(void **state)
{
	uint8_t r[512];
	struct req rq;

	start("Malloc0", 512, false);
	guest_read(0, r, sizeof(r));
	delete_bdev();
	assert_true(g_bc->removed);
	assert_null(g_bc->ch);
	assert_null(g_bc->desc);
	assert_false(g_bc->remove_pending);

	g_submits = 0;
	rq_init(&rq);
	rq_hdr(&rq, VIRTIO_BLK_T_IN, 0);
	rq_data(&rq, 512, true);
	rq_status(&rq);
	expect_status(&rq, VIRTIO_BLK_S_IOERR, 1);
	rq_init(&rq);
	rq_hdr(&rq, VIRTIO_BLK_T_FLUSH, 0);
	rq_status(&rq);
	expect_status(&rq, VIRTIO_BLK_S_IOERR, 1);
	assert_int_equal(g_submits, 0);

	/* A new session after the removal gets no channel and still fails. */
	ut_set_thread(CTRL);
	g_blk_backend.session_stop(&g_s);
	assert_int_equal(g_blk_backend.session_start(&g_s), 0);
	assert_null(g_bc->ch);
	ut_set_thread(APP);
	rq_init(&rq);
	rq_hdr(&rq, VIRTIO_BLK_T_OUT, 0);
	rq_data(&rq, 512, false);
	rq_status(&rq);
	expect_status(&rq, VIRTIO_BLK_S_IOERR, 1);
}

/* Removal while a request is at the bdev: it completes exactly once. */
static void
test_hot_remove_with_request_in_flight(void **state)
{
	struct req rq;
	int rc = 1;
	uint8_t st;

	start("Malloc0", 512, false);
	rq_init(&rq);
	rq_hdr(&rq, VIRTIO_BLK_T_IN, 0);
	rq_data(&rq, 4096, true);
	rq_status(&rq);
	rq_post(&rq);
	assert_int_equal(process(), 1);
	assert_int_equal(g_q->in_flight, 1);
	assert_int_equal(malloc_disk_delete(g_bdev_name, delete_done, &rc), 0);
	ut_wait_rc(&rc, 1);
	assert_int_equal(rc, 0);
	expect_used(rq.head, status_of(&rq) == VIRTIO_BLK_S_OK ? 4096 + 1 : 1);
	st = status_of(&rq);
	assert_true(st == VIRTIO_BLK_S_OK || st == VIRTIO_BLK_S_IOERR);
	expect_no_more_used();
	assert_true(g_bc->removed);
	assert_null(g_bc->desc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_in_out_multi_segment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_in_out_combined_descriptors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_in_out_4096_byte_blocks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get_id_long_name_not_terminated, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_flush, setup, teardown),
		cmocka_unit_test_setup_teardown(test_discard_and_write_zeroes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_discard_and_write_zeroes_rejected, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unknown_type_unsupp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_header_ioerr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_writable_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_in_with_readable_data_ioerr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_ranges_512, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_ranges_4096, setup, teardown),
		cmocka_unit_test_setup_teardown(test_huge_data_lengths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_chain_len_0, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readonly_refuses_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readonly_flush_succeeds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nomem_waits_for_a_free_io, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reused_head_in_flight_breaks_queue, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_resubmit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hot_remove_fails_new_io, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hot_remove_with_request_in_flight, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
