/*
 * Unit tests for lib/log: levels, component flags and the sink.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lvstor/log.h"
#include "lvstor/util.h"

/* Registered out of order on purpose: iteration must be sorted. */
LOG_REGISTER_COMPONENT(ut_zeta)
LOG_REGISTER_COMPONENT(ut_alpha)
LOG_REGISTER_COMPONENT(ut_mid)

#define MAX_LINES 16

static struct {
	int count;
	enum log_level level[MAX_LINES];
	char line[MAX_LINES][1100];
} g_cap;

static void
capture_sink(enum log_level level, const char *line)
{
	if (g_cap.count < MAX_LINES) {
		g_cap.level[g_cap.count] = level;
		strlcpy_lv(g_cap.line[g_cap.count], line, sizeof(g_cap.line[0]));
	}
	g_cap.count++;
}

static int
setup(void **state)
{
	memset(&g_cap, 0, sizeof(g_cap));
	log_set_level(LOG_LEVEL_NOTICE);
	log_set_print_level(LOG_LEVEL_INFO);
	log_clear_flag("all");
	log_set_sink(capture_sink);
	return 0;
}

static int
teardown(void **state)
{
	log_set_sink(NULL);
	log_set_level(LOG_LEVEL_NOTICE);
	log_set_print_level(LOG_LEVEL_INFO);
	log_clear_flag("all");
	return 0;
}

static void
test_levels(void **state)
{
	log_set_level(LOG_LEVEL_DEBUG);
	assert_int_equal(log_get_level(), LOG_LEVEL_DEBUG);
	log_set_level(LOG_LEVEL_ERROR);
	assert_int_equal(log_get_level(), LOG_LEVEL_ERROR);
	log_set_level(LOG_LEVEL_DISABLED);
	assert_int_equal(log_get_level(), LOG_LEVEL_DISABLED);
	log_set_print_level(LOG_LEVEL_WARN);
	assert_int_equal(log_get_print_level(), LOG_LEVEL_WARN);
	log_set_print_level(LOG_LEVEL_DEBUG);
	assert_int_equal(log_get_print_level(), LOG_LEVEL_DEBUG);
}

static void
test_level_names(void **state)
{
	assert_string_equal(log_level_name(LOG_LEVEL_ERROR), "ERROR");
	assert_string_equal(log_level_name(LOG_LEVEL_WARN), "WARNING");
	assert_string_equal(log_level_name(LOG_LEVEL_NOTICE), "NOTICE");
	assert_string_equal(log_level_name(LOG_LEVEL_INFO), "INFO");
	assert_string_equal(log_level_name(LOG_LEVEL_DEBUG), "DEBUG");
	assert_null(log_level_name(LOG_LEVEL_DISABLED));
	assert_null(log_level_name((enum log_level)5));
	assert_null(log_level_name((enum log_level)-2));
}

static void
test_level_parse(void **state)
{
	enum log_level l;

	assert_int_equal(log_level_parse("ERROR", &l), 0);
	assert_int_equal(l, LOG_LEVEL_ERROR);
	assert_int_equal(log_level_parse("error", &l), 0);
	assert_int_equal(l, LOG_LEVEL_ERROR);
	assert_int_equal(log_level_parse("WARNING", &l), 0);
	assert_int_equal(l, LOG_LEVEL_WARN);
	assert_int_equal(log_level_parse("WARN", &l), 0);
	assert_int_equal(l, LOG_LEVEL_WARN);
	assert_int_equal(log_level_parse("warn", &l), 0);
	assert_int_equal(l, LOG_LEVEL_WARN);
	assert_int_equal(log_level_parse("Notice", &l), 0);
	assert_int_equal(l, LOG_LEVEL_NOTICE);
	assert_int_equal(log_level_parse("iNfO", &l), 0);
	assert_int_equal(l, LOG_LEVEL_INFO);
	assert_int_equal(log_level_parse("debug", &l), 0);
	assert_int_equal(l, LOG_LEVEL_DEBUG);
	/* Every name round-trips. */
	for (int i = LOG_LEVEL_ERROR; i <= LOG_LEVEL_DEBUG; i++) {
		assert_int_equal(log_level_parse(log_level_name((enum log_level)i), &l), 0);
		assert_int_equal(l, i);
	}

	l = LOG_LEVEL_INFO;
	assert_int_equal(log_level_parse("", &l), -EINVAL);
	assert_int_equal(log_level_parse("ERR", &l), -EINVAL);
	assert_int_equal(log_level_parse("DEBUGX", &l), -EINVAL);
	assert_int_equal(log_level_parse(" DEBUG", &l), -EINVAL);
	assert_int_equal(log_level_parse("DISABLED", &l), -EINVAL);
	assert_int_equal(log_level_parse("3", &l), -EINVAL);
	assert_int_equal(log_level_parse(NULL, &l), -EINVAL);
	assert_int_equal(l, LOG_LEVEL_INFO);
}

