/*
 * test_stream.c - unit tests of the block reader and writer (dedup/io/stream.c):
 * real files in a temporary folder, compressed here with zlib and libzstd,
 * and pipes fed by a child process; every record is checked byte for byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "io/stream.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

/* A growable byte string. */
typedef struct bytes {
    char *p;
    size_t n, cap;
} bytes;

static void bytes_add(bytes *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    if (n)
        memcpy(b->p + b->n, p, n);
    b->n += n;
}

/* Records joined by a delimiter, with where each one is. */
typedef struct corpus {
    bytes data;
    size_t *off, *len;
    size_t count, cap;
    bool final_delim;
    size_t longest; /* index of the longest record */
} corpus;

static void corpus_free(corpus *c)
{
    free(c->data.p);
    free(c->off);
    free(c->len);
    memset(c, 0, sizeof *c);
}

static void corpus_add(corpus *c, const char *p, size_t n, int delim)
{
    if (c->count == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 256;
        c->off = realloc(c->off, c->cap * sizeof *c->off);
        c->len = realloc(c->len, c->cap * sizeof *c->len);
        assert_true(c->off && c->len);
    }
    c->off[c->count] = c->data.n;
    c->len[c->count] = n;
    if (c->count == 0 || n > c->len[c->longest])
        c->longest = c->count;
    c->count++;
    bytes_add(&c->data, p, n);
    char d = (char)delim;
    bytes_add(&c->data, &d, 1);
}

/* Ends the corpus: with or without a delimiter after the last record. */
static void corpus_end(corpus *c, bool final_delim)
{
    c->final_delim = final_delim;
    if (!final_delim)
        c->data.n--;
}

/* A corpus from a list of records, e.g. {"a", "b", NULL}. */
static void corpus_of(corpus *c, const char *const *recs, int delim, bool final_delim)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; recs[i]; i++)
        corpus_add(c, recs[i], strlen(recs[i]), delim);
    corpus_end(c, final_delim);
}

