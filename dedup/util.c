/*
 * util.c - allocation, messages, small parsers.
 */
#define _GNU_SOURCE /* mremap */
#include "util.h"

#include "shingle.h"

#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* What erases the progress line before a message (dd_messages_erase_first). */
static void (*erase_line)(void);

void dd_messages_erase_first(void (*erase)(void)) { erase_line = erase; }

static void erase_progress_line(void)
{
    if (erase_line)
        erase_line();
}

void dd_out_of_memory(void)
{
    erase_progress_line();
    fputs("dedup: out of memory\n", stderr);
    exit(DD_EXIT_ERROR);
}

void *dd_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        dd_out_of_memory();
    return p;
}

void *dd_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        dd_out_of_memory();
    return p;
}

void *dd_realloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        dd_out_of_memory();
    return p;
}

/* Rooms from DD_ROOM_HUGE up are mapped from the system, in whole huge
 * pages, with transparent huge pages asked for (madvise; the system's
 * default is "madvise" on Debian and most others). The kernel gives memory
 * a page at a time, at its first touch: a page fault. On the virtual
 * machines this runs on (bench/README.md, Threads: a PVM guest), a fault
 * costs 13-21 us of CPU (a bare machine: under 1 us), and the news scan
 * made 24,500 of them, 0.3-0.4 s of its 1.4 s CPU, most in a few arrays
 * that grow to megabytes (the sets of paragraphs: 57 MB). A huge page is
 * one fault for 512 pages, and a mapping grows by moving its pages
 * (mremap), never by copying them. Smaller rooms stay on the heap, where
 * what one frees the next reuses without a fault. */
#define ROOM_PAGE ((size_t)4096)

/* The bytes mapped for a room of bytes: whole huge pages from
 * DD_ROOM_HUGE up, whole pages below it (dd_room_resize_own_pages). */
static size_t mapped_bytes(size_t bytes)
{
    size_t unit = bytes >= DD_ROOM_HUGE ? DD_ROOM_HUGE : ROOM_PAGE;
    return (bytes + unit - 1) / unit * unit;
}

static void *map_room(size_t bytes)
{
    void *p =
        mmap(NULL, mapped_bytes(bytes), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        dd_out_of_memory();
    /* Only a hint: without huge pages the room works the same, a 4 KiB
     * page at a time. */
    if (bytes >= DD_ROOM_HUGE)
        (void)madvise(p, mapped_bytes(bytes), MADV_HUGEPAGE);
    return p;
}

/* DD_ROOM_COPIED (util.h): glibc's realloc copies the old block (and
 * takes the page faults of the new one) holding the lock of the old
 * block's heap, and a thread that frees or grows a block of that heap
 * meanwhile sleeps until the copy is done. The threads' result slots, and
 * the buffers in them, move between threads, so each thread needs the
 * other's heap now and then: on the news at -j 2 the first pass's shelves
 * (run/near_across.c: arrays that grow a quarter at a time) made the
 * other thread sleep so for 14-37 ms of the pass (bench/bench_timeline.sh:
 * the CPU of one thread alone), 1-7 ms with the copy made outside the
 * lock (bench/README.md, Threads, session 19). Below it realloc, which may
 * grow a block where it is; and realloc too from DD_MALLOC_OWN_MAPPING up
 * (util.h: a block of its own, which realloc moves with mremap, neither
 * copied nor under a lock: copied here, the news at -j 1 took 1,200 more
 * page faults, 9,520 -> 10,740). filter raises malloc's threshold to 64
 * MiB (cmd/filter.c): there a room of 1 to 2 MiB grows by realloc's copy
 * under the lock. A room is mapped from mapped_from bytes up
 * (DD_ROOM_HUGE, or DD_ROOM_COPIED for dd_room_resize_own_pages). */
static void *room_resize(void *p, size_t old_bytes, size_t new_bytes, size_t mapped_from)
{
    bool was_mapped = old_bytes >= mapped_from, mapped = new_bytes >= mapped_from;
    if (!was_mapped && !mapped) {
        if (new_bytes > old_bytes && old_bytes >= DD_ROOM_COPIED &&
            old_bytes < DD_MALLOC_OWN_MAPPING) {
            void *q = dd_malloc(new_bytes);
            memcpy(q, p, old_bytes);
            free(p);
            return q;
        }
        if (new_bytes)
            return dd_realloc(p, new_bytes);
        free(p);
        return NULL;
    }
    if (was_mapped && mapped) {
        if (mapped_bytes(old_bytes) == mapped_bytes(new_bytes))
            return p;
        void *q = mremap(p, mapped_bytes(old_bytes), mapped_bytes(new_bytes), MREMAP_MAYMOVE);
        if (q == MAP_FAILED)
            dd_out_of_memory();
        if (new_bytes >= DD_ROOM_HUGE && old_bytes < DD_ROOM_HUGE) /* as map_room */
            (void)madvise(q, mapped_bytes(new_bytes), MADV_HUGEPAGE);
        return q;
    }
    void *q = mapped ? map_room(new_bytes) : new_bytes ? dd_malloc(new_bytes) : NULL;
    size_t kept = old_bytes < new_bytes ? old_bytes : new_bytes;
    if (kept)
        memcpy(q, p, kept);
    if (was_mapped)
        munmap(p, mapped_bytes(old_bytes));
    else
        free(p);
    return q;
}

void *dd_room_resize(void *p, size_t old_bytes, size_t new_bytes)
{
    return room_resize(p, old_bytes, new_bytes, DD_ROOM_HUGE);
}

void *dd_room_resize_own_pages(void *p, size_t old_bytes, size_t new_bytes)
{
    return room_resize(p, old_bytes, new_bytes, DD_ROOM_COPIED);
}

void *dd_room_zalloc_touched(size_t bytes)
{
    if (bytes < DD_ROOM_HUGE)
        return dd_zalloc_touched(bytes, 1);
    void *p = map_room(bytes);
    memset(p, 0, bytes); /* touched: as dd_zalloc_touched says */
    return p;
}

char *dd_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(dd_malloc(n), s, n);
}

