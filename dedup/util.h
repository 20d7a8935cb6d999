/*
 * util.h - small helpers of the dedup program: allocation that exits on
 * failure, messages on stderr, growable arrays.
 *
 * The library (shingle/) never exits; the program does, on out-of-memory only,
 * with status 2.
 */
#ifndef DD_UTIL_H
#define DD_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DD_EXIT_CLEAN 0
#define DD_EXIT_FOUND 1
#define DD_EXIT_ERROR 2

/* The allocators below end the process on failure: "dedup: out of memory"
 * on stderr, status 2 (dd_out_of_memory). The program and its engine
 * (engine/engine.h states it) allocate with them; the library (shingle/)
 * returns SH_ERR_NOMEM instead. */
_Noreturn void dd_out_of_memory(void);
void *dd_malloc(size_t n);
void *dd_calloc(size_t n, size_t size);
/* Like dd_calloc, but writes the zeros: for a table that is probed (read)
 * before it is written, so that its pages are never first mapped to the
 * kernel's shared zero page, whose later copy-on-write costs every other
 * thread's CPU a TLB flush. */
void *dd_zalloc_touched(size_t n, size_t size);
void *dd_realloc(void *p, size_t n);

/* Room for an array that may grow large (a corpus's sets, a table of every
 * paragraph): below DD_ROOM_HUGE bytes from the heap, as dd_realloc; from
 * it up, mapped from the system in whole huge pages (2 MiB) with
 * transparent huge pages asked for, so that its memory comes in one page
 * fault for 512 of 4 KiB (util.c says why). The caller keeps the room's
 * size: it is given back with dd_room_resize(p, bytes, 0), never free.
 * The memory held is at most DD_ROOM_HUGE bytes more than the room. */
#define DD_ROOM_HUGE ((size_t)2 << 20)
/* A room of the heap of this many bytes or more grows into a new block,
 * copied outside malloc's lock (util.c says why); a smaller one by
 * realloc. */
#define DD_ROOM_COPIED ((size_t)64 << 10)
/* Blocks of this size or more malloc maps on its own (run/memory.c sets
 * M_MMAP_THRESHOLD to it): given back to the system when freed, and moved
 * by realloc with mremap, not copied. */
#define DD_MALLOC_OWN_MAPPING ((size_t)1 << 20)
/* p's room of old_bytes made new_bytes (either may be 0: none; NULL when
 * new_bytes is 0), its first bytes kept; bytes past them are undefined. */
void *dd_room_resize(void *p, size_t old_bytes, size_t new_bytes);
/* As dd_room_resize, but a room of DD_ROOM_COPIED bytes or more is mapped
 * on its own, in pages of 4 KiB below DD_ROOM_HUGE (huge pages from it
 * up): it grows by mremap, neither copied nor faulted again, and once
 * freed its memory goes back to the system at once, where a block of a
 * heap stays in the heap, kept free for what fits in it. For rooms that
 * grow in small steps and are freed at times nobody knows beforehand (the
 * arrays sharing a budget: io/scratch_array.h), whose blocks left the
 * heaps holding many megabytes freed (bench/README.md, Session 23, mem23).
 * A room made by this function is resized and given back by it only. */
void *dd_room_resize_own_pages(void *p, size_t old_bytes, size_t new_bytes);
/* A new room of bytes, zeros written, as dd_zalloc_touched. */
void *dd_room_zalloc_touched(size_t bytes);

char *dd_strdup(const char *s);
/* Returns a new string: printf-style. */
char *dd_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Grows *v (an array of *cap elements of size elem) to hold at least need. */
void dd_grow(void *v, size_t *cap, size_t need, size_t elem);

/* A 64-bit word in 8 bytes, least significant first: the byte order of
 * every file dedup writes (work folder parts, stage files), whatever the
 * machine's. */
static inline void dd_put_le64(unsigned char *b, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
}

static inline uint64_t dd_get_le64(const unsigned char *b)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)b[i] << (8 * i);
    return v;
}