static uint64_t next_random(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* About 3.3 MB of records of varied length: most short, some of kilobytes,
 * a few of hundreds of kilobytes, and one of 2.3 MB (more than two blocks),
 * mostly letters with other bytes (CR, NUL or newline, high bytes) mixed
 * in, never the delimiter. */
static void corpus_big(corpus *c, uint64_t seed, int delim, bool final_delim)
{
    memset(c, 0, sizeof *c);
    char *rec = malloc(2300000);
    assert_non_null(rec);
    uint64_t s = seed;
    size_t total = 0;
    for (size_t i = 0; total < 3200000 || i < 600; i++) {
        uint64_t k = next_random(&s) % 100;
        size_t n = k < 90   ? next_random(&s) % 120
                   : k < 98 ? 120 + next_random(&s) % 8000
                            : 8000 + next_random(&s) % 200000;
        if (i == 500)
            n = 2300000;
        for (size_t j = 0; j < n; j++) {
            uint64_t v = next_random(&s);
            char ch = (char)('a' + v % 16);
            if (v % 50 == 0) {
                ch = (char)(v >> 8);
                if (ch == (char)delim)
                    ch = '\r';
            }
            rec[j] = ch;
        }
        if (i == 0 && n > 0)
            rec[0] = 'A'; /* no magic number by chance */
        corpus_add(c, rec, n, delim);
        total += n + 1;
    }
    if (!final_delim && c->len[c->count - 1] == 0)
        corpus_add(c, "end", 3, delim);
    corpus_end(c, final_delim);
    free(rec);
}

static bytes gzip_of(const char *p, size_t n)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    bytes out = {0};
    out.cap = deflateBound(&z, (uLong)n);
    out.p = malloc(out.cap);
    assert_non_null(out.p);
    z.next_in = (Bytef *)p;
    z.avail_in = (uInt)n;
    z.next_out = (Bytef *)out.p;
    z.avail_out = (uInt)out.cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    out.n = out.cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

static bytes zstd_of(const char *p, size_t n)
{
    bytes out = {0};
    out.cap = ZSTD_compressBound(n);
    out.p = malloc(out.cap);
    assert_non_null(out.p);
    out.n = ZSTD_compress(out.p, out.cap, p, n, 3);
    assert_false(ZSTD_isError(out.n));
    return out;
}

static int compare_sizes(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* The corpus data cut at the given offsets (sorted here), each piece
 * compressed on its own, concatenated: a multi-member gzip or multi-frame
 * zstd file. */
static bytes compress_pieces(const corpus *c, size_t *cuts, size_t ncuts, bool zstd)
{
    bytes out = {0};
    size_t from = 0;
    qsort(cuts, ncuts, sizeof *cuts, compare_sizes);
    for (size_t i = 0; i <= ncuts; i++) {
        size_t to = i < ncuts ? cuts[i] : c->data.n;
        assert_true(from <= to && to <= c->data.n);
        bytes b =
            zstd ? zstd_of(c->data.p + from, to - from) : gzip_of(c->data.p + from, to - from);
        bytes_add(&out, b.p, b.n);
        free(b.p);
        from = to;
    }
    return out;
}

typedef struct fixture {
    char dir[256];
    int files;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof f->dir, "%s/test_stream.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(f->dir))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    DIR *d = opendir(f->dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char path[512];
            snprintf(path, sizeof path, "%s/%s", f->dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static char *temp_path(fixture *f, const char *name)
{
    char *path = malloc(strlen(f->dir) + strlen(name) + 32);
    assert_non_null(path);
    sprintf(path, "%s/%d-%s", f->dir, f->files++, name);
    return path;
}

/* Writes p[0..n) to a new file in the temporary folder; returns its path. */
static char *put_file(fixture *f, const char *name, const void *p, size_t n)
{
    char *path = temp_path(f, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    const char *s = p;
    while (n > 0) {
        ssize_t put = write(fd, s, n);
        assert_true(put > 0);
        s += put;
        n -= (size_t)put;
    }
    assert_int_equal(close(fd), 0);
    return path;
}

static dd_reader *open_ok(const char *path, size_t max_record)
{
    char *err = NULL;
    dd_reader *r = dd_reader_open(path, max_record, &err);
    if (!r)
        fail_msg("open %s: %s", path, err);
    assert_null(err);
    return r;
}

/* Reads every record of r and checks it against c, then the clean end. */
static void expect_corpus(dd_reader *r, const corpus *c, int delim)
{
    const char *rec;
    size_t len;
    bool had;
    char *err = NULL;
    for (size_t i = 0; i < c->count; i++) {
        int st = dd_reader_next(r, delim, &rec, &len, &had, &err);
        if (st != 1)
            fail_msg("record %zu of %zu: status %d (%s)", i + 1, c->count, st, err ? err : "");
        if (len != c->len[i])
            fail_msg("record %zu: length %zu, want %zu", i + 1, len, c->len[i]);
        if (len && memcmp(rec, c->data.p + c->off[i], len) != 0)
            fail_msg("record %zu: wrong bytes", i + 1);
        assert_int_equal(had, i + 1 < c->count || c->final_delim);
        assert_int_equal(dd_reader_record_number(r), i + 1);
    }
    assert_int_equal(dd_reader_next(r, delim, &rec, &len, &had, &err), 0);
    assert_int_equal(dd_reader_next(r, delim, &rec, &len, &had, &err), 0);
    assert_null(err);
    assert_int_equal(dd_reader_record_number(r), c->count);
    assert_int_equal(dd_reader_bytes(r), c->data.n);
}

/* Reads records, checking each against c, until an error; checks the
 * message is want and stays. Returns the number of records read. */
static size_t expect_error(dd_reader *r, const corpus *c, int delim, const char *want)
{
    const char *rec;
    size_t len, n = 0;
    bool had;
    char *err = NULL;
    int st;
    while ((st = dd_reader_next(r, delim, &rec, &len, &had, &err)) == 1) {
        assert_true(n < c->count);
        assert_int_equal(len, c->len[n]);
        if (len)
            assert_memory_equal(rec, c->data.p + c->off[n], len);
        n++;
    }
    assert_int_equal(st, -1);
    assert_non_null(err);
    assert_string_equal(err, want);
    free(err);
    err = NULL;
    assert_int_equal(dd_reader_next(r, delim, &rec, &len, &had, &err), -1);
    assert_string_equal(err, want);
    free(err);
    return n;
}

/* Reads until the end or an error; returns the status and sets *err. */
static int read_to_end(dd_reader *r, char **err)
{
    const char *rec;
    size_t len;
    bool had;
    int st;
    while ((st = dd_reader_next(r, '\n', &rec, &len, &had, err)) == 1)
        ;
    return st;
}

static char *message(const char *path, const char *what)
{
    size_t n = strlen(path) + strlen(what) + 3;
    char *s = malloc(n);
    assert_non_null(s);
    snprintf(s, n, "%s: %s", path, what);
    return s;
}

/* Opens a file holding p[0..n), reads it as c, and checks the format. */
static void check_file(fixture *f, const void *p, size_t n, const corpus *c, int delim,
                       const char *format)
{
    char *path = put_file(f, format, p, n);
    dd_reader *r = open_ok(path, 0);
    assert_string_equal(dd_reader_format(r), format);
    assert_string_equal(dd_reader_name(r), path);
    expect_corpus(r, c, delim);
    dd_reader_close(r);
    free(path);
}

/* c in the three formats. */
static void check_all_formats(fixture *f, const corpus *c, int delim)
{
    check_file(f, c->data.p, c->data.n, c, delim, "plain");
    bytes g = gzip_of(c->data.p, c->data.n);
    check_file(f, g.p, g.n, c, delim, "gzip");
    bytes z = zstd_of(c->data.p, c->data.n);
    check_file(f, z.p, z.n, c, delim, "zstd");
    free(g.p);
    free(z.p);
}

static void small_records(void **state)
{
    corpus c;
    corpus_of(&c, (const char *const[]){"one", "two", "", "three", NULL}, '\n', false);
    assert_int_equal(c.data.n, 14);
    assert_memory_equal(c.data.p, "one\ntwo\n\nthree", 14);
    check_all_formats(*state, &c, '\n');
    corpus_free(&c);

    /* ends with an empty record: "a\n\n" is "a" and "" */
    corpus_of(&c, (const char *const[]){"a", "", NULL}, '\n', true);
    assert_memory_equal(c.data.p, "a\n\n", 3);
    check_all_formats(*state, &c, '\n');
    corpus_free(&c);

    /* one record, no delimiter */
    corpus_of(&c, (const char *const[]){"x", NULL}, '\n', false);
    assert_int_equal(c.data.n, 1);
    check_all_formats(*state, &c, '\n');
    corpus_free(&c);
}

static void crlf_bytes_are_kept(void **state)
{
    corpus c;
    corpus_of(&c, (const char *const[]){"a\r", "b\r", "\r", " c \r\r", NULL}, '\n', true);
    assert_int_equal(c.data.n, 14);
    assert_memory_equal(c.data.p, "a\r\nb\r\n\r\n c \r\r\n", 14);
    check_all_formats(*state, &c, '\n');
    corpus_free(&c);
}

static void nul_delimiter(void **state)
{
    corpus c;
    corpus_of(&c, (const char *const[]){"x\ny", "z", "", "last\n", NULL}, '\0', false);
    assert_memory_equal(c.data.p, "x\ny\0z\0\0last\n", 13);
    check_all_formats(*state, &c, '\0');
    corpus_free(&c);

    corpus_big(&c, 77, '\0', true);
    check_all_formats(*state, &c, '\0');
    corpus_free(&c);
}

static void empty_input(void **state)
{
    fixture *f = *state;
    corpus c;
    corpus_of(&c, (const char *const[]){NULL}, '\n', true);
    check_file(f, "", 0, &c, '\n', "plain");
    bytes g = gzip_of("", 0);
    check_file(f, g.p, g.n, &c, '\n', "gzip");
    bytes z = zstd_of("", 0);
    check_file(f, z.p, z.n, &c, '\n', "zstd");
    /* several empty members and frames */
    bytes gg = {0}, zz = {0};
    for (int i = 0; i < 3; i++) {
        bytes_add(&gg, g.p, g.n);
        bytes_add(&zz, z.p, z.n);
    }
    check_file(f, gg.p, gg.n, &c, '\n', "gzip");
    check_file(f, zz.p, zz.n, &c, '\n', "zstd");
    free(g.p);
    free(z.p);
    free(gg.p);
    free(zz.p);
    corpus_free(&c);

    /* a lone delimiter is one empty record */
    corpus_of(&c, (const char *const[]){"", NULL}, '\n', true);
    assert_int_equal(c.data.n, 1);
    check_all_formats(f, &c, '\n');
    corpus_free(&c);
}

/* Files bigger than the block: records across block boundaries, one
 * across more than two. */
static void big_inputs(void **state)
{
    corpus c;
    corpus_big(&c, 1, '\n', true);
    assert_true(c.data.n > 3 * DD_STREAM_BLOCK);
    assert_true(c.len[c.longest] > 2 * DD_STREAM_BLOCK);
    check_all_formats(*state, &c, '\n');
    corpus_free(&c);

    corpus_big(&c, 2, '\n', false);
    check_all_formats(*state, &c, '\n');
    corpus_free(&c);
}

/* gzip files written with zlib's gz* functions: "ab" appends a member. */
static void gz_file_api(void **state)
{
    fixture *f = *state;
    corpus c;
    corpus_big(&c, 3, '\n', false);
    char *path = temp_path(f, "gzapi.gz");
    size_t half = c.data.n / 2 + 12345;
    gzFile g = gzopen(path, "wb");
    assert_non_null(g);
    assert_int_equal(gzwrite(g, c.data.p, (unsigned)half), (int)half);
    assert_int_equal(gzclose(g), Z_OK);
    g = gzopen(path, "ab9");
    assert_non_null(g);
    assert_int_equal(gzwrite(g, c.data.p + half, (unsigned)(c.data.n - half)),
                     (int)(c.data.n - half));
    assert_int_equal(gzclose(g), Z_OK);
    dd_reader *r = open_ok(path, 0);
    assert_string_equal(dd_reader_format(r), "gzip");
    expect_corpus(r, &c, '\n');
    dd_reader_close(r);
    free(path);
    corpus_free(&c);
}

/* cat a.gz b.gz ...: members cut inside records, an empty member, a member
 * of one byte. */
static void multi_member_gzip(void **state)
{
    corpus c;
    corpus_big(&c, 4, '\n', true);
    size_t cuts[] = {5, 6, 6, 1000003, 1500000, c.off[c.longest] + 7, c.data.n - 2};
    bytes g = compress_pieces(&c, cuts, sizeof cuts / sizeof *cuts, false);
    check_file(*state, g.p, g.n, &c, '\n', "gzip");
    free(g.p);
    corpus_free(&c);
}

static void multi_frame_zstd(void **state)
{
    corpus c;
    corpus_big(&c, 5, '\n', false);
    size_t cuts[] = {1, 2, 2, 999999, 2000000, c.off[c.longest] + 1, c.data.n - 1};
    bytes z = compress_pieces(&c, cuts, sizeof cuts / sizeof *cuts, true);
    check_file(*state, z.p, z.n, &c, '\n', "zstd");
    free(z.p);
    corpus_free(&c);
}

/* A compressed file cut short by a few bytes, by half, and inside its
 * second member or frame: an error, after the records decoded whole. */
static void check_truncated(fixture *f, bool zstd)
{
    const char *fmt = zstd ? "zstd" : "gzip";
    char what[64];
    snprintf(what, sizeof what, "truncated %s data", fmt);
    corpus c;
    corpus_big(&c, 6, '\n', true);
    bytes z = zstd ? zstd_of(c.data.p, c.data.n) : gzip_of(c.data.p, c.data.n);
    /* what the file of two members or frames holds */
    size_t count = c.count;
    corpus_add(&c, "more", 4, '\n');
    size_t first = z.n;
    bytes two = {0};
    bytes_add(&two, z.p, z.n);
    bytes more = zstd ? zstd_of("more\n", 5) : gzip_of("more\n", 5);
    bytes_add(&two, more.p, more.n);
    struct {
        const char *p;
        size_t n;
        size_t min_records, max_records;
    } cases[] = {
        {z.p, z.n - 3, 1, count},
        {z.p, z.n - 1, 1, count},
        {z.p, z.n / 2, 1, count - 1},
        {z.p, 100, 0, count - 1},
        {z.p, 5, 0, 0},
        {two.p, first + more.n - 2, count, count + 1},
        {two.p, first + 3, count, count},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *path = put_file(f, fmt, cases[i].p, cases[i].n);
        char *want = message(path, what);
        dd_reader *r = open_ok(path, 0);
        assert_string_equal(dd_reader_format(r), fmt);
        size_t n = expect_error(r, &c, '\n', want);
        if (n < cases[i].min_records || n > cases[i].max_records)
            fail_msg("case %zu: %zu records before the error", i, n);
        dd_reader_close(r);
        free(want);
        free(path);
    }
    free(z.p);
    free(two.p);
    free(more.p);
    corpus_free(&c);
}

static void truncated_gzip(void **state)
{
    check_truncated(*state, false);
}

static void truncated_zstd(void **state)
{
    check_truncated(*state, true);
}

/* Opens p[0..n) and reads to the end: an error whose message starts with
 * "PATH: " + want. */
static void expect_corrupt(fixture *f, const void *p, size_t n, const char *want)
{
    char *path = put_file(f, "bad", p, n);
    char *prefix = message(path, want);
    dd_reader *r = open_ok(path, 0);
    char *err = NULL;
    assert_int_equal(read_to_end(r, &err), -1);
    assert_non_null(err);
    if (strncmp(err, prefix, strlen(prefix)) != 0)
        fail_msg("message \"%s\", want \"%s...\"", err, prefix);
    free(err);
    dd_reader_close(r);
    free(prefix);
    free(path);
}

static void corrupt_data(void **state)
{
    fixture *f = *state;
    /* garbage after the gzip magic */
    static const char not_gzip[] = "\x1f\x8bthis is not gzip at all\n";
    expect_corrupt(f, not_gzip, sizeof not_gzip - 1, "corrupt gzip data (");
    /* a bad compression method */
    expect_corrupt(f, "\x1f\x8b\x07\x00\x00\x00\x00\x00\x00\x03", 10,
                   "corrupt gzip data (unknown compression method)");
    /* garbage after the zstd magic */
    char not_zstd[64];
    memset(not_zstd, 0xff, sizeof not_zstd);
    memcpy(not_zstd, "\x28\xb5\x2f\xfd", 4);
    expect_corrupt(f, not_zstd, sizeof not_zstd, "corrupt zstd data (");

    corpus c;
    corpus_big(&c, 8, '\n', true);
    bytes g = gzip_of(c.data.p, c.data.n);
    /* a byte changed in the middle of the deflate data */
    g.p[g.n / 2] ^= 0x55;
    expect_corrupt(f, g.p, g.n, "corrupt gzip data (");
    g.p[g.n / 2] ^= 0x55;
    /* a wrong CRC */
    g.p[g.n - 6] ^= 1;
    expect_corrupt(f, g.p, g.n, "corrupt gzip data (incorrect data check)");
    g.p[g.n - 6] ^= 1;
    /* trailing garbage after a whole member: every record, then the error */
    bytes_add(&g, "garbage", 7);
    char *path = put_file(f, "trailing.gz", g.p, g.n);
    char *want = message(path, "corrupt gzip data (incorrect header check)");
    dd_reader *r = open_ok(path, 0);
    assert_int_equal(expect_error(r, &c, '\n', want), c.count);
    dd_reader_close(r);
    free(want);
    free(path);
    free(g.p);

    bytes z = zstd_of(c.data.p, c.data.n);
    bytes_add(&z, "garbage!", 8);
    expect_corrupt(f, z.p, z.n, "corrupt zstd data (");
    free(z.p);
    corpus_free(&c);
}

/* A zstd frame that asks for a window of 256 MiB (zstd --long=28) is
 * refused, with a message that says why. */
static void zstd_window_too_large(void **state)
{
    fixture *f = *state;
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    assert_non_null(cc);
    assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_windowLog, 28)));
    char out[256];
    ZSTD_inBuffer in = {"a\nb\n", 4, 0};
    ZSTD_outBuffer o = {out, sizeof out, 0};
    /* flushed before the end: the size is not known, the window stays */
    assert_int_equal(ZSTD_compressStream2(cc, &o, &in, ZSTD_e_flush), 0);
    in = (ZSTD_inBuffer){"", 0, 0};
    assert_int_equal(ZSTD_compressStream2(cc, &o, &in, ZSTD_e_end), 0);
    ZSTD_freeCCtx(cc);
    char *path = put_file(f, "long.zst", out, o.pos);
    char *want = message(path, "zstd data with a window over 128 MiB (zstd --long=28 or more), "
                               "not read so that memory stays bounded");
    dd_reader *r = open_ok(path, 0);
    corpus c;
    corpus_of(&c, (const char *const[]){NULL}, '\n', true);
    assert_int_equal(expect_error(r, &c, '\n', want), 0);
    dd_reader_close(r);
    corpus_free(&c);
    free(want);
    free(path);
}

/* Two bytes that start a magic number but no more are plain text. */
static void partial_magic_is_plain(void **state)
{
    corpus c;
    corpus_of(&c, (const char *const[]){"\x28\xb5\x2f", NULL}, '\n', false);
    check_file(*state, c.data.p, c.data.n, &c, '\n', "plain");
    corpus_free(&c);
    corpus_of(&c, (const char *const[]){"\x1f", NULL}, '\n', false);
    check_file(*state, c.data.p, c.data.n, &c, '\n', "plain");
    corpus_free(&c);
}

static void record_too_long(void **state)
{
    fixture *f = *state;
    corpus c;
    corpus_of(&c, (const char *const[]){"0123", "0123456789", "01234567890", "x", NULL}, '\n',
              true);
    char *path = put_file(f, "long", c.data.p, c.data.n);
    char *want = message(path, "record 3 is longer than 10 bytes (--max-record)");
    dd_reader *r = open_ok(path, 10);
    assert_int_equal(expect_error(r, &c, '\n', want), 2);
    assert_int_equal(dd_reader_record_number(r), 2);
    dd_reader_close(r);
    free(want);
    free(path);
    corpus_free(&c);

    /* the last record, without a delimiter */
    corpus_of(&c, (const char *const[]){"abc", "abcd", NULL}, '\n', false);
    path = put_file(f, "long", c.data.p, c.data.n);
    want = message(path, "record 2 is longer than 3 bytes (--max-record)");
    r = open_ok(path, 3);
    assert_int_equal(expect_error(r, &c, '\n', want), 1);
    dd_reader_close(r);
    free(want);
    free(path);
    corpus_free(&c);

    /* across blocks: the longest record is accepted at its exact length,
     * not one byte under, plain and compressed */
    corpus_big(&c, 9, '\n', true);
    size_t longest = c.len[c.longest];
    char what[64];
    snprintf(what, sizeof what, "record %zu is longer than %zu bytes (--max-record)", c.longest + 1,
             longest - 1);
    bytes z = zstd_of(c.data.p, c.data.n);
    const char *fmt[] = {"plain", "zstd"};
    const bytes *data[] = {&c.data, &z};
    for (int i = 0; i < 2; i++) {
        path = put_file(f, fmt[i], data[i]->p, data[i]->n);
        r = open_ok(path, longest);
        expect_corpus(r, &c, '\n');
        dd_reader_close(r);
        want = message(path, what);
        r = open_ok(path, longest - 1);
        assert_int_equal(expect_error(r, &c, '\n', want), c.longest);
        dd_reader_close(r);
        free(want);
        free(path);
    }
    free(z.p);
    corpus_free(&c);
}

static void open_errors(void **state)
{
    fixture *f = *state;
    char *err = NULL;
    char *path = temp_path(f, "missing");
    assert_null(dd_reader_open(path, 0, &err));
    char *want = message(path, "No such file or directory");
    assert_string_equal(err, want);
    free(err);
    free(want);
    free(path);

    err = NULL;
    assert_null(dd_reader_open(f->dir, 0, &err));
    want = message(f->dir, "Is a directory");
    assert_string_equal(err, want);
    free(err);
    free(want);
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t put = write(fd, p, n);
        if (put < 0 && errno == EINTR)
            continue;
        if (put <= 0)
            _exit(1);
        p += put;
        n -= (size_t)put;
    }
}

/* A child process that writes p[0..n) into a pipe: one byte, a pause (the
 * reader sees a short first read), then pieces of 7001 bytes. Returns the
 * read end. */
static int feed_pipe(const char *p, size_t n, pid_t *pid)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    *pid = fork();
    assert_true(*pid >= 0);
    if (*pid == 0) {
        close(fds[0]);
        size_t first = n < 1 ? n : 1;
        write_all(fds[1], p, first);
        nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
        for (size_t at = first; at < n; at += 7001)
            write_all(fds[1], p + at, n - at < 7001 ? n - at : 7001);
        close(fds[1]);
        _exit(0);
    }
    close(fds[1]);
    return fds[0];
}

