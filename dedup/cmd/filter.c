/*
 * filter.c - dedup filter: records from files or standard input to standard
 * output, in order, without the copies.
 *
 * Each record is read (stream.c), its text taken (the record itself, or a
 * JSON field: jsonl.c) and analysed (document.c, history.c) on -j workers,
 * then decided against the records before it (history.c), in stream order
 * (run.h, dd_run_stream). A kept record is written back as it came, byte
 * for byte, unless paragraphs were removed from its text: then only that
 * value changes. Output goes out in large blocks (stream.c).
 */
#include "cmd/commands.h"
#include "engine/engine.h"
#include "engine/analysis.h"
#include "store/ddx.h"
#include "store/index_settings.h"
#include "io/jsonl.h"
#include "io/spool.h"
#include "cmd/options.h"
#include "run/progress.h"
#include "report/report.h"
#include "run/run.h"
#include "io/stream.h"
#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct filter_stats {
    uint64_t records, kept, exact, near, indexed, malformed_skipped, malformed_dropped;
    uint64_t repeats, boilerplate, near_repeats;
    uint64_t bytes_in, bytes_removed;
} filter_stats;

typedef enum { RUN_OK, RUN_ERROR, RUN_PIPE_CLOSED } run_status;

/* What the calling thread reads from (filter_all). */
typedef struct reading {
    char **paths;
    size_t npaths;
    size_t next_path; /* the next input to open */
    dd_reader *r;     /* the input being read, or NULL */
    dd_input_format format;
    char *error; /* the input error that ended the stream, if any */
} reading;

/* Of a run: the calling thread's (reading, deciding, writing), but for o
 * and history_params, which workers read too. */
typedef struct filter {
    const dd_options *o;
    const dd_history_params *history_params;
    reading in;
    dd_input_format format; /* of the records decided */
    dd_history *history;
    /* Records decided a batch at a time (decide_batch): at most this many
     * items (1: one at a time); the batch being decided and the next one,
     * begun while it is decided (its units looked up on the workers). */
    size_t batch;
    struct batch *now, *next;
    void **slots;       /* dd_run_stream_ahead's */
    size_t batch_parts; /* of the index, the batch decided (after_batch) */
    struct item **cleaning; /* the batch's records to clean (after_batch) */
    size_t ncleaning;
    dd_writer *out;
    dd_verdict verdict;
    run_status status; /* of the last record decided */
    filter_stats stats;
    /* per decided record (history's numbering): its record number in the
     * stream, 1-based, and, with --annotate and --id-field, its id: the JSON
     * text of the value as it is in the record's line */
    uint64_t decided; /* records decided so far */
    uint64_t *recno;
    size_t recno_cap;
    char **ids;
    size_t ids_cap;
    sh_buf line;          /* a record written back with changes */
    double start;         /* for --stats */
    dd_progress progress; /* on a terminal */
    int write_errno;      /* of the write that failed */
} filter;

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

/* The text without the lines verdict v removes, to out; returns the bytes
 * removed. */
static uint64_t clean_text(const dd_verdict *v, const char *text, size_t len, sh_buf *out)
{
    uint64_t removed_bytes = 0;
    out->len = 0;
    size_t line = 1, pos = 0, k = 0;
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) + 1 : len;
        while (k < v->nremoved && v->removed[k].last_line < line)
            k++;
        bool removed = k < v->nremoved && v->removed[k].first_line <= line;
        if (removed)
            removed_bytes += end - pos;
        else if (sh_buf_append(out, text + pos, end - pos) != SH_OK) {
            dd_error("out of memory");
            exit(DD_EXIT_ERROR);
        }
        pos = end;
        line++;
    }
    return removed_bytes;
}

static const char *removal_name(dd_removal_kind k)
{
    switch (k) {
    case DD_REMOVED_REPEAT: return "repeat";
    case DD_REMOVED_BOILERPLATE: return "boilerplate";
    default: return "near-repeat";
    }
}

/*
 * The "dedup" member of --annotate is written as text here, not built with
 * jansson, because the ids in it must be the bytes of the input: a record's
 * --id-field value is written as it was in its line (42 stays 42, never
 * 42.0; 1234567890123456789, 1.50 and "s\u00e9" keep every byte), so that
 * joining the output back to the input on its ids always works. The other
 * values are spelled by jansson, as before.
 */

static void put(sh_buf *b, const char *s, size_t n)
{
    if (sh_buf_append(b, s, n) != SH_OK) {
        dd_error("out of memory");
        exit(DD_EXIT_ERROR);
    }
}

/* Starts member key of the object (or the item of the array) being written:
 * a comma unless it is the first. */
static void put_key(sh_buf *b, const char *key)
{
    char last = b->len ? b->data[b->len - 1] : '{';
    if (last != '{' && last != '[')
        put(b, ",", 1);
    if (key) {
        put(b, "\"", 1);
        put(b, key, strlen(key));
        put(b, "\":", 2);
    }
}

/* Member key with JSON text value. */
static void put_text(sh_buf *b, const char *key, const char *value)
{
    put_key(b, key);
    put(b, value, strlen(value));
}

/* Member key with value v, spelled by jansson (v is consumed). */
static void put_json(sh_buf *b, const char *key, json_t *v)
{
    char *text = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(10)) : NULL;
    json_decref(v);
    if (!text) {
        dd_error("out of memory");
        exit(DD_EXIT_ERROR);
    }
    put_text(b, key, text);
    free(text);
}

