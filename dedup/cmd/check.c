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
 * A named file that is not text (invalid UTF-8, a NUL byte: dd_input_load)
 * is a finding too, "path:line: why at byte N; left out of the comparison";
 * such a file among the others of the folder is left out with a warning,
 * and fails nothing (with --on-error stop, either is an error).
 *
 * A baseline lists accepted findings, one key per line: the path, the kind,
 * the other path, and for repeated paragraphs the exact key of the first
 * one (not line numbers, which move as files are edited); "path<TAB>not-text"
 * for a file that is not text. With --baseline they are not reported;
 * --write-baseline writes the keys of every finding and exits 0.
 */
#include "cmd/commands.h"
#include "run/corpus.h"
#include "store/ddx.h"
#include "engine/engine.h"
#include "store/index_settings.h"
#include "run/progress.h"
#include "report/report.h"
#include "io/safe_write.h"
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

/* The length of s[0..len) without a UTF-8 sequence that its end cuts short:
 * a baseline's boilerplate key is the first BOILERPLATE_KEY_BYTES bytes of
 * the text, and a cut inside a character would write invalid UTF-8 (it
 * did, before: such keys, read back, are trimmed the same way). */
enum { BOILERPLATE_KEY_BYTES = 80 };
static size_t utf8_whole_prefix(const char *s, size_t len)
{
    size_t start = len;
    while (start > 0 && len - start < 4 && ((unsigned char)s[start - 1] & 0xC0) == 0x80)
        start--;
    if (start == 0)
        return len;
    unsigned char lead = (unsigned char)s[start - 1];
    size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    return len - (start - 1) < need ? start - 1 : len;
}

