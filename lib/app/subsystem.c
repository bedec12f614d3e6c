/*
 * lib/app/subsystem.c: the subsystem registry, dependency order, and the
 * init / fini walks.
 *
 * Subsystems register from constructors, in link order, which says
 * nothing about dependencies; subsystem_sort() orders the list so that
 * every subsystem comes after what it depends on (stable otherwise), and
 * fails start-up on an unknown dependency or a cycle. Init walks the list
 * front to back, one subsystem at a time (each may finish
 * asynchronously); fini walks back from the last subsystem that was
 * initialised, so a failed start-up only tears down what came up.
 */
#include <errno.h>
#include <string.h>

#include "lvstor/app.h"
#include "lvstor/log.h"
#include "app_internal.h"

static struct subsystem *g_subsystems;   /* registration order until sorted */
static struct subsystem *g_current;      /* being initialised / finalised */
static struct subsystem *g_last_inited;
static void (*g_init_cb)(int rc, void *ctx);
static void *g_init_ctx;
static void (*g_fini_cb)(void *ctx);
static void *g_fini_ctx;

void
subsystem_register(struct subsystem *subsystem)
{
	struct subsystem **p = &g_subsystems;

	while (*p)
		p = &(*p)->next;
	subsystem->next = NULL;
	*p = subsystem;
}

void
subsystem_list_clear_for_test(void)
{
	g_subsystems = NULL;
	g_current = NULL;
	g_last_inited = NULL;
}

struct subsystem *
subsystem_find(const char *name)
{
	for (struct subsystem *s = g_subsystems; s; s = s->next) {
		if (strcmp(s->name, name) == 0)
			return s;
	}
	return NULL;
}

struct subsystem *
subsystem_get_first(void)
{
	return g_subsystems;
}

struct subsystem *
subsystem_get_next(struct subsystem *s)
{
	return s->next;
}

static bool
in_list(struct subsystem *list, const char *name)
{
	for (; list; list = list->next) {
		if (strcmp(list->name, name) == 0)
			return true;
	}
	return false;
}

static bool
deps_met(struct subsystem *s, struct subsystem *sorted)
{
	for (int i = 0; s->depends_on[i]; i++) {
		if (!in_list(sorted, s->depends_on[i]))
			return false;
	}
	return true;
}

int
subsystem_sort(void)
{
	struct subsystem *sorted = NULL, **tail = &sorted;

	for (struct subsystem *s = g_subsystems; s; s = s->next) {
		for (int i = 0; s->depends_on[i]; i++) {
			if (subsystem_find(s->depends_on[i]) == NULL) {
				LOG_ERR("subsystem %s depends on unknown subsystem %s", s->name,
					s->depends_on[i]);
				return -ENOENT;
			}
		}
	}
	while (g_subsystems) {
		struct subsystem **p = &g_subsystems;
		bool moved = false;

		while (*p) {
			struct subsystem *s = *p;

			if (deps_met(s, sorted)) {
				*p = s->next;
				s->next = NULL;
				*tail = s;
				tail = &s->next;
				moved = true;
				break; /* restart: keeps registration order stable */
			}
			p = &s->next;
		}
		if (!moved) {
			LOG_ERR("subsystem dependency cycle involving %s", g_subsystems->name);
			*tail = g_subsystems;
			g_subsystems = sorted;
			return -ELOOP;
		}
	}
	g_subsystems = sorted;
	return 0;
}

static void
init_next(void)
{
	g_current = g_current ? g_current->next : g_subsystems;
	if (g_current == NULL) {
		g_init_cb(0, g_init_ctx);
		return;
	}
	if (g_current->init == NULL) {
		subsystem_init_done(0);
		return;
	}
	LOG_INFO("initialising subsystem %s", g_current->name);
	g_current->init();
}

void
subsystem_init_done(int rc)
{
	if (rc != 0) {
		LOG_ERR("subsystem %s failed to initialise: %s", g_current->name, strerror(-rc));
		g_init_cb(rc, g_init_ctx);
		return;
	}
	g_last_inited = g_current;
	init_next();
}

void
subsystems_init(void (*cb)(int rc, void *ctx), void *ctx)
{
	g_init_cb = cb;
	g_init_ctx = ctx;
	g_current = NULL;
	g_last_inited = NULL;
	init_next();
}

/* The subsystem before `s` in the list (NULL for the first). */
static struct subsystem *
prev_of(struct subsystem *s)
{
	struct subsystem *p = g_subsystems;

	if (p == s)
		return NULL;
	while (p && p->next != s)
		p = p->next;
	return p;
}

static void
fini_next(void)
{
	while (g_current && g_current->fini == NULL)
		g_current = prev_of(g_current);
	if (g_current == NULL) {
		g_last_inited = NULL;
		g_fini_cb(g_fini_ctx);
		return;
	}
	LOG_INFO("stopping subsystem %s", g_current->name);
	g_current->fini();
}

void
subsystem_fini_done(void)
{
	g_current = prev_of(g_current);
	fini_next();
}

void
subsystems_fini(void (*cb)(void *ctx), void *ctx)
{
	g_fini_cb = cb;
	g_fini_ctx = ctx;
	g_current = g_last_inited;
	fini_next();
}
