/*
 * fuzz_index.h - the index folder of a fuzz input, for the targets that open
 * an index (fuzz_index_open, fuzz_index_write): its data.mdb holds exactly
 * the input's bytes and it has no lock.mdb. The folder is made once per
 * process under /tmp, from template (ending in XXXXXX), into dir, and
 * removed when the process exits (libFuzzer's -max_total_time ends with
 * exit; a crash leaves it, with the input that crashed).
 */
#ifndef FUZZ_INDEX_H
#define FUZZ_INDEX_H

#include "fuzz_check.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* The folder made, for remove_folder_at_exit. */
static const char *fuzz_index_made;

static void remove_folder_at_exit(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/data.mdb", fuzz_index_made);
    unlink(path);
    snprintf(path, sizeof path, "%s/lock.mdb", fuzz_index_made);
    unlink(path);
    rmdir(fuzz_index_made);
}

static void fuzz_index_folder(char *dir, size_t dir_size, const char *template,
                              const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        snprintf(dir, dir_size, "%s", template);
        CHECK(mkdtemp(dir));
        fuzz_index_made = dir;
        atexit(remove_folder_at_exit);
    }
    char data_path[128], lock_path[128];
    snprintf(data_path, sizeof data_path, "%s/data.mdb", dir);
    snprintf(lock_path, sizeof lock_path, "%s/lock.mdb", dir);
    unlink(lock_path);
    FILE *f = fopen(data_path, "wb");
    CHECK(f && fwrite(data, 1, size, f) == size && fclose(f) == 0);
}

#endif
