/*
 * test_tables.c - the salted home slots of the in-memory hash tables
 * (util.h: dd_table_home, dd_table_salt; capped_map.h).
 *
 * An adversary who writes texts without knowing a key can make their
 * hashes share any low bits they like, by trying texts. These tests take
 * such keys (every key with the same low 20 bits) and check that the
 * tables still spread them, and that a capped map (the LSH bands of
 * documents and of paragraphs), which keeps a key's values in one run of
 * slots, still finds every value; it is also checked for its cap and for
 * keys that differ only in their high half. The table of exact keys
 * (key_table.h: the paragraphs' tables, the placer's exact keys, the files
 * already read) is checked the same way: aimed keys keep their numbers
 * through its doublings, within its fill, through reserve and reset, and
 * a number past 32 bits is refused, not cut. And
 * dd_sort_u32, with which the placer counts the buckets that list a
 * candidate, and dd_sort_u64 (shingle sets): one sort at two widths.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "engine/capped_map.h"
#include "key_table.h"
#include "util.h"

#define NKEYS 4096

/* Keys that agree in their low 20 bits: what a table indexed by the low
 * bits of its keys would put in one slot. */
static uint64_t aimed_key(uint64_t i) { return (i << 20) | 0xABCDEu; }

static void the_salt_is_one_value_per_process(void **state)
{
    (void)state;
    assert_true(dd_table_salt() == dd_table_salt());
}

static void keys_sharing_low_bits_spread_over_the_table(void **state)
{
    (void)state;
    const size_t slots = 8192, mask = slots - 1;
    static unsigned char used[8192];
    size_t distinct = 0;
    uint64_t salt = dd_table_salt();
    for (uint64_t i = 0; i < NKEYS; i++) {
        size_t s = dd_table_home(aimed_key(i), salt, mask);
        distinct += !used[s];
        used[s] = 1;
    }
    /* Uniform homes: 4096 keys in 8192 slots fill about 8192 * (1 - e^-0.5)
     * = 3223 distinct slots; unsalted low bits would give 1. */
    assert_true(distinct > 3000);
}

static void other_salts_give_other_homes(void **state)
{
    (void)state;
    size_t same = 0;
    for (uint64_t i = 0; i < NKEYS; i++)
        same += dd_table_home(aimed_key(i), 1, 8191) == dd_table_home(aimed_key(i), 2, 8191);
    assert_true(same < 40); /* about 4096 / 8192 = 0.5 expected by chance */
}

/* The values of key in m, sorted, into got[0..max); returns how many. */
static uint32_t capped_values(const dd_capped_map *m, uint64_t key, uint32_t *got, uint32_t max)
{
    dd_capped_iter it = dd_capped_map_find(m, key);
    uint32_t n = 0;
    for (uint32_t v; n < max && dd_capped_next(&it, &v);)
        got[n++] = v;
    for (uint32_t i = 1; i < n; i++) /* insertion sort: a few values */
        for (uint32_t j = i; j > 0 && got[j - 1] > got[j]; j--) {
            uint32_t t = got[j];
            got[j] = got[j - 1];
            got[j - 1] = t;
        }
    return n;
}

static void a_capped_map_of_aimed_keys_finds_every_value(void **state)
{
    (void)state;
    dd_capped_map m;
    dd_capped_map_init(&m);
    /* Three values per key, over several doublings of the table. */
    for (uint32_t i = 0; i < NKEYS; i++)
        for (uint32_t k = 0; k < 3; k++)
            assert_true(dd_capped_map_add(&m, aimed_key(i), i + k * NKEYS, 8));
    assert_int_equal(m.used, 3 * NKEYS);
    assert_true(4 * m.used <= 3 * m.nslots);
    for (uint32_t i = 0; i < NKEYS; i++) {
        uint32_t got[4];
        assert_int_equal(capped_values(&m, aimed_key(i), got, 4), 3);
        assert_int_equal(got[0], i);
        assert_int_equal(got[1], i + NKEYS);
        assert_int_equal(got[2], i + 2 * NKEYS);
    }
    uint32_t got[1];
    assert_int_equal(capped_values(&m, aimed_key(NKEYS + 7), got, 1), 0);
    dd_capped_map_free(&m);
}