static void reap(pid_t pid)
{
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void read_pipe(const bytes *b, const corpus *c, const char *format)
{
    pid_t pid;
    int fd = feed_pipe(b->p, b->n, &pid);
    char *err = NULL;
    dd_reader *r = dd_reader_open_fd(fd, "-", 0, &err);
    assert_non_null(r);
    assert_string_equal(dd_reader_name(r), "-");
    assert_string_equal(dd_reader_format(r), format);
    expect_corpus(r, c, '\n');
    dd_reader_close(r);
    /* the reader did not close the descriptor */
    assert_true(fcntl(fd, F_GETFD) != -1);
    close(fd);
    reap(pid);
}

static void through_a_pipe(void **state)
{
    (void)state;
    corpus c;
    corpus_big(&c, 10, '\n', false);
    read_pipe(&c.data, &c, "plain");
    bytes g = compress_pieces(&c, (size_t[]){777777}, 1, false);
    read_pipe(&g, &c, "gzip");
    bytes z = compress_pieces(&c, (size_t[]){3000000}, 1, true);
    read_pipe(&z, &c, "zstd");
    free(g.p);
    free(z.p);
    corpus_free(&c);

    /* truncated through a pipe: the name given is in the message */
    corpus_of(&c, (const char *const[]){"alpha", "beta", NULL}, '\n', true);
    g = gzip_of(c.data.p, c.data.n);
    pid_t pid;
    int fd = feed_pipe(g.p, g.n - 4, &pid);
    char *err = NULL;
    dd_reader *r = dd_reader_open_fd(fd, "(stdin)", 0, &err);
    assert_non_null(r);
    expect_error(r, &c, '\n', "(stdin): truncated gzip data");
    dd_reader_close(r);
    close(fd);
    reap(pid);
    free(g.p);
    corpus_free(&c);
}

/* "-" is standard input, which the reader does not close. */
static void dash_is_stdin(void **state)
{
    (void)state;
    corpus c;
    corpus_of(&c, (const char *const[]){"from", "stdin", NULL}, '\n', false);
    bytes z = zstd_of(c.data.p, c.data.n);
    pid_t pid;
    int fd = feed_pipe(z.p, z.n, &pid);
    int saved = dup(STDIN_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fd, STDIN_FILENO) == STDIN_FILENO);
    close(fd);
    dd_reader *r = open_ok("-", 0);
    assert_string_equal(dd_reader_name(r), "-");
    assert_string_equal(dd_reader_format(r), "zstd");
    expect_corpus(r, &c, '\n');
    dd_reader_close(r);
    assert_true(fcntl(STDIN_FILENO, F_GETFD) != -1);
    assert_true(dup2(saved, STDIN_FILENO) == STDIN_FILENO);
    close(saved);
    reap(pid);
    free(z.p);
    corpus_free(&c);
}

