/*
 * test_unit_starts.c - where each document's units start (engine/
 * unit_starts.h): 32-bit offsets under a 64-bit start every 64 documents
 * give back every start as set, across the groups' boundaries, past 2^32
 * units in all, and where the documents of one group hold more than an
 * offset can say; about 4 bytes a document.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "engine/unit_starts.h"

#include <stdlib.h>

static uint64_t next_random(uint64_t *state)
{
    *state = *state * 6364136223846793005u + 1442695040888963407u;
    return *state >> 33;
}

/* Sets the starts of ndocs documents of units[d] units each (and the end)
 * in s, and checks that each reads back as the sum of the units before. */
static void set_and_check(dd_unit_starts *s, const uint64_t *units, size_t ndocs)
{
    dd_unit_starts_init(s, ndocs);
    uint64_t at = 0;
    for (size_t d = 0; d <= ndocs; d++) {
        dd_unit_starts_set(s, d, (size_t)at);
        if (d < ndocs)
            at += units[d];
    }
    at = 0;
    for (size_t d = 0; d <= ndocs; d++) {
        assert_true(dd_unit_start(s, d) == at);
        if (d < ndocs)
            assert_true(dd_unit_start(s, d + 1) - dd_unit_start(s, d) == units[d]);
        if (d < ndocs)
            at += units[d];
    }
}

/* Small documents, some empty, across many groups of 64: every start and
 * every count as set, none kept apart, 4 bytes a document and 8 a group. */
static void starts_across_groups(void **state)
{
    (void)state;
    enum { NDOCS = 1000 };
    static uint64_t units[NDOCS];
    uint64_t seed = 7;
    for (size_t d = 0; d < NDOCS; d++)
        units[d] = next_random(&seed) % 4 == 0 ? 0 : next_random(&seed) % 100;
    units[63] = 12345, units[64] = 0, units[65] = 7; /* at the first boundary */
    dd_unit_starts s;
    set_and_check(&s, units, NDOCS);
    assert_int_equal(s.nfar, 0);
    assert_int_equal(dd_unit_starts_bytes(&s), (NDOCS + 1) * 4 + (NDOCS / 64 + 1) * 8);
    dd_unit_starts_free(&s);
}

/* Past 2^32 units in all (the groups' starts past 4 Gi), and documents of
 * one group that hold more than 2^32 - 2 units before another of the
 * group (from document 4 on in group 0; from 73 on in group 1, 72 being
 * the last whose offset fits, 2^32 - 2): those starts are kept apart, and
 * all read back as set. */
static void starts_past_32_bits(void **state)
{
    (void)state;
    enum { NDOCS = 300 };
    static uint64_t units[NDOCS];
    uint64_t seed = 11;
    for (size_t d = 0; d < NDOCS; d++)
        units[d] = next_random(&seed) % 1000;
    units[3] = (uint64_t)5 << 30; /* 5 Gi */
    for (size_t d = 64; d < 70; d++)
        units[d] = 0;
    units[70] = UINT32_MAX - 3;     /* document 71 at 2^32 - 4 past its group's start */
    units[71] = 2;                  /* 72 at 2^32 - 2: the most an offset holds */
    units[72] = 1;                  /* 73 at 2^32 - 1: apart */
    units[127] = (uint64_t)9 << 30; /* the last of group 1: group 2 starts past it */
    dd_unit_starts s;
    set_and_check(&s, units, NDOCS);
    assert_true(dd_unit_start(&s, NDOCS) > ((uint64_t)18 << 30));
    assert_int_equal(s.off[72], UINT32_MAX - 1);
    assert_int_equal(s.off[73], DD_UNIT_START_FAR);
    assert_int_equal(s.nfar, (64 - 4) + (128 - 73)); /* none in groups 2 to 4 */
    assert_int_equal(s.far[0].doc, 4);
    assert_int_equal(s.far[60].doc, 73);
    dd_unit_starts_free(&s);
}

/* Documents not set between two set (a run that stopped reading) get the
 * next start: no units. */
static void documents_not_set_hold_nothing(void **state)
{
    (void)state;
    dd_unit_starts s;
    dd_unit_starts_init(&s, 200);
    dd_unit_starts_set(&s, 0, 0);
    dd_unit_starts_set(&s, 1, 10);
    dd_unit_starts_set(&s, 150, (size_t)6 << 30);
    dd_unit_starts_set(&s, 200, (size_t)6 << 30);
    assert_true(dd_unit_start(&s, 1) == 10);
    for (size_t d = 2; d <= 150; d++)
        assert_true(dd_unit_start(&s, d) == (size_t)6 << 30);
    assert_true(dd_unit_start(&s, 200) == (size_t)6 << 30);
    dd_unit_starts_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(starts_across_groups),
        cmocka_unit_test(starts_past_32_bits),
        cmocka_unit_test(documents_not_set_hold_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
