/*
 * Unit tests for lib/util/hash.c: insert, lookup with colliding and equal
 * hashes, removal, growth keeping every entry findable, and the string and
 * pointer hash functions.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lvstor/hash.h"

struct item {
	struct hash_entry he;
	char key[32];
};

static struct item *
find(struct hash_table *ht, const char *key)
{
	struct hash_entry *e;

	for (e = hash_table_first(ht, hash_str(key)); e != NULL; e = hash_table_next(e)) {
		struct item *it = (struct item *)e;

		if (strcmp(it->key, key) == 0)
			return it;
	}
	return NULL;
}

static void
test_empty(void **state)
{
	struct hash_table ht = HASH_TABLE_INITIALIZER;

	assert_null(hash_table_first(&ht, 0));
	assert_null(hash_table_any(&ht));
	assert_null(find(&ht, "x"));
	assert_int_equal(hash_table_count(&ht), 0);
	hash_table_fini(&ht);
}

static void
test_insert_find_remove_grow(void **state)
{
	enum { N = 5000 };
	static struct item items[N];
	struct hash_table ht;

	hash_table_init(&ht);
	for (int i = 0; i < N; i++) {
		snprintf(items[i].key, sizeof(items[i].key), "lvs/lvol%d", i);
		assert_int_equal(hash_table_insert(&ht, &items[i].he, hash_str(items[i].key)), 0);
	}
	assert_int_equal(hash_table_count(&ht), N);
	assert_true(ht.nbuckets >= N);	/* grew past the initial size */
	for (int i = 0; i < N; i++)
		assert_ptr_equal(find(&ht, items[i].key), &items[i]);
	assert_null(find(&ht, "lvs/lvol5000"));

	/* Remove the even ones; the odd ones stay findable. */
	for (int i = 0; i < N; i += 2)
		hash_table_remove(&ht, &items[i].he);
	assert_int_equal(hash_table_count(&ht), N / 2);
	assert_non_null(hash_table_any(&ht));
	for (int i = 0; i < N; i++) {
		if (i % 2 == 0)
			assert_null(find(&ht, items[i].key));
		else
			assert_ptr_equal(find(&ht, items[i].key), &items[i]);
	}
	hash_table_fini(&ht);
}

/* Entries with the same hash (or the same bucket) are told apart by the user's key. */
static void
test_equal_hashes(void **state)
{
	struct item a = { .key = "a" }, b = { .key = "b" }, c = { .key = "c" };
	struct hash_table ht;
	struct hash_entry *e;
	int n = 0;

	hash_table_init(&ht);
	assert_int_equal(hash_table_insert(&ht, &a.he, 7), 0);
	assert_int_equal(hash_table_insert(&ht, &b.he, 7), 0);
	/* Same bucket (7 + 64), different hash: never returned for hash 7. */
	assert_int_equal(hash_table_insert(&ht, &c.he, 7 + 64), 0);
	for (e = hash_table_first(&ht, 7); e != NULL; e = hash_table_next(e)) {
		assert_true(e == &a.he || e == &b.he);
		n++;
	}
	assert_int_equal(n, 2);
	assert_ptr_equal(hash_table_first(&ht, 7 + 64), &c.he);
	assert_null(hash_table_next(&c.he));
	hash_table_remove(&ht, &a.he);
	assert_ptr_equal(hash_table_first(&ht, 7), &b.he);
	assert_null(hash_table_next(&b.he));
	/* Draining with hash_table_any() empties the table. */
	while ((e = hash_table_any(&ht)) != NULL)
		hash_table_remove(&ht, e);
	assert_int_equal(hash_table_count(&ht), 0);
	hash_table_fini(&ht);
}

static void
test_hash_functions(void **state)
{
	int x[2];

	/* FNV-1a reference values. */
	assert_true(hash_str("") == 0xcbf29ce484222325ULL);
	assert_true(hash_str("a") == 0xaf63dc4c8601ec8cULL);
	assert_true(hash_str("ab") != hash_str("ba"));
	assert_true(hash_ptr(&x[0]) != hash_ptr(&x[1]));
	assert_true(hash_ptr(&x[0]) == hash_ptr(&x[0]));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_insert_find_remove_grow),
		cmocka_unit_test(test_equal_hashes),
		cmocka_unit_test(test_hash_functions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