static void put_uint(sh_buf *b, const char *key, uint64_t n)
{
    char text[24];
    snprintf(text, sizeof text, "%llu", (unsigned long long)n);
    put_text(b, key, text);
}

/* Member key: [first,last]. */
static void put_lines(sh_buf *b, const char *key, uint64_t first, uint64_t last)
{
    put_key(b, key);
    put(b, "[", 1);
    put_uint(b, NULL, first);
    put_uint(b, NULL, last);
    put(b, "]", 1);
}

/* Member key: the id of decided record rec, as its line spelled it, or its
 * number in the stream. */
static void put_id(const filter *f, sh_buf *b, const char *key, uint64_t rec)
{
    if (f->ids && rec < f->ids_cap && f->ids[rec])
        put_text(b, key, f->ids[rec]);
    else
        put_uint(b, key, f->recno[rec]);
}

/* The "dedup" member of --annotate, as JSON text (the caller frees it). */
static char *annotation(const filter *f, uint64_t rec)
{
    const dd_verdict *v = &f->verdict;
    sh_buf a = {0};
    put(&a, "{", 1);
    if (v->kind == DD_RECORD_KEPT) {
        put_text(&a, "kept", "true");
        put_uint(&a, "cluster", f->recno[rec]);
    } else {
        put_text(&a, "kept", "false");
        if (v->of_index) { /* a copy of a document of --index */
            put_text(&a, "cluster", "null");
            put_json(&a, "duplicate_of", dd_json_id(v->of_index));
            put_text(&a, "in_index", "true");
        } else {
            put_uint(&a, "cluster", f->recno[v->of]);
            put_id(f, &a, "duplicate_of", v->of);
        }
        put_text(&a, "exact", v->kind == DD_RECORD_EXACT ? "true" : "false");
        if (f->o->near.method == DD_METHOD_SIMHASH) {
            put_uint(&a, "hamming", v->hamming);
        } else {
            put_json(&a, "jaccard", dd_json_similarity(v->jaccard));
            put_json(&a, "containment", dd_json_similarity(v->containment));
            if (v->estimated)
                put_text(&a, "estimated", "true");
        }
    }
    if (v->kind == DD_RECORD_KEPT && v->nremoved) {
        put_key(&a, "removed");
        put(&a, "[", 1);
        for (size_t i = 0; i < v->nremoved; i++) {
            const dd_removal *r = &v->removed[i];
            put_key(&a, NULL);
            put(&a, "{", 1);
            put_json(&a, "kind", json_string(removal_name(r->kind)));
            put_lines(&a, "lines", r->first_line, r->last_line);
            put_key(&a, "of");
            put(&a, "{", 1);
            if (r->of_index)
                put_json(&a, "index", dd_json_id(r->of_index));
            else
                put_id(f, &a, "record", r->of_record);
            put_lines(&a, "lines", r->of_first_line, r->of_last_line);
            put(&a, "}", 1);
            if (r->kind == DD_REMOVED_NEAR) {
                put_json(&a, "jaccard", dd_json_similarity(r->jaccard));
                put_json(&a, "containment", dd_json_similarity(r->containment));
            }
            put(&a, "}", 1);
        }
        put(&a, "]", 1);
    }
    put(&a, "}", 1);
    return a.data;
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

/* REC_FAILED: the history failed (its scratch file); *why says why, and the
 * run ends. */
typedef enum { REC_OK, REC_MALFORMED, REC_WRITE_FAILED, REC_FAILED } rec_status;

/* Remembers what the record being decided is called, for later
 * annotations: id[0..id_len) is its id's JSON text, or id is NULL. */
static void remember(filter *f, const char *id, size_t id_len)
{
    uint64_t rec = f->decided++;
    dd_grow(&f->recno, &f->recno_cap, rec + 1, sizeof *f->recno);
    f->recno[rec] = f->stats.records;
    if (!id)
        return;
    size_t old = f->ids_cap;
    dd_grow(&f->ids, &f->ids_cap, rec + 1, sizeof *f->ids);
    memset(f->ids + old, 0, (f->ids_cap - old) * sizeof *f->ids);
    f->ids[rec] = dd_malloc(id_len + 1);
    memcpy(f->ids[rec], id, id_len);
    f->ids[rec][id_len] = '\0';
}

static void count_verdict(filter *f)
{
    const dd_verdict *v = &f->verdict;
    if (v->kind == DD_RECORD_EXACT)
        f->stats.exact++;
    else if (v->kind == DD_RECORD_NEAR)
        f->stats.near++;
    if (v->of_index)
        f->stats.indexed++;
    for (size_t i = 0; i < v->nremoved; i++) {
        if (v->removed[i].kind == DD_REMOVED_REPEAT)
            f->stats.repeats++;
        else if (v->removed[i].kind == DD_REMOVED_BOILERPLATE)
            f->stats.boilerplate++;
        else
            f->stats.near_repeats++;
    }
}

/* ------------------------------------------------------------- records */

/*
 * The run (run.h, dd_run_stream): the calling thread reads the records
 * (produce: cuts the input at its delimiters, decompressed, and tells the
 * format), workers parse and analyse them (work: the JSON, the text and
 * its id, the units, the signature, the units' sets, the near-repeats
 * inside it: all of it pure), and the calling thread decides on them and
 * writes them, in order (consume: the history, the counts, the output,
 * the messages). The calling thread is one of the -j threads: when it
 * would wait for a record's analysis or a loop's items, it analyses the
 * next record no worker took (caller_works). With workers, the calling thread decides the records a
 * batch at a time when the first one's turn comes (decide_batch: the
 * lookups and pairs of history.h computed ahead on the workers with
 * dd_run_loop, the next batch's lookups while this one is decided, and
 * the cleaned texts while they are written: dd_run_loop_start), each
 * record keeping its verdict for its turn.
 *
 * Reading stays on the calling thread, with no thread of its own: cutting
 * records is a small part of the time (on news, under a twentieth; the
 * parsing, four tenths, is on the workers), and a run that stops
 * (--on-error stop, a reader of the output that went away) then never
 * waits for a thread blocked on an input that stays open.
 */
typedef enum { ITEM_RECORD, ITEM_BLANK, ITEM_MALFORMED, ITEM_FAILED } item_kind;

typedef struct item {
    dd_run_result run; /* first: the messages of its work */
    /* read (produce) */
    item_kind kind; /* ITEM_RECORD or ITEM_BLANK; work may make it malformed */
    sh_buf bytes;   /* the record, without its delimiter */
    bool had_delim;
    bool jsonl;
    const char *path; /* the input it came from */
    uint64_t line;    /* its record number there, from 1 */
    /* analysed (work) */
    sh_buf text; /* JSONL: the text, its escapes decoded */
    bool has_id;     /* --id-field: its value is the record's bytes */
    size_t id_start; /* [id_start, id_end), spelled as in the line */
    size_t id_end;
    char *why; /* ITEM_MALFORMED, ITEM_FAILED: the reason (owned) */
    dd_doc doc;
    dd_record_facts facts;
    /* decided with a batch before its turn (decide_batch): the verdict, or
     * decide_why (owned) when the history failed */
    bool decided;
    bool decide_ok;
    dd_verdict verdict;
    char *decide_why;
    /* a kept record with lines removed, cleaned (clean_record: with its
     * batch, on a worker, or in its turn): its text without them, the
     * bytes removed, and for JSONL the text field's new value as JSON
     * text (owned), to go over bytes [field_start, field_end) of the line;
     * or clean_why (owned) when the line has no such field */
    bool cleaning; /* with its batch, in a loop not joined yet */
    bool cleaned_ready;
    sh_buf cleaned;
    uint64_t cleaned_bytes;
    char *field_json;
    size_t field_start, field_end;
    char *clean_why;
} item;

/* Past this many bytes of a record, an item's buffers are freed once it is
 * consumed rather than kept for a later record. */
#define ITEM_KEEP_BYTES ((size_t)64 << 10)

static bool is_blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return false;
    return true;
}

