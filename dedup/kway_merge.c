/*
 * kway_merge.c - the k-way merge of sorted runs (kway_merge.h).
 */
#include "kway_merge.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* A run being read: its buffer holds records [at, n) not taken yet. */
typedef struct kway_run {
    unsigned char *buf;
    size_t at, n, cap;
    size_t next, length; /* the next record of the run to read, and how many it holds */
} kway_run;

struct dd_kway_merge {
    dd_kway_source src;
    kway_run *runs;
    unsigned char *bufs; /* the runs' buffers, one after another */
    size_t buffered;     /* records they hold in all */
    size_t *heap;        /* runs with records left, the one of the least next record on top */
    size_t nheap;
};

/* Fills run k's buffer; false when it is done. */
static bool refill(dd_kway_merge *m, size_t k)
{
    kway_run *r = &m->runs[k];
    size_t want = r->length - r->next < r->cap ? r->length - r->next : r->cap;
    r->at = 0;
    r->n = want ? m->src.read(m->src.ctx, k, r->next, r->buf, want) : 0;
    r->next += r->n;
    return r->n > 0;
}

static const void *next_of(const dd_kway_merge *m, size_t k)
{
    const kway_run *r = &m->runs[k];
    return r->buf + r->at * m->src.size;
}

/* dd_heap_sift_down's order of the runs: by their next records, then by
 * run (what makes equal records come out as a stable sort has them). */
static bool run_before(const void *ctx, size_t x, size_t y)
{
    const dd_kway_merge *m = ctx;
    int c = m->src.compare(next_of(m, x), next_of(m, y));
    return c != 0 ? c < 0 : x < y;
}

/* The records of the buffer of a run of length records. */
static size_t buffer_records(size_t length, size_t per_run)
{
    return length < per_run ? length : per_run;
}

dd_kway_merge *dd_kway_merge_new(const dd_kway_source *src, size_t per_run)
{
    size_t n = src->nruns;
    dd_kway_merge *m = dd_calloc(1, sizeof *m);
    m->src = *src;
    m->runs = dd_calloc(n ? n : 1, sizeof *m->runs);
    m->heap = dd_malloc((n ? n : 1) * sizeof *m->heap);
    for (size_t k = 0; k < n; k++) {
        kway_run *r = &m->runs[k];
        r->length = src->length(src->ctx, k);
        r->cap = buffer_records(r->length, per_run);
        m->buffered += r->cap;
    }
    m->bufs = dd_malloc((m->buffered ? m->buffered : 1) * src->size);
    for (size_t k = 0, at = 0; k < n; k++) {
        m->runs[k].buf = m->bufs + at * src->size;
        at += m->runs[k].cap;
        if (refill(m, k))
            m->heap[m->nheap++] = k;
    }
    for (size_t i = m->nheap / 2; i-- > 0;)
        dd_heap_sift_down(m->heap, m->nheap, i, run_before, m);
    return m;
}

const void *dd_kway_merge_peek(const dd_kway_merge *m)
{
    return m->nheap ? next_of(m, m->heap[0]) : NULL;
}

bool dd_kway_merge_next(dd_kway_merge *m, void *out)
{
    if (!m->nheap)
        return false;
    size_t k = m->heap[0];
    kway_run *r = &m->runs[k];
    if (out)
        memcpy(out, next_of(m, k), m->src.size);
    if (++r->at == r->n && !refill(m, k))
        m->heap[0] = m->heap[--m->nheap];
    dd_heap_sift_down(m->heap, m->nheap, 0, run_before, m);
    return true;
}

static size_t bytes_of(size_t nruns, size_t buffered, size_t size)
{
    return sizeof(dd_kway_merge) + nruns * (sizeof(kway_run) + sizeof(size_t)) + buffered * size;
}

size_t dd_kway_merge_bytes(const dd_kway_merge *m)
{
    return bytes_of(m->src.nruns, m->buffered, m->src.size);
}

size_t dd_kway_merge_bytes_for(const dd_kway_source *src, size_t per_run)
{
    size_t buffered = 0;
    for (size_t k = 0; k < src->nruns; k++)
        buffered += buffer_records(src->length(src->ctx, k), per_run);
    return bytes_of(src->nruns, buffered, src->size);
}

size_t dd_kway_read_held(const void *v, size_t have, size_t from, void *out, size_t n, size_t size)
{
    if (from >= have)
        return 0;
    if (n > have - from)
        n = have - from;
    memcpy(out, (const unsigned char *)v + from * size, n * size);
    return n;
}

void dd_kway_merge_free(dd_kway_merge *m)
{
    if (!m)
        return;
    free(m->runs);
    free(m->bufs);
    free(m->heap);
    free(m);
}
