/*
 * test_lower_bound.c - the one lower bound (util.h: DD_LOWER_BOUND): the
 * first index at which the condition fails, on no elements, all below
 * the key, all at or past it, runs of equal keys (their first), a
 * condition on a field of a struct, and every key of random arrays
 * against a walk from the start.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util.h"

#include <stdlib.h>

/* The first index of v[0..n) (sorted) whose element is key or more. */
static size_t first_at_or_past(const uint32_t *v, size_t n, uint32_t key)
{
    size_t at;
    DD_LOWER_BOUND(at, n, i, v[i] < key);
    return at;
}

/* What the walk from the start finds. */
static size_t walk(const uint32_t *v, size_t n, uint32_t key)
{
    size_t i = 0;
    while (i < n && v[i] < key)
        i++;
    return i;
}

static void no_elements(void **state)
{
    (void)state;
    assert_true(first_at_or_past(NULL, 0, 0) == 0);
    assert_true(first_at_or_past(NULL, 0, 7) == 0);
}

static void all_below_or_none(void **state)
{
    (void)state;
    const uint32_t v[] = {1, 2, 3, 5, 8, 13, 21};
    assert_true(first_at_or_past(v, 7, 22) == 7); /* all below: n */
    assert_true(first_at_or_past(v, 7, 1000) == 7);
    assert_true(first_at_or_past(v, 7, 1) == 0); /* none below: 0 */
    assert_true(first_at_or_past(v, 7, 0) == 0);
    assert_true(first_at_or_past(v, 1, 2) == 1); /* one element */
    assert_true(first_at_or_past(v, 1, 1) == 0);
    assert_true(first_at_or_past(v, 7, 6) == 4); /* between two */
}

static void duplicates_give_the_first(void **state)
{
    (void)state;
    const uint32_t v[] = {2, 4, 4, 4, 4, 9, 9, 11};
    assert_true(first_at_or_past(v, 8, 4) == 1);
    assert_true(first_at_or_past(v, 8, 9) == 5);
    assert_true(first_at_or_past(v, 8, 5) == 5);
    const uint32_t same[] = {3, 3, 3, 3, 3};
    assert_true(first_at_or_past(same, 5, 3) == 0);
    assert_true(first_at_or_past(same, 5, 4) == 5);
}

/* A condition of a field, and one of "at or before" (the last element at
 * or before a key is the one before the index found). */
typedef struct start {
    uint64_t doc, at;
} start;

static void conditions_of_fields(void **state)
{
    (void)state;
    const start v[] = {{1, 0}, {4, 10}, {4, 11}, {9, 30}};
    size_t at;
    DD_LOWER_BOUND(at, 4, i, v[i].doc < 4);
    assert_true(at == 1);
    DD_LOWER_BOUND(at, 4, i, v[i].at <= 29);
    assert_true(at == 3 && v[at - 1].at == 11);
    DD_LOWER_BOUND(at, 4, i, v[i].at <= 30);
    assert_true(at == 4);
}

static void random_arrays_as_a_walk(void **state)
{
    (void)state;
    uint64_t seed = 11;
    uint32_t v[300];
    for (size_t n = 0; n <= 300; n += 13) {
        uint32_t x = 0;
        for (size_t i = 0; i < n; i++) {
            seed = seed * 6364136223846793005u + 1442695040888963407u;
            x += (uint32_t)(seed >> 61); /* steps of 0 to 7: many equal */
            v[i] = x;
        }
        for (uint32_t key = 0; key <= x + 1; key++)
            assert_true(first_at_or_past(v, n, key) == walk(v, n, key));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(no_elements),
        cmocka_unit_test(all_below_or_none),
        cmocka_unit_test(duplicates_give_the_first),
        cmocka_unit_test(conditions_of_fields),
        cmocka_unit_test(random_arrays_as_a_walk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