static void
test_flags(void **state)
{
	assert_false(log_get_flag("ut_alpha"));
	assert_int_equal(log_set_flag("ut_alpha"), 0);
	assert_true(log_get_flag("ut_alpha"));
	assert_false(log_get_flag("ut_mid"));
	assert_false(log_get_flag("ut_zeta"));
	assert_true(LOG_FLAG_ut_alpha.enabled);
	assert_int_equal(log_clear_flag("ut_alpha"), 0);
	assert_false(log_get_flag("ut_alpha"));
	assert_false(LOG_FLAG_ut_alpha.enabled);

	/* "all" switches every flag. */
	assert_int_equal(log_set_flag("all"), 0);
	for (struct log_flag *f = log_get_first_flag(); f; f = log_get_next_flag(f))
		assert_true(f->enabled);
	assert_true(log_get_flag("ut_mid"));
	assert_int_equal(log_clear_flag("all"), 0);
	for (struct log_flag *f = log_get_first_flag(); f; f = log_get_next_flag(f))
		assert_false(f->enabled);

	/* Unknown names. */
	assert_int_equal(log_set_flag("ut_nope"), -EINVAL);
	assert_int_equal(log_clear_flag("ut_nope"), -EINVAL);
	assert_int_equal(log_set_flag("UT_ALPHA"), -EINVAL);
	assert_int_equal(log_set_flag(""), -EINVAL);
	assert_int_equal(log_set_flag(NULL), -EINVAL);
	assert_int_equal(log_clear_flag(NULL), -EINVAL);
	assert_false(log_get_flag("ut_nope"));
	assert_false(log_get_flag(NULL));
	assert_false(log_get_flag("ut_alpha"));
}

static void
test_flag_iteration_sorted(void **state)
{
	struct log_flag *f, *prev = NULL;
	int seen = 0, mine = 0;
	const char *order[3];

	for (f = log_get_first_flag(); f; f = log_get_next_flag(f)) {
		if (prev)
			assert_true(strcmp(prev->name, f->name) < 0);
		if (strncmp(f->name, "ut_", 3) == 0 && mine < 3)
			order[mine++] = f->name;
		prev = f;
		seen++;
	}
	assert_true(seen >= 3);
	assert_int_equal(mine, 3);
	assert_string_equal(order[0], "ut_alpha");
	assert_string_equal(order[1], "ut_mid");
	assert_string_equal(order[2], "ut_zeta");
	/* The first flag is the smallest name. */
	assert_true(strcmp(log_get_first_flag()->name, "ut_alpha") <= 0);
}

static void
test_register_twice(void **state)
{
	static struct log_flag dup = { .name = "ut_mid", .enabled = false };
	int seen = 0;

	/* A second flag with the same name is ignored. */
	log_register_flag(&dup);
	for (struct log_flag *f = log_get_first_flag(); f; f = log_get_next_flag(f)) {
		assert_ptr_not_equal(f, &dup);
		if (strcmp(f->name, "ut_mid") == 0)
			seen++;
	}
	assert_int_equal(seen, 1);
	assert_int_equal(log_set_flag("ut_mid"), 0);
	assert_true(LOG_FLAG_ut_mid.enabled);
}

static void
test_sink_error(void **state)
{
	LOG_ERR("disk %d failed: %s", 3, "EIO");
	assert_int_equal(g_cap.count, 1);
	assert_int_equal(g_cap.level[0], LOG_LEVEL_ERROR);
	assert_string_equal(g_cap.line[0], "disk 3 failed: EIO");

	/* Trailing newlines are stripped. */
	LOG_WARN("warned\n\n");
	assert_int_equal(g_cap.count, 2);
	assert_int_equal(g_cap.level[1], LOG_LEVEL_WARN);
	assert_string_equal(g_cap.line[1], "warned");

	LOG_NOTICE("noticed");
	assert_int_equal(g_cap.count, 3);
	assert_int_equal(g_cap.level[2], LOG_LEVEL_NOTICE);
	/* INFO passes the print level (INFO) though not the log level (NOTICE). */
	LOG_INFO("info");
	assert_int_equal(g_cap.count, 4);
	assert_int_equal(g_cap.level[3], LOG_LEVEL_INFO);
}

static void
test_sink_long_line(void **state)
{
	char big[2000];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	LOG_ERR("%s", big);
	assert_int_equal(g_cap.count, 1);
	/* Truncated, not overflowed. */
	assert_true(strlen(g_cap.line[0]) > 0);
	assert_true(strlen(g_cap.line[0]) < sizeof(big) - 1);
	assert_int_equal(g_cap.line[0][0], 'a');
}

