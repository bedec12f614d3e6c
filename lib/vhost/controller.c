/*
 * vhost controllers: the registry, the sockets, and the edge where
 * rte_vhost's event thread calls in.
 *
 * rte_vhost runs one event thread ("vhost-events") that reads every
 * vhost-user socket and calls our device ops from there. That thread is
 * not a reactor, so it never touches a session's queues itself: it sends
 * a message to the controller's thread and waits on a semaphore for the
 * answer (new_device, destroy_device, vring_state_changed). Waiting is
 * what makes destroy_device safe: rte_vhost unmaps guest memory right
 * after it returns, so it must not return while a request still points
 * into that memory.
 *
 * The one lock (g_vhost_mutex) guards the controller list, each
 * controller's session pointer and the vid table, i.e. what the event
 * thread and the app thread both read. The I/O path never takes it.
 *
 * Deleting a controller: refused while a session exists; otherwise
 * `deleting` is set under the lock first, so that a VM connecting in the
 * same instant is turned away by new_connection instead of racing the
 * unregistration.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_vhost.h>

#include "lvstor/env.h"
#include "lvstor/log.h"
#include "lvstor/thread.h"
#include "vhost_internal.h"

LOG_REGISTER_COMPONENT(vhost)

pthread_mutex_t g_vhost_mutex = PTHREAD_MUTEX_INITIALIZER;

static TAILQ_HEAD(, vhost_controller) g_controllers = TAILQ_HEAD_INITIALIZER(g_controllers);
/* vid -> session; rte_vhost hands out vids below RTE_MAX_VHOST_DEVICE. */
static struct vhost_session *g_sessions[RTE_MAX_VHOST_DEVICE];
static char g_socket_dir[PATH_MAX];

/* vhost-user message numbers and layout (vhost-user protocol spec). */
#define VHOST_USER_GET_CONFIG 24
#define VHOST_USER_SET_CONFIG 25
#define VHOST_USER_CONFIG_MAX 256

struct vhost_user_config_msg {
	uint32_t request;
	uint32_t flags;
	uint32_t size;      /* payload bytes */
	uint32_t offset;
	uint32_t cfg_size;
	uint32_t cfg_flags;
	uint8_t region[VHOST_USER_CONFIG_MAX];
} __attribute__((packed));
#define VHOST_USER_CONFIG_HDR 12u /* offset, size, flags */

int
vhost_set_socket_dir(const char *dir)
{
	size_t len;

	if (dir == NULL || dir[0] == '\0') {
		g_socket_dir[0] = '\0';
		return 0;
	}
	len = strlen(dir);
	if (len + 2 > sizeof(g_socket_dir))
		return -ENAMETOOLONG;
	snprintf(g_socket_dir, sizeof(g_socket_dir), "%s%s", dir, dir[len - 1] == '/' ? "" : "/");
	return 0;
}

const char *
vhost_get_socket_dir(void)
{
	return g_socket_dir;
}

struct vhost_controller *
vhost_controller_find(const char *name)
{
	struct vhost_controller *c;

	TAILQ_FOREACH(c, &g_controllers, link) {
		if (strcmp(c->name, name) == 0)
			return c;
	}
	return NULL;
}

struct vhost_controller *
vhost_controller_first(void)
{
	return TAILQ_FIRST(&g_controllers);
}

struct vhost_controller *
vhost_controller_next(struct vhost_controller *ctrlr)
{
	return TAILQ_NEXT(ctrlr, link);
}

const char *
vhost_controller_get_name(const struct vhost_controller *ctrlr)
{
	return ctrlr->name;
}

const char *
vhost_controller_get_socket(const struct vhost_controller *ctrlr)
{
	return ctrlr->socket_path;
}

struct thread *
vhost_controller_get_thread(const struct vhost_controller *ctrlr)
{
	return ctrlr->thread;
}

/* The application's cores as a set. */
static void
app_cpuset(struct cpuset *set)
{
	uint32_t core;

	cpuset_zero(set);
	for (core = env_get_first_core(); core != UINT32_MAX; core = env_get_next_core(core))
		cpuset_set(set, core, true);
}

static void
thread_exit_msg(void *ctx)
{
	thread_exit(thread_get_current());
}

