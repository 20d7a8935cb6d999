/*
 * test_run.c - the ordered parallel map and the pool (run/run.h), whose
 * workers claim runs of items at once: on items of random cost, with 1 to
 * 8 threads and windows from 1 item to 64, every item is worked on once
 * and consumed once, in order, with the result its work made; no item is
 * worked on before the window has room for it (at most `window` items in
 * flight, their weights under max_weight unless the item is the next to
 * consume); a result slot holds, when work finds it, the item `window`
 * before; a consume that stops the run stops it there, and the run
 * returns; loops that consume runs on the workers (dd_run_loop) and the
 * pool's loops run every item once. The same for a stream (dd_run_stream)
 * and its look-ahead (dd_run_stream_ahead, dd_run_stream_ahead_from); a
 * loop started in one consume and joined in a later one
 * (dd_run_loop_start, dd_run_loop_join), or left pending at the end, runs
 * every item once. A stream whose calling thread is one of its threads
 * (caller_works) makes one worker fewer and works on items itself.
 *
 * Work runs on worker threads, where cmocka cannot fail a test: what it
 * finds wrong is counted (atomics), and the calling thread asserts the
 * counts after the run.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "run/run.h"
#include "util.h"

#define NONE SIZE_MAX /* no item: a run that consume does not stop */

/* A number of item i, the same on every thread (splitmix64). */
static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* Random cost: from nothing to a few tens of microseconds, and now and
 * then much more, so that workers finish out of order. */
static uint64_t spin(uint64_t seed)
{
    uint64_t n = seed % 16 == 0 ? 5000 + seed % 20000 : seed % 1000, x = seed;
    for (uint64_t k = 0; k < n; k++)
        x = mix(x);
    return x;
}

typedef struct result {
    dd_run_result base;
    size_t item;    /* the item worked on in this slot */
    uint64_t value; /* what its work made */
} result;

/* What a map of the test is: its items, its limits, and the counts of what
 * went wrong (on any thread) and of what was done. */
typedef struct check {
    size_t n, window, stop_at; /* stop_at: the item whose consume stops the run */
    uint64_t max_weight;
    uint64_t *prefix;       /* prefix[i]: the weights of items 0..i-1 */
    atomic_size_t consumed; /* items consumed so far */
    atomic_size_t worked;   /* items worked on */
    atomic_size_t wrong;    /* violations seen by work or consume */
    atomic_size_t workers;  /* worker states made */
    atomic_uint *loop_runs; /* per item of a loop in consume: times run */
    size_t loop_n;
    size_t next; /* the next item consume expects */
} check;

static uint64_t weight_of(size_t i) { return 1 + mix(i ^ 0x5555) % 1000; }

static uint64_t item_weight(void *ctx, size_t i)
{
    (void)ctx;
    return weight_of(i);
}

static void *new_worker(void *ctx)
{
    check *c = ctx;
    atomic_fetch_add(&c->workers, 1);
    return dd_calloc(1, sizeof(uint64_t)); /* a state of its own, written freely */
}

static void free_worker(void *ctx, void *worker)
{
    (void)ctx;
    free(worker);
}

/* Whether item i may be worked on now (run.h: the window's limits), i
 * having been produced when consumed <= i: at most `window` items in
 * flight, and their weights, those of items consumed..i, under max_weight
 * unless i is the only one. Items consumed since only make it truer. */
static bool window_holds(check *c, size_t i)
{
    size_t consumed = atomic_load(&c->consumed);
    if (i >= consumed + c->window)
        return false;
    if (consumed > i) /* consumed before its work: never */
        return false;
    uint64_t in_flight = c->prefix[i + 1] - c->prefix[consumed];
    return in_flight <= c->max_weight || consumed == i;
}

static void work(void *ctx, void *worker, size_t i, void *slot)
{
    check *c = ctx;
    result *r = slot;
    if (!window_holds(c, i))
        atomic_fetch_add(&c->wrong, 1);
    /* The slot's last item was the one a window before, consumed (in the
     * first window, none: the slot is zeroed). */
    if (r->item != (i >= c->window ? i - c->window : 0))
        atomic_fetch_add(&c->wrong, 1);
    *(uint64_t *)worker += 1;
    r->item = i;
    r->value = spin(mix(i));
    atomic_fetch_add(&c->worked, 1);
}