/* Seconds of the monotonic clock (CLOCK_MONOTONIC), for durations: the
 * progress line's, filter's summary, the figures of DEDUP_RUN_STATS. */
double dd_monotonic_seconds(void);

/* In-memory hash tables. Their keys are hashes of texts, which whoever
 * writes the texts can steer: without --key-file, by trying texts until the
 * low bits of a hash are what they want. So no table takes its slots from a
 * key's bits directly: a key's home slot is a mix of the key and a salt
 * drawn at random once per process (getrandom), which an adversary cannot
 * see, so they cannot aim many keys at one slot and make the table's
 * probing quadratic. Nothing the program writes depends on where an entry
 * sits in a table, so its output is the same from run to run: lookups give
 * the entry, never its slot, to what decides, and no slot's position is
 * kept past an insertion (which may grow the table and move every entry). */
uint64_t dd_table_salt(void);

/* The home slot of key in a table of mask + 1 slots (a power of two). The
 * mix is MurmurHash3's 64-bit finaliser, a bijection in which every input
 * bit affects every output bit. */
static inline size_t dd_table_home(uint64_t key, uint64_t salt, size_t mask)
{
    uint64_t x = key ^ salt;
    x ^= x >> 33;
    x *= 0xFF51AFD7ED558CCDULL;
    x ^= x >> 33;
    x *= 0xC4CEB9FE1A85EC53ULL;
    x ^= x >> 33;
    return (size_t)x & mask;
}

/* "dedup: " + message + newline on stderr (after erasing a progress line:
 * dd_messages_erase_first), or appended to the calling thread's capture
 * buffer while one is set (dd_messages_capture). */
void dd_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "dedup: warning: " + message + newline on stderr. */
void dd_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* What is drawn on standard error's last line without a line end (the
 * progress line of run/progress.h) is erased by erase before anything is
 * written to standard error here: a message, or "out of memory". erase
 * must be safe to call when nothing is drawn; NULL: nothing to erase. Set
 * from the main thread, before the threads start. */
void dd_messages_erase_first(void (*erase)(void));

/* Notes: what a function has to say, returned instead of printed (the
 * engine's messages: engine/base.h), an error (what failed) or a warning
 * (what a decision had to do without), in English, without the program's
 * name or a line end. */
typedef enum dd_note_kind { DD_NOTE_ERROR, DD_NOTE_WARNING } dd_note_kind;

typedef struct dd_note {
    dd_note_kind kind;
    char *text; /* owned by the dd_notes */
} dd_note;

/* Notes in the order they were made. Zero-initialise before first use;
 * free with dd_notes_free. A function given a NULL dd_notes says nothing
 * (the status alone tells what happened). One thread at a time. */
typedef struct dd_notes {
    dd_note *v;
    size_t n, cap;
} dd_notes;

/* Appends a printf-style note to notes (nothing when notes is NULL). */
void dd_note_add(dd_notes *notes, dd_note_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Moves every note of from to the end of to (from is left empty). */
void dd_notes_move(dd_notes *to, dd_notes *from);
/* Frees the notes' texts and empties notes (it can be reused). */
void dd_notes_clear(dd_notes *notes);
void dd_notes_free(dd_notes *notes);

/* Says the notes, in order: each error with dd_error, each warning with
 * dd_warn. */
void dd_notes_say(const dd_notes *notes);
/* Says the notes, frees them, and returns ok: for a call that returns a
 * status with notes, "ok = dd_notes_said(&notes, dd_f(..., &notes))". */
bool dd_notes_said(dd_notes *notes, bool ok);

/* Messages of a worker thread (run.h): while a thread has a capture buffer
 * (an sh_buf, shingle.h), dd_error and dd_warn append their lines to it
 * instead of writing to stderr, so that the thread that consumes the
 * worker's results in input order prints them in that order
 * (dd_messages_print). The buffer is per thread; NULL stops capturing. */
struct sh_buf;
void dd_messages_capture(struct sh_buf *to);
/* Writes captured lines to stderr (after erasing a progress line). */
void dd_messages_print(const struct sh_buf *lines);

/* Standard output carries every command's report, diff or listing, and a
 * write to it that fails (a full disk, an I/O error) fails the run with
 * status 2, whatever the command found. A command that notices a failed
 * write says so with dd_stdout_failed(errno); main() ends every command
 * with dd_stdout_finish(status), which flushes standard output, reports a
 * failure that no command noticed, and returns the status to exit with.
 * Either way the failure is said once: "dedup: writing standard output:
 * why". */
void dd_stdout_failed(int err);
int dd_stdout_finish(int status);

/* Parses a decimal unsigned integer in [min, max]; false if it is not one. */
bool dd_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out);

