/*
 * temp_folder.h - for unit tests that make scratch files: a new, empty
 * folder under $TMPDIR (else /tmp), and how many entries a folder holds
 * (to check that nothing was left behind). Include after <cmocka.h>.
 */
#ifndef DD_TEST_TEMP_FOLDER_H
#define DD_TEST_TEMP_FOLDER_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A new empty folder, its name starting with name (the caller frees it). */
static inline char *make_folder(const char *name)
{
    const char *tmp = getenv("TMPDIR");
    char *dir = malloc(4096);
    snprintf(dir, 4096, "%s/%s.XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
    assert_non_null(mkdtemp(dir));
    return dir;
}

/* The entries of folder dir, but for "." and "..". */
static inline size_t entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

#endif
