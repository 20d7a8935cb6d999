/*
 * scan.c - dedup scan: report repeated paragraphs and boilerplate.
 */
#include "cmd/commands.h"
#include "cmd/submit.h"
#include "run/corpus.h"
#include "run/run.h"
#include "engine/engine.h"
#include "store/index_settings.h"
#include "run/progress.h"
#include "report/report.h"
#include "io/safe_write.h"
#include "util.h"

#include <jansson.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Writes what document i shares with the index, in the report's format;
 * counts it in *found. False on an index or write error. */
static bool report_index_matches(dd_ddx *x, const dd_corpus *c, size_t i, const dd_options *o,
                                 dd_analyzer *a, size_t *found)
{
    dd_index_matches m = {0};
    bool ok = dd_corpus_match_index(x, c, i, o, a, &m);
    dd_name_room room = {0};
    const dd_input input = dd_inputs_get(&c->inputs, i, &room), *d = &input;
    for (size_t k = 0; k < m.n && ok; k++) {
        const dd_index_match *r = &m.v[k];
        const char *kind = r->kind == DD_INDEX_DUPLICATE ? "duplicate"
                           : r->boilerplate              ? "boilerplate"
                                                         : "repeat";
        (*found)++;
        if (o->format == DD_FORMAT_JSONL) {
            json_t *j = json_pack("{s:s,s:s}", "type", "index", "kind", kind);
            dd_json_set_doc(j, d);
            json_t *of = json_pack("{s:o}", "doc", dd_json_id(r->of));
            if (r->kind == DD_INDEX_DUPLICATE) {
                json_object_set_new(j, "exact", json_boolean(r->exact));
                json_object_set_new(j, "jaccard", dd_json_similarity(r->jaccard));
                json_object_set_new(j, "containment", dd_json_similarity(r->containment));
                if (r->estimated)
                    json_object_set_new(j, "estimated", json_true());
            } else {
                json_object_set_new(
                    j, "lines",
                    json_pack("[I,I]", (json_int_t)r->first_line, (json_int_t)r->last_line));
                json_object_set_new(
                    of, "lines",
                    json_pack("[I,I]", (json_int_t)r->of_first_line, (json_int_t)r->of_last_line));
                json_object_set_new(j, "docs", json_integer(r->docs));
            }
            json_object_set_new(j, "of", of);
            char *line =
                json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
            ok = line && printf("%s\n", line) > 0;
            free(line);
            json_decref(j);
        } else if (o->format == DD_FORMAT_TEXT) {
            char *other = dd_printable(r->of);
            char *where = dd_input_at(d, r->kind == DD_INDEX_DUPLICATE ? 0 : r->first_line);
            if (r->kind == DD_INDEX_DUPLICATE && r->exact)
                ok = printf("%sexact duplicate of %s (in the index)\n", where, other) > 0;
            else if (r->kind == DD_INDEX_DUPLICATE)
                ok = printf("%snear-duplicate of %s (in the index; " DD_SIMILARITY_TEXT "%s)\n",
                            where, other, r->jaccard, r->containment,
                            r->estimated ? ", estimated" : "") > 0;
            else
                ok = printf("%sline %zu %s %s:%u (in the index, %u documents)\n", where,
                            r->first_line, r->boilerplate ? "is boilerplate, as" : "repeats", other,
                            r->of_first_line, r->docs) > 0;
            free(other);
            free(where);
        }
    }
    dd_index_matches_free(&m);
    dd_name_room_free(&room);
    return ok;
}

