/*
 * filter.c - dedup filter: records from files or standard input to standard
 * output, in order, without the copies.
 *
 * Each record is read (stream.c), its text taken (the record itself, or a
 * JSON field: jsonl.c), analysed (document.c) and decided against the
 * records before it (history.c). A kept record is written back as it came,
 * byte for byte, unless paragraphs were removed from its text: then only
 * that value changes. Output goes out in large blocks (stream.c).
 */
#include "commands.h"
#include "history.h"
#include "jsonl.h"
#include "options.h"
#include "stream.h"
#include "util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct filter_stats {
    uint64_t records, kept, exact, near, malformed_skipped, malformed_dropped;
    uint64_t repeats, boilerplate, near_repeats;
    uint64_t bytes_in, bytes_removed;
} filter_stats;

typedef struct filter {
    const dd_options *o;
    dd_input_format format;
    dd_analyzer analyzer;
    dd_history *history;
    dd_writer *out;
    dd_doc doc;
    dd_verdict verdict;
    filter_stats stats;
    /* per decided record (history's numbering): its record number in the
     * stream, 1-based, and, with --annotate and --id-field, its id as JSON */
    uint64_t decided; /* records decided so far */
    uint64_t *recno;
    size_t recno_cap;
    char **ids;
    size_t ids_cap;
    sh_buf cleaned; /* a record's text without the removed lines */
    sh_buf line;    /* a record written back with changes */
    double start, last_progress;
    bool progress;
    int write_errno; /* of the write that failed */
} filter;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------ output */

/* Writes to standard output; false when it fails. A reader that went away
 * (EPIPE) ends the run quietly: see cmd_filter. */
static bool emit(filter *f, const void *p, size_t n)
{
    if (dd_writer_write(f->out, p, n) == 0)
        return true;
    f->write_errno = errno;
    return false;
}

static bool emit_record(filter *f, const char *rec, size_t len, bool had_delim)
{
    char delim = f->format == DD_INPUT_NUL ? '\0' : '\n';
    return emit(f, rec, len) && (!had_delim || emit(f, &delim, 1));
}

/* ----------------------------------------------------------- decisions */

/* The text without the lines the verdict removes; the bytes removed are
 * counted. */
static void clean_text(filter *f, const char *text, size_t len)
{
    const dd_verdict *v = &f->verdict;
    f->cleaned.len = 0;
    size_t line = 1, pos = 0, k = 0;
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) + 1 : len;
        while (k < v->nremoved && v->removed[k].last_line < line)
            k++;
        bool removed = k < v->nremoved && v->removed[k].first_line <= line;
        if (removed)
            f->stats.bytes_removed += end - pos;
        else if (sh_buf_append(&f->cleaned, text + pos, end - pos) != SH_OK) {
            dd_error("out of memory");
            exit(DD_EXIT_ERROR);
        }
        pos = end;
        line++;
    }
}

static const char *removal_name(dd_removal_kind k)
{
    switch (k) {
    case DD_REMOVED_REPEAT: return "repeat";
    case DD_REMOVED_BOILERPLATE: return "boilerplate";
    default: return "near-repeat";
    }
}

static double round4(double x) { return (double)(long long)(x * 10000 + 0.5) / 10000; }

/* The id of decided record rec as a new JSON value. */
static json_t *id_json(const filter *f, uint64_t rec)
{
    if (f->ids && rec < f->ids_cap && f->ids[rec]) {
        json_t *v = json_loads(f->ids[rec], JSON_DECODE_ANY, NULL);
        if (v)
            return v;
    }
    return json_integer((json_int_t)f->recno[rec]);
}

