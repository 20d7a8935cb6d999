/*
 * safe_write.c - see safe_write.h.
 */
#define _GNU_SOURCE /* syncfs */
#include "io/safe_write.h"

#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <search.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* The temporary file being written, for the signal handler: its folder
 * (open) and its name in it are set before have_temp is, and have_temp is
 * cleared before they change. */
static int temp_dir_fd = -1;
static char temp_file[NAME_MAX + 1];
static volatile sig_atomic_t have_temp;

/* While a dd_out_dir or a dd_out_file is open (out_open counts them), a
 * signal is only noted in stop_signal: their files are removed by ordinary
 * code (dd_out_dir_discard, dd_out_file_discard), since walking a folder is
 * not async-signal-safe. */
static volatile sig_atomic_t out_open;
static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    if (out_open) {
        stop_signal = sig;
        return;
    }
    if (have_temp)
        unlinkat(temp_dir_fd, temp_file, 0); /* async-signal-safe */
    _exit(128 + sig);
}

int dd_safe_write_stop_signal(void) { return stop_signal; }

void dd_safe_write_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigfillset(&sa.sa_mask); /* one handler at a time */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGXFSZ, SIG_IGN);
}

bool dd_is_temp_name(const char *name)
{
    return !strncmp(name, DD_TEMP_PREFIX, strlen(DD_TEMP_PREFIX));
}

bool dd_temp_name_is_live(const char *name)
{
    if (!dd_is_temp_name(name))
        return false;
    char *end;
    errno = 0;
    long pid = strtol(name + strlen(DD_TEMP_PREFIX), &end, 10);
    if (errno || end == name + strlen(DD_TEMP_PREFIX) || *end != '.' || pid <= 0)
        return false;
    return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

/* ------------------------------------------------------------ tree locks */

typedef struct tree_lock {
    dev_t dev;
    ino_t ino;
    char *dir;
    int how; /* LOCK_EX or LOCK_SH */
} tree_lock;

static int compare_tree_locks(const void *a, const void *b)
{
    const tree_lock *x = a, *y = b;
    if (x->dev != y->dev)
        return x->dev < y->dev ? -1 : 1;
    return (x->ino > y->ino) - (x->ino < y->ino);
}

/* Adds dir (a real path) with how, and every folder above it shared. */
static void add_tree_locks(tree_lock **v, size_t *n, size_t *cap, const char *dir, int how)
{
    char *d = dd_strdup(dir);
    for (;;) {
        struct stat st;
        if (stat(d, &st) == 0) {
            dd_grow(v, cap, *n + 1, sizeof **v);
            (*v)[(*n)++] = (tree_lock){st.st_dev, st.st_ino, dd_strdup(d), how};
        }
        how = LOCK_SH;
        char *slash = strrchr(d, '/');
        if (!slash || slash == d) {
            if (strcmp(d, "/")) { /* the root last */
                strcpy(d, "/");
                continue;
            }
            break;
        }
        *slash = '\0';
    }
    free(d);
}

bool dd_tree_locks_take(dd_tree_locks *l, char *const *paths, size_t npaths)
{
    memset(l, 0, sizeof *l);
    tree_lock *v = NULL;
    size_t n = 0, cap = 0;
    for (size_t i = 0; i < npaths; i++) {
        char *real = realpath(paths[i], NULL);
        if (!real)
            continue; /* the walk reports it */
        struct stat st;
        if (stat(real, &st) == 0 && !S_ISDIR(st.st_mode)) {
            char *slash = strrchr(real, '/');
            if (slash == real)
                slash[1] = '\0';
            else if (slash)
                *slash = '\0';
        }
        add_tree_locks(&v, &n, &cap, real, LOCK_EX);
        free(real);
    }
    /* One lock per folder, the stronger of what is asked: two open files of
     * one folder would lock against each other. */
    if (n > 1)
        qsort(v, n, sizeof *v, compare_tree_locks);
    bool ok = true;
    l->fds = dd_malloc((n ? n : 1) * sizeof *l->fds);
    for (size_t i = 0; i < n && ok;) {
        size_t j = i;
        int how = LOCK_SH;
        while (j < n && v[j].dev == v[i].dev && v[j].ino == v[i].ino)
            how = v[j++].how == LOCK_EX ? LOCK_EX : how;
        int fd = open(v[i].dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0 && flock(fd, how | LOCK_NB) != 0) {
            char *p = dd_printable(v[i].dir);
            if (errno == EWOULDBLOCK)
                dd_error("%s: another dedup clean --in-place is rewriting this folder, or one "
                         "inside or around it; try again when it has finished",
                         p);
            else
                dd_error("%s: cannot lock: %s", p, strerror(errno));
            free(p);
            close(fd);
            ok = false;
        } else if (fd >= 0) {
            l->fds[l->n++] = fd;
        }
        i = j;
    }
    for (size_t i = 0; i < n; i++)
        free(v[i].dir);
    free(v);
    if (!ok)
        dd_tree_locks_release(l);
    return ok;
}

void dd_tree_locks_release(dd_tree_locks *l)
{
    for (size_t i = 0; i < l->n; i++)
        close(l->fds[i]);
    free(l->fds);
    memset(l, 0, sizeof *l);
}

/* Writes all of data to fd; false with errno set on failure. */
static bool write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len > (1u << 30) ? (1u << 30) : len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            return false;
        }
        data += n;
        len -= (size_t)n;
    }
    return true;
}