/* scan --index: every kept document against the index. */
static bool scan_index(const dd_corpus *c, const dd_options *o, size_t *found)
{
    dd_ddx_settings want;
    char *err = NULL;
    dd_ddx *x = NULL;
    if (!dd_index_settings(o, &want) || !(x = dd_ddx_open(o->index, false, &want, &err))) {
        if (err)
            dd_error("%s", err);
        free(err);
        return false;
    }
    dd_analyzer a;
    dd_notes notes = {0};
    if (!dd_notes_said(&notes, dd_analyzer_init(&a, o->unit, &o->hash, &notes))) {
        dd_ddx_close(x);
        return false;
    }
    bool ok = true;
    for (size_t i = 0; ok && i < c->inputs.n; i++)
        if (!c->failed[i] && !c->clusters.dropped[i])
            ok = report_index_matches(x, c, i, o, &a, found);
    dd_analyzer_free(&a); /* on an index error too (LeakSanitizer saw it kept) */
    dd_ddx_close(x);
    if (ok && fflush(stdout) != 0) {
        dd_stdout_failed(errno);
        ok = false;
    }
    return ok;
}

static const char scan_usage[] =
    "Usage: dedup scan [OPTION]... PATH...\n"
    "\n"
    "Report near-duplicate documents, paragraphs repeated inside a document or\n"
    "across documents, and boilerplate. PATH is a file, a directory (read\n"
    "recursively, in sorted order) or - for standard input; a file named\n"
    "*.jsonl, *.jsonl.gz or *.jsonl.zst is a shard of JSON records, each a\n"
    "document, found as SHARD:LINE: [ID] in the report.\n";

static const dd_option_group *const scan_groups[] = {
    &dd_group_scan,
    &dd_group_clusters,
    &dd_group_index,
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
    &dd_group_stdin,
    &dd_group_help,
    NULL,
};

static const dd_command_spec scan_command = {
    "scan", scan_usage, scan_groups, "0 nothing found, 1 duplicates found, 2 usage or input error.",
    false,
};

/* The line that ends a scan on stderr (see dd_corpus_counts). */
static void print_summary(const dd_options *o, const dd_corpus_counts *k, const dd_findings *f,
                          size_t index_found)
{
    fprintf(stderr, "dedup scan: %zu %s, %zu %s, %zu %s, %zu %s, %zu boilerplate", k->documents,
            dd_plural(k->documents, "document", "documents"), k->clusters,
            dd_plural(k->clusters, "cluster", "clusters"), k->copies,
            dd_plural(k->copies, "copy", "copies"), f->nrepeats,
            dd_plural(f->nrepeats, "repeat", "repeats"), f->nboilerplate);
    if (o->index)
        fprintf(stderr, ", %zu %s in the index", index_found,
                dd_plural(index_found, "finding", "findings"));
    fprintf(stderr, "; clean -o would remove %zu %s and %llu of %llu bytes", k->paragraphs_removed,
            dd_plural(k->paragraphs_removed, "paragraph", "paragraphs"),
            (unsigned long long)(k->copy_bytes + k->paragraph_bytes), (unsigned long long)k->bytes);
    if (k->errors)
        fprintf(stderr, "; %zu %s", k->errors, dd_plural(k->errors, "error", "errors"));
    dd_report_full_buckets(stderr, k);
    fputc('\n', stderr);
}

/* dd_loop.run of the report: on a pool. */
static void pool_loop(void *pool, size_t n, void *ctx,
                      void (*item)(void *ctx, void *worker, size_t i))
{
    dd_pool_for(pool, n, ctx, item);
}

/* The report's findings (dd_report_write), formatted on o's threads. */
static bool write_report(const dd_options *o, const dd_corpus *c)
{
    unsigned threads = o->threads ? (unsigned)o->threads : dd_online_cpus();
    dd_pool *pool = threads > 1 ? dd_pool_new("report", threads, NULL, NULL, NULL) : NULL;
    dd_loop loop = {.run = pool ? pool_loop : NULL, .loop_ctx = pool};
    bool ok = dd_report_write(stdout, o->format, o->near.method, &c->inputs, &c->clusters,
                              &c->findings, &c->places, &c->repeats, &loop);
    dd_pool_free(pool);
    return ok;
}