/* The "dedup" member of --annotate, as JSON text (the caller frees it). */
static char *annotation(const filter *f, uint64_t rec)
{
    const dd_verdict *v = &f->verdict;
    json_t *a = json_object();
    if (v->kind == DD_RECORD_KEPT) {
        json_object_set_new(a, "kept", json_true());
        json_object_set_new(a, "cluster", json_integer((json_int_t)f->recno[rec]));
    } else {
        json_object_set_new(a, "kept", json_false());
        json_object_set_new(a, "cluster", json_integer((json_int_t)f->recno[v->of]));
        json_object_set_new(a, "duplicate_of", id_json(f, v->of));
        json_object_set_new(a, "exact", json_boolean(v->kind == DD_RECORD_EXACT));
        if (f->o->near.method == DD_METHOD_SIMHASH) {
            json_object_set_new(a, "hamming", json_integer(v->hamming));
        } else {
            json_object_set_new(a, "jaccard", json_real(round4(v->jaccard)));
            json_object_set_new(a, "containment", json_real(round4(v->containment)));
            if (v->estimated)
                json_object_set_new(a, "estimated", json_true());
        }
    }
    if (v->kind == DD_RECORD_KEPT && v->nremoved) {
        json_t *list = json_array();
        for (size_t i = 0; i < v->nremoved; i++) {
            const dd_removal *r = &v->removed[i];
            json_t *of = json_object();
            json_object_set_new(of, "record", id_json(f, r->of_record));
            json_object_set_new(of, "lines", json_pack("[I,I]", (json_int_t)r->of_first_line,
                                                       (json_int_t)r->of_last_line));
            json_t *item = json_pack("{s:s,s:[I,I],s:o}", "kind", removal_name(r->kind), "lines",
                                     (json_int_t)r->first_line, (json_int_t)r->last_line, "of", of);
            if (r->kind == DD_REMOVED_NEAR) {
                json_object_set_new(item, "jaccard", json_real(round4(r->jaccard)));
                json_object_set_new(item, "containment", json_real(round4(r->containment)));
            }
            json_array_append_new(list, item);
        }
        json_object_set_new(a, "removed", list);
    }
    char *s = json_dumps(a, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    json_decref(a);
    if (!s) {
        dd_error("out of memory");
        exit(DD_EXIT_ERROR);
    }
    return s;
}

/* A change to a line: bytes [start, end) become text. */
typedef struct splice {
    size_t start, end;
    char *text; /* owned */
} splice;

static int compare_splices(const void *a, const void *b)
{
    const splice *x = a, *y = b;
    return (x->start > y->start) - (x->start < y->start);
}

/* Writes line with the splices (at most 2, not overlapping) applied. */
static bool emit_spliced(filter *f, const char *line, size_t len, bool had_delim, splice *s,
                         size_t n)
{
    if (n > 1)
        qsort(s, n, sizeof *s, compare_splices);
    f->line.len = 0;
    size_t at = 0;
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        ok = sh_buf_append(&f->line, line + at, s[i].start - at) == SH_OK &&
             sh_buf_append(&f->line, s[i].text, strlen(s[i].text)) == SH_OK;
        at = s[i].end;
    }
    ok = ok && sh_buf_append(&f->line, line + at, len - at) == SH_OK;
    if (!ok) {
        dd_error("out of memory");
        exit(DD_EXIT_ERROR);
    }
    return emit_record(f, f->line.data, f->line.len, had_delim);
}

/* ---------------------------------------------------------------- records */

typedef enum { REC_OK, REC_MALFORMED, REC_WRITE_FAILED } rec_status;

/* Remembers what decided record rec is called, for later annotations. */
static void remember(filter *f, const json_t *id)
{
    uint64_t rec = f->decided++;
    dd_grow(&f->recno, &f->recno_cap, rec + 1, sizeof *f->recno);
    f->recno[rec] = f->stats.records;
    if (!id)
        return;
    size_t old = f->ids_cap;
    dd_grow(&f->ids, &f->ids_cap, rec + 1, sizeof *f->ids);
    memset(f->ids + old, 0, (f->ids_cap - old) * sizeof *f->ids);
    f->ids[rec] = json_dumps(id, JSON_ENCODE_ANY | JSON_COMPACT);
}

/* Analyses text and decides the record; false on an analysis error (*why). */
static bool decide(filter *f, const char *text, size_t len, char **why)
{
    sh_status st = dd_analyze(&f->analyzer, text, len, &f->doc);
    if (st != SH_OK) {
        *why = dd_asprintf("the text: %s", sh_status_str(st));
        return false;
    }
    dd_history_decide(f->history, &f->doc, &f->verdict);
    return true;
}

