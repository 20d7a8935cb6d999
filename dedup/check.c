/*
 * check.c - dedup check: the pre-commit check.
 *
 *   dedup check [--index DIR.ddx] [--baseline FILE] [--write-baseline FILE] PATH...
 *
 * The named files are compared with each other and with the other files of
 * the folders they live in: those come first, in sorted order, so that a
 * named file is the copy and the file already there the original. Only
 * findings in named files are reported, one per line, as
 *     path:line: message (see other-path:line)
 * Exit status 0 when there is none, 1 when there are, 2 on an error.
 *
 * With --index the named files are compared with each other and with the
 * documents of the index instead (ddx.c): near-duplicates among the
 * documents sharing an LSH band, verified on exact shingle sets when the
 * indexed file is still there unchanged (else on the signatures), and
 * paragraphs found in indexed documents. A named file's own entry in the
 * index (its earlier version) does not count.
 *
 * A baseline lists accepted findings, one key per line: the path, the kind,
 * the other path, and for repeated paragraphs the exact key of the first
 * one (not line numbers, which move as files are edited). With --baseline
 * they are not reported; --write-baseline writes the keys of every finding
 * and exits 0.
 */
#include "commands.h"
#include "corpus.h"
#include "ddx.h"
#include "index_settings.h"
#include "util.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct finding {
    char *line; /* what is printed */
    char *key;  /* what a baseline holds */
} finding;

typedef struct findings {
    finding *v;
    size_t n, cap;
} findings;

static void add_finding(findings *f, char *line, char *key)
{
    dd_grow(&f->v, &f->cap, f->n + 1, sizeof *f->v);
    f->v[f->n++] = (finding){line, key};
}

/* The paths to read: the files of the folders holding the named ones,
 * except the named ones, then the named ones. *first_named is the index of
 * the first named file. */
static char **check_paths(const dd_inputs *named, size_t *n, size_t *first_named, int *problems)
{
    char **dirs = dd_malloc((named->n ? named->n : 1) * sizeof *dirs);
    size_t ndirs = 0;
    for (size_t i = 0; i < named->n; i++) {
        char *copy = dd_strdup(named->v[i].path);
        char *dir = dd_strdup(dirname(copy));
        free(copy);
        bool seen = false;
        for (size_t k = 0; k < ndirs && !seen; k++)
            seen = !strcmp(dirs[k], dir);
        if (seen)
            free(dir);
        else
            dirs[ndirs++] = dir;
    }
    dd_inputs around = {0};
    *problems += dd_inputs_collect(&around, dirs, ndirs);
    char **paths = dd_malloc((around.n + named->n + 1) * sizeof *paths);
    size_t k = 0;
    for (size_t i = 0; i < around.n; i++) {
        struct stat a;
        bool is_named = false;
        if (stat(around.v[i].path, &a) == 0) {
            for (size_t j = 0; j < named->n && !is_named; j++) {
                struct stat b;
                is_named = stat(named->v[j].path, &b) == 0 && a.st_dev == b.st_dev &&
                           a.st_ino == b.st_ino;
            }
        }
        /* "./x" as the walk of "." names it is "x", as the user names it */
        const char *p = around.v[i].path;
        while (p[0] == '.' && p[1] == '/')
            p += 2;
        if (!is_named)
            paths[k++] = dd_strdup(p);
    }
    *first_named = k;
    for (size_t i = 0; i < named->n; i++)
        paths[k++] = dd_strdup(named->v[i].path);
    *n = k;
    for (size_t i = 0; i < ndirs; i++)
        free(dirs[i]);
    free(dirs);
    dd_inputs_free(&around);
    return paths;
}

/* The exact key of the unit of document doc that starts at line: what a
 * baseline remembers of a repeat, as lines move when a file is edited. */
static sh_key unit_key_at(const dd_corpus *c, uint32_t doc, size_t line)
{
    for (size_t u = c->unit_start[doc]; u < c->unit_start[doc + 1]; u++)
        if (c->units[u].first_line == line)
            return c->units[u].key;
    return (sh_key){0, 0};
}