static void loop_item(void *ctx, void *worker, size_t k)
{
    (void)worker;
    check *c = ctx;
    spin(mix(k + 77));
    atomic_fetch_add(&c->loop_runs[k], 1);
}

static bool consume(void *ctx, size_t i, void *slot)
{
    check *c = ctx;
    result *r = slot;
    if (i != c->next || r->item != i || r->value != spin(mix(i)))
        atomic_fetch_add(&c->wrong, 1);
    c->next = i + 1;
    /* Now and then, a loop on the workers from consume. */
    if (c->loop_runs && i % 97 == 5) {
        for (size_t k = 0; k < c->loop_n; k++)
            atomic_store(&c->loop_runs[k], 0);
        dd_run_loop(c->loop_n, c, loop_item);
        for (size_t k = 0; k < c->loop_n; k++)
            if (atomic_load(&c->loop_runs[k]) != 1)
                atomic_fetch_add(&c->wrong, 1);
    }
    atomic_fetch_add(&c->consumed, 1);
    return i != c->stop_at;
}

static void check_init(check *c, size_t n, size_t window, uint64_t max_weight, size_t stop_at)
{
    memset(c, 0, sizeof *c);
    c->n = n;
    c->window = window;
    c->max_weight = max_weight;
    c->stop_at = stop_at;
    c->prefix = dd_malloc((n + 1) * sizeof *c->prefix);
    c->prefix[0] = 0;
    for (size_t i = 0; i < n; i++)
        c->prefix[i + 1] = c->prefix[i] + weight_of(i);
}

static bool run_map(check *c, unsigned threads)
{
    dd_ordered_map m = {.n = c->n,
                        .threads = threads,
                        .window = c->window,
                        .max_weight = c->max_weight,
                        .ctx = c,
                        .result_size = sizeof(result),
                        .weight = item_weight,
                        .worker_new = new_worker,
                        .worker_free = free_worker,
                        .work = work,
                        .consume = consume};
    return dd_run_in_order(&m);
}

static void every_item_once_in_order_within_the_window(void **state)
{
    (void)state;
    static const size_t windows[] = {1, 2, 3, 7, 16, 64};
    static const uint64_t max_weights[] = {UINT64_MAX, 3000, 500}; /* 500: often one item alone */
    for (unsigned threads = 1; threads <= 8; threads++)
        for (size_t w = 0; w < sizeof windows / sizeof *windows; w++)
            for (size_t b = 0; b < sizeof max_weights / sizeof *max_weights; b++) {
                check c;
                size_t n = 500 + threads * 37 + w * 11;
                check_init(&c, n, windows[w], max_weights[b], NONE);
                assert_true(run_map(&c, threads));
                assert_int_equal(atomic_load(&c.wrong), 0);
                assert_int_equal(c.next, n);
                assert_int_equal(atomic_load(&c.worked), n);
                assert_int_equal(atomic_load(&c.consumed), n);
                free(c.prefix);
            }
}

static void a_consume_that_stops_ends_the_run_there(void **state)
{
    (void)state;
    for (unsigned threads = 1; threads <= 8; threads++)
        for (size_t stop_at = 0; stop_at < 300; stop_at += 37) {
            check c;
            check_init(&c, 300, 16, 4000, stop_at);
            assert_false(run_map(&c, threads));
            assert_int_equal(atomic_load(&c.wrong), 0);
            assert_int_equal(c.next, stop_at + 1); /* nothing after it consumed */
            /* Worked on: what was in the window at most. */
            assert_true(atomic_load(&c.worked) >= stop_at + 1);
            assert_true(atomic_load(&c.worked) <= stop_at + 16);
            free(c.prefix);
        }
}

static void loops_from_consume_run_every_item_once(void **state)
{
    (void)state;
    static const size_t loop_sizes[] = {0, 1, 2, 5, 64, 1000};
    for (unsigned threads = 1; threads <= 8; threads++)
        for (size_t l = 0; l < sizeof loop_sizes / sizeof *loop_sizes; l++) {
            check c;
            check_init(&c, 400, 8 * threads, UINT64_MAX, NONE);
            c.loop_n = loop_sizes[l];
            c.loop_runs = dd_calloc(c.loop_n ? c.loop_n : 1, sizeof *c.loop_runs);
            assert_true(run_map(&c, threads));
            assert_int_equal(atomic_load(&c.wrong), 0);
            assert_int_equal(c.next, 400);
            free(c.loop_runs);
            free(c.prefix);
        }
}

