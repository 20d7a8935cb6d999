/*
 * test_scratch_array.c - unit tests of the scratch array
 * (dedup/io/scratch_array.c): elements appended in small and large
 * pieces across its memory budget come back by number (get, copy, span)
 * wherever they are, while some of those it held in memory wait to be
 * written and once all are; replaced ones too, and those appended after
 * some were dropped (truncated); no append writes to the
 * scratch file much more than its own elements and a block (the array does
 * not write all it held at once when it passes its budget), the memory it
 * holds stays within the budget and is given back; a write that fails (a
 * file size limit, as a full disk would) and a folder where no file can be
 * made are errors that say why, and what the array held is still there;
 * arrays walked in turn are each read back about once; room appended in
 * memory for the caller to write holds what it wrote, and is had only
 * within the budget and before a scratch file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "temp_folder.h"

#include "io/scratch_array.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* An element: its number, how many times it was replaced, and a check of
 * both (24 bytes: a block of 1 MiB does not end on an element). */
typedef struct elem {
    uint64_t i, version, check;
} elem;

static elem elem_of(uint64_t i, uint64_t version)
{
    return (elem){i, version, i * 0x9E3779B97F4A7C15u ^ (version + 1) * 0xC2B2AE3D27D4EB4Fu};
}

#define MIB ((size_t)1 << 20)
#define BUDGET (16 * MIB) /* the array's max_bytes */

/* Appends elements [first, first + n) of version 0. */
static void append_range(dd_scratch_array *a, size_t first, size_t n)
{
    elem *v = malloc((n ? n : 1) * sizeof *v);
    for (size_t k = 0; k < n; k++)
        v[k] = elem_of(first + k, 0);
    char *err = NULL;
    assert_true(dd_scratch_array_append(a, v, n, &err));
    assert_null(err);
    free(v);
}

/* The version each element should have (replaced ones: 1 or more). */
static uint64_t *versions;

static void expect_elem(const elem *got, size_t i, const char *how)
{
    elem want = elem_of(i, versions[i]);
    if (memcmp(got, &want, sizeof want) != 0)
        fail_msg("%s: element %zu is (%llu, %llu), want (%zu, %llu)", how, i,
                 (unsigned long long)got->i, (unsigned long long)got->version, i,
                 (unsigned long long)versions[i]);
}

/* Reads every element of a back: one at a time with get (in order, then
 * backwards: a block of the thread at a time) and copy, and in spans of
 * several sizes, which cross from memory to the file and back. */
static void expect_all(const dd_scratch_array *a)
{
    for (size_t i = 0; i < a->n; i++)
        expect_elem(dd_scratch_array_get(a, i), i, "get");
    for (size_t i = a->n; i-- > 0;)
        expect_elem(dd_scratch_array_get(a, i), i, "get, backwards");
    for (size_t i = 0; i < a->n; i += 997) {
        elem e;
        dd_scratch_array_copy(a, i, &e);
        expect_elem(&e, i, "copy");
    }
    elem *buf = NULL;
    size_t cap = 0;
    const size_t spans[] = {1, 3, 4096, 70001};
    for (size_t s = 0; s < sizeof spans / sizeof *spans; s++)
        for (size_t first = 0; first < a->n; first += spans[s] + 11) {
            size_t n = a->n - first < spans[s] ? a->n - first : spans[s];
            const elem *v = dd_scratch_array_span(a, first, n, &buf, &cap);
            for (size_t k = 0; k < n; k++)
                expect_elem(&v[k], first + k, "span");
        }
    free(buf);
}

/* The bytes of the scratch files in dir this process has open, on disk
 * (allocated: the places kept for elements not written yet are holes). */