void
vhost_controller_free(struct vhost_controller *c)
{
	if (c == NULL)
		return;
	if (c->thread != NULL)
		thread_send_msg(c->thread, thread_exit_msg, NULL);
	free(c);
}

struct vhost_controller *
vhost_controller_construct(const char *name, const char *cpumask,
			   const struct vhost_backend *backend, uint64_t virtio_features, int *rc)
{
	struct vhost_controller *c;
	struct cpuset app;
	char tname[NAME_MAX + 8];
	int n;

	*rc = 0;
	if (name == NULL || name[0] == '\0' || strchr(name, '/') != NULL ||
	    strlen(name) > NAME_MAX) {
		*rc = -EINVAL;
		return NULL;
	}
	if (vhost_controller_find(name) != NULL) {
		*rc = -EEXIST;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		*rc = -ENOMEM;
		return NULL;
	}
	snprintf(c->name, sizeof(c->name), "%s", name);
	n = snprintf(c->socket_path, sizeof(c->socket_path), "%s%s", g_socket_dir, name);
	if (n < 0 || (size_t)n >= sizeof(c->socket_path)) {
		LOG_ERR("vhost: socket path %s%s is too long for a Unix socket", g_socket_dir, name);
		free(c);
		*rc = -EINVAL;
		return NULL;
	}
	app_cpuset(&app);
	if (cpumask == NULL) {
		c->cpumask = app;
	} else if (cpuset_parse(&c->cpumask, cpumask) != 0 ||
		   !cpuset_is_subset(&c->cpumask, &app) ||
		   cpuset_next(&c->cpumask, 0) == UINT32_MAX) {
		LOG_ERR("vhost: cpumask %s is not a non-empty subset of the application's cores",
			cpumask);
		free(c);
		*rc = -EINVAL;
		return NULL;
	}
	c->backend = backend;
	c->virtio_features = virtio_features;
	c->delay_base_us = VHOST_DEFAULT_DELAY_BASE_US;
	c->iops_threshold = VHOST_DEFAULT_IOPS_THRESHOLD;
	c->coalescing_delay_ticks = 0;
	c->coalescing_threshold_per_window = VHOST_DEFAULT_IOPS_THRESHOLD / 100;
	snprintf(tname, sizeof(tname), "vhost.%s", name);
	c->thread = thread_create(tname, &c->cpumask);
	if (c->thread == NULL) {
		free(c);
		*rc = -ENOMEM;
		return NULL;
	}
	return c;
}

/* ---- rte_vhost callbacks (event thread) ---------------------------------- */

static struct vhost_session *
session_of(int vid)
{
	if (vid < 0 || vid >= RTE_MAX_VHOST_DEVICE)
		return NULL;
	return g_sessions[vid];
}

/*
 * The session of vid, read under the lock. The pointer stays valid for the
 * caller: only destroy_connection frees a session, and rte_vhost never runs
 * it while another callback for the same connection is running (it waits
 * for the connection's fd to be idle, also when unregistering a socket).
 */
static struct vhost_session *
session_get(int vid)
{
	struct vhost_session *s;

	pthread_mutex_lock(&g_vhost_mutex);
	s = session_of(vid);
	pthread_mutex_unlock(&g_vhost_mutex);
	return s;
}

static enum rte_vhost_msg_result
pre_msg_handle(int vid, void *raw)
{
	struct vhost_user_config_msg *msg = raw;
	struct vhost_session *s;
	uint8_t config[VHOST_USER_CONFIG_MAX];
	int len;

	if (msg->request != VHOST_USER_GET_CONFIG && msg->request != VHOST_USER_SET_CONFIG)
		return RTE_VHOST_MSG_RESULT_NOT_HANDLED;
	if (msg->request == VHOST_USER_SET_CONFIG) {
		/* Nothing in our config space is writable (no CONFIG_WCE). */
		return RTE_VHOST_MSG_RESULT_OK;
	}
	if (msg->size < VHOST_USER_CONFIG_HDR || msg->cfg_size > VHOST_USER_CONFIG_MAX ||
	    msg->offset > VHOST_USER_CONFIG_MAX - msg->cfg_size) {
		LOG_ERR("vhost: GET_CONFIG with offset %u size %u refused", msg->offset,
			msg->cfg_size);
		return RTE_VHOST_MSG_RESULT_ERR;
	}
	memset(config, 0, sizeof(config));
	pthread_mutex_lock(&g_vhost_mutex);
	s = session_of(vid);
	len = s != NULL ? s->ctrlr->backend->get_config(s->ctrlr, config, sizeof(config)) : -ENODEV;
	pthread_mutex_unlock(&g_vhost_mutex);
	if (len < 0)
		return RTE_VHOST_MSG_RESULT_ERR;
	memcpy(msg->region, config + msg->offset, msg->cfg_size);
	msg->size = VHOST_USER_CONFIG_HDR + msg->cfg_size;
	return RTE_VHOST_MSG_RESULT_REPLY;
}

