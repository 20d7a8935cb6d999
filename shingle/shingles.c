/*
 * shingles.c - word k-gram hashes and exact keys (XXH3).
 */
#include "shingle.h"

#define XXH_INLINE_ALL /* Debian's shared libxxhash has no AVX2 dispatch */
#include <xxhash.h>

sh_key sh_key_of(const char *s, size_t len, uint64_t seed)
{
    XXH128_hash_t h = XXH3_128bits_withSeed(s, len, seed);
    sh_key k = {h.low64, h.high64};
    return k;
}

size_t sh_shingle_count(size_t count, unsigned k)
{
    if (count == 0 || k == 0)
        return 0;
    return count < k ? 1 : count - k + 1;
}

size_t sh_shingles(const sh_tokens *t, size_t first, size_t count, unsigned k, uint64_t seed,
                   uint64_t *out)
{
    if (k == 0 || first > t->n || count > t->n - first)
        return 0;
    size_t n = sh_shingle_count(count, k);
    size_t span = count < k ? count : k;
    const char *text = t->text.data;
    for (size_t i = 0; i < n; i++) {
        const sh_token *a = &t->v[first + i];
        const sh_token *b = &t->v[first + i + span - 1];
        out[i] = XXH3_64bits_withSeed(text + a->off, (size_t)(b->off + b->len - a->off), seed);
    }
    return n;
}