static void a_capped_map_keeps_the_first_values_of_a_key(void **state)
{
    (void)state;
    dd_capped_map m;
    dd_capped_map_init(&m);
    uint64_t key = 0x0123456789ABCDEFull;
    for (uint32_t v = 0; v < 40; v++)
        assert_int_equal(dd_capped_map_add(&m, key, v, 32), v < 32);
    /* A key that shares the low half, and one that shares the high half,
     * are other keys: their own values, not the first key's. */
    uint64_t same_low = key ^ (1ull << 40), same_high = key ^ 1u;
    assert_true(dd_capped_map_add(&m, same_low, 1000, 32));
    assert_true(dd_capped_map_add(&m, same_high, 2000, 32));
    uint32_t got[64];
    uint32_t n = capped_values(&m, key, got, 64);
    assert_int_equal(n, 32);
    for (uint32_t v = 0; v < 32; v++)
        assert_int_equal(got[v], v);
    assert_int_equal(capped_values(&m, same_low, got, 64), 1);
    assert_int_equal(got[0], 1000);
    assert_int_equal(capped_values(&m, same_high, got, 64), 1);
    assert_int_equal(got[0], 2000);
    /* UINT32_MAX cannot be stored (a slot holds 1 + the value). */
    assert_false(dd_capped_map_add(&m, 42, UINT32_MAX, 32));
    dd_capped_map_free(&m);
}

/* A map filled again and again (a batch's): emptied, a table that grew
 * for many entries is made small again when it held few (emptying costs
 * the table's size), kept when it held many; either way the map then
 * holds nothing, and the values added again are found, in order. */
static void a_capped_map_emptied_after_few_entries_is_small_again(void **state)
{
    (void)state;
    dd_capped_map m;
    dd_capped_map_init(&m);
    size_t small = m.nslots;
    for (uint32_t i = 0; i < NKEYS; i++)
        assert_true(dd_capped_map_add(&m, aimed_key(i), i, 8));
    size_t grown = m.nslots;
    assert_true(grown >= 16 * small);
    dd_capped_map_clear(&m); /* it held many: kept */
    assert_int_equal(m.nslots, grown);
    assert_int_equal(m.used, 0);
    for (uint32_t i = 0; i < 10; i++)
        assert_true(dd_capped_map_add(&m, aimed_key(i), i, 8));
    dd_capped_map_clear(&m); /* it held 10 in a table for thousands */
    assert_int_equal(m.used, 0);
    assert_int_equal(m.nslots, small);
    uint32_t got[8];
    for (uint32_t i = 0; i < NKEYS; i++)
        assert_int_equal(capped_values(&m, aimed_key(i), got, 8), 0);
    for (uint32_t i = 0; i < NKEYS; i++)
        for (uint32_t k = 0; k < 2; k++)
            assert_true(dd_capped_map_add(&m, aimed_key(i), i + k * NKEYS, 8));
    for (uint32_t i = 0; i < NKEYS; i++) {
        assert_int_equal(capped_values(&m, aimed_key(i), got, 8), 2);
        assert_int_equal(got[0], i);
        assert_int_equal(got[1], i + NKEYS);
    }
    dd_capped_map_free(&m);
}

/* An exact key whose low half (the half the home slot is mixed from) is
 * aimed as aimed_key's are; its high half tells keys of one low half
 * apart. */
static sh_key aimed_exact_key(uint64_t i, uint64_t hi)
{
    return (sh_key){.lo = aimed_key(i), .hi = hi};
}

