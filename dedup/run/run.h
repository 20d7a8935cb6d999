/*
 * run.h - how a run uses the cores: the only place in dedup with threads.
 * Two shapes: dd_run_in_order, which analyses documents on workers and
 * hands their results to the calling thread in rank order, and dd_pool
 * (below), loops of independent items, which verifies candidate pairs.
 *
 * dd_run_in_order is an ordered parallel map, the shape of minimap2's
 * read/map/write pipeline and of zstd's multithreaded compressor: items
 * 0..n-1 (documents, in rank order) are worked on by `threads` worker
 * threads, each with its own state, and their results are consumed by the
 * calling thread strictly in item order, one at a time, whatever order the
 * workers finish in. So what the consumer does, and therefore every output,
 * is the same for any number of threads.
 *
 * The contract of what runs where:
 *   - work(ctx, worker, i, result) runs on a worker thread (on the calling
 *     thread with one thread). It must be pure with respect to the run: it
 *     may read ctx (shared, read-only while the map runs), use its own
 *     worker state (made by worker_new on that thread's behalf, used by
 *     that thread only) and write result; nothing else. Messages it writes
 *     with dd_error / dd_warn are captured in result's messages buffer
 *     (dd_messages_capture), not printed.
 *   - consume(ctx, i, result) runs on the calling thread, for i = 0, 1, ...
 *     in order: everything order-dependent (shared tables, counts, the
 *     progress line, printing the captured messages) happens there.
 *     Returning false stops the run: no later item is consumed.
 *   - Memory is bounded by the window: at most `window` items are worked on
 *     or waiting to be consumed, and their weights (weight(ctx, i): say the
 *     bytes of a document) add up to at most max_weight, except that the
 *     next item to consume is always allowed. A result slot is reused for
 *     item i + window: work finds there what the slot held (its buffers),
 *     to reuse.
 * With threads == 1 no thread is made: work and consume alternate on the
 * calling thread. (dd_run_in_order is dd_run_stream below over items known
 * up front: the same window, the same wake-ups.)
 *
 * For measuring (bench/bench_threads.sh): with DEDUP_RUN_STATS set in the
 * environment, a run ends by writing to stderr its wall time, the CPU time
 * of all work and of all consume (the serial part), how long the consumer
 * waited for results (and for the items of its loops that workers took),
 * and how long the workers waited for items (all of them together: a
 * window too small for what consume does starves them); with loops
 * (dd_run_loop), how many items they had, how many of them the calling
 * thread ran, and its CPU time in all.
 */
#ifndef DD_RUN_H
#define DD_RUN_H

#include "shingle.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What every result starts with: the messages its work wrote. */
typedef struct dd_run_result {
    sh_buf messages;
} dd_run_result;

typedef struct dd_ordered_map {
    size_t n;            /* items 0..n-1 */
    unsigned threads;    /* worker threads, at least 1 */
    /* The calling thread is one of `threads`, as in dd_stream_map below
     * (its contract): threads - 1 workers are made, and where the calling
     * thread would sleep for the next result (or in dd_run_loop_join) it
     * works on the next item no worker took. */
    bool caller_works;
    size_t window;       /* items in flight at most, at least 1 */
    uint64_t max_weight; /* of the items in flight (see above) */
    void *ctx;
    size_t result_size; /* bytes of a result, which begins with a dd_run_result */
    uint64_t (*weight)(void *ctx, size_t i); /* NULL: every item weighs 0 */
    void *(*worker_new)(void *ctx);          /* NULL: the worker's state is NULL */
    void (*worker_free)(void *ctx, void *worker);
    void (*work)(void *ctx, void *worker, size_t i, void *result);
    bool (*consume)(void *ctx, size_t i, void *result);
    void (*result_free)(void *ctx, void *result); /* the result's buffers, not messages */
} dd_ordered_map;

/* Runs the map (see above). Returns false when consume stopped it. A thread
 * that cannot be started is not fatal: fewer workers do the work (with
 * none, the calling thread does it). */
bool dd_run_in_order(const dd_ordered_map *m);

/* Called by consume only: runs work(ctx, worker, i) for i in 0..n-1 on
 * the map's workers and the calling thread, in any order and several at
 * once, before any more of the map's items, and returns when every one
 * has run (as dd_pool_for below, whose contract holds: work reads what
 * consume set up, writes what is item i's, says nothing on stderr). worker
 * is the state worker_new made for the thread it runs on (the calling
 * thread has one of its own). So consume can have independent work done
 * on every core without more threads than the map's. */
void dd_run_loop(size_t n, void *ctx, void (*work)(void *ctx, void *worker, size_t i));

/* dd_run_loop in two halves, so that consume can go on with work of its
 * own (deciding, writing) while the workers run the loop's items:
 * dd_run_loop_start publishes the loop and returns at once;
 * dd_run_loop_join runs on the calling thread the items no worker took
 * yet and returns when every item has run (at once when no loop is
 * pending). dd_run_loop is the one followed by the other. Between the two,
 * the items may run at any moment, on any thread: the calling thread
 * changes nothing that they read or write, and reads nothing that they
 * write, until it has joined the loop; what it does meanwhile is its own
 * (the items of other loops are not: one loop is pending at a time, and
 * starting one joins the one pending first). A loop may stay pending from
 * one consume to the next (its items must then not read the slots of the
 * items consumed meanwhile, which produce reuses); the run joins the one
 * pending before it returns. Workers take a pending loop's items before
 * the map's items, when they next look for work; with one thread the
 * items run when the loop is joined. */