/* The content of dd_safe_write and dd_out_dir_write: bytes in memory. */
typedef struct bytes {
    const char *data;
    size_t len;
} bytes;

static int fill_bytes(void *ctx, int fd)
{
    const bytes *b = ctx;
    return write_all(fd, b->data, b->len) ? 0 : errno;
}

/* The folder of path ("." when it has none) and its last part. */
static void split_path(const char *path, char **dir, const char **base)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        *dir = dd_strdup(".");
        *base = path;
    } else {
        *dir = slash == path ? dd_strdup("/") : dd_asprintf("%.*s", (int)(slash - path), path);
        *base = slash + 1;
    }
}

/* Writes into out the name of a new temporary file or folder for base:
 * DD_TEMP_PREFIX PID.N. and as much of base as fits in NAME_MAX (255). */
static void temp_name(char out[NAME_MAX + 1], const char *base)
{
    static unsigned long counter;
    char prefix[64];
    snprintf(prefix, sizeof prefix, DD_TEMP_PREFIX "%ld.%lu.", (long)getpid(), counter++);
    int room = NAME_MAX - (int)strlen(prefix);
    snprintf(out, NAME_MAX + 1, "%s%.*s", prefix, room, base);
}

/* Writes into out[0..size) the path of a new temporary file or folder in
 * dir for base (temp_name). False when the path is too long. */
static bool temp_path(char *out, size_t size, const char *dir, const char *base)
{
    char name[NAME_MAX + 1];
    temp_name(name, base);
    int n = snprintf(out, size, "%s/%s", dir, name);
    return n >= 0 && (size_t)n < size;
}

/* Reports why path could not be written. */
static bool write_error(const char *path, const char *what, int err)
{
    char *p = dd_printable(path);
    dd_error("%s: %s%s%s; left as it was", p, what, *what ? ": " : "", strerror(err));
    free(p);
    return false;
}

/* Reports why path was not replaced (a check failed, no errno). */
static bool refuse(const char *path, const char *why)
{
    char *p = dd_printable(path);
    dd_error("%s: %s; left as it was", p, why);
    free(p);
    return false;
}

