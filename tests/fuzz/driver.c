/*
 * driver.c - runs a fuzz target's LLVMFuzzerTestOneInput once on each file
 * named (or each file of each folder named), without libFuzzer: how
 * `make check` replays the seed corpora and every regression input on the
 * gcc builds, the ASan+UBSan one included. A target that finds a broken
 * promise aborts, so the run fails. Prints "ok - TARGET FILE" per file.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_file(const char *target, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        printf("not ok - %s %s: cannot open\n", target, path);
        return 1;
    }
    uint8_t *data = NULL;
    size_t size = 0, cap = 0;
    for (;;) {
        if (size == cap) {
            cap = cap ? 2 * cap : 4096;
            data = realloc(data, cap);
            if (!data)
                abort();
        }
        size_t n = fread(data + size, 1, cap - size, f);
        if (n == 0)
            break;
        size += n;
    }
    fclose(f);
    /* A copy of exactly size bytes, so that ASan sees a read past the end. */
    uint8_t *exact = malloc(size ? size : 1);
    if (!exact)
        abort();
    memcpy(exact, data, size);
    free(data);
    LLVMFuzzerTestOneInput(exact, size);
    free(exact);
    printf("ok - %s %s\n", target, path);
    return 0;
}

static int run_path(const char *target, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        printf("not ok - %s %s: missing\n", target, path);
        return 1;
    }
    if (!S_ISDIR(st.st_mode))
        return run_file(target, path);
    DIR *d = opendir(path);
    if (!d)
        return 1;
    char **names = NULL;
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        names = realloc(names, (n + 1) * sizeof *names);
        size_t len = strlen(path) + strlen(e->d_name) + 2;
        names[n] = malloc(len);
        if (!names || !names[n])
            abort();
        snprintf(names[n++], len, "%s/%s", path, e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, compare_names);
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        failed |= run_file(target, names[i]);
        free(names[i]);
    }
    free(names);
    return failed;
}

int main(int argc, char **argv)
{
    const char *target = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    int failed = 0;
    for (int i = 1; i < argc; i++)
        failed |= run_path(target, argv[i]);
    return failed;
}