char *dd_asprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        dd_out_of_memory();
    char *s = dd_malloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

void dd_grow(void *v, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return;
    size_t c = *cap ? *cap : 16;
    while (c < need) {
        if (c > SIZE_MAX / 2 / elem)
            dd_out_of_memory();
        c *= 2;
    }
    void **pv = v;
    *pv = dd_realloc(*pv, c * elem);
    *cap = c;
}

double dd_monotonic_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t table_salt;
static pthread_once_t table_salt_once = PTHREAD_ONCE_INIT;

static void draw_table_salt(void)
{
    uint64_t salt = 0;
    if (getrandom(&salt, sizeof salt, 0) != (ssize_t)sizeof salt) {
        /* No entropy source (a very old kernel): the clock and the process
         * id are a weaker secret, but still not one an input can see. */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        salt = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ULL ^ (uint64_t)ts.tv_sec ^
               (uint64_t)getpid() << 32;
    }
    table_salt = salt;
}

uint64_t dd_table_salt(void)
{
    pthread_once(&table_salt_once, draw_table_salt);
    return table_salt;
}

/* The capture buffer of this thread (dd_messages_capture), or NULL. */
static _Thread_local sh_buf *captured;

void dd_messages_capture(sh_buf *to) { captured = to; }

void dd_messages_print(const sh_buf *lines)
{
    if (!lines->len)
        return;
    erase_progress_line();
    fwrite(lines->data, 1, lines->len, stderr);
}

/* Writes prefix, the message and a newline to stderr, or to the capture
 * buffer of this thread. */
static void message(const char *prefix, const char *fmt, va_list ap)
{
    if (captured) {
        va_list again;
        va_copy(again, ap);
        int n = vsnprintf(NULL, 0, fmt, again);
        va_end(again);
        if (n < 0)
            dd_out_of_memory();
        size_t plen = strlen(prefix), at = captured->len;
        if (sh_buf_reserve(captured, plen + (size_t)n + 1) != SH_OK)
            dd_out_of_memory();
        memcpy(captured->data + at, prefix, plen);
        vsnprintf(captured->data + at + plen, (size_t)n + 1, fmt, ap);
        captured->data[at + plen + (size_t)n] = '\n';
        captured->len = at + plen + (size_t)n + 1;
        captured->data[captured->len] = '\0';
        return;
    }
    erase_progress_line();
    fputs(prefix, stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void dd_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    message("dedup: ", fmt, ap);
    va_end(ap);
}

void dd_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    message("dedup: warning: ", fmt, ap);
    va_end(ap);
}

void dd_note_add(dd_notes *notes, dd_note_kind kind, const char *fmt, ...)
{
    if (!notes)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *text = dd_malloc(n > 0 ? (size_t)n + 1 : 1);
    va_start(ap, fmt);
    vsnprintf(text, n > 0 ? (size_t)n + 1 : 1, fmt, ap);
    va_end(ap);
    dd_grow(&notes->v, &notes->cap, notes->n + 1, sizeof *notes->v);
    notes->v[notes->n++] = (dd_note){kind, text};
}

