/*
 * lib/lvol/index.c: the hash indices that keep lvol lookups O(1).
 *
 * Why: a store with 10,000 lvols must load in well under a second, and
 * loading checks each lvol against the ones before it (name index, blob-id
 * index, global UUID index). With list scans that is 50 million string
 * compares; with these tables it is a few per lvol.
 *
 * The table is intrusive and chained: the node sits inside the indexed
 * object, insertion allocates nothing except when the bucket array
 * doubles. The array doubles when the load reaches one entry per bucket;
 * if that allocation fails the table keeps working with longer chains
 * (correctness never depends on growth). Removal is O(chain).
 *
 * Invariants:
 *  - every node in bucket i has (hash & mask) == i;
 *  - count equals the number of nodes reachable from the buckets;
 *  - mask + 1 is a power of two, or mask == 0 and buckets == NULL before
 *    the first insert.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lvol_internal.h"

/* First bucket array: small stores (the common case) stay small. */
#define LV_HTABLE_INITIAL 16

static void
rehash(struct lv_htable *t, uint64_t nb)
{
	struct lv_hnode **b = calloc(nb, sizeof(*b));

	if (b == NULL)
		return;         /* keep the old array: longer chains, still correct */
	for (uint64_t i = 0; t->buckets != NULL && i <= t->mask; i++) {
		struct lv_hnode *n = t->buckets[i], *next;

		for (; n != NULL; n = next) {
			next = n->next;
			n->next = b[n->hash & (nb - 1)];
			b[n->hash & (nb - 1)] = n;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->mask = nb - 1;
}

int
lv_htable_insert(struct lv_htable *t, struct lv_hnode *node, uint64_t hash)
{
	struct lv_hnode **slot;

	if (t->buckets == NULL) {
		rehash(t, LV_HTABLE_INITIAL);
		if (t->buckets == NULL)
			return -ENOMEM;
	} else if (t->count >= t->mask + 1) {
		rehash(t, (t->mask + 1) * 2);
	}
	node->hash = hash;
	slot = &t->buckets[hash & t->mask];
	node->next = *slot;
	*slot = node;
	t->count++;
	return 0;
}

void
lv_htable_remove(struct lv_htable *t, struct lv_hnode *node)
{
	struct lv_hnode **p;

	if (t->buckets == NULL)
		return;
	for (p = &t->buckets[node->hash & t->mask]; *p != NULL; p = &(*p)->next) {
		if (*p == node) {
			*p = node->next;
			node->next = NULL;
			t->count--;
			return;
		}
	}
}

struct lv_hnode *
lv_htable_first(const struct lv_htable *t, uint64_t hash)
{
	struct lv_hnode *n;

	if (t->buckets == NULL)
		return NULL;
	for (n = t->buckets[hash & t->mask]; n != NULL && n->hash != hash; n = n->next)
		;
	return n;
}

struct lv_hnode *
lv_htable_next(const struct lv_hnode *node, uint64_t hash)
{
	struct lv_hnode *n;

	for (n = node->next; n != NULL && n->hash != hash; n = n->next)
		;
	return n;
}

void
lv_htable_fini(struct lv_htable *t)
{
	free(t->buckets);
	memset(t, 0, sizeof(*t));
}

/* FNV-1a, finished with a 64-bit mix so the low bits (the bucket) spread. */
uint64_t
lv_hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *s != '\0'; s++) {
		h ^= (uint8_t)*s;
		h *= 0x100000001b3ull;
	}
	return lv_hash_u64(h);
}

/* splitmix64's finaliser: blob ids differ only in their low bits. */
uint64_t
lv_hash_u64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

uint64_t
lv_hash_uuid(const struct lv_uuid *u)
{
	uint64_t a, b;

	memcpy(&a, u->u, 8);
	memcpy(&b, u->u + 8, 8);
	return lv_hash_u64(a ^ lv_hash_u64(b));
}