/* ---- the pool */

typedef struct pool_loop {
    size_t n;
    atomic_uint *runs;
    uint64_t seed;
} pool_loop;

static void pool_item(void *ctx, void *worker, size_t i)
{
    (void)worker;
    pool_loop *l = ctx;
    spin(mix(i ^ l->seed));
    atomic_fetch_add(&l->runs[i], 1);
}

static void the_pool_runs_every_item_of_every_loop_once(void **state)
{
    (void)state;
    static const size_t sizes[] = {0, 1, 2, 3, 17, 350, 2000};
    for (unsigned threads = 1; threads <= 8; threads++) {
        check c = {0};
        dd_pool *p = dd_pool_new("test", threads, &c, new_worker, free_worker);
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++)
            for (uint64_t seed = 0; seed < 3; seed++) {
                pool_loop l = {.n = sizes[s], .seed = seed};
                l.runs = dd_calloc(l.n ? l.n : 1, sizeof *l.runs);
                dd_pool_for(p, l.n, &l, pool_item);
                for (size_t i = 0; i < l.n; i++)
                    assert_int_equal(atomic_load(&l.runs[i]), 1);
                free(l.runs);
            }
        dd_pool_free(p);
        /* The calling thread's state and one a worker, each made once. */
        assert_true(atomic_load(&c.workers) <= threads);
    }
}

/* A pool kept while the calling thread runs other threads' work (the
 * clustering's, kept for the rounds' placing: run/corpus.c): an ordered map
 * and another pool between its loops. Its loops still run every item
 * once, and its workers' states are made once, not a loop. */
static void a_pool_kept_beside_other_work_runs_its_loops_again(void **state)
{
    (void)state;
    for (unsigned threads = 2; threads <= 4; threads++) {
        check kept_workers = {0};
        dd_pool *kept = dd_pool_new("kept", threads, &kept_workers, new_worker, free_worker);
        for (uint64_t seed = 0; seed < 4; seed++) {
            pool_loop l = {.n = 300 + seed * 41, .seed = seed};
            l.runs = dd_calloc(l.n, sizeof *l.runs);
            dd_pool_for(kept, l.n, &l, pool_item);
            for (size_t i = 0; i < l.n; i++)
                assert_int_equal(atomic_load(&l.runs[i]), 1);
            free(l.runs);

            /* Meanwhile: a map in order, and a pool of its own. */
            check c;
            check_init(&c, 200, 8, UINT64_MAX, NONE);
            assert_true(run_map(&c, threads));
            assert_int_equal(atomic_load(&c.wrong), 0);
            assert_int_equal(c.next, 200);
            free(c.prefix);
            check other_workers = {0};
            dd_pool *other = dd_pool_new("other", threads, &other_workers, new_worker, free_worker);
            pool_loop o = {.n = 500, .seed = seed + 100};
            o.runs = dd_calloc(o.n, sizeof *o.runs);
            dd_pool_for(other, o.n, &o, pool_item);
            dd_pool_free(other);
            for (size_t i = 0; i < o.n; i++)
                assert_int_equal(atomic_load(&o.runs[i]), 1);
            free(o.runs);
            /* (a worker makes its state when its thread starts, which may
             * be after a loop the calling thread ran alone) */
            assert_true(atomic_load(&kept_workers.workers) <= threads);
        }
        dd_pool_free(kept);
        assert_true(atomic_load(&kept_workers.workers) <= threads);
    }
}

/* A loop in order: each item writes its result (a function of i) once it
 * has run; the calling thread, having waited for item i, finds it there
 * and checks that no item ran twice. */
typedef struct ordered_loop {
    size_t n;
    atomic_uint *runs;
    uint64_t *result;
    uint64_t seed;
} ordered_loop;

static void ordered_item(void *ctx, void *worker, size_t i)
{
    (void)worker;
    ordered_loop *l = ctx;
    spin(mix(i ^ l->seed));
    l->result[i] = mix(i + 1);
    atomic_fetch_add(&l->runs[i], 1);
}

