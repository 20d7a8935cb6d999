/*
 * test_set_cache.c - the cache of shingle sets (engine/set_cache.h): a set
 * is found under the id and version it was kept with, and only there; a
 * slot claimed and not kept holds nothing; with a budget, the sets take at
 * most that many bytes, the oldest slots emptied first and never the set
 * just kept; without one, a slot keeps its buffer for the next set.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "engine/set_cache.h"
#include "util.h"

/* Keeps the set {id * 1000 + 0, ..., + n - 1} of (id, version) in c. */
static const dd_cached_set *keep(dd_set_cache *c, uint64_t id, uint32_t version, size_t n)
{
    dd_cached_set *s = dd_set_cache_claim(c, id, version);
    dd_grow(&s->set, &s->cap, n + 1, sizeof *s->set);
    for (size_t i = 0; i < n; i++)
        s->set[i] = id * 1000 + i;
    s->n = n;
    dd_set_cache_keep(c, s);
    return s;
}

static void a_set_is_found_under_its_id_and_version_only(void **state)
{
    (void)state;
    dd_set_cache c;
    dd_set_cache_init(&c, 8, 0);
    assert_null(dd_set_cache_find(&c, 3, 0));
    keep(&c, 3, 7, 5);
    const dd_cached_set *s = dd_set_cache_find(&c, 3, 7);
    assert_non_null(s);
    assert_int_equal(s->n, 5);
    assert_int_equal(s->set[4], 3004);
    assert_null(dd_set_cache_find(&c, 3, 8));  /* its text changed */
    assert_null(dd_set_cache_find(&c, 11, 7)); /* the same slot, another id */
    /* Another id of the slot takes it. */
    keep(&c, 11, 7, 2);
    assert_null(dd_set_cache_find(&c, 3, 7));
    assert_int_equal(dd_set_cache_find(&c, 11, 7)->set[1], 11001);
    /* Claimed and not kept (its reading failed): nothing is found. */
    dd_set_cache_claim(&c, 11, 7);
    assert_null(dd_set_cache_find(&c, 11, 7));
    dd_set_cache_forget(&c);
    assert_int_equal(dd_set_cache_bytes(&c), 0);
    dd_set_cache_free(&c);
}

static void without_a_budget_a_slot_keeps_its_buffer(void **state)
{
    (void)state;
    dd_set_cache c;
    dd_set_cache_init(&c, 4, 0);
    const dd_cached_set *s = keep(&c, 1, 0, 100);
    const uint64_t *buffer = s->set;
    size_t cap = s->cap;
    s = keep(&c, 5, 0, 10); /* slot 1 again: a smaller set in the same buffer */
    assert_ptr_equal(s->set, buffer);
    assert_int_equal(s->cap, cap);
    assert_int_equal(dd_set_cache_bytes(&c), cap * sizeof(uint64_t));
    dd_set_cache_free(&c);
}

static void with_a_budget_the_oldest_sets_go_first(void **state)
{
    (void)state;
    dd_set_cache c;
    /* 16 slots, room for 300 hashes. */
    dd_set_cache_init(&c, 16, 300 * sizeof(uint64_t));
    for (uint64_t id = 0; id < 3; id++)
        keep(&c, id, 0, 100);
    assert_int_equal(c.bytes, 300 * sizeof(uint64_t));
    for (uint64_t id = 0; id < 3; id++)
        assert_non_null(dd_set_cache_find(&c, id, 0));
    /* A fourth set passes the budget: the oldest slot (0) is emptied. */
    keep(&c, 3, 0, 100);
    assert_null(dd_set_cache_find(&c, 0, 0));
    assert_non_null(dd_set_cache_find(&c, 1, 0));
    assert_non_null(dd_set_cache_find(&c, 3, 0));
    assert_true(c.bytes <= 300 * sizeof(uint64_t));
    /* A set larger than the budget is kept (the one just made is never
     * emptied); every other goes. */
    keep(&c, 4, 0, 1000);
    assert_non_null(dd_set_cache_find(&c, 4, 0));
    for (uint64_t id = 1; id < 4; id++)
        assert_null(dd_set_cache_find(&c, id, 0));
    assert_int_equal(c.bytes, 1000 * sizeof(uint64_t));
    /* Its sets take their exact sizes: a slot claimed again frees its
     * buffer, and forgetting gives everything back. */
    keep(&c, 4 + 16, 0, 10);
    assert_int_equal(c.bytes, 10 * sizeof(uint64_t));
    dd_set_cache_forget(&c);
    assert_int_equal(c.bytes, 0);
    assert_int_equal(dd_set_cache_bytes(&c), 0);
    dd_set_cache_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_set_is_found_under_its_id_and_version_only),
        cmocka_unit_test(without_a_budget_a_slot_keeps_its_buffer),
        cmocka_unit_test(with_a_budget_the_oldest_sets_go_first),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
