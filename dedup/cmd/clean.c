/*
 * clean.c - dedup clean: write cleaned copies of the inputs (-o DIR), or
 * clean the inputs themselves (--in-place), or show what either would
 * change as a unified diff (--dry-run).
 *
 * The first pass (corpus.c) decides which lines go. This file checks that the
 * output folder is safe to write, then reads each input again, checks that it
 * has not changed since, and builds its cleaned content: the original bytes
 * of every kept line. safe_write.c puts it in place atomically: with -o, the
 * whole output folder at the end of the run (it appears complete or not at
 * all); in place, file by file. A failed or interrupted run leaves every
 * file as it was or as it should be.
 */
#include "cmd/commands.h"
#include "cmd/submit.h"
#include "run/corpus.h"
#include "io/jsonl.h"
#include "run/progress.h"
#include "report/report.h"
#include "io/safe_write.h"
#include "io/stream.h"
#include "util.h"

#include <jansson.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The real path that path has or would have: the real path of its nearest
 * existing ancestor followed by the rest. NULL if none can be resolved. */
static char *would_be_realpath(const char *path)
{
    char *r = realpath(path, NULL);
    if (r)
        return r;
    if (errno != ENOENT)
        return NULL;
    char *copy = dd_strdup(path);
    size_t len = strlen(copy);
    while (len > 1 && copy[len - 1] == '/')
        copy[--len] = '\0';
    char *slash = strrchr(copy, '/');
    char *parent_real;
    const char *rest;
    if (!slash) {
        parent_real = would_be_realpath(".");
        rest = copy;
    } else {
        *slash = '\0';
        parent_real = would_be_realpath(slash == copy ? "/" : copy);
        rest = slash + 1;
    }
    char *out = NULL;
    if (parent_real)
        out = dd_asprintf("%s%s%s", parent_real, strcmp(parent_real, "/") ? "/" : "", rest);
    free(parent_real);
    free(copy);
    return out;
}

/* Refuses an output folder inside an input folder, holding one, or one that
 * would receive a file over its own input. */
static bool check_output_dir(const char *out, const dd_corpus *c)
{
    char *out_real = would_be_realpath(out);
    if (!out_real) {
        dd_error("%s: %s", out, strerror(errno));
        return false;
    }
    bool ok = true;
    for (size_t i = 0; i < c->inputs.ndirs && ok; i++) {
        char *in_real = realpath(c->inputs.dirs[i], NULL);
        if (in_real && (dd_path_within(out_real, in_real) || dd_path_within(in_real, out_real))) {
            dd_error("%s: output directory %s input directory %s; refusing to write into the "
                     "inputs",
                     out, dd_path_within(out_real, in_real) ? "is inside" : "contains",
                     c->inputs.dirs[i]);
            ok = false;
        }
        free(in_real);
    }
    dd_name_room room = {0};
    for (size_t i = 0; i < c->inputs.n && ok; i++) {
        if (dd_input_shard(&c->inputs, i) && i != dd_input_shard(&c->inputs, i)->first)
            continue; /* a shard is written once, with its first record */
        const dd_input in = dd_inputs_get(&c->inputs, i, &room);
        char *in_real = realpath(in.path, NULL);
        char *dest = dd_asprintf("%s/%s", out_real, in.out_rel);
        if (in_real && !strcmp(in_real, dest)) {
            char *p = dd_printable(in.id);
            dd_error("%s: the cleaned copy would replace the input %s", out, p);
            free(p);
            ok = false;
        }
        free(dest);
        free(in_real);
    }
    dd_name_room_free(&room);
    free(out_real);
    return ok;
}

/* Refuses a --removed folder that is the output folder, inside it or
 * holding it. */
