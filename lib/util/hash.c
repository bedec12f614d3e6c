/*
 * lib/util/hash.c: the intrusive chained hash table of lvstor/hash.h.
 *
 * Used where a registry is looked up by key often enough that a list walk
 * shows up in profiles (bdev names, io_devices): with tens of thousands of
 * entries a linear lookup per registration makes start-up quadratic.
 *
 * Invariants:
 *  - nbuckets is 0 (nothing allocated) or a power of two; an entry with
 *    hash h is in bucket h & (nbuckets - 1), and keeps h in e->hash so
 *    growing never calls back into the user.
 *  - The table doubles when count exceeds nbuckets (load factor <= 1 as
 *    long as memory allows). If growing fails the old array stays: lookups
 *    stay correct, only slower. It never shrinks (a registry's peak size
 *    is a good guess for its future size).
 *  - hash_table_next(e) only returns entries of e's hash, so a lookup
 *    compares keys only on real hash matches.
 */
#include <errno.h>
#include <stdlib.h>

#include "lvstor/hash.h"

#define HASH_INITIAL_BUCKETS 64

uint64_t
hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

uint64_t
hash_ptr(const void *p)
{
	/* splitmix64's finaliser: pointers share low zero bits and high bits. */
	uint64_t x = (uint64_t)(uintptr_t)p;

	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

void
hash_table_init(struct hash_table *ht)
{
	ht->buckets = NULL;
	ht->nbuckets = 0;
	ht->count = 0;
}

void
hash_table_fini(struct hash_table *ht)
{
	free(ht->buckets);
	hash_table_init(ht);
}

static void
grow(struct hash_table *ht)
{
	size_t n = ht->nbuckets * 2;
	struct hash_entry **b = calloc(n, sizeof(*b));

	if (b == NULL)
		return;
	for (size_t i = 0; i < ht->nbuckets; i++) {
		struct hash_entry *e = ht->buckets[i], *next;

		for (; e != NULL; e = next) {
			next = e->next;
			e->next = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	}
	free(ht->buckets);
	ht->buckets = b;
	ht->nbuckets = n;
}

int
hash_table_insert(struct hash_table *ht, struct hash_entry *e, uint64_t hash)
{
	struct hash_entry **head;

	if (ht->buckets == NULL) {
		ht->buckets = calloc(HASH_INITIAL_BUCKETS, sizeof(*ht->buckets));
		if (ht->buckets == NULL)
			return -ENOMEM;
		ht->nbuckets = HASH_INITIAL_BUCKETS;
	} else if (ht->count >= ht->nbuckets) {
		grow(ht);
	}
	e->hash = hash;
	head = &ht->buckets[hash & (ht->nbuckets - 1)];
	e->next = *head;
	*head = e;
	ht->count++;
	return 0;
}

void
hash_table_remove(struct hash_table *ht, struct hash_entry *e)
{
	struct hash_entry **p;

	if (ht->nbuckets == 0)
		return;
	for (p = &ht->buckets[e->hash & (ht->nbuckets - 1)]; *p != NULL; p = &(*p)->next) {
		if (*p == e) {
			*p = e->next;
			e->next = NULL;
			ht->count--;
			return;
		}
	}
}

struct hash_entry *
hash_table_first(const struct hash_table *ht, uint64_t hash)
{
	struct hash_entry *e;

	if (ht->nbuckets == 0)
		return NULL;
	for (e = ht->buckets[hash & (ht->nbuckets - 1)]; e != NULL; e = e->next) {
		if (e->hash == hash)
			return e;
	}
	return NULL;
}

struct hash_entry *
hash_table_next(const struct hash_entry *e)
{
	uint64_t hash = e->hash;

	for (e = e->next; e != NULL; e = e->next) {
		if (e->hash == hash)
			return (struct hash_entry *)e;
	}
	return NULL;
}

size_t
hash_table_count(const struct hash_table *ht)
{
	return ht->count;
}

struct hash_entry *
hash_table_any(const struct hash_table *ht)
{
	for (size_t i = 0; i < ht->nbuckets; i++) {
		if (ht->buckets[i] != NULL)
			return ht->buckets[i];
	}
	return NULL;
}