static const struct rte_vhost_user_extern_ops g_extern_ops = {
	.pre_msg_handle = pre_msg_handle,
};

static int
new_connection(int vid)
{
	struct vhost_controller *c;
	struct vhost_session *s;
	char path[PATH_MAX];

	if (vid < 0 || vid >= RTE_MAX_VHOST_DEVICE || rte_vhost_get_ifname(vid, path, sizeof(path)) != 0)
		return -1;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -1;
	pthread_mutex_lock(&g_vhost_mutex);
	TAILQ_FOREACH(c, &g_controllers, link) {
		if (strcmp(c->socket_path, path) == 0)
			break;
	}
	if (c == NULL || c->deleting || c->session != NULL) {
		pthread_mutex_unlock(&g_vhost_mutex);
		LOG_ERR("vhost: connection on %s refused: %s", path,
			c == NULL ? "no controller" : c->deleting ? "controller being deleted" :
			"a VM is already connected (one session per controller)");
		free(s);
		return -1;
	}
	s->ctrlr = c;
	s->vid = vid;
	snprintf(s->name, sizeof(s->name), "%.40ss%d", c->name, vid);
	sem_init(&s->done, 0, 0);
	c->session = s;
	g_sessions[vid] = s;
	pthread_mutex_unlock(&g_vhost_mutex);
	if (rte_vhost_extern_callback_register(vid, &g_extern_ops, NULL) != 0)
		LOG_ERR("vhost: %s: cannot register the config-space handler", s->name);
	LOG_NOTICE("vhost: %s: VM connected", s->name);
	return 0;
}

static void
destroy_connection(int vid)
{
	struct vhost_session *s;

	pthread_mutex_lock(&g_vhost_mutex);
	s = session_of(vid);
	if (s != NULL) {
		g_sessions[vid] = NULL;
		s->ctrlr->session = NULL;
	}
	pthread_mutex_unlock(&g_vhost_mutex);
	if (s == NULL)
		return;
	LOG_NOTICE("vhost: %s: VM disconnected", s->name);
	sem_destroy(&s->done);
	free(s);
}

/* Sends fn(s) to the controller thread and waits for it to post s->done. */
static int
run_on_controller(struct vhost_session *s, thread_msg_fn fn)
{
	s->done_rc = 0;
	if (thread_send_msg(s->ctrlr->thread, fn, s) != 0)
		return -ENOMEM;
	while (sem_wait(&s->done) != 0 && errno == EINTR)
		;
	return s->done_rc;
}

static int
copy_mem_table(struct vhost_session *s)
{
	struct rte_vhost_memory *mem = NULL;
	uint32_t i;

	if (rte_vhost_get_mem_table(s->vid, &mem) != 0 || mem == NULL)
		return -EIO;
	if (mem->nregions > GUEST_MEM_MAX_REGIONS) {
		LOG_ERR("vhost: %s: %u memory regions, at most %d supported", s->name,
			mem->nregions, GUEST_MEM_MAX_REGIONS);
		free(mem);
		return -E2BIG;
	}
	s->mem.nregions = mem->nregions;
	for (i = 0; i < mem->nregions; i++) {
		s->mem.regions[i].guest_phys_addr = mem->regions[i].guest_phys_addr;
		s->mem.regions[i].size = mem->regions[i].size;
		s->mem.regions[i].host_addr = mem->regions[i].host_user_addr;
	}
	free(mem);
	return 0;
}