static void a_loop_in_order_gives_each_result_once_waited_for(void **state)
{
    (void)state;
    static const size_t sizes[] = {0, 1, 2, 3, 17, 350, 2000};
    for (unsigned threads = 1; threads <= 8; threads++) {
        check c = {0};
        dd_pool *p = dd_pool_new("test", threads, &c, new_worker, free_worker);
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++)
            for (uint64_t seed = 0; seed < 3; seed++) {
                ordered_loop l = {.n = sizes[s], .seed = seed};
                l.runs = dd_calloc(l.n ? l.n : 1, sizeof *l.runs);
                l.result = dd_calloc(l.n ? l.n : 1, sizeof *l.result);
                dd_pool_start(p, l.n, &l, ordered_item);
                /* Waiting for only some of them (seed 2: none) is allowed. */
                size_t waited = seed == 2 ? 0 : seed == 1 ? l.n / 2 : l.n;
                for (size_t i = 0; i < waited; i++) {
                    dd_pool_wait(p, i);
                    assert_int_equal(atomic_load(&l.runs[i]), 1);
                    assert_true(l.result[i] == mix(i + 1));
                }
                dd_pool_finish(p);
                for (size_t i = 0; i < l.n; i++) {
                    assert_int_equal(atomic_load(&l.runs[i]), 1);
                    assert_true(l.result[i] == mix(i + 1));
                }
                /* The pool's ordinary loops run as before after one. */
                pool_loop after = {.n = sizes[s], .seed = seed};
                after.runs = dd_calloc(after.n ? after.n : 1, sizeof *after.runs);
                dd_pool_for(p, after.n, &after, pool_item);
                for (size_t i = 0; i < after.n; i++)
                    assert_int_equal(atomic_load(&after.runs[i]), 1);
                free(after.runs);
                free(l.runs);
                free(l.result);
            }
        dd_pool_free(p);
        assert_true(atomic_load(&c.workers) <= threads);
    }
}

/* Many short loops of both kinds, back to back, items of next to no cost:
 * the threads claim, finish and sleep while the calling thread publishes
 * the next loop, so that a worker late from one loop meets the next. Each
 * item checks that it belongs to its loop (its index under the loop's n)
 * and counts itself in its loop's own array: an item of one loop run with
 * another's context or index shows as a count that is not 1. */
typedef struct short_loop {
    size_t n;
    atomic_uint *runs;
    uint64_t *result;
    atomic_size_t *wrong;
} short_loop;

static void short_item(void *ctx, void *worker, size_t i)
{
    short_loop *l = ctx;
    *(uint64_t *)worker += 1; /* a state of this thread's own */
    if (i >= l->n) {
        atomic_fetch_add(l->wrong, 1);
        return;
    }
    if (i % 7 == 3)
        spin(i); /* now and then an item that takes a little longer */
    l->result[i] = mix(i ^ l->n);
    atomic_fetch_add(&l->runs[i], 1);
}

static void many_short_loops_of_both_kinds_run_every_item_once(void **state)
{
    (void)state;
    for (unsigned threads = 2; threads <= 8; threads++) {
        check c = {0};
        atomic_size_t wrong = 0;
        dd_pool *p = dd_pool_new("test", threads, &c, new_worker, free_worker);
        /* Two loops' arrays, used in turn: what a late item of the loop
         * before would write lands in the other one, checked again. */
        enum { MOST = 40 };
        atomic_uint runs[2][MOST];
        uint64_t results[2][MOST];
        size_t before_n = 0;
        for (unsigned round = 0; round < 3000; round++) {
            unsigned which = round % 2;
            short_loop l = {.n = mix(round) % MOST, .runs = runs[which],
                            .result = results[which], .wrong = &wrong};
            for (size_t i = 0; i < MOST; i++)
                atomic_store(&l.runs[i], 0);
            unsigned kind = (unsigned)(mix(round + 1) % 3);
            if (kind == 0) {
                dd_pool_for(p, l.n, &l, short_item);
            } else {
                dd_pool_start(p, l.n, &l, short_item);
                /* kind 1: every item waited for, in order; kind 2: the
                 * first third, then the rest left to finish. */
                size_t waited = kind == 1 ? l.n : l.n / 3;
                for (size_t i = 0; i < waited; i++) {
                    dd_pool_wait(p, i);
                    if (atomic_load(&l.runs[i]) != 1 || l.result[i] != mix(i ^ l.n))
                        atomic_fetch_add(&wrong, 1);
                }
                dd_pool_finish(p);
            }
            for (size_t i = 0; i < MOST; i++)
                if (atomic_load(&l.runs[i]) != (i < l.n) ||
                    (i < l.n && l.result[i] != mix(i ^ l.n)))
                    atomic_fetch_add(&wrong, 1);
            /* The other array: no item of the loop before ran late. */
            for (size_t i = 0; round > 0 && i < MOST; i++)
                if (atomic_load(&runs[!which][i]) != (i < before_n))
                    atomic_fetch_add(&wrong, 1);
            before_n = l.n;
        }
        dd_pool_free(p);
        assert_int_equal(atomic_load(&wrong), 0);
        assert_true(atomic_load(&c.workers) <= threads);
    }
}

