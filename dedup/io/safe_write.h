/*
 * safe_write.h - writing files so that nothing half-written is ever taken
 * for done, whatever happens (a signal, SIGKILL, a crash, a full disk, a
 * write error). Two ways:
 *
 * dd_safe_write replaces one file so that it holds, at every moment, either
 * its old content or its new one: never a mix, never nothing. The new
 * content goes to a temporary file in the same folder (so that the rename
 * stays inside one file system), named DD_TEMP_PREFIX PID.N.NAME. It is
 * synced to disk, then renamed over the file (atomic on POSIX file
 * systems), then the folder is synced so that the rename itself survives a
 * crash. Two syncs a file: right for a few files (clean --in-place, a
 * baseline), slow for thousands. The folder is opened once and everything
 * after is relative to it (openat, renameat), so the temporary file and
 * the rename are always in the same folder. dd_replace_target (clean
 * --in-place) also opens that folder without following any symbolic link
 * on its way, so that a folder replaced by a link during the run cannot
 * lead the write outside the tree.
 *
 * dd_out_dir writes a whole output folder (clean -o DIR) with two syncs in
 * all: every file is written under a temporary name without a sync, then
 * one syncfs() makes all of them durable, then they are renamed into place
 * and the renames synced once. A DIR that does not exist yet is written as
 * a temporary folder beside it, renamed to DIR at the end: DIR appears
 * complete, or not at all. Into a DIR that exists, each file goes to a
 * temporary file beside its destination, renamed over it at the end; the
 * other files of DIR are not touched.
 *
 * After SIGKILL or a power cut a temporary file or folder may be left
 * behind; the files themselves are old or new. The directory reader skips
 * such leftovers (input.c) with a warning naming them.
 *
 * Threads: what the signal handler must find (the one temporary file being
 * written, an open dd_out_dir, the signal that stopped it) is process-wide,
 * so these functions are single-writer: call them from one thread only.
 * dedup does, from the thread that consumes a run's results in order
 * (run.h); its worker threads never write files.
 */
#ifndef DD_SAFE_WRITE_H
#define DD_SAFE_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>

#define DD_TEMP_PREFIX ".dedup-tmp."

/* What writes a file's content to fd, open on it: returns 0, or the errno
 * of a write that failed (reported as "cannot write"), or -1 after saying
 * itself what went wrong. */
typedef int (*dd_out_fill)(void *ctx, int fd);

/* Installs handlers for SIGINT, SIGTERM and SIGHUP that remove the
 * temporary file being written by dd_safe_write, if any, and exit with
 * status 128 + the signal's number (130 for SIGINT, 143 for SIGTERM). While
 * a dd_out_dir or a dd_out_file is open they only note the signal instead:
 * its next write or its commit fails, and dd_safe_write_stop_signal says which signal came.
 * Ignores SIGXFSZ, so that a file size limit (ulimit -f) is a write error
 * (EFBIG) reported like a full disk, not a kill. Call once, before
 * writing. */
void dd_safe_write_signals(void);

/* The signal that stopped the writing of a dd_out_dir, or 0. */
int dd_safe_write_stop_signal(void);

/* Replaces path's content with data[0..len) through a temporary file as
 * above. When like is not NULL (path exists and like is its stat), the new
 * file gets like's permission bits, owner and group (as far as the process
 * may set them), and its access and modification times when keep_times;
 * otherwise it is created with mode 0666 less the umask. On any failure prints "dedup: PATH: why"
 * (the file that failed and strerror), removes the temporary file, leaves
 * path as it was and returns false. */
bool dd_safe_write(const char *path, const char *data, size_t len, const struct stat *like,
                   bool keep_times);

/* A file found to be replaced in place, without following any symbolic
 * link: the folder that holds it, open, is where it is read and written. */
typedef struct dd_replace_target {
    int dir_fd;     /* its folder, open (-1 when closed) */
    char *dir;      /* the folder's real path */
    char *name;     /* the file's name in it */
    char *shown;    /* the file as messages name it */
    struct stat st; /* the file, as found there (a regular file, never a link) */
} dd_replace_target;

/* Finds the file whose real path (absolute, no symbolic link, "." or ".."
 * part: what realpath() gave) is real, expected to be the regular file
 * expect (same device and inode): opens its folder one part at a time from
 * "/", each part with O_NOFOLLOW, then looks the file up there without
 * following a link. A part of the path replaced by a symbolic link since
 * real was resolved is refused, not followed, and so is a file replaced
 * meanwhile. False, after "dedup: SHOWN: why; left as it was", when it
 * fails; t then holds nothing. */
bool dd_replace_target_open(dd_replace_target *t, const char *real, const struct stat *expect,
                            const char *shown);

/* Opens t's file for reading (O_NOFOLLOW, O_NONBLOCK): a descriptor of the
 * very file t found, or -1 after "dedup: SHOWN: why; left as it was". */
int dd_replace_target_read(const dd_replace_target *t);

/* Replaces t's file as dd_safe_write does, with t->st as like, all of it
 * inside t's open folder: the temporary file is created there (O_EXCL,
 * O_NOFOLLOW) and renamed over the file there, so nothing is written
 * anywhere else whatever happens to the paths meanwhile. Just before the
 * rename, the file must still be t's and its folder still reached by its
 * real path without a link; if not (something was moved or swapped during
 * the run), nothing is replaced: "dedup: SHOWN: why; left as it was",
 * false. */