/* The baseline key of boilerplate text in the file at path. */
static char *boilerplate_key(const char *path, const char *text)
{
    size_t len = strnlen(text, BOILERPLATE_KEY_BYTES);
    return dd_asprintf("%s\tboilerplate\t%.*s", path, (int)utf8_whole_prefix(text, len), text);
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The folders holding the named files, each once, sorted. */
static char **folders_of(const dd_inputs *named, size_t *ndirs)
{
    char **dirs = dd_malloc((named->n ? named->n : 1) * sizeof *dirs);
    dd_name_room room = {0};
    for (size_t i = 0; i < named->n; i++) {
        char *copy = dd_strdup(dd_input_path(named, i, &room));
        dirs[i] = dd_strdup(dirname(copy));
        free(copy);
    }
    dd_name_room_free(&room);
    if (named->n > 1)
        qsort(dirs, named->n, sizeof *dirs, compare_strings);
    size_t n = 0;
    for (size_t i = 0; i < named->n; i++) {
        if (n > 0 && !strcmp(dirs[i], dirs[n - 1]))
            free(dirs[i]);
        else
            dirs[n++] = dirs[i];
    }
    *ndirs = n;
    return dirs;
}

/* What makes two paths one file: its device and inode. */
typedef struct file_id {
    dev_t dev;
    ino_t ino;
} file_id;

static int compare_file_ids(const void *a, const void *b)
{
    const file_id *x = a, *y = b;
    if (x->dev != y->dev)
        return x->dev < y->dev ? -1 : 1;
    return x->ino < y->ino ? -1 : x->ino > y->ino;
}

/* The paths to read: the files of the folders holding the named ones,
 * except the named ones, then the named ones. *first_named is the index of
 * the first named file. Each file is stat()ed once, and looked up among the
 * sorted identities of the named files, so that checking N files costs
 * O(N log N), as scanning them does. */
static char **check_paths(const dd_inputs *named, size_t *n, size_t *first_named, int *problems)
{
    size_t ndirs = 0;
    char **dirs = folders_of(named, &ndirs);
    dd_inputs around = {0};
    /* Files only: the shards among them are read as records by the run. */
    *problems += dd_inputs_collect(&around, dirs, ndirs, &(dd_records_spec){.whole_files = true});

    file_id *named_ids = dd_malloc((named->n ? named->n : 1) * sizeof *named_ids);
    size_t nids = 0;
    dd_name_room room = {0};
    for (size_t i = 0; i < named->n; i++) {
        struct stat st;
        if (stat(dd_input_path(named, i, &room), &st) == 0)
            named_ids[nids++] = (file_id){st.st_dev, st.st_ino};
    }
    if (nids > 1)
        qsort(named_ids, nids, sizeof *named_ids, compare_file_ids);

    char **paths = dd_malloc((around.n + named->n + 1) * sizeof *paths);
    size_t k = 0;
    for (size_t i = 0; i < around.n; i++) {
        struct stat st;
        bool is_named = stat(dd_input_path(&around, i, &room), &st) == 0 &&
                        bsearch(&(file_id){st.st_dev, st.st_ino}, named_ids, nids,
                                sizeof *named_ids, compare_file_ids);
        /* "./x" as the walk of "." names it is "x", as the user names it */
        const char *p = dd_input_path(&around, i, &room);
        while (p[0] == '.' && p[1] == '/')
            p += 2;
        if (!is_named)
            paths[k++] = dd_strdup(p);
    }
    *first_named = k;
    for (size_t i = 0; i < named->n; i++)
        paths[k++] = dd_strdup(dd_input_path(named, i, &room));
    *n = k;
    dd_name_room_free(&room);
    free(named_ids);
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
    size_t end = dd_unit_start(&c->unit_starts, doc + 1);
    for (size_t u = dd_unit_start(&c->unit_starts, doc); u < end; u++)
        if (dd_units_get(&c->units, u).first_line == line)
            return dd_units_get(&c->units, u).key;
    return (sh_key){0, 0};
}

/* What a baseline calls document d: a file by its path, a record by its
 * shard and id ("SHARD [ID]"), or its line when it has no id (lines move as
 * a shard is edited; ids do not). Printable; the caller frees it. */
static char *baseline_name(const dd_input *d)
{
    if (!d->shard || !d->named_by_id)
        return d->shard ? dd_input_name(d, 0, 0) : dd_printable(d->id);
    char *shard = dd_printable(d->path), *id = dd_printable(d->id);
    char *name = dd_asprintf("%s [%s]", shard, id);
    free(shard);
    free(id);
    return name;
}

/* Where a finding's "(see ...)" sends the reader: line of document d, as
 * "PATH:LINE" for a file, "SHARD:LINE" (the record's) for a record. */
static char *see_at(const dd_input *d, size_t line)
{
    if (!d->shard)
        return dd_input_name(d, line, 0);
    char *shard = dd_printable(d->path);
    char *at = dd_asprintf("%s:%llu", shard, (unsigned long long)d->line);
    free(shard);
    return at;
}

static void collect_findings(const dd_corpus *c, size_t first_named, findings *out)
{
    const dd_inputs *in = &c->inputs;
    dd_name_room at_room = {0}, of_room = {0}; /* of the finding's document, of the other's */
    /* A file that is not text, left out of the comparison: a finding when
     * it is named (a baseline can accept it), a warning when it is only in
     * the folder (the commit did not bring it). */
    for (size_t k = 0; k < c->nleft_out; k++) {
        const dd_left_out *l = &c->left_out[k];
        const dd_input d = dd_inputs_get(in, l->doc, &at_room);
        if (l->doc < first_named) {
            dd_input_report_not_text(&d, &l->why, true, "left out of the comparison");
            continue;
        }
        char *why = dd_not_text_message(&d, &l->why);
        char *path = baseline_name(&d);
        add_finding(out, dd_asprintf("%s; left out of the comparison", why),
                    dd_asprintf("%s\tnot-text", path));
        free(path);
        free(why);
    }
    for (size_t i = 0; i < c->clusters.n; i++) {
        const dd_cluster *cl = &c->clusters.v[i];
        for (size_t m = 1; m < cl->n; m++) {
            const dd_member *mb = &cl->members[m];
            if (mb->doc < first_named)
                continue;
            /* The representative, or a copy of it found by a later round. */
            const dd_input input = dd_inputs_get(in, mb->of, &of_room), *rep_in = &input;
            char *rep = dd_input_name(rep_in, 0, 0), *rep_key = baseline_name(rep_in);
            char *see = see_at(rep_in, 1);
            const dd_input at = dd_inputs_get(in, mb->doc, &at_room);
            char *where = dd_input_at(&at, 1), *key = baseline_name(&at);
            char *line =
                mb->exact ? dd_asprintf("%sexact duplicate of %s (see %s)", where, rep, see)
                          : dd_asprintf("%snear-duplicate of %s (" DD_SIMILARITY_TEXT ") (see %s)",
                                        where, rep, mb->jaccard, mb->containment, see);
            add_finding(out, line, dd_asprintf("%s\tduplicate\t%s", key, rep_key));
            free(where);
            free(key);
            free(rep);
            free(rep_key);
            free(see);
        }
    }
    const dd_findings *f = &c->findings;
    for (size_t i = 0; i < f->nrepeats; i++) {
        const dd_repeat repeat = dd_corpus_repeat(c, i), *r = &repeat;
        if (r->at.doc < first_named)
            continue;
        const dd_input at_doc = dd_inputs_get(in, r->at.doc, &at_room), *at_in = &at_doc;
        const dd_input of_doc = dd_inputs_get(in, r->of.doc, &of_room), *of_in = &of_doc;
        char *where = dd_input_at(at_in, r->at.first_line);
        char *other = dd_input_name(of_in, r->of.first_line, 0),
             *see = see_at(of_in, r->of.first_line);
        char lines[64];
        if (r->at.first_line == r->at.last_line)
            snprintf(lines, sizeof lines, "line %zu", r->at.first_line);
        else
            snprintf(lines, sizeof lines, "lines %zu-%zu", r->at.first_line, r->at.last_line);
        char *line;
        if (r->exact)
            line = dd_asprintf("%s%s repeat%s %s (%llu words) (see %s)", where, lines,
                               r->at.first_line == r->at.last_line ? "s" : "", other,
                               (unsigned long long)r->words, see);
        else
            line = dd_asprintf("%s%s near-repeat%s %s (" DD_SIMILARITY_TEXT ") (see %s)", where,
                               lines, r->at.first_line == r->at.last_line ? "s" : "", other,
                               r->jaccard, r->containment, see);
        /* An exact repeat has one key on both sides; a near-repeat also
         * names the other paragraph's, so that a baseline joins the two. */
        sh_key key = unit_key_at(c, r->at.doc, r->at.first_line);
        sh_key of = unit_key_at(c, r->of.doc, r->of.first_line);
        char *path = baseline_name(at_in), *other_key = baseline_name(of_in);
        char *baseline_key =
            r->exact
                ? dd_asprintf("%s\trepeat\t%s\t%016llx%016llx", path, other_key,
                              (unsigned long long)key.hi, (unsigned long long)key.lo)
                : dd_asprintf("%s\tnear-repeat\t%s\t%016llx%016llx\t%016llx%016llx", path,
                              other_key, (unsigned long long)key.hi, (unsigned long long)key.lo,
                              (unsigned long long)of.hi, (unsigned long long)of.lo);
        add_finding(out, line, baseline_key);
        free(where);
        free(other);
        free(see);
        free(path);
        free(other_key);
    }
    for (size_t i = 0; i < f->nboilerplate; i++) {
        const dd_boilerplate *b = &f->boilerplate[i];
        dd_place at = dd_corpus_boilerplate_at(c, b, 0);
        const dd_input first_at = dd_inputs_get(in, at.doc, &of_room);
        char *first = see_at(&first_at, at.first_line);
        char *text = dd_printable(b->text ? b->text : "");
        for (size_t k = 0; k < b->n; k++) {
            at = dd_corpus_boilerplate_at(c, b, k);
            if (at.doc < first_named)
                continue;
            const dd_input input = dd_inputs_get(in, at.doc, &at_room), *d = &input;
            char *where = dd_input_at(d, at.first_line), *path = baseline_name(d);
            char record_line[32] = "";
            if (d->shard) /* the line of the record's text */
                snprintf(record_line, sizeof record_line, "line %zu: ", at.first_line);
            add_finding(out,
                        dd_asprintf("%s%sboilerplate, in %u documents (see %s)", where, record_line,
                                    b->docs, first),
                        boilerplate_key(path, text));
            free(where);
            free(path);
        }
        free(first);
        free(text);
    }
    dd_name_room_free(&at_room);
    dd_name_room_free(&of_room);
}

/* ------------------------------------------------------- with an index */

/* Findings of named document i against the index. */
static bool check_against_index(dd_ddx *x, const dd_corpus *c, size_t i, const dd_options *o,
                                dd_analyzer *a, findings *out)
{
    dd_index_matches m = {0};
    bool ok = dd_corpus_match_index(x, c, i, o, a, &m);
    dd_name_room room = {0};
    const dd_input input = dd_inputs_get(&c->inputs, i, &room), *d = &input;
    char *path = baseline_name(d);
    for (size_t k = 0; k < m.n; k++) {
        const dd_index_match *r = &m.v[k];
        char *other = dd_printable(r->of);
        char *where = dd_input_at(d, r->kind == DD_INDEX_DUPLICATE ? 1 : r->first_line);
        char record_line[32] = "";
        if (d->shard && r->kind == DD_INDEX_PARAGRAPH && r->boilerplate)
            snprintf(record_line, sizeof record_line, "line %zu: ", r->first_line);
        if (r->kind == DD_INDEX_DUPLICATE && r->exact)
            add_finding(out, dd_asprintf("%sexact duplicate of %s (see %s:1)", where, other, other),
                        dd_asprintf("%s\tduplicate\t%s", path, other));
        else if (r->kind == DD_INDEX_DUPLICATE)
            add_finding(out,
                        dd_asprintf("%snear-duplicate of %s (" DD_SIMILARITY_TEXT "%s) "
                                    "(see %s:1)",
                                    where, other, r->jaccard, r->containment,
                                    r->estimated ? ", estimated" : "", other),
                        dd_asprintf("%s\tduplicate\t%s", path, other));
        else if (r->boilerplate)
            add_finding(out,
                        dd_asprintf("%s%sboilerplate, in %u documents (see %s:%u)", where,
                                    record_line, r->docs, other, r->of_first_line),
                        dd_asprintf("%s\tboilerplate\t%016llx%016llx", path,
                                    (unsigned long long)r->key.hi, (unsigned long long)r->key.lo));
        else
            add_finding(out,
                        dd_asprintf("%sline %zu repeats %s:%u (%u words) (see %s:%u)", where,
                                    r->first_line, other, r->of_first_line, r->words, other,
                                    r->of_first_line),
                        dd_asprintf("%s\trepeat\t%s\t%016llx%016llx", path, other,
                                    (unsigned long long)r->key.hi, (unsigned long long)r->key.lo));
        free(other);
        free(where);
    }
    free(path);
    dd_index_matches_free(&m);
    dd_name_room_free(&room);
    return ok;
}

/* A baseline: the keys of the findings it accepts, and the groups they
 * join. Which file of a pair is called the copy depends on which files are
 * named, as the named ones come after the others: editing the original of
 * an accepted copy names the original, and pre-commit, given more names than
 * fit one command line, runs check once for each part of the list. So a
 * finding is also accepted when its two sites, as site_pair() reads them,
 * are in one group: joined by accepted findings, whichever way round. */
typedef struct baseline {
    char **keys; /* sorted */
    size_t nkeys;
    char **sites; /* sorted, each once */
    size_t nsites;
    size_t *parent; /* of each site: groups as a union-find forest */
} baseline;

/* The two sites a finding joins, from its baseline key: for a duplicate the
 * two files ("path"), for a repeat or near-repeat the two paragraphs
 * ("path<TAB>key"). False for a key that joins nothing: boilerplate, and a
 * near-repeat written without the other paragraph's key. */
static bool site_pair(const char *key, char **a, char **b)
{
    char *copy = dd_strdup(key), *field[6];
    size_t n = 0;
    for (char *p = copy; n < 6; p++) {
        field[n++] = p;
        if (!(p = strchr(p, '\t')))
            break;
        *p = '\0';
    }
    bool joins = true;
    if (n == 3 && !strcmp(field[1], "duplicate")) {
        *a = dd_strdup(field[0]);
        *b = dd_strdup(field[2]);
    } else if (n == 4 && !strcmp(field[1], "repeat")) {
        *a = dd_asprintf("%s\t%s", field[0], field[3]);
        *b = dd_asprintf("%s\t%s", field[2], field[3]);
    } else if (n == 5 && !strcmp(field[1], "near-repeat")) {
        *a = dd_asprintf("%s\t%s", field[0], field[3]);
        *b = dd_asprintf("%s\t%s", field[2], field[4]);
    } else {
        joins = false;
    }
    free(copy);
    return joins;
}

/* The index of site in b->sites, or b->nsites when it is not there. */
static size_t site_index(const baseline *b, const char *site)
{
    char **at = bsearch(&site, b->sites, b->nsites, sizeof *b->sites, compare_strings);
    return at ? (size_t)(at - b->sites) : b->nsites;
}

static size_t group_of(const baseline *b, size_t site)
{
    while (b->parent[site] != site)
        site = b->parent[site] = b->parent[b->parent[site]];
    return site;
}

static bool baseline_accepts(const baseline *b, const char *key)
{
    if (bsearch(&key, b->keys, b->nkeys, sizeof *b->keys, compare_strings))
        return true;
    char *x, *y;
    if (!site_pair(key, &x, &y))
        return false;
    size_t i = site_index(b, x), j = site_index(b, y);
    free(x);
    free(y);
    return i < b->nsites && j < b->nsites && group_of(b, i) == group_of(b, j);
}

static void baseline_free(baseline *b)
{
    for (size_t i = 0; i < b->nkeys; i++)
        free(b->keys[i]);
    for (size_t i = 0; i < b->nsites; i++)
        free(b->sites[i]);
    free(b->keys);
    free(b->sites);
    free(b->parent);
}

/* Reads a baseline file; false after a message. */
static bool read_baseline(const char *path, baseline *b)
{
    *b = (baseline){0};
    FILE *fp = fopen(path, "r");
    if (!fp) {
        dd_error("%s: %s", path, strerror(errno));
        return false;
    }
    char *line = NULL;
    size_t keys_cap = 0, line_cap = 0;
    ssize_t len;
    while ((len = getline(&line, &line_cap, fp)) >= 0) {
        if (len > 0 && line[len - 1] == '\n')
            line[--len] = '\0';
        if (len == 0 || line[0] == '#')
            continue;
        /* Older baselines could end a boilerplate key inside a character. */
        char *kind = strchr(line, '\t');
        if (kind && !strncmp(kind + 1, "boilerplate\t", strlen("boilerplate\t")))
            line[utf8_whole_prefix(line, (size_t)len)] = '\0';
        dd_grow(&b->keys, &keys_cap, b->nkeys + 1, sizeof *b->keys);
        b->keys[b->nkeys++] = dd_strdup(line);
    }
    free(line);
    fclose(fp);
    if (b->nkeys > 1)
        qsort(b->keys, b->nkeys, sizeof *b->keys, compare_strings);

    /* The sites, each once, then one group for each accepted finding. */
    b->sites = dd_malloc((2 * b->nkeys + 1) * sizeof *b->sites);
    for (size_t i = 0; i < b->nkeys; i++)
        if (site_pair(b->keys[i], &b->sites[b->nsites], &b->sites[b->nsites + 1]))
            b->nsites += 2;
    if (b->nsites > 1)
        qsort(b->sites, b->nsites, sizeof *b->sites, compare_strings);
    size_t n = 0;
    for (size_t i = 0; i < b->nsites; i++) {
        if (n > 0 && !strcmp(b->sites[i], b->sites[n - 1]))
            free(b->sites[i]);
        else
            b->sites[n++] = b->sites[i];
    }
    b->nsites = n;
    b->parent = dd_malloc((n + 1) * sizeof *b->parent);
    for (size_t i = 0; i < n; i++)
        b->parent[i] = i;
    for (size_t i = 0; i < b->nkeys; i++) {
        char *x, *y;
        if (!site_pair(b->keys[i], &x, &y))
            continue;
        b->parent[group_of(b, site_index(b, x))] = group_of(b, site_index(b, y));
        free(x);
        free(y);
    }
    return true;
}

static bool write_baseline(const char *path, findings *f)
{
    char **keys = dd_malloc((f->n ? f->n : 1) * sizeof *keys);
    for (size_t i = 0; i < f->n; i++)
        keys[i] = f->v[i].key;
    if (f->n > 1)
        qsort(keys, f->n, sizeof *keys, compare_strings);
    sh_buf text = {0};
    bool ok =
        sh_buf_append(&text, "# dedup check baseline: accepted findings, one per line\n",
                      strlen("# dedup check baseline: accepted findings, one per line\n")) == SH_OK;
    for (size_t i = 0; i < f->n && ok; i++)
        if (i == 0 || strcmp(keys[i], keys[i - 1]))
            ok = sh_buf_append(&text, keys[i], strlen(keys[i])) == SH_OK &&
                 sh_buf_append(&text, "\n", 1) == SH_OK;
    if (!ok)
        dd_error("out of memory");
    /* Replaced atomically: an interrupted run leaves the old baseline. */
    struct stat st;
    if (ok)
        ok = dd_safe_write(path, text.data, text.len, stat(path, &st) == 0 ? &st : NULL, false);
    sh_buf_free(&text);
    free(keys);
    return ok;
}

static const char check_usage[] =
    "Usage: dedup check [OPTION]... PATH...\n"
    "\n"
    "Pre-commit check: findings in the named files only, as path:line: message,\n"
    "against each other and the rest of their folders (with --index: against\n"
    "the documents of the index). A named shard (*.jsonl, *.jsonl.gz,\n"
    "*.jsonl.zst) is checked record by record, as SHARD:LINE: [ID] message.\n";

static const dd_option_group *const check_groups[] = {
    &dd_group_check,   &dd_group_index,   &dd_group_paragraphs, &dd_group_signatures,
    &dd_group_near,    &dd_group_common,  &dd_group_key,        &dd_group_progress,
    &dd_group_threads, &dd_group_scratch, &dd_group_memory,     &dd_group_stages,
    &dd_group_files,   &dd_group_records, &dd_group_help,       NULL,
};

static const dd_command_spec check_command = {
    "check", check_usage, check_groups, "0 nothing found, 1 findings, 2 usage or input error.",
    false,
};

typedef struct check_counts {
    size_t named;    /* files checked */
    size_t around;   /* the other files of their folders, read to compare */
    size_t found;    /* findings in the named files */
    size_t reported; /* of them, not accepted by the baseline */
} check_counts;

/* The line that ends a check with findings on stderr, e.g.
 * "dedup check: 2 files checked, against the 40 other files of their
 * folders: 3 findings". */
static void print_summary(const dd_options *o, const check_counts *k)
{
    fprintf(stderr, "dedup check: %zu %s checked, ", k->named,
            dd_plural(k->named, "file", "files"));
    if (o->index) {
        char *p = dd_printable(o->index);
        fprintf(stderr, "against the index %s", p);
        free(p);
    } else {
        fprintf(stderr, "against the %zu other %s of their folders", k->around,
                dd_plural(k->around, "file", "files"));
    }
    if (o->write_baseline) {
        char *p = dd_printable(o->write_baseline);
        fprintf(stderr, ": %zu %s written to %s as accepted\n", k->found,
                dd_plural(k->found, "finding", "findings"), p);
        free(p);
    } else if (o->baseline) {
        fprintf(stderr, ": %zu %s, %zu more accepted by the baseline\n", k->reported,
                dd_plural(k->reported, "finding", "findings"), k->found - k->reported);
    } else {
        fprintf(stderr, ": %zu %s\n", k->reported, dd_plural(k->reported, "finding", "findings"));
    }
}

int cmd_check(int argc, char **argv)
{
    dd_options o;
    int status = dd_options_parse(&o, &check_command, argc, argv);
    if (status >= 0)
        return status;
    if (o.explain_params) {
        dd_report_near_params(stdout, &o.near);
        return DD_EXIT_CLEAN;
    }
    dd_inputs named = {0};
    int problems =
        dd_inputs_collect(&named, o.paths, o.npaths, &(dd_records_spec){.whole_files = true});
    for (size_t i = 0; i < named.n; i++) {
        dd_name_room room = {0};
        bool is_stdin = dd_inputs_get(&named, i, &room).is_stdin;
        dd_name_room_free(&room);
        if (is_stdin) {
            dd_usage_error("check", "standard input has no folder to be checked against");
            dd_inputs_free(&named);
            return DD_EXIT_ERROR;
        }
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
        dd_name_room room = {0};
        for (size_t i = 0; i < npaths; i++)
            paths[i] = dd_strdup(dd_input_path(&named, i, &room));
        dd_name_room_free(&room);
    } else {
        paths = check_paths(&named, &npaths, &first_named, &problems);
    }
    dd_inputs_free(&named);
    dd_options run = o;
    run.paths = paths;
    run.npaths = npaths;
    dd_progress progress;
    dd_progress_start(&progress, "dedup check", "file", o.quiet);
    if (dd_stage_is_task(o.work.stage)) { /* a task: no findings */
        status = dd_corpus_stage_only(&run, &progress);
        dd_progress_end(&progress, false);
        dd_ddx_close(x);
        for (size_t i = 0; i < npaths; i++)
            free(paths[i]);
        free(paths);
        return status;
    }
    dd_corpus c;
    bool ran = dd_corpus_run(&c, &run, &progress);
    dd_progress_end(&progress, false);
    problems += c.problems;
    findings f = {0};
    /* The documents of the named paths (a shard gives many) come last. */
    size_t first_named_doc = ran ? c.inputs.from_path[first_named] : 0;
    if (ran)
        collect_findings(&c, first_named_doc, &f);
    if (ran && x) {
        dd_analyzer a;
        dd_notes notes = {0};
        if (!dd_notes_said(&notes, dd_analyzer_init(&a, o.unit, &o.hash, &notes))) {
            problems++;
        } else {
            for (size_t i = 0; i < c.inputs.n; i++)
                if (!c.failed[i] && !check_against_index(x, &c, i, &o, &a, &f))
                    problems++;
            dd_analyzer_free(&a);
        }
    }
    dd_ddx_close(x);
    check_counts k = {.named = npaths - first_named, .around = first_named, .found = f.n};
    if (ran && o.write_baseline) {
        dd_safe_write_signals();
        status = write_baseline(o.write_baseline, &f) && !problems ? DD_EXIT_CLEAN : DD_EXIT_ERROR;
        if (!o.quiet && status == DD_EXIT_CLEAN)
            print_summary(&o, &k);
    } else if (ran) {
        baseline accepted = {0};
        bool with_baseline = o.baseline != NULL;
        if (with_baseline && !read_baseline(o.baseline, &accepted))
            problems++;
        for (size_t i = 0; i < f.n; i++) {
            if (with_baseline && baseline_accepts(&accepted, f.v[i].key))
                continue;
            printf("%s\n", f.v[i].line);
            k.reported++;
        }
        baseline_free(&accepted);
        if (fflush(stdout) != 0) {
            dd_stdout_failed(errno);
            problems++;
        }
        size_t reported = k.reported;
        /* Quiet when clean (a pre-commit hook): a summary only after findings. */
        if (!o.quiet && reported)
            print_summary(&o, &k);
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