static uint64_t scratch_bytes_written(const char *dir)
{
    char prefix[4200];
    snprintf(prefix, sizeof prefix, "%s/dedup-scratch-", dir);
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    uint64_t bytes = 0;
    for (struct dirent *e; (e = readdir(d));) {
        char link[4200], target[4200];
        snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
        ssize_t len = readlink(link, target, sizeof target - 1);
        if (len <= 0)
            continue;
        target[len] = '\0';
        struct stat st;
        if (strncmp(target, prefix, strlen(prefix)) == 0 && fstat(atoi(e->d_name), &st) == 0)
            bytes += (uint64_t)st.st_blocks * 512;
    }
    closedir(d);
    return bytes;
}

/* Appends elements [first, first + n) in pieces of `piece` and checks,
 * after each, that the array holds within its budget in memory and that
 * the append wrote at most its own bytes, a block of the elements held
 * and a block of the file's buffer (and a page of slack each). Returns
 * the most bytes one append wrote. */
static uint64_t append_checked(dd_scratch_array *a, const char *dir, size_t first, size_t n,
                               size_t piece)
{
    uint64_t most = 0;
    for (size_t at = first; at < first + n; at += piece) {
        size_t k = first + n - at < piece ? first + n - at : piece;
        uint64_t before = scratch_bytes_written(dir);
        append_range(a, at, k);
        uint64_t wrote = scratch_bytes_written(dir) - before;
        most = wrote > most ? wrote : most;
        if (wrote > k * sizeof(elem) + 2 * MIB + 3 * 4096)
            fail_msg("appending %zu elements at %zu wrote %llu bytes to the scratch file", k, at,
                     (unsigned long long)wrote);
        if (dd_scratch_array_memory_bytes(a) > BUDGET)
            fail_msg("after %zu elements, %zu bytes in memory, past the budget (%zu)", a->n,
                     dd_scratch_array_memory_bytes(a), BUDGET);
    }
    return most;
}

static void elements_come_back_wherever_they_are(void **state)
{
    (void)state;
    char *dir = make_folder("test_scratch_array");
    dd_scratch_array a;
    dd_scratch_array_init(&a, sizeof(elem), BUDGET, dir, "test elements");
    const size_t held = BUDGET / sizeof(elem); /* what the budget holds */
    versions = calloc(held * 3, sizeof *versions);

    /* In memory: small pieces, then large ones, up to just below the
     * budget; nothing in a scratch file. */
    append_checked(&a, dir, 0, 1000, 7);
    append_checked(&a, dir, 1000, held - 1000 - 3, 65536);
    assert_int_equal(dd_scratch_array_scratch_bytes(&a), 0);
    assert_int_equal(scratch_bytes_written(dir), 0);
    expect_all(&a);

    /* Past the budget with small pieces: the first one crosses it. Only a
     * few blocks of what was held are written since, the rest waits in
     * memory; every element comes back. */
    uint64_t most = append_checked(&a, dir, held - 3, 2500, 5);
    /* in the file: those past the budget and some of those held, not all */
    uint64_t in_file = dd_scratch_array_scratch_bytes(&a);
    assert_true(in_file > (uint64_t)(a.n - held) * sizeof(elem));
    assert_true(in_file < (uint64_t)a.n * sizeof(elem));
    uint64_t written = scratch_bytes_written(dir);
    if (written >= BUDGET / 2)
        fail_msg("%llu bytes written after 500 small appends past the budget: not a block "
                 "at a time (at most %llu at once)",
                 (unsigned long long)written, (unsigned long long)most);
    assert_int_not_equal(dd_scratch_array_memory_bytes(&a), 0); /* some still held */
    expect_all(&a);
    assert_int_equal(entries(dir), 0); /* the file unlinked at once */

    /* Large pieces: what was held is written, a block with each append,
     * and its memory given back; the newest are in the file's buffer. */
    size_t first = a.n;
    append_checked(&a, dir, first, 2 * held - first, 30000);
    assert_int_equal(dd_scratch_array_memory_bytes(&a), 0);
    assert_int_equal(dd_scratch_array_scratch_bytes(&a), (uint64_t)a.n * sizeof(elem));
    assert_true(scratch_bytes_written(dir) >= (uint64_t)(2 * held - 30000) * sizeof(elem));
    expect_all(&a);

    dd_scratch_array_free(&a);
    assert_int_equal(entries(dir), 0);
    rmdir(dir);
    free(versions);
    free(dir);
}