/* dd_stream_map.produce: reads record i into it (the inputs one after
 * another); false at the end of the last input, or at an input error,
 * kept in f->in.error. */
static bool read_record(void *ctx, size_t i, void *slot, uint64_t *weight)
{
    (void)i;
    filter *f = ctx;
    reading *in = &f->in;
    item *it = slot;
    int delim = in->format == DD_INPUT_NUL ? '\0' : '\n';
    const char *rec;
    size_t len;
    bool had_delim;
    for (;;) {
        if (in->error)
            return false;
        if (!in->r) {
            if (in->next_path == in->npaths)
                return false;
            const char *path = in->paths[in->next_path++];
            if (!(in->r = dd_reader_open(path, (size_t)f->o->max_record_mb << 20, &in->error)))
                return false;
        }
        int got = dd_reader_next(in->r, delim, &rec, &len, &had_delim, &in->error);
        if (got == 1)
            break;
        if (got < 0)
            return false;
        dd_reader_close(in->r);
        in->r = NULL;
    }
    if (in->format == DD_INPUT_AUTO && !is_blank(rec, len)) {
        size_t k = 0;
        while (rec[k] == ' ' || rec[k] == '\t')
            k++;
        in->format = rec[k] == '{' ? DD_INPUT_JSONL : DD_INPUT_LINES;
    }
    it->bytes.len = 0;
    if (sh_buf_append(&it->bytes, rec, len) != SH_OK) {
        dd_error("out of memory");
        exit(DD_EXIT_ERROR);
    }
    dd_reader_release_record(in->r); /* a long record is held once: here */
    /* blank lines before the first record are written through */
    it->kind = in->format == DD_INPUT_AUTO ? ITEM_BLANK : ITEM_RECORD;
    it->had_delim = had_delim;
    it->jsonl = in->format == DD_INPUT_JSONL;
    it->path = in->paths[in->next_path - 1];
    it->line = dd_reader_record_number(in->r);
    *weight = len;
    return true;
}

/* Parses the JSON record of it: takes the text (and id), or says why it is
 * malformed. The parsed record is freed here, by the thread that made it
 * (a free on another thread's malloc arena costs more). */
