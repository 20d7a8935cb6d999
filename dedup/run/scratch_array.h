/*
 * scratch_array.h - an append-only array of fixed-size elements, in memory
 * or in a scratch file: how a memory budget (--memory) moves a structure
 * that grows with the corpus out of the process (run/units.h, the corpus's
 * near-repeats of paragraphs: run/corpus.h).
 *
 * Elements are appended in order (and may be replaced). While their bytes
 * stay within max_bytes they are kept in memory. Past it, they move to a
 * scratch file (io/spool.h: made in dir and unlinked at once, so nothing
 * is left there however the run ends) as the array grows: every later
 * element goes there at once (through the file's write buffer), and those
 * held in memory follow, a block (1 MiB) with an append at most, about
 * 32 bytes of them for each byte appended since. So no append writes
 * more than a block of them besides its own elements (a thread appending
 * is not held up writing all it held at once), the memory held never
 * passes max_bytes, and it is given back once the last of them is written
 * (those not written when appending ends stay in memory). Elements are
 * read back by number wherever they are: from
 * memory, or a block at a time (a few blocks for each thread), or one at
 * a time, through the operating system's page cache, not the process's
 * memory. Where they are changes no result.
 *
 * Reading is thread-safe while nothing is appended. An element that cannot
 * be read back from a scratch file just written (an I/O error of the disk)
 * ends the process with a message naming the folder and what was kept
 * there, and status 2, as running out of memory does: there is no other
 * copy of it.
 */
#ifndef DD_RUN_SCRATCH_ARRAY_H
#define DD_RUN_SCRATCH_ARRAY_H

#include "io/spool.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Without a spool, every element is in v (element i at v + i * size).
 * Once the elements passed max_bytes, the spool holds element i at
 * i * size, but for those of [written, held): they are still in v only,
 * their places in the file waiting for them. */
typedef struct dd_scratch_array {
    void *v;                /* elements in memory */
    size_t n, cap;          /* n: every element appended, wherever it is; cap: v's */
    size_t size;            /* of an element, in bytes */
    size_t max_bytes;       /* of elements kept in memory (0: no limit) */
    const char *dir;        /* where the scratch file is made (NULL: dd_spool_default_dir()) */
    const char *what;       /* what the elements are, for the message of a failed read */
    dd_spool *spool;        /* once they passed max_bytes */
    size_t held;            /* the elements in memory when they passed it */
    size_t written;         /* of those, the first ones written to the scratch file since */
    uint64_t appended_past; /* bytes appended since they passed it */
    uint64_t id;            /* for the blocks read back (scratch_array.c) */
} dd_scratch_array;

/* Starts a empty, for elements of size bytes (at most 4 KiB): kept in
 * memory up to max_bytes of them (0: no limit; less than one element: none
 * at all), then in a scratch file in
 * dir (NULL: dd_spool_default_dir()), which must outlive a. what names
 * them ("paragraphs"), for messages. */
void dd_scratch_array_init(dd_scratch_array *a, size_t size, size_t max_bytes, const char *dir,
                           const char *what);
void dd_scratch_array_free(dd_scratch_array *a);

/* Appends v[0..n). False, with *err set to a new message naming the folder
 * (a full disk), when they could not be written: a then holds the elements
 * before them. */
bool dd_scratch_array_append(dd_scratch_array *a, const void *v, size_t n, char **err);

/* Element i (below a->n): a pointer into memory or into a block of the
 * calling thread, valid until the thread reads another block (the next
 * call on another array or another part of this one may do so) or the
 * next append. */
const void *dd_scratch_array_get(const dd_scratch_array *a, size_t i);

/* Copies element i (below a->n) to out, with one read of the scratch file
 * (not a block): for elements read one at a time, anywhere. Thread-safe
 * as dd_scratch_array_get. */
void dd_scratch_array_copy(const dd_scratch_array *a, size_t i, void *out);

/* Replaces element i (below a->n) with v. One thread, nothing reading
 * (blocks read before are not used again). An element that cannot be
 * written there ends the process, as a failed read does. */
void dd_scratch_array_set(dd_scratch_array *a, size_t i, const void *v);

/* Elements [first, first + n): a pointer into memory, or into the array
 * *buf (buf: the address of a pointer, as for dd_grow; grown as needed;
 * *cap is its capacity in elements), where they are read to. Valid until
 * the next append, or the next use of buf. */
const void *dd_scratch_array_span(const dd_scratch_array *a, size_t first, size_t n, void *buf,
                                  size_t *cap);

/* Gives back the room kept in memory past the elements held (once no more
 * are to be appended soon: a later append grows it again). */
void dd_scratch_array_trim(dd_scratch_array *a);

/* Bytes of elements in memory (allocated), and in the scratch file
 * (written there, or in its write buffer). */
size_t dd_scratch_array_memory_bytes(const dd_scratch_array *a);
uint64_t dd_scratch_array_scratch_bytes(const dd_scratch_array *a);

#endif