static void
test_debug_flag(void **state)
{
	/* Flag off: nothing, even at level DEBUG. */
	log_set_level(LOG_LEVEL_DEBUG);
	LOG_DEBUG(ut_alpha, "hidden %d", 1);
	assert_int_equal(g_cap.count, 0);

	/* Flag on and level DEBUG: arrives. */
	assert_int_equal(log_set_flag("ut_alpha"), 0);
	LOG_DEBUG(ut_alpha, "shown %d", 2);
	assert_int_equal(g_cap.count, 1);
	assert_int_equal(g_cap.level[0], LOG_LEVEL_DEBUG);
	assert_string_equal(g_cap.line[0], "shown 2");

	/* Another component's flag is independent. */
	LOG_DEBUG(ut_zeta, "zeta");
	assert_int_equal(g_cap.count, 1);

	/* Flag on but both levels below DEBUG: dropped. */
	log_set_level(LOG_LEVEL_NOTICE);
	log_set_print_level(LOG_LEVEL_INFO);
	LOG_DEBUG(ut_alpha, "dropped");
	assert_int_equal(g_cap.count, 1);

	/* The print level alone at DEBUG is enough. */
	log_set_print_level(LOG_LEVEL_DEBUG);
	LOG_DEBUG(ut_alpha, "printed");
	assert_int_equal(g_cap.count, 2);
	assert_string_equal(g_cap.line[1], "printed");

	/* "all" enables every component's debug lines. */
	assert_int_equal(log_set_flag("all"), 0);
	LOG_DEBUG(ut_zeta, "zeta on");
	assert_int_equal(g_cap.count, 3);
	assert_string_equal(g_cap.line[2], "zeta on");
	assert_int_equal(log_clear_flag("ut_zeta"), 0);
	LOG_DEBUG(ut_zeta, "zeta off");
	assert_int_equal(g_cap.count, 3);
}

static void
test_below_both_levels(void **state)
{
	log_set_level(LOG_LEVEL_ERROR);
	log_set_print_level(LOG_LEVEL_ERROR);
	LOG_WARN("w");
	LOG_NOTICE("n");
	LOG_INFO("i");
	assert_int_equal(g_cap.count, 0);
	LOG_ERR("e");
	assert_int_equal(g_cap.count, 1);

	/* Either threshold lets a line through. */
	log_set_level(LOG_LEVEL_WARN);
	LOG_WARN("w2");
	LOG_NOTICE("n2");
	assert_int_equal(g_cap.count, 2);
	assert_string_equal(g_cap.line[1], "w2");
	log_set_level(LOG_LEVEL_ERROR);
	log_set_print_level(LOG_LEVEL_NOTICE);
	LOG_NOTICE("n3");
	LOG_INFO("i3");
	assert_int_equal(g_cap.count, 3);
	assert_string_equal(g_cap.line[2], "n3");

	/* Both disabled: nothing at all. */
	log_set_level(LOG_LEVEL_DISABLED);
	log_set_print_level(LOG_LEVEL_DISABLED);
	LOG_ERR("gone");
	assert_int_equal(g_cap.count, 3);
}

static void
test_bad_level_write(void **state)
{
	/* Levels outside ERROR..DEBUG are not lines; they must not crash. */
	log_set_level(LOG_LEVEL_DEBUG);
	log_write(LOG_LEVEL_DISABLED, __FILE__, __LINE__, __func__, "x");
	log_write((enum log_level)7, __FILE__, __LINE__, __func__, "y");
	assert_int_equal(g_cap.count, 0);
	/* Same on the default (stderr) path. */
	log_set_sink(NULL);
	log_write(LOG_LEVEL_DISABLED, __FILE__, __LINE__, __func__, "x");
	log_write((enum log_level)7, __FILE__, __LINE__, __func__, "y");
	log_set_sink(capture_sink);
}

static void
test_default_sink_stderr(void **state)
{
	/* The stderr path formats without crashing (output not captured). */
	log_set_sink(NULL);
	log_set_level(LOG_LEVEL_DEBUG);
	assert_int_equal(log_set_flag("ut_mid"), 0);
	LOG_NOTICE("log_ut: a line on stderr (expected)");
	LOG_DEBUG(ut_mid, "log_ut: a debug line on stderr (expected)");
	log_set_sink(capture_sink);
	assert_int_equal(g_cap.count, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_levels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_level_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_level_parse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flag_iteration_sorted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_register_twice, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sink_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sink_long_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_debug_flag, setup, teardown),
		cmocka_unit_test_setup_teardown(test_below_both_levels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_level_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_default_sink_stderr, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
