/*
 * stream.c - the block reader (plain, gzip through zlib, zstd through
 * libzstd) and the block writer.
 */
#include "io/stream.h"

#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

typedef enum { FMT_PLAIN, FMT_GZIP, FMT_ZSTD } stream_format;

struct dd_reader {
    int fd;
    bool own_fd;
    char *name;  /* as given */
    char *pname; /* printable, for messages */
    size_t max_record;
    stream_format format;

    /* Compressed input (gzip, zstd): in[in_pos..in_len) not yet decoded. */
    unsigned char *in;
    size_t in_pos, in_len;
    bool src_eof; /* read() returned 0 */

    /* Decoded bytes: buf[pos..len) not yet handed out. */
    char *buf;
    size_t pos, len;

    /* A record that spans blocks is assembled here. */
    char *rec;
    size_t rec_len, rec_cap;

    z_stream z;
    bool z_ready;
    ZSTD_DCtx *zd;
    bool in_unit; /* inside a gzip member or a zstd frame */

    uint64_t recno, bytes;
    bool done;   /* 0 returned */
    char *error; /* the final error, once there is one */
};

/* read() that retries on EINTR. */
static ssize_t read_some(int fd, void *p, size_t n)
{
    for (;;) {
        ssize_t r = read(fd, p, n);
        if (r >= 0 || errno != EINTR)
            return r;
    }
}

/* Records the reader's final error and gives the caller a copy. */
static int fail(dd_reader *r, char **err, char *msg)
{
    r->error = msg;
    *err = dd_strdup(msg);
    return -1;
}

static int fail_errno(dd_reader *r, char **err)
{
    return fail(r, err, dd_asprintf("%s: %s", r->pname, strerror(errno)));
}

static const char *format_name(stream_format f)
{
    return f == FMT_GZIP ? "gzip" : f == FMT_ZSTD ? "zstd" : "plain";
}

static const unsigned char gzip_magic[] = {0x1f, 0x8b};
static const unsigned char zstd_magic[] = {0x28, 0xb5, 0x2f, 0xfd};

/* Whether p[0..n) could still turn out to start a magic number. */
static bool magic_prefix(const unsigned char *p, size_t n)
{
    return (n < sizeof gzip_magic && !memcmp(p, gzip_magic, n)) ||
           (n < sizeof zstd_magic && !memcmp(p, zstd_magic, n));
}

/* Whether p[0..n) starts with a magic number: gzip or zstd. */
static bool compressed(const unsigned char *p, size_t n)
{
    return (n >= sizeof gzip_magic && !memcmp(p, gzip_magic, sizeof gzip_magic)) ||
           (n >= sizeof zstd_magic && !memcmp(p, zstd_magic, sizeof zstd_magic));
}

bool dd_stream_plain_size(const char *path, uint64_t *size)
{
    /* Only a regular file is opened: opening a FIFO would let its writer
     * go on before the real reading. */
    struct stat st;
    if (!strcmp(path, "-") || stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    unsigned char head[sizeof zstd_magic];
    ssize_t got = read_some(fd, head, sizeof head);
    close(fd);
    if (got < 0 || compressed(head, (size_t)got))
        return false;
    *size = (uint64_t)st.st_size;
    return true;
}

/* Reads the first bytes into buf and sets the format. */
static bool sniff(dd_reader *r, char **err)
{
    unsigned char *p = (unsigned char *)r->buf;
    size_t n = 0;
    while (n == 0 || magic_prefix(p, n)) {
        ssize_t got = read_some(r->fd, p + n, DD_STREAM_BLOCK - n);
        if (got < 0) {
            *err = dd_asprintf("%s: %s", r->pname, strerror(errno));
            return false;
        }
        if (got == 0) {
            r->src_eof = true;
            break;
        }
        n += (size_t)got;
    }
    if (n >= sizeof gzip_magic && !memcmp(p, gzip_magic, sizeof gzip_magic))
        r->format = FMT_GZIP;
    else if (n >= sizeof zstd_magic && !memcmp(p, zstd_magic, sizeof zstd_magic))
        r->format = FMT_ZSTD;
    if (r->format == FMT_PLAIN) {
        r->len = n;
        return true;
    }
    /* The bytes read are compressed input: they move to in. */
    r->in = p;
    r->in_len = n;
    r->buf = dd_malloc(DD_STREAM_BLOCK);
    if (r->format == FMT_GZIP) {
        /* 15 + 16: a 32 KiB window, gzip wrapper only. */
        if (inflateInit2(&r->z, 15 + 16) != Z_OK) {
            *err = dd_asprintf("%s: cannot set up gzip decompression", r->pname);
            return false;
        }
        r->z_ready = true;
    } else {
        r->zd = ZSTD_createDCtx();
        if (!r->zd) {
            *err = dd_asprintf("%s: cannot set up zstd decompression", r->pname);
            return false;
        }
    }
    return true;
}

dd_reader *dd_reader_open_fd(int fd, const char *name, size_t max_record, char **err)
{
    dd_reader *r = dd_calloc(1, sizeof *r);
    r->fd = fd;
    r->name = dd_strdup(name);
    r->pname = dd_printable(name);
    r->max_record = max_record ? max_record : SIZE_MAX;
    r->buf = dd_malloc(DD_STREAM_BLOCK);
    if (!sniff(r, err)) {
        dd_reader_close(r);
        return NULL;
    }
    return r;
}

dd_reader *dd_reader_open(const char *path, size_t max_record, char **err)
{
    if (!strcmp(path, "-"))
        return dd_reader_open_fd(STDIN_FILENO, path, max_record, err);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        char *p = dd_printable(path);
        *err = dd_asprintf("%s: %s", p, strerror(errno));
        free(p);
        return NULL;
    }
#ifdef POSIX_FADV_SEQUENTIAL
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    dd_reader *r = dd_reader_open_fd(fd, path, max_record, err);
    if (!r) {
        close(fd);
        return NULL;
    }
    r->own_fd = true;
    return r;
}

