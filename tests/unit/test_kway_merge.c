/*
 * test_kway_merge.c - the k-way merge of sorted runs (kway_merge.h), on
 * runs built here: no runs, empty runs, one run, many, runs longer than
 * their buffers, reads that give fewer records than asked, and ties: the
 * merge gives what a stable sort of the runs put end to end gives (equal
 * records by run, then as in their run).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "kway_merge.h"

#include <stdlib.h>
#include <string.h>

/* A record: a key it is merged by, and where it was (run, place in it),
 * which the merge does not look at. */
typedef struct record {
    uint32_t key;
    uint32_t run, at;
} record;

typedef struct runs {
    record **v;
    size_t *n;
    size_t nruns;
    size_t most_read; /* records a read gives at most (0: what it is asked) */
    size_t reads;
} runs;

static uint64_t next_random(uint64_t *state)
{
    *state = *state * 6364136223846793005u + 1442695040888963407u;
    return *state >> 33;
}

static size_t run_length(const void *ctx, size_t r) { return ((const runs *)ctx)->n[r]; }

static size_t read_run(const void *ctx, size_t r, size_t from, void *out, size_t n)
{
    runs *s = (runs *)ctx; /* counts its reads */
    assert_true(r < s->nruns);
    assert_true(from < s->n[r]);
    assert_true(n >= 1 && from + n <= s->n[r]);
    if (s->most_read && n > s->most_read)
        n = s->most_read;
    memcpy(out, s->v[r] + from, n * sizeof(record));
    s->reads++;
    return n;
}

static int compare_keys(const void *a, const void *b)
{
    uint32_t x = ((const record *)a)->key, y = ((const record *)b)->key;
    return (x > y) - (x < y);
}

/* The order of a stable sort of the runs end to end: by key, then run,
 * then place. */
static int compare_stable(const void *a, const void *b)
{
    const record *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    if (x->run != y->run)
        return x->run < y->run ? -1 : 1;
    return (x->at > y->at) - (x->at < y->at);
}

/* nruns runs of lengths[r] records, keys below key_range, each run sorted. */
static runs make_runs(const size_t *lengths, size_t nruns, uint32_t key_range, uint64_t seed)
{
    runs s = {calloc(nruns ? nruns : 1, sizeof(record *)),
              calloc(nruns ? nruns : 1, sizeof(size_t)), nruns, 0, 0};
    for (size_t r = 0; r < nruns; r++) {
        s.n[r] = lengths[r];
        s.v[r] = calloc(lengths[r] ? lengths[r] : 1, sizeof(record));
        for (size_t i = 0; i < lengths[r]; i++)
            s.v[r][i].key = (uint32_t)(next_random(&seed) % key_range);
        qsort(s.v[r], lengths[r], sizeof(record), compare_keys);
        for (size_t i = 0; i < lengths[r]; i++) {
            s.v[r][i].run = (uint32_t)r;
            s.v[r][i].at = (uint32_t)i;
        }
    }
    return s;
}

static void free_runs(runs *s)
{
    for (size_t r = 0; r < s->nruns; r++)
        free(s->v[r]);
    free(s->v);
    free(s->n);
}

/* Merges s with buffers of per_run records and checks the records come
 * out as the stable sort has them, peek showing each before it is taken,
 * and that each record was read once. */
static void merge_and_check(runs *s, size_t per_run)
{
    size_t total = 0;
    for (size_t r = 0; r < s->nruns; r++)
        total += s->n[r];
    record *want = calloc(total ? total : 1, sizeof(record));
    for (size_t r = 0, at = 0; r < s->nruns; r++) {
        memcpy(want + at, s->v[r], s->n[r] * sizeof(record));
        at += s->n[r];
    }
    qsort(want, total, sizeof(record), compare_stable);

    dd_kway_source src = {s, sizeof(record), s->nruns, run_length, read_run, compare_keys};
    s->reads = 0;
    dd_kway_merge *m = dd_kway_merge_new(&src, per_run);
    assert_true(dd_kway_merge_bytes(m) == dd_kway_merge_bytes_for(&src, per_run));
    size_t got = 0;
    for (record x;; got++) {
        const record *top = dd_kway_merge_peek(m);
        if (!dd_kway_merge_next(m, &x)) {
            assert_null(top);
            break;
        }
        assert_non_null(top);
        assert_true(got < total);
        assert_true(x.key == want[got].key && x.run == want[got].run && x.at == want[got].at);
    }
    assert_true(got == total);
    assert_false(dd_kway_merge_next(m, NULL)); /* still done */
    /* Each run read in reads of a buffer at most, nothing twice. */
    size_t least_reads = 0;
    for (size_t r = 0; r < s->nruns; r++)
        least_reads += (s->n[r] + per_run - 1) / per_run;
    assert_true(s->reads >= least_reads);
    dd_kway_merge_free(m);
    free(want);
}

static void no_runs(void **state)
{
    (void)state;
    runs s = make_runs(NULL, 0, 10, 1);
    merge_and_check(&s, 4);
    free_runs(&s);
}

static void empty_runs(void **state)
{
    (void)state;
    size_t lengths[] = {0, 0, 0};
    runs s = make_runs(lengths, 3, 10, 2);
    merge_and_check(&s, 4);
    free_runs(&s);
    size_t some[] = {0, 5, 0, 3, 0};
    s = make_runs(some, 5, 10, 3);
    merge_and_check(&s, 2);
    free_runs(&s);
}

static void one_run(void **state)
{
    (void)state;
    size_t lengths[] = {100};
    runs s = make_runs(lengths, 1, 1000, 4);
    merge_and_check(&s, 1000); /* a buffer of the whole run */
    merge_and_check(&s, 7);    /* read 7 at a time */
    merge_and_check(&s, 1);
    free_runs(&s);
}

static void many_runs_longer_than_buffers(void **state)
{
    (void)state;
    uint64_t seed = 5;
    size_t lengths[61];
    for (size_t r = 0; r < 61; r++)
        lengths[r] = next_random(&seed) % 300;
    runs s = make_runs(lengths, 61, 1u << 20, 6);
    merge_and_check(&s, 16);
    merge_and_check(&s, 3);
    merge_and_check(&s, 500);
    s.most_read = 5; /* reads that give fewer than asked */
    merge_and_check(&s, 16);
    free_runs(&s);
}

/* Keys of few values: most records tie, across runs and in them. */
static void ties_come_out_as_a_stable_sort(void **state)
{
    (void)state;
    size_t lengths[] = {40, 1, 33, 0, 57, 40, 8};
    runs s = make_runs(lengths, 7, 3, 7);
    merge_and_check(&s, 4);
    merge_and_check(&s, 64);
    free_runs(&s);
    size_t same[] = {10, 10, 10, 10};
    s = make_runs(same, 4, 1, 8); /* every key 0: run 0's, then 1's... */
    merge_and_check(&s, 3);
    free_runs(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(no_runs),
        cmocka_unit_test(empty_runs),
        cmocka_unit_test(one_run),
        cmocka_unit_test(many_runs_longer_than_buffers),
        cmocka_unit_test(ties_come_out_as_a_stable_sort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
