/*
 * temp_folder.h - for unit tests that make scratch files: a new, empty
 * folder under $TMPDIR (else /tmp), how many entries a folder holds (to
 * check that nothing was left behind), and the removal of a folder a test
 * filled. Include after <cmocka.h>.
 */
#ifndef DD_TEST_TEMP_FOLDER_H
#define DD_TEST_TEMP_FOLDER_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* Removes folder dir and everything in it (links are removed, not
 * followed). */
static inline void remove_folder(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        size_t size = strlen(dir) + strlen(e->d_name) + 2;
        char *path = malloc(size);
        assert_non_null(path);
        snprintf(path, size, "%s/%s", dir, e->d_name);
        struct stat st;
        assert_int_equal(lstat(path, &st), 0);
        if (S_ISDIR(st.st_mode))
            remove_folder(path);
        else
            assert_int_equal(unlink(path), 0);
        free(path);
    }
    closedir(d);
    assert_int_equal(rmdir(dir), 0);
}

#endif
