/*
 * scratch_array.c - an append-only array, in memory or in a scratch file
 * (scratch_array.h).
 */
#include "io/scratch_array.h"

#include "util.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Elements read back come a block at a time, into a block of each thread:
 * walking a document's units, or the next document's, costs one read a
 * block, not one an element. A thread keeps BLOCKS blocks, the one used
 * longest ago read over first: a loop that walks two arrays in turn and
 * looks up one element elsewhere on each step (a round's near-repeats, the
 * unit of each and the unit it repeats: rounds.c) keeps the blocks it
 * walks, where two blocks, the one not used last read over, read all three
 * again on every step (16 KB a step: 1.9 GB for the 100 MB corpus at
 * --memory 16M). (An element replaced gives its array a new id, so a block
 * stays true while it is used; the part of it past the elements appended
 * then is not used.) */
#define BLOCK_BYTES 16384
#define BLOCKS 4

typedef struct block {
    uint64_t owner; /* the array's id, 0: none */
    uint64_t used;  /* when it was used last, on its thread's clock */
    size_t first, n;
    unsigned char bytes[BLOCK_BYTES];
} block;

static _Thread_local block blocks[BLOCKS];
static _Thread_local uint64_t clock_now; /* of the blocks' uses */

static atomic_uint_fast64_t next_id = 1;

/* Past max_bytes, the elements held in memory go to the scratch file a
 * block of WRITE_BYTES at a time, one block with an append at most, as
 * long as fewer than WRITE_RATIO bytes of them were written for each byte
 * appended since: soon enough that their memory is given back early in
 * what comes next, and never all at once. */
#define WRITE_BYTES ((size_t)1 << 20)
#define WRITE_RATIO 32

void dd_scratch_budget_init(dd_scratch_budget *b, size_t bytes) { atomic_init(&b->left, bytes); }

size_t dd_scratch_budget_take(dd_scratch_budget *b, size_t least, size_t want)
{
    return dd_scratch_budget_take_leaving(b, least, want, 0);
}

size_t dd_scratch_budget_take_leaving(dd_scratch_budget *b, size_t least, size_t want, size_t leave)
{
    size_t left = atomic_load(&b->left);
    for (;;) {
        if (left < leave || left - leave < least)
            return 0;
        size_t take = want < left - leave ? want : left - leave;
        if (atomic_compare_exchange_weak(&b->left, &left, left - take))
            return take;
    }
}

void dd_scratch_budget_give(dd_scratch_budget *b, size_t bytes)
{
    atomic_fetch_add(&b->left, bytes);
}

void dd_scratch_array_init(dd_scratch_array *a, size_t size, size_t max_bytes, const char *dir,
                           const char *what)
{
    memset(a, 0, sizeof *a);
    a->size = size;
    a->max_bytes = max_bytes;
    a->dir = dir;
    a->what = what;
    a->id = atomic_fetch_add(&next_id, 1);
}

void dd_scratch_array_init_shared(dd_scratch_array *a, size_t size, dd_scratch_budget *shared,
                                  size_t leave, const char *dir, const char *what)
{
    dd_scratch_array_init(a, size, 0, dir, what);
    a->shared = shared;
    a->leave = leave;
}

void dd_scratch_array_take_huge_room(dd_scratch_array *a) { a->huge_room = true; }

/* a's room (p) of old_bytes made new_bytes. An array of a shared budget
 * grows a quarter at a time (next_cap) and moves to its scratch file when
 * the others took what is left: from the heaps, its steps below
 * DD_MALLOC_OWN_MAPPING left their old blocks there, freed, in sizes and
 * on threads that the next steps and the other arrays did not fill
 * (on 1 GB at --memory 64M -j 2, 9.8 to 15.0 MB freed and kept at the end
 * of reading; with their own pages, 5.8 to 6.2 MB). */
static void *room_resize(const dd_scratch_array *a, void *p, size_t old_bytes, size_t new_bytes)
{
    return a->shared ? dd_room_resize_own_pages(p, old_bytes, new_bytes)
                     : dd_room_resize(p, old_bytes, new_bytes);
}

/* Gives back the room in memory (to the shared budget, if any). */
static void free_room(dd_scratch_array *a)
{
    if (a->shared)
        dd_scratch_budget_give(a->shared, a->cap * a->size);
    room_resize(a, a->v, a->cap * a->size, 0);
    a->v = NULL;
    a->cap = 0;
}