/* Reads more compressed input once all of it is decoded. */
static int read_input(dd_reader *r, char **err)
{
    if (r->in_pos < r->in_len || r->src_eof)
        return 0;
    ssize_t got = read_some(r->fd, r->in, DD_STREAM_BLOCK);
    if (got < 0)
        return fail_errno(r, err);
    r->in_pos = 0;
    r->in_len = (size_t)got;
    if (got == 0)
        r->src_eof = true;
    return 0;
}

static int truncated(dd_reader *r, char **err)
{
    return fail(r, err, dd_asprintf("%s: truncated %s data", r->pname, format_name(r->format)));
}

/* The fill functions put the next decoded bytes in buf[0..len), and return 1,
 * or 0 at the end of input, or -1 on error. buf is all handed out. */

static int fill_plain(dd_reader *r, char **err)
{
    if (r->src_eof)
        return 0;
    ssize_t got = read_some(r->fd, r->buf, DD_STREAM_BLOCK);
    if (got < 0)
        return fail_errno(r, err);
    if (got == 0) {
        r->src_eof = true;
        return 0;
    }
    r->len = (size_t)got;
    return 1;
}

static int fill_gzip(dd_reader *r, char **err)
{
    for (;;) {
        if (read_input(r, err) < 0)
            return -1;
        if (r->in_pos == r->in_len) {
            if (r->in_unit)
                return truncated(r, err);
            return 0;
        }
        r->z.next_in = r->in + r->in_pos;
        r->z.avail_in = (uInt)(r->in_len - r->in_pos);
        r->z.next_out = (unsigned char *)r->buf;
        r->z.avail_out = (uInt)DD_STREAM_BLOCK;
        r->in_unit = true;
        int st = inflate(&r->z, Z_NO_FLUSH);
        r->in_pos = r->in_len - r->z.avail_in;
        r->len = DD_STREAM_BLOCK - r->z.avail_out;
        if (st == Z_STREAM_END) {
            /* The member is whole; whatever follows must be another one. */
            r->in_unit = false;
            inflateReset(&r->z);
        } else if (st == Z_MEM_ERROR) {
            return fail(r, err, dd_asprintf("%s: out of memory decoding gzip data", r->pname));
        } else if (st != Z_OK && !(st == Z_BUF_ERROR && r->z.avail_in == 0)) {
            const char *why = r->z.msg ? r->z.msg : "invalid data";
            return fail(r, err, dd_asprintf("%s: corrupt gzip data (%s)", r->pname, why));
        }
        if (r->len)
            return 1;
    }
}

static int fill_zstd(dd_reader *r, char **err)
{
    for (;;) {
        if (read_input(r, err) < 0)
            return -1;
        /* At the end of the input, a frame still open may hold decoded bytes
         * not flushed yet: decode on with no input until it gives none. */
        if (r->in_pos == r->in_len && !r->in_unit)
            return 0;
        ZSTD_inBuffer in = {r->in, r->in_len, r->in_pos};
        ZSTD_outBuffer out = {r->buf, DD_STREAM_BLOCK, 0};
        size_t st = ZSTD_decompressStream(r->zd, &out, &in);
        if (ZSTD_isError(st) && ZSTD_getErrorCode(st) == ZSTD_error_frameParameter_windowTooLarge)
            return fail(r, err,
                        dd_asprintf("%s: zstd data with a window over 128 MiB (zstd --long=28 or "
                                    "more), not read so that memory stays bounded",
                                    r->pname));
        if (ZSTD_isError(st))
            return fail(r, err,
                        dd_asprintf("%s: corrupt zstd data (%s)", r->pname, ZSTD_getErrorName(st)));
        r->in_pos = in.pos;
        r->len = out.pos;
        r->in_unit = st != 0; /* 0: the frame is decoded and flushed */
        if (r->len)
            return 1;
        if (r->in_pos == r->in_len && r->src_eof)
            return r->in_unit ? truncated(r, err) : 0;
    }
}