void dd_run_loop_start(size_t n, void *ctx, void (*work)(void *ctx, void *worker, size_t i));
void dd_run_loop_join(void);

/*
 * dd_pool: worker threads for loops whose items do not depend on each other
 * (the exact verification of candidate pairs: each is a pure function of
 * two documents). A pool of `threads` is threads - 1 workers and the
 * calling thread, which works in each loop too, then waits for the items
 * the others took. The workers and their states live as long as the pool,
 * across its loops, so that what a worker caches (the sets it has made)
 * serves its later items.
 *
 * The contract of what runs where:
 *   - work(ctx, worker, i) runs on a worker thread or the calling thread,
 *     for every i in 0..n-1, in any order and several at once. It may read ctx and
 *     whatever the calling thread set up before dd_pool_for (shared,
 *     read-only during the loop), use its worker state (made by
 *     worker_new(pool_ctx) on that thread, used by it only), and write
 *     what belongs to item i only. It must not write on stderr: what it
 *     has to say goes into item i's result (dd_messages_capture), for the
 *     calling thread to say in its turn.
 *   - dd_pool_for returns once every item has run: what the items wrote
 *     is then the calling thread's to read, in whatever order it decides.
 * With threads == 1 (or when no thread can be started) no thread is made:
 * the calling thread runs the items, in order, with a worker state of its
 * own.
 *
 * With DEDUP_RUN_STATS set, dd_pool_free writes to stderr the pool's
 * loops, items, the CPU time of their work (the calling thread's part
 * included) and how long the calling thread waited for the others.
 */
typedef struct dd_pool dd_pool;

/* A pool of `threads` threads, the calling one included; name says what it
 * does (for the stats). worker_new and worker_free may be NULL (states are
 * then NULL); the calling thread's state is made when it first needs it. */
dd_pool *dd_pool_new(const char *name, unsigned threads, void *pool_ctx,
                     void *(*worker_new)(void *pool_ctx),
                     void (*worker_free)(void *pool_ctx, void *worker));
/* Runs work(ctx, worker, i) for i in 0..n-1 (see above). */
void dd_pool_for(dd_pool *p, size_t n, void *ctx,
                 void (*work)(void *ctx, void *worker, size_t i));
/*
 * A loop whose results the calling thread takes in order, as each is
 * ready, while the workers run the later items (the clustering: a batch's
 * documents are verified ahead on the workers while the calling thread
 * places those whose pairs are ready). dd_pool_start publishes the loop
 * (items 0..n-1, under dd_pool_for's contract) and returns at once; the
 * workers claim its items one at a time, in order. dd_pool_wait(p, i)
 * returns once item i has run: while it has not, the calling thread runs
 * the next item nobody took (or, with none left, waits). dd_pool_finish
 * returns once every item has run. Between dd_pool_start and
 * dd_pool_finish, what item i wrote is the calling thread's to read once
 * dd_pool_wait(p, i) returned; what the other items read, the calling
 * thread must not change. With no worker thread, dd_pool_wait runs the
 * items up to i on the calling thread. n is below 2^32 (a batch: the
 * clustering's are 512 documents); more aborts.
 */
void dd_pool_start(dd_pool *p, size_t n, void *ctx,
                   void (*work)(void *ctx, void *worker, size_t i));
void dd_pool_wait(dd_pool *p, size_t i);
void dd_pool_finish(dd_pool *p);
/* The worker threads running besides the calling one (0: the loops run on
 * the calling thread alone). */
unsigned dd_pool_threads(const dd_pool *p);
void dd_pool_free(dd_pool *p);