/* Whether a and b are the same regular file (device and inode). */
static bool same_file(const struct stat *a, const struct stat *b)
{
    return S_ISREG(a->st_mode) && a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* Opens the folder real (an absolute path without symbolic links, "." or
 * ".." parts) one part at a time from "/", each part with O_NOFOLLOW, so
 * that a part that is now a symbolic link (or no longer a folder) is
 * refused instead of followed: -1 with errno ENOTDIR or ELOOP. The parts
 * on the way are opened with O_PATH (search permission is enough), the
 * folder itself for reading when it may be (so that it can be synced).
 * Returns the descriptor, or -1 with errno set. */
static int open_real_folder(const char *real)
{
    char *parts = dd_strdup(real), *rest = NULL;
    char *part = strtok_r(parts, "/", &rest);
    int fd = open("/", (part ? O_PATH : O_RDONLY) | O_DIRECTORY | O_CLOEXEC);
    while (part && fd >= 0) {
        char *next_part = strtok_r(NULL, "/", &rest);
        int flags = O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
        int next = openat(fd, part, flags | (next_part ? O_PATH : O_RDONLY));
        if (next < 0 && !next_part && errno == EACCES)
            next = openat(fd, part, flags | O_PATH); /* a folder we may not list */
        int err = errno;
        close(fd);
        fd = next;
        errno = err;
        part = next_part;
    }
    free(parts);
    return fd;
}

/* Whether the folder open as dir_fd is still the one reached by its real
 * path real without following a link. */
static bool folder_still_at(int dir_fd, const char *real)
{
    struct stat now, then;
    int fd = open_real_folder(real);
    bool same = fd >= 0 && fstat(fd, &now) == 0 && fstat(dir_fd, &then) == 0 &&
                now.st_dev == then.st_dev && now.st_ino == then.st_ino;
    if (fd >= 0)
        close(fd);
    return same;
}

/* Replaces name, in the folder open as dir_fd, by a file holding what
 * fill(ctx, fd) writes (see dd_safe_write for like and keep_times): a temporary
 * file created in that folder (O_EXCL, O_NOFOLLOW), synced, and renamed
 * over name there, then the folder synced. Everything is relative to
 * dir_fd, so no change to the path of the folder meanwhile can lead the
 * write elsewhere. When t is not NULL (the file was found by
 * dd_replace_target_open), just before the rename name must still be t's
 * file and t's folder still at its real path, else nothing is replaced.
 * Messages name shown. */
static bool replace_in(int dir_fd, const char *name, const char *shown, dd_out_fill fill, void *ctx,
                       const struct stat *like, bool keep_times, const dd_replace_target *t)
{
    temp_dir_fd = dir_fd;
    temp_name(temp_file, name);
    have_temp = 1;
    mode_t mode = like ? (like->st_mode & 07777) : 0666;
    int fd = openat(dir_fd, temp_file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    const char *step = "cannot create a temporary file beside it";
    bool ok = fd >= 0, said = false;
    if (ok) {
        step = "cannot write";
        int err = fill(ctx, fd);
        ok = err == 0;
        said = err < 0; /* fill said what went wrong */
        errno = err > 0 ? err : errno;
    }
    if (ok && like) {
        /* The owner first: changing it may clear set-id bits, which the
         * mode then restores. Only root may give a file away: other users
         * keep their own ownership, which is not an error. */
        if (fchown(fd, like->st_uid, like->st_gid) != 0 && errno != EPERM) {
            step = "cannot set the owner";
            ok = false;
        }
        if (ok && fchmod(fd, like->st_mode & 07777) != 0) {
            step = "cannot set the permissions";
            ok = false;
        }
        struct timespec times[2] = {like->st_atim, like->st_mtim};
        if (ok && keep_times && futimens(fd, times) != 0) {
            step = "cannot set the modification time";
            ok = false;
        }
    }
    if (ok) {
        step = "cannot sync";
        ok = fsync(fd) == 0;
    }
    int saved = errno;
    if (fd >= 0 && close(fd) != 0 && ok) {
        saved = errno;
        step = "cannot write";
        ok = false;
    }
    /* The checks that make the rename go where the file was found: not
     * needed for safety (the rename is in dir_fd whatever the paths say
     * now), but a file or folder moved meanwhile is no longer what the
     * user named, so it is left alone and reported. */
    const char *refused = NULL;
    struct stat now;
    if (ok && t &&
        (fstatat(dir_fd, name, &now, AT_SYMLINK_NOFOLLOW) != 0 || !same_file(&now, &t->st)))
        refused = "replaced by another file while dedup was running";
    else if (ok && t && !folder_still_at(dir_fd, t->dir))
        refused = "its folder was moved, or a folder on its way replaced by a symbolic link, "
                  "while dedup was running";
    if (ok && !refused) {
        step = "cannot rename the temporary file over it";
        ok = renameat(dir_fd, temp_file, dir_fd, name) == 0;
        saved = errno;
    }
    if (!ok || refused) {
        unlinkat(dir_fd, temp_file, 0);
        have_temp = 0;
        if (said)
            return false;
        return refused ? refuse(shown, refused) : write_error(shown, step, saved);
    }
    have_temp = 0;
    fsync(dir_fd); /* the rename is in the folder: so that it survives a crash */
    return true;
}

bool dd_safe_write(const char *path, const char *data, size_t len, const struct stat *like,
                   bool keep_times)
{
    char *dir;
    const char *base;
    split_path(path, &dir, &base);
    int dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0 && errno == EACCES)
        dir_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC); /* a folder we may not list */
    free(dir);
    if (dir_fd < 0)
        return write_error(path, "cannot open its folder", errno);
    bool ok =
        replace_in(dir_fd, base, path, fill_bytes, &(bytes){data, len}, like, keep_times, NULL);
    close(dir_fd);
    return ok;
}