static void a_key_table_of_aimed_keys_keeps_every_number(void **state)
{
    (void)state;
    for (unsigned quarters = 2; quarters <= 3; quarters++) {
        dd_key_table t;
        dd_key_table_init(&t, quarters);
        uint32_t had;
        /* Numbers given in order, over several doublings of the table;
         * two keys share each low half. */
        for (uint64_t i = 0; i < NKEYS; i++) {
            assert_int_equal(dd_key_table_add(&t, aimed_exact_key(i, 1), 2 * i, &had),
                             DD_KEY_ADDED);
            assert_int_equal(dd_key_table_add(&t, aimed_exact_key(i, 2), 2 * i + 1, &had),
                             DD_KEY_ADDED);
            assert_true(4 * t.used <= quarters * t.nslots);
        }
        assert_int_equal(t.used, 2 * NKEYS);
        assert_int_equal(dd_key_table_bytes(&t), t.nslots * 20);
        for (uint64_t i = 0; i < NKEYS; i++) {
            uint32_t got;
            assert_true(dd_key_table_get(&t, aimed_exact_key(i, 1), &got));
            assert_int_equal(got, 2 * i);
            assert_true(dd_key_table_get(&t, aimed_exact_key(i, 2), &got));
            assert_int_equal(got, 2 * i + 1);
            /* A key seen before keeps its first number. */
            assert_int_equal(dd_key_table_add(&t, aimed_exact_key(i, 2), 7, &had), DD_KEY_HAD);
            assert_int_equal(had, 2 * i + 1);
        }
        uint32_t got;
        assert_false(dd_key_table_get(&t, aimed_exact_key(NKEYS + 7, 1), &got));
        assert_false(dd_key_table_get(&t, aimed_exact_key(3, 3), &got));
        /* Keys that differ only in the high words of a half are other keys
         * (a slot keeps the key in four 32-bit words). */
        sh_key k = aimed_exact_key(5, 1);
        k.lo ^= 1ull << 40;
        assert_false(dd_key_table_get(&t, k, &got));
        k = aimed_exact_key(5, 1);
        k.hi ^= 1ull << 40;
        assert_false(dd_key_table_get(&t, k, &got));
        assert_int_equal(t.used, 2 * NKEYS);
        dd_key_table_free(&t);
    }
}

/* A number must fit in 32 bits with the mark of an empty slot: the largest
 * is kept whole, the next is refused (DD_KEY_FULL, the table unchanged),
 * and a key that has a number is found whatever number is offered. */
static void a_key_table_refuses_numbers_past_32_bits(void **state)
{
    (void)state;
    dd_key_table t;
    dd_key_table_init(&t, 2);
    uint32_t had, got;
    sh_key a = {1, 2}, b = {3, 4};
    assert_int_equal(dd_key_table_add(&t, a, DD_KEY_TABLE_MAX_VALUE, &had), DD_KEY_ADDED);
    assert_true(dd_key_table_get(&t, a, &got));
    assert_int_equal(got, UINT32_MAX - 1);
    assert_int_equal(dd_key_table_add(&t, b, (size_t)DD_KEY_TABLE_MAX_VALUE + 1, &had),
                     DD_KEY_FULL);
    assert_false(dd_key_table_get(&t, b, &got));
    assert_int_equal(t.used, 1);
    assert_int_equal(dd_key_table_add(&t, a, (size_t)UINT32_MAX + 5, &had), DD_KEY_HAD);
    assert_int_equal(had, UINT32_MAX - 1);
    dd_key_table_free(&t);
}

/* Reserving room moves no number and makes adding that many keys double
 * nothing; resetting empties the table, sized for the keys to come, and
 * takes new keys as a new table does. */
static void a_key_table_reserves_and_resets(void **state)
{
    (void)state;
    dd_key_table t;
    dd_key_table_init(&t, 2);
    uint32_t had, got;
    for (uint64_t i = 0; i < 100; i++)
        assert_int_equal(dd_key_table_add(&t, aimed_exact_key(i, 9), i, &had), DD_KEY_ADDED);
    dd_key_table_reserve(&t, 3 * NKEYS);
    size_t reserved = t.nslots;
    assert_true(2 * 3 * NKEYS <= reserved);
    for (uint64_t i = 0; i < 100; i++) {
        assert_true(dd_key_table_get(&t, aimed_exact_key(i, 9), &got));
        assert_int_equal(got, i);
    }
    for (uint64_t i = 100; i < 3 * NKEYS; i++)
        assert_int_equal(dd_key_table_add(&t, aimed_exact_key(i, 9), i, &had), DD_KEY_ADDED);
    assert_int_equal(t.nslots, reserved);

    /* A batch of 10 keys after one of 3 * NKEYS: emptied, smaller. */
    dd_key_table_reset(&t, 10);
    assert_int_equal(t.used, 0);
    assert_int_equal(t.nslots, 1024);
    assert_false(dd_key_table_get(&t, aimed_exact_key(5, 9), &got));
    for (uint64_t i = 0; i < 10; i++)
        assert_int_equal(dd_key_table_add(&t, aimed_exact_key(i, 8), 10 + i, &had), DD_KEY_ADDED);
    assert_int_equal(dd_key_table_add(&t, aimed_exact_key(4, 8), 0, &had), DD_KEY_HAD);
    assert_int_equal(had, 14);
    /* A batch of 2000 keys: room for all of them at once. */
    dd_key_table_reset(&t, 2000);
    assert_int_equal(t.used, 0);
    assert_true(2 * 2001 <= t.nslots);
    assert_false(dd_key_table_get(&t, aimed_exact_key(4, 8), &got));
    dd_key_table_free(&t);
}