void dd_scratch_array_free(dd_scratch_array *a)
{
    free_room(a);
    dd_spool_free(a->spool);
    memset(a, 0, sizeof *a);
}

/* Is element i in memory? */
static bool in_memory(const dd_scratch_array *a, size_t i)
{
    return !a->spool || (i >= a->written && i < a->held);
}

/* The elements, at least need, of a's room in memory for its next step:
 * with a shared budget a quarter more (what one array keeps for more is
 * room the others lack), but a whole huge page at once from
 * DD_ROOM_COPIED bytes when asked (dd_scratch_array_take_huge_room). */
static size_t next_cap(const dd_scratch_array *a, size_t need)
{
    size_t cap = a->cap ? a->cap : 16;
    if (!a->shared)
        return cap;
    cap = cap + cap / 4 > need ? cap + cap / 4 : need;
    size_t huge = (DD_ROOM_HUGE + a->size - 1) / a->size; /* its bytes at least DD_ROOM_HUGE */
    if (a->huge_room && cap * a->size >= DD_ROOM_COPIED && cap < huge)
        cap = huge;
    return cap;
}

/* Makes room in memory for need elements, doubling, but not past
 * max_bytes nor past what the shared budget has left (then as much as it
 * has, if that is enough). False when there is no room for them: they go
 * to the scratch file. */
static bool grow(dd_scratch_array *a, size_t need)
{
    if (need <= a->cap)
        return true;
    size_t most = (a->max_bytes ? a->max_bytes : SIZE_MAX) / a->size;
    if (need > most)
        return false;
    size_t cap = next_cap(a, need);
    while (cap < need)
        cap = cap > most / 2 ? most : cap * 2;
    if (cap > most)
        cap = most;
    if (a->shared) {
        size_t got = dd_scratch_budget_take_leaving(a->shared, (need - a->cap) * a->size,
                                                    (cap - a->cap) * a->size, a->leave);
        if (!got)
            return false;
        cap = a->cap + got / a->size;
        dd_scratch_budget_give(a->shared, got % a->size);
    }
    a->v = room_resize(a, a->v, a->cap * a->size, cap * a->size);
    a->cap = cap;
    return true;
}

/* The array passes max_bytes: a new scratch file, where the elements held
 * in memory get their places, to be written there later (write_held). */
static bool start_scratch_file(dd_scratch_array *a, char **err)
{
    if (!(a->spool = dd_spool_new(a->dir, err)))
        return false;
    a->held = a->n;
    a->written = 0;
    a->appended_past = 0;
    uint64_t at;
    return dd_spool_reserve(a->spool, (uint64_t)a->n * a->size, &at, err);
}

/* Writes the next block of the elements held in memory to their places
 * in the scratch file, unless enough of them were written for what was
 * appended since; once the last is written, their memory is given back. */
static bool write_held(dd_scratch_array *a, char **err)
{
    if (a->written == a->held || (uint64_t)a->written * a->size >= a->appended_past * WRITE_RATIO)
        return true;
    size_t k = WRITE_BYTES / a->size ? WRITE_BYTES / a->size : 1;
    if (k > a->held - a->written)
        k = a->held - a->written;
    const char *from = (const char *)a->v + a->written * a->size;
    if (!dd_spool_overwrite(a->spool, (uint64_t)a->written * a->size, from, k * a->size, err))
        return false;
    a->written += k;
    if (a->written == a->held)
        free_room(a);
    return true;
}

bool dd_scratch_array_append(dd_scratch_array *a, const void *v, size_t n, char **err)
{
    if (!n)
        return true;
    if (!a->spool && !grow(a, a->n + n) &&
        !(a->leave ? dd_scratch_array_move_out(a, err) : start_scratch_file(a, err)))
        return false;
    if (!a->spool) {
        memcpy((char *)a->v + a->n * a->size, v, n * a->size);
        a->n += n;
        return true;
    }
    /* Elements truncated away (dd_scratch_array_truncate) have places in
     * the file: the first appended take them. */
    uint64_t at = (uint64_t)a->n * a->size, end = dd_spool_bytes(a->spool);
    size_t over = at < end ? (size_t)((end - at) / a->size) : 0;
    if (over > n)
        over = n;
    if (!write_held(a, err) ||
        (over && !dd_spool_overwrite(a->spool, at, v, over * a->size, err)) ||
        (n > over && !dd_spool_append(a->spool, (const char *)v + over * a->size,
                                      (n - over) * a->size, &at, err)))
        return false;
    a->appended_past += n * a->size;
    a->n += n;
    return true;
}

