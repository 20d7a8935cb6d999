/*
 * test_spool.c - unit tests of the scratch file (dedup/io/spool.c): strings
 * appended across the write buffer's edges are read back byte for byte,
 * wherever they lie (in the file, in the buffer, across both), and bytes
 * reserved once written later where they were reserved; the file is
 * deleted as soon as it is made; a folder where no file can be made, and a
 * write that fails (a file size limit, as a full disk would), are errors
 * that say why.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "temp_folder.h"

#include "io/spool.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

/* Byte i of string number k: every string different. */
static unsigned char byte_of(size_t k, size_t i)
{
    return (unsigned char)(k * 131 + i * 7 + i / 251);
}

static void strings_come_back_wherever_they_lie(void **state)
{
    (void)state;
    char *dir = make_folder("test_spool");
    char *err = NULL;
    dd_spool *s = dd_spool_new(dir, &err);
    assert_non_null(s);
    assert_null(err);
    assert_int_equal(entries(dir), 0); /* deleted at once */

    /* Lengths that end just before, at and after the buffer's edges, and
     * strings longer than the buffer. */
    const size_t lengths[] = {1,    DD_SPOOL_BLOCK - 2, 1, 1, 3 * DD_SPOOL_BLOCK + 5,
                              1000, DD_SPOOL_BLOCK,     0, 17};
    const size_t n = sizeof lengths / sizeof lengths[0];
    uint64_t at[sizeof lengths / sizeof lengths[0]];
    uint64_t end = 0;
    unsigned char *buf = malloc(4 * DD_SPOOL_BLOCK);
    for (size_t k = 0; k < n; k++) {
        for (size_t i = 0; i < lengths[k]; i++)
            buf[i] = byte_of(k, i);
        assert_true(dd_spool_append(s, buf, lengths[k], &at[k], &err));
        assert_int_equal(at[k], end);
        end += lengths[k];
        assert_int_equal(dd_spool_bytes(s), end);
        /* The last one at once (from the buffer, or across the file and
         * the buffer), then every one so far. */
        for (size_t j = k + 1; j-- > 0;) {
            memset(buf, 0, lengths[j] + 1);
            assert_true(dd_spool_read(s, at[j], buf, lengths[j], &err));
            for (size_t i = 0; i < lengths[j]; i++)
                if (buf[i] != byte_of(j, i))
                    fail_msg("string %zu, byte %zu: %u, want %u", j, i, buf[i], byte_of(j, i));
            /* and the same through dd_spool_peek (for several threads) */
            memset(buf, 0, lengths[j] + 1);
            assert_true(dd_spool_peek(s, at[j], buf, lengths[j]));
            for (size_t i = 0; i < lengths[j]; i++)
                if (buf[i] != byte_of(j, i))
                    fail_msg("peek: string %zu, byte %zu: %u, want %u", j, i, buf[i],
                             byte_of(j, i));
        }
    }
    /* Overwritten across the file and the buffer (string 6 ends where
     * the buffer holds the rest), then read back. */
    size_t from = (size_t)at[6] + 10, len = (size_t)(end - at[6]) - 20;
    memset(buf, 0xAB, len);
    assert_true(dd_spool_overwrite(s, from, buf, len, &err));
    memset(buf, 0, len);
    assert_true(dd_spool_read(s, at[6], buf, (size_t)(end - at[6]), &err));
    for (size_t i = 0; i < (size_t)(end - at[6]); i++) {
        size_t k = i < lengths[6] ? 6 : i < lengths[6] + lengths[7] ? 7 : 8;
        size_t in = i - (k == 6 ? 0 : k == 7 ? lengths[6] : lengths[6] + lengths[7]);
        unsigned char want = i >= 10 && i < 10 + len ? 0xAB : byte_of(k, in);
        if (buf[i] != want)
            fail_msg("overwritten, byte %zu: %u, want %u", i, buf[i], want);
    }
    assert_false(dd_spool_overwrite(s, end - 1, buf, 2, &err));
    free(err);
    err = NULL;

    /* A part of a string, and a range past the end. */
    assert_true(dd_spool_read(s, at[4] + DD_SPOOL_BLOCK - 3, buf, 10, &err));
    for (size_t i = 0; i < 10; i++)
        assert_int_equal(buf[i], byte_of(4, DD_SPOOL_BLOCK - 3 + i));
    assert_false(dd_spool_read(s, end - 1, buf, 2, &err));
    assert_non_null(err);
    free(err);
    assert_false(dd_spool_peek(s, end - 1, buf, 2));
    assert_true(dd_spool_peek(s, end - 1, buf, 1));
    dd_spool_free(s);
    assert_int_equal(entries(dir), 0);
    rmdir(dir);
    free(buf);
    free(dir);
}