static void count_verdict(filter *f)
{
    const dd_verdict *v = &f->verdict;
    if (v->kind == DD_RECORD_EXACT)
        f->stats.exact++;
    else if (v->kind == DD_RECORD_NEAR)
        f->stats.near++;
    for (size_t i = 0; i < v->nremoved; i++) {
        if (v->removed[i].kind == DD_REMOVED_REPEAT)
            f->stats.repeats++;
        else if (v->removed[i].kind == DD_REMOVED_BOILERPLATE)
            f->stats.boilerplate++;
        else
            f->stats.near_repeats++;
    }
}

/* A line or NUL-separated document: the record is the text. */
static rec_status filter_plain(filter *f, const char *rec, size_t len, bool had_delim, char **why)
{
    if (sh_utf8_check(rec, len) != len) {
        *why = dd_asprintf("invalid UTF-8 at byte %zu of the record", sh_utf8_check(rec, len) + 1);
        return REC_MALFORMED;
    }
    if (!decide(f, rec, len, why))
        return REC_MALFORMED;
    remember(f, NULL);
    count_verdict(f);
    if (f->verdict.kind != DD_RECORD_KEPT) {
        f->stats.bytes_removed += len + had_delim;
        return REC_OK;
    }
    f->stats.kept++;
    if (f->verdict.nremoved == 0 || f->format == DD_INPUT_LINES)
        return emit_record(f, rec, len, had_delim) ? REC_OK : REC_WRITE_FAILED;
    clean_text(f, rec, len);
    return emit_record(f, f->cleaned.data, f->cleaned.len, had_delim) ? REC_OK
                                                                     : REC_WRITE_FAILED;
}

static rec_status filter_json(filter *f, const char *rec, size_t len, bool had_delim, char **why)
{
    json_t *root = dd_jsonl_parse(rec, len, why);
    if (!root)
        return REC_MALFORMED;
    rec_status st = REC_MALFORMED;
    json_t *text = dd_jsonl_get(root, f->o->field, why), *id = NULL;
    if (!text)
        goto out;
    if (!json_is_string(text)) {
        *why = dd_asprintf("field '%s' is %s, not a string", f->o->field,
                           dd_jsonl_type_name(text));
        goto out;
    }
    if (f->o->id_field && !(id = dd_jsonl_get(root, f->o->id_field, why)))
        goto out;
    const char *t = json_string_value(text);
    size_t tlen = json_string_length(text);
    if (!decide(f, t, tlen, why))
        goto out;
    uint64_t rec_index = f->decided;
    remember(f, f->o->annotate ? id : NULL);
    count_verdict(f);
    st = REC_OK;
    const dd_verdict *v = &f->verdict;
    if (v->kind != DD_RECORD_KEPT && !f->o->annotate) {
        f->stats.bytes_removed += len + had_delim;
        goto out;
    }
    if (v->kind == DD_RECORD_KEPT)
        f->stats.kept++;
    splice s[2];
    size_t n = 0;
    if (v->kind == DD_RECORD_KEPT && v->nremoved) {
        size_t start, end;
        if (!dd_jsonl_value_span(rec, len, f->o->field, &start, &end)) {
            *why = dd_asprintf("cannot find field '%s' in the line", f->o->field);
            st = REC_MALFORMED;
            goto out;
        }
        clean_text(f, t, tlen);
        json_t *js = json_stringn(f->cleaned.data, f->cleaned.len);
        s[n++] = (splice){start, end, json_dumps(js, JSON_ENCODE_ANY)};
        json_decref(js);
    }
    if (f->o->annotate) {
        char *a = annotation(f, rec_index);
        size_t start, end, at;
        bool empty;
        if (dd_jsonl_value_span(rec, len, "dedup", &start, &end)) {
            s[n++] = (splice){start, end, a};
        } else if (dd_jsonl_object_end(rec, len, &at, &empty)) {
            s[n++] = (splice){at, at, dd_asprintf("%s\"dedup\":%s", empty ? "" : ",", a)};
            free(a);
        } else {
            free(a);
        }
    }
    if (n == 0) {
        if (!emit_record(f, rec, len, had_delim))
            st = REC_WRITE_FAILED;
    } else if (!emit_spliced(f, rec, len, had_delim, s, n)) {
        st = REC_WRITE_FAILED;
    }
    for (size_t i = 0; i < n; i++)
        free(s[i].text);
out:
    json_decref(root);
    return st;
}

