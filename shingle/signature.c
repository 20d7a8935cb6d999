/*
 * signature.c - MinHash and SimHash signatures of shingle sets.
 */
#include "shingle.h"

#include <stdlib.h>
#include <string.h>

struct sh_minhasher {
    unsigned k;
    sh_minhash_scheme scheme;
    uint32_t *a;      /* classic: odd multipliers */
    uint32_t *b;      /* classic: offsets */
    uint64_t oph_xor; /* one permutation: x -> (x ^ oph_xor) * oph_mul */
    uint64_t oph_mul; /* odd */
    uint32_t *prio;   /* densification: prio[j * k + i], bin j's priority for bin i */
    uint32_t *prio_t; /* the same transposed: prio_t[i * k + j] */
};

/* splitmix64: expands the seed into the hash parameters. */
static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* The finaliser of MurmurHash3: a bijection of 64-bit values whose output
 * bits each depend on every input bit. */
static inline uint64_t fmix64(uint64_t z)
{
    z = (z ^ (z >> 33)) * 0xFF51AFD7ED558CCDULL;
    z = (z ^ (z >> 33)) * 0xC4CEB9FE1A85EC53ULL;
    return z ^ (z >> 33);
}

/* The bits of a densification priority that hold the bin (k <= 1024). */
#define PRIO_BIN 0x3FFu

sh_minhasher *sh_minhasher_new_scheme(unsigned num_perm, uint64_t seed, sh_minhash_scheme scheme,
                                      sh_status *st)
{
    if (num_perm < 1 || num_perm > SH_MINHASH_MAX_PERM ||
        (scheme != SH_MINHASH_CLASSIC && scheme != SH_MINHASH_OPH)) {
        if (st)
            *st = SH_ERR_INVALID_ARG;
        return NULL;
    }
    sh_minhasher *m = calloc(1, sizeof *m);
    if (m && scheme == SH_MINHASH_CLASSIC) {
        m->a = malloc(num_perm * sizeof *m->a);
        m->b = malloc(num_perm * sizeof *m->b);
    }
    if (m && scheme == SH_MINHASH_OPH) {
        m->prio = malloc((size_t)num_perm * num_perm * sizeof *m->prio);
        m->prio_t = malloc((size_t)num_perm * num_perm * sizeof *m->prio_t);
    }
    if (!m || (scheme == SH_MINHASH_CLASSIC && (!m->a || !m->b)) ||
        (scheme == SH_MINHASH_OPH && (!m->prio || !m->prio_t))) {
        sh_minhasher_free(m);
        if (st)
            *st = SH_ERR_NOMEM;
        return NULL;
    }
    m->k = num_perm;
    m->scheme = scheme;
    uint64_t state = seed ^ 0x6D696E6861736821ULL; /* "minhash!" */
    if (scheme == SH_MINHASH_CLASSIC) {
        for (unsigned i = 0; i < num_perm; i++) {
            uint64_t r = splitmix64(&state);
            m->a[i] = (uint32_t)r | 1;
            m->b[i] = (uint32_t)(r >> 32);
        }
    } else {
        state ^= 0x6F7068ULL; /* "oph": not the classic family's first values */
        m->oph_xor = splitmix64(&state);
        m->oph_mul = splitmix64(&state) | 1;
        uint64_t key = splitmix64(&state);
        /* The top 22 bits random, the low 10 the bin j itself: distinct,
         * so every bin has one strict order of the others. */
        for (unsigned j = 0; j < num_perm; j++)
            for (unsigned i = 0; i < num_perm; i++) {
                uint64_t z = fmix64(key + ((uint64_t)i << 32 | j));
                uint32_t p = ((uint32_t)(z >> 32) & ~PRIO_BIN) | j;
                m->prio[(size_t)j * num_perm + i] = p;
                m->prio_t[(size_t)i * num_perm + j] = p;
            }
    }
    if (st)
        *st = SH_OK;
    return m;
}

sh_minhasher *sh_minhasher_new(unsigned num_perm, uint64_t seed, sh_status *st)
{
    return sh_minhasher_new_scheme(num_perm, seed, SH_MINHASH_DEFAULT, st);
}

void sh_minhasher_free(sh_minhasher *m)
{
    if (!m)
        return;
    free(m->a);
    free(m->b);
    free(m->prio);
    free(m->prio_t);
    free(m);
}

unsigned sh_minhasher_num_perm(const sh_minhasher *m) { return m->k; }

sh_minhash_scheme sh_minhasher_scheme(const sh_minhasher *m) { return m->scheme; }

const char *sh_minhash_scheme_name(sh_minhash_scheme scheme)
{
    switch (scheme) {
    case SH_MINHASH_CLASSIC:
        return "minhash/k1";
    case SH_MINHASH_OPH:
        return "minhash/oph1";
    }
    return "minhash/unknown";
}

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

static void minhash_classic(const sh_minhasher *m, const uint64_t *hashes, size_t n, uint32_t *sig)
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

/* A value in [0, k) from the top 32 bits of z (Lemire's multiply-shift). */
static inline unsigned reduce32(uint64_t z, unsigned k)
{
    return (unsigned)(((z >> 32) * (uint64_t)k) >> 32);
}

/* best[i] = the least of prio[full[f] * k + i] over f < nfull, for i < k:
 * the rows of priorities of the non-empty bins offered to every bin at
 * once, in SIMD lanes. */
MINHASH_BLOCK_ATTRIBUTES static void best_sources(unsigned k, const uint32_t *restrict prio,
                                                  const uint16_t *restrict full, unsigned nfull,
                                                  uint32_t *restrict best)
{
    for (unsigned i = 0; i < k; i++)
        best[i] = UINT32_MAX;
    for (unsigned f = 0; f < nfull; f++) {
        const uint32_t *restrict row = prio + (size_t)full[f] * k;
        for (unsigned i = 0; i < k; i++)
            best[i] = row[i] < best[i] ? row[i] : best[i];
    }
}

