/*
 * lib/util/hash.c: a small intrusive chained hash table.
 *
 * The table stores no keys and allocates no entries: a user embeds a
 * struct hash_entry in its own object, computes the key's hash itself
 * (hash_str, hash_ptr) and, on lookup, walks the entries of that hash
 * (hash_first / hash_next) comparing its own keys. This keeps one table
 * type for string and pointer keys and lets one object sit in the table
 * under several keys (one entry per key).
 *
 * Not thread-safe: the user serialises every call (a lock or one thread).
 */
#ifndef LVSTOR_HASH_H
#define LVSTOR_HASH_H

#include <stddef.h>
#include <stdint.h>

struct hash_entry {
	struct hash_entry *next;
	uint64_t hash;
};

struct hash_table {
	struct hash_entry **buckets;	/* NULL until the first insert */
	size_t nbuckets;		/* a power of two, or 0 */
	size_t count;
};

#define HASH_TABLE_INITIALIZER { NULL, 0, 0 }

/* FNV-1a of a NUL-terminated string. */
uint64_t hash_str(const char *s);
/* A well-mixed hash of a pointer value. */
uint64_t hash_ptr(const void *p);

void hash_table_init(struct hash_table *ht);
/* Frees the bucket array; entries belong to their users and are left alone. */
void hash_table_fini(struct hash_table *ht);
/*
 * Adds `e` under `hash`. 0, or -ENOMEM when the very first bucket array
 * cannot be allocated (a failed later growth only leaves chains longer).
 * Duplicates are allowed; the user checks first when it wants unique keys.
 */
int hash_table_insert(struct hash_table *ht, struct hash_entry *e, uint64_t hash);
/* Removes `e`, which must be in the table. */
void hash_table_remove(struct hash_table *ht, struct hash_entry *e);
/* The first / next entry with this hash (NULL when none); the user compares keys. */
struct hash_entry *hash_table_first(const struct hash_table *ht, uint64_t hash);
struct hash_entry *hash_table_next(const struct hash_entry *e);
size_t hash_table_count(const struct hash_table *ht);
/* Some entry of the table, NULL when empty (to drain it: O(buckets) a call). */
struct hash_entry *hash_table_any(const struct hash_table *ht);

#endif
