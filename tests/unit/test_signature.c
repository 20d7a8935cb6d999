/*
 * test_signature.c - MinHash and SimHash: estimates within what theory allows.
 *
 * Pairs of random sets with a known Jaccard index J are signed with K
 * values, by both MinHash schemes; over many pairs the estimate must be
 * unbiased (mean within four of its standard errors of the truth) and its
 * spread must match the binomial standard error sqrt(J(1-J)/K) of K
 * independent permutations: sample standard deviation within 0.75 to 1.15
 * times it. One permutation hashing on a set of n < K hashes leaves bins
 * empty and densification copies values into them, so only about n values
 * are independent; there (n < K / 2) the spread may reach 1.4 times the
 * binomial one (measured: 1.2 to 1.33 at n = 4 to 20, K = 128). A family
 * whose permutations are correlated, or a densification that copies from the
 * same bin or from bins chosen differently for the two sets, fails. The
 * random sets come from fixed seeds, so the test is deterministic.
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

typedef struct estimate_stats {
    double j, mean, sd, sigma;
} estimate_stats;

/* TRIALS pairs of n-element sets sharing m elements, signed by a family of k
 * values of scheme; the bias and spread of the estimates are checked. */
static estimate_stats check_estimates(sh_minhash_scheme scheme, unsigned k, size_t n, size_t m)
{
    enum { TRIALS = 1000 };
    estimate_stats r = {0};
    r.j = (double)m / (double)(2 * n - m);
    r.sigma = sqrt(r.j * (1 - r.j) / k);
    sh_minhasher *mh = sh_minhasher_new_scheme(k, 12345, scheme, NULL);
    assert_non_null(mh);
    uint64_t *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), rng = 42 + n + m + k;
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
    r.mean = sum / TRIALS;
    r.sd = sqrt(sum2 / TRIALS - r.mean * r.mean);
    /* The mean's standard error from the spread seen (the larger of it and
     * the binomial one, so that a spread too small cannot hide a bias). */
    double se = (r.sd > r.sigma ? r.sd : r.sigma) / sqrt(TRIALS);
    double high = 2 * n < k ? 1.4 : 1.15;
    print_message("%s K=%u n=%zu J=%.3f: bias %+.4f (limit %.4f), sd %.4f = %.2f x theory %.4f "
                  "(limit %.2f)\n",
                  sh_minhash_scheme_name(scheme), k, n, r.j, r.mean - r.j, 4 * se, r.sd,
                  r.sd / r.sigma, r.sigma, high);
    assert_true(fabs(r.mean - r.j) <= 4 * se);
    assert_true(r.sd >= 0.75 * r.sigma && r.sd <= high * r.sigma);
    free(a);
    free(b);
    free(sa);
    free(sb);
    sh_minhasher_free(mh);
    return r;
}

/* The shared count m for n-element sets to have Jaccard about j. */
static size_t shared_for(size_t n, double j)
{
    size_t m = (size_t)llround(2.0 * (double)n * j / (1 + j));
    return m < 1 ? 1 : m > n - 1 ? n - 1 : m;
}

static void minhash_estimates_match_theory(void **state)
{
    (void)state;
    /* J = 0.2, 0.5, 0.8, 0.9 on small and larger sets, K = 128 and 64 */
    check_estimates(SH_MINHASH_CLASSIC, 128, 60, 20);   /* J = 0.2 */
    check_estimates(SH_MINHASH_CLASSIC, 128, 300, 200); /* J = 0.5 */
    check_estimates(SH_MINHASH_CLASSIC, 128, 500, 444); /* J = 0.8 */
    check_estimates(SH_MINHASH_CLASSIC, 128, 100, 95);  /* J ~ 0.905 */
    check_estimates(SH_MINHASH_CLASSIC, 64, 1000, 889); /* J ~ 0.8 */
}

/* One permutation hashing with densification against the same bounds, on
 * sets far smaller than K (most bins densified), near K, and far larger
 * (no bin empty), at J from 0.1 to 0.95. The largest spread of the small
 * sets is reported beside classic MinHash's on the same pairs. */
static void oph_estimates_match_theory(void **state)
{
    (void)state;
    static const double js[] = {0.1, 0.3, 0.5, 0.8, 0.95};
    static const size_t ns[] = {10, 40, 100, 400, 2000};
    for (size_t a = 0; a < sizeof ns / sizeof *ns; a++) {
        double worst = 0, worst_classic = 0;
        for (size_t b = 0; b < sizeof js / sizeof *js; b++) {
            size_t n = ns[a], m = shared_for(n, js[b]);
            estimate_stats o = check_estimates(SH_MINHASH_OPH, 128, n, m);
            estimate_stats c = check_estimates(SH_MINHASH_CLASSIC, 128, n, m);
            if (o.sd / o.sigma > worst)
                worst = o.sd / o.sigma;
            if (c.sd / c.sigma > worst_classic)
                worst_classic = c.sd / c.sigma;
        }
        print_message("n=%zu: largest sd / theory %.2f (classic %.2f)\n", ns[a], worst,
                      worst_classic);
    }
    /* other sizes: the paragraphs' 21 values, and a few bins */
    check_estimates(SH_MINHASH_OPH, 21, 40, shared_for(40, 0.8));
    check_estimates(SH_MINHASH_OPH, 21, 200, shared_for(200, 0.5));
    check_estimates(SH_MINHASH_OPH, 7, 30, shared_for(30, 0.5));
    check_estimates(SH_MINHASH_OPH, 1024, 3000, shared_for(3000, 0.8));
}