void dd_notes_move(dd_notes *to, dd_notes *from)
{
    if (!from->n)
        return;
    dd_grow(&to->v, &to->cap, to->n + from->n, sizeof *to->v);
    memcpy(to->v + to->n, from->v, from->n * sizeof *from->v);
    to->n += from->n;
    from->n = 0;
}

void dd_notes_clear(dd_notes *notes)
{
    for (size_t i = 0; i < notes->n; i++)
        free(notes->v[i].text);
    notes->n = 0;
}

void dd_notes_free(dd_notes *notes)
{
    dd_notes_clear(notes);
    free(notes->v);
    memset(notes, 0, sizeof *notes);
}

void dd_notes_say(const dd_notes *notes)
{
    for (size_t i = 0; i < notes->n; i++) {
        if (notes->v[i].kind == DD_NOTE_ERROR)
            dd_error("%s", notes->v[i].text);
        else
            dd_warn("%s", notes->v[i].text);
    }
}

bool dd_notes_said(dd_notes *notes, bool ok)
{
    dd_notes_say(notes);
    dd_notes_free(notes);
    return ok;
}

static bool stdout_failure_said;

void dd_stdout_failed(int err)
{
    if (stdout_failure_said)
        return;
    stdout_failure_said = true;
    dd_error("writing standard output: %s", err ? strerror(err) : "write error");
}

int dd_stdout_finish(int status)
{
    errno = 0;
    bool flushed = fflush(stdout) == 0;
    if (flushed && !ferror(stdout) && !stdout_failure_said)
        return status;
    /* After a failed write the C library drops what it held, so that a
     * later flush may succeed with nothing to say: errno only comes from a
     * flush that failed now. */
    dd_stdout_failed(flushed ? 0 : errno);
    return DD_EXIT_ERROR;
}

bool dd_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
    if (!s || *s < '0' || *s > '9')
        return false;
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

char *dd_max_record_text(size_t max)
{
    if (max > 0 && max % ((size_t)1 << 20) == 0)
        return dd_asprintf("%zu MB (--max-record)", max >> 20);
    return dd_asprintf("%zu bytes (--max-record)", max);
}

/* The length of the UTF-8 character that starts s[0..len), when it is a
 * valid one and not a C1 control (U+0080 to U+009F, C2 80 to C2 9F: a
 * terminal takes U+009B as the start of an escape sequence); 0 otherwise. */
static size_t printable_char(const char *s, size_t len)
{
    unsigned char c = (unsigned char)s[0];
    size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
    if (n == 0 || n > len || sh_utf8_check(s, n) != n)
        return 0;
    if (c == 0xC2 && (unsigned char)s[1] < 0xA0)
        return 0;
    return n;
}

char *dd_printable(const char *s)
{
    size_t len = strlen(s);
    char *out = dd_malloc(len * 4 + 1), *w = out;
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7F && c != '\\') {
            *w++ = (char)c;
            i++;
            continue;
        }
        size_t n = c >= 0x80 ? printable_char(s + i, len - i) : 0;
        if (n > 0) {
            memcpy(w, s + i, n);
            w += n;
            i += n;
        } else if (c == '\\') {
            *w++ = '\\';
            *w++ = '\\';
            i++;
        } else { /* a C0 control, DEL, a byte of a C1 control or of invalid UTF-8 */
            w += sprintf(w, "\\x%02X", c);
            i++;
        }
    }
    *w = '\0';
    return out;
}

int dd_compare_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The value at v[i], of an array of width-byte unsigned values (4 or 8). */
static inline uint64_t value_at(const void *v, size_t i, size_t width)
{
    return width == 8 ? ((const uint64_t *)v)[i] : ((const uint32_t *)v)[i];
}

static inline void put_value(void *v, size_t i, size_t width, uint64_t x)
{
    if (width == 8)
        ((uint64_t *)v)[i] = x;
    else
        ((uint32_t *)v)[i] = (uint32_t)x;
}

/* Insertion sort of v[0..n), width-byte unsigned values: for a few. */
static inline __attribute__((always_inline)) void insertion_sort(void *v, size_t n, size_t width)
{
    for (size_t i = 1; i < n; i++) {
        uint64_t x = value_at(v, i, width);
        size_t j = i;
        for (; j > 0 && value_at(v, j - 1, width) > x; j--)
            put_value(v, j, width, value_at(v, j - 1, width));
        put_value(v, j, width, x);
    }
}