static bool is_blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return false;
    return true;
}

static void show_progress(filter *f, bool final)
{
    double t = now();
    if (!final && t - f->last_progress < 0.25)
        return;
    f->last_progress = t;
    double mb = (double)f->stats.bytes_in / 1e6, secs = t - f->start;
    fprintf(stderr, "\rdedup filter: %llu records, %.1f MB, %.1f MB/s ",
            (unsigned long long)f->stats.records, mb, secs > 0 ? mb / secs : 0.0);
    if (final)
        fputc('\n', stderr);
}

/* ---------------------------------------------------------------- the run */

typedef enum { RUN_OK, RUN_ERROR, RUN_PIPE_CLOSED } run_status;

static run_status filter_input(filter *f, const char *path)
{
    char *err = NULL;
    dd_reader *r = dd_reader_open(path, (size_t)f->o->max_record_mb << 20, &err);
    if (!r) {
        dd_error("%s", err);
        free(err);
        return RUN_ERROR;
    }
    int delim = f->format == DD_INPUT_NUL ? '\0' : '\n';
    const char *rec;
    size_t len;
    bool had_delim;
    int got;
    run_status status = RUN_OK;
    while ((got = dd_reader_next(r, delim, &rec, &len, &had_delim, &err)) == 1) {
        f->stats.bytes_in += len + had_delim;
        if (f->format == DD_INPUT_AUTO) {
            size_t i = 0;
            while (i < len && (rec[i] == ' ' || rec[i] == '\t' || rec[i] == '\r'))
                i++;
            if (i == len) { /* blank lines before the first record pass through */
                if (!emit_record(f, rec, len, had_delim)) {
                    status = RUN_PIPE_CLOSED;
                    break;
                }
                continue;
            }
            f->format = rec[i] == '{' ? DD_INPUT_JSONL : DD_INPUT_LINES;
        }
        if (f->format == DD_INPUT_JSONL && is_blank(rec, len)) {
            if (!emit_record(f, rec, len, had_delim)) {
                status = RUN_PIPE_CLOSED;
                break;
            }
            continue;
        }
        f->stats.records++;
        char *why = NULL;
        rec_status st = f->format == DD_INPUT_JSONL ? filter_json(f, rec, len, had_delim, &why)
                                                    : filter_plain(f, rec, len, had_delim, &why);
        if (st == REC_WRITE_FAILED) {
            status = RUN_PIPE_CLOSED;
            break;
        }
        if (st == REC_MALFORMED) {
            char *p = dd_printable(dd_reader_name(r));
            unsigned long long line = (unsigned long long)dd_reader_record_number(r);
            if (f->o->on_error == DD_ON_ERROR_STOP) {
                dd_error("%s:%llu: %s", p, line, why);
                free(p);
                free(why);
                status = RUN_ERROR;
                break;
            }
            bool skip = f->o->on_error == DD_ON_ERROR_SKIP;
            dd_warn("%s:%llu: %s; %s", p, line, why,
                    skip ? "written through unchanged" : "dropped");
            free(p);
            free(why);
            if (skip) {
                f->stats.malformed_skipped++;
                if (!emit_record(f, rec, len, had_delim)) {
                    status = RUN_PIPE_CLOSED;
                    break;
                }
            } else {
                f->stats.malformed_dropped++;
                f->stats.bytes_removed += len + had_delim;
            }
        }
        if (f->progress && (f->stats.records & 255) == 0)
            show_progress(f, false);
    }
    if (got < 0 && status == RUN_OK) {
        dd_error("%s", err);
        status = RUN_ERROR;
    }
    free(err);
    dd_reader_close(r);
    return status;
}