static int
new_device(int vid)
{
	struct vhost_session *s;
	int rc;

	s = session_get(vid);
	if (s == NULL)
		return -1;
	if (rte_vhost_get_negotiated_features(vid, &s->features) != 0 ||
	    rte_vhost_get_negotiated_protocol_features(vid, &s->protocol_features) != 0)
		return -1;
	rc = copy_mem_table(s);
	if (rc != 0)
		return -1;
	s->nqueues = rte_vhost_get_vring_num(vid);
	if (s->nqueues > VHOST_MAX_QUEUES) {
		LOG_WARN("vhost: %s: guest set up %u queues, serving the first %d", s->name,
			 s->nqueues, VHOST_MAX_QUEUES);
		s->nqueues = VHOST_MAX_QUEUES;
	}
	rc = run_on_controller(s, vhost_session_start_on_thread);
	if (rc != 0) {
		LOG_ERR("vhost: %s: cannot start: %s", s->name, strerror(-rc));
		return -1;
	}
	return 0;
}

static void
destroy_device(int vid)
{
	struct vhost_session *s;

	s = session_get(vid);
	if (s == NULL || !s->started)
		return;
	run_on_controller(s, vhost_session_stop_on_thread);
}

struct vring_change {
	struct vhost_session *s;
	uint16_t index;
	bool enable;
	int kickfd, callfd;
	sem_t done;
};

static void
vring_change_on_thread(void *ctx)
{
	struct vring_change *vc = ctx;

	vhost_session_vring_change_on_thread(vc->s, vc->index, vc->enable, vc->kickfd, vc->callfd);
	sem_post(&vc->done);
}

/*
 * The guest enables or disables a queue, or replaces its kick/call fd
 * (QEMU does that at run time when it masks a queue's interrupt). rte_vhost
 * closes the old fd right after this returns, so the controller thread must
 * have stopped using it by then.
 */
static int
vring_state_changed(int vid, uint16_t queue_id, int enable)
{
	struct vhost_session *s;
	struct rte_vhost_vring vring;
	struct vring_change vc = { .index = queue_id, .enable = enable != 0,
				   .kickfd = -1, .callfd = -1 };

	s = session_get(vid);
	if (s == NULL || !s->started || queue_id >= s->nqueues)
		return 0;
	if (vc.enable && rte_vhost_get_vhost_vring(vid, queue_id, &vring) == 0) {
		vc.kickfd = vring.kickfd;
		vc.callfd = vring.callfd;
	}
	vc.s = s;
	sem_init(&vc.done, 0, 0);
	if (thread_send_msg(s->ctrlr->thread, vring_change_on_thread, &vc) == 0) {
		while (sem_wait(&vc.done) != 0 && errno == EINTR)
			;
	}
	sem_destroy(&vc.done);
	return 0;
}

static const struct rte_vhost_device_ops g_device_ops = {
	.new_device = new_device,
	.destroy_device = destroy_device,
	.vring_state_changed = vring_state_changed,
	.new_connection = new_connection,
	.destroy_connection = destroy_connection,
};

/* ---- sockets -------------------------------------------------------------- */

/*
 * What we speak beyond the basics: config space (virtio-blk needs it),
 * multiple queues, reply-ack, and the inflight region that lets a
 * restarted daemon find the requests it had taken.
 */
#define VHOST_PROTOCOL_FEATURES \
	((1ULL << VHOST_USER_PROTOCOL_F_MQ) | (1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK) | \
	 (1ULL << VHOST_USER_PROTOCOL_F_CONFIG) | (1ULL << VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD))

