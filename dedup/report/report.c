/*
 * report.c - text and JSON lines reports.
 */
#include "report/report.h"

#include "util.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

json_t *dd_json_id(const char *id)
{
    if (sh_utf8_check(id, strlen(id)) == strlen(id))
        return json_string(id);
    char *p = dd_printable(id);
    json_t *s = json_string(p);
    free(p);
    return s;
}

json_t *dd_json_similarity(double x) { return json_real(round(x * 10000) / 10000); }

static json_t *json_lines(const dd_place *p)
{
    return json_pack("[I,I]", (json_int_t)p->first_line, (json_int_t)p->last_line);
}

void dd_json_set_doc(json_t *obj, const dd_input *d)
{
    json_object_set_new(obj, "doc", dd_json_id(d->id));
    if (d->shard) {
        json_object_set_new(obj, "shard", dd_json_id(d->shard->path));
        json_object_set_new(obj, "shard_line", json_integer((json_int_t)d->line));
    }
}

/* dd_json_set_doc of document i of in. */
static void json_set_doc_of(json_t *obj, const dd_inputs *in, size_t i)
{
    dd_name_room room = {0};
    const dd_input d = dd_inputs_get(in, i, &room);
    dd_json_set_doc(obj, &d);
    dd_name_room_free(&room);
}

static bool write_json(FILE *out, json_t *obj)
{
    int r = json_dumpf(obj, out, JSON_COMPACT | JSON_REAL_PRECISION(6));
    json_decref(obj);
    return r == 0 && fputc('\n', out) != EOF;
}

static bool write_repeat_json(FILE *out, const dd_inputs *in, const dd_repeat *r)
{
    json_t *obj = json_object(), *of = json_object();
    json_object_set_new(obj, "type", json_string("repeat"));
    json_set_doc_of(obj, in, r->at.doc);
    json_object_set_new(obj, "lines", json_lines(&r->at));
    json_set_doc_of(of, in, r->of.doc);
    json_object_set_new(of, "lines", json_lines(&r->of));
    json_object_set_new(obj, "of", of);
    json_object_set_new(obj, "exact", json_boolean(r->exact));
    json_object_set_new(obj, "similarity", dd_json_similarity(r->containment));
    if (!r->exact) {
        json_object_set_new(obj, "jaccard", dd_json_similarity(r->jaccard));
        json_object_set_new(obj, "containment", dd_json_similarity(r->containment));
    }
    return write_json(out, obj);
}

/* A boilerplate record is written an occurrence at a time: whole, as one
 * tree of jansson objects (about 300 bytes an occurrence), the record of a
 * paragraph found in 13,000 documents of the 1 GB corpus held 4 MB. The
 * same bytes as json_dumpf of that tree (compact: no spaces; the keys in
 * the order they are set). */
static bool write_boilerplate_json(FILE *out, const dd_inputs *in, const dd_scratch_array *places,
                                   const dd_boilerplate *b)
{
    const size_t flags = JSON_COMPACT | JSON_REAL_PRECISION(6);
    json_t *text = json_stringn_nocheck(b->text, strlen(b->text));
    bool ok = text && fputs("{\"type\":\"boilerplate\",\"text\":", out) >= 0 &&
              json_dumpf(text, out, flags | JSON_ENCODE_ANY) == 0 &&
              fprintf(out, ",\"docs\":%" JSON_INTEGER_FORMAT ",\"occurrences\":[",
                      (json_int_t)b->docs) > 0;
    json_decref(text);
    for (size_t i = 0; i < b->n && ok; i++) {
        dd_place at = *(const dd_place *)dd_scratch_array_get(places, b->first_at + i);
        json_t *o = json_object();
        json_set_doc_of(o, in, at.doc);
        json_object_set_new(o, "line", json_integer((json_int_t)at.first_line));
        ok = (i == 0 || fputc(',', out) != EOF) && json_dumpf(o, out, flags) == 0;
        json_decref(o);
    }
    return ok && fputs("]}\n", out) >= 0;
}

