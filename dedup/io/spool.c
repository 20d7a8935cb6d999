/*
 * spool.c - a scratch file of byte strings (see spool.h).
 */
#include "io/spool.h"

#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct dd_spool {
    int fd;
    char *dir;        /* for messages */
    uint64_t flushed; /* bytes written to the file; the buffer follows them */
    unsigned char *buf;
    size_t buf_bytes; /* its size: the buffer of spools when it was made */
    size_t buffered;
    int error; /* errno of the first failure, 0: none */
};

/* The bytes of the buffer of the spools made from now on (0: not set,
 * DD_SPOOL_BLOCK). Set by a run before its threads start (spool.h). */
static _Atomic size_t buffer_bytes;

void dd_spool_set_buffer_bytes(size_t bytes) { atomic_store(&buffer_bytes, bytes); }

size_t dd_spool_buffer_bytes(void)
{
    size_t bytes = atomic_load(&buffer_bytes);
    return bytes ? bytes : DD_SPOOL_BLOCK;
}

const char *dd_spool_default_dir(void)
{
    const char *dir = getenv("TMPDIR");
    return dir && *dir ? dir : "/tmp";
}

dd_spool *dd_spool_new(const char *dir, char **err)
{
    if (!dir)
        dir = dd_spool_default_dir();
    char *path = dd_asprintf("%s/dedup-scratch-XXXXXX", dir);
    int fd = mkstemp(path);
    if (fd < 0) {
        char *p = dd_printable(dir);
        *err = dd_asprintf("cannot make a scratch file in %s: %s", p, strerror(errno));
        free(p);
        free(path);
        return NULL;
    }
    /* Nothing names the file from here on: it goes when it is closed. */
    unlink(path);
    free(path);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    dd_spool *s = dd_calloc(1, sizeof *s);
    s->fd = fd;
    s->dir = dd_printable(dir);
    s->buf_bytes = dd_spool_buffer_bytes();
    s->buf = dd_malloc(s->buf_bytes);
    return s;
}

static bool failed(dd_spool *s, int error, char **err)
{
    if (!s->error)
        s->error = error;
    *err = dd_asprintf("scratch file in %s: %s", s->dir, strerror(s->error));
    return false;
}

/* Is [at, at + n) within what was appended? A range past the end is a
 * mistake of the caller, not a failure of the file: it is not final. */
static bool within(const dd_spool *s, uint64_t at, size_t n, char **err)
{
    uint64_t end = s->flushed + s->buffered;
    if (at <= end && n <= end - at)
        return true;
    *err =
        dd_asprintf("scratch file in %s: bytes %llu to %llu asked for, past its end (%llu)", s->dir,
                    (unsigned long long)at, (unsigned long long)(at + n), (unsigned long long)end);
    return false;
}

/* Writes the buffer to the file. */
static bool flush(dd_spool *s, char **err)
{
    size_t done = 0;
    while (done < s->buffered) {
        ssize_t w = pwrite(s->fd, s->buf + done, s->buffered - done, (off_t)(s->flushed + done));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return failed(s, w < 0 ? errno : EIO, err);
        done += (size_t)w;
    }
    s->flushed += s->buffered;
    s->buffered = 0;
    return true;
}

bool dd_spool_append(dd_spool *s, const void *p, size_t n, uint64_t *at, char **err)
{
    if (s->error)
        return failed(s, s->error, err);
    *at = s->flushed + s->buffered;
    const unsigned char *from = p;
    while (n) {
        if (s->buffered == s->buf_bytes && !flush(s, err))
            return false;
        size_t k = s->buf_bytes - s->buffered;
        if (k > n)
            k = n;
        memcpy(s->buf + s->buffered, from, k);
        s->buffered += k;
        from += k;
        n -= k;
    }
    return true;
}

bool dd_spool_reserve(dd_spool *s, uint64_t n, uint64_t *at, char **err)
{
    if (s->error)
        return failed(s, s->error, err);
    if (!flush(s, err)) /* the buffer follows what is in the file */
        return false;
    *at = s->flushed;
    s->flushed += n;
    return true;
}

/* Copies n bytes at offset at into p: the part already in the file with
 * pread, the part still in the buffer from there. Reads nothing of s but
 * the file and the buffer, so threads may copy at once while nothing is
 * appended. 0, or the errno of a failed read (EIO for a short one). */
static int copy_out(const dd_spool *s, uint64_t at, void *p, size_t n)
{
    unsigned char *to = p;
    while (n && at < s->flushed) {
        size_t k = s->flushed - at < n ? (size_t)(s->flushed - at) : n;
        ssize_t r = pread(s->fd, to, k, (off_t)at);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r < 0 ? errno : EIO;
        to += r;
        at += (uint64_t)r;
        n -= (size_t)r;
    }
    if (n)
        memcpy(to, s->buf + (at - s->flushed), n);
    return 0;
}

bool dd_spool_read(dd_spool *s, uint64_t at, void *p, size_t n, char **err)
{
    if (s->error)
        return failed(s, s->error, err);
    if (!within(s, at, n, err))
        return false;
    int e = copy_out(s, at, p, n);
    return e ? failed(s, e, err) : true;
}

bool dd_spool_peek(const dd_spool *s, uint64_t at, void *p, size_t n)
{
    uint64_t end = s->flushed + s->buffered;
    if (s->error || at > end || n > end - at)
        return false;
    return copy_out(s, at, p, n) == 0;
}

bool dd_spool_overwrite(dd_spool *s, uint64_t at, const void *p, size_t n, char **err)
{
    if (s->error)
        return failed(s, s->error, err);
    if (!within(s, at, n, err))
        return false;
    const unsigned char *from = p;
    /* The part already in the file... */
    while (n && at < s->flushed) {
        size_t k = s->flushed - at < n ? (size_t)(s->flushed - at) : n;
        ssize_t w = pwrite(s->fd, from, k, (off_t)at);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return failed(s, w < 0 ? errno : EIO, err);
        from += w;
        at += (uint64_t)w;
        n -= (size_t)w;
    }
    /* ... and the part still in the buffer. */
    if (n)
        memcpy(s->buf + (at - s->flushed), from, n);
    return true;
}

uint64_t dd_spool_bytes(const dd_spool *s) { return s->flushed + s->buffered; }

void dd_spool_free(dd_spool *s)
{
    if (!s)
        return;
    close(s->fd);
    free(s->dir);
    free(s->buf);
    free(s);
}

static bool scratch_append(void *ctx, const void *p, size_t n, uint64_t *at, char **err)
{
    return dd_spool_append(ctx, p, n, at, err);
}

static bool scratch_read(void *ctx, uint64_t at, void *p, size_t n, char **err)
{
    return dd_spool_read(ctx, at, p, n, err);
}

static bool scratch_overwrite(void *ctx, uint64_t at, const void *p, size_t n, char **err)
{
    return dd_spool_overwrite(ctx, at, p, n, err);
}

static uint64_t scratch_bytes(const void *ctx) { return dd_spool_bytes(ctx); }

static bool scratch_peek(const void *ctx, uint64_t at, void *p, size_t n)
{
    return dd_spool_peek(ctx, at, p, n);
}

dd_scratch dd_spool_scratch(dd_spool *s)
{
    return (dd_scratch){.append = scratch_append,
                        .read = scratch_read,
                        .overwrite = scratch_overwrite,
                        .bytes = scratch_bytes,
                        .peek = scratch_peek,
                        .ctx = s};
}
