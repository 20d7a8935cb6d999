/*
 * clean.c - dedup clean: write cleaned copies of the inputs.
 *
 * The first pass (corpus.c) decides which lines go. This file checks that the
 * output folder is safe to write, then reads each input again and writes the
 * original bytes of every kept line to a temporary file beside its
 * destination, renamed into place when it is complete: a failed run leaves no
 * half-written file.
 */
#include "commands.h"
#include "corpus.h"
#include "util.h"

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

/* Is a equal to b or inside it? Both are real paths. */
static bool path_within(const char *a, const char *b)
{
    size_t lb = strlen(b);
    if (!strcmp(b, "/"))
        return true;
    return !strncmp(a, b, lb) && (a[lb] == '\0' || a[lb] == '/');
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
        if (in_real && (path_within(out_real, in_real) || path_within(in_real, out_real))) {
            dd_error("%s: output directory %s input directory %s; refusing to write into the "
                     "inputs",
                     out, path_within(out_real, in_real) ? "is inside" : "contains",
                     c->inputs.dirs[i]);
            ok = false;
        }
        free(in_real);
    }
    for (size_t i = 0; i < c->inputs.n && ok; i++) {
        char *in_real = realpath(c->inputs.v[i].path, NULL);
        char *dest = dd_asprintf("%s/%s", out_real, c->inputs.v[i].out_rel);
        if (in_real && !strcmp(in_real, dest)) {
            dd_error("%s: the cleaned copy would replace the input %s", out,
                     c->inputs.v[i].path);
            ok = false;
        }
        free(dest);
        free(in_real);
    }
    free(out_real);
    return ok;
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Two inputs may not map to one output name. */
static bool check_collisions(const dd_corpus *c)
{
    size_t n = c->inputs.n;
    char **names = dd_malloc((n ? n : 1) * sizeof *names);
    for (size_t i = 0; i < n; i++)
        names[i] = c->inputs.v[i].out_rel;
    qsort(names, n, sizeof *names, compare_strings);
    bool ok = true;
    for (size_t i = 1; i < n && ok; i++) {
        if (!strcmp(names[i - 1], names[i])) {
            dd_error("two inputs would be written to the same output file %s", names[i]);
            ok = false;
        }
    }
    free(names);
    return ok;
}

/* mkdir -p of the folder part of path. */
static bool make_parents(const char *path)
{
    char *p = dd_strdup(path);
    for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            dd_error("%s: %s", p, strerror(errno));
            free(p);
            return false;
        }
        *s = '/';
    }
    free(p);
    return true;
}

/* Writes the lines of text not in drops[0..n) (all of one document) to f. */
static bool write_kept_lines(FILE *f, const char *text, size_t len, const dd_drop *drops, size_t n)
{
    static const char bom[] = "\xEF\xBB\xBF";
    size_t line = 1, pos = 0, d = 0;
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) + 1 : len;
        while (d < n && drops[d].last_line < line)
            d++;
        bool dropped = d < n && drops[d].first_line <= line;
        if (!dropped) {
            if (fwrite(text + pos, 1, end - pos, f) != end - pos)
                return false;
        } else if (line == 1 && len >= 3 && !memcmp(text, bom, 3)) {
            /* The byte-order mark belongs to the file, not to its first line. */
            if (fwrite(bom, 1, 3, f) != 3)
                return false;
        }
        pos = end;
        line++;
    }
    return true;
}

/* Writes the cleaned copy of input i to dest, through a temporary file. */
static bool write_clean_copy(const dd_corpus *c, size_t i, const char *dest, sh_buf *text,
                             const dd_drop *drops, size_t ndrops)
{
    const dd_input *in = &c->inputs.v[i];
    if (!dd_input_read(in, text))
        return false;
    if (dd_digest(text->data, text->len) != c->digests[i]) {
        char *p = dd_printable(in->id);
        dd_error("%s: changed while dedup was running; not written", p);
        free(p);
        return false;
    }
    if (!make_parents(dest))
        return false;
    char *tmp = dd_asprintf("%s.dedup-tmp-%ld", dest, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    bool ok = f != NULL;
    if (ok) {
        ok = write_kept_lines(f, text->data, text->len, drops, ndrops);
        ok = (fclose(f) == 0) && ok;
    }
    if (ok)
        ok = rename(tmp, dest) == 0;
    if (!ok) {
        dd_error("%s: %s", dest, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    return ok;
}

int cmd_clean(int argc, char **argv)
{
    dd_options o;
    int status = dd_options_parse(&o, argc, argv);
    if (status >= 0)
        return status;
    if (!o.output) {
        dd_error("clean: no output directory: give -o DIR");
        return DD_EXIT_ERROR;
    }
    for (size_t i = 0; i < o.npaths; i++) {
        if (!strcmp(o.paths[i], "-")) {
            dd_error("clean: cannot clean standard input; name files or directories");
            return DD_EXIT_ERROR;
        }
    }
    if (o.explain_params) {
        dd_near_explain(stdout, &o.near);
        return DD_EXIT_CLEAN;
    }
    dd_corpus c;
    if (!dd_corpus_run(&c, &o)) {
        dd_corpus_free(&c);
        return DD_EXIT_ERROR;
    }
    if (c.problems) {
        dd_error("clean: nothing written because of the errors above");
        dd_corpus_free(&c);
        return DD_EXIT_ERROR;
    }
    if (!check_output_dir(o.output, &c) || !check_collisions(&c)) {
        dd_corpus_free(&c);
        return DD_EXIT_ERROR;
    }
    if (mkdir(o.output, 0777) != 0 && errno != EEXIST) {
        dd_error("%s: %s", o.output, strerror(errno));
        dd_corpus_free(&c);
        return DD_EXIT_ERROR;
    }
    sh_buf text = {0};
    const dd_findings *f = &c.findings;
    size_t d = 0;
    status = DD_EXIT_CLEAN;
    for (size_t i = 0; i < c.inputs.n; i++) {
        size_t first = d;
        while (d < f->ndrops && f->drops[d].doc == i)
            d++;
        if (c.clusters.dropped[i])
            continue; /* a near-duplicate: its representative is kept */
        char *dest = dd_asprintf("%s/%s", o.output, c.inputs.v[i].out_rel);
        if (!write_clean_copy(&c, i, dest, &text, f->drops + first, d - first))
            status = DD_EXIT_ERROR;
        free(dest);
    }
    sh_buf_free(&text);
    dd_corpus_free(&c);
    return status;
}