static void collect_findings(const dd_corpus *c, size_t first_named, findings *out)
{
    const dd_inputs *in = &c->inputs;
    for (size_t i = 0; i < c->clusters.n; i++) {
        const dd_cluster *cl = &c->clusters.v[i];
        char *rep = dd_printable(in->v[cl->members[0].doc].id);
        for (size_t m = 1; m < cl->n; m++) {
            const dd_member *mb = &cl->members[m];
            if (mb->doc < first_named)
                continue;
            char *path = dd_printable(in->v[mb->doc].id);
            char *line =
                mb->exact
                    ? dd_asprintf("%s:1: exact duplicate of %s (see %s:1)", path, rep, rep)
                    : dd_asprintf("%s:1: near-duplicate of %s (jaccard %.2f, containment %.2f) "
                                  "(see %s:1)",
                                  path, rep, mb->jaccard, mb->containment, rep);
            add_finding(out, line, dd_asprintf("%s\tduplicate\t%s", path, rep));
            free(path);
        }
        free(rep);
    }
    const dd_findings *f = &c->findings;
    for (size_t i = 0; i < f->nrepeats; i++) {
        const dd_repeat *r = &f->repeats[i];
        if (r->at.doc < first_named)
            continue;
        char *path = dd_printable(in->v[r->at.doc].id);
        char *other = dd_printable(in->v[r->of.doc].id);
        char lines[64];
        if (r->at.first_line == r->at.last_line)
            snprintf(lines, sizeof lines, "line %zu", r->at.first_line);
        else
            snprintf(lines, sizeof lines, "lines %zu-%zu", r->at.first_line, r->at.last_line);
        char *line;
        if (r->exact)
            line = dd_asprintf("%s:%zu: %s repeat%s %s:%zu (%llu words) (see %s:%zu)", path,
                               r->at.first_line, lines,
                               r->at.first_line == r->at.last_line ? "s" : "", other,
                               r->of.first_line, (unsigned long long)r->words, other,
                               r->of.first_line);
        else
            line = dd_asprintf("%s:%zu: %s near-repeat%s %s:%zu (jaccard %.2f, containment "
                               "%.2f) (see %s:%zu)",
                               path, r->at.first_line, lines,
                               r->at.first_line == r->at.last_line ? "s" : "", other,
                               r->of.first_line, r->jaccard, r->containment, other,
                               r->of.first_line);
        sh_key key = unit_key_at(c, r->at.doc, r->at.first_line);
        add_finding(out, line,
                    dd_asprintf("%s\t%s\t%s\t%016llx%016llx", path,
                                r->exact ? "repeat" : "near-repeat", other,
                                (unsigned long long)key.hi, (unsigned long long)key.lo));
        free(path);
        free(other);
    }
    for (size_t i = 0; i < f->nboilerplate; i++) {
        const dd_boilerplate *b = &f->boilerplate[i];
        char *first = dd_printable(in->v[b->at[0].doc].id);
        char *text = dd_printable(b->text ? b->text : "");
        for (size_t k = 0; k < b->n; k++) {
            if (b->at[k].doc < first_named)
                continue;
            char *path = dd_printable(in->v[b->at[k].doc].id);
            add_finding(out,
                        dd_asprintf("%s:%zu: boilerplate, in %u documents (see %s:%zu)", path,
                                    b->at[k].first_line, b->docs, first, b->at[0].first_line),
                        dd_asprintf("%s\tboilerplate\t%.80s", path, text));
            free(path);
        }
        free(first);
        free(text);
    }
}

/* ------------------------------------------------------- with an index */

/* The sorted distinct shingles of the file at path, when it is there with
 * this size and mtime (mtime_ns < 0: any); false otherwise. */
