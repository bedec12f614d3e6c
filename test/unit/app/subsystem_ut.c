/*
 * Unit tests of lib/app's subsystem registry and the --json document
 * checks: dependency ordering, unknown dependencies, cycles, init/fini
 * order and the start-up abort on a failing subsystem.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "lvstor/app.h"
#include "../../../lib/app/app_internal.h"

static char g_trace[256];
static int g_fail_init_of_c;

static void
trace(const char *what)
{
	strncat(g_trace, what, sizeof(g_trace) - strlen(g_trace) - 1);
}

static void init_a(void) { trace("+a"); subsystem_init_done(0); }
static void init_b(void) { trace("+b"); subsystem_init_done(0); }
static void init_c(void) { trace("+c"); subsystem_init_done(g_fail_init_of_c); }
static void fini_a(void) { trace("-a"); subsystem_fini_done(); }
static void fini_b(void) { trace("-b"); subsystem_fini_done(); }
static void fini_c(void) { trace("-c"); subsystem_fini_done(); }

/* Registered in an order that contradicts the dependencies: c→b→a. */
static struct subsystem g_c = {.name = "c", .init = init_c, .fini = fini_c,
			       .depends_on = {"b"}};
static struct subsystem g_b = {.name = "b", .init = init_b, .fini = fini_b,
			       .depends_on = {"a"}};
static struct subsystem g_a = {.name = "a", .init = init_a, .fini = fini_a};

static int g_init_rc = 1;
static bool g_fini_called;

static void init_cb(int rc, void *ctx) { g_init_rc = rc; }
static void fini_cb(void *ctx) { g_fini_called = true; }

static void
test_sort_orders_dependencies_first(void **state)
{
	char order[64] = "";

	/* Every linked subsystem registered itself: start from none. */
	subsystem_list_clear_for_test();
	subsystem_register(&g_c);
	subsystem_register(&g_b);
	subsystem_register(&g_a);
	assert_int_equal(subsystem_sort(), 0);
	for (struct subsystem *s = subsystem_get_first(); s; s = subsystem_get_next(s))
		strncat(order, s->name, sizeof(order) - strlen(order) - 1);
	assert_string_equal(order, "abc");
	assert_ptr_equal(subsystem_find("b"), &g_b);
	assert_null(subsystem_find("nope"));
}

static void
test_init_and_fini_walk_in_opposite_orders(void **state)
{
	g_trace[0] = '\0';
	g_fail_init_of_c = 0;
	subsystems_init(init_cb, NULL);
	assert_int_equal(g_init_rc, 0);
	subsystems_fini(fini_cb, NULL);
	assert_true(g_fini_called);
	assert_string_equal(g_trace, "+a+b+c-c-b-a");
}

static void
test_failed_init_finishes_only_what_came_up(void **state)
{
	g_trace[0] = '\0';
	g_fini_called = false;
	g_fail_init_of_c = -EIO;
	subsystems_init(init_cb, NULL);
	assert_int_equal(g_init_rc, -EIO);
	subsystems_fini(fini_cb, NULL);
	assert_true(g_fini_called);
	assert_string_equal(g_trace, "+a+b+c-b-a");
}

static struct subsystem g_orphan = {.name = "orphan", .depends_on = {"missing"}};

static void
test_unknown_dependency_fails_sort(void **state)
{
	subsystem_register(&g_orphan);
	assert_int_equal(subsystem_sort(), -ENOENT);
	g_orphan.depends_on[0] = NULL; /* heal the registry for the next test */
	assert_int_equal(subsystem_sort(), 0);
}

static struct subsystem g_x = {.name = "x", .depends_on = {"y"}};
static struct subsystem g_y = {.name = "y", .depends_on = {"x"}};

static void
test_dependency_cycle_fails_sort(void **state)
{
	subsystem_register(&g_x);
	subsystem_register(&g_y);
	assert_int_equal(subsystem_sort(), -ELOOP);
}

static int
load_text(const char *text, json_t **doc)
{
	char path[] = "/tmp/lvstor_json_ut_XXXXXX";
	int fd = mkstemp(path), rc;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	*doc = NULL;
	rc = json_config_load(path, doc);
	unlink(path);
	return rc;
}

static void
test_json_config_load_checks_shape(void **state)
{
	json_t *doc;

	assert_int_equal(load_text("{\"subsystems\":[]}", &doc), 0);
	json_decref(doc);
	assert_int_equal(load_text("{\"subsystems\":[{\"subsystem\":\"bdev\",\"config\":null}]}",
				   &doc), 0);
	json_decref(doc);
	assert_int_equal(load_text("{\"subsystems\":[{\"subsystem\":\"bdev\",\"config\":["
				   "{\"method\":\"m\",\"params\":{\"a\":1}}]}]}", &doc), 0);
	json_decref(doc);
	/* Broken documents are refused before anything starts. */
	assert_int_equal(load_text("{\"subsystems\":[", &doc), -EINVAL);
	assert_int_equal(load_text("[]", &doc), -EINVAL);
	assert_int_equal(load_text("{\"subsystems\":{}}", &doc), -EINVAL);
	assert_int_equal(load_text("{\"subsystems\":[{\"config\":[]}]}", &doc), -EINVAL);
	assert_int_equal(load_text("{\"subsystems\":[{\"subsystem\":\"b\",\"config\":{}}]}",
				   &doc), -EINVAL);
	assert_int_equal(load_text("{\"subsystems\":[{\"subsystem\":\"b\",\"config\":"
				   "[{\"params\":{}}]}]}", &doc), -EINVAL);
	assert_int_equal(load_text("{\"subsystems\":[{\"subsystem\":\"b\",\"config\":"
				   "[{\"method\":\"m\",\"params\":5}]}]}", &doc), -EINVAL);
	assert_int_equal(load_text("{\"a\":1,\"a\":2,\"subsystems\":[]}", &doc), -EINVAL);
	assert_null(doc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sort_orders_dependencies_first),
		cmocka_unit_test(test_init_and_fini_walk_in_opposite_orders),
		cmocka_unit_test(test_failed_init_finishes_only_what_came_up),
		cmocka_unit_test(test_unknown_dependency_fails_sort),
		cmocka_unit_test(test_dependency_cycle_fails_sort),
		cmocka_unit_test(test_json_config_load_checks_shape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