bool dd_replace_target_write(const dd_replace_target *t, const char *data, size_t len,
                             bool keep_times);
/* dd_replace_target_write of the content that fill(ctx, fd) writes, as it
 * comes: for a file too large to be held in memory first (a shard cleaned
 * in place). When fill fails, the file is left as it was. */
bool dd_replace_target_write_from(const dd_replace_target *t, dd_out_fill fill, void *ctx,
                                  bool keep_times);
void dd_replace_target_close(dd_replace_target *t);

/* Whether name (a file name, no folder) is a leftover temporary file or
 * folder. */
bool dd_is_temp_name(const char *name);

/* An output folder being written (see the top of this file). */
typedef struct dd_out_dir dd_out_dir;

/* Starts writing the folder dir: when it does not exist, into a new
 * temporary folder beside it (its parent must exist); when it is a folder,
 * into it. NULL, with the reason printed, when dir is something else or the
 * temporary folder cannot be made. */
dd_out_dir *dd_out_dir_open(const char *dir);

/* Writes data[0..len) as rel (a relative path; the folders on the way are
 * made as needed) under a temporary name, without a sync, with the
 * permission bits mode (exactly, whatever the umask). source is the file
 * that rel is a copy of (rel's last parts are source's last parts): each
 * folder that the run makes, dir itself included when it did not exist,
 * is private (0700) until the commit, which gives it the permission bits
 * (mode & 0777) of the source folder it stands for, or those common to
 * all of them when several inputs are merged into it; a folder that
 * existed is left as it is. False, with the reason printed naming dir/rel,
 * on an error; false without a message once a signal came
 * (dd_safe_write_stop_signal). Nothing is in place before
 * dd_out_dir_commit. */
bool dd_out_dir_write(dd_out_dir *o, const char *rel, const char *data, size_t len, mode_t mode,
                      const char *source);

/* dd_out_dir_write of the content that fill(ctx, fd) writes, as it comes:
 * for a file too large to be held in memory first (a cleaned shard). When
 * fill fails, the temporary file is removed. */
bool dd_out_dir_write_from(dd_out_dir *o, const char *rel, mode_t mode, const char *source,
                           dd_out_fill fill, void *ctx);

/* Puts everything written in place: one syncfs() for all the files, then
 * the renames (of the temporary folder to dir, or of each temporary file
 * over its destination), then one sync of the renames. On an error (or
 * after a signal), before any rename, removes what was written and
 * returns false, dir as it was; an error in the renames into an existing
 * dir leaves each file old or new. Frees o. */
bool dd_out_dir_commit(dd_out_dir *o);

/* Removes everything written under temporary names, leaving dir as it
 * was, and frees o. */
void dd_out_dir_discard(dd_out_dir *o);

/* One output file written whole (clean and scan --clusters FILE): written
 * through a stream into a temporary file beside it, DD_TEMP_PREFIX
 * PID.N.NAME, then synced and renamed over it by dd_out_file_commit, so
 * that FILE holds its old content or all of the new, never a part. While
 * it is open, a signal is only noted, as for a dd_out_dir. */
typedef struct dd_out_file dd_out_file;

/* Starts writing path (a file; its folder must exist), created with mode
 * 0666 less the umask. NULL, after "dedup: PATH: why", when the temporary
 * file cannot be made (or path is a folder). */
dd_out_file *dd_out_file_open(const char *path);

/* The stream to write the content to. */
FILE *dd_out_file_stream(dd_out_file *f);

/* Flushes and syncs what was written, renames it over the file and syncs
 * its folder. On an error (said: "dedup: PATH: why"), or after a signal
 * (not said: dd_safe_write_stop_signal), removes the temporary file, leaves
 * the file as it was and returns false. Frees f. */
bool dd_out_file_commit(dd_out_file *f);

/* Removes the temporary file, leaving the file as it was, and frees f. */
void dd_out_file_discard(dd_out_file *f);

/* Whether the process that named the temporary file or folder name is
 * running now (its PID is part of the name), so that it is being written
 * rather than left over. */
bool dd_temp_name_is_live(const char *name);

/* The locks that keep two runs of clean --in-place from rewriting one tree
 * at once. Each named folder (for a named file: its folder) is locked
 * exclusively and every folder above it shared (flock(2), without
 * waiting), so a second run on the same folder, on one inside it or on one
 * around it, is refused, while runs on folders side by side go on. The
 * locks last until dd_tree_locks_release or the process's end (a kill -9
 * frees them). */
typedef struct dd_tree_locks {
    int *fds;
    size_t n;
} dd_tree_locks;

/* Takes the locks for paths. False, after "dedup: PATH: another dedup clean
 * --in-place ..." on stderr, when one is held elsewhere; l then holds
 * nothing. A folder that cannot be opened is not locked (the walk reports
 * what it cannot read). */
bool dd_tree_locks_take(dd_tree_locks *l, char *const *paths, size_t npaths);
void dd_tree_locks_release(dd_tree_locks *l);

#endif