/* dd_sort_u32 (the ranks of candidates) sorts as qsort does, at every
 * size (insertion below 65 values, radix above) and for values using one
 * to four bytes. */
static void sorting_u32_agrees_with_qsort(void **state)
{
    (void)state;
    const size_t sizes[] = {0, 1, 2, 64, 65, 300, 5000};
    const uint32_t masks[] = {0xFF, 0xFFFF, 0xFFFFFF, 0xFFFFFFFF};
    uint64_t x = 88172645463325252ULL;
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
        for (size_t mi = 0; mi < sizeof masks / sizeof masks[0]; mi++) {
            size_t n = sizes[si];
            uint32_t *v = malloc((n + 1) * sizeof *v), *want = malloc((n + 1) * sizeof *want),
                     *tmp = malloc((n + 1) * sizeof *tmp);
            for (size_t i = 0; i < n; i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                v[i] = want[i] = (uint32_t)(x >> 11) & masks[mi];
            }
            qsort(want, n, sizeof *want, dd_compare_u32);
            dd_sort_u32(v, tmp, n);
            for (size_t i = 0; i < n; i++)
                if (v[i] != want[i])
                    fail_msg("%zu values under %#x: at %zu, %u, want %u", n, masks[mi], i, v[i],
                             want[i]);
            free(v);
            free(want);
            free(tmp);
        }
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* dd_sort_u64 (shingle sets: a first pass into 256 buckets by their top
 * bits): as qsort, at every size (buckets of a few values, and of more
 * than 64 at 100,000), for values using one to eight bytes, and for values
 * that all share their top 8 bits (one bucket: a set whose hashes were
 * chosen to fall together) or a few low bits (buckets of equal values). */
static void sorting_u64_agrees_with_qsort(void **state)
{
    (void)state;
    const size_t sizes[] = {0, 1, 2, 64, 65, 300, 5000, 100000};
    const struct {
        uint64_t mask, set;
    } forms[] = {{0xFF, 0},
                 {0xFFFFFFFF, 0},
                 {0xFFFFFFFFFFull, 0},
                 {UINT64_MAX, 0},
                 {0x00FFFFFFFFFFFFFFull, 0xA500000000000000ull},
                 {0x0F, 0x8000000000000000ull}};
    uint64_t x = 88172645463325252ULL;
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
        for (size_t mi = 0; mi < sizeof forms / sizeof forms[0]; mi++) {
            size_t n = sizes[si];
            uint64_t *v = malloc((n + 1) * sizeof *v), *want = malloc((n + 1) * sizeof *want),
                     *tmp = malloc((n + 1) * sizeof *tmp);
            for (size_t i = 0; i < n; i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                v[i] = want[i] = ((x * 0x9E3779B97F4A7C15ULL) & forms[mi].mask) | forms[mi].set;
            }
            qsort(want, n, sizeof *want, compare_u64);
            dd_sort_u64(v, tmp, n);
            for (size_t i = 0; i < n; i++)
                if (v[i] != want[i])
                    fail_msg("%zu values under %#llx: at %zu", n,
                             (unsigned long long)(forms[mi].mask | forms[mi].set), i);
            free(v);
            free(want);
            free(tmp);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_salt_is_one_value_per_process),
        cmocka_unit_test(keys_sharing_low_bits_spread_over_the_table),
        cmocka_unit_test(other_salts_give_other_homes),
        cmocka_unit_test(a_capped_map_of_aimed_keys_finds_every_value),
        cmocka_unit_test(a_capped_map_keeps_the_first_values_of_a_key),
        cmocka_unit_test(a_capped_map_emptied_after_few_entries_is_small_again),
        cmocka_unit_test(a_key_table_of_aimed_keys_keeps_every_number),
        cmocka_unit_test(a_key_table_refuses_numbers_past_32_bits),
        cmocka_unit_test(a_key_table_reserves_and_resets),
        cmocka_unit_test(sorting_u32_agrees_with_qsort),
        cmocka_unit_test(sorting_u64_agrees_with_qsort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