/* "line 9" or "lines 9-11". */
static void format_lines(char *buf, size_t size, const char *prefix, const dd_place *p)
{
    if (p->first_line == p->last_line)
        snprintf(buf, size, "%s%zu", prefix, p->first_line);
    else
        snprintf(buf, size, "%s%zu-%zu", prefix, p->first_line, p->last_line);
}

static bool write_repeat_text(FILE *out, const dd_inputs *in, const dd_repeat *r)
{
    char at[64], of[64];
    bool one = r->at.first_line == r->at.last_line;
    format_lines(at, sizeof at, one ? "line " : "lines ", &r->at);
    dd_name_room at_room = {0}, of_room = {0};
    const dd_input at_doc = dd_inputs_get(in, r->at.doc, &at_room),
                   of_doc = dd_inputs_get(in, r->of.doc, &of_room);
    char *where = dd_input_at(&at_doc, r->at.first_line);
    char *other = NULL;
    if (r->of.doc == r->at.doc)
        format_lines(of, sizeof of, r->of.first_line == r->of.last_line ? "line " : "lines ",
                     &r->of);
    else
        other = dd_input_name(&of_doc, r->of.first_line, r->of.last_line);
    int n;
    if (r->exact)
        n = fprintf(out, "%s%s %s %s (%zu unit%s, %llu words)\n", where, at,
                    one ? "repeats" : "repeat", other ? other : of, r->units,
                    r->units == 1 ? "" : "s", (unsigned long long)r->words);
    else
        n = fprintf(out, "%s%s %s a near-repeat of %s (" DD_SIMILARITY_TEXT ")\n", where, at,
                    one ? "is" : "are", other ? other : of, r->jaccard, r->containment);
    free(where);
    free(other);
    dd_name_room_free(&at_room);
    dd_name_room_free(&of_room);
    return n > 0;
}

/* The start of a text on one line: at most 60 characters, newlines and
 * tabs as spaces, other controls escaped (dd_printable). */
static char *excerpt(const char *text)
{
    size_t len = strlen(text), chars = 0, i = 0;
    while (i < len && chars < 60) {
        i++;
        while (i < len && ((unsigned char)text[i] & 0xC0) == 0x80)
            i++;
        chars++;
    }
    char *s = dd_malloc(i + 1);
    for (size_t k = 0; k < i; k++)
        s[k] = (text[k] == '\n' || text[k] == '\r' || text[k] == '\t') ? ' ' : text[k];
    s[i] = '\0';
    char *shown = dd_printable(s);
    free(s);
    if (i < len) {
        char *cut = dd_asprintf("%s…", shown);
        free(shown);
        shown = cut;
    }
    return shown;
}

static bool write_boilerplate_text(FILE *out, const dd_inputs *in, const dd_scratch_array *places,
                                   const dd_boilerplate *b)
{
    char *ex = excerpt(b->text);
    bool ok = true;
    dd_name_room room = {0};
    for (size_t i = 0; i < b->n && ok; i++) {
        dd_place at = *(const dd_place *)dd_scratch_array_get(places, b->first_at + i);
        const dd_input input = dd_inputs_get(in, at.doc, &room), *d = &input;
        char *where = dd_input_at(d, at.first_line);
        if (d->shard) /* the line of the record's text */
            ok = fprintf(out, "%sline %zu: ", where, at.first_line) > 0;
        else
            ok = fputs(where, out) != EOF;
        ok = ok && fprintf(out, "boilerplate in %u documents: \"%s\"\n", b->docs, ex) > 0;
        free(where);
    }
    dd_name_room_free(&room);
    free(ex);
    return ok;
}

/* Sets, in obj, what the report says of member i of cluster c besides its
 * name: its similarity to the document it was compared with ("jaccard" and
 * "containment", or "hamming" and "similarity"), "exact", "of" (a copy of a
 * copy, near.h) and "round" (found on the text clean leaves). */