static void parse_json(const dd_options *o, item *it, json_t *root)
{
    const char *rec = it->bytes.data;
    size_t len = it->bytes.len;
    json_t *text = dd_jsonl_get(root, o->field, &it->why);
    if (!text)
        return;
    if (!json_is_string(text)) {
        it->why = dd_asprintf("field '%s' is %s, not a string", o->field, dd_jsonl_type_name(text));
        return;
    }
    /* An id is only ever written back as JSON (--annotate's duplicate_of):
     * it never names a file, so a hostile id ("../x", "/etc/x") is data. It
     * is written as the line spells it, so it is taken from the line's
     * bytes, never from jansson's value (which reads 42 as 42.0). */
    if (o->id_field) {
        if (!dd_jsonl_get(root, o->id_field, &it->why))
            return;
        if (!dd_jsonl_value_span(rec, len, o->id_field, &it->id_start, &it->id_end)) {
            it->why = dd_asprintf("cannot find field '%s' in the line", o->id_field);
            return;
        }
        it->has_id = true;
    }
    it->text.len = 0;
    if (sh_buf_append(&it->text, json_string_value(text), json_string_length(text)) != SH_OK) {
        dd_error("out of memory");
        exit(DD_EXIT_ERROR);
    }
    it->kind = ITEM_RECORD;
}

/* Parses the record of it: takes the text (and id), or says why it is
 * malformed. */
static void parse_item(const dd_options *o, item *it)
{
    const char *rec = it->bytes.data;
    size_t len = it->bytes.len;
    if (!it->jsonl) {
        size_t ok = sh_utf8_check(rec, len);
        if (ok != len) {
            it->kind = ITEM_MALFORMED;
            it->why = dd_asprintf("invalid UTF-8 at byte %zu of the record", ok + 1);
        }
        return;
    }
    if (is_blank(rec, len)) {
        it->kind = ITEM_BLANK;
        return;
    }
    it->kind = ITEM_MALFORMED;
    json_t *root = dd_jsonl_parse(rec, len, &it->why);
    if (root)
        parse_json(o, it, root);
    json_decref(root);
}

/* A worker's state: its analyser, and its part in deciding a batch. */
typedef struct filter_worker {
    dd_analysis_worker *analysis; /* NULL when ICU cannot start */
    dd_history_scratch scratch;
} filter_worker;

/* dd_stream_map.worker_new: without an analyser when ICU cannot start;
 * work then says so for every record it takes (a worker writes nothing on
 * stderr itself). */
static void *worker_new(void *ctx)
{
    const filter *f = ctx;
    const dd_history_params *p = f->history_params;
    filter_worker *w = dd_calloc(1, sizeof *w);
    w->analysis = dd_analysis_worker_new(f->o->unit, &p->near, p->hash);
    return w;
}

static void worker_free(void *ctx, void *state)
{
    (void)ctx;
    filter_worker *w = state;
    dd_analysis_worker_free(w->analysis);
    dd_history_scratch_free(&w->scratch);
    free(w);
}

/* dd_stream_map.work: parses and analyses the record of the slot; pure. */
static void analyse_record(void *ctx, void *state, size_t i, void *slot)
{
    (void)i;
    const filter *f = ctx;
    dd_analysis_worker *w = ((filter_worker *)state)->analysis;
    item *it = slot;
    if (it->kind != ITEM_RECORD)
        return;
    if (!w) {
        it->kind = ITEM_FAILED;
        it->why = dd_asprintf("cannot start the normaliser");
        return;
    }
    parse_item(f->o, it);
    if (it->kind != ITEM_RECORD)
        return;
    const char *text = it->jsonl ? it->text.data : it->bytes.data;
    size_t text_len = it->jsonl ? it->text.len : it->bytes.len;
    sh_status st = dd_analyze(&w->analyzer, text, text_len, &it->doc);
    if (st != SH_OK) {
        it->kind = ITEM_MALFORMED;
        it->why = dd_asprintf("the text: %s", sh_status_str(st));
        return;
    }
    dd_history_analyse(f->history_params, w, &it->doc, &it->facts);
}

/* Cleans the kept record of it, whose verdict v removes lines: see item.
 * Pure: runs on any thread. */
static void clean_record(const dd_options *o, item *it, const dd_verdict *v)
{
    it->cleaned_ready = true;
    if (!it->jsonl) { /* NUL-separated documents */
        it->cleaned_bytes = clean_text(v, it->bytes.data, it->bytes.len, &it->cleaned);
        return;
    }
    if (!dd_jsonl_value_span(it->bytes.data, it->bytes.len, o->field, &it->field_start,
                             &it->field_end)) {
        it->clean_why = dd_asprintf("cannot find field '%s' in the line", o->field);
        return;
    }
    it->cleaned_bytes = clean_text(v, it->text.data, it->text.len, &it->cleaned);
    /* (every line removed: an empty text, whose buffer may be NULL) */
    json_t *js = json_stringn(it->cleaned.len ? it->cleaned.data : "", it->cleaned.len);
    it->field_json = js ? json_dumps(js, JSON_ENCODE_ANY) : NULL;
    json_decref(js);
    if (!it->field_json) {
        dd_error("out of memory");
        exit(DD_EXIT_ERROR);
    }
}

/* What cleaning left in it, once written. */
static void clean_done(item *it)
{
    it->cleaning = false;
    it->cleaned_ready = false;
    free(it->field_json);
    it->field_json = NULL;
    free(it->clean_why);
    it->clean_why = NULL;
}