static void check_set_function(sh_minhash_scheme scheme)
{
    sh_minhasher *mh = sh_minhasher_new_scheme(32, 7, scheme, NULL);
    assert_non_null(mh);
    assert_int_equal(sh_minhasher_scheme(mh), scheme);
    assert_int_equal(sh_minhasher_num_perm(mh), 32);
    uint64_t set[] = {5, 9, 1ULL << 40, 77, 3}, twice[] = {77, 3, 3, 5, 9, 1ULL << 40, 5};
    uint32_t s1[32], s2[32], empty[32];
    sh_minhash(mh, set, 5, s1);
    sh_minhash(mh, twice, 7, s2);
    assert_memory_equal(s1, s2, sizeof s1);
    assert_true(sh_minhash_jaccard(s1, s2, 32) == 1.0);
    for (int i = 0; i < 32; i++)
        assert_true(s1[i] != UINT32_MAX); /* densified: no bin left empty */
    sh_minhash(mh, NULL, 0, empty);
    for (int i = 0; i < 32; i++)
        assert_true(empty[i] == UINT32_MAX);
    /* the same seed, the same family */
    sh_minhasher *same = sh_minhasher_new_scheme(32, 7, scheme, NULL);
    sh_minhash(same, twice, 7, s2);
    assert_memory_equal(s1, s2, sizeof s1);
    sh_minhasher_free(same);
    /* another seed, another family */
    sh_minhasher *other = sh_minhasher_new_scheme(32, 8, scheme, NULL);
    sh_minhash(other, set, 5, s2);
    assert_true(memcmp(s1, s2, sizeof s1) != 0);
    sh_minhasher_free(other);
    /* a large set in any order, with repeats */
    enum { N = 3000 };
    static uint64_t big[2 * N], shuffled[2 * N];
    uint64_t rng = 11;
    for (int i = 0; i < N; i++)
        big[i] = shuffled[2 * i] = shuffled[2 * i + 1] = next_random(&rng);
    for (int i = 2 * N - 1; i > 0; i--) {
        int j = (int)(next_random(&rng) % (uint64_t)(i + 1));
        uint64_t t = shuffled[i];
        shuffled[i] = shuffled[j];
        shuffled[j] = t;
    }
    sh_minhash(mh, big, N, s1);
    sh_minhash(mh, shuffled, 2 * N, s2);
    assert_memory_equal(s1, s2, sizeof s1);
    sh_minhasher_free(mh);
}

static void minhash_is_a_set_function(void **state)
{
    (void)state;
    check_set_function(SH_MINHASH_CLASSIC);
    check_set_function(SH_MINHASH_OPH);
    /* the two schemes give different signatures */
    sh_minhasher *c = sh_minhasher_new_scheme(32, 7, SH_MINHASH_CLASSIC, NULL);
    sh_minhasher *o = sh_minhasher_new_scheme(32, 7, SH_MINHASH_OPH, NULL);
    uint64_t set[] = {5, 9, 1ULL << 40, 77, 3};
    uint32_t s1[32], s2[32];
    sh_minhash(c, set, 5, s1);
    sh_minhash(o, set, 5, s2);
    assert_true(memcmp(s1, s2, sizeof s1) != 0);
    sh_minhasher_free(c);
    sh_minhasher_free(o);
    /* the default is one permutation hashing */
    sh_minhasher *d = sh_minhasher_new(32, 7, NULL);
    assert_int_equal(sh_minhasher_scheme(d), SH_MINHASH_OPH);
    sh_minhasher_free(d);
    assert_string_equal(sh_minhash_scheme_name(SH_MINHASH_CLASSIC), "minhash/k1");
    assert_string_equal(sh_minhash_scheme_name(SH_MINHASH_OPH), "minhash/oph1");
    assert_null(sh_minhasher_new(0, 1, NULL));
    sh_status st;
    assert_null(sh_minhasher_new(SH_MINHASH_MAX_PERM + 1, 1, &st));
    assert_int_equal(st, SH_ERR_INVALID_ARG);
    assert_null(sh_minhasher_new_scheme(16, 1, (sh_minhash_scheme)7, &st));
    assert_int_equal(st, SH_ERR_INVALID_ARG);
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
    /* around the size whose set is kept on the stack (256 hashes) */
    for (size_t n = 250; n <= 262; n++) {
        uint64_t v[262];
        for (size_t i = 0; i < n; i++)
            v[i] = i % 2 ? i / 2 + 1 : 1000 + i % 7; /* 7 values repeated */
        size_t want = (n - n / 2) < 7 ? n - n / 2 : 7;
        want += n / 2;
        assert_int_equal(sh_hashes_unique(v, n), want);
        assert_true(v[0] == 1000 && v[1] == 1 && v[2] == 1002 && v[3] == 2);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(minhash_estimates_match_theory),
        cmocka_unit_test(oph_estimates_match_theory),
        cmocka_unit_test(minhash_is_a_set_function),
        cmocka_unit_test(simhash_is_majority_of_bits),
        cmocka_unit_test(simhash_of_near_identical_sets_is_close),
        cmocka_unit_test(hashes_unique_keeps_first_of_each),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