static size_t pipe_pending(int fd)
{
    int n = -1;
    assert_int_equal(ioctl(fd, FIONREAD, &n), 0);
    return (size_t)n;
}

/* Bytes reach the pipe in whole blocks, the rest on flush. */
static void writer_writes_blocks(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    dd_writer *w = dd_writer_new(fds[1], 4096);
    char rec[100];
    bytes want = {0};
    for (int i = 0; i < 40; i++) { /* 4000 bytes: less than a block */
        memset(rec, 'a' + i % 26, sizeof rec);
        rec[99] = '\n';
        assert_int_equal(dd_writer_write(w, rec, sizeof rec), 0);
        bytes_add(&want, rec, sizeof rec);
    }
    assert_int_equal(dd_writer_write(w, "", 0), 0);
    assert_int_equal(pipe_pending(fds[0]), 0);
    assert_int_equal(dd_writer_write(w, rec, sizeof rec), 0); /* 4100 */
    bytes_add(&want, rec, sizeof rec);
    assert_int_equal(pipe_pending(fds[0]), 4096);
    /* a write of several blocks: whole blocks go out, the rest waits */
    char big[10000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)(i * 7);
    assert_int_equal(dd_writer_write(w, big, sizeof big), 0); /* 14100 */
    bytes_add(&want, big, sizeof big);
    assert_int_equal(pipe_pending(fds[0]), 12288);
    assert_int_equal(dd_writer_flush(w), 0);
    assert_int_equal(pipe_pending(fds[0]), 14100);
    assert_int_equal(dd_writer_flush(w), 0);
    assert_int_equal(pipe_pending(fds[0]), 14100);
    dd_writer_free(w);
    char got[14100];
    size_t n = 0;
    while (n < sizeof got) {
        ssize_t r = read(fds[0], got + n, sizeof got - n);
        assert_true(r > 0);
        n += (size_t)r;
    }
    assert_int_equal(want.n, sizeof got);
    assert_memory_equal(got, want.p, sizeof got);
    close(fds[0]);
    close(fds[1]);
    free(want.p);
}