static int fill(dd_reader *r, char **err)
{
    r->pos = r->len = 0;
    switch (r->format) {
    case FMT_GZIP:
        return fill_gzip(r, err);
    case FMT_ZSTD:
        return fill_zstd(r, err);
    default:
        return fill_plain(r, err);
    }
}

/* Appends p[0..n) to the record being assembled; the caller checked that
 * the total is at most max_record. */
static void rec_append(dd_reader *r, const char *p, size_t n)
{
    size_t need = r->rec_len + n;
    if (need > r->rec_cap) {
        size_t cap = r->rec_cap < 4096 ? 4096 : r->rec_cap;
        while (cap < need)
            cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
        if (cap > r->max_record)
            cap = need > r->max_record ? need : r->max_record;
        r->rec = dd_realloc(r->rec, cap);
        r->rec_cap = cap;
    }
    memcpy(r->rec + r->rec_len, p, n);
    r->rec_len = need;
}

static int too_long(dd_reader *r, char **err)
{
    char *limit = dd_max_record_text(r->max_record);
    int st = fail(r, err,
                  dd_asprintf("%s: record %llu is longer than %s", r->pname,
                              (unsigned long long)r->recno + 1, limit));
    free(limit);
    return st;
}

int dd_reader_next(dd_reader *r, int delim, const char **rec, size_t *len, bool *had_delim,
                   char **err)
{
    if (r->error) {
        *err = dd_strdup(r->error);
        return -1;
    }
    if (r->done)
        return 0;
    r->rec_len = 0;
    for (;;) {
        if (r->pos < r->len) {
            char *start = r->buf + r->pos;
            size_t avail = r->len - r->pos;
            const char *d = memchr(start, delim, avail);
            size_t piece = d ? (size_t)(d - start) : avail;
            if (piece > r->max_record - r->rec_len)
                return too_long(r, err);
            if (d) {
                r->pos += piece + 1;
                if (r->rec_len == 0) {
                    *rec = start; /* inside one block: no copy */
                    *len = piece;
                } else {
                    rec_append(r, start, piece);
                    *rec = r->rec;
                    *len = r->rec_len;
                }
                if (had_delim)
                    *had_delim = true;
                r->recno++;
                r->bytes += *len + 1;
                return 1;
            }
            /* The record goes on in the next block. */
            rec_append(r, start, piece);
            r->pos = r->len;
        }
        int st = fill(r, err);
        if (st < 0)
            return -1;
        if (st == 0) {
            r->done = true;
            if (r->rec_len == 0)
                return 0;
            *rec = r->rec;
            *len = r->rec_len;
            if (had_delim)
                *had_delim = false;
            r->recno++;
            r->bytes += *len;
            return 1;
        }
    }
}

void dd_reader_release_record(dd_reader *r)
{
    if (r->rec_cap <= 2 * DD_STREAM_BLOCK)
        return;
    free(r->rec);
    r->rec = NULL;
    r->rec_len = r->rec_cap = 0;
}

uint64_t dd_reader_record_number(const dd_reader *r)
{
    return r->recno;
}

uint64_t dd_reader_bytes(const dd_reader *r)
{
    return r->bytes;
}

const char *dd_reader_name(const dd_reader *r)
{
    return r->name;
}

const char *dd_reader_format(const dd_reader *r)
{
    return format_name(r->format);
}

void dd_reader_close(dd_reader *r)
{
    if (!r)
        return;
    if (r->z_ready)
        inflateEnd(&r->z);
    ZSTD_freeDCtx(r->zd);
    if (r->own_fd)
        close(r->fd);
    free(r->name);
    free(r->pname);
    free(r->in);
    free(r->buf);
    free(r->rec);
    free(r->error);
    free(r);
}

struct dd_writer {
    int fd;
    char *buf;
    size_t cap, len;
    int error; /* errno of the final error, 0: none */
    /* Compressed output (dd_writer_new_compressed): the block is compressed
     * into zbuf, written out whenever it fills. */
    stream_format format;
    z_stream z;
    bool z_ready;
    ZSTD_CCtx *zc;
    unsigned char *zbuf;
};

dd_writer *dd_writer_new(int fd, size_t block)
{
    dd_writer *w = dd_calloc(1, sizeof *w);
    w->fd = fd;
    w->cap = block ? block : DD_STREAM_BLOCK;
    w->buf = dd_malloc(w->cap);
    return w;
}

