/*
 * lib/util/bit_array.c: resizable bit arrays, searched a word at a time.
 *
 * Invariant: bits at or beyond `num_bits` in the last word are always
 * clear, so whole-word scans and counts never see stale bits after a
 * shrink.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lvstor/util.h"

struct bit_array {
	uint32_t num_bits;
	uint64_t words[];
};

#define WORDS(bits) (((size_t)(bits) + 63) / 64)

struct bit_array *
bit_array_create(uint32_t num_bits)
{
	struct bit_array *ba = calloc(1, sizeof(*ba) + WORDS(num_bits) * 8);

	if (ba)
		ba->num_bits = num_bits;
	return ba;
}

void
bit_array_free(struct bit_array **ba)
{
	free(*ba);
	*ba = NULL;
}

int
bit_array_resize(struct bit_array **pba, uint32_t num_bits)
{
	struct bit_array *ba = *pba;
	size_t old_words = WORDS(ba->num_bits), new_words = WORDS(num_bits);
	struct bit_array *n = realloc(ba, sizeof(*ba) + new_words * 8);

	if (n == NULL)
		return -ENOMEM;
	if (new_words > old_words)
		memset(&n->words[old_words], 0, (new_words - old_words) * 8);
	if (num_bits < n->num_bits && (num_bits % 64) != 0)
		n->words[num_bits / 64] &= (1ull << (num_bits % 64)) - 1;
	n->num_bits = num_bits;
	*pba = n;
	return 0;
}

uint32_t
bit_array_capacity(const struct bit_array *ba)
{
	return ba->num_bits;
}

bool
bit_array_get(const struct bit_array *ba, uint32_t bit)
{
	if (bit >= ba->num_bits)
		return false;
	return (ba->words[bit / 64] >> (bit % 64)) & 1;
}

int
bit_array_set(struct bit_array *ba, uint32_t bit)
{
	if (bit >= ba->num_bits)
		return -EINVAL;
	ba->words[bit / 64] |= 1ull << (bit % 64);
	return 0;
}

void
bit_array_clear(struct bit_array *ba, uint32_t bit)
{
	if (bit < ba->num_bits)
		ba->words[bit / 64] &= ~(1ull << (bit % 64));
}

/* First bit at or after start whose value (after xor with `invert`) is 1. */
static uint32_t
find_first(const struct bit_array *ba, uint32_t start, uint64_t invert)
{
	size_t w, nwords = WORDS(ba->num_bits);
	uint64_t word;
	uint32_t bit;

	if (start >= ba->num_bits)
		return UINT32_MAX;
	w = start / 64;
	word = (ba->words[w] ^ invert) & (~0ull << (start % 64));
	for (;;) {
		if (word) {
			bit = (uint32_t)(w * 64 + (size_t)__builtin_ctzll(word));
			return bit < ba->num_bits ? bit : UINT32_MAX;
		}
		if (++w >= nwords)
			return UINT32_MAX;
		word = ba->words[w] ^ invert;
	}
}

uint32_t
bit_array_find_first_set(const struct bit_array *ba, uint32_t start)
{
	return find_first(ba, start, 0);
}

uint32_t
bit_array_find_first_clear(const struct bit_array *ba, uint32_t start)
{
	return find_first(ba, start, ~0ull);
}

uint32_t
bit_array_count_set(const struct bit_array *ba)
{
	uint32_t n = 0;

	for (size_t w = 0; w < WORDS(ba->num_bits); w++)
		n += (uint32_t)__builtin_popcountll(ba->words[w]);
	return n;
}

uint32_t
bit_array_count_clear(const struct bit_array *ba)
{
	return ba->num_bits - bit_array_count_set(ba);
}

void
bit_array_clear_all(struct bit_array *ba)
{
	memset(ba->words, 0, WORDS(ba->num_bits) * 8);
}