static bool check_apart(const char *out, const char *removed)
{
    char *out_real = would_be_realpath(out), *removed_real = would_be_realpath(removed);
    bool ok = out_real && removed_real && !dd_path_within(out_real, removed_real) &&
              !dd_path_within(removed_real, out_real);
    if (!ok)
        dd_error("%s: --removed %s the output directory %s; give them folders apart", removed,
                 out_real && removed_real && strcmp(out_real, removed_real)
                     ? (dd_path_within(removed_real, out_real) ? "is inside" : "holds")
                     : "is",
                 out);
    free(out_real);
    free(removed_real);
    return ok;
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Two inputs may not map to one output name. The names are copied (a
 * name of the list's scratch file is read into a room used again). */
static bool check_collisions(const dd_corpus *c)
{
    size_t n = 0;
    char **names = dd_malloc((c->inputs.n + c->inputs.nshards + 1) * sizeof *names);
    dd_name_room room = {0};
    for (size_t i = 0; i < c->inputs.n; i++)
        if (!dd_input_shard(&c->inputs, i)) /* a shard's records share its name */
            names[n++] = dd_strdup(dd_input_out_rel(&c->inputs, i, &room));
    dd_name_room_free(&room);
    for (size_t i = 0; i < c->inputs.nshards; i++)
        names[n++] = dd_strdup(c->inputs.shards[i]->out_rel);
    qsort(names, n, sizeof *names, compare_strings);
    bool ok = true;
    for (size_t i = 1; i < n && ok; i++) {
        if (!strcmp(names[i - 1], names[i])) {
            char *p = dd_printable(names[i]);
            dd_error("two inputs would be written to the same output file %s", p);
            free(p);
            ok = false;
        }
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return ok;
}

/* ------------------------------------------------------------ --dry-run */

/* Lines of context around each change, as diff -u. */
#define DIFF_CONTEXT 3

/* Prints one line of the old text, with its mark (' ' or '-'), and diff's
 * note when it is the last line and has no line end. */
static void diff_line(FILE *out, char mark, const char *text, size_t start, size_t end)
{
    fputc(mark, out);
    fwrite(text + start, 1, end - start, out);
    if (end == start || text[end - 1] != '\n')
        fputs("\n\\ No newline at end of file\n", out);
}

/* "start,count" of a hunk as diff -u writes it: the count is left out when
 * it is 1, and an empty range starts at the line before it. */
static void diff_range(FILE *out, size_t start, size_t count)
{
    if (count == 1)
        fprintf(out, "%zu", start);
    else
        fprintf(out, "%zu,%zu", count ? start : start - 1, count);
}

/* Prints, as diff -u of old_name and new_name would (without timestamps),
 * the removal of the lines drops[0..n) (or of every line, when all) from
 * text[0..len). Returns whether anything was printed. */
static bool print_removal_diff(FILE *out, const char *old_name, const char *new_name,
                               const char *text, size_t len, const dd_drop *drops, size_t n,
                               bool all)
{
    /* Line i (0-based) is text[start[i] .. start[i + 1]). */
    size_t nlines = 0, cap = 0, *start = NULL;
    for (size_t pos = 0; pos < len;) {
        dd_grow(&start, &cap, nlines + 2, sizeof *start);
        start[nlines++] = pos;
        const char *nl = memchr(text + pos, '\n', len - pos);
        pos = nl ? (size_t)(nl - text) + 1 : len;
    }
    dd_grow(&start, &cap, nlines + 1, sizeof *start);
    start[nlines] = len;
    bool *gone = dd_calloc(nlines + 1, sizeof *gone);
    size_t ngone = 0, d = 0;
    for (size_t i = 0; i < nlines; i++) {
        gone[i] = all || dd_line_dropped(drops, n, &d, i + 1);
        ngone += gone[i];
    }
    if (ngone == 0) {
        free(gone);
        free(start);
        return false;
    }
    char *a = dd_printable(old_name), *b = dd_printable(new_name);
    fprintf(out, "--- %s\n+++ %s\n", a, b);
    free(a);
    free(b);
    size_t removed_before = 0; /* lines gone before line i */
    for (size_t i = 0; i < nlines;) {
        if (!gone[i]) {
            i++;
            continue;
        }
        /* A hunk: from DIFF_CONTEXT lines before this change to
         * DIFF_CONTEXT after the last change that is at most 2 *
         * DIFF_CONTEXT kept lines from the one before it. */
        size_t first = i > DIFF_CONTEXT ? i - DIFF_CONTEXT : 0, last = i;
        for (size_t j = i; j < nlines; j++) {
            if (gone[j])
                last = j;
            else if (j - last > 2 * DIFF_CONTEXT)
                break;
        }
        size_t end = last + DIFF_CONTEXT + 1 < nlines ? last + DIFF_CONTEXT + 1 : nlines;
        size_t old_count = end - first, new_count = 0;
        for (size_t j = first; j < end; j++)
            new_count += !gone[j];
        fputs("@@ -", out);
        diff_range(out, first + 1, old_count);
        fputs(" +", out);
        diff_range(out, first + 1 - removed_before, new_count);
        fputs(" @@\n", out);
        for (size_t j = first; j < end; j++) {
            diff_line(out, gone[j] ? '-' : ' ', text, start[j], start[j + 1]);
            removed_before += gone[j];
        }
        i = end;
    }
    free(gone);
    free(start);
    return true;
}

/* ------------------------------------------------------------ writing */

/* Reads input i again into text, from fd when it is not -1 (its file,
 * open: read_again closes it), and checks that it is what was analysed. */
static bool read_again(const dd_corpus *c, size_t i, int fd, sh_buf *text)
{
    if (c->reread[i] == DD_REREAD_FAILED) { /* gone since the first pass, and said */
        if (fd >= 0)
            close(fd);
        return false;
    }
    dd_name_room room = {0};
    const dd_input input = dd_inputs_get(&c->inputs, i, &room), *in = &input;
    bool ok = fd >= 0 ? dd_input_read_fd(in, fd, c->max_bytes, text)
                      : dd_input_read(in, c->max_bytes, text);
    if (ok && dd_digest(text->data, text->len) != dd_corpus_digest(c, i)) {
        char *p = dd_printable(in->id);
        dd_error("%s: changed while dedup was running; not written", p);
        free(p);
        ok = false;
    }
    dd_name_room_free(&room);
    return ok;
}

/* Writes the cleaned copy of input i into out (-o), with the permission
 * bits of its source (a file readable by its owner only stays so), not
 * its set-id bits, owner or times: the copy is the user's. */
static bool write_clean_copy(const dd_corpus *c, size_t i, dd_out_dir *out, sh_buf *text,
                             sh_buf *clean, const dd_drop *drops, size_t ndrops)
{
    struct stat source;
    if (!read_again(c, i, -1, text))
        return false;
    dd_name_room room = {0};
    const dd_input in = dd_inputs_get(&c->inputs, i, &room);
    bool ok = stat(in.path, &source) == 0;
    if (!ok) {
        char *p = dd_printable(in.id);
        dd_error("%s: %s", p, strerror(errno));
        free(p);
    } else {
        dd_kept_lines(text->data, text->len, drops, ndrops, clean);
        ok = dd_out_dir_write(out, in.out_rel, clean->data ? clean->data : "", clean->len,
                              source.st_mode & 0777, in.path);
    }
    dd_name_room_free(&room);
    return ok;
}

/* ------------------------------------------------------------ shards */

/*
 * A cleaned shard mirrors its input: the same name under DIR, the same
 * compression, and the same lines in the same order, less the records
 * clean leaves out (near-duplicate copies; malformed records with
 * --on-error drop). A kept record is written byte for byte, unless lines
 * of its text go: then the value of its --field alone is written again,
 * as JSON, with the kept lines (dd_kept_lines), and every other byte of the
 * line stays. The shard is read again from its start, as it was read
 * first (decompressed as it comes), and written as it is read, so memory
 * does not grow with it; a record whose text is not what was analysed
 * fails the run.
 *
 * With --removed DIR2, the same reading also writes the records left out,
 * byte for byte and in order, to the shard of the same name and
 * compression under DIR2: the two shards together hold every record of the
 * input (blank lines go with the kept records).
 */
typedef struct shard_job {
    const dd_corpus *c;
    const dd_shard *s;
    dd_drop *drops; /* a record's drops, when read from a scratch file (dd_corpus_removed) */
    size_t drops_cap;
    const dd_left_out *left_out; /* its records left out, in order */
    size_t nleft_out;
    bool copy_left_out;  /* --on-error skip: written unchanged */
    bool copies_stay;    /* --in-place: copies are kept, cleaned as the others */
    int read_fd;         /* the shard, open (--in-place), or -1: opened by its path */
    dd_out_dir *removed; /* --removed: where the records left out go, else NULL */
    mode_t mode;         /* the shard's permission bits */
    int kept_fd;         /* with --removed: the cleaned shard's file */
    char *kept_shown;    /* ... and its name in messages (DIR/NAME) */
    sh_buf text, clean;
} shard_job;

/* Writes line rec[0..len) of record i with its text's drops[0..n) left
 * out: the value of its --field replaced, every other byte as it was.
 * Returns 0, an errno, or -1 after a message. */
static int write_cleaned_record(shard_job *j, size_t i, dd_writer *w, const char *rec, size_t len,
                                const dd_drop *drops, size_t n)
{
    const dd_shard *shard = dd_input_shard(&j->c->inputs, i);
    size_t start, end;
    if (!dd_jsonl_value_span(rec, len, shard->records.field, &start, &end)) {
        dd_name_room room = {0};
        const dd_input in = dd_inputs_get(&j->c->inputs, i, &room);
        char *p = dd_input_name(&in, 0, 0);
        dd_name_room_free(&room);
        dd_error("%s: cannot find field '%s' in the line; not written", p, shard->records.field);
        free(p);
        return -1;
    }
    dd_kept_lines(j->text.data, j->text.len, drops, n, &j->clean);
    json_t *v = json_stringn(j->clean.data ? j->clean.data : "", j->clean.len);
    char *value = v ? json_dumps(v, JSON_ENCODE_ANY) : NULL;
    json_decref(v);
    if (!value) {
        dd_error("out of memory");
        exit(DD_EXIT_ERROR);
    }
    int err = dd_writer_write(w, rec, start) || dd_writer_write(w, value, strlen(value)) ||
                      dd_writer_write(w, rec + end, len - end)
                  ? errno
                  : 0;
    free(value);
    return err;
}

/* A write error of the cleaned shard: an errno that the file's writer
 * reports (dd_out_fill), or, when the shard of the records left out is
 * the file being filled (--removed), -1 after saying it here, with the
 * cleaned shard's name. */
static int kept_write_error(const shard_job *j, int err)
{
    if (!j->removed)
        return err;
    char *p = dd_printable(j->kept_shown);
    dd_error("%s: cannot write: %s", p, strerror(err));
    free(p);
    return -1;
}

/* dd_out_fill: the cleaned shard j->s, into fd; with --removed, fd is the
 * shard of the records left out, and the cleaned shard j->kept_fd
 * (fill_shard_and_removed). */
static int fill_shard(void *ctx, int fd)
{
    shard_job *j = ctx;
    const dd_shard *s = j->s;
    const dd_corpus *c = j->c;
    char *err = NULL;
    dd_reader *r = j->read_fd >= 0
                       ? dd_reader_open_fd(j->read_fd, s->path, s->records.max_record, &err)
                       : dd_reader_open(s->path, s->records.max_record, &err);
    if (!r) {
        dd_error("%s", err);
        free(err);
        return -1;
    }
    dd_writer *w = dd_writer_new_compressed(j->removed ? j->kept_fd : fd, s->format);
    dd_writer *gone = j->removed ? dd_writer_new_compressed(fd, s->format) : NULL;
    const char *rec;
    size_t len, next = s->first, k = 0;
    bool had_delim;
    int got, status = 0;
    while (status == 0 && (got = dd_reader_next(r, '\n', &rec, &len, &had_delim, &err)) == 1) {
        uint64_t line = dd_reader_record_number(r);
        bool is_record = next < s->first + s->n && dd_input_line(&c->inputs, next) == line;
        bool keep = true, cleaned = false;
        if (is_record) {
            size_t i = next++, ndrops;
            const dd_drop *drops =
                dd_corpus_removed(c, (uint32_t)i, &ndrops, &j->drops, &j->drops_cap);
            bool left_out = k < j->nleft_out && j->left_out[k].doc == i;
            k += left_out;
            if (left_out) {
                keep = j->copy_left_out;
            } else if (c->clusters.dropped[i] && !j->copies_stay) {
                keep = false;
            } else {
                char *malformed = dd_record_text(&s->records, rec, len, &j->text);
                if (malformed || dd_digest(j->text.data, j->text.len) != dd_corpus_digest(c, i)) {
                    dd_name_room room = {0};
                    const dd_input record = dd_inputs_get(&c->inputs, i, &room);
                    char *p = dd_input_name(&record, 0, 0);
                    dd_name_room_free(&room);
                    dd_error("%s: changed while dedup was running; not written", p);
                    free(p);
                    free(malformed);
                    status = -1;
                    break;
                }
                if (ndrops > 0) {
                    status = write_cleaned_record(j, i, w, rec, len, drops, ndrops);
                    if (status > 0)
                        status = kept_write_error(j, status);
                    cleaned = true;
                }
            }
        }
        if (keep && !cleaned && dd_writer_write(w, rec, len) != 0)
            status = kept_write_error(j, errno);
        if (keep && status == 0 && had_delim && dd_writer_write(w, "\n", 1) != 0)
            status = kept_write_error(j, errno);
        /* A record left out goes, as it was, to the shard of those. */
        if (!keep && gone && status == 0 &&
            (dd_writer_write(gone, rec, len) != 0 ||
             (had_delim && dd_writer_write(gone, "\n", 1) != 0)))
            status = errno;
    }
    if (status == 0 && got < 0) {
        dd_error("%s", err);
        status = -1;
    } else if (status == 0 && next != s->first + s->n) {
        char *p = dd_printable(s->path);
        dd_error("%s: changed while dedup was running (fewer lines); not written", p);
        free(p);
        status = -1;
    }
    free(err);
    if (status == 0 && dd_writer_finish(w) != 0)
        status = kept_write_error(j, errno);
    if (status == 0 && gone && dd_writer_finish(gone) != 0)
        status = errno;
    dd_writer_free(w);
    if (gone)
        dd_writer_free(gone);
    dd_reader_close(r);
    return status;
}

/* dd_out_fill of the cleaned shard with --removed: the shard of the
 * records left out is written from within, so that one reading of the
 * input writes both (fill_shard). */
static int fill_shard_and_removed(void *ctx, int fd)
{
    shard_job *j = ctx;
    j->kept_fd = fd;
    return dd_out_dir_write_from(j->removed, j->s->out_rel, j->mode, j->s->path, fill_shard, j)
               ? 0
               : -1;
}

/* The job of shard s, whose records' left-out entries are
 * c->left_out[k...] (their drops: dd_corpus_removed). */
static shard_job shard_job_start(const dd_corpus *c, const dd_shard *s, size_t k)
{
    shard_job j = {.c = c, .s = s, .left_out = c->left_out + k, .read_fd = -1, .kept_fd = -1};
    while (k + j.nleft_out < c->nleft_out && c->left_out[k + j.nleft_out].doc < s->first + s->n)
        j.nleft_out++;
    return j;
}

/* Writes the cleaned copy of shard s into out (-o), and into removed
 * (--removed, or NULL) the shard of its records left out: its records'
 * left-out entries are c->left_out[k...]. */
static bool write_clean_shard(const dd_corpus *c, const dd_shard *s, size_t k, bool copy_left_out,
                              dd_out_dir *out, const char *output, dd_out_dir *removed)
{
    shard_job j = shard_job_start(c, s, k);
    j.copy_left_out = copy_left_out;
    j.removed = removed;
    j.kept_shown = dd_asprintf("%s/%s", output, s->out_rel);
    struct stat source;
    bool ok = stat(s->path, &source) == 0;
    if (!ok) {
        char *p = dd_printable(s->path);
        dd_error("%s: %s", p, strerror(errno));
        free(p);
    } else {
        j.mode = source.st_mode & 0777;
        ok = dd_out_dir_write_from(out, s->out_rel, j.mode, s->path,
                                   removed ? fill_shard_and_removed : fill_shard, &j);
    }
    free(j.kept_shown);
    sh_buf_free(&j.text);
    sh_buf_free(&j.clean);
    free(j.drops);
    return ok;
}

/* The real path of the file at path (shown as shown) that cleaning in
 * place replaces, when
 * it may be: a regular file, inside the named trees, with no other hard
 * link. NULL after a message saying why not. A symbolic link is followed
 * to its file when that file lies in the named trees (the link stays);
 * one that leads elsewhere may have been planted by whoever can write in a
 * named folder, to make dedup (run by root, say) rewrite a file that they
 * cannot write: it is refused. The check is made on the path as it is now,
 * just before the write, so a link put in place after the walk counts;
 * the write then follows no link at all (dd_replace_target), so a folder
 * swapped for a link between this check and the write cannot lead it
 * outside either. A file with other hard links would leave them with the
 * old content. */
static char *in_place_target(const dd_corpus *c, const char *path, const char *shown,
                             struct stat *st)
{
    char *real = realpath(path, NULL);
    char *p = dd_printable(shown);
    bool ok = real && stat(real, st) == 0;
    if (!ok) {
        dd_error("%s: %s", p, strerror(errno));
    } else if (!S_ISREG(st->st_mode)) {
        dd_error("%s: not a regular file (%s); cannot be cleaned in place", p,
                 S_ISFIFO(st->st_mode) ? "a FIFO" : "a device or a socket");
        ok = false;
    } else if (!dd_inputs_hold(&c->inputs, real)) {
        char *r = dd_printable(real);
        dd_error("%s: a symbolic link to %s, outside the named folders; not cleaned in place "
                 "(name that file to clean it)",
                 p, r);
        free(r);
        ok = false;
    } else if (st->st_nlink > 1) {
        dd_error("%s: has %ju hard links; not cleaned in place (they would keep the old "
                 "content): use -o DIR",
                 p, (uintmax_t)st->st_nlink);
        ok = false;
    }
    free(p);
    if (!ok) {
        free(real);
        return NULL;
    }
    return real;
}

/* Replaces input i by its cleaned content (--in-place), when
 * in_place_target allows it: read from, and written into, the folder that
 * dd_replace_target opened without following any link. */
static bool clean_in_place(const dd_corpus *c, size_t i, sh_buf *text, sh_buf *clean,
                           const dd_drop *drops, size_t ndrops)
{
    struct stat st;
    dd_name_room room = {0};
    const dd_input in = dd_inputs_get(&c->inputs, i, &room);
    char *real = in_place_target(c, in.path, in.id, &st);
    dd_replace_target t;
    bool ok = real && dd_replace_target_open(&t, real, &st, in.id);
    dd_name_room_free(&room);
    free(real);
    if (!ok)
        return false;
    int fd = dd_replace_target_read(&t);
    ok = fd >= 0 && read_again(c, i, fd, text);
    if (ok) {
        dd_kept_lines(text->data, text->len, drops, ndrops, clean);
        ok = dd_replace_target_write(&t, clean->data ? clean->data : "", clean->len, true);
    }
    dd_replace_target_close(&t);
    return ok;
}

/* Replaces shard s by its cleaned content (--in-place), when
 * in_place_target allows it: its lines all kept, in order (copies stay, as
 * near-duplicate files do), each record whose text loses lines rewritten
 * as -o rewrites it (fill_shard), in the same compression; read from, and
 * written into, the folder that dd_replace_target opened. Its records'
 * left-out entries are c->left_out[k...] (left as they are). */
static bool clean_shard_in_place(const dd_corpus *c, const dd_shard *s, size_t k)
{
    struct stat st;
    char *real = in_place_target(c, s->path, s->path, &st);
    dd_replace_target t;
    bool ok = real && dd_replace_target_open(&t, real, &st, s->path);
    free(real);
    if (!ok)
        return false;
    shard_job j = shard_job_start(c, s, k);
    j.copies_stay = true;
    j.copy_left_out = true;
    j.read_fd = dd_replace_target_read(&t);
    ok = j.read_fd >= 0 && dd_replace_target_write_from(&t, fill_shard, &j, true);
    if (j.read_fd >= 0)
        close(j.read_fd);
    dd_replace_target_close(&t);
    sh_buf_free(&j.text);
    sh_buf_free(&j.clean);
    free(j.drops);
    return ok;
}

/* show_changes of input i, in. */
static bool show_input_changes(const dd_options *o, const dd_corpus *c, size_t i,
                               const dd_input *in, sh_buf *text, const dd_drop *drops,
                               size_t ndrops, bool *failed)
{
    bool dropped = c->clusters.dropped[i] && !o->in_place;
    if (!dropped && ndrops == 0)
        return false;  /* written unchanged */
    if (o->in_place) { /* what the run would refuse, it refuses */
        struct stat st;
        char *real = in_place_target(c, in->path, in->shard ? in->path : in->id, &st);
        if (!real) {
            *failed = true;
            return false;
        }
        free(real);
    }
    if (!read_again(c, i, -1, text)) {
        *failed = true;
        return false;
    }
    /* A record is named by its place: SHARD:LINE, and DIR/SHARD:LINE. */
    char *old = in->shard ? dd_asprintf("%s:%llu", in->path, (unsigned long long)in->line)
                          : dd_strdup(in->id);
    char *dest = o->in_place ? dd_strdup(old)
                 : dropped   ? dd_strdup("/dev/null")
                 : in->shard ? dd_asprintf("%s/%s:%llu", o->output, in->out_rel,
                                           (unsigned long long)in->line)
                             : dd_asprintf("%s/%s", o->output, in->out_rel);
    bool changed =
        print_removal_diff(stdout, old, dest, text->data, text->len, drops, ndrops, dropped);
    free(old);
    free(dest);
    return changed;
}

/* --dry-run: prints what the run would change; returns whether anything. */
static bool show_changes(const dd_options *o, const dd_corpus *c, size_t i, sh_buf *text,
                         const dd_drop *drops, size_t ndrops, bool *failed)
{
    dd_name_room room = {0};
    const dd_input in = dd_inputs_get(&c->inputs, i, &room);
    bool changed = show_input_changes(o, c, i, &in, text, drops, ndrops, failed);
    dd_name_room_free(&room);
    return changed;
}

static const char clean_usage[] =
    "Usage: dedup clean [OPTION]... PATH... -o DIR\n"
    "       dedup clean --in-place [--dry-run] [OPTION]... PATH...\n"
    "\n"
    "Write cleaned copies of the inputs under DIR (DIR/a/b.txt for a/b.txt),\n"
    "or clean the files themselves: one copy per cluster of near-duplicates,\n"
    "repeated paragraphs and boilerplate removed, kept lines byte for byte.\n"
    "A shard (*.jsonl, *.jsonl.gz, *.jsonl.zst) is written as a cleaned shard\n"
    "of the same name and compression: its records in order, copies left out\n"
    "(in place: kept), kept records byte for byte but for their cleaned text.\n"
    "What -o leaves out can go to --removed DIR2, the clusters to --clusters FILE.\n";

static const dd_option_group *const clean_groups[] = {
    &dd_group_clean,
    &dd_group_clusters,
    &dd_group_paragraphs,
    &dd_group_signatures,
    &dd_group_near,
    &dd_group_common,
    &dd_group_key,
    &dd_group_progress,
    &dd_group_threads,
    &dd_group_scratch,
    &dd_group_memory,
    &dd_group_stages,
    &dd_group_executor,
    &dd_group_files,
    &dd_group_records,
    &dd_group_help,
    NULL,
};

static const dd_command_spec clean_command = {
    "clean",      clean_usage,
    clean_groups, "0 success, 1 (--dry-run) something would change, 2 usage or input error.",
    false,
};

/* The line that ends a clean on stderr: what was found, what was removed,
 * and how many files were written (-o), changed (--in-place), or would
 * change (--dry-run). */
static void print_summary(const dd_options *o, const dd_corpus *c, size_t files,
                          size_t removed_files)
{
    dd_corpus_counts k;
    dd_corpus_count(c, &k);
    const char *would = o->dry_run ? "would be " : "";
    /* In place, a copy stays (clean removes lines, never files). */
    uint64_t removed = k.paragraph_bytes + (o->in_place ? 0 : k.copy_bytes);
    fprintf(stderr,
            "dedup clean: %zu %s, %zu %s: %zu %s %s%s, %zu %s and %llu of %llu bytes %sremoved; ",
            k.documents, dd_plural(k.documents, "document", "documents"), k.clusters,
            dd_plural(k.clusters, "cluster", "clusters"), k.copies,
            dd_plural(k.copies, "copy", "copies"), would,
            o->in_place ? "left in place (--in-place removes lines, never files; dedup scan "
                          "lists them)"
                        : "left out",
            k.paragraphs_removed, dd_plural(k.paragraphs_removed, "paragraph", "paragraphs"),
            (unsigned long long)removed, (unsigned long long)k.bytes, would);
    if (o->dry_run)
        fprintf(stderr, "%zu %s would change; nothing written", files,
                dd_plural(files, "file", "files"));
    else if (o->in_place)
        fprintf(stderr, "%zu %s changed", files, dd_plural(files, "file", "files"));
    else {
        char *p = dd_printable(o->output);
        fprintf(stderr, "%zu %s written under %s", files, dd_plural(files, "file", "files"), p);
        free(p);
        if (o->removed) {
            p = dd_printable(o->removed);
            fprintf(stderr, ", %zu under %s", removed_files, p);
            free(p);
        }
    }
    dd_report_full_buckets(stderr, &k);
    fputc('\n', stderr);
}

/* clean --in-place's locks on the trees it rewrites (safe_write.h). */
static dd_tree_locks in_place_locks;

int cmd_clean(int argc, char **argv)
{
    dd_options o;
    int status = dd_options_parse(&o, &clean_command, argc, argv);
    if (status >= 0)
        return status;
    if (o.in_place && o.output) {
        return dd_usage_error("clean", "give -o DIR or --in-place, not both");
    }
    if (!o.output && !o.in_place) {
        return dd_usage_error("clean", "give -o DIR (cleaned copies) or --in-place (clean the "
                                       "files themselves)");
    }
    if (o.removed && !o.output) {
        return dd_usage_error("clean", "--removed DIR2 goes with -o DIR (--in-place leaves no "
                                       "file or record out)");
    }
    if (o.dry_run && (o.removed || o.clusters_file)) {
        return dd_usage_error("clean", "--dry-run writes nothing: give --%s without it",
                              o.removed ? "removed" : "clusters");
    }
    for (size_t i = 0; i < o.npaths; i++) {
        if (!strcmp(o.paths[i], "-"))
            return dd_usage_error("clean",
                                  "cannot clean standard input; name files or directories");
    }
    if (o.explain_params) {
        dd_report_near_params(stdout, &o.near);
        return DD_EXIT_CLEAN;
    }
    if (o.executor == DD_EXECUTOR_SLURM) /* plan and submit the tasks: cmd/submit.h */
        return dd_submit_slurm(&o, argc, argv);
    if (dd_stage_is_task(o.work.stage)) { /* a task: nothing written but its parts */
        dd_progress progress;
        dd_progress_start(&progress, "dedup clean", "file", o.quiet);
        status = dd_corpus_stage_only(&o, &progress);
        dd_progress_end(&progress, false);
        return status;
    }
    dd_safe_write_signals();
    /* Two runs rewriting one tree at once would each write files the other
     * read before, and take each other's temporary files for leftovers.
     * The locks are held until the process ends. */
    if (o.in_place && !o.dry_run && !dd_tree_locks_take(&in_place_locks, o.paths, o.npaths))
        return DD_EXIT_ERROR;
    dd_progress progress;
    dd_progress_start(&progress, "dedup clean", "file", o.quiet);
    dd_corpus c;
    if (!dd_corpus_run(&c, &o, &progress) || c.problems) {
        dd_progress_end(&progress, false);
        dd_error("clean: nothing written because of the errors above");
        dd_corpus_free(&c);
        return DD_EXIT_ERROR;
    }
    dd_progress_stage(&progress, o.dry_run ? "comparing" : "writing");
    uint64_t total = 0;
    for (size_t i = 0; i < c.inputs.n; i++)
        total += dd_corpus_size(&c, i);
    dd_progress_expect(&progress, total);
    if (o.output &&
        (!check_output_dir(o.output, &c) || !check_collisions(&c) ||
         (o.removed && (!check_output_dir(o.removed, &c) || !check_apart(o.output, o.removed))))) {
        dd_corpus_free(&c);
        return DD_EXIT_ERROR;
    }
    /* What the run writes: the cleaned copies (-o), what they leave out
     * (--removed), the clusters (--clusters); nothing is in place before
     * all of them are written (see the end). In place, the clusters file
     * is made after the files are cleaned: while it is open, a signal is
     * only noted, and cleaning in place would go on. */
    dd_out_dir *out = NULL, *removed = NULL;
    dd_out_file *clusters_file = NULL;
    if ((o.output && !o.dry_run && !(out = dd_out_dir_open(o.output))) ||
        (o.removed && !(removed = dd_out_dir_open(o.removed))) ||
        (o.clusters_file && o.output && !(clusters_file = dd_out_file_open(o.clusters_file)))) {
        if (removed)
            dd_out_dir_discard(removed);
        if (out)
            dd_out_dir_discard(out);
        dd_error("clean: nothing written because of the error above");
        dd_corpus_free(&c);
        return DD_EXIT_ERROR;
    }
    /* A file that is not text was left out of the comparison: it stays as
     * it is in place, and -o copies it unchanged (skip) or not at all (drop). */
    bool copy_left_out = o.output && o.on_error == DD_ON_ERROR_SKIP;
    dd_corpus_report_left_out(&c, o.dry_run       ? "left out of the comparison"
                                  : o.in_place    ? "left out of the comparison, left unchanged"
                                  : copy_left_out ? "left out of the comparison, copied unchanged"
                                                  : "left out of the comparison, not copied");
    sh_buf text = {0}, clean = {0};
    dd_drop *drops_buf = NULL; /* a document's drops, when read from a scratch file */
    size_t drops_cap = 0, k = 0;
    size_t files = 0;         /* written (-o), changed (--in-place) or to change (--dry-run) */
    size_t removed_files = 0; /* written under --removed */
    uint64_t bytes = 0;
    bool failed = false;
    for (size_t i = 0; i < c.inputs.n; i++) {
        size_t k_first = k, ndrops;
        const dd_drop *drops = dd_corpus_removed(&c, (uint32_t)i, &ndrops, &drops_buf, &drops_cap);
        bool left_out = k < c.nleft_out && c.left_out[k].doc == i;
        k += left_out;
        const dd_shard *shard = dd_input_shard(&c.inputs, i);
        if (shard && !o.dry_run) {
            /* A shard is written whole, at its first record. */
            if (i == shard->first && o.in_place) {
                /* Rewritten when a record of it loses lines. */
                bool loses = dd_corpus_removed_at(&c, (uint32_t)(shard->first + shard->n)) >
                             dd_corpus_removed_at(&c, (uint32_t)shard->first);
                if (loses && !clean_shard_in_place(&c, shard, k_first))
                    failed = true;
                else
                    files += loses;
            } else if (i == shard->first) {
                if (!write_clean_shard(&c, shard, k_first, copy_left_out, out, o.output, removed)) {
                    failed = true;
                    break;
                }
                files++;
                removed_files += removed != NULL;
            }
        } else if (left_out) {
            /* Copied unchanged (skip), or not at all (drop): then to
             * --removed, as it is. */
            dd_out_dir *to = copy_left_out ? out : removed;
            if (to && !o.dry_run) {
                if (!write_clean_copy(&c, i, to, &text, &clean, NULL, 0)) {
                    failed = true;
                    break;
                }
                files += to == out;
                removed_files += to == removed;
            }
        } else if (o.dry_run) {
            files += show_changes(&o, &c, i, &text, drops, ndrops, &failed);
        } else if (o.in_place) {
            /* In place, a near-duplicate file stays as it is: clean
             * removes lines, never files, and lists no lines of a
             * near-duplicate to remove (nearly all repeat its
             * representative's). */
            if (ndrops > 0 && !clean_in_place(&c, i, &text, &clean, drops, ndrops))
                failed = true;
            else
                files += ndrops > 0;
        } else if (!c.clusters.dropped[i]) { /* a near-duplicate's representative is kept */
            /* Nothing of a failed run is put in place: the first error
             * ends it. */
            if (!write_clean_copy(&c, i, out, &text, &clean, drops, ndrops)) {
                failed = true;
                break;
            }
            files++;
        } else if (removed) { /* a copy left out: under --removed, as it is */
            if (!write_clean_copy(&c, i, removed, &text, &clean, NULL, 0)) {
                failed = true;
                break;
            }
            removed_files++;
        }
        bytes += dd_corpus_size(&c, i);
        dd_progress_update(&progress, i + 1, bytes);
    }
    /* A shard without records (empty, or blank lines only) is mirrored too. */
    for (size_t s = 0; s < c.inputs.nshards && out && !failed && !o.dry_run; s++) {
        if (c.inputs.shards[s]->n)
            continue;
        if (!write_clean_shard(&c, c.inputs.shards[s], 0, copy_left_out, out, o.output, removed)) {
            failed = true;
        } else {
            files++;
            removed_files += removed != NULL;
        }
    }
    dd_progress_end(&progress, false);
    bool writing = out != NULL;
    if (o.clusters_file && o.in_place && !failed &&
        !(clusters_file = dd_out_file_open(o.clusters_file)))
        failed = true;
    if (clusters_file && !failed)
        dd_report_clusters_file(dd_out_file_stream(clusters_file), o.near.method, &c.inputs,
                                &c.clusters); /* a write error is said by the commit */
    /* Put in place: first what the cleaned copies leave out (--removed)
     * and the clusters, then the copies (-o), so that a run that fails
     * between them has dropped nothing without a trace. After a failure,
     * what is not yet in place is discarded. */
    if (removed) {
        if (failed)
            dd_out_dir_discard(removed);
        else if (!dd_out_dir_commit(removed))
            failed = true;
    }
    if (clusters_file) {
        if (failed)
            dd_out_file_discard(clusters_file);
        else if (!dd_out_file_commit(clusters_file))
            failed = true;
    }
    if (out) {
        if (failed) {
            dd_out_dir_discard(out);
            if (!dd_safe_write_stop_signal())
                dd_error("clean: nothing written to %s because of the error above", o.output);
        } else if (!dd_out_dir_commit(out)) {
            failed = true;
        }
    }
    if (!o.quiet && !(writing && failed)) /* a failed -o wrote nothing */
        print_summary(&o, &c, files, removed_files);
    sh_buf_free(&text);
    sh_buf_free(&clean);
    free(drops_buf);
    size_t left_out = c.nleft_out;
    dd_corpus_free(&c);
    if (dd_safe_write_stop_signal()) /* SIGINT, SIGTERM or SIGHUP stopped -o */
        return 128 + dd_safe_write_stop_signal();
    if (failed || left_out) /* 2 even when --dry-run found changes */
        return DD_EXIT_ERROR;
    return o.dry_run && files ? DD_EXIT_FOUND : DD_EXIT_CLEAN;
}