/*
 * dd_run_stream is the same map over a stream, whose items are not known up
 * front (dedup filter's records): the calling thread reads them, one at a
 * time, in order (produce), workers work on them, and the calling thread
 * consumes the results in the same order. A slot holds an item and its
 * result together (slot_size bytes, beginning with a dd_run_result): item
 * i is in slot i % window.
 *
 * The contract of what runs where, beside that of dd_run_in_order:
 *   - produce(ctx, i, slot, weight) runs on the calling thread, for i = 0,
 *     1, ... in order, between consumes: it puts item i into the slot
 *     (whose buffers are those of an earlier item, to reuse; item i -
 *     window was consumed), sets *weight (say the bytes of a record) and
 *     returns true; or returns false when there is no item i (the end of
 *     the stream, or a read error that the caller keeps and reports after
 *     the run, once every item before it was consumed). It may read and
 *     change ctx: no worker reads what produce changes.
 *   - work(ctx, worker, i, slot) reads the item in the slot and writes its
 *     result there; consume(ctx, i, slot) takes both.
 *   - Messages produce writes are captured like those of work and printed
 *     in order: with item i's, before what its work wrote; those written by
 *     a produce that found no item, after the last consume.
 *   - Memory is bounded by the window: at most `window` items are produced
 *     and not yet consumed, and a new item is produced only while the
 *     weights in flight are under max_weight (so they add up to at most
 *     max_weight plus one item's), except that with none in flight one
 *     always is.
 *   - The calling thread keeps the window full (reads while it has room)
 *     and consumes each result once it is ready; it waits only when the
 *     window is full or the stream ended and the next result is not
 *     ready: then for several results in a row (half the window; the
 *     workers claim several items at once and mark them done together),
 *     so that it and the workers do not wake each other for every item.
 *     When consume stops the run, nothing more is read and the run
 *     returns once the workers finished the items they were working on:
 *     no thread is ever left waiting for input.
 * With threads == 1 no thread is made: produce, work and consume alternate
 * on the calling thread, item by item. DEDUP_RUN_STATS adds the CPU time of
 * all produce, serial too ("read"), and with caller_works the items the
 * calling thread worked on.
 */
typedef struct dd_stream_map {
    unsigned threads;    /* worker threads, at least 1 */
    /* The calling thread is one of `threads`: threads - 1 workers are
     * made, and whenever the calling thread would wait (for the next
     * results, in dd_run_stream_ahead, or in dd_run_loop_join for the
     * loop items workers took), it works on the next item no worker took
     * instead, one at a time, with a worker state of its own (the one
     * worker_new made for its loops). Workers then claim one item at a
     * time, and the calling thread waits for the next result only (it
     * may be what it waits for). So -j 2 is two threads on two cores, not
     * two workers and a consumer that take turns on them. Work then also
     * runs on the calling thread in the middle of a consume (within
     * those calls), so it must be as pure as above: it reads nothing
     * that consume changes. */
    bool caller_works;
    size_t window;       /* items in flight at most, at least 1 */
    uint64_t max_weight; /* of the items in flight (see above) */
    void *ctx;
    size_t slot_size; /* bytes of a slot, which begins with a dd_run_result */
    bool (*produce)(void *ctx, size_t i, void *slot, uint64_t *weight);
    void *(*worker_new)(void *ctx); /* NULL: the worker's state is NULL */
    void (*worker_free)(void *ctx, void *worker);
    void (*work)(void *ctx, void *worker, size_t i, void *slot);
    bool (*consume)(void *ctx, size_t i, void *slot);
    void (*slot_free)(void *ctx, void *slot); /* the slot's buffers, not messages */
} dd_stream_map;

/* Runs the map over the stream (see above). Returns false when consume
 * stopped it. As dd_run_in_order, a thread that cannot be started is not
 * fatal. */
bool dd_run_stream(const dd_stream_map *m);

/* Called by a stream map's consume(i) only, to take the next items with
 * item i (dedup filter decides records a batch at a time, with the pure
 * part of deciding done ahead on the workers: dd_run_loop). Reads items
 * while the window has room, waits until items i + 1 .. i + n - 1 have
 * been worked on, and returns n, slots[k] being item i + k's slot: the
 * items read after i, at most max, and item i itself. Their consume calls
 * follow, in order, as always. With one thread (no worker) it returns 1
 * at once: items are read one at a time there. */
size_t dd_run_stream_ahead(size_t max, void **slots);
/* The same, for the items from i + from on (from >= 1), i being the item
 * consume(i) is consuming: reads items while the window has room, waits
 * until items i + from .. i + from + n - 1 have been worked on, and
 * returns n, slots[k] being item i + from + k's slot: at most max, as
 * many as the window holds (0: none). dedup filter takes its next batch
 * so, to have its lookups done on the workers while it decides the
 * batch before it. With one thread it returns 0. */
size_t dd_run_stream_ahead_from(size_t from, size_t max, void **slots);
/* For measuring (DEDUP_RUN_STATS set): writes to stderr the wall time,
 * the process's CPU time (all threads, user + system; and of it the
 * system time), its page faults that read no disk (first touches of
 * memory) and the bytes it read and wrote (all of its read and write
 * calls, and of them what the storage read or was to write: the page
 * cache's misses, from /proc/self/io) since the previous phase ended (the
 * first: since the process started), naming the phase that just ended.
 * DEDUP_RUN_PHASES set instead does the same without the run's other
 * figures (the maps' and pools' clocks of each thread, a system call an
 * item or two): for bench/bench_timeline.sh, which marks the phases by the
 * getrusage call made here and would otherwise count those calls in the
 * serial part. Does nothing without either. Calling thread only. */
void dd_run_phase_done(const char *name);

/* Initialises a mutex that threads hold for a few instructions at a time
 * (a claim, marks, a copy of a set): one that finds it taken spins a
 * little before it sleeps (glibc's adaptive mutex; elsewhere, a default
 * mutex), rather than a futex call to sleep and another to wake it. */
void dd_run_lock_init(pthread_mutex_t *lock);

/* The number of online CPUs (at least 1): the default of -j. */
unsigned dd_online_cpus(void);

#endif
