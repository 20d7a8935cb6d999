/*
 * signature.c - MinHash and SimHash signatures of shingle sets.
 */
#include "shingle.h"

#include <stdlib.h>
#include <string.h>

struct sh_minhasher {
    unsigned k;
    uint32_t *a; /* odd multipliers */
    uint32_t *b; /* offsets */
};

/* splitmix64: expands the seed into the hash parameters. */
static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

sh_minhasher *sh_minhasher_new(unsigned num_perm, uint64_t seed, sh_status *st)
{
    if (num_perm < 1 || num_perm > SH_MINHASH_MAX_PERM) {
        if (st)
            *st = SH_ERR_INVALID_ARG;
        return NULL;
    }
    sh_minhasher *m = calloc(1, sizeof *m);
    if (m) {
        m->a = malloc(num_perm * sizeof *m->a);
        m->b = malloc(num_perm * sizeof *m->b);
    }
    if (!m || !m->a || !m->b) {
        sh_minhasher_free(m);
        if (st)
            *st = SH_ERR_NOMEM;
        return NULL;
    }
    m->k = num_perm;
    uint64_t state = seed ^ 0x6D696E6861736821ULL; /* "minhash!" */
    for (unsigned i = 0; i < num_perm; i++) {
        uint64_t r = splitmix64(&state);
        m->a[i] = (uint32_t)r | 1;
        m->b[i] = (uint32_t)(r >> 32);
    }
    if (st)
        *st = SH_OK;
    return m;
}

void sh_minhasher_free(sh_minhasher *m)
{
    if (!m)
        return;
    free(m->a);
    free(m->b);
    free(m);
}

unsigned sh_minhasher_num_perm(const sh_minhasher *m) { return m->k; }

/* h_i(x) = (a_i * x + b_i) mod 2^32 on the top 32 bits x of a shingle hash,
 * a_i odd: a random linear permutation of the 32-bit values. On hash values,
 * which are already uniform, its estimates have the bias and spread of ideal
 * MinHash (tests/unit/test_signature.c measures them), at one 32-bit
 * multiply per value. For one function the loop over a block of shingles
 * runs in SIMD lanes (AVX2 and AVX-512 clones where the CPU has them). */
#ifdef __clang__ /* clang vectorises at -O2 and has no optimize attribute */
#define MINHASH_BLOCK_ATTRIBUTES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define MINHASH_BLOCK_ATTRIBUTES                                                                  \
    __attribute__((target_clones("avx512f", "avx2", "default"), optimize("tree-vectorize")))
#endif
MINHASH_BLOCK_ATTRIBUTES static void
minhash_block(unsigned k, const uint32_t *restrict a, const uint32_t *restrict b,
              const uint32_t *restrict x, size_t n, uint32_t *restrict sig)
{
    for (unsigned i = 0; i < k; i++) {
        uint32_t m = sig[i], ai = a[i], bi = b[i];
        for (size_t j = 0; j < n; j++) {
            uint32_t v = ai * x[j] + bi;
            m = v < m ? v : m;
        }
        sig[i] = m;
    }
}

void sh_minhash(const sh_minhasher *m, const uint64_t *hashes, size_t n, uint32_t *sig)
{
    for (unsigned i = 0; i < m->k; i++)
        sig[i] = UINT32_MAX;
    uint32_t x[256];
    for (size_t j = 0; j < n; j += 256) {
        size_t len = n - j < 256 ? n - j : 256;
        for (size_t t = 0; t < len; t++)
            x[t] = (uint32_t)(hashes[j + t] >> 32);
        minhash_block(m->k, m->a, m->b, x, len, sig);
    }
}

double sh_minhash_jaccard(const uint32_t *a, const uint32_t *b, unsigned k)
{
    unsigned same = 0;
    for (unsigned i = 0; i < k; i++)
        same += a[i] == b[i];
    return k ? (double)same / k : 0.0;
}

/* Counts the set bits of every position with byte-wide counters: the eight
 * bits of each byte of a hash are spread into the eight bytes of a uint64_t
 * and added at once; the byte counters are emptied into wide ones before
 * they can overflow. */
static inline uint64_t spread_bits(uint64_t byte)
{
    /* Copy the byte into all eight, keep bit i in byte i, turn it into 0/1. */
    uint64_t v = (byte * 0x0101010101010101ULL) & 0x8040201008040201ULL;
    return ((v + 0x7F7F7F7F7F7F7F7FULL) >> 7) & 0x0101010101010101ULL;
}

uint64_t sh_simhash(const uint64_t *hashes, size_t n)
{
    uint32_t ones[64] = {0};
    size_t j = 0;
    while (j < n) {
        uint64_t narrow[8] = {0}; /* narrow[byte] holds 8 counters of 8 bits */
        size_t stop = n - j > 255 ? j + 255 : n;
        for (; j < stop; j++) {
            uint64_t x = hashes[j];
            for (unsigned byte = 0; byte < 8; byte++)
                narrow[byte] += spread_bits((x >> (8 * byte)) & 0xFF);
        }
        for (unsigned byte = 0; byte < 8; byte++)
            for (unsigned i = 0; i < 8; i++)
                ones[8 * byte + i] += (uint32_t)((narrow[byte] >> (8 * i)) & 0xFF);
    }
    uint64_t fp = 0;
    for (unsigned bit = 0; bit < 64; bit++)
        if (2 * (uint64_t)ones[bit] > n)
            fp |= 1ULL << bit;
    return fp;
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Sorts and drops repeats: the slow path, when no memory can be had. */
static size_t unique_by_sorting(uint64_t *hashes, size_t n)
{
    qsort(hashes, n, sizeof *hashes, compare_u64);
    size_t w = 1;
    for (size_t i = 1; i < n; i++)
        if (hashes[i] != hashes[w - 1])
            hashes[w++] = hashes[i];
    return w;
}

size_t sh_hashes_unique(uint64_t *hashes, size_t n)
{
    if (n < 2)
        return n;
    /* An open-addressing set of the hashes seen; they are uniform, so their
     * low bits index it. 0 marks an empty slot, so 0 itself is tracked apart. */
    size_t nslots = 16;
    while (nslots < 2 * n)
        nslots *= 2;
    uint64_t *set = calloc(nslots, sizeof *set);
    if (!set)
        return unique_by_sorting(hashes, n);
    size_t mask = nslots - 1, w = 0;
    bool zero_seen = false;
    for (size_t i = 0; i < n; i++) {
        uint64_t x = hashes[i];
        if (x == 0) {
            if (zero_seen)
                continue;
            zero_seen = true;
        } else {
            size_t j = (size_t)(x ^ (x >> 32)) & mask;
            while (set[j] && set[j] != x)
                j = (j + 1) & mask;
            if (set[j])
                continue;
            set[j] = x;
        }
        hashes[w++] = x;
    }
    free(set);
    return w;
}
