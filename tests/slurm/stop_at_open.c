/*
 * stop_at_open.c - a test helper (LD_PRELOAD) that stops a process, for
 * good, when it creates a file whose path holds DEDUP_TEST_STOP_AT (open
 * with O_CREAT): it writes its process id to the file DEDUP_TEST_STOP_PID
 * and waits there, before the file is created, until a signal ends it.
 * tests/e2e/slurm.sh uses it to hold one sign task of a job array in the
 * middle of its work (its first parts signed, the next one about to be
 * written) and then kill it or cancel its job. It changes nothing else.
 *
 *   cc -shared -fPIC -o stop.so tests/slurm/stop_at_open.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);

static void maybe_stop(const char *path, int flags)
{
    const char *at = getenv("DEDUP_TEST_STOP_AT");
    const char *pid_file = getenv("DEDUP_TEST_STOP_PID");
    if (!at || !*at || !pid_file || !(flags & O_CREAT) || !strstr(path, at))
        return;
    /* The pid file appears whole: written under another name, renamed. */
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.%ld", pid_file, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (f) {
        fprintf(f, "%ld\n", (long)getpid());
        fclose(f);
        rename(tmp, pid_file);
    }
    for (;;)
        pause();
}

/* The mode argument is there only with O_CREAT (or O_TMPFILE). */
#define MODE_OF(flags, last)                                                                       \
    mode_t mode = 0;                                                                               \
    if ((flags) & (O_CREAT | O_TMPFILE)) {                                                         \
        va_list ap;                                                                                \
        va_start(ap, last);                                                                        \
        mode = (mode_t)va_arg(ap, int);                                                            \
        va_end(ap);                                                                                \
    }

#define WRAP_OPEN(name)                                                                            \
    int name(const char *path, int flags, ...)                                                     \
    {                                                                                              \
        MODE_OF(flags, flags)                                                                      \
        maybe_stop(path, flags);                                                                   \
        return ((open_fn)dlsym(RTLD_NEXT, #name))(path, flags, mode);                              \
    }

#define WRAP_OPENAT(name)                                                                          \
    int name(int dir, const char *path, int flags, ...)                                            \
    {                                                                                              \
        MODE_OF(flags, flags)                                                                      \
        maybe_stop(path, flags);                                                                   \
        return ((openat_fn)dlsym(RTLD_NEXT, #name))(dir, path, flags, mode);                       \
    }

WRAP_OPEN(open)
WRAP_OPEN(open64)
WRAP_OPENAT(openat)
WRAP_OPENAT(openat64)