bool dd_replace_target_open(dd_replace_target *t, const char *real, const struct stat *expect,
                            const char *shown)
{
    memset(t, 0, sizeof *t);
    const char *base;
    split_path(real, &t->dir, &base);
    t->name = dd_strdup(base);
    t->shown = dd_strdup(shown);
    t->dir_fd = open_real_folder(t->dir);
    if (t->dir_fd < 0) {
        if (errno == ELOOP || errno == ENOTDIR)
            refuse(shown, "a folder on its way was replaced by a symbolic link while dedup was "
                          "running");
        else
            write_error(shown, "cannot open its folder", errno);
    } else if (fstatat(t->dir_fd, t->name, &t->st, AT_SYMLINK_NOFOLLOW) != 0) {
        write_error(shown, "", errno);
    } else if (!same_file(&t->st, expect)) {
        refuse(shown, "replaced by another file while dedup was running");
    } else {
        return true;
    }
    dd_replace_target_close(t);
    return false;
}

int dd_replace_target_read(const dd_replace_target *t)
{
    int fd = openat(t->dir_fd, t->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0 && errno != ELOOP) {
        write_error(t->shown, "", errno);
        return -1;
    }
    if (fd < 0 || fstat(fd, &st) != 0 || !same_file(&st, &t->st)) {
        if (fd >= 0)
            close(fd);
        refuse(t->shown, "replaced by another file while dedup was running");
        return -1;
    }
    return fd;
}

bool dd_replace_target_write(const dd_replace_target *t, const char *data, size_t len,
                             bool keep_times)
{
    return replace_in(t->dir_fd, t->name, t->shown, fill_bytes, &(bytes){data, len}, &t->st,
                      keep_times, t);
}

bool dd_replace_target_write_from(const dd_replace_target *t, dd_out_fill fill, void *ctx,
                                  bool keep_times)
{
    return replace_in(t->dir_fd, t->name, t->shown, fill, ctx, &t->st, keep_times, t);
}