static bool file_set(const char *path, uint64_t size, int64_t mtime_ns, const dd_options *o,
                     dd_analyzer *a, uint64_t **set, size_t *cap, size_t *n)
{
    struct stat st;
    if (stat(path, &st) != 0 || (uint64_t)st.st_size != size)
        return false;
    if (mtime_ns >= 0 && (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec != mtime_ns)
        return false;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return false;
    char *text = dd_malloc(size + 1);
    bool ok = fread(text, 1, size, fp) == size;
    fclose(fp);
    dd_doc doc = {0};
    if (ok)
        ok = dd_analyze(a, text, size, &doc) == SH_OK;
    if (ok) {
        *n = dd_shingle_set(&doc.words, (unsigned)o->near.ngram, DD_SEED, set, cap);
        uint64_t *tmp = dd_malloc((*n + 1) * sizeof *tmp);
        dd_sort_u64(*set, tmp, *n);
        free(tmp);
    }
    dd_doc_free(&doc);
    free(text);
    return ok;
}

/* Findings of named document i against the index. */
static bool check_against_index(dd_ddx *x, const dd_corpus *c, size_t i, const dd_options *o,
                                dd_analyzer *a, findings *out)
{
    const dd_input *in = &c->inputs.v[i];
    const dd_signatures *s = &c->signatures;
    char *err = NULL;
    char *path = dd_printable(in->id);
    uint32_t self = 0; /* the named file's own entry, if indexed */
    dd_ddx_doc d;
    if (dd_ddx_get(x, in->id, &d, &err)) {
        self = d.number;
        dd_ddx_doc_free(&d);
    }
    bool ok = err == NULL;
    uint64_t *keys = dd_malloc((o->near.bands + 1) * sizeof *keys);
    uint32_t *cands = NULL;
    size_t cands_cap = 0;
    long ncand = ok && s->docs[i].words ? dd_ddx_candidates(x, keys, dd_signature_keys(s, i, keys),
                                                            &cands, &cands_cap, &err)
                                        : 0;
    uint64_t *mine = NULL, *theirs = NULL;
    size_t mine_cap = 0, theirs_cap = 0, nmine = 0, ntheirs = 0;
    bool have_mine = false, duplicate = false;
    /* The earliest indexed document it copies is reported, not every one. */
    for (long k = 0; k < ncand && ok && !duplicate; k++) {
        if (cands[k] == self || !dd_ddx_get_number(x, cands[k], &d, &err)) {
            ok = err == NULL;
            continue;
        }
        char *other = dd_printable(d.id);
        char *line = NULL;
        if (sh_key_equal(d.key, s->docs[i].key)) {
            line = dd_asprintf("%s:1: exact duplicate of %s (see %s:1)", path, other, other);
        } else {
            const uint32_t *sig = s->minhash + i * o->near.num_perm;
            unsigned same = 0;
            for (unsigned long v = 0; v < o->near.num_perm; v++)
                same += sig[v] == d.minhash[v];
            double j = (double)same / (double)o->near.num_perm;
            double na = s->docs[i].shingles, nb = d.shingles, small = na < nb ? na : nb;
            double cont = dd_containment_of(j, na, nb);
            bool estimated = true;
            if (!have_mine) { /* the named file's set, read again once */
                struct stat st;
                have_mine = true;
                if (stat(in->path, &st) != 0 ||
                    !file_set(in->path, (uint64_t)st.st_size, -1, o, a, &mine, &mine_cap, &nmine))
                    nmine = 0;
            }
            /* exact sets when the indexed file is there, unchanged */
            if (nmine &&
                file_set(d.id, d.size, d.mtime_ns, o, a, &theirs, &theirs_cap, &ntheirs)) {
                double inter = (double)dd_sorted_intersection(mine, nmine, theirs, ntheirs);
                na = (double)nmine;
                nb = (double)ntheirs;
                small = na < nb ? na : nb;
                j = na + nb > inter ? inter / (na + nb - inter) : 1;
                cont = small > 0 ? inter / small : 0;
                estimated = false;
            }
            if (cont > 1)
                cont = 1;
            if (dd_near_passes(&o->near, j, cont, small))
                line = dd_asprintf("%s:1: near-duplicate of %s (jaccard %.2f, containment %.2f%s) "
                                   "(see %s:1)",
                                   path, other, j, cont, estimated ? ", estimated" : "", other);
        }
        if (line) {
            add_finding(out, line, dd_asprintf("%s\tduplicate\t%s", path, other));
            duplicate = true;
        }
        free(other);
        dd_ddx_doc_free(&d);
    }
    /* Paragraphs found in indexed documents; not for a copy of a whole
     * document, whose paragraphs are all copies (as scan leaves cluster
     * members out of the paragraph search). */
    dd_ddx_place places[64];
    for (size_t u = c->unit_start[i]; u < c->unit_start[i + 1] && ok && !duplicate; u++) {
        const dd_unit *unit = &c->units[u];
        if (unit->words < o->min_words)
            continue;
        long n = dd_ddx_paragraph(x, unit->key, places, 64, &err);
        ok = n >= 0;
        /* the documents holding it, the named file counted (places come in
         * document order), and the first place in another document */
        uint32_t docs = 1, prev = UINT32_MAX;
        long first = -1;
        for (long k = 0; k < n; k++) {
            if (places[k].doc == self)
                continue;
            if (places[k].doc != prev) {
                docs++;
                prev = places[k].doc;
            }
            if (first < 0)
                first = k;
        }
        if (!ok || first < 0)
            continue;
        const dd_ddx_place *p = &places[first];
        if (!dd_ddx_get_number(x, p->doc, &d, &err)) {
            ok = err == NULL;
            continue;
        }
        char *other = dd_printable(d.id);
        if (docs >= o->boilerplate_df)
            add_finding(out,
                        dd_asprintf("%s:%zu: boilerplate, in %u%s documents (see %s:%u)", path,
                                    unit->first_line, docs, n == 64 ? " or more" : "", other,
                                    p->first_line),
                        dd_asprintf("%s\tboilerplate\t%016llx%016llx", path,
                                    (unsigned long long)unit->key.hi,
                                    (unsigned long long)unit->key.lo));
        else
            add_finding(out,
                        dd_asprintf("%s:%zu: line %zu repeats %s:%u (%u words) (see %s:%u)", path,
                                    unit->first_line, unit->first_line, other, p->first_line,
                                    unit->words, other, p->first_line),
                        dd_asprintf("%s\trepeat\t%s\t%016llx%016llx", path, other,
                                    (unsigned long long)unit->key.hi,
                                    (unsigned long long)unit->key.lo));
        free(other);
        dd_ddx_doc_free(&d);
    }
    if (!ok) {
        dd_error("%s", err);
        free(err);
    }
    free(mine);
    free(theirs);
    free(cands);
    free(keys);
    free(path);
    return ok;
}

static int compare_keys(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The keys of a baseline file, sorted; NULL after a message. */
static char **read_baseline(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        dd_error("%s: %s", path, strerror(errno));
        return NULL;
    }
    char **keys = NULL, *line = NULL;
    size_t cap = 0, line_cap = 0;
    *n = 0;
    ssize_t len;
    while ((len = getline(&line, &line_cap, fp)) >= 0) {
        if (len > 0 && line[len - 1] == '\n')
            line[--len] = '\0';
        if (len == 0 || line[0] == '#')
            continue;
        dd_grow(&keys, &cap, *n + 1, sizeof *keys);
        keys[(*n)++] = dd_strdup(line);
    }
    free(line);
    fclose(fp);
    if (*n > 1)
        qsort(keys, *n, sizeof *keys, compare_keys);
    return keys ? keys : dd_calloc(1, sizeof *keys);
}

static bool write_baseline(const char *path, findings *f)
{
    char **keys = dd_malloc((f->n ? f->n : 1) * sizeof *keys);
    for (size_t i = 0; i < f->n; i++)
        keys[i] = f->v[i].key;
    if (f->n > 1)
        qsort(keys, f->n, sizeof *keys, compare_keys);
    FILE *fp = fopen(path, "w");
    bool ok = fp != NULL;
    if (ok)
        ok = fprintf(fp, "# dedup check baseline: accepted findings, one per line\n") > 0;
    for (size_t i = 0; i < f->n && ok; i++)
        if (i == 0 || strcmp(keys[i], keys[i - 1]))
            ok = fprintf(fp, "%s\n", keys[i]) > 0;
    if (fp && fclose(fp) != 0)
        ok = false;
    if (!ok)
        dd_error("%s: %s", path, strerror(errno));
    free(keys);
    return ok;
}

int cmd_check(int argc, char **argv)
{
    dd_options o;
    int status = dd_options_parse(&o, argc, argv);
    if (status >= 0)
        return status;
    if (o.output) {
        dd_error("check: -o/--output is an option of clean");
        return DD_EXIT_ERROR;
    }
    dd_inputs named = {0};
    int problems = dd_inputs_collect(&named, o.paths, o.npaths);
    for (size_t i = 0; i < named.n; i++)
        if (named.v[i].is_stdin) {
            dd_error("check: standard input has no folder to be checked against");
            dd_inputs_free(&named);
            return DD_EXIT_ERROR;
        }
    size_t npaths = 0, first_named = 0;
    char **paths;
    dd_ddx *x = NULL;
    if (o.index) {
        /* With an index: the named files only, against it. */
        dd_ddx_settings want;
        char *err = NULL;
        if (!dd_index_settings(&o, &want) || !(x = dd_ddx_open(o.index, false, &want, &err))) {
            if (err)
                dd_error("%s", err);
            free(err);
            dd_inputs_free(&named);
            return DD_EXIT_ERROR;
        }
        npaths = named.n;
        paths = dd_malloc((npaths + 1) * sizeof *paths);
        for (size_t i = 0; i < npaths; i++)
            paths[i] = dd_strdup(named.v[i].path);
    } else {
        paths = check_paths(&named, &npaths, &first_named, &problems);
    }
    dd_inputs_free(&named);
    dd_options run = o;
    run.paths = paths;
    run.npaths = npaths;
    dd_corpus c;
    bool ran = dd_corpus_run(&c, &run);
    problems += c.problems;
    findings f = {0};
    if (ran)
        collect_findings(&c, first_named, &f);
    if (ran && x) {
        dd_analyzer a;
        if (!dd_analyzer_init(&a, o.unit, DD_SEED)) {
            problems++;
        } else {
            for (size_t i = 0; i < c.inputs.n; i++)
                if (!c.failed[i] && !check_against_index(x, &c, i, &o, &a, &f))
                    problems++;
            dd_analyzer_free(&a);
        }
    }
    dd_ddx_close(x);
    if (ran && o.write_baseline) {
        status = write_baseline(o.write_baseline, &f) && !problems ? DD_EXIT_CLEAN : DD_EXIT_ERROR;
    } else if (ran) {
        char **accepted = NULL;
        size_t naccepted = 0;
        if (o.baseline && !(accepted = read_baseline(o.baseline, &naccepted)))
            problems++;
        size_t reported = 0;
        for (size_t i = 0; i < f.n; i++) {
            if (accepted && bsearch(&f.v[i].key, accepted, naccepted, sizeof *accepted,
                                    compare_keys))
                continue;
            printf("%s\n", f.v[i].line);
            reported++;
        }
        for (size_t i = 0; i < naccepted; i++)
            free(accepted[i]);
        free(accepted);
        if (fflush(stdout) != 0)
            problems++;
        status = problems ? DD_EXIT_ERROR : reported ? DD_EXIT_FOUND : DD_EXIT_CLEAN;
    } else {
        status = DD_EXIT_ERROR;
    }
    for (size_t i = 0; i < f.n; i++) {
        free(f.v[i].line);
        free(f.v[i].key);
    }
    free(f.v);
    dd_corpus_free(&c);
    for (size_t i = 0; i < npaths; i++)
        free(paths[i]);
    free(paths);
    return status;
}