void *dd_scratch_array_append_room(dd_scratch_array *a, size_t n)
{
    if (a->spool || !grow(a, a->n + n))
        return NULL;
    void *at = (char *)a->v + a->n * a->size;
    a->n += n;
    return at;
}

void dd_scratch_array_truncate(dd_scratch_array *a, size_t n)
{
    if (n >= a->n)
        return;
    a->n = n;
    if (!a->spool)
        return;
    /* Those held in memory, not written yet, past n: dropped too. */
    if (a->held > n)
        a->held = n;
    if (a->written > a->held)
        a->written = a->held;
    if (a->written == a->held && a->v)
        free_room(a);
    a->id = atomic_fetch_add(&next_id, 1); /* blocks read before may hold those dropped */
}

bool dd_scratch_array_move_out(dd_scratch_array *a, char **err)
{
    if (a->spool)
        return true;
    if (!(a->spool = dd_spool_new(a->dir, err)))
        return false;
    uint64_t at;
    if (a->n && !dd_spool_append(a->spool, a->v, a->n * a->size, &at, err)) {
        dd_spool_free(a->spool);
        a->spool = NULL;
        return false;
    }
    a->held = a->written = a->n;
    free_room(a);
    return true;
}

static void read_back(const dd_scratch_array *a, size_t first, size_t n, void *out);

bool dd_scratch_array_move_in(dd_scratch_array *a, size_t leave)
{
    if (!a->spool)
        return true;
    size_t bytes = a->n * a->size;
    if (a->shared) {
        if (bytes && !dd_scratch_budget_take_leaving(a->shared, bytes, bytes, leave))
            return false;
    } else if (a->max_bytes && bytes > a->max_bytes) {
        return false;
    }
    void *v = room_resize(a, NULL, 0, bytes);
    read_back(a, 0, a->n, v);
    /* The elements still held (not written yet) are copied: their room
     * is given back, and the new one counted instead. */
    free_room(a);
    dd_spool_free(a->spool);
    a->spool = NULL;
    a->v = v;
    a->cap = a->n;
    a->held = a->written = 0;
    a->appended_past = 0;
    a->id = atomic_fetch_add(&next_id, 1); /* no block of the file is its any more */
    return true;
}

/* Ends the process: the scratch file failed (a disk error), and what was
 * kept there has no other copy. */
static void scratch_failed(const dd_scratch_array *a, const char *what_failed)
{
    const char *dir = a->dir ? a->dir : dd_spool_default_dir();
    char *p = dd_printable(dir);
    dd_error("cannot %s the scratch file of %s in %s", what_failed, a->what, p);
    free(p);
    exit(2);
}

/* Copies elements [first, first + n) into out, each from where it is:
 * memory, or the scratch file. */
static void read_back(const dd_scratch_array *a, size_t first, size_t n, void *out)
{
    char *to = out;
    while (n) {
        /* The run of elements from first that are all in one place. */
        size_t k;
        if (in_memory(a, first)) {
            size_t end = a->spool ? a->held : a->n;
            k = end - first < n ? end - first : n;
            memcpy(to, (const char *)a->v + first * a->size, k * a->size);
        } else {
            k = first < a->written && a->written - first < n ? a->written - first : n;
            if (!dd_spool_peek(a->spool, (uint64_t)first * a->size, to, k * a->size))
                scratch_failed(a, "read back");
        }
        first += k;
        to += k * a->size;
        n -= k;
    }
}

const void *dd_scratch_array_get(const dd_scratch_array *a, size_t i)
{
    if (in_memory(a, i))
        return (const char *)a->v + i * a->size;
    size_t per_block = BLOCK_BYTES / a->size;
    block *b = NULL, *oldest = &blocks[0];
    for (unsigned k = 0; k < BLOCKS && !b; k++) {
        if (blocks[k].owner == a->id && i >= blocks[k].first && i < blocks[k].first + blocks[k].n)
            b = &blocks[k];
        else if (blocks[k].used < oldest->used)
            oldest = &blocks[k];
    }
    if (!b) {
        b = oldest;
        b->owner = 0;
        b->first = i / per_block * per_block;
        b->n = a->n - b->first < per_block ? a->n - b->first : per_block;
        read_back(a, b->first, b->n, b->bytes);
        b->owner = a->id;
    }
    b->used = ++clock_now;
    return b->bytes + (i - b->first) * a->size;
}

