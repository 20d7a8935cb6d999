/*
 * hold_at_open.c - a test helper (LD_PRELOAD) that holds dedup at one exact
 * moment: when it creates a file (open with O_CREAT) whose path holds
 * DEDUP_TEST_HOLD_AT, before the file is created and after every check
 * dedup makes before it. It changes nothing else. What it does there:
 *   - with DEDUP_TEST_HOLD_FIFO (the first such file only): waits until a
 *     writer has opened that FIFO and closed it again, so that the test
 *     does something in the window a real attacker would have to win by
 *     chance (tests/e2e/links.sh swaps a folder for a symbolic link), then
 *     the call goes on as it would have;
 *   - with DEDUP_TEST_HOLD_PID: writes its process id to that file and
 *     stops there for good, until a signal ends it (tests/e2e/slurm.sh
 *     holds one sign task of a job array in the middle of its work, then
 *     kills it or cancels its job).
 *
 * Built by the tests that use it:
 *   cc -shared -fPIC -o hold.so tests/e2e/hold_at_open.c -ldl
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

static int waited; /* on the FIFO, once */

/* Waits until a writer has opened the FIFO and closed it again. */
static void wait_on_fifo(const char *fifo)
{
    open_fn real_open = (open_fn)dlsym(RTLD_NEXT, "open");
    int fd = real_open(fifo, O_RDONLY | O_CLOEXEC); /* until the test opens it */
    if (fd < 0)
        return;
    char byte;
    while (read(fd, &byte, 1) > 0) /* until the test closes it */
        ;
    close(fd);
}

/* Writes the process id to pid_file (whole: under another name, then
 * renamed) and stops for good. */
static void stop_for_good(const char *pid_file)
{
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

static void maybe_hold(const char *path, int flags)
{
    const char *at = getenv("DEDUP_TEST_HOLD_AT");
    if (!at || !*at || !(flags & O_CREAT) || !strstr(path, at))
        return;
    const char *fifo = getenv("DEDUP_TEST_HOLD_FIFO");
    const char *pid_file = getenv("DEDUP_TEST_HOLD_PID");
    if (fifo && *fifo && !waited) {
        waited = 1;
        wait_on_fifo(fifo);
    }
    if (pid_file && *pid_file)
        stop_for_good(pid_file);
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
        maybe_hold(path, flags);                                                                   \
        return ((open_fn)dlsym(RTLD_NEXT, #name))(path, flags, mode);                              \
    }

#define WRAP_OPENAT(name)                                                                          \
    int name(int dir, const char *path, int flags, ...)                                            \
    {                                                                                              \
        MODE_OF(flags, flags)                                                                      \
        maybe_hold(path, flags);                                                                   \
        return ((openat_fn)dlsym(RTLD_NEXT, #name))(dir, path, flags, mode);                       \
    }

WRAP_OPEN(open)
WRAP_OPEN(open64)
WRAP_OPENAT(openat)
WRAP_OPENAT(openat64)
