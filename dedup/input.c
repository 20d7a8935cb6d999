/*
 * input.c - walking the inputs and reading documents.
 */
#include "input.h"

#include "safe_write.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Identities (device, inode) of the files collected, so that each file is
 * read once: an open-addressing hash set. */
typedef struct file_id {
    dev_t dev;
    ino_t ino;
    bool used;
} file_id;

typedef struct seen_files {
    file_id *slot;
    size_t n, cap; /* cap is a power of two */
} seen_files;

static size_t file_id_hash(dev_t dev, ino_t ino, size_t mask)
{
    uint64_t h = (uint64_t)ino * 0x9E3779B97F4A7C15ULL ^ (uint64_t)dev * 0xC2B2AE3D27D4EB4FULL;
    return (size_t)(h ^ (h >> 29)) & mask;
}

static bool seen_before(seen_files *s, const struct stat *st)
{
    if (2 * (s->n + 1) > s->cap) {
        seen_files bigger = {dd_calloc(s->cap ? s->cap * 2 : 64, sizeof(file_id)), 0,
                             s->cap ? s->cap * 2 : 64};
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->slot[i].used)
                continue;
            size_t j = file_id_hash(s->slot[i].dev, s->slot[i].ino, bigger.cap - 1);
            while (bigger.slot[j].used)
                j = (j + 1) & (bigger.cap - 1);
            bigger.slot[j] = s->slot[i];
            bigger.n++;
        }
        free(s->slot);
        *s = bigger;
    }
    size_t j = file_id_hash(st->st_dev, st->st_ino, s->cap - 1);
    for (; s->slot[j].used; j = (j + 1) & (s->cap - 1))
        if (s->slot[j].dev == st->st_dev && s->slot[j].ino == st->st_ino)
            return true;
    s->slot[j] = (file_id){st->st_dev, st->st_ino, true};
    s->n++;
    return false;
}

