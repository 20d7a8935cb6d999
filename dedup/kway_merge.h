/*
 * kway_merge.h - the one k-way merge of sorted runs of fixed-size records,
 * read back a buffer of each run at a time: how a structure written in
 * runs, each in order (and perhaps out of memory: io/scratch_array.h), is
 * read in order without holding it or sorting it. The round's drops (a run
 * a pass of the findings) and the later occurrences of paragraphs (a run
 * a part) are read so (engine/paragraphs.c), and the sweep's runs of pairs
 * (run/cluster_sweep.c).
 *
 * What it owns: a buffer a run, of up to per_run records (no more than
 * the run holds), and a heap of the runs with records left, by their next
 * records (util.h: dd_heap_sift_down). The records are the caller's: the
 * merge reads each once, through its source, in order of the run, and
 * never writes them.
 *
 * The order: by the source's compare; records that compare equal come out
 * by run (the lower run's first) and, in a run, as they are in it. So the
 * merge gives what a stable sort of the runs put end to end would give,
 * whatever per_run is.
 *
 * What can fail: nothing it returns. Running out of memory ends the
 * process, as everywhere (util.h: dd_malloc); a read that the source
 * cannot make is the source's to end the process for (a scratch array
 * does) or to end the run early (a read of none).
 *
 * Threads: a merge is for one thread at a time. Merges over the same
 * records on several threads are fine when the source's read is
 * thread-safe.
 */
#ifndef DD_KWAY_MERGE_H
#define DD_KWAY_MERGE_H

#include <stdbool.h>
#include <stddef.h>

/* The runs to merge and how to read them. ctx is the callbacks' (it must
 * outlive the merge). */
typedef struct dd_kway_source {
    const void *ctx;
    size_t size;  /* of a record, in bytes */
    size_t nruns; /* run 0 to nruns - 1 */
    /* How many records run r holds. */
    size_t (*length)(const void *ctx, size_t r);
    /* Copies to out up to n (at least one) records of run r from its
     * record `from` on (from is below its length); returns how many (none:
     * the run ends there). */
    size_t (*read)(const void *ctx, size_t r, size_t from, void *out, size_t n);
    /* qsort's comparison of two records: each run is in this order. */
    int (*compare)(const void *a, const void *b);
} dd_kway_source;

typedef struct dd_kway_merge dd_kway_merge;

/* Starts merging the runs of src (copied), with a buffer of up to per_run
 * records a run (at least one), each filled by a first read. */
dd_kway_merge *dd_kway_merge_new(const dd_kway_source *src, size_t per_run);

/* The least record left, or NULL after the last: valid until the next
 * dd_kway_merge_next. */
const void *dd_kway_merge_peek(const dd_kway_merge *m);

/* Takes the least record left, copied to out (unless out is NULL); false
 * after the last. */
bool dd_kway_merge_next(dd_kway_merge *m, void *out);

/* The bytes m holds: its buffers, heap and runs. */
size_t dd_kway_merge_bytes(const dd_kway_merge *m);

/* The same for a merge of src with per_run not started yet (for measuring
 * ahead). */
size_t dd_kway_merge_bytes_for(const dd_kway_source *src, size_t per_run);

void dd_kway_merge_free(dd_kway_merge *m);

/* A source's read of records held in memory: copies to out up to n of the
 * `have` records (of size bytes each) at v, from record `from` on;
 * returns how many (none when from is past them). */
size_t dd_kway_read_held(const void *v, size_t have, size_t from, void *out, size_t n, size_t size);

#endif