/* Bytes reserved (after some in the buffer) get their place before those
 * appended later, and are read back once written there. */
static void reserved_bytes_written_later(void **state)
{
    (void)state;
    char *dir = make_folder("test_spool");
    char *err = NULL;
    dd_spool *s = dd_spool_new(dir, &err);
    assert_non_null(s);
    unsigned char *buf = malloc(3 * DD_SPOOL_BLOCK);
    const size_t lengths[] = {100, 2 * DD_SPOOL_BLOCK + 7, DD_SPOOL_BLOCK + 3};
    uint64_t at[3];
    for (size_t k = 0; k < 3; k++) {
        for (size_t i = 0; i < lengths[k]; i++)
            buf[i] = byte_of(k, i);
        if (k == 1)
            assert_true(dd_spool_reserve(s, lengths[k], &at[k], &err));
        else
            assert_true(dd_spool_append(s, buf, lengths[k], &at[k], &err));
    }
    assert_int_equal(at[1], lengths[0]);
    assert_int_equal(at[2], lengths[0] + lengths[1]);
    assert_int_equal(dd_spool_bytes(s), lengths[0] + lengths[1] + lengths[2]);
    for (size_t i = 0; i < lengths[1]; i++)
        buf[i] = byte_of(1, i);
    assert_true(dd_spool_overwrite(s, at[1], buf, DD_SPOOL_BLOCK, &err)); /* in two writes */
    assert_true(dd_spool_overwrite(s, at[1] + DD_SPOOL_BLOCK, buf + DD_SPOOL_BLOCK,
                                   lengths[1] - DD_SPOOL_BLOCK, &err));
    for (size_t k = 0; k < 3; k++) {
        memset(buf, 0, lengths[k]);
        assert_true(dd_spool_read(s, at[k], buf, lengths[k], &err));
        for (size_t i = 0; i < lengths[k]; i++)
            if (buf[i] != byte_of(k, i))
                fail_msg("string %zu, byte %zu: %u, want %u", k, i, buf[i], byte_of(k, i));
    }
    dd_spool_free(s);
    rmdir(dir);
    free(buf);
    free(dir);
}

static void a_folder_that_does_not_exist(void **state)
{
    (void)state;
    char *dir = make_folder("test_spool");
    char *missing = malloc(strlen(dir) + 16);
    sprintf(missing, "%s/missing", dir);
    char *err = NULL;
    assert_null(dd_spool_new(missing, &err));
    char want[4200];
    snprintf(want, sizeof want, "cannot make a scratch file in %s: No such file or directory",
             missing);
    assert_string_equal(err, want);
    free(err);
    rmdir(dir);
    free(missing);
    free(dir);
}

/* A write refused (EFBIG past RLIMIT_FSIZE, as ENOSPC on a full disk): the
 * append that flushes fails, saying why, and so does everything after it. */
static void a_failed_write_is_final(void **state)
{
    (void)state;
    char *dir = make_folder("test_spool");
    char *err = NULL;
    dd_spool *s = dd_spool_new(dir, &err);
    assert_non_null(s);
    struct rlimit old, small = {DD_SPOOL_BLOCK / 2, 0};
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    small.rlim_max = old.rlim_max;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);

    unsigned char *buf = calloc(1, DD_SPOOL_BLOCK);
    uint64_t at;
    assert_true(dd_spool_append(s, buf, DD_SPOOL_BLOCK, &at, &err)); /* buffered */
    bool ok = dd_spool_append(s, buf, 1, &at, &err);                 /* flushes */
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, old_handler);
    assert_false(ok);
    char want[4200];
    snprintf(want, sizeof want, "scratch file in %s: File too large", dir);
    assert_string_equal(err, want);
    free(err);
    err = NULL;
    assert_false(dd_spool_read(s, 0, buf, 1, &err));
    assert_string_equal(err, want);
    free(err);
    err = NULL;
    assert_false(dd_spool_append(s, buf, 1, &at, &err));
    assert_string_equal(err, want);
    free(err);
    dd_spool_free(s);
    rmdir(dir);
    free(buf);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(strings_come_back_wherever_they_lie),
        cmocka_unit_test(reserved_bytes_written_later),
        cmocka_unit_test(a_folder_that_does_not_exist),
        cmocka_unit_test(a_failed_write_is_final),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
