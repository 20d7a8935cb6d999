/*
 * test_room.c - unit tests of the rooms for large arrays (util.h:
 * dd_room_resize, dd_room_zalloc_touched): a room keeps its first bytes
 * as it grows and shrinks across DD_ROOM_HUGE, from the heap to a mapping
 * and back, by a byte or by megabytes, and within the heap across
 * DD_ROOM_COPIED (grown by a copy outside realloc from it up); a zeroed one is zeros at any size;
 * and the arrays built on them (a key table, a scratch array without a
 * budget) keep every entry as they pass DD_ROOM_HUGE and are trimmed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "key_table.h"
#include "io/scratch_array.h"
#include "util.h"

/* The byte at offset i of a room written by fill: not periodic in any
 * power of two a page or a huge page would hide. */
static unsigned char byte_at(size_t i, unsigned seed)
{
    return (unsigned char)((i * 131u) ^ (i >> 11) ^ (i >> 19) ^ seed);
}

static void fill(unsigned char *p, size_t from, size_t to, unsigned seed)
{
    for (size_t i = from; i < to; i++)
        p[i] = byte_at(i, seed);
}

static void expect_bytes(const unsigned char *p, size_t n, unsigned seed, size_t step)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != byte_at(i, seed))
            fail_msg("step %zu: byte %zu of %zu is %u, want %u", step, i, n, p[i],
                     byte_at(i, seed));
}

static void a_room_keeps_its_first_bytes_across_sizes(void **state)
{
    (void)state;
    const size_t huge = DD_ROOM_HUGE;
    /* From the heap, to a mapping at its exact first size, grown within one
     * huge page and past it, shrunk within the mapping, back to the heap by
     * a byte, then small, then nothing. */
    const size_t sizes[] = {1000,         huge - 1,     huge,     huge + 5, 3 * huge + 17,
                            9 * huge + 1, 4 * huge - 3, huge + 1, huge - 1, 100,
                            0};
    unsigned char *p = NULL;
    size_t bytes = 0;
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        size_t next = sizes[k];
        p = dd_room_resize(p, bytes, next);
        size_t kept = bytes < next ? bytes : next;
        if (next == 0) {
            assert_null(p);
        } else {
            assert_non_null(p);
            expect_bytes(p, kept, 7, k);
            fill(p, kept, next, 7); /* the bytes past the old size are ours to write */
            expect_bytes(p, next, 7, k);
        }
        bytes = next;
    }
}

static void a_room_of_the_heap_keeps_its_bytes_as_it_grows_by_copies(void **state)
{
    (void)state;
    /* Below DD_ROOM_HUGE: grown by realloc below DD_ROOM_COPIED, by a new
     * block and a copy from it up (a byte under it, at it, past it, to a
     * block malloc maps on its own, which grows by realloc again), shrunk
     * by realloc and grown by a copy again, and interleaved with a second
     * room, whose blocks sit beside the first's in the heap. */
    const size_t copied = DD_ROOM_COPIED, huge = DD_ROOM_HUGE;
    const size_t sizes[] = {copied - 1,   copied,     copied + 1, 3 * copied + 5,
                            huge / 2 + 3, huge - 5,   copied + 7, huge - 1,
                            copied - 9,   2 * copied, 0};
    unsigned char *p = NULL, *q = NULL;
    size_t bytes = 0, qbytes = 0;
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        size_t next = sizes[k], kept = bytes < next ? bytes : next;
        p = dd_room_resize(p, bytes, next);
        if (next == 0) {
            assert_null(p);
        } else {
            expect_bytes(p, kept, 11, k);
            fill(p, kept, next, 11);
        }
        bytes = next;
        size_t qnext = next ? next / 2 + copied : 0, qkept = qbytes < qnext ? qbytes : qnext;
        q = dd_room_resize(q, qbytes, qnext);
        if (qnext) {
            expect_bytes(q, qkept, 5, k);
            fill(q, qkept, qnext, 5);
        }
        qbytes = qnext;
        if (p)
            expect_bytes(p, bytes, 11, k);
    }
    assert_null(q);
}