int
vhost_controller_start(struct vhost_controller *c)
{
	struct stat st;

	if (lstat(c->socket_path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			LOG_ERR("vhost: %s exists and is not a socket", c->socket_path);
			return -EIO;
		}
		/* A socket left behind by an earlier run: nobody serves it. */
		unlink(c->socket_path);
	}
	if (rte_vhost_driver_register(c->socket_path, 0) != 0) {
		LOG_ERR("vhost: cannot register socket %s", c->socket_path);
		return -EIO;
	}
	c->protocol_features = VHOST_PROTOCOL_FEATURES;
	if (rte_vhost_driver_set_features(c->socket_path, c->virtio_features) != 0 ||
	    rte_vhost_driver_set_protocol_features(c->socket_path, c->protocol_features) != 0 ||
	    rte_vhost_driver_callback_register(c->socket_path, &g_device_ops) != 0 ||
	    rte_vhost_driver_start(c->socket_path) != 0) {
		LOG_ERR("vhost: cannot start socket %s", c->socket_path);
		rte_vhost_driver_unregister(c->socket_path);
		unlink(c->socket_path);
		return -EIO;
	}
	pthread_mutex_lock(&g_vhost_mutex);
	TAILQ_INSERT_TAIL(&g_controllers, c, link);
	pthread_mutex_unlock(&g_vhost_mutex);
	LOG_NOTICE("vhost: controller %s listening on %s", c->name, c->socket_path);
	return 0;
}

static void
controller_release(struct vhost_controller *c)
{
	pthread_mutex_lock(&g_vhost_mutex);
	TAILQ_REMOVE(&g_controllers, c, link);
	pthread_mutex_unlock(&g_vhost_mutex);
	unlink(c->socket_path);
	c->backend->destroy(c);
	vhost_controller_free(c);
}

int
vhost_controller_delete(const char *name)
{
	struct vhost_controller *c = vhost_controller_find(name);

	if (c == NULL)
		return -ENODEV;
	pthread_mutex_lock(&g_vhost_mutex);
	if (c->session != NULL) {
		pthread_mutex_unlock(&g_vhost_mutex);
		LOG_ERR("vhost: controller %s has a VM connected; not deleted", name);
		return -EBUSY;
	}
	c->deleting = true;
	pthread_mutex_unlock(&g_vhost_mutex);
	if (rte_vhost_driver_unregister(c->socket_path) != 0) {
		pthread_mutex_lock(&g_vhost_mutex);
		c->deleting = false;
		pthread_mutex_unlock(&g_vhost_mutex);
		LOG_ERR("vhost: cannot unregister %s", c->socket_path);
		return -EIO;
	}
	controller_release(c);
	return 0;
}

/* ---- shutdown ------------------------------------------------------------- */

struct fini_ctx {
	void (*cb)(void *ctx);
	void *cb_ctx;
	struct thread *app_thread;
};

static void
fini_finish(void *arg)
{
	struct fini_ctx *f = arg;
	struct vhost_controller *c;

	while ((c = TAILQ_FIRST(&g_controllers)) != NULL)
		controller_release(c);
	f->cb(f->cb_ctx);
	free(f);
}

/*
 * Unregistering a socket with a VM connected makes rte_vhost call
 * destroy_device on the calling thread, which waits for the controller's
 * reactor. The app thread may share that reactor, so the unregistering
 * happens on a plain pthread and the app thread hears back by message.
 */
static void *
fini_unregister_all(void *arg)
{
	struct fini_ctx *f = arg;
	struct vhost_controller *c;

	TAILQ_FOREACH(c, &g_controllers, link)
		rte_vhost_driver_unregister(c->socket_path);
	thread_send_msg(f->app_thread, fini_finish, f);
	return NULL;
}

void
vhost_fini(void (*cb)(void *ctx), void *ctx)
{
	struct vhost_controller *c;
	struct fini_ctx *f;
	pthread_t tid;

	if (TAILQ_EMPTY(&g_controllers)) {
		cb(ctx);
		return;
	}
	f = calloc(1, sizeof(*f));
	if (f == NULL) {
		cb(ctx);
		return;
	}
	f->cb = cb;
	f->cb_ctx = ctx;
	f->app_thread = thread_get_current();
	pthread_mutex_lock(&g_vhost_mutex);
	TAILQ_FOREACH(c, &g_controllers, link)
		c->deleting = true;
	pthread_mutex_unlock(&g_vhost_mutex);
	if (pthread_create(&tid, NULL, fini_unregister_all, f) != 0) {
		fini_unregister_all(f);
		return;
	}
	pthread_detach(tid);
}

/* ---- coalescing, listing, config ------------------------------------------ */