/* Replaces element i with its next version, then reads it back at once
 * (after reading its neighbours, so that a block holding the old one was
 * read before) and later with the rest. */
static void replace(dd_scratch_array *a, size_t i)
{
    if (i > 0)
        expect_elem(dd_scratch_array_get(a, i - 1), i - 1, "get before set");
    expect_elem(dd_scratch_array_get(a, i), i, "get before set");
    versions[i]++;
    elem e = elem_of(i, versions[i]);
    dd_scratch_array_set(a, i, &e);
    expect_elem(dd_scratch_array_get(a, i), i, "get after set");
    elem got;
    dd_scratch_array_copy(a, i, &got);
    expect_elem(&got, i, "copy after set");
}

static void replaced_wherever_they_are(void **state)
{
    (void)state;
    char *dir = make_folder("test_scratch_array");
    dd_scratch_array a;
    dd_scratch_array_init(&a, sizeof(elem), BUDGET, dir, "test elements");
    const size_t held = BUDGET / sizeof(elem);
    versions = calloc(held * 2, sizeof *versions);

    /* In memory only. */
    append_range(&a, 0, 1000);
    replace(&a, 10);
    /* Past the budget: some of those held written, some not yet, and
     * later ones in the file and in its buffer. */
    append_range(&a, 1000, held - 1000);
    append_range(&a, held, 50000);  /* past the budget, the file's buffer written */
    for (size_t k = 0; k < 10; k++) /* a block of those held with each */
        append_range(&a, held + 50000 + k * 5, 5);
    size_t end = held + 50000 + 10 * 5;
    assert_int_not_equal(dd_scratch_array_memory_bytes(&a), 0);
    replace(&a, 10);           /* held, written already */
    replace(&a, 5);            /* again, in the same block */
    replace(&a, held - 2);     /* held, not written yet */
    replace(&a, held + 1);     /* past the budget, in the file */
    replace(&a, end - 1);      /* the newest, in the file's buffer */
    replace(&a, held / 2 + 1); /* in the middle */
    expect_all(&a);
    /* Once every one held is written, the replaced ones stay replaced. */
    for (; end < 2 * held; end += 30000)
        append_range(&a, end, 2 * held - end < 30000 ? 2 * held - end : 30000);
    assert_int_equal(dd_scratch_array_memory_bytes(&a), 0);
    replace(&a, held - 2);
    expect_all(&a);

    dd_scratch_array_free(&a);
    rmdir(dir);
    free(versions);
    free(dir);
}

/* Appends elements [first, first + n) of version v, in pieces of piece. */
static void append_version(dd_scratch_array *a, size_t first, size_t n, uint64_t v, size_t piece)
{
    elem *e = malloc(piece * sizeof *e);
    for (size_t at = first; at < first + n; at += piece) {
        size_t k = first + n - at < piece ? first + n - at : piece;
        for (size_t j = 0; j < k; j++) {
            versions[at + j] = v;
            e[j] = elem_of(at + j, v);
        }
        char *err = NULL;
        assert_true(dd_scratch_array_append(a, e, k, &err));
        assert_null(err);
    }
    free(e);
}

/* Elements dropped (dd_scratch_array_truncate, as the input list drops the
 * records of a shard it could not copy) are not read back: the ones
 * appended next take their numbers, and their places, in memory, in the
 * scratch file, or among those held in memory not written yet. */