/* ---- a stream */

typedef struct stream {
    check c;
    size_t ahead_max;          /* dd_run_stream_ahead's max, 0: not used */
    size_t ahead_checked;      /* items seen ahead, and checked there */
    bool pending;              /* a loop started (loop_runs, loop_n), not joined yet */
    bool caller_works;         /* dd_stream_map.caller_works */
    pthread_t caller;          /* the thread that runs the map */
    atomic_size_t worked_here; /* items worked on by the calling thread */
    bool workers_wait;         /* a worker's item waits until the caller worked on one */
} stream;

typedef struct stream_slot {
    result r;
    size_t produced; /* the item produce put there */
} stream_slot;

static bool produce(void *ctx, size_t i, void *slot, uint64_t *weight)
{
    stream *s = ctx;
    if (i >= s->c.n)
        return false;
    /* Produced when the window has room: item i - window consumed. */
    if (i >= s->c.window && atomic_load(&s->c.consumed) < i - s->c.window + 1)
        atomic_fetch_add(&s->c.wrong, 1);
    ((stream_slot *)slot)->produced = i;
    *weight = weight_of(i);
    return true;
}

static void stream_work(void *ctx, void *worker, size_t i, void *slot)
{
    stream *s = ctx;
    stream_slot *t = slot;
    if (t->produced != i)
        atomic_fetch_add(&s->c.wrong, 1);
    /* So that the calling thread must work (the workers hold their items
     * until it has, whatever the scheduling): 10 s at most, then the test
     * fails rather than hangs. */
    bool here = pthread_equal(pthread_self(), s->caller);
    for (int ms = 0; s->workers_wait && !here && !atomic_load(&s->worked_here) && ms < 10000; ms++)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    *(uint64_t *)worker += 1;
    t->r.item = i;
    t->r.value = spin(mix(i));
    atomic_fetch_add(&s->c.worked, 1);
    if (here)
        atomic_fetch_add(&s->worked_here, 1);
}

static bool stream_consume(void *ctx, size_t i, void *slot)
{
    stream *s = ctx;
    stream_slot *t = slot;
    if (i != s->c.next || t->r.item != i || t->r.value != spin(mix(i)))
        atomic_fetch_add(&s->c.wrong, 1);
    s->c.next = i + 1;
    if (s->ahead_max && i % 5 == 0) {
        /* The items after i, worked on already. */
        stream_slot *slots[64];
        size_t n = dd_run_stream_ahead(s->ahead_max, (void **)slots);
        if (n < 1 || n > s->ahead_max || slots[0] != t)
            atomic_fetch_add(&s->c.wrong, 1);
        for (size_t k = 1; k < n; k++) {
            if (slots[k]->r.item != i + k || slots[k]->r.value != spin(mix(i + k)))
                atomic_fetch_add(&s->c.wrong, 1);
            s->ahead_checked++;
        }
        /* And those from i + 3 on; none with one thread. */
        n = dd_run_stream_ahead_from(3, s->ahead_max, (void **)slots);
        if (n > s->ahead_max || (n && s->c.n - i <= 3))
            atomic_fetch_add(&s->c.wrong, 1);
        for (size_t k = 0; k < n; k++) {
            if (slots[k]->r.item != i + 3 + k || slots[k]->r.value != spin(mix(i + 3 + k)))
                atomic_fetch_add(&s->c.wrong, 1);
            s->ahead_checked++;
        }
    }
    /* Now and then, a loop started here and joined in a later consume
     * (or by the run, at its end). */
    if (s->c.loop_runs && i % 7 == 3) {
        if (s->pending) {
            dd_run_loop_join();
            for (size_t k = 0; k < s->c.loop_n; k++)
                if (atomic_load(&s->c.loop_runs[k]) != 1)
                    atomic_fetch_add(&s->c.wrong, 1);
        }
        for (size_t k = 0; k < s->c.loop_n; k++)
            atomic_store(&s->c.loop_runs[k], 0);
        dd_run_loop_start(s->c.loop_n, &s->c, loop_item);
        s->pending = true;
    }
    atomic_fetch_add(&s->c.consumed, 1);
    return i != s->c.stop_at;
}