/* The least of row[j] | mask[j] over j < k: one empty bin's source among
 * the bins whose mask is 0 (the non-empty ones), in SIMD lanes. */
MINHASH_BLOCK_ATTRIBUTES static uint32_t best_source(unsigned k, const uint32_t *restrict row,
                                                     const uint32_t *restrict mask)
{
    uint32_t best = UINT32_MAX;
    for (unsigned j = 0; j < k; j++) {
        uint32_t p = row[j] | mask[j];
        best = p < best ? p : best;
    }
    return best;
}

/* One permutation hashing (Li, Owen, Zhang 2012) with optimal densification
 * (Shrivastava 2017). Each hash x becomes y = (x ^ c) * d, d odd: one
 * random bijection of the 64-bit values. The top 32 bits of y choose one of
 * the k bins and the low 32 bits, which depend only on the low 32 bits of
 * x ^ c and so are independent of the bin, are the value; a bin keeps its
 * least value. UINT32_MAX marks an empty bin, so a value of UINT32_MAX is
 * written as UINT32_MAX - 1 (a 2^-32 chance per shingle; harmless).
 *
 * An empty bin i then copies the value of the non-empty bin j of highest
 * priority for i (least prio[j * k + i]): every bin has its own random order
 * of the bins, drawn from the seed and the same for every set, as if it
 * probed bins in that order until one is non-empty (the paper draws probes
 * with replacement; without them the argument is the same). For two sets A
 * and B, a bin empty in both looks down the same order in both; the first
 * bin there that is non-empty in A or B decides: when the least element of
 * A u B in it is in A n B (probability J) both copy the same value, else
 * they differ. So every bin matches with probability J, and as the orders of
 * different bins are independent the spread stays close to that of k
 * permutations (tests/unit/test_signature.c measures it). The source of
 * every bin is found either by offering each non-empty bin's row of
 * priorities to all bins at once or, when fewer bins are empty than not, by
 * a masked scan of each empty bin's row: about k / 16 SIMD steps per
 * non-empty or per empty bin, whichever are fewer, which is never more than
 * classic MinHash costs for the same set. Both give the same answer. The
 * two tables of priorities take 8 k^2 bytes (128 KiB at k = 128). */
static void minhash_oph(const sh_minhasher *m, const uint64_t *hashes, size_t n, uint32_t *sig)
{
    const unsigned k = m->k;
    for (unsigned i = 0; i < k; i++)
        sig[i] = UINT32_MAX;
    if (n == 0)
        return;
    const uint64_t c = m->oph_xor, d = m->oph_mul;
    for (size_t j = 0; j < n; j++) {
        uint64_t y = (hashes[j] ^ c) * d;
        unsigned bin = reduce32(y, k);
        uint32_t v = (uint32_t)y;
        v -= v == UINT32_MAX;
        sig[bin] = v < sig[bin] ? v : sig[bin];
    }
    unsigned empty = 0;
    for (unsigned i = 0; i < k; i++)
        empty += sig[i] == UINT32_MAX;
    if (empty == 0)
        return;
    unsigned nfull = k - empty;
    if (empty < nfull) {
        uint32_t mask[SH_MINHASH_MAX_PERM];
        for (unsigned j = 0; j < k; j++)
            mask[j] = sig[j] == UINT32_MAX ? UINT32_MAX : 0;
        for (unsigned i = 0; i < k; i++)
            if (mask[i])
                sig[i] = sig[best_source(k, m->prio_t + (size_t)i * k, mask) & PRIO_BIN];
        return;
    }
    uint16_t full[SH_MINHASH_MAX_PERM]; /* the non-empty bins */
    for (unsigned i = 0, f = 0; i < k; i++) { /* without branches: they would be guesses */
        full[f] = (uint16_t)i;
        f += sig[i] != UINT32_MAX;
    }
    uint32_t best[SH_MINHASH_MAX_PERM];
    best_sources(k, m->prio, full, nfull, best);
    for (unsigned i = 0; i < k; i++) {
        uint32_t copy = sig[best[i] & PRIO_BIN];
        sig[i] = sig[i] == UINT32_MAX ? copy : sig[i];
    }
}

void sh_minhash(const sh_minhasher *m, const uint64_t *hashes, size_t n, uint32_t *sig)
{
    if (m->scheme == SH_MINHASH_OPH)
        minhash_oph(m, hashes, n, sig);
    else
        minhash_classic(m, hashes, n, sig);
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

/* Slots of the set kept on the stack (4 KB): sets of up to 256 hashes. */
#define UNIQUE_ON_STACK 512

size_t sh_hashes_unique(uint64_t *hashes, size_t n)
{
    if (n < 2)
        return n;
    /* An open-addressing set of the hashes seen; they are uniform, so their
     * low bits index it. 0 marks an empty slot, so 0 itself is tracked apart. */
    size_t nslots = 16;
    while (nslots < 2 * n)
        nslots *= 2;
    /* A paragraph's set, or a short document's, fits on the stack: no
     * allocation for each of them. */
    uint64_t on_stack[UNIQUE_ON_STACK];
    uint64_t *set = on_stack;
    /* calloc, whose fresh pages stay unmapped until written: a set sized
     * for 10 million hashes all alike (a 100 MB record of one word) must
     * not cost its 256 MB. */
    if (nslots <= UNIQUE_ON_STACK)
        memset(set, 0, nslots * sizeof *set);
    else if (!(set = calloc(nslots, sizeof *set)))
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
    if (set != on_stack)
        free(set);
    return w;
}