int cmd_scan(int argc, char **argv)
{
    dd_options o;
    /* For measuring (DEDUP_RUN_STATS): the CPU time of starting the
     * program (the loader, the libraries' constructors), the listing's
     * wall time from here on. */
    dd_run_phase_done("start");
    int status = dd_options_parse(&o, &scan_command, argc, argv);
    if (status >= 0)
        return status;
    if (o.explain_params) {
        dd_report_near_params(stdout, &o.near);
        return DD_EXIT_CLEAN;
    }
    if (o.executor == DD_EXECUTOR_SLURM) /* plan and submit the tasks: cmd/submit.h */
        return dd_submit_slurm(&o, argc, argv);
    if (o.index) { /* a wrong index is an error before any work */
        dd_ddx_settings want;
        char *err = NULL;
        dd_ddx *x = NULL;
        if (!dd_index_settings(&o, &want) || !(x = dd_ddx_open(o.index, false, &want, &err))) {
            if (err)
                dd_error("%s", err);
            free(err);
            return DD_EXIT_ERROR;
        }
        dd_ddx_close(x);
    }
    if (dd_stage_is_task(o.work.stage)) { /* a task: no report */
        dd_progress progress;
        dd_progress_start(&progress, "dedup scan", "file", o.quiet);
        status = dd_corpus_stage_only(&o, &progress);
        dd_progress_end(&progress, false);
        return status;
    }
    /* --clusters FILE: made now, so that a FILE that cannot be written
     * stops the run before any work; put in place after the report. */
    dd_out_file *clusters_file = NULL;
    if (o.clusters_file) {
        dd_safe_write_signals();
        if (!(clusters_file = dd_out_file_open(o.clusters_file)))
            return DD_EXIT_ERROR;
    }
    bool jsonl = o.format == DD_FORMAT_JSONL;
    dd_progress progress;
    dd_progress_start(&progress, "dedup scan", "file", o.quiet);
    dd_corpus c;
    bool ran = dd_corpus_run(&c, &o, &progress);
    dd_progress_end(&progress, false);
    /* The report, its header first, only of a run that went through: a run
     * refused (a work folder of other settings, say) writes nothing. */
    if (!ran || (jsonl && !dd_report_header(stdout, &o))) {
        if (ran)
            dd_stdout_failed(errno);
        if (clusters_file)
            dd_out_file_discard(clusters_file);
        dd_corpus_free(&c);
        return DD_EXIT_ERROR;
    }
    dd_corpus_report_left_out(&c, "left out of the comparison");
    if (!write_report(&o, &c)) {
        dd_stdout_failed(errno);
        if (clusters_file)
            dd_out_file_discard(clusters_file);
        dd_corpus_free(&c);
        return DD_EXIT_ERROR;
    }
    dd_run_phase_done("report");
    if (clusters_file) {
        dd_report_clusters_file(dd_out_file_stream(clusters_file), o.near.method, &c.inputs,
                                &c.clusters); /* a write error is said by the commit */
        if (!dd_out_file_commit(clusters_file)) {
            dd_corpus_free(&c);
            return dd_safe_write_stop_signal() ? 128 + dd_safe_write_stop_signal() : DD_EXIT_ERROR;
        }
    }
    size_t index_found = 0;
    if (o.index && !scan_index(&c, &o, &index_found)) {
        dd_corpus_free(&c);
        return DD_EXIT_ERROR;
    }
    dd_corpus_counts k;
    dd_corpus_count(&c, &k);
    if (jsonl && !dd_report_summary(stdout, &k, &c.findings, index_found)) {
        dd_stdout_failed(errno);
        dd_corpus_free(&c);
        return DD_EXIT_ERROR;
    }
    if (!o.quiet)
        print_summary(&o, &k, &c.findings, index_found);
    bool found = c.findings.nrepeats > 0 || c.findings.nboilerplate > 0 || c.clusters.n > 0 ||
                 index_found > 0;
    /* An input that could not be read or was left out: 2, even when
     * something was found. */
    status = c.problems || c.nleft_out ? DD_EXIT_ERROR : found ? DD_EXIT_FOUND : DD_EXIT_CLEAN;
    dd_corpus_free(&c);
    return status;
}