static void set_member_json(json_t *obj, dd_method method, const dd_inputs *in, const dd_cluster *c,
                            size_t i)
{
    const dd_member *m = &c->members[i];
    if (method == DD_METHOD_SIMHASH) {
        json_object_set_new(obj, "hamming", json_integer(m->hamming));
        json_object_set_new(obj, "similarity", dd_json_similarity(m->jaccard));
    } else {
        json_object_set_new(obj, "jaccard", dd_json_similarity(m->jaccard));
        json_object_set_new(obj, "containment", dd_json_similarity(m->containment));
    }
    if (m->exact)
        json_object_set_new(obj, "exact", json_true());
    if (i > 0 && m->of != c->members[0].doc) { /* a copy of a copy (near.h) */
        dd_name_room room = {0};
        json_object_set_new(obj, "of", dd_json_id(dd_input_id(in, m->of, &room)));
        dd_name_room_free(&room);
    }
    if (m->round > 1) /* a copy of the text clean leaves */
        json_object_set_new(obj, "round", json_integer(m->round));
}

static bool write_cluster_json(FILE *out, dd_method method, const dd_inputs *in,
                               const dd_cluster *c)
{
    json_t *members = json_array();
    for (size_t i = 0; i < c->n; i++) {
        json_t *o = json_object();
        json_set_doc_of(o, in, c->members[i].doc);
        set_member_json(o, method, in, c, i);
        json_array_append_new(members, o);
    }
    dd_name_room room = {0};
    json_t *obj =
        json_pack("{s:s,s:I,s:o,s:o}", "type", "cluster", "id", (json_int_t)c->id, "representative",
                  dd_json_id(dd_input_id(in, c->members[0].doc, &room)), "members", members);
    dd_name_room_free(&room);
    return obj && write_json(out, obj);
}

bool dd_report_clusters_file(FILE *out, dd_method method, const dd_inputs *in, const dd_clusters *c)
{
    bool ok = true;
    dd_name_room room = {0};
    for (size_t k = 0; k < c->n && ok; k++) {
        const dd_cluster *cl = &c->v[k];
        for (size_t i = 0; i < cl->n && ok; i++) {
            json_t *o = json_object();
            json_set_doc_of(o, in, cl->members[i].doc);
            json_object_set_new(o, "cluster", json_integer((json_int_t)cl->id));
            json_object_set_new(o, "cluster_size", json_integer((json_int_t)cl->n));
            json_object_set_new(o, "representative",
                                dd_json_id(dd_input_id(in, cl->members[0].doc, &room)));
            set_member_json(o, method, in, cl, i);
            ok = write_json(out, o);
        }
    }
    dd_name_room_free(&room);
    return ok && fflush(out) == 0 && !ferror(out);
}

static bool write_cluster_text(FILE *out, dd_method method, const dd_inputs *in,
                               const dd_cluster *c)
{
    bool ok = true;
    dd_name_room doc_room = {0}, of_room = {0};
    for (size_t i = 1; i < c->n && ok; i++) {
        const dd_member *m = &c->members[i];
        const dd_input doc = dd_inputs_get(in, m->doc, &doc_room),
                       of = dd_inputs_get(in, m->of, &of_room);
        char *where = dd_input_at(&doc, 0);
        /* The representative, or a copy of it found by a later round. */
        char *rep = dd_input_name(&of, 0, 0);
        if (m->exact)
            ok = fprintf(out, "%sexact duplicate of %s\n", where, rep) > 0;
        else if (method == DD_METHOD_SIMHASH)
            ok = fprintf(out, "%snear-duplicate of %s (hamming %u)\n", where, rep, m->hamming) > 0;
        else
            ok = fprintf(out, "%snear-duplicate of %s (" DD_SIMILARITY_TEXT ")\n", where, rep,
                         m->jaccard, m->containment) > 0;
        free(where);
        free(rep);
    }
    dd_name_room_free(&doc_room);
    dd_name_room_free(&of_room);
    return ok;
}

/* What a report is written from; its records are numbered: the clusters,
 * then the repeats, then the boilerplate (tsv: one a document). */
typedef struct report {
    dd_format format;
    dd_method method;
    const dd_inputs *in;
    const dd_clusters *c;
    const dd_findings *f;
    const dd_scratch_array *places;  /* of f's boilerplate */
    const dd_scratch_array *repeats; /* f's (not f->repeats) */
} report;

