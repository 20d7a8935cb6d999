/*
 * test_signature.c - MinHash and SimHash: estimates within what theory allows.
 *
 * Pairs of random sets with a known Jaccard index are signed with K
 * permutations; over many pairs the estimate must be unbiased (mean within
 * four standard errors of the truth) and its spread must match the binomial
 * standard error sqrt(J(1-J)/K) (sample standard deviation within 20%). A
 * family whose permutations are correlated fails the spread check. The
 * random sets come from a fixed seed, so the test is deterministic.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "shingle.h"

static uint64_t next_random(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Fills a and b (n elements each) sharing m elements: J = m / (2n - m). */
static void make_pair(uint64_t *rng, uint64_t *a, uint64_t *b, size_t n, size_t m)
{
    for (size_t i = 0; i < n; i++) {
        a[i] = next_random(rng);
        b[i] = i < m ? a[i] : next_random(rng);
    }
}

static void check_estimates(unsigned k, size_t n, size_t m)
{
    enum { TRIALS = 400 };
    double j = (double)m / (double)(2 * n - m);
    double sigma = sqrt(j * (1 - j) / k);
    sh_minhasher *mh = sh_minhasher_new(k, 12345, NULL);
    assert_non_null(mh);
    uint64_t *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), rng = 42 + n + m;
    uint32_t *sa = malloc(k * sizeof *sa), *sb = malloc(k * sizeof *sb);
    double sum = 0, sum2 = 0;
    for (int t = 0; t < TRIALS; t++) {
        make_pair(&rng, a, b, n, m);
        sh_minhash(mh, a, n, sa);
        sh_minhash(mh, b, n, sb);
        double e = sh_minhash_jaccard(sa, sb, k);
        sum += e;
        sum2 += e * e;
    }
    double mean = sum / TRIALS, sd = sqrt(sum2 / TRIALS - mean * mean);
    print_message("K=%u n=%zu J=%.3f: mean %.4f (|bias| limit %.4f), sd %.4f (theory %.4f)\n", k,
                  n, j, mean, 4 * sigma / sqrt(TRIALS), sd, sigma);
    assert_true(fabs(mean - j) <= 4 * sigma / sqrt(TRIALS));
    assert_true(sd >= 0.8 * sigma && sd <= 1.2 * sigma);
    free(a);
    free(b);
    free(sa);
    free(sb);
    sh_minhasher_free(mh);
}

static void minhash_estimates_match_theory(void **state)
{
    (void)state;
    /* J = 0.2, 0.5, 0.8, 0.9 on small and larger sets, K = 128 and 64 */
    check_estimates(128, 60, 20);   /* J = 0.2 */
    check_estimates(128, 300, 200); /* J = 0.5 */
    check_estimates(128, 500, 444); /* J = 0.8 */
    check_estimates(128, 100, 95);  /* J ~ 0.905 */
    check_estimates(64, 1000, 889); /* J ~ 0.8 */
}

static void minhash_is_a_set_function(void **state)
{
    (void)state;
    sh_minhasher *mh = sh_minhasher_new(32, 7, NULL);
    uint64_t set[] = {5, 9, 1ULL << 40, 77, 3}, twice[] = {77, 3, 3, 5, 9, 1ULL << 40, 5};
    uint32_t s1[32], s2[32], empty[32];
    sh_minhash(mh, set, 5, s1);
    sh_minhash(mh, twice, 7, s2);
    assert_memory_equal(s1, s2, sizeof s1);
    assert_true(sh_minhash_jaccard(s1, s2, 32) == 1.0);
    sh_minhash(mh, NULL, 0, empty);
    for (int i = 0; i < 32; i++)
        assert_true(empty[i] == UINT32_MAX);
    /* another seed, another family */
    sh_minhasher *other = sh_minhasher_new(32, 8, NULL);
    sh_minhash(other, set, 5, s2);
    assert_true(memcmp(s1, s2, sizeof s1) != 0);
    sh_minhasher_free(other);
    assert_null(sh_minhasher_new(0, 1, NULL));
    sh_status st;
    assert_null(sh_minhasher_new(SH_MINHASH_MAX_PERM + 1, 1, &st));
    assert_int_equal(st, SH_ERR_INVALID_ARG);
    sh_minhasher_free(mh);
}

static void simhash_is_majority_of_bits(void **state)
{
    (void)state;
    uint64_t h[] = {0xF0F0F0F0F0F0F0F0ULL, 0xFF00FF00FF00FF00ULL, 0xF000000000000001ULL};
    /* bit j set when at least 2 of the 3 have it */
    uint64_t want = 0;
    for (int bit = 0; bit < 64; bit++) {
        int ones = 0;
        for (int i = 0; i < 3; i++)
            ones += (h[i] >> bit) & 1;
        if (ones >= 2)
            want |= 1ULL << bit;
    }
    assert_true(sh_simhash(h, 3) == want);
    assert_true(sh_simhash(NULL, 0) == 0);
    /* more than 255 hashes: the byte counters are emptied in time */
    uint64_t many[1000];
    for (int i = 0; i < 1000; i++)
        many[i] = i < 600 ? ~0ULL : 0;
    assert_true(sh_simhash(many, 1000) == ~0ULL);
    for (int i = 0; i < 1000; i++)
        many[i] = i < 400 ? ~0ULL : 0;
    assert_true(sh_simhash(many, 1000) == 0);
    assert_int_equal(sh_hamming(0xFULL, 0x1ULL), 3);
}

static void simhash_of_near_identical_sets_is_close(void **state)
{
    (void)state;
    uint64_t rng = 99, a[400], b[400];
    make_pair(&rng, a, b, 400, 396); /* 1% changed */
    unsigned close = sh_hamming(sh_simhash(a, 400), sh_simhash(b, 400));
    make_pair(&rng, a, b, 400, 0);
    unsigned far = sh_hamming(sh_simhash(a, 400), sh_simhash(b, 400));
    print_message("hamming: near-identical %u, unrelated %u\n", close, far);
    assert_true(close <= 3);
    assert_true(far >= 16);
}

static void hashes_unique_keeps_first_of_each(void **state)
{
    (void)state;
    uint64_t h[] = {9, 3, 0, 9, 1, 3, 0, 3, 7};
    assert_int_equal(sh_hashes_unique(h, 9), 5);
    assert_true(h[0] == 9 && h[1] == 3 && h[2] == 0 && h[3] == 1 && h[4] == 7);
    assert_int_equal(sh_hashes_unique(h, 0), 0);
    /* many values, half of them repeated */
    enum { N = 10000 };
    static uint64_t many[N];
    uint64_t rng = 5;
    for (int i = 0; i < N / 2; i++)
        many[i] = many[N / 2 + i] = next_random(&rng);
    assert_int_equal(sh_hashes_unique(many, N), N / 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(minhash_estimates_match_theory),
        cmocka_unit_test(minhash_is_a_set_function),
        cmocka_unit_test(simhash_is_majority_of_bits),
        cmocka_unit_test(simhash_of_near_identical_sets_is_close),
        cmocka_unit_test(hashes_unique_keeps_first_of_each),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
