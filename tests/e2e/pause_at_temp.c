/*
 * pause_at_temp.c - a test helper (LD_PRELOAD) that stops dedup at one
 * exact moment: when it creates its first temporary file (a name that
 * starts with ".dedup-tmp.", opened with O_CREAT), after every check it
 * makes before writing and before anything is written. There it waits until
 * a writer has opened the FIFO named by DEDUP_TEST_PAUSE and closed it
 * again, so that the test does something (swaps a folder for a symbolic
 * link, say) in the window that a real attacker would have to win by
 * chance. It changes nothing else: the call then goes on as it would have.
 *
 * Built by the test that uses it (tests/e2e/links.sh):
 *   cc -shared -fPIC -o pause.so tests/e2e/pause_at_temp.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);

static int paused;

/* Waits on the FIFO once, when path is the first temporary file created. */
static void maybe_pause(const char *path, int flags)
{
    const char *fifo = getenv("DEDUP_TEST_PAUSE");
    if (paused || !fifo || !(flags & O_CREAT))
        return;
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    if (strncmp(name, ".dedup-tmp.", strlen(".dedup-tmp.")) != 0)
        return;
    paused = 1;
    open_fn real_open = (open_fn)dlsym(RTLD_NEXT, "open");
    int fd = real_open(fifo, O_RDONLY | O_CLOEXEC); /* until the test opens it */
    if (fd < 0)
        return;
    char byte;
    while (read(fd, &byte, 1) > 0) /* until the test closes it */
        ;
    close(fd);
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
        maybe_pause(path, flags);                                                                  \
        return ((open_fn)dlsym(RTLD_NEXT, #name))(path, flags, mode);                              \
    }

#define WRAP_OPENAT(name)                                                                          \
    int name(int dir, const char *path, int flags, ...)                                            \
    {                                                                                              \
        MODE_OF(flags, flags)                                                                      \
        maybe_pause(path, flags);                                                                  \
        return ((openat_fn)dlsym(RTLD_NEXT, #name))(dir, path, flags, mode);                       \
    }

WRAP_OPEN(open)
WRAP_OPEN(open64)
WRAP_OPENAT(openat)
WRAP_OPENAT(openat64)