void dd_replace_target_close(dd_replace_target *t)
{
    if (t->dir_fd >= 0)
        close(t->dir_fd);
    free(t->dir);
    free(t->name);
    free(t->shown);
    memset(t, 0, sizeof *t);
    t->dir_fd = -1;
}

/* ------------------------------------------------------- output folders */

/* A file written into an existing output folder: its temporary name beside
 * its destination, until the commit renames it (then NULL). */
typedef struct pending_file {
    char *temp;
    char *dest;
} pending_file;

/* A folder made by the run (the temporary folder, or one below it or
 * below an existing dir): private (0700) while it is written, given at the
 * commit the permission bits of the source folders it stands for. */
typedef struct made_folder {
    char *path;
    char *source; /* the source folder its bits were last taken from (NULL: none yet) */
    mode_t bits;  /* the bits common to its source folders */
} made_folder;

struct dd_out_dir {
    char *dir;       /* as named */
    char *temp_dir;  /* dir did not exist: the folder written into, beside it */
    char *parent;    /* ... and dir's parent, where the rename is synced */
    pending_file *pending; /* dir existed: the files written, in order */
    size_t npending, pending_cap;
    made_folder **made; /* the folders made, parents first (temp_dir, when made, first) */
    size_t nmade, made_cap;
    void *made_by_path;  /* the same, in a tsearch(3) tree by path */
    mode_t default_bits; /* temp_dir's bits when no file gives it a source: mkdir's */
};

/* Reports an error of the output folder's file path (what the user named:
 * dir/rel, never a temporary name). */
static bool out_error(const char *path, const char *what, int err)
{
    char *p = dd_printable(path);
    dd_error("%s: %s%s%s", p, what, *what ? ": " : "", strerror(err));
    free(p);
    return false;
}

static int compare_made_folders(const void *a, const void *b)
{
    return strcmp(((const made_folder *)a)->path, ((const made_folder *)b)->path);
}

/* Remembers path as a folder the run made. */
static made_folder *add_made(dd_out_dir *o, const char *path)
{
    made_folder *m = dd_calloc(1, sizeof *m);
    m->path = dd_strdup(path);
    dd_grow(&o->made, &o->made_cap, o->nmade + 1, sizeof *o->made);
    o->made[o->nmade++] = m;
    if (!tsearch(m, &o->made_by_path, compare_made_folders)) {
        dd_error("out of memory");
        exit(DD_EXIT_ERROR);
    }
    return m;
}

/* The folder at path, when the run made it, else NULL. */
static made_folder *find_made(const dd_out_dir *o, const char *path)
{
    made_folder key = {(char *)path, NULL, 0};
    made_folder *const *found = tfind(&key, &o->made_by_path, compare_made_folders);
    return found ? *found : NULL;
}

/* Gives m (also) the source folder source: its bits become those common
 * to all its source folders, so that a folder made for several (inputs
 * merged into one output) is never wider than any of them. A source
 * folder that cannot be read counts as private (0700). */
static void take_source_bits(made_folder *m, const char *source)
{
    if (m->source && !strcmp(m->source, source))
        return; /* the usual case: the same source as the file before */
    struct stat st;
    mode_t bits = stat(source, &st) == 0 ? st.st_mode & 0777 : 0700;
    m->bits = m->source ? (m->bits & bits) : bits;
    free(m->source);
    m->source = dd_strdup(source);
}

/* Makes the folders of rel (a file's path relative to base, a folder that
 * exists) under base, as mkdir -p, private (0700) while they are written;
 * source is the input file that rel is the copy of, whose folders, level
 * for level (source's folder for rel's, and so on up to the named
 * folder for base), give theirs their bits at the commit (a folder that
 * existed is left as it is). */
