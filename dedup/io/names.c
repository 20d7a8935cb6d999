/*
 * names.c - an arena of names (names.h).
 */
#include "io/names.h"

#include "io/spool.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Says that the scratch file of the names could not be made, written or
 * read (what_failed, errno) and ends the process: the names of the inputs
 * are needed by every report. */
static void scratch_failed(const dd_names *a, const char *what_failed)
{
    int err = errno;
    char *dir = dd_printable(a->dir ? a->dir : dd_spool_default_dir());
    dd_error("cannot %s a scratch file in %s (%s) for the names of the inputs: %s", what_failed,
             dir, a->dir_named_by ? a->dir_named_by : "TMPDIR", strerror(err));
    free(dir);
    exit(DD_EXIT_ERROR);
}

/* The size of a block: DD_NAMES_BLOCK, or under a small budget a quarter
 * of it (in whole pages), so that the block being filled stays small
 * beside it. */
static size_t block_size(const dd_names *a)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (!a->max_in_memory || a->max_in_memory / 4 >= DD_NAMES_BLOCK)
        return DD_NAMES_BLOCK;
    size_t size = a->max_in_memory / 4 / page * page;
    return size ? size : page;
}

/* Moves the last block, filled (its first a->used bytes), to the scratch
 * file (made at the first need), at a place of the file that starts a
 * page, and frees its memory. */
static void move_last_to_file(dd_names *a)
{
    size_t b = a->n - 1;
    if (!a->fd) {
        char *path = dd_asprintf("%s/dedup-names.XXXXXX", a->dir ? a->dir : dd_spool_default_dir());
        int fd = mkstemp(path);
        if (fd < 0)
            scratch_failed(a, "make");
        unlink(path);
        free(path);
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        a->fd = fd + 1;
    }
    size_t size = a->used, page = (size_t)sysconf(_SC_PAGESIZE);
    for (size_t done = 0; done < size;) {
        ssize_t w =
            pwrite(a->fd - 1, a->blocks[b] + done, size - done, (off_t)(a->file_bytes + done));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = ENOSPC;
            scratch_failed(a, "write");
        }
        done += (size_t)w;
    }
    free(a->blocks[b]);
    a->blocks[b] = NULL;
    a->file_at[b] = a->file_bytes;
    a->bytes -= a->sizes[b];
    a->sizes[b] = (uint32_t)size;
    a->file_bytes += (size + page - 1) / page * page;
}

/* Starts a new block of size bytes; the last one, full, goes to the
 * scratch file when memory would hold more than max_in_memory. */
static void new_block(dd_names *a, size_t size)
{
    if (a->max_in_memory && a->n && a->blocks[a->n - 1] && a->bytes + size > a->max_in_memory)
        move_last_to_file(a);
    if (a->n == a->cap) {
        dd_grow(&a->blocks, &a->cap, a->n + 1, sizeof *a->blocks);
        a->sizes = dd_realloc(a->sizes, a->cap * sizeof *a->sizes);
        a->file_at = dd_realloc(a->file_at, a->cap * sizeof *a->file_at);
    }
    a->blocks[a->n] = dd_malloc(size);
    a->sizes[a->n] = (uint32_t)size;
    a->file_at[a->n] = 0;
    a->n++;
    a->used = 0;
    a->bytes += size;
}

uint64_t dd_names_add(dd_names *a, const char *s, size_t len)
{
    if (len + 1 > UINT32_MAX) {
        dd_error("a name of %zu bytes: too long to keep", len);
        exit(DD_EXIT_ERROR);
    }
    if (a->n == 0 || a->sizes[a->n - 1] - a->used < len + 1) {
        size_t size = block_size(a);
        new_block(a, len + 1 > size ? len + 1 : size);
    }
    char *at = a->blocks[a->n - 1] + a->used;
    memcpy(at, s, len);
    at[len] = '\0';
    uint64_t handle = (uint64_t)(a->n - 1) << 32 | a->used;
    a->used += len + 1;
    return handle;
}

/* The first bytes of a name read from the scratch file at once; a longer
 * one is read on, in a room twice as large each time. */
enum { NAME_READ_FIRST = 256 };

const char *dd_names_read(const dd_names *a, uint64_t at, dd_name_room *room)
{
    size_t b = (size_t)(at >> 32), start = (uint32_t)at;
    if (a->blocks[b])
        return a->blocks[b] + start;
    /* The name ends with its NUL within its block: read until it is in. */
    size_t left = a->sizes[b] - start, done = 0;
    for (;;) {
        if (room->cap == done)
            dd_grow(&room->s, &room->cap, done < NAME_READ_FIRST ? NAME_READ_FIRST : 2 * done, 1);
        size_t want = room->cap - done < left - done ? room->cap - done : left - done;
        ssize_t r = pread(a->fd - 1, room->s + done, want, (off_t)(a->file_at[b] + start + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                errno = EIO; /* the file is shorter than what was written to it */
            scratch_failed(a, "read");
        }
        if (memchr(room->s + done, '\0', (size_t)r))
            return room->s;
        done += (size_t)r;
        if (done == left) {
            errno = EIO; /* no NUL where a name was written */
            scratch_failed(a, "read");
        }
    }
}

void dd_name_room_free(dd_name_room *room)
{
    free(room->s);
    *room = (dd_name_room){0};
}

void dd_names_trim(dd_names *a)
{
    if (a->n == 0 || !a->blocks[a->n - 1] || a->used == a->sizes[a->n - 1])
        return;
    a->blocks[a->n - 1] = dd_realloc(a->blocks[a->n - 1], a->used);
    a->bytes -= a->sizes[a->n - 1] - a->used;
    a->sizes[a->n - 1] = (uint32_t)a->used;
}

size_t dd_names_memory_bytes(const dd_names *a)
{
    return a->bytes + a->cap * (sizeof *a->blocks + sizeof *a->sizes + sizeof *a->file_at);
}

uint64_t dd_names_scratch_bytes(const dd_names *a) { return a->file_bytes; }

void dd_names_free(dd_names *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->blocks[i]); /* NULL for a block in the scratch file */
    if (a->fd)
        close(a->fd - 1);
    free(a->blocks);
    free(a->sizes);
    free(a->file_at);
    memset(a, 0, sizeof *a);
}