static void add_input(dd_inputs *in, const char *path, const char *id, const char *out_rel,
                      uint64_t size, bool is_stream)
{
    dd_grow(&in->v, &in->cap, in->n + 1, sizeof *in->v);
    dd_input *d = &in->v[in->n++];
    d->path = dd_strdup(path);
    d->id = dd_strdup(id);
    d->out_rel = dd_strdup(out_rel);
    d->size = size;
    d->is_stdin = strcmp(path, "-") == 0;
    d->stream = is_stream ? dd_calloc(1, sizeof *d->stream) : NULL;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Folders of version control tools are not data. */
static bool is_vcs_dir(const char *name)
{
    return !strcmp(name, ".git") || !strcmp(name, ".hg") || !strcmp(name, ".svn");
}

/* Joins a and b with one slash. */
static char *join(const char *a, const char *b)
{
    size_t la = strlen(a);
    if (la == 0)
        return dd_strdup(b);
    return dd_asprintf("%s%s%s", a, a[la - 1] == '/' ? "" : "/", b);
}

/* Adds the files under dir (id prefix idp, output prefix rel) in sorted
 * order. Returns the number of problems reported. */
static int walk(dd_inputs *in, seen_files *seen, const char *dir, const char *rel, int depth)
{
    int problems = 0;
    DIR *d = opendir(dir);
    if (!d) {
        char *p = dd_printable(dir);
        dd_error("%s: %s", p, strerror(errno));
        free(p);
        return 1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    errno = 0;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        dd_grow(&names, &cap, n + 1, sizeof *names);
        names[n++] = dd_strdup(e->d_name);
    }
    if (errno) {
        char *p = dd_printable(dir);
        dd_error("%s: %s", p, strerror(errno));
        free(p);
        problems++;
    }
    closedir(d);
    if (n > 1)
        qsort(names, n, sizeof *names, compare_names);
    for (size_t i = 0; i < n; i++) {
        char *path = join(dir, names[i]);
        char *sub = join(rel, names[i]);
        struct stat lst, st;
        if (dd_is_temp_name(names[i])) {
            char *p = dd_printable(path);
            bool folder = lstat(path, &lst) == 0 && S_ISDIR(lst.st_mode);
            if (dd_temp_name_is_live(names[i]))
                dd_warn("%s: a temporary %s of a dedup clean running now, skipped", p,
                        folder ? "folder" : "file");
            else
                dd_warn("%s: a temporary %s left by an interrupted dedup clean, skipped "
                        "(remove it)",
                        p, folder ? "folder" : "file");
            free(p);
        } else if (lstat(path, &lst) != 0 || stat(path, &st) != 0) {
            char *p = dd_printable(path);
            dd_error("%s: %s", p, strerror(errno));
            free(p);
            problems++;
        } else if (S_ISDIR(st.st_mode)) {
            if (S_ISLNK(lst.st_mode)) {
                char *p = dd_printable(path);
                dd_warn("%s: symbolic link to a directory, not followed", p);
                free(p);
            } else if (!is_vcs_dir(names[i])) {
                problems += walk(in, seen, path, sub, depth + 1);
            }
        } else if (S_ISREG(st.st_mode)) {
            if (!seen_before(seen, &st))
                add_input(in, path, path, sub, (uint64_t)st.st_size, false);
        } else {
            char *p = dd_printable(path);
            dd_warn("%s: not a regular file, skipped", p);
            free(p);
        }
        free(path);
        free(sub);
        free(names[i]);
    }
    free(names);
    return problems;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* Remembers the real path of dir as a named tree (dd_inputs_hold). */
static void add_tree(dd_inputs *in, const char *dir)
{
    char *real = realpath(dir, NULL);
    if (!real)
        return; /* nothing can be held in a tree that cannot be resolved */
    dd_grow(&in->trees, &in->trees_cap, in->ntrees + 1, sizeof *in->trees);
    in->trees[in->ntrees++] = real;
}

/* Remembers the directory of the named file path as a named tree. */
static void add_tree_of_file(dd_inputs *in, const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = !slash          ? dd_strdup(".")
                : slash == path ? dd_strdup("/")
                                : dd_asprintf("%.*s", (int)(slash - path), path);
    add_tree(in, dir);
    free(dir);
}

bool dd_path_within(const char *a, const char *b)
{
    size_t lb = strlen(b);
    if (!strcmp(b, "/"))
        return true;
    return !strncmp(a, b, lb) && (a[lb] == '\0' || a[lb] == '/');
}

bool dd_inputs_hold(const dd_inputs *in, const char *real)
{
    for (size_t i = 0; i < in->ntrees; i++)
        if (dd_path_within(real, in->trees[i]))
            return true;
    return false;
}

int dd_inputs_collect(dd_inputs *in, char *const *paths, size_t n)
{
    seen_files seen = {0};
    int problems = 0;
    for (size_t i = 0; i < n; i++) {
        const char *path = paths[i];
        if (!strcmp(path, "-")) {
            add_input(in, "-", "-", "-", 0, true);
            continue;
        }
        struct stat st;
        if (stat(path, &st) != 0) {
            char *p = dd_printable(path);
            dd_error("%s: %s", p, strerror(errno));
            free(p);
            problems++;
        } else if (S_ISDIR(st.st_mode)) {
            dd_grow(&in->dirs, &in->dirs_cap, in->ndirs + 1, sizeof *in->dirs);
            in->dirs[in->ndirs++] = dd_strdup(path);
            add_tree(in, path);
            problems += walk(in, &seen, path, "", 0);
        } else if (S_ISREG(st.st_mode)) {
            if (seen_before(&seen, &st)) {
                char *p = dd_printable(path);
                dd_warn("%s: named twice, read once", p);
                free(p);
            } else {
                add_tree_of_file(in, path);
                add_input(in, path, path, base_name(path), (uint64_t)st.st_size, false);
            }
        } else {
            /* FIFOs and devices named explicitly are read like stdin:
             * once. */
            add_input(in, path, path, base_name(path), 0, true);
        }
    }
    free(seen.slot);
    return problems;
}

void dd_inputs_free(dd_inputs *in)
{
    for (size_t i = 0; i < in->n; i++) {
        free(in->v[i].path);
        free(in->v[i].id);
        free(in->v[i].out_rel);
        if (in->v[i].stream)
            sh_buf_free(&in->v[i].stream->text);
        free(in->v[i].stream);
    }
    for (size_t i = 0; i < in->ndirs; i++)
        free(in->dirs[i]);
    for (size_t i = 0; i < in->ntrees; i++)
        free(in->trees[i]);
    free(in->v);
    free(in->dirs);
    free(in->trees);
    memset(in, 0, sizeof *in);
}

/* Refuses a document longer than max bytes. */
static bool too_long(const dd_input *d, int fd, size_t max)
{
    if (!d->is_stdin)
        close(fd);
    char *p = dd_printable(d->id), *limit = dd_max_record_text(max);
    dd_error("%s: longer than %s; not read", p, limit);
    free(limit);
    free(p);
    return false;
}

/* Copies n bytes of data into buf (replacing its contents), NUL-terminated. */
static void copy_into(sh_buf *buf, const char *data, size_t n)
{
    buf->len = 0;
    if (sh_buf_append(buf, data ? data : "", n) != SH_OK) {
        dd_error("out of memory");
        exit(DD_EXIT_ERROR);
    }
}

/* Reads document d from fd, open on it (standard input, or d's file),
 * and closes fd unless it is standard input: dd_input_read without the
 * stream's copy. A stream stops at its first DD_BINARY_PROBE bytes when
 * they hold a NUL byte: *binary is then set. */
static bool read_open(const dd_input *d, int fd, size_t max, sh_buf *buf, bool *binary)
{
    *binary = false;
    buf->len = 0;
    struct stat st;
    bool regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    if (!regular && !d->stream) {
        close(fd);
        char *p = dd_printable(d->id);
        dd_error("%s: no longer a regular file; not read", p);
        free(p);
        return false;
    }
    if (regular && (uint64_t)st.st_size > max)
        return too_long(d, fd, max);
    if (regular && st.st_size > 0 && (size_t)st.st_size + 1 > buf->cap) {
        buf->cap = (size_t)st.st_size + 1;
        buf->data = dd_realloc(buf->data, buf->cap);
    }
    for (;;) {
        if (buf->cap - buf->len < 2) {
            buf->cap = buf->cap ? buf->cap * 2 : 65536;
            buf->data = dd_realloc(buf->data, buf->cap);
        }
        ssize_t r = read(fd, buf->data + buf->len, buf->cap - buf->len - 1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            if (!d->is_stdin)
                close(fd);
            errno = e;
            goto fail;
        }
        if (r == 0)
            break;
        size_t before = buf->len;
        buf->len += (size_t)r;
        if (d->stream && before < DD_BINARY_PROBE && buf->len >= DD_BINARY_PROBE &&
            dd_input_is_binary(buf->data, buf->len)) {
            *binary = true;
            break;
        }
        if (buf->len > max) /* a stream, or a file that grew */
            return too_long(d, fd, max);
    }
    if (!d->is_stdin)
        close(fd);
    buf->data[buf->len] = '\0';
    return true;
fail:;
    char *p = dd_printable(d->id);
    dd_error("%s: %s", p, strerror(errno));
    free(p);
    return false;
}

/* Reads document d from its start (dd_input_read without the stream's
 * copy). A file that the walk found regular is opened without waiting, so
 * that one replaced by a FIFO since is refused instead of blocking. */
static bool read_once(const dd_input *d, size_t max, sh_buf *buf, bool *binary)
{
    int fd = d->is_stdin ? STDIN_FILENO
                         : open(d->path, O_RDONLY | O_CLOEXEC | (d->stream ? 0 : O_NONBLOCK));
    if (fd < 0) {
        char *p = dd_printable(d->id);
        dd_error("%s: %s", p, strerror(errno));
        free(p);
        return false;
    }
    return read_open(d, fd, max, buf, binary);
}

bool dd_input_read_fd(const dd_input *d, int fd, size_t max, sh_buf *buf)
{
    bool binary;
    return read_open(d, fd, max, buf, &binary);
}

bool dd_input_read(const dd_input *d, size_t max, sh_buf *buf)
{
    dd_stream_copy *s = d->stream;
    bool binary;
    if (!s)
        return read_once(d, max, buf, &binary);
    if (s->state == DD_STREAM_KEPT) {
        copy_into(buf, s->text.data, s->text.len);
        return true;
    }
    if (s->state != DD_STREAM_UNREAD) {
        char *p = dd_printable(d->id);
        dd_error("%s: %s", p,
                 s->state == DD_STREAM_BINARY
                     ? "a binary stream, of which only the start was read; cannot be read again"
                     : "not a regular file, and its one reading failed");
        free(p);
        return false;
    }
    bool ok = read_once(d, max, buf, &binary);
    s->state = !ok ? DD_STREAM_FAILED : binary ? DD_STREAM_BINARY : DD_STREAM_KEPT;
    if (s->state == DD_STREAM_KEPT)
        copy_into(&s->text, buf->data, buf->len);
    return ok;
}

/* The 1-based line that holds byte off. */
static size_t line_of(const char *text, size_t off)
{
    size_t line = 1;
    for (const char *p = text; (p = memchr(p, '\n', off - (size_t)(p - text))) != NULL; p++)
        line++;
    return line;
}

bool dd_input_is_binary(const char *text, size_t len)
{
    return memchr(text, '\0', len < DD_BINARY_PROBE ? len : DD_BINARY_PROBE) != NULL;
}

static void warn_binary(const dd_input *d)
{
    char *p = dd_printable(d->id);
    dd_warn("%s: a binary file (a NUL byte in its first %d bytes), skipped", p, DD_BINARY_PROBE);
    free(p);
}

bool dd_find_not_text(const char *text, size_t len, dd_not_text *bad)
{
    const char *nul = memchr(text, '\0', len);
    size_t before_nul = nul ? (size_t)(nul - text) : len;
    size_t valid = sh_utf8_check(text, before_nul);
    if (valid != before_nul)
        *bad = (dd_not_text){"invalid UTF-8", valid, 0};
    else if (nul)
        *bad = (dd_not_text){"NUL byte", before_nul, 0};
    else
        return false;
    bad->line = line_of(text, bad->offset);
    return true;
}

char *dd_not_text_message(const dd_input *d, const dd_not_text *bad)
{
    char *p = dd_printable(d->id);
    char *m = dd_asprintf("%s:%zu: %s at byte %zu%s", p, bad->line, bad->why, bad->offset,
                          strcmp(bad->why, "NUL byte") ? "" : " (not a text file)");
    free(p);
    return m;
}

void dd_input_report_not_text(const dd_input *d, const dd_not_text *bad, bool warning,
                              const char *fate)
{
    char *m = dd_not_text_message(d, bad);
    if (warning)
        dd_warn("%s%s%s", m, fate ? "; " : "", fate ? fate : "");
    else
        dd_error("%s%s%s", m, fate ? "; " : "", fate ? fate : "");
    free(m);
}

dd_load_status dd_input_load(const dd_input *d, size_t max, dd_analyzer *a, sh_buf *text,
                             dd_doc *doc, dd_not_text *bad)
{
    if (!dd_input_read(d, max, text))
        return DD_LOAD_FAILED;
    if (dd_input_is_binary(text->data, text->len)) {
        warn_binary(d);
        dd_analyze(a, "", 0, doc); /* an empty document: nothing found, nothing removed */
        return DD_LOAD_BINARY;
    }
    /* The normaliser finds invalid UTF-8 as it goes, so the full check
     * runs only when it did, or when there is a NUL byte (valid UTF-8). */
    sh_status st = memchr(text->data, '\0', text->len) ? SH_ERR_BAD_UTF8
                                                       : dd_analyze(a, text->data, text->len, doc);
    if (st == SH_ERR_BAD_UTF8 && dd_find_not_text(text->data, text->len, bad)) {
        dd_analyze(a, "", 0, doc);
        return DD_LOAD_NOT_TEXT;
    }
    if (st != SH_OK) {
        char *p = dd_printable(d->id);
        dd_error("%s: %s", p, sh_status_str(st));
        free(p);
        return DD_LOAD_FAILED;
    }
    return DD_LOAD_TEXT;
}