static size_t report_records(const report *r)
{
    if (r->format == DD_FORMAT_TSV)
        return r->in->n;
    return r->c->n + r->f->nrepeats + r->f->nboilerplate;
}

/* Writes record k of r to out; false on a write error. */
static bool write_record(FILE *out, const report *r, size_t k)
{
    bool json = r->format == DD_FORMAT_JSONL;
    if (r->format == DD_FORMAT_TSV) {
        char *path = dd_input_printable_id(r->in, k);
        bool ok = fprintf(out, "%s\t%u\n", path, r->c->id_of[k]) > 0;
        free(path);
        return ok;
    }
    if (k < r->c->n)
        return json ? write_cluster_json(out, r->method, r->in, &r->c->v[k])
                    : write_cluster_text(out, r->method, r->in, &r->c->v[k]);
    k -= r->c->n;
    if (k < r->f->nrepeats) {
        dd_repeat repeat = *(const dd_repeat *)dd_scratch_array_get(r->repeats, k);
        return json ? write_repeat_json(out, r->in, &repeat)
                    : write_repeat_text(out, r->in, &repeat);
    }
    k -= r->f->nrepeats;
    return json ? write_boilerplate_json(out, r->in, r->places, &r->f->boilerplate[k])
                : write_boilerplate_text(out, r->in, r->places, &r->f->boilerplate[k]);
}

/* What formatting record k costs, roughly: the documents it names (a
 * cluster's members, a boilerplate's occurrences). */
static size_t record_weight(const report *r, size_t k)
{
    if (r->format == DD_FORMAT_TSV)
        return 1;
    if (k < r->c->n)
        return r->c->v[k].n;
    k -= r->c->n;
    if (k < r->f->nrepeats)
        return 2;
    return 1 + r->f->boilerplate[k - r->f->nrepeats].n;
}

/*
 * With a loop (threads), records are formatted on its threads, a part of
 * them each (REPORT_PART_WEIGHT documents named, or one record that names
 * more), into memory, REPORT_WINDOW_PARTS parts at a time, or fewer that
 * name REPORT_WINDOW_WEIGHT documents; the calling
 * thread writes each window's parts in order. The same bytes as one thread
 * writes; what is held is one window's text.
 */
#define REPORT_PART_WEIGHT 64
#define REPORT_WINDOW_PARTS 64
/* A window holds the text of records naming this many documents at most
 * (a record more: the one that passes it): a window of 64 parts each of a
 * boilerplate record naming thousands held 12.4 MB of text on the 1 GB
 * corpus (its 44 boilerplate records at once). */
#define REPORT_WINDOW_WEIGHT (REPORT_WINDOW_PARTS * REPORT_PART_WEIGHT)

typedef struct report_window {
    const report *r;
    size_t start[REPORT_WINDOW_PARTS + 1]; /* part i: records start[i] .. start[i + 1] - 1 */
    char *text[REPORT_WINDOW_PARTS];
    size_t len[REPORT_WINDOW_PARTS];
} report_window;

/* dd_loop work: part `part` of the window, formatted. */
static void format_part(void *ctx, void *worker, size_t part)
{
    (void)worker;
    report_window *w = ctx;
    w->text[part] = NULL;
    w->len[part] = 0;
    FILE *m = open_memstream(&w->text[part], &w->len[part]);
    if (!m)
        dd_out_of_memory();
    bool ok = true;
    for (size_t k = w->start[part]; k < w->start[part + 1] && ok; k++)
        ok = write_record(m, w->r, k);
    if (fclose(m) != 0 || !ok) /* only memory can fail */
        dd_out_of_memory();
}