static void truncated_ones_are_replaced(void **state)
{
    (void)state;
    char *dir = make_folder("test_scratch_array");
    dd_scratch_array a;
    const size_t held = BUDGET / sizeof(elem);
    versions = calloc(held * 2, sizeof *versions);

    /* In memory. */
    dd_scratch_array_init(&a, sizeof(elem), BUDGET, dir, "test elements");
    append_version(&a, 0, 500, 0, 100);
    expect_all(&a);
    dd_scratch_array_truncate(&a, 300);
    assert_int_equal(a.n, 300);
    append_version(&a, 300, 400, 1, 7);
    expect_all(&a);
    dd_scratch_array_free(&a);

    /* Past the budget: dropped among those held in memory, of which the
     * first blocks only were written, then in the file (blocks of them
     * read just before). */
    dd_scratch_array_init(&a, sizeof(elem), BUDGET, dir, "test elements");
    append_version(&a, 0, held - 3, 0, 65536);
    append_version(&a, held - 3, 20000, 0, 5);
    assert_true(a.written > 0 && a.written + 10 < a.held);
    expect_all(&a);
    size_t cut = a.written + 10;
    dd_scratch_array_truncate(&a, cut);
    assert_int_equal(a.n, cut);
    assert_int_equal(a.held, cut);
    append_version(&a, cut, 20000, 1, 5);
    expect_all(&a);
    append_version(&a, a.n, 2 * held - 2000 - a.n, 1, 30000);
    assert_int_equal(dd_scratch_array_memory_bytes(&a), 0); /* every one held written */
    expect_all(&a);
    dd_scratch_array_truncate(&a, held + 1000);
    append_version(&a, held + 1000, 30000, 2, 999);
    expect_all(&a);
    dd_scratch_array_free(&a);
    assert_int_equal(entries(dir), 0);
    rmdir(dir);
    free(versions);
    free(dir);
}

/* A write refused (EFBIG past RLIMIT_FSIZE, as ENOSPC on a full disk):
 * the append fails, saying why, the array still holds the elements before
 * it (those still in memory read back), and the next append fails too. */
static void a_failed_write_is_an_error(void **state)
{
    (void)state;
    char *dir = make_folder("test_scratch_array");
    dd_scratch_array a;
    dd_scratch_array_init(&a, sizeof(elem), BUDGET, dir, "test elements");
    const size_t held = BUDGET / sizeof(elem);
    versions = calloc(held + 100, sizeof *versions);
    append_range(&a, 0, held);

    struct rlimit old, small = {MIB / 2, 0};
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    small.rlim_max = old.rlim_max;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    /* The first past the budget waits in the file's buffer; the next
     * writes a block of those held, and fails. */
    char *err = NULL;
    bool ok = true;
    size_t n = held;
    for (; ok && n < held + 100; n++) {
        elem e = elem_of(n, 0);
        ok = dd_scratch_array_append(&a, &e, 1, &err);
    }
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, old_handler);
    assert_false(ok);
    char want[4200];
    snprintf(want, sizeof want, "scratch file in %s: File too large", dir);
    assert_string_equal(err, want);
    free(err);
    err = NULL;
    assert_int_equal(a.n, n - 1); /* the one that failed is not there */
    for (size_t i = 0; i < held; i += 1001)
        expect_elem(dd_scratch_array_get(&a, i), i, "get after a failed write");
    elem e = elem_of(a.n, 0);
    assert_false(dd_scratch_array_append(&a, &e, 1, &err));
    assert_string_equal(err, want);
    free(err);
    dd_scratch_array_free(&a);
    assert_int_equal(entries(dir), 0);
    rmdir(dir);
    free(versions);
    free(dir);
}

/* A folder where no scratch file can be made: the append past the budget
 * fails, naming it, and the array still holds all it had, in memory. */
static void no_scratch_file_can_be_made(void **state)
{
    (void)state;
    char *dir = make_folder("test_scratch_array");
    char missing[4200];
    snprintf(missing, sizeof missing, "%s/missing", dir);
    dd_scratch_array a;
    dd_scratch_array_init(&a, sizeof(elem), 100 * sizeof(elem), missing, "test elements");
    versions = calloc(200, sizeof *versions);
    append_range(&a, 0, 100);
    elem e = elem_of(100, 0);
    char *err = NULL;
    assert_false(dd_scratch_array_append(&a, &e, 1, &err));
    char want[4300];
    snprintf(want, sizeof want, "cannot make a scratch file in %s: No such file or directory",
             missing);
    assert_string_equal(err, want);
    free(err);
    assert_int_equal(a.n, 100);
    expect_all(&a);
    dd_scratch_array_free(&a);
    rmdir(dir);
    free(versions);
    free(dir);
}