dd_writer *dd_writer_new_compressed(int fd, const char *format)
{
    dd_writer *w = dd_writer_new(fd, 0);
    if (!strcmp(format, "gzip")) {
        /* 15 + 16: a 32 KiB window and the gzip wrapper, as gzip writes. */
        if (deflateInit2(&w->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                         Z_DEFAULT_STRATEGY) != Z_OK) {
            dd_error("cannot set up gzip compression");
            exit(DD_EXIT_ERROR);
        }
        w->z_ready = true;
        w->format = FMT_GZIP;
    } else if (!strcmp(format, "zstd")) {
        if (!(w->zc = ZSTD_createCCtx())) {
            dd_error("cannot set up zstd compression");
            exit(DD_EXIT_ERROR);
        }
        ZSTD_CCtx_setParameter(w->zc, ZSTD_c_compressionLevel, ZSTD_CLEVEL_DEFAULT);
        ZSTD_CCtx_setParameter(w->zc, ZSTD_c_checksumFlag, 1);
        w->format = FMT_ZSTD;
    }
    if (w->format != FMT_PLAIN)
        w->zbuf = dd_malloc(DD_STREAM_BLOCK);
    return w;
}

/* Writes all of p[0..n), through short writes and EINTR. */
static int write_out(dd_writer *w, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t put = write(w->fd, p, n);
        if (put < 0) {
            if (errno == EINTR)
                continue;
            w->error = errno;
            w->len = 0;
            return -1;
        }
        p += put;
        n -= (size_t)put;
    }
    return 0;
}

/* Writes p[0..n) out, compressed when the writer compresses; end ends the
 * compressed stream (a gzip member, a zstd frame). */
static int write_all(dd_writer *w, const char *p, size_t n, bool end)
{
    if (w->format == FMT_PLAIN)
        return write_out(w, p, n);
    if (w->format == FMT_GZIP) {
        w->z.next_in = (unsigned char *)p;
        w->z.avail_in = (uInt)n;
        for (;;) {
            w->z.next_out = w->zbuf;
            w->z.avail_out = (uInt)DD_STREAM_BLOCK;
            int rc = deflate(&w->z, end ? Z_FINISH : Z_NO_FLUSH);
            size_t made = DD_STREAM_BLOCK - w->z.avail_out;
            if (made && write_out(w, (const char *)w->zbuf, made) < 0)
                return -1;
            if (end ? rc == Z_STREAM_END : w->z.avail_in == 0 && w->z.avail_out > 0)
                return 0;
        }
    }
    ZSTD_inBuffer in = {p, n, 0};
    for (;;) {
        ZSTD_outBuffer out = {w->zbuf, DD_STREAM_BLOCK, 0};
        size_t left = ZSTD_compressStream2(w->zc, &out, &in, end ? ZSTD_e_end : ZSTD_e_continue);
        if (ZSTD_isError(left)) {
            w->error = EIO;
            errno = EIO;
            return -1;
        }
        if (out.pos && write_out(w, (const char *)w->zbuf, out.pos) < 0)
            return -1;
        if (end ? left == 0 : in.pos == in.size)
            return 0;
    }
}

int dd_writer_write(dd_writer *w, const void *p, size_t n)
{
    const char *s = p;
    if (w->error) {
        errno = w->error;
        return -1;
    }
    if (n == 0)
        return 0;
    if (w->len > 0) {
        size_t room = w->cap - w->len;
        if (n < room) {
            memcpy(w->buf + w->len, s, n);
            w->len += n;
            return 0;
        }
        memcpy(w->buf + w->len, s, room);
        s += room;
        n -= room;
        if (write_all(w, w->buf, w->cap, false) < 0)
            return -1;
        w->len = 0;
    }
    /* Whole blocks go out straight from the caller's bytes. */
    size_t whole = n - n % w->cap;
    if (whole > 0 && write_all(w, s, whole, false) < 0)
        return -1;
    memcpy(w->buf, s + whole, n - whole);
    w->len = n - whole;
    return 0;
}

int dd_writer_flush(dd_writer *w)
{
    if (w->error) {
        errno = w->error;
        return -1;
    }
    if (w->len > 0 && write_all(w, w->buf, w->len, false) < 0)
        return -1;
    w->len = 0;
    return 0;
}

int dd_writer_finish(dd_writer *w)
{
    if (w->error) {
        errno = w->error;
        return -1;
    }
    if ((w->len > 0 || w->format != FMT_PLAIN) && write_all(w, w->buf, w->len, true) < 0)
        return -1;
    w->len = 0;
    return 0;
}

void dd_writer_free(dd_writer *w)
{
    if (!w)
        return;
    if (w->z_ready)
        deflateEnd(&w->z);
    ZSTD_freeCCtx(w->zc);
    free(w->zbuf);
    free(w->buf);
    free(w);
}