/* Many small records to a file, then read back with the reader. */
static void writer_to_file(void **state)
{
    fixture *f = *state;
    char *path = temp_path(f, "written");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    dd_writer *w = dd_writer_new(fd, 0);
    corpus c = {0};
    uint64_t s = 42;
    char rec[300];
    for (size_t i = 0; i < 100000; i++) {
        size_t n = next_random(&s) % sizeof rec;
        for (size_t j = 0; j < n; j++)
            rec[j] = (char)('a' + next_random(&s) % 26);
        corpus_add(&c, rec, n, '\n');
        assert_int_equal(dd_writer_write(w, rec, n), 0);
        assert_int_equal(dd_writer_write(w, "\n", 1), 0);
    }
    corpus_end(&c, true);
    assert_true(c.data.n > 3 * DD_STREAM_BLOCK);
    assert_int_equal(dd_writer_flush(w), 0);
    dd_writer_free(w);
    assert_int_equal(close(fd), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal((size_t)st.st_size, c.data.n);
    dd_reader *r = open_ok(path, 0);
    expect_corpus(r, &c, '\n');
    dd_reader_close(r);
    free(path);
    corpus_free(&c);
}

/* A pipe whose reader went away: EPIPE when SIGPIPE is ignored, and it
 * stays. */
static void writer_epipe(void **state)
{
    (void)state;
    struct sigaction ign, old;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    assert_int_equal(sigaction(SIGPIPE, &ign, &old), 0);

    int fds[2];
    assert_int_equal(pipe(fds), 0);
    close(fds[0]);
    dd_writer *w = dd_writer_new(fds[1], 16);
    assert_int_equal(dd_writer_write(w, "0123456789", 10), 0); /* buffered */
    errno = 0;
    assert_int_equal(dd_writer_write(w, "0123456789", 10), -1);
    assert_int_equal(errno, EPIPE);
    errno = 0;
    assert_int_equal(dd_writer_write(w, "x", 1), -1);
    assert_int_equal(errno, EPIPE);
    errno = 0;
    assert_int_equal(dd_writer_flush(w), -1);
    assert_int_equal(errno, EPIPE);
    dd_writer_free(w);

    /* on flush */
    w = dd_writer_new(fds[1], 0);
    assert_int_equal(dd_writer_write(w, "abc\n", 4), 0);
    errno = 0;
    assert_int_equal(dd_writer_flush(w), -1);
    assert_int_equal(errno, EPIPE);
    dd_writer_free(w);
    close(fds[1]);

    assert_int_equal(sigaction(SIGPIPE, &old, NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(small_records),
        cmocka_unit_test(crlf_bytes_are_kept),
        cmocka_unit_test(nul_delimiter),
        cmocka_unit_test(empty_input),
        cmocka_unit_test(big_inputs),
        cmocka_unit_test(gz_file_api),
        cmocka_unit_test(multi_member_gzip),
        cmocka_unit_test(multi_frame_zstd),
        cmocka_unit_test(truncated_gzip),
        cmocka_unit_test(truncated_zstd),
        cmocka_unit_test(corrupt_data),
        cmocka_unit_test(zstd_window_too_large),
        cmocka_unit_test(partial_magic_is_plain),
        cmocka_unit_test(record_too_long),
        cmocka_unit_test(open_errors),
        cmocka_unit_test(through_a_pipe),
        cmocka_unit_test(dash_is_stdin),
        cmocka_unit_test(writer_writes_blocks),
        cmocka_unit_test(writer_to_file),
        cmocka_unit_test(writer_epipe),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