static bool run_stream(stream *s, unsigned threads)
{
    s->caller = pthread_self();
    dd_stream_map m = {.threads = threads,
                       .caller_works = s->caller_works,
                       .window = s->c.window,
                       .max_weight = s->c.max_weight,
                       .ctx = s,
                       .slot_size = sizeof(stream_slot),
                       .produce = produce,
                       .worker_new = new_worker,
                       .worker_free = free_worker,
                       .work = stream_work,
                       .consume = stream_consume};
    return dd_run_stream(&m);
}

static void a_stream_is_consumed_in_order_with_its_look_ahead(void **state)
{
    (void)state;
    static const size_t windows[] = {1, 4, 32, 64};
    for (unsigned threads = 1; threads <= 8; threads++)
        for (size_t w = 0; w < sizeof windows / sizeof *windows; w++)
            for (size_t stop = 0; stop < 2; stop++) {
                stream s = {0};
                size_t n = 600, stop_at = stop ? 311 : NONE;
                check_init(&s.c, n, windows[w], w % 2 ? 2500 : UINT64_MAX, stop_at);
                s.ahead_max = windows[w] / 4 > 1 ? windows[w] / 4 : 0;
                assert_true(run_stream(&s, threads) == !stop);
                assert_int_equal(atomic_load(&s.c.wrong), 0);
                assert_int_equal(s.c.next, stop ? stop_at + 1 : n);
                if (threads > 1 && s.ahead_max && !stop)
                    assert_true(s.ahead_checked > 0);
                free(s.c.prefix);
            }
}

static void a_loop_started_in_consume_runs_once_when_joined_later(void **state)
{
    (void)state;
    static const size_t loop_sizes[] = {0, 1, 5, 64, 1000};
    for (unsigned threads = 1; threads <= 8; threads++)
        for (size_t l = 0; l < sizeof loop_sizes / sizeof *loop_sizes; l++)
            for (size_t stop = 0; stop < 2; stop++) {
                stream s = {0};
                size_t n = 300, stop_at = stop ? 150 : NONE;
                check_init(&s.c, n, 8 * threads, UINT64_MAX, stop_at);
                s.c.loop_n = loop_sizes[l];
                s.c.loop_runs = dd_calloc(s.c.loop_n ? s.c.loop_n : 1, sizeof *s.c.loop_runs);
                s.ahead_max = 2 * threads;
                assert_true(run_stream(&s, threads) == !stop);
                assert_int_equal(atomic_load(&s.c.wrong), 0);
                /* The loop left pending was joined by the run. */
                assert_true(s.pending);
                for (size_t k = 0; k < s.c.loop_n; k++)
                    assert_int_equal(atomic_load(&s.c.loop_runs[k]), 1);
                free(s.c.loop_runs);
                free(s.c.prefix);
            }
}

/* With caller_works, the calling thread is one of the threads: threads - 1
 * workers, and it works on items itself when it would wait for them; the
 * same items, consumed in the same order, with look-ahead and loops. */
static void a_stream_whose_calling_thread_works_is_one_of_its_threads(void **state)
{
    (void)state;
    static const size_t windows[] = {1, 4, 32, 64};
    for (unsigned threads = 1; threads <= 8; threads++)
        for (size_t w = 0; w < sizeof windows / sizeof *windows; w++)
            for (size_t stop = 0; stop < 2; stop++) {
                /* With a window of 32 or more, threads - 1 workers taking
                 * one item each leave items the caller takes when it would
                 * wait for theirs. */
                stream s = {.caller_works = true, .workers_wait = threads > 1 && windows[w] >= 32};
                size_t n = 600, stop_at = stop ? 311 : NONE;
                check_init(&s.c, n, windows[w], w % 2 ? 2500 : UINT64_MAX, stop_at);
                s.ahead_max = windows[w] / 4 > 1 ? windows[w] / 4 : 0;
                s.c.loop_n = 5;
                s.c.loop_runs = dd_calloc(s.c.loop_n, sizeof *s.c.loop_runs);
                assert_true(run_stream(&s, threads) == !stop);
                assert_int_equal(atomic_load(&s.c.wrong), 0);
                assert_int_equal(s.c.next, stop ? stop_at + 1 : n);
                /* threads - 1 workers and the calling thread's state, for
                 * its items and loops: at most one state a thread */
                assert_true(atomic_load(&s.c.workers) <= threads);
                /* it worked on items (all of them, alone) */
                if (threads == 1)
                    assert_int_equal(atomic_load(&s.worked_here), atomic_load(&s.c.worked));
                else if (s.workers_wait)
                    assert_true(atomic_load(&s.worked_here) > 0);
                free(s.c.loop_runs);
                free(s.c.prefix);
            }
}