static bool make_folders(dd_out_dir *o, const char *base, const char *rel, const char *source,
                         const char *shown)
{
    /* The source folder of each level: source less as many trailing parts
     * as rel has below that level. */
    size_t levels = 1;
    for (const char *r = rel; (r = strchr(r, '/')) != NULL; r++)
        levels++;
    char **sources = dd_malloc(levels * sizeof *sources); /* [k]: that of base + k parts */
    char *s = dd_strdup(source);
    for (size_t k = levels; k-- > 0;) {
        char *slash = strrchr(s, '/');
        if (!slash)
            strcpy(s, ".");
        else if (slash == s)
            s[1] = '\0';
        else
            *slash = '\0';
        sources[k] = dd_strdup(s);
    }
    free(s);
    char *path = dd_asprintf("%s/%s", base, rel);
    made_folder *m = find_made(o, base);
    if (m)
        take_source_bits(m, sources[0]);
    bool ok = true;
    size_t k = 1;
    for (char *slash = strchr(path + strlen(base) + 1, '/'); slash && ok;
         slash = strchr(slash + 1, '/'), k++) {
        *slash = '\0';
        if (mkdir(path, 0700) == 0)
            m = add_made(o, path);
        else if (errno == EEXIST)
            m = find_made(o, path);
        else
            ok = out_error(shown, "cannot make its folder", errno);
        if (ok && m)
            take_source_bits(m, sources[k]);
        *slash = '/';
    }
    free(path);
    for (k = 0; k < levels; k++)
        free(sources[k]);
    free(sources);
    return ok;
}

/* Gives every folder the run made its bits, the deepest first (a folder
 * without search permission for its owner would stop the rest). */
static bool set_made_bits(dd_out_dir *o)
{
    for (size_t i = o->nmade; i-- > 0;) {
        made_folder *m = o->made[i];
        mode_t bits = m->source ? m->bits : o->default_bits;
        if (chmod(m->path, bits) != 0)
            return out_error(o->dir, "cannot set the permissions of a folder made in it", errno);
    }
    return true;
}

/* Creates path (which must not exist) with data[0..len) and permission
 * bits mode (created with them, so never wider, then given them exactly,
 * whatever the umask), without a sync; on failure removes it and reports it
 * as shown. */
static bool write_new_file(const char *path, mode_t mode, const char *shown, dd_out_fill fill,
                           void *ctx)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return out_error(shown, "cannot create", errno);
    if (fchmod(fd, mode) != 0) {
        int err = errno;
        close(fd);
        unlink(path);
        return out_error(shown, "cannot set the permissions", err);
    }
    int saved = fill(ctx, fd);
    bool ok = saved == 0;
    if (close(fd) != 0 && ok) {
        ok = false;
        saved = errno;
    }
    if (!ok) {
        unlink(path);
        if (saved > 0)
            out_error(shown, "cannot write", saved);
        return false;
    }
    return true;
}

/* syncfs() of the file system that holds folder (all of it: one call for
 * every file written there), or fsync() of the folder itself when
 * whole_fs is false. Returns 0 or errno. */
static int sync_folder(const char *folder, bool whole_fs)
{
    int fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    int err = (whole_fs ? syncfs(fd) : fsync(fd)) == 0 ? 0 : errno;
    close(fd);
    return err;
}

dd_out_dir *dd_out_dir_open(const char *dir)
{
    dd_out_dir *o = dd_calloc(1, sizeof *o);
    o->dir = dd_strdup(dir);
    size_t len = strlen(o->dir);
    while (len > 1 && o->dir[len - 1] == '/') /* "out/" names out */
        o->dir[--len] = '\0';
    struct stat st;
    int err;
    if (stat(o->dir, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            out_open++;
            return o;
        }
        err = ENOTDIR;
    } else if (errno != ENOENT) {
        err = errno;
    } else {
        const char *base;
        split_path(o->dir, &o->parent, &base);
        char path[PATH_MAX];
        if (!temp_path(path, sizeof path, o->parent, base)) {
            err = ENAMETOOLONG;
        } else if (mkdir(path, 0777) == 0) {
            /* As mkdir DIR would make it (0777 less the umask) when no
             * file gives it a source; private while it is written. */
            o->temp_dir = dd_strdup(path);
            o->default_bits = stat(path, &st) == 0 ? st.st_mode & 0777 : 0700;
            chmod(path, 0700);
            add_made(o, path);
            out_open++;
            return o;
        } else {
            err = errno; /* as mkdir DIR would say: no parent, no permission */
        }
    }
    out_error(o->dir, "", err);
    free(o->parent);
    free(o->dir);
    free(o);
    return NULL;
}

