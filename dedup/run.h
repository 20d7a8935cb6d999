/*
 * run.h - how a run uses the cores: the only place in dedup with threads.
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
 * calling thread.
 *
 * For measuring (bench/bench_threads.sh): with DEDUP_RUN_STATS set in the
 * environment, a run ends by writing to stderr its wall time, the CPU time
 * of all work and of all consume (the serial part), and how long the
 * consumer waited for results.
 */
#ifndef DD_RUN_H
#define DD_RUN_H

#include "shingle.h"

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
 *   - The calling thread consumes the results that are ready before it
 *     reads further, and waits only when the window is full or the stream
 *     ended: then for a few results in a row (an eighth of the window, at
 *     most 16), so that it and the workers do not wake each other for every
 *     item. When consume stops the run, nothing more is read and the run
 *     returns once the workers finished the items they were working on:
 *     no thread is ever left waiting for input.
 * With threads == 1 no thread is made: produce, work and consume alternate
 * on the calling thread, item by item. DEDUP_RUN_STATS adds the CPU time of
 * all produce, serial too ("read").
 */
typedef struct dd_stream_map {
    unsigned threads;    /* worker threads, at least 1 */
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

/* The number of online CPUs (at least 1): the default of -j. */
unsigned dd_online_cpus(void);

#endif