/* dd_stream_map.slot_free */
static void item_free(void *ctx, void *slot)
{
    (void)ctx;
    item *it = slot;
    clean_done(it);
    sh_buf_free(&it->cleaned);
    sh_buf_free(&it->bytes);
    sh_buf_free(&it->text);
    free(it->why);
    dd_doc_free(&it->doc);
    dd_record_facts_free(&it->facts);
    dd_verdict_free(&it->verdict);
    free(it->decide_why);
    sh_buf messages = it->run.messages;
    memset(it, 0, sizeof *it);
    it->run.messages = messages;
}

/* ------------------------------------------------------------ deciding */

/* Decides a record and writes what comes out of it. */
static rec_status filter_record(filter *f, item *it, char **why)
{
    const char *rec = it->bytes.data;
    if (it->cleaning) /* its batch's loop, which cleans it, reads its verdict */
        dd_run_loop_join();
    if (it->decided) { /* with its batch: the verdict changes hands */
        dd_verdict v = f->verdict;
        f->verdict = it->verdict;
        it->verdict = v;
        *why = it->decide_why;
        it->decide_why = NULL;
        if (!it->decide_ok)
            return REC_FAILED;
    } else if (!dd_history_decide_analysed(f->history, &it->doc, &it->facts, &f->verdict, why)) {
        return REC_FAILED;
    }
    uint64_t rec_index = f->decided;
    if (f->o->annotate && it->has_id)
        remember(f, rec + it->id_start, it->id_end - it->id_start);
    else
        remember(f, NULL, 0);
    count_verdict(f);
    const dd_verdict *v = &f->verdict;
    size_t len = it->bytes.len;
    bool had_delim = it->had_delim;
    if (v->kind != DD_RECORD_KEPT && !f->o->annotate) {
        f->stats.bytes_removed += len + had_delim;
        return REC_OK;
    }
    if (v->kind == DD_RECORD_KEPT)
        f->stats.kept++;
    if (v->kind == DD_RECORD_KEPT && v->nremoved && (it->jsonl || f->format == DD_INPUT_NUL)) {
        if (!it->cleaned_ready) /* not with a batch */
            clean_record(f->o, it, v);
        if (it->clean_why) {
            *why = it->clean_why;
            it->clean_why = NULL;
            return REC_MALFORMED;
        }
        f->stats.bytes_removed += it->cleaned_bytes;
    }
    if (!it->jsonl) { /* lines, or NUL-separated documents */
        if (v->nremoved == 0 || f->format == DD_INPUT_LINES)
            return emit_record(f, rec, len, had_delim) ? REC_OK : REC_WRITE_FAILED;
        return emit_record(f, it->cleaned.data, it->cleaned.len, had_delim) ? REC_OK
                                                                           : REC_WRITE_FAILED;
    }
    splice s[2];
    size_t n = 0;
    rec_status st = REC_OK;
    if (v->kind == DD_RECORD_KEPT && v->nremoved) {
        s[n++] = (splice){it->field_start, it->field_end, it->field_json};
        it->field_json = NULL; /* the splice's */
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
    return st;
}

/* One item, in order: a record, a blank line, or a malformed record. */
static run_status filter_item(filter *f, item *it)
{
    const char *rec = it->bytes.data;
    size_t len = it->bytes.len;
    f->stats.bytes_in += len + it->had_delim;
    if (it->kind == ITEM_BLANK)
        return emit_record(f, rec, len, it->had_delim) ? RUN_OK : RUN_PIPE_CLOSED;
    if (it->kind == ITEM_FAILED) {
        dd_error("%s", it->why);
        return RUN_ERROR;
    }
    if (f->format == DD_INPUT_AUTO)
        f->format = it->jsonl ? DD_INPUT_JSONL : DD_INPUT_LINES;
    f->stats.records++;
    char *why = NULL;
    rec_status st = REC_MALFORMED;
    if (it->kind == ITEM_RECORD) {
        st = filter_record(f, it, &why);
        if (st == REC_WRITE_FAILED)
            return RUN_PIPE_CLOSED;
        if (st == REC_FAILED) {
            dd_error("%s", why);
            free(why);
            return RUN_ERROR;
        }
        if (st == REC_OK)
            return RUN_OK;
    }
    const char *reason = why ? why : it->why;
    char *p = dd_printable(it->path);
    run_status status = RUN_OK;
    if (f->o->on_error == DD_ON_ERROR_STOP) {
        dd_error("%s:%llu: %s", p, (unsigned long long)it->line, reason);
        status = RUN_ERROR;
    } else {
        bool skip = f->o->on_error == DD_ON_ERROR_SKIP;
        dd_warn("%s:%llu: %s; %s", p, (unsigned long long)it->line, reason,
                skip ? "written through unchanged" : "dropped");
        if (skip) {
            f->stats.malformed_skipped++;
            if (!emit_record(f, rec, len, it->had_delim))
                status = RUN_PIPE_CLOSED;
        } else {
            f->stats.malformed_dropped++;
            f->stats.bytes_removed += len + it->had_delim;
        }
    }
    free(p);
    free(why);
    return status;
}

/* The records of a batch (decide_batch): its items that are records, with
 * their docs and facts for the history, and the items it spans, [first,
 * end) (records or not). */
typedef struct batch {
    item **items;
    const dd_doc **docs;
    dd_record_facts **facts;
    size_t n;
    size_t first, end;
} batch;

static batch *batch_new(size_t max)
{
    batch *b = dd_calloc(1, sizeof *b);
    b->items = dd_calloc(max, sizeof *b->items);
    b->docs = dd_calloc(max, sizeof *b->docs);
    b->facts = dd_calloc(max, sizeof *b->facts);
    return b;
}

static void batch_free(batch *b)
{
    if (!b)
        return;
    free(b->items);
    free(b->docs);
    free(b->facts);
    free(b);
}

/* Makes b the batch of the n items in slots, the first of which is item
 * first (worked on: their kinds are known), and begins it in the history
 * when it has records (false: none). */
static bool batch_begin(filter *f, batch *b, size_t first, size_t n)
{
    b->n = 0;
    b->first = first;
    b->end = first + n;
    for (size_t k = 0; k < n; k++) {
        item *it = f->slots[k];
        if (it->kind != ITEM_RECORD)
            continue;
        b->items[b->n] = it;
        b->docs[b->n] = &it->doc;
        b->facts[b->n++] = &it->facts;
    }
    if (b->n)
        dd_history_batch_begin(f->history, b->n, b->docs, b->facts);
    return b->n > 0;
}

/* dd_run_loop work: the units of record k of the batch begun, looked up
 * ahead (history.h). */
static void record_units(void *ctx, void *state, size_t k)
{
    filter *f = ctx;
    dd_history_batch_units(f->history, k, &((filter_worker *)state)->scratch);
}

/* dd_run_loop work, once a batch is linked: record k of the batch ahead
 * (k < its records), then its units join part k - records of the unit
 * index (history.h). */
static void record_ahead(void *ctx, void *state, size_t k)
{
    filter *f = ctx;
    if (k < f->now->n)
        dd_history_batch_ahead(f->history, k, &((filter_worker *)state)->scratch);
    else
        dd_history_batch_unit_index(f->history, k - f->now->n);
}

/* dd_run_loop work, once a batch is decided: its kept records join part i
 * of the index (i < f->batch_parts); then record i - f->batch_parts of
 * those it must clean is cleaned (filter_record writes it so). */
static void after_batch(void *ctx, void *state, size_t i)
{
    (void)state;
    filter *f = ctx;
    if (i < f->batch_parts) {
        dd_history_batch_index(f->history, i);
        return;
    }
    item *it = f->cleaning[i - f->batch_parts];
    clean_record(f->o, it, &it->verdict);
}

/* Decides the records of the batch whose first record's turn came (item
 * i): the items already worked on, up to f->batch of them, or the batch
 * begun with the one before. What can be done ahead is done on the
 * workers (history.h): before deciding, the lookups of its records'
 * units, its band keys' and its pairs; while deciding, the next batch's
 * units (its records worked on, and begun); once decided, the index
 * joined and its kept records cleaned, in a loop joined when a record's
 * cleaned text is written or the next batch is decided. Each record keeps
 * its verdict for its turn. Fewer than two items and no batch begun: the
 * first is decided in its turn, alone. */
static void decide_batch(filter *f, size_t i)
{
    dd_run_loop_join(); /* the batch before: the index joined, records cleaned */
    if (!f->next->n) {
        size_t n = dd_run_stream_ahead(f->batch, f->slots);
        if (n < 2 || !batch_begin(f, f->next, i, n))
            return;
        dd_run_loop(f->next->n, f, record_units);
    }
    batch *b = f->next;
    f->next = f->now;
    f->now = b;
    f->next->n = 0;
    dd_history_batch_link(f->history);
    dd_run_loop(b->n + dd_history_batch_unit_parts(f->history), f, record_ahead);
    /* The next batch, its units looked up on the workers while this one
     * is decided. */
    size_t n = dd_run_stream_ahead_from(b->end - i, f->batch, f->slots);
    if (n && batch_begin(f, f->next, b->end, n))
        dd_run_loop_start(f->next->n, f, record_units);
    bool ok = true;
    for (size_t k = 0; k < b->n; k++) {
        item *it = b->items[k];
        it->decided = true;
        it->decide_ok = ok && dd_history_batch_decide(f->history, k, &it->verdict, &it->decide_why);
        if (ok && !it->decide_ok)
            ok = false; /* the run ends at this record: those after it are not taken */
    }
    dd_run_loop_join();
    size_t failed;
    char *why = NULL;
    if (ok && !dd_history_batch_keep(f->history, &failed, &why)) {
        for (size_t k = failed; k < b->n; k++) {
            item *it = b->items[k];
            it->decide_ok = false;
            free(it->decide_why);
            it->decide_why = k == failed ? why : dd_asprintf("an earlier record failed");
        }
        ok = false;
    }
    f->batch_parts = ok ? dd_history_batch_parts(f->history) : 0;
    f->ncleaning = 0;
    for (size_t k = 0; k < b->n; k++) {
        item *it = b->items[k];
        const dd_verdict *v = &it->verdict;
        if (it->decide_ok && v->kind == DD_RECORD_KEPT && v->nremoved &&
            (it->jsonl || f->o->input_format == DD_INPUT_NUL)) {
            it->cleaning = true;
            f->cleaning[f->ncleaning++] = it;
        }
    }
    dd_run_loop_start(f->batch_parts + f->ncleaning, f, after_batch);
}

/* dd_stream_map.consume: decides and writes record i, in order; false
 * stops the run (f->status says why). */
static bool take_record(void *ctx, size_t i, void *slot)
{
    filter *f = ctx;
    item *it = slot;
    if (f->batch > 1 && it->kind == ITEM_RECORD && !it->decided)
        decide_batch(f, i);
    f->status = filter_item(f, it);
    it->decided = false;
    clean_done(it);
    dd_progress_update(&f->progress, f->stats.records, f->stats.bytes_in);
    /* What the next record through this slot does not need. */
    it->has_id = false;
    free(it->why);
    it->why = NULL;
    if (it->bytes.cap > ITEM_KEEP_BYTES)
        item_free(NULL, it);
    return f->status == RUN_OK;
}

/* Reads, decides and writes every record, on o->threads threads in all:
 * the calling thread and o->threads - 1 workers. */
static run_status filter_all(filter *f)
{
    unsigned threads = f->o->threads ? (unsigned)f->o->threads : dd_online_cpus();
    dd_stream_map m = {
        .threads = threads,
        /* -j N is N threads in all, not N workers beside the one that
         * decides: the calling thread decides and writes, and works on
         * records (or on a loop's items) whenever it would wait for them.
         * On news as JSONL at -j 2 (two cores), two workers and the
         * deciding thread waited 0.43 s each for the others and switched
         * 1,100 times a run against the scheduler's will; the calling
         * thread and one worker wait 0.01-0.02 s. */
        .caller_works = true,
        /* Enough records in flight to keep every thread busy while the
         * calling thread decides on one; bytes bound memory whatever their
         * sizes. */
        .window = 32 * (size_t)threads,
        .max_weight = (uint64_t)16 << 20,
        .ctx = f,
        .slot_size = sizeof(item),
        .produce = read_record,
        .worker_new = worker_new,
        .worker_free = worker_free,
        .work = analyse_record,
        .consume = take_record,
        .slot_free = item_free,
    };
    f->status = RUN_OK;
    /* With workers, records are decided a quarter of the window at a time
     * (history.h), when the history can. */
    f->batch = threads > 1 && dd_history_batches(f->history) ? m.window / 4 : 1;
    f->now = batch_new(f->batch);
    f->next = batch_new(f->batch);
    f->slots = dd_calloc(f->batch, sizeof *f->slots);
    f->cleaning = dd_calloc(f->batch, sizeof *f->cleaning);
    bool whole = dd_run_stream(&m);
    if (f->batch > 1 && getenv("DEDUP_RUN_STATS")) {
        dd_history_candidates c = dd_history_candidates_of(f->history);
        fprintf(stderr,
                "dedup: near-duplicate records: %" PRIu64 " pairs verified ahead, %" PRIu64
                " when asked, in batches of %zu records at most\n",
                c.verified_ahead, c.verified_asked, f->batch);
    }
    batch_free(f->now);
    batch_free(f->next);
    free(f->slots);
    free(f->cleaning);
    dd_reader_close(f->in.r);
    f->in.r = NULL;
    if (whole && f->in.error) {
        dd_error("%s", f->in.error);
        return RUN_ERROR;
    }
    return f->status;
}

static void print_stats(const filter *f)
{
    const filter_stats *s = &f->stats;
    double secs = dd_monotonic_seconds() - f->start, mb = (double)s->bytes_in / 1e6;
    uint64_t out = s->kept + s->malformed_skipped +
                   (f->o->annotate ? s->exact + s->near : 0);
    fprintf(stderr, "dedup filter: %llu records in, %llu out\n", (unsigned long long)s->records,
            (unsigned long long)out);
    fprintf(stderr, "  duplicates: %llu exact, %llu near", (unsigned long long)s->exact,
            (unsigned long long)s->near);
    if (f->o->index)
        fprintf(stderr, " (%llu of them of indexed documents)", (unsigned long long)s->indexed);
    fputc('\n', stderr);
    dd_history_candidates c = dd_history_candidates_of(f->history);
    fprintf(stderr, "  candidate pairs compared: %llu (%.2f a record), %llu left out by the caps\n",
            (unsigned long long)c.compared, s->records ? (double)c.compared / s->records : 0.0,
            (unsigned long long)c.left_out);
    fprintf(stderr, "  paragraphs removed: %llu repeats, %llu boilerplate, %llu near-repeats\n",
            (unsigned long long)s->repeats, (unsigned long long)s->boilerplate,
            (unsigned long long)s->near_repeats);
    fprintf(stderr, "  malformed records: %llu written through, %llu dropped\n",
            (unsigned long long)s->malformed_skipped, (unsigned long long)s->malformed_dropped);
    fprintf(stderr, "  bytes: %llu in, %llu removed\n", (unsigned long long)s->bytes_in,
            (unsigned long long)s->bytes_removed);
    fprintf(stderr,
            "  %.1f MB in %.2f s: %.1f MB/s; remembered: %.1f MB, and %.1f MB of shingle "
            "sets in a scratch file\n",
            mb, secs, secs > 0 ? mb / secs : 0.0, (double)dd_history_bytes(f->history) / 1e6,
            (double)dd_history_spooled(f->history) / 1e6);
}

static const char filter_usage[] =
    "Usage: dedup filter [OPTION]... [FILE]...\n"
    "\n"
    "Stream records from FILE... (.gz and .zst read as such) or standard input\n"
    "to standard output, in order, without the copies: each record is decided\n"
    "against every one before it, as scan decides with --keep first, and the\n"
    "first copy is kept. What that needs of the earlier records (their shingle\n"
    "sets) is kept in a scratch file in $TMPDIR (or /tmp), deleted at once.\n";

static const dd_option_group *const filter_groups[] = {
    &dd_group_filter,  &dd_group_index,   &dd_group_paragraphs, &dd_group_signatures,
    &dd_group_near,    &dd_group_common,  &dd_group_key,        &dd_group_progress,
    &dd_group_threads, &dd_group_scratch, &dd_group_help,       NULL,
};

static const dd_command_spec filter_command = {
    "filter", filter_usage, filter_groups,
    "0 success, 2 usage or input error.",
    true,
};

/* The bytes the progress line can expect: the sum of the inputs' sizes
 * when every input is a regular file read as it is (dd_stream_plain_size),
 * else 0 (unknown). */
static uint64_t plain_bytes(char **paths, size_t npaths)
{
    uint64_t total = 0;
    for (size_t i = 0; i < npaths; i++) {
        uint64_t size;
        if (!dd_stream_plain_size(paths[i], &size))
            return 0;
        total += size;
    }
    return total;
}

int cmd_filter(int argc, char **argv)
{
    dd_options o;
    int status = dd_options_parse(&o, &filter_command, argc, argv);
    if (status >= 0)
        return status;
    if (o.explain_params) {
        dd_report_near_params(stdout, &o.near);
        return DD_EXIT_CLEAN;
    }
    if (o.near.keep == DD_KEEP_LONGEST) {
        return dd_usage_error(
            "filter", "--keep longest needs every record first; a stream keeps the first copy");
    }
    if (o.annotate && (o.input_format == DD_INPUT_LINES || o.input_format == DD_INPUT_NUL)) {
        return dd_usage_error("filter",
                              "--annotate adds a member to JSON records; it needs --jsonl");
    }
    /* A reader that goes away (| head) ends the run at the next write. */
    signal(SIGPIPE, SIG_IGN);
#ifdef M_MMAP_THRESHOLD
    /* Large records' buffers (jansson's, the analysis') are allocated and
     * freed all the time; served by mmap and munmap, each free would
     * interrupt the other threads' CPUs to flush their TLBs. From the heap
     * they are reused instead. */
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif

    filter f = {0};
    f.o = &o;
    f.format = o.input_format;
    f.start = dd_monotonic_seconds();
    dd_progress_start(&f.progress, "dedup filter", "record", o.quiet);
    dd_history_params hp = {.near = o.near,
                            .min_words = o.min_words,
                            .boilerplate_df = o.boilerplate_df,
                            .para_threshold = o.para_threshold,
                            .clean_paragraphs = o.clean_paragraphs,
                            .hash = &o.hash};
    /* An earlier corpus (--index), as the history reads it. */
    dd_ddx *index = NULL;
    dd_earlier earlier;
    if (o.index) {
        dd_ddx_settings want;
        char *err = NULL;
        if (!dd_index_settings(&o, &want) || !(index = dd_ddx_open(o.index, false, &want, &err))) {
            if (err)
                dd_error("%s", err);
            free(err);
            return DD_EXIT_ERROR;
        }
        earlier = dd_ddx_earlier(index);
        hp.index = &earlier;
    }
    /* ICU is checked here, so that a run that cannot start says so once,
     * before any record is read; workers make their own analysers. */
    dd_analyzer check_icu;
    dd_notes notes = {0};
    if (!dd_notes_said(&notes, dd_analyzer_init(&check_icu, o.unit, &o.hash, &notes))) {
        dd_ddx_close(index);
        return DD_EXIT_ERROR;
    }
    dd_analyzer_free(&check_icu);
    /* The scratch file of what the history reads again (history.h). */
    dd_spool *spool = NULL;
    if (o.near.enabled) {
        char *err = NULL;
        if (!(spool = dd_spool_new(o.tmp_dir, &err))) {
            dd_error("%s", err);
            free(err);
            dd_ddx_close(index);
            return DD_EXIT_ERROR;
        }
        hp.scratch = dd_spool_scratch(spool);
    }
    if (!dd_notes_said(&notes, (f.history = dd_history_new(&hp, &notes)) != NULL)) {
        dd_spool_free(spool);
        dd_ddx_close(index);
        return DD_EXIT_ERROR;
    }
    f.history_params = &hp;
    f.out = dd_writer_new(STDOUT_FILENO, 0);
    static char *stdin_only[] = {"-"};
    f.in = (reading){.paths = o.npaths ? o.paths : stdin_only,
                     .npaths = o.npaths ? o.npaths : 1,
                     .format = o.input_format};
    dd_progress_expect(&f.progress, plain_bytes(f.in.paths, f.in.npaths));
    /* jansson's hash seed is made before any worker parses a record. */
    json_object_seed(0);
    run_status st = filter_all(&f);
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
    /* The last counts stay on the terminal: filter prints no summary. */
    dd_progress_end(&f.progress, true);
    if (o.stats)
        print_stats(&f);

    dd_writer_free(f.out);
    dd_history_free(f.history);
    dd_spool_free(spool);
    dd_ddx_close(index);
    free(f.in.error);
    dd_verdict_free(&f.verdict);
    for (size_t i = 0; i < f.ids_cap; i++)
        free(f.ids[i]);
    free(f.ids);
    free(f.recno);
    sh_buf_free(&f.line);
    return status;
}
