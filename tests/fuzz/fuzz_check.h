/*
 * fuzz_check.h - CHECK(c), the assertion of every fuzz target: a broken
 * promise aborts, which libFuzzer reports as a crash and tests/fuzz/driver.c
 * (make check's replay) as a failed run. Unlike assert(), it stays in
 * builds with NDEBUG.
 */
#ifndef FUZZ_CHECK_H
#define FUZZ_CHECK_H

#include <stdlib.h>

#define CHECK(c)                                                                                  \
    do {                                                                                          \
        if (!(c))                                                                                 \
            abort();                                                                              \
    } while (0)

#endif