/* Arrays that share a budget hold within it together, each taking what
 * it grows by as it comes; past it, one goes on in its scratch file (every
 * element still read back), and what it gave back lets the other grow on.
 * One that leaves a part of the budget to the others stops short of it and
 * moves all it held out at once. Freed, they give everything back. */
/* Room appended in memory (dd_scratch_array_append_room): written by the
 * caller, in two halves as two threads would, after elements appended
 * the usual way and before more; none past the budget, nor once the
 * array has a scratch file: then nothing is appended, and append goes on
 * as before. */
static void room_appended_in_memory_and_written_by_the_caller(void **unused)
{
    (void)unused;
    char *dir = make_folder("test_scratch_array");
    dd_scratch_array a;
    dd_scratch_array_init(&a, sizeof(elem), BUDGET, dir, "test elements");
    const size_t held = BUDGET / sizeof(elem);
    versions = calloc(held + 1000, sizeof *versions);
    append_range(&a, 0, 1000);
    const size_t n = held / 2 + 17;
    elem *room = dd_scratch_array_append_room(&a, n);
    assert_non_null(room);
    assert_int_equal(a.n, 1000 + n);
    for (size_t k = n; k-- > n / 2;) /* the second half first */
        room[k] = elem_of(1000 + k, 0);
    for (size_t k = 0; k < n / 2; k++)
        room[k] = elem_of(1000 + k, 0);
    append_range(&a, 1000 + n, 5);
    expect_all(&a);
    assert_int_equal(dd_scratch_array_scratch_bytes(&a), 0);
    /* Past the budget: no room, nothing appended. */
    assert_null(dd_scratch_array_append_room(&a, held - a.n + 1));
    assert_int_equal(a.n, 1000 + n + 5);
    /* Appended past the budget, the array has a scratch file: no room
     * in memory even for one element; the elements all come back. */
    append_range(&a, a.n, held - a.n + 100);
    assert_true(dd_scratch_array_scratch_bytes(&a) > 0);
    assert_null(dd_scratch_array_append_room(&a, 1));
    assert_int_equal(a.n, held + 100);
    expect_all(&a);
    dd_scratch_array_free(&a);
    rmdir(dir);
    free(versions);
    free(dir);
}

static void arrays_share_a_budget(void **unused)
{
    (void)unused;
    char *dir = make_folder("test_scratch_array");
    size_t per = BUDGET / sizeof(elem); /* elements the budget holds */
    versions = calloc(per, sizeof *versions);
    dd_scratch_budget shared;
    dd_scratch_budget_init(&shared, BUDGET);
    dd_scratch_array a, b;
    dd_scratch_array_init_shared(&a, sizeof(elem), &shared, 0, dir, "elements");
    dd_scratch_array_init_shared(&b, sizeof(elem), &shared, BUDGET / 4, dir, "elements");
    for (size_t i = 0; i < per / 2; i += 1000) {
        append_range(&a, i, 1000);
        append_range(&b, i, 1000);
        size_t held = dd_scratch_array_memory_bytes(&a) + dd_scratch_array_memory_bytes(&b);
        assert_true(held + atomic_load(&shared.left) == BUDGET);
    }
    /* b left a quarter to a, then went out whole; a holds its half in memory. */
    assert_non_null(b.spool);
    assert_int_equal(dd_scratch_array_memory_bytes(&b), 0);
    assert_null(a.spool);
    assert_true(dd_scratch_array_scratch_bytes(&b) == b.n * sizeof(elem));
    expect_all(&a);
    expect_all(&b);
    /* a past the budget goes on in its scratch file too. */
    append_range(&a, a.n, per / 2);
    assert_non_null(a.spool);
    dd_scratch_array_free(&a);
    dd_scratch_array_free(&b);
    assert_int_equal(atomic_load(&shared.left), BUDGET);
    rmdir(dir);
    free(versions);
    free(dir);
}