/* The --max-record limit max (in bytes) as every message gives it, in a
 * new string: "256 MB (--max-record)" (MB of 2^20 bytes, the option's
 * unit), or "N bytes (--max-record)" when it is not a whole number of MB. */
char *dd_max_record_text(size_t max);

/* Writes s into a new string with every byte that a terminal could act on
 * or that is not UTF-8 escaped as \xHH: C0 controls (newlines and ESC
 * among them), DEL, the two bytes of each C1 control (U+0080 to U+009F),
 * and invalid sequences; a backslash becomes \\. The one way a path or a
 * piece of document text goes into a message or a text report, so that
 * neither can forge a line or drive the terminal. */
char *dd_printable(const char *s);

/* Sorts v[0..n) in increasing order; tmp has room for n values (scratch). */
void dd_sort_u64(uint64_t *v, uint64_t *tmp, size_t n);

/* The same for uint32_t. */
void dd_sort_u32(uint32_t *v, uint32_t *tmp, size_t n);

/* qsort's comparison of two uint32_t, in increasing order. */
int dd_compare_u32(const void *a, const void *b);

/* Bit i of the bitmap bits (bit i % 64 of word i / 64): the one reading
 * and setting of the code's bitmaps (units left out or removed, documents
 * changed, the placer's filter of a batch's keys). */
static inline bool dd_bit(const uint64_t *bits, size_t i) { return bits[i / 64] >> (i % 64) & 1; }
static inline void dd_bit_set(uint64_t *bits, size_t i) { bits[i / 64] |= (uint64_t)1 << (i % 64); }

/* Sets `at` (a size_t variable) to the first index i of [0, n) at which
 * `below` does not hold, n when it holds at every one: a binary search,
 * below evaluated about log2(n) times. below is an expression of i (a
 * size_t the macro declares: name it so) that holds on a first part of
 * [0, n) and nowhere after it: "v[i].doc < doc" on v sorted by doc finds
 * the first element of doc or past it. The one lower bound of the code (a
 * macro, so that below is compiled in place, as a loop written out is). */
#define DD_LOWER_BOUND(at, n, i, below)                                                            \
    do {                                                                                           \
        size_t dd_lower_bound_hi_ = (n);                                                           \
        (at) = 0;                                                                                  \
        while ((at) < dd_lower_bound_hi_) {                                                        \
            size_t i = (at) + (dd_lower_bound_hi_ - (at)) / 2;                                     \
            if (below)                                                                             \
                (at) = i + 1;                                                                      \
            else                                                                                   \
                dd_lower_bound_hi_ = i;                                                            \
        }                                                                                          \
    } while (0)

/* A heap of n indices in heap[0..n), heap[0] the first by before: moves
 * heap[i] down to its place. before(ctx, x, y) says whether the element
 * indexed x comes before the element indexed y (x and y are values of
 * heap, not places in it); the caller's elements stay where they are. The
 * heap of the k-way merge (kway_merge.h). */
void dd_heap_sift_down(size_t *heap, size_t n, size_t i,
                       bool (*before)(const void *ctx, size_t x, size_t y), const void *ctx);

#endif