/* A map of items known up front whose calling thread is one of its
 * threads (dd_ordered_map.caller_works, as scan's first pass): the check
 * of every_item_once_in_order_within_the_window, and the calling thread's
 * items counted. */
typedef struct ordered_here {
    check c; /* first: work and consume take it as their check */
    pthread_t caller;
    atomic_size_t worked_here;
    bool workers_wait; /* a worker's item waits until the caller worked on one */
} ordered_here;

static void work_here_too(void *ctx, void *worker, size_t i, void *slot)
{
    ordered_here *h = ctx;
    bool here = pthread_equal(pthread_self(), h->caller);
    /* As in stream_work: the workers hold their items until the calling
     * thread has worked on one, 10 s at most. */
    for (int ms = 0; h->workers_wait && !here && !atomic_load(&h->worked_here) && ms < 10000;
         ms++)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    work(&h->c, worker, i, slot);
    if (here)
        atomic_fetch_add(&h->worked_here, 1);
}

static void a_map_whose_calling_thread_works_is_one_of_its_threads(void **state)
{
    (void)state;
    static const size_t windows[] = {1, 4, 32, 64};
    for (unsigned threads = 1; threads <= 8; threads++)
        for (size_t w = 0; w < sizeof windows / sizeof *windows; w++)
            for (size_t stop = 0; stop < 2; stop++) {
                ordered_here h = {.caller = pthread_self(),
                                  .workers_wait = threads > 1 && windows[w] >= 32};
                size_t n = 500, stop_at = stop ? 257 : NONE;
                check_init(&h.c, n, windows[w], w % 2 ? 3000 : UINT64_MAX, stop_at);
                h.c.loop_n = 5;
                h.c.loop_runs = dd_calloc(h.c.loop_n, sizeof *h.c.loop_runs);
                dd_ordered_map m = {.n = n,
                                    .threads = threads,
                                    .caller_works = true,
                                    .window = h.c.window,
                                    .max_weight = h.c.max_weight,
                                    .ctx = &h,
                                    .result_size = sizeof(result),
                                    .weight = item_weight,
                                    .worker_new = new_worker,
                                    .worker_free = free_worker,
                                    .work = work_here_too,
                                    .consume = consume};
                assert_true(dd_run_in_order(&m) == !stop);
                assert_int_equal(atomic_load(&h.c.wrong), 0);
                assert_int_equal(h.c.next, stop ? stop_at + 1 : n);
                /* threads - 1 workers and the calling thread's state */
                assert_true(atomic_load(&h.c.workers) <= threads);
                if (threads == 1)
                    assert_int_equal(atomic_load(&h.worked_here), atomic_load(&h.c.worked));
                else if (h.workers_wait)
                    assert_true(atomic_load(&h.worked_here) > 0);
                free(h.c.loop_runs);
                free(h.c.prefix);
            }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_item_once_in_order_within_the_window),
        cmocka_unit_test(a_consume_that_stops_ends_the_run_there),
        cmocka_unit_test(loops_from_consume_run_every_item_once),
        cmocka_unit_test(the_pool_runs_every_item_of_every_loop_once),
        cmocka_unit_test(a_pool_kept_beside_other_work_runs_its_loops_again),
        cmocka_unit_test(a_loop_in_order_gives_each_result_once_waited_for),
        cmocka_unit_test(many_short_loops_of_both_kinds_run_every_item_once),
        cmocka_unit_test(a_stream_is_consumed_in_order_with_its_look_ahead),
        cmocka_unit_test(a_loop_started_in_consume_runs_once_when_joined_later),
        cmocka_unit_test(a_stream_whose_calling_thread_works_is_one_of_its_threads),
        cmocka_unit_test(a_map_whose_calling_thread_works_is_one_of_its_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