static void a_zeroed_room_is_zeros_at_any_size(void **state)
{
    (void)state;
    const size_t sizes[] = {1, 4096, DD_ROOM_HUGE - 1, DD_ROOM_HUGE, 3 * DD_ROOM_HUGE + 17};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        unsigned char *p = dd_room_zalloc_touched(sizes[k]);
        for (size_t i = 0; i < sizes[k]; i++)
            if (p[i])
                fail_msg("a zeroed room of %zu bytes has %u at %zu", sizes[k], p[i], i);
        /* It is a room like any other: it grows keeping its bytes. */
        fill(p, 0, sizes[k], 3);
        p = dd_room_resize(p, sizes[k], sizes[k] + DD_ROOM_HUGE);
        expect_bytes(p, sizes[k], 3, k);
        dd_room_resize(p, sizes[k] + DD_ROOM_HUGE, 0);
    }
}

static sh_key key_of(uint64_t i)
{
    return (sh_key){i * 0x9E3779B97F4A7C15u + 1, ~i * 0xC2B2AE3D27D4EB4Fu};
}

static void a_key_table_past_a_huge_page_keeps_every_number(void **state)
{
    (void)state;
    /* Half full at most: 300,000 keys take 1,048,576 slots, far past
     * DD_ROOM_HUGE, their rooms made larger eight times from 1,024. */
    const size_t n = 300000;
    dd_key_table t;
    dd_key_table_init(&t, 2);
    for (size_t i = 0; i < n; i++) {
        uint32_t had;
        assert_int_equal(dd_key_table_add(&t, key_of(i), i, &had), DD_KEY_ADDED);
    }
    assert_true(dd_key_table_bytes(&t) > DD_ROOM_HUGE);
    for (size_t i = 0; i < n; i++) {
        uint32_t v;
        assert_true(dd_key_table_get(&t, key_of(i), &v));
        assert_int_equal(v, i);
    }
    /* Emptied to a small table, then to a large one again. */
    dd_key_table_reset(&t, 10);
    assert_true(dd_key_table_bytes(&t) < DD_ROOM_HUGE);
    uint32_t v;
    assert_false(dd_key_table_get(&t, key_of(1), &v));
    dd_key_table_reset(&t, n);
    assert_true(dd_key_table_bytes(&t) > DD_ROOM_HUGE);
    assert_false(dd_key_table_get(&t, key_of(1), &v));
    uint32_t had;
    assert_int_equal(dd_key_table_add(&t, key_of(5), 5, &had), DD_KEY_ADDED);
    assert_true(dd_key_table_get(&t, key_of(5), &v));
    assert_int_equal(v, 5);
    dd_key_table_free(&t);
}

static void a_scratch_array_past_a_huge_page_keeps_every_element(void **state)
{
    (void)state;
    /* No budget: 8-byte elements to 3.2 MB, in pieces of 1 to 999. */
    const size_t n = 400000;
    uint64_t piece[1000];
    dd_scratch_array a;
    dd_scratch_array_init(&a, sizeof(uint64_t), 0, NULL, "numbers");
    size_t added = 0, len = 1;
    while (added < n) {
        size_t k = len < n - added ? len : n - added;
        for (size_t j = 0; j < k; j++)
            piece[j] = (added + j) * 0x9E3779B97F4A7C15u;
        char *err = NULL;
        assert_true(dd_scratch_array_append(&a, piece, k, &err));
        added += k;
        len = len * 7 % 1000 + 1;
    }
    assert_true(dd_scratch_array_memory_bytes(&a) >= n * sizeof(uint64_t));
    dd_scratch_array_trim(&a);
    assert_int_equal(dd_scratch_array_memory_bytes(&a), n * sizeof(uint64_t));
    for (size_t i = 0; i < n; i++) {
        const uint64_t *e = dd_scratch_array_get(&a, i);
        if (*e != i * 0x9E3779B97F4A7C15u)
            fail_msg("element %zu changed after the array passed a huge page", i);
    }
    dd_scratch_array_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_room_keeps_its_first_bytes_across_sizes),
        cmocka_unit_test(a_room_of_the_heap_keeps_its_bytes_as_it_grows_by_copies),
        cmocka_unit_test(a_zeroed_room_is_zeros_at_any_size),
        cmocka_unit_test(a_key_table_past_a_huge_page_keeps_every_number),
        cmocka_unit_test(a_scratch_array_past_a_huge_page_keeps_every_element),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