void dd_scratch_array_copy(const dd_scratch_array *a, size_t i, void *out)
{
    read_back(a, i, 1, out);
}

void dd_scratch_array_read(const dd_scratch_array *a, size_t first, size_t n, void *out)
{
    read_back(a, first, n, out);
}

bool dd_scratch_array_in_memory(const dd_scratch_array *a, size_t first, size_t n)
{
    return !a->spool || (first >= a->written && first + n <= a->held);
}

/* Whether elements [first, first + n) are all in the scratch file, on one
 * side of those still held in memory (whose places there are not written
 * yet). */
static bool in_file(const dd_scratch_array *a, size_t first, size_t n)
{
    return a->spool && (first + n <= a->written || first >= a->held);
}

/* A run of spans gathered with one read spans at most this many bytes
 * (a span longer than that is read alone, where it goes): the buffer of a
 * run stays small, whatever the gaps between its spans. */
#define GATHER_RUN_BYTES ((size_t)256 << 10)

size_t dd_scratch_array_gather(const dd_scratch_array *a, const dd_scratch_span *s, size_t count,
                               void *out, size_t gap, unsigned char **buf, size_t *cap)
{
    size_t gap_elements = gap / a->size, reads = 0;
    for (size_t i = 0; i < count;) {
        if (!in_file(a, s[i].first, s[i].n)) {
            read_back(a, s[i].first, s[i].n, (char *)out + s[i].to * a->size);
            reads += !dd_scratch_array_in_memory(a, s[i].first, s[i].n);
            i++;
            continue;
        }
        reads++;
        /* The run of spans from i: in the file on the same side, each
         * less than gap after the one before. */
        size_t j = i + 1, end = s[i].first + s[i].n;
        bool below = end <= a->written;
        size_t most = GATHER_RUN_BYTES / a->size;
        while (j < count && s[j].first >= end && s[j].first - end <= gap_elements &&
               s[j].first + s[j].n - s[i].first <= most && in_file(a, s[j].first, s[j].n) &&
               (s[j].first + s[j].n <= a->written) == below) {
            end = s[j].first + s[j].n;
            j++;
        }
        if (j == i + 1) { /* one span: read where it goes */
            read_back(a, s[i].first, s[i].n, (char *)out + s[i].to * a->size);
            i++;
            continue;
        }
        size_t bytes = (end - s[i].first) * a->size;
        dd_grow(buf, cap, bytes, 1);
        if (!dd_spool_peek(a->spool, (uint64_t)s[i].first * a->size, *buf, bytes))
            scratch_failed(a, "read back");
        for (size_t k = i; k < j; k++)
            memcpy((char *)out + s[k].to * a->size, *buf + (s[k].first - s[i].first) * a->size,
                   s[k].n * a->size);
        i = j;
    }
    return reads;
}

void dd_scratch_array_set(dd_scratch_array *a, size_t i, const void *v)
{
    if (in_memory(a, i)) {
        memcpy((char *)a->v + i * a->size, v, a->size);
    } else {
        char *err = NULL;
        if (!dd_spool_overwrite(a->spool, (uint64_t)i * a->size, v, a->size, &err)) {
            free(err);
            scratch_failed(a, "write to");
        }
    }
    if (a->spool) /* blocks read before are not its (they may hold element i) */
        a->id = atomic_fetch_add(&next_id, 1);
}

const void *dd_scratch_array_span(const dd_scratch_array *a, size_t first, size_t n, void *buf,
                                  size_t *cap)
{
    if (!a->spool || (n && in_memory(a, first) && first + n <= a->held))
        return (const char *)a->v + first * a->size;
    dd_grow(buf, cap, n + 1, a->size);
    void *out = *(void **)buf;
    read_back(a, first, n, out);
    return out;
}

void dd_scratch_array_trim(dd_scratch_array *a)
{
    if (a->spool || a->cap == a->n)
        return;
    if (a->shared)
        dd_scratch_budget_give(a->shared, (a->cap - a->n) * a->size);
    a->v = room_resize(a, a->v, a->cap * a->size, a->n * a->size);
    a->cap = a->n;
}

size_t dd_scratch_array_memory_bytes(const dd_scratch_array *a) { return a->cap * a->size; }

uint64_t dd_scratch_array_scratch_bytes(const dd_scratch_array *a)
{
    if (!a->spool)
        return 0;
    return dd_spool_bytes(a->spool) - (uint64_t)(a->held - a->written) * a->size;
}