static void print_stats(const filter *f)
{
    const filter_stats *s = &f->stats;
    double secs = now() - f->start, mb = (double)s->bytes_in / 1e6;
    uint64_t out = s->kept + s->malformed_skipped +
                   (f->o->annotate ? s->exact + s->near : 0);
    fprintf(stderr, "dedup filter: %llu records in, %llu out\n", (unsigned long long)s->records,
            (unsigned long long)out);
    fprintf(stderr, "  duplicates: %llu exact, %llu near\n", (unsigned long long)s->exact,
            (unsigned long long)s->near);
    fprintf(stderr, "  paragraphs removed: %llu repeats, %llu boilerplate, %llu near-repeats\n",
            (unsigned long long)s->repeats, (unsigned long long)s->boilerplate,
            (unsigned long long)s->near_repeats);
    fprintf(stderr, "  malformed records: %llu written through, %llu dropped\n",
            (unsigned long long)s->malformed_skipped, (unsigned long long)s->malformed_dropped);
    fprintf(stderr, "  bytes: %llu in, %llu removed\n", (unsigned long long)s->bytes_in,
            (unsigned long long)s->bytes_removed);
    fprintf(stderr, "  %.1f MB in %.2f s: %.1f MB/s; remembered: %.1f MB\n", mb, secs,
            secs > 0 ? mb / secs : 0.0, (double)dd_history_bytes(f->history) / 1e6);
}

int cmd_filter(int argc, char **argv)
{
    dd_options o;
    int status = dd_options_parse(&o, argc, argv);
    if (status >= 0)
        return status;
    if (o.explain_params) {
        dd_near_explain(stdout, &o.near);
        return DD_EXIT_CLEAN;
    }
    if (o.output) {
        dd_error("filter: -o/--output is an option of clean; filter writes to standard output");
        return DD_EXIT_ERROR;
    }
    if (o.near.keep == DD_KEEP_LONGEST) {
        dd_error("filter: --keep longest needs every record first; a stream keeps the first copy");
        return DD_EXIT_ERROR;
    }
    if (o.annotate && (o.input_format == DD_INPUT_LINES || o.input_format == DD_INPUT_NUL)) {
        dd_error("filter: --annotate adds a member to JSON records; it needs --jsonl");
        return DD_EXIT_ERROR;
    }
    /* A reader that goes away (| head) ends the run at the next write. */
    signal(SIGPIPE, SIG_IGN);

    filter f = {0};
    f.o = &o;
    f.format = o.input_format;
    f.start = f.last_progress = now();
    f.progress = isatty(STDERR_FILENO);
    dd_history_params hp = {o.near, o.min_words, o.boilerplate_df, o.para_threshold,
                            o.clean_paragraphs, DD_SEED};
    if (!dd_analyzer_init(&f.analyzer, o.unit, DD_SEED))
        return DD_EXIT_ERROR;
    f.history = dd_history_new(&hp);
    f.out = dd_writer_new(STDOUT_FILENO, 0);
    if (!f.history || !f.out) {
        dd_error("out of memory");
        return DD_EXIT_ERROR;
    }
    static char *stdin_only[] = {"-"};
    char **paths = o.npaths ? o.paths : stdin_only;
    size_t npaths = o.npaths ? o.npaths : 1;
    run_status st = RUN_OK;
    for (size_t i = 0; i < npaths && st == RUN_OK; i++)
        st = filter_input(&f, paths[i]);
    if (st != RUN_PIPE_CLOSED && dd_writer_flush(f.out) != 0) {
        f.write_errno = errno;
        st = RUN_PIPE_CLOSED;
    }
    if (st == RUN_PIPE_CLOSED && f.write_errno != EPIPE) {
        dd_error("writing the output: %s", strerror(f.write_errno));
        status = DD_EXIT_ERROR;
    } else {
        /* A closed pipe is the reader's choice (| head): a quiet end. */
        status = st == RUN_ERROR ? DD_EXIT_ERROR : DD_EXIT_CLEAN;
    }
    if (f.progress)
        show_progress(&f, true);
    if (o.stats)
        print_stats(&f);

    dd_writer_free(f.out);
    dd_history_free(f.history);
    dd_analyzer_free(&f.analyzer);
    dd_doc_free(&f.doc);
    dd_verdict_free(&f.verdict);
    for (size_t i = 0; i < f.ids_cap; i++)
        free(f.ids[i]);
    free(f.ids);
    free(f.recno);
    sh_buf_free(&f.cleaned);
    sh_buf_free(&f.line);
    return status;
}