bool dd_out_dir_write(dd_out_dir *o, const char *rel, const char *data, size_t len, mode_t mode,
                      const char *source)
{
    return dd_out_dir_write_from(o, rel, mode, source, fill_bytes, &(bytes){data, len});
}

bool dd_out_dir_write_from(dd_out_dir *o, const char *rel, mode_t mode, const char *source,
                           dd_out_fill fill, void *ctx)
{
    if (stop_signal)
        return false;
    char *dest = dd_asprintf("%s/%s", o->dir, rel);
    bool ok;
    if (o->temp_dir) {
        char *path = dd_asprintf("%s/%s", o->temp_dir, rel);
        ok = make_folders(o, o->temp_dir, rel, source, dest) &&
             write_new_file(path, mode, dest, fill, ctx);
        free(path);
        free(dest);
        return ok;
    }
    /* Into an existing folder: beside the destination, under a temporary
     * name. A folder in the way is an error now, not in the renames. */
    struct stat st;
    char *folder;
    const char *base;
    split_path(dest, &folder, &base);
    char temp[PATH_MAX];
    ok = make_folders(o, o->dir, rel, source, dest);
    if (ok && lstat(dest, &st) == 0 && S_ISDIR(st.st_mode))
        ok = out_error(dest, "cannot replace it", EISDIR);
    if (ok && !temp_path(temp, sizeof temp, folder, base))
        ok = out_error(dest, "", ENAMETOOLONG);
    if (ok)
        ok = write_new_file(temp, mode, dest, fill, ctx);
    free(folder);
    if (!ok) {
        free(dest);
        return false;
    }
    dd_grow(&o->pending, &o->pending_cap, o->npending + 1, sizeof *o->pending);
    o->pending[o->npending++] = (pending_file){dd_strdup(temp), dest};
    return true;
}

/* Gives a folder back to its owner (0700) before what is in it is
 * removed: set_made_bits may have taken their write permission away. */
static int open_folder(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (type == FTW_D || type == FTW_DNR)
        chmod(path, 0700);
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    remove(path);
    return 0;
}

static void free_nothing(void *node) { (void)node; }

