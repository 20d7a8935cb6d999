/*
 * safe_write.c - see safe_write.h.
 */
#include "safe_write.h"

#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* The temporary file being written, for the signal handler: the path is
 * complete before have_temp is set, and have_temp is cleared before the
 * path changes. */
static char temp_path[PATH_MAX];
static volatile sig_atomic_t have_temp;

static void on_signal(int sig)
{
    if (have_temp)
        unlink(temp_path); /* async-signal-safe */
    _exit(128 + sig);
}

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

/* Reports why path could not be written. */
static bool write_error(const char *path, const char *what, int err)
{
    char *p = dd_printable(path);
    dd_error("%s: %s%s%s; left as it was", p, what, *what ? ": " : "", strerror(err));
    free(p);
    return false;
}

bool dd_safe_write(const char *path, const char *data, size_t len, const struct stat *like,
                   bool keep_times)
{
    static unsigned long counter;
    char *dir;
    const char *base;
    split_path(path, &dir, &base);
    /* The name keeps as much of base as fits in NAME_MAX (255). */
    char prefix[64];
    snprintf(prefix, sizeof prefix, DD_TEMP_PREFIX "%ld.%lu.", (long)getpid(), counter++);
    int room = 255 - (int)strlen(prefix);
    int n = snprintf(temp_path, sizeof temp_path, "%s/%s%.*s", dir, prefix, room, base);
    if (n < 0 || (size_t)n >= sizeof temp_path) {
        free(dir);
        return write_error(path, "path too long", ENAMETOOLONG);
    }
    have_temp = 1;
    mode_t mode = like ? (like->st_mode & 07777) : 0666;
    int fd = open(temp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    const char *step = "cannot create a temporary file beside it";
    bool ok = fd >= 0;
    if (ok) {
        step = "cannot write";
        ok = write_all(fd, data, len);
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
    if (ok) {
        step = "cannot rename the temporary file over it";
        ok = rename(temp_path, path) == 0;
        saved = errno;
    }
    if (!ok) {
        unlink(temp_path);
        have_temp = 0;
        free(dir);
        return write_error(path, step, saved);
    }
    have_temp = 0;
    /* The rename is in the folder: sync it so that it survives a crash. */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    free(dir);
    return true;
}