bool dd_report_write(FILE *out, dd_format format, dd_method method, const dd_inputs *in,
                     const dd_clusters *c, const dd_findings *f, const dd_scratch_array *places,
                     const dd_scratch_array *repeats, const dd_loop *loop)
{
    report r = {format, method, in, c, f, places, repeats};
    size_t n = report_records(&r);
    bool ok = true;
    if (!loop || !loop->run) {
        for (size_t k = 0; k < n && ok; k++)
            ok = write_record(out, &r, k);
        return ok && fflush(out) == 0 && !ferror(out);
    }
    report_window *w = dd_calloc(1, sizeof *w);
    w->r = &r;
    for (size_t k = 0; k < n && ok;) {
        size_t parts = 0, held = 0; /* the window's weight */
        for (; k < n && parts < REPORT_WINDOW_PARTS && held < REPORT_WINDOW_WEIGHT; parts++) {
            w->start[parts] = k;
            size_t weight = 0;
            while (k < n && weight < REPORT_PART_WEIGHT)
                weight += record_weight(&r, k++);
            held += weight;
        }
        w->start[parts] = k;
        loop->run(loop->loop_ctx, parts, w, format_part);
        for (size_t part = 0; part < parts; part++) {
            ok = ok && fwrite(w->text[part], 1, w->len[part], out) == w->len[part];
            free(w->text[part]);
        }
    }
    free(w);
    return ok && fflush(out) == 0 && !ferror(out);
}

bool dd_report_header(FILE *out, const dd_options *o)
{
    sh_status st;
    sh_normalizer *norm = sh_normalizer_new(NULL, &st);
    if (!norm) {
        dd_error("cannot start the normaliser: %s", sh_status_str(st));
        return false;
    }
    const dd_near_params *n = &o->near;
    json_t *set = json_object();
    json_object_set_new(set, "unit", json_string(o->unit == DD_UNIT_BLOCK ? "block" : "line"));
    json_object_set_new(set, "min_words", json_integer((json_int_t)o->min_words));
    json_object_set_new(set, "boilerplate_df", json_integer((json_int_t)o->boilerplate_df));
    json_object_set_new(set, "para_threshold", json_real(o->para_threshold));
    json_object_set_new(set, "near", json_boolean(n->enabled)); /* false: --no-near */
    json_object_set_new(set, "method",
                        json_string(n->method == DD_METHOD_SIMHASH ? "simhash" : "minhash"));
    json_object_set_new(set, "threshold", json_real(n->threshold));
    json_object_set_new(set, "containment", json_real(n->containment));
    json_object_set_new(set, "min_shingles", json_integer((json_int_t)n->min_shingles));
    json_object_set_new(set, "size_ratio", json_real(n->size_ratio));
    json_object_set_new(set, "recall", json_real(n->recall));
    json_object_set_new(set, "ngram", json_integer((json_int_t)n->ngram));
    json_object_set_new(set, "num_perm", json_integer((json_int_t)n->num_perm));
    json_object_set_new(set, "bands", json_integer((json_int_t)n->bands));
    json_object_set_new(set, "rows", json_integer((json_int_t)n->rows));
    json_object_set_new(set, "hamming", json_integer((json_int_t)n->hamming));
    json_object_set_new(set, "keep", json_string(n->keep == DD_KEEP_LONGEST ? "longest" : "first"));
    json_object_set_new(set, "verify", json_string(n->verify_exact ? "exact" : "estimate"));
    json_object_set_new(set, "max_record", json_integer((json_int_t)o->max_record_mb));
    /* A key is named by its fingerprint, never written out. */
    json_object_set_new(set, "key",
                        o->key_fingerprint[0] ? json_string(o->key_fingerprint) : json_null());
    json_object_set_new(set, "index", o->index ? dd_json_id(o->index) : json_null());
    /* How the records of shards are read: their text, their names. */
    json_object_set_new(set, "whole_files", json_boolean(o->whole_files));
    json_object_set_new(set, "field", dd_json_id(o->field));
    json_object_set_new(set, "id_field", o->id_field ? dd_json_id(o->id_field) : json_null());
    json_t *obj = json_pack("{s:s,s:s,s:s,s:s,s:o}", "type", "header", "version", SH_VERSION,
                            "normalizer", sh_normalizer_profile(norm), "signatures",
                            sh_minhash_scheme_name(DD_MINHASH_SCHEME), "settings", set);
    sh_normalizer_free(norm);
    return obj && write_json(out, obj);
}