void dd_out_dir_discard(dd_out_dir *o)
{
    if (o->temp_dir) {
        nftw(o->temp_dir, open_folder, 16, FTW_PHYS);
        nftw(o->temp_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    bool renamed = false; /* the commit put files in place: keep their folders */
    for (size_t i = 0; i < o->npending; i++) {
        if (o->pending[i].temp)
            unlink(o->pending[i].temp);
        else
            renamed = true;
        free(o->pending[i].temp);
        free(o->pending[i].dest);
    }
    for (size_t i = o->nmade; i-- > 0;) {
        if (!renamed && !o->parent) /* dir existed: made in it by this run, empty again */
            rmdir(o->made[i]->path);
        free(o->made[i]->path);
        free(o->made[i]->source);
        free(o->made[i]);
    }
    tdestroy(o->made_by_path, free_nothing);
    free(o->made);
    free(o->pending);
    free(o->temp_dir);
    free(o->parent);
    free(o->dir);
    free(o);
    out_open--;
}

bool dd_out_dir_commit(dd_out_dir *o)
{
    /* The folders made get their bits now when they are put in place with
     * the temporary folder, and after the renames of the files into them
     * otherwise (a folder without write permission takes no file). Then
     * one sync for the data and names of every file written, before any of
     * them takes its final name. */
    bool ok = !o->temp_dir || set_made_bits(o);
    int err = ok ? sync_folder(o->temp_dir ? o->temp_dir : o->dir, true) : 0;
    if (!ok || err || stop_signal) {
        if (err)
            out_error(o->dir, "cannot sync the files written; nothing of them put in place", err);
        dd_out_dir_discard(o);
        return false;
    }
    if (o->temp_dir) {
        if (rename(o->temp_dir, o->dir) != 0) {
            ok = out_error(o->dir, "cannot rename the temporary folder to it; not written", errno);
        } else {
            free(o->temp_dir);
            o->temp_dir = NULL;
            if ((err = sync_folder(o->parent, false)) != 0)
                ok = out_error(o->dir, "written, but cannot sync the folder that holds it", err);
        }
    } else {
        for (size_t i = 0; i < o->npending; i++) {
            pending_file *f = &o->pending[i];
            if (rename(f->temp, f->dest) != 0) {
                ok = out_error(f->dest, "cannot rename the temporary file over it; left as it was",
                               errno);
                continue;
            }
            free(f->temp);
            f->temp = NULL;
        }
        ok = set_made_bits(o) && ok;
        if (o->npending && (err = sync_folder(o->dir, true)) != 0)
            ok = out_error(o->dir, "written, but cannot sync the renames", err);
    }
    dd_out_dir_discard(o); /* what is left under temporary names, if anything */
    return ok;
}

/* ------------------------------------------------------- output files */

struct dd_out_file {
    char *path;   /* as named */
    char *temp;   /* the temporary file beside it */
    FILE *stream; /* open on temp */
};

dd_out_file *dd_out_file_open(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        out_error(path, "", EISDIR);
        return NULL;
    }
    char *dir;
    const char *base;
    split_path(path, &dir, &base);
    char temp[PATH_MAX];
    bool named = temp_path(temp, sizeof temp, dir, base);
    free(dir);
    if (!named) {
        out_error(path, "", ENAMETOOLONG);
        return NULL;
    }
    int fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    FILE *stream = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!stream) {
        int err = errno;
        if (fd >= 0) {
            close(fd);
            unlink(temp);
        }
        out_error(path, "cannot create a temporary file beside it", err);
        return NULL;
    }
    dd_out_file *f = dd_calloc(1, sizeof *f);
    f->path = dd_strdup(path);
    f->temp = dd_strdup(temp);
    f->stream = stream;
    out_open++;
    return f;
}

FILE *dd_out_file_stream(dd_out_file *f) { return f->stream; }

void dd_out_file_discard(dd_out_file *f)
{
    if (f->stream)
        fclose(f->stream);
    unlink(f->temp);
    free(f->temp);
    free(f->path);
    free(f);
    out_open--;
}

bool dd_out_file_commit(dd_out_file *f)
{
    const char *step = "cannot write";
    bool ok = fflush(f->stream) == 0 && !ferror(f->stream);
    if (ok) {
        step = "cannot sync";
        ok = fsync(fileno(f->stream)) == 0;
    }
    int err = errno;
    if (fclose(f->stream) != 0 && ok) {
        err = errno;
        step = "cannot write";
        ok = false;
    }
    f->stream = NULL;
    if (ok && stop_signal) {
        dd_out_file_discard(f); /* the signal is said by the caller */
        return false;
    }
    if (ok) {
        step = "cannot rename the temporary file over it";
        ok = rename(f->temp, f->path) == 0;
        err = errno;
    }
    if (!ok) {
        out_error(f->path, step, err);
        dd_out_file_discard(f);
        return false;
    }
    char *dir;
    const char *base;
    split_path(f->path, &dir, &base);
    sync_folder(dir, false); /* so that the rename survives a crash */
    free(dir);
    free(f->temp);
    free(f->path);
    free(f);
    out_open--;
    return true;
}