/* Bytes the process read so far (rchar of /proc/self/io: every read
 * call's, from the page cache or not). */
static unsigned long long bytes_read(void)
{
    FILE *f = fopen("/proc/self/io", "r");
    assert_non_null(f);
    char key[32];
    unsigned long long value, rchar = 0;
    while (fscanf(f, "%31[^:]: %llu ", key, &value) == 2)
        if (!strcmp(key, "rchar"))
            rchar = value;
    fclose(f);
    return rchar;
}

/* Three arrays in scratch files walked in turn, an element of each a step
 * (as the rounds walk their near-repeats, the units of them and the units
 * they repeat: rounds.c), each read back about once: the thread keeps the
 * block of each. With two blocks, the one not used last read over, every
 * step read all three blocks again (16 KB each). */
static void arrays_walked_in_turn_are_read_once(void **unused)
{
    (void)unused;
    char *dir = make_folder("test_scratch_array");
    const size_t n = 200000; /* 4.8 MB an array, past the scratch file's write buffer */
    versions = calloc(n, sizeof *versions);
    dd_scratch_array arrays[3];
    for (size_t k = 0; k < 3; k++) {
        dd_scratch_array_init(&arrays[k], sizeof(elem), 1, dir, "elements"); /* none in memory */
        append_range(&arrays[k], 0, n);
        assert_non_null(arrays[k].spool);
    }
    unsigned long long before = bytes_read();
    for (size_t i = 0; i < n; i++) {
        expect_elem(dd_scratch_array_get(&arrays[0], i), i, "get, first array");
        expect_elem(dd_scratch_array_get(&arrays[1], i), i, "get, second array");
        expect_elem(dd_scratch_array_get(&arrays[2], i / 3), i / 3, "get, third array");
    }
    unsigned long long read = bytes_read() - before;
    /* The first two once, a third of the third, and a block more of each. */
    unsigned long long once = (2 * n + n / 3) * sizeof(elem) + 3 * 16384;
    if (read > once)
        fail_msg("walking three arrays in turn read %llu bytes, want at most %llu", read, once);
    for (size_t k = 0; k < 3; k++)
        dd_scratch_array_free(&arrays[k]);
    rmdir(dir);
    free(versions);
    free(dir);
}

/* Spans of an array gathered at once, sorted, each to its place in a
 * buffer: those in its scratch file (in runs: one read for spans close to
 * each other, one each for spans far apart), those it still holds in
 * memory, and one that crosses from one to the other, all as appended.
 * Moved back into memory, its room taken from its shared budget, every
 * element comes back from memory (nothing read from a file) and the file
 * is gone; an array the budget cannot take is left as it was. */