struct coalescing_update {
	struct vhost_controller *c;
	uint64_t delay_ticks;
	uint32_t per_window;
};

static void
coalescing_on_thread(void *ctx)
{
	struct coalescing_update *u = ctx;

	u->c->coalescing_delay_ticks = u->delay_ticks;
	u->c->coalescing_threshold_per_window = u->per_window;
	free(u);
}

/*
 * Rates are judged per 10 ms window (session.c), so the threshold is kept
 * as completions per window; a threshold under 100/s would be 0 per window
 * (refused whatever the delay, as SPDK does).
 */
int
vhost_controller_set_coalescing(struct vhost_controller *c, uint32_t delay_base_us,
				uint32_t iops_threshold)
{
	struct coalescing_update *u;
	uint64_t ticks = (uint64_t)delay_base_us * env_get_ticks_hz() / 1000000;

	if (iops_threshold < 100 || ticks > UINT32_MAX)
		return -EINVAL;
	u = calloc(1, sizeof(*u));
	if (u == NULL)
		return -ENOMEM;
	u->c = c;
	u->delay_ticks = ticks;
	u->per_window = iops_threshold / 100;
	if (thread_send_msg(c->thread, coalescing_on_thread, u) != 0) {
		free(u);
		return -ENOMEM;
	}
	c->delay_base_us = delay_base_us;
	c->iops_threshold = iops_threshold;
	return 0;
}

void
vhost_controller_get_coalescing(const struct vhost_controller *c, uint32_t *delay_base_us,
				uint32_t *iops_threshold)
{
	*delay_base_us = c->delay_base_us;
	*iops_threshold = c->iops_threshold;
}

json_t *
vhost_controller_info_json(const struct vhost_controller *c)
{
	json_t *o = json_object(), *sessions = json_array(), *backend = json_object();
	struct vhost_session *s;
	char mask[300], hex[304];

	snprintf(hex, sizeof(hex), "0x%s", cpuset_fmt(&c->cpumask, mask, sizeof(mask)));
	json_object_set_new(o, "ctrlr", json_string(c->name));
	json_object_set_new(o, "cpumask", json_string(hex));
	json_object_set_new(o, "delay_base_us", json_integer(c->delay_base_us));
	json_object_set_new(o, "iops_threshold", json_integer(c->iops_threshold));
	json_object_set_new(o, "socket", json_string(c->socket_path));
	pthread_mutex_lock(&g_vhost_mutex);
	s = c->session;
	if (s != NULL) {
		json_t *js = json_object();

		json_object_set_new(js, "vid", json_integer(s->vid));
		json_object_set_new(js, "id", json_integer(0));
		json_object_set_new(js, "name", json_string(s->name));
		json_object_set_new(js, "started", json_boolean(s->started));
		json_object_set_new(js, "max_queues", json_integer(s->nqueues));
		/* Read without the controller thread: a snapshot, may be stale. */
		json_object_set_new(js, "inflight_task_cnt",
				    json_integer(__atomic_load_n(&s->in_flight, __ATOMIC_RELAXED)));
		json_array_append_new(sessions, js);
	}
	pthread_mutex_unlock(&g_vhost_mutex);
	json_object_set_new(o, "sessions", sessions);
	c->backend->info_json(c, backend);
	json_object_set_new(o, "backend_specific", backend);
	return o;
}

void
vhost_write_config(json_t *config, const char *type)
{
	struct vhost_controller *c;

	TAILQ_FOREACH(c, &g_controllers, link) {
		json_t *entry, *params;

		if (strcmp(c->backend->type, type) != 0)
			continue;
		c->backend->write_config(c, config);
		if (c->delay_base_us == 0)
			continue;
		params = json_object();
		json_object_set_new(params, "ctrlr", json_string(c->name));
		json_object_set_new(params, "delay_base_us", json_integer(c->delay_base_us));
		json_object_set_new(params, "iops_threshold", json_integer(c->iops_threshold));
		entry = json_object();
		json_object_set_new(entry, "method", json_string("vhost_controller_set_coalescing"));
		json_object_set_new(entry, "params", params);
		json_array_append_new(config, entry);
	}
}