/* LSD radix sort of v[0..n), width-byte unsigned values, on the bytes of
 * their bits under low_mask, up to the highest byte any value has set
 * there: values equal outside low_mask end in increasing order; tmp has
 * room for n of them. */
static inline __attribute__((always_inline)) void radix_sort(void *v, void *tmp, size_t n,
                                                             size_t width, uint64_t low_mask)
{
    uint64_t high = 0;
    for (size_t i = 0; i < n; i++)
        high |= value_at(v, i, width) & low_mask;
    for (unsigned shift = 0; shift < 8 * width && (high >> shift); shift += 8) {
        size_t count[257] = {0};
        for (size_t i = 0; i < n; i++)
            count[((value_at(v, i, width) >> shift) & 0xFF) + 1]++;
        for (size_t i = 1; i < 257; i++)
            count[i] += count[i - 1];
        for (size_t i = 0; i < n; i++) {
            uint64_t x = value_at(v, i, width);
            put_value(tmp, count[(x >> shift) & 0xFF]++, width, x);
        }
        memcpy(v, tmp, n * width);
    }
}

/* Sorts v[0..n), width-byte unsigned values (4 or 8), in increasing order;
 * tmp has room for n of them. Insertion sort up to 64 values, above that
 * an LSD radix sort on bytes, up to the highest byte any value has set.
 * Inlined into dd_sort_u32 with its constant width. */
static inline __attribute__((always_inline)) void sort_unsigned(void *v, void *tmp, size_t n,
                                                                size_t width)
{
    if (n <= 64)
        insertion_sort(v, n, width);
    else
        radix_sort(v, tmp, n, width, UINT64_MAX);
}

/* Shingle sets are sorted as they are made again for exact verification
 * (a few hundred to a few thousand hashes, uniform over their 64 bits),
 * where eight radix passes over every value cost as much as hashing the
 * shingles. So one pass first puts the values into 256 buckets by the 8
 * bits under the highest bit any value has set (into tmp); a bucket of up
 * to 64 values (a uniform set of n has n / 256 in each) is then sorted by
 * insertion, a larger one by radix on its bits under those 8 (its values
 * share all the others); then back into v. The same order as any sort. */
void dd_sort_u64(uint64_t *v, uint64_t *tmp, size_t n)
{
    if (n <= 64) {
        insertion_sort(v, n, sizeof *v);
        return;
    }
    uint64_t high = 0;
    for (size_t i = 0; i < n; i++)
        high |= v[i];
    if (high == 0)
        return;
    unsigned top = 63 - (unsigned)__builtin_clzll(high); /* the highest bit set */
    unsigned shift = top >= 8 ? top - 7 : 0;
    size_t start[257] = {0};
    for (size_t i = 0; i < n; i++)
        start[((v[i] >> shift) & 0xFF) + 1]++;
    for (size_t b = 1; b < 257; b++)
        start[b] += start[b - 1];
    size_t next[256];
    memcpy(next, start, sizeof next);
    for (size_t i = 0; i < n; i++)
        tmp[next[(v[i] >> shift) & 0xFF]++] = v[i];
    uint64_t below = shift ? (UINT64_C(1) << shift) - 1 : 0;
    for (size_t b = 0; b < 256; b++) {
        size_t first = start[b], m = start[b + 1] - first;
        if (m <= 64)
            insertion_sort(tmp + first, m, sizeof *tmp);
        else if (below)
            radix_sort(tmp + first, v + first, m, sizeof *tmp, below);
    }
    memcpy(v, tmp, n * sizeof *v);
}

void dd_sort_u32(uint32_t *v, uint32_t *tmp, size_t n) { sort_unsigned(v, tmp, n, sizeof *v); }

void *dd_zalloc_touched(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) {
        dd_error("out of memory");
        exit(DD_EXIT_ERROR);
    }
    size_t bytes = n * size;
    void *p = dd_malloc(bytes ? bytes : 1);
    memset(p, 0, bytes);
    return p;
}

void dd_heap_sift_down(size_t *heap, size_t n, size_t i,
                       bool (*before)(const void *ctx, size_t x, size_t y), const void *ctx)
{
    for (;;) {
        size_t first = i, l = 2 * i + 1, r = l + 1;
        if (l < n && before(ctx, heap[l], heap[first]))
            first = l;
        if (r < n && before(ctx, heap[r], heap[first]))
            first = r;
        if (first == i)
            return;
        size_t t = heap[i];
        heap[i] = heap[first];
        heap[first] = t;
        i = first;
    }
}
