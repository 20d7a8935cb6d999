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
 * memory. Where they are changes no result. The room in memory is a
 * room of util.h (dd_room_resize): from 2 MiB up it is mapped in whole
 * huge pages, so the process may hold up to 2 MiB more than the room
 * (max_bytes and dd_scratch_array_memory_bytes count the room). The room
 * of an array with a shared budget (below) is mapped on its own from 64
 * KiB up (dd_room_resize_own_pages), so that what it frees goes back to
 * the system, not to a heap.
 *
 * Several arrays may share one budget (dd_scratch_budget): each takes
 * from it the room it grows by, first come first served, and gives it back
 * when it frees it; an array that finds too little left for its next
 * elements moves on to its scratch file as above. So structures that grow
 * at rates nobody knows beforehand (a corpus's sets and band keys) hold
 * what the run needs of each, within one sum, rather than fixed fractions
 * of it.
 *
 * Reading is thread-safe while nothing is appended. An element that cannot
 * be read back from a scratch file just written (an I/O error of the disk)
 * ends the process with a message naming the folder and what was kept
 * there, and status 2, as running out of memory does: there is no other
 * copy of it.
 */
#ifndef DD_IO_SCRATCH_ARRAY_H
#define DD_IO_SCRATCH_ARRAY_H

#include "io/spool.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes of memory several scratch arrays share: what is left of them.
 * Thread-safe. */
typedef struct dd_scratch_budget {
    atomic_size_t left;
} dd_scratch_budget;

/* Starts b with bytes to share. */
void dd_scratch_budget_init(dd_scratch_budget *b, size_t bytes);

/* Takes from b as many bytes as it has up to want, if it has at least
 * least (then returns them; else 0, and takes nothing). For a structure
 * that is not a scratch array but shares the budget; given back with
 * dd_scratch_budget_give. */
size_t dd_scratch_budget_take(dd_scratch_budget *b, size_t least, size_t want);
/* The same, but leaving at least leave bytes in b. */
size_t dd_scratch_budget_take_leaving(dd_scratch_budget *b, size_t least, size_t want,
                                      size_t leave);
void dd_scratch_budget_give(dd_scratch_budget *b, size_t bytes);

/* Without a spool, every element is in v (element i at v + i * size).
 * Once the elements passed max_bytes, the spool holds element i at
 * i * size, but for those of [written, held): they are still in v only,
 * their places in the file waiting for them. */
typedef struct dd_scratch_array {
    void *v;                   /* elements in memory */
    size_t n, cap;             /* n: every element appended, wherever it is; cap: v's */
    size_t size;               /* of an element, in bytes */
    size_t max_bytes;          /* of elements kept in memory (0: no limit) */
    const char *dir;           /* where the scratch file is made (NULL: dd_spool_default_dir()) */
    const char *what;          /* what the elements are, for the message of a failed read */
    dd_scratch_budget *shared; /* the room in memory is taken from it (NULL: max_bytes alone) */
    size_t leave;              /* of shared, left to the others (then: moved out at once) */
    dd_spool *spool;           /* once they passed max_bytes */
    size_t held;               /* the elements in memory when they passed it */
    size_t written;            /* of those, the first ones written to the scratch file since */
    uint64_t appended_past;    /* bytes appended since they passed it */
    uint64_t id;               /* for the blocks read back (scratch_array.c) */
    bool huge_room;            /* dd_scratch_array_take_huge_room */
} dd_scratch_array;

/* Starts a empty, for elements of size bytes (at most 4 KiB): kept in
 * memory up to max_bytes of them (0: no limit; less than one element: none
 * at all), then in a scratch file in
 * dir (NULL: dd_spool_default_dir()), which must outlive a. what names
 * them ("paragraphs"), for messages. */
void dd_scratch_array_init(dd_scratch_array *a, size_t size, size_t max_bytes, const char *dir,
                           const char *what);
/* The same, but the room in memory is taken from shared (which must
 * outlive a), as long as it has some: past it, the elements go to the
 * scratch file. With leave (bytes) not 0, a takes only what leaves that
 * much in shared, for the others, and past it moves every element to the
 * scratch file at once (dd_scratch_array_move_out), its room given back
 * to them. */
void dd_scratch_array_init_shared(dd_scratch_array *a, size_t size, dd_scratch_budget *shared,
                                  size_t leave, const char *dir, const char *what);
/* An array with a shared budget grows a quarter at a time; below
 * DD_ROOM_COPIED bytes each step is a block of the heap, from it up a
 * mapping of its own grown by mremap (util.h: dd_room_resize_own_pages),
 * its pages faulted 4 KiB at a time. After this call, a that would pass
 * DD_ROOM_COPIED bytes takes (if its budget has it) a room of
 * DD_ROOM_HUGE bytes at once: one huge page, grown from there without a
 * copy. It then holds up to that many
 * bytes more than its elements: for arrays that are expected to grow
 * past it, in a budget that can spare it. */
void dd_scratch_array_take_huge_room(dd_scratch_array *a);
void dd_scratch_array_free(dd_scratch_array *a);

/* Appends v[0..n). False, with *err set to a new message naming the folder
 * (a full disk), when they could not be written: a then holds the elements
 * before them. */
bool dd_scratch_array_append(dd_scratch_array *a, const void *v, size_t n, char **err);

/* Appends n elements left for the caller to write, in memory: returns
 * where the first is (a->n grew by n), or NULL, nothing appended, when a
 * is in a scratch file or they would not fit its room in memory (its
 * max_bytes, or what its shared budget has left); then append them. The
 * place stays where it is until the next append or truncate, so threads
 * may write parts of it at once. */
void *dd_scratch_array_append_room(dd_scratch_array *a, size_t n);

/* Element i (below a->n): a pointer into memory or into a block of the
 * calling thread, valid until the thread reads another block (the next
 * call on another array or another part of this one may do so) or the
 * next append. */
const void *dd_scratch_array_get(const dd_scratch_array *a, size_t i);

/* Copies element i (below a->n) to out, with one read of the scratch file
 * (not a block): for elements read one at a time, anywhere. Thread-safe
 * as dd_scratch_array_get. */
void dd_scratch_array_copy(const dd_scratch_array *a, size_t i, void *out);
/* Copies elements [first, first + n) (first + n <= a->n) to out, each run
 * of them from where it is: memory, or one read of the scratch file. For a
 * span read as it is needed (a run of a k-way merge). Thread-safe as
 * dd_scratch_array_get; a failed read ends the process, as there. */
void dd_scratch_array_read(const dd_scratch_array *a, size_t first, size_t n, void *out);

/* Elements [first, first + n) of an array, to be copied to element `to`
 * of a buffer (dd_scratch_array_gather). */
typedef struct dd_scratch_span {
    size_t first, n, to;
} dd_scratch_span;

/* Copies the spans s[0..count) of a (sorted by first, none overlapping
 * another), each to out + s[i].to elements, from where they are: those in
 * the scratch file in runs, one read a run of spans less than gap bytes
 * apart (the bytes between them read too, through *buf: grown as dd_grow
 * does, *cap its capacity in bytes, 256 KiB at most), not one read a span. For elements
 * read back many at once, anywhere, in the order of the file. Thread-safe
 * as dd_scratch_array_get; a failed read ends the process, as there.
 * Returns the reads of the scratch file it made. */
size_t dd_scratch_array_gather(const dd_scratch_array *a, const dd_scratch_span *s, size_t count,
                             void *out, size_t gap, unsigned char **buf, size_t *cap);

/* Whether elements [first, first + n) are all in memory (a span of them
 * is then a pointer, not a read). */
bool dd_scratch_array_in_memory(const dd_scratch_array *a, size_t first, size_t n);

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

/* Drops the elements from n on (n <= a->n): the next one appended is
 * element n, in memory or in the scratch file, where it takes the place of
 * the one dropped (blocks read before are not used again). One thread,
 * nothing reading. */
void dd_scratch_array_truncate(dd_scratch_array *a, size_t n);

/* Moves every element of a to its scratch file now (made if need be), and
 * gives back its room in memory: later ones go there too. False, with
 * *err set, when they could not be written: a is then as it was. */
bool dd_scratch_array_move_out(dd_scratch_array *a, char **err);

/* Brings every element of a back into memory from its scratch file, in
 * one room of exactly its elements, taken from its shared budget (an
 * array without one: within max_bytes) only if that leaves `leave` bytes
 * there; the scratch file is closed. For elements read back many times,
 * anywhere, once no more are appended (they are then read from memory,
 * not one pread each). True when they are all in memory (they already
 * were, or came back); false, a unchanged, when there is no room. An
 * element that cannot be read back ends the process, as a failed read
 * does. One thread, nothing reading. */
bool dd_scratch_array_move_in(dd_scratch_array *a, size_t leave);

/* Gives back the room kept in memory past the elements held (once no more
 * are to be appended soon: a later append grows it again). */
void dd_scratch_array_trim(dd_scratch_array *a);

/* Bytes of elements in memory (allocated), and in the scratch file
 * (written there, or in its write buffer). */
size_t dd_scratch_array_memory_bytes(const dd_scratch_array *a);
uint64_t dd_scratch_array_scratch_bytes(const dd_scratch_array *a);

#endif