static void spans_gathered_and_moved_back_in(void **unused)
{
    (void)unused;
    char *dir = make_folder("test_scratch_array");
    size_t per = BUDGET / sizeof(elem); /* elements the budget holds */
    versions = calloc(2 * per, sizeof *versions);
    dd_scratch_budget shared;
    dd_scratch_budget_init(&shared, BUDGET);
    dd_scratch_array a;
    dd_scratch_array_init_shared(&a, sizeof(elem), &shared, 0, dir, "elements");
    append_range(&a, 0, per - 1000);
    for (size_t k = 0; k < 100; k++) /* past the budget: most of what it held waits */
        append_range(&a, a.n, 50);
    assert_non_null(a.spool);
    assert_true(a.written < a.held && a.held < a.n);
    /* Spans: runs near each other in the file before what is held, one
     * each far apart, spans held in memory, one across the two, and runs
     * in the file past them. */
    dd_scratch_span spans[64];
    size_t count = 0, to = 0;
    for (size_t k = 0; k < 10; k++) /* one run: 8 to 17 elements apart */
        spans[count++] = (dd_scratch_span){100 + 20 * k, 3 + k % 4, 0};
    for (size_t k = 0; k < 5; k++) /* far apart */
        spans[count++] = (dd_scratch_span){1000 + 5000 * k, 7, 0};
    spans[count++] = (dd_scratch_span){a.written - 2, 5, 0}; /* across */
    for (size_t k = 0; k < 5; k++) /* held in memory */
        spans[count++] = (dd_scratch_span){a.written + 10 + 40 * k, 30, 0};
    for (size_t k = 0; k < 10; k++) /* a run past them */
        spans[count++] = (dd_scratch_span){a.held + 10 + 100 * k, 60, 0};
    for (size_t k = 0; k < count; k++) {
        spans[k].to = to;
        to += spans[k].n;
    }
    elem *out = calloc(to, sizeof *out);
    unsigned char *buf = NULL;
    size_t cap = 0;
    /* 4 KB apart at most: about 170 elements of 24 bytes. */
    size_t reads = dd_scratch_array_gather(&a, spans, count, out, 4096, &buf, &cap);
    for (size_t k = 0; k < count; k++)
        for (size_t i = 0; i < spans[k].n; i++)
            expect_elem(&out[spans[k].to + i], spans[k].first + i, "gathered");
    /* The two runs once each, the five far apart, the one across. */
    if (reads != 1 + 5 + 1 + 1)
        fail_msg("gathering %zu spans made %zu reads, want 8", count, reads);
    free(out);
    free(buf);
    /* Back into memory, once the budget has room for them all (as when
     * other arrays give theirs back): it takes the room of its elements
     * and gives back what it held. */
    assert_false(dd_scratch_array_move_in(&a, 0)); /* not yet */
    assert_non_null(a.spool);
    dd_scratch_budget_give(&shared, 2 * BUDGET);
    size_t left = atomic_load(&shared.left), had = dd_scratch_array_memory_bytes(&a);
    assert_true(dd_scratch_array_move_in(&a, 0));
    assert_null(a.spool);
    assert_int_equal(dd_scratch_array_memory_bytes(&a), a.n * sizeof(elem));
    assert_int_equal(atomic_load(&shared.left), left + had - a.n * sizeof(elem));
    unsigned long long before = bytes_read();
    expect_all(&a);
    assert_true(bytes_read() - before < 4096); /* /proc/self/io's own text, no block */
    /* One more element goes on in memory. */
    append_range(&a, a.n, 1);
    expect_all(&a);
    /* An array of more than the budget would have left past what it
     * must leave stays in its file. */
    dd_scratch_array b;
    dd_scratch_array_init_shared(&b, sizeof(elem), &shared, 0, dir, "elements");
    dd_scratch_array_move_out(&b, &(char *){NULL});
    append_range(&b, 0, per);
    assert_non_null(b.spool);
    left = atomic_load(&shared.left);
    assert_false(dd_scratch_array_move_in(&b, left - b.n * sizeof(elem) + 1));
    assert_non_null(b.spool);
    assert_int_equal(atomic_load(&shared.left), left);
    expect_all(&b);
    dd_scratch_array_free(&a);
    dd_scratch_array_free(&b);
    assert_int_equal(atomic_load(&shared.left), 3 * BUDGET);
    assert_int_equal(entries(dir), 0);
    rmdir(dir);
    free(versions);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(elements_come_back_wherever_they_are),
        cmocka_unit_test(replaced_wherever_they_are),
        cmocka_unit_test(truncated_ones_are_replaced),
        cmocka_unit_test(a_failed_write_is_an_error),
        cmocka_unit_test(no_scratch_file_can_be_made),
        cmocka_unit_test(room_appended_in_memory_and_written_by_the_caller),
        cmocka_unit_test(arrays_share_a_budget),
        cmocka_unit_test(arrays_walked_in_turn_are_read_once),
        cmocka_unit_test(spans_gathered_and_moved_back_in),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
