/*
 * shingles.c - word k-gram hashes and exact keys (XXH3).
 */
#include "shingle.h"

#define XXH_INLINE_ALL /* Debian's shared libxxhash has no AVX2 dispatch */
#include <xxhash.h>

#include <string.h>

sh_hasher sh_hasher_plain(uint64_t seed)
{
    sh_hasher h;
    memset(&h, 0, sizeof h);
    h.seed = seed;
    return h;
}

sh_hasher sh_hasher_keyed(const unsigned char *secret, uint64_t seed)
{
    sh_hasher h = sh_hasher_plain(seed);
    h.keyed = true;
    memcpy(h.secret, secret, sizeof h.secret);
    return h;
}

sh_key sh_key_of(const char *s, size_t len, const sh_hasher *h)
{
    XXH128_hash_t x = h->keyed ? XXH3_128bits_withSecret(s, len, h->secret, sizeof h->secret)
                               : XXH3_128bits_withSeed(s, len, h->seed);
    sh_key k = {x.low64, x.high64};
    return k;
}

size_t sh_shingle_count(size_t count, unsigned k)
{
    if (count == 0 || k == 0)
        return 0;
    return count < k ? 1 : count - k + 1;
}

size_t sh_shingles(const sh_tokens *t, size_t first, size_t count, unsigned k,
                   const sh_hasher *h, uint64_t *out)
{
    if (k == 0 || first > t->n || count > t->n - first)
        return 0;
    size_t n = sh_shingle_count(count, k);
    size_t span = count < k ? count : k;
    const char *text = t->text.data;
    /* Two loops, so that the choice is made once, not per shingle. */
    if (h->keyed) {
        for (size_t i = 0; i < n; i++) {
            const sh_token *a = &t->v[first + i];
            const sh_token *b = &t->v[first + i + span - 1];
            out[i] = XXH3_64bits_withSecret(text + a->off, (size_t)(b->off + b->len - a->off),
                                            h->secret, sizeof h->secret);
        }
        return n;
    }
    for (size_t i = 0; i < n; i++) {
        const sh_token *a = &t->v[first + i];
        const sh_token *b = &t->v[first + i + span - 1];
        out[i] = XXH3_64bits_withSeed(text + a->off, (size_t)(b->off + b->len - a->off), h->seed);
    }
    return n;
}