bool dd_report_summary(FILE *out, const dd_corpus_counts *k, const dd_findings *f,
                       size_t index_records)
{
    json_t *obj = json_pack(
        "{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "type", "summary", "documents",
        (json_int_t)k->documents, "bytes", (json_int_t)k->bytes, "errors", (json_int_t)k->errors,
        "clusters", (json_int_t)k->clusters, "copies", (json_int_t)k->copies, "repeats",
        (json_int_t)f->nrepeats, "boilerplate", (json_int_t)f->nboilerplate, "index",
        (json_int_t)index_records, "paragraphs_removed", (json_int_t)k->paragraphs_removed,
        "bytes_removed", (json_int_t)(k->copy_bytes + k->paragraph_bytes));
    /* Only when the caps left something out: a summary of a corpus whose
     * buckets all stay under them reads as before. */
    if (obj && k->full_buckets) {
        json_object_set_new(obj, "full_buckets", json_integer((json_int_t)k->full_buckets));
        json_object_set_new(obj, "bucket_entries_split",
                            json_integer((json_int_t)k->bucket_entries_split));
        json_object_set_new(obj, "full_sub_buckets", json_integer((json_int_t)k->full_sub_buckets));
        json_object_set_new(obj, "bucket_entries_left_out",
                            json_integer((json_int_t)k->bucket_entries_left_out));
    }
    return obj && write_json(out, obj) && fflush(out) == 0 && !ferror(out);
}

const char *dd_plural(uint64_t n, const char *one, const char *many) { return n == 1 ? one : many; }

void dd_report_full_buckets(FILE *out, const dd_corpus_counts *k)
{
    if (k->full_buckets)
        fprintf(
            out, "; %llu LSH %s full (%d documents), split: %llu %s in sub-buckets, %llu left out",
            (unsigned long long)k->full_buckets, dd_plural(k->full_buckets, "bucket", "buckets"),
            DD_BUCKET_CAP, (unsigned long long)k->bucket_entries_split,
            dd_plural(k->bucket_entries_split, "entry", "entries"),
            (unsigned long long)k->bucket_entries_left_out);
}

void dd_report_near_params(FILE *out, const dd_near_params *p)
{
    if (p->method == DD_METHOD_SIMHASH) {
        fprintf(out, "method: simhash, 64 bits over word %lu-shingles\n", p->ngram);
        fprintf(out, "near-duplicates: at most %lu differing bits\n", p->hamming);
        fprintf(out,
                "search: %lu blocks of about %lu bits; a pair within %lu bits agrees on a "
                "whole block, so every such pair is a candidate\n",
                p->hamming + 1, 64 / (p->hamming + 1), p->hamming);
        return;
    }
    double t = dd_near_target_jaccard(p);
    fprintf(out, "method: minhash (%s), %lu values over word %lu-shingles\n",
            sh_minhash_scheme_name(DD_MINHASH_SCHEME), p->num_perm, p->ngram);
    fprintf(out, "rule: jaccard >= %.2f", p->threshold);
    if (p->containment > 0)
        fprintf(out, ", or containment >= %.2f with at least %lu\n      shingles in the smaller",
                p->containment, p->min_shingles);
    fprintf(out, "\n");
    fprintf(out, "bands x rows: %lu x %lu (%lu of %lu values used)\n", p->bands, p->rows,
            p->bands * p->rows, p->num_perm);
    if (p->containment > 0)
        fprintf(out,
                "candidate target: jaccard %.3f, the lowest of a pair with\n"
                "      containment %.2f whose sizes differ at most %.1fx\n",
                t, p->containment, p->size_ratio);
    fprintf(out, "candidate probability:\n");
    const double at[] = {0.5, 0.6, 0.7, 0.8, 0.9};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++)
        fprintf(out, "  jaccard %.2f: %.4f\n", at[i], dd_lsh_probability(at[i], p->bands, p->rows));
    fprintf(out, "  jaccard %.2f (threshold): %.4f\n", p->threshold,
            dd_lsh_probability(p->threshold, p->bands, p->rows));
    if (t < p->threshold)
        fprintf(out, "  jaccard %.3f (containment target): %.4f\n", t,
                dd_lsh_probability(t, p->bands, p->rows));
}
