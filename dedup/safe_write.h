/*
 * safe_write.h - replacing a file so that it holds, at every moment, either
 * its old content or its new one: never a mix, never nothing, whatever
 * happens (a signal, SIGKILL, a full disk, a write error).
 *
 * The new content goes to a temporary file in the same folder (so that the
 * rename stays inside one file system), named DD_TEMP_PREFIX PID.N.NAME. It
 * is synced to disk, then renamed over the file (atomic on POSIX file
 * systems), then the folder is synced so that the rename itself survives a
 * crash. After SIGKILL or a power cut the temporary file may be left behind;
 * the file itself is old or new. The directory reader skips such leftovers
 * (input.c) with a warning naming them.
 */
#ifndef DD_SAFE_WRITE_H
#define DD_SAFE_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#define DD_TEMP_PREFIX ".dedup-tmp."

/* Installs handlers for SIGINT, SIGTERM and SIGHUP that remove the
 * temporary file being written, if any, and exit with status 128 + the
 * signal's number (130 for SIGINT, 143 for SIGTERM). Ignores SIGXFSZ, so
 * that a file size limit (ulimit -f) is a write error (EFBIG) reported like
 * a full disk, not a kill. Call once, before writing. */
void dd_safe_write_signals(void);

/* Replaces path's content with data[0..len) through a temporary file as
 * above. When like is not NULL (path exists and like is its stat), the new
 * file gets like's permission bits, owner and group (as far as the process
 * may set them), and its access and modification times when keep_times;
 * otherwise it is created with mode 0666 less the umask. On any failure prints "dedup: PATH: why"
 * (the file that failed and strerror), removes the temporary file, leaves
 * path as it was and returns false. */
bool dd_safe_write(const char *path, const char *data, size_t len, const struct stat *like,
                   bool keep_times);

/* Whether name (a file name, no folder) is a temporary file of ours. */
bool dd_is_temp_name(const char *name);

/* Whether the process that named the temporary file name is running now
 * (its PID is part of the name), so that the file is being written rather
 * than left over. */
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
