/*
 * index.c - dedup index build|add|info|remove: the persistent index (ddx.c).
 *
 *   dedup index build PATH... -o DIR.ddx   a new index of the documents
 *   dedup index add DIR.ddx PATH...        add or update documents
 *   dedup index info DIR.ddx               settings and counts
 *   dedup index remove DIR.ddx ID...       remove documents by id
 *
 * build and add sign each document as scan does (document.c, near.c) and
 * store it in one write transaction, so an interrupted run changes nothing.
 * A document whose id is already indexed with the same size and mtime is
 * not read again.
 */
#include "commands.h"
#include "ddx.h"
#include "index_settings.h"
#include "input.h"
#include "options.h"
#include "progress.h"
#include "report.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char index_usage[] =
    "Usage: dedup index build PATH... -o DIR.ddx\n"
    "       dedup index add DIR.ddx PATH...\n"
    "       dedup index info DIR.ddx\n"
    "       dedup index remove DIR.ddx ID...\n"
    "\n"
    "A persistent index of documents (LMDB), for scan, check and filter\n"
    "--index. Run 'dedup index SUBCOMMAND --help' for its options.\n";

static const dd_option_group *const build_groups[] = {
    &dd_group_index_build, &dd_group_signatures, &dd_group_common, &dd_group_key,
    &dd_group_progress,    &dd_group_files,      &dd_group_help,   NULL,
};
static const dd_option_group *const add_groups[] = {
    &dd_group_signatures, &dd_group_common, &dd_group_key, &dd_group_progress,
    &dd_group_files,      &dd_group_help,   NULL,
};
static const dd_option_group *const help_only[] = {&dd_group_help, NULL};
static const dd_option_group *const remove_groups[] = {&dd_group_key, &dd_group_help, NULL};

static const dd_command_spec index_commands[] = {
    {"index build",
     "Usage: dedup index build PATH... -o DIR.ddx\n"
     "\n"
     "A new index of the documents under PATH..., signed as scan signs them. The\n"
     "index records the settings below; scan, check and filter use it only with\n"
     "the same ones.\n",
     build_groups, "0 success, 2 usage or input error."},
    {"index add",
     "Usage: dedup index add DIR.ddx PATH...\n"
     "\n"
     "Add or update the documents under PATH... (a document whose size and\n"
     "mtime are unchanged is not read again), with the index's settings.\n",
     add_groups, "0 success, 2 usage or input error."},
    {"index info",
     "Usage: dedup index info DIR.ddx\n"
     "\n"
     "Print the index's settings and counts.\n",
     help_only, "0 success, 2 usage or input error."},
    {"index remove",
     "Usage: dedup index remove DIR.ddx ID...\n"
     "\n"
     "Remove documents by id (the path they were indexed under).\n",
     remove_groups, "0 success, 2 usage or input error."},
};

/* Adds (or updates) the documents under paths to x, inside its write
 * transaction. Returns the number of problems; *added, *skipped (unchanged)
 * and *left_out (not text, --on-error skip or drop: not indexed) count, and
 * *bytes counts the bytes read. */
static int index_paths(dd_ddx *x, const dd_options *o, char *const *paths, size_t npaths,
                       size_t *added, size_t *skipped, size_t *left_out, uint64_t *bytes,
                       dd_progress *progress)
{
    dd_inputs in = {0};
    int problems = dd_inputs_collect(&in, paths, npaths);
    dd_analyzer a;
    if (!dd_analyzer_init(&a, o->unit, &o->hash)) {
        dd_inputs_free(&in);
        return problems + 1;
    }
    dd_signatures sigs;
    if (!dd_signatures_init(&sigs, &o->near, &o->hash)) {
        dd_analyzer_free(&a);
        dd_inputs_free(&in);
        return problems + 1;
    }
    sh_buf text = {0};
    dd_doc doc = {0};
    uint64_t *keys = dd_malloc((o->near.bands + o->near.hamming + 2) * sizeof *keys);
    dd_ddx_para *paras = NULL;
    size_t paras_cap = 0;
    for (size_t i = 0; i < in.n; i++) {
        dd_progress_update(progress, i, *bytes);
        const dd_input *d = &in.v[i];
        if (d->is_stdin) {
            dd_error("index: standard input has no path to index it by");
            problems++;
            continue;
        }
        struct stat st;
        if (stat(d->path, &st) != 0) {
            char *p = dd_printable(d->id);
            dd_error("%s: cannot stat", p);
            free(p);
            problems++;
            continue;
        }
        int64_t mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
        dd_ddx_doc old = {0};
        char *err = NULL;
        if (dd_ddx_get(x, d->id, &old, &err)) {
            bool same = old.size == (uint64_t)st.st_size && old.mtime_ns == mtime_ns;
            dd_ddx_doc_free(&old);
            if (same) {
                (*skipped)++;
                continue;
            }
        } else if (err) {
            dd_error("%s", err);
            free(err);
            problems++;
            break;
        }
        dd_not_text bad;
        dd_load_status loaded =
            dd_input_load(d, (size_t)o->max_record_mb << 20, &a, &text, &doc, &bad);
        if (loaded == DD_LOAD_FAILED) {
            problems++;
            continue;
        }
        *bytes += text.len;
        if (loaded == DD_LOAD_BINARY) /* warned; not indexed */
            continue;
        if (loaded == DD_LOAD_NOT_TEXT && o->on_error == DD_ON_ERROR_STOP) {
            dd_input_report_not_text(d, &bad, false, NULL);
            problems++;
            break;
        }
        if (loaded == DD_LOAD_NOT_TEXT) {
            dd_input_report_not_text(d, &bad, false, "not indexed");
            (*left_out)++;
            continue;
        }
        dd_signatures_add(&sigs, &doc.words, doc.key, &o->hash);
        size_t n = sigs.n - 1, nkeys = dd_signature_keys(&sigs, n, keys);
        (void)nkeys;
        dd_grow(&paras, &paras_cap, doc.nunits + 1, sizeof *paras);
        for (size_t u = 0; u < doc.nunits; u++)
            paras[u] = (dd_ddx_para){doc.units[u].key, (uint32_t)doc.units[u].first_line,
                                     (uint32_t)doc.units[u].last_line};
        dd_ddx_doc rec = {.id = d->id,
                          .size = (uint64_t)st.st_size,
                          .mtime_ns = mtime_ns,
                          .key = doc.key,
                          .words = sigs.docs[n].words,
                          .shingles = sigs.docs[n].shingles,
                          .minhash = sigs.minhash + n * o->near.num_perm};
        if (!dd_ddx_put(x, &rec, keys, paras, doc.nunits, &err)) {
            dd_error("%s", err);
            free(err);
            problems++;
            break;
        }
        (*added)++;
    }
    dd_progress_update(progress, in.n, *bytes);
    free(paras);
    free(keys);
    dd_doc_free(&doc);
    sh_buf_free(&text);
    dd_signatures_free(&sigs);
    dd_analyzer_free(&a);
    dd_inputs_free(&in);
    return problems;
}

/* Opens (or creates) the index and signs the documents into it in one write
 * transaction. A new index is staged (dd_ddx_create_staged): it appears at
 * ddx only once committed, so a build that fails leaves none there. name:
 * "index build" or "index add". */
static int index_write(const char *name, const char *ddx, bool create, const dd_options *o,
                       char *const *paths, size_t npaths)
{
    dd_ddx_settings want;
    if (!dd_index_settings(o, &want))
        return DD_EXIT_ERROR;
    char *err = NULL;
    dd_ddx *x = create ? dd_ddx_create_staged(ddx, &want, &err)
                       : dd_ddx_open(ddx, true, &want, &err);
    if (!x || !dd_ddx_begin(x, &err)) {
        dd_error("%s", err);
        free(err);
        dd_ddx_close(x);
        return DD_EXIT_ERROR;
    }
    size_t added = 0, skipped = 0, left_out = 0;
    uint64_t bytes = 0;
    char progress_name[64];
    snprintf(progress_name, sizeof progress_name, "dedup %s", name);
    dd_progress progress;
    dd_progress_start(&progress, progress_name, "file", o->quiet);
    int problems =
        index_paths(x, o, paths, npaths, &added, &skipped, &left_out, &bytes, &progress);
    dd_progress_end(&progress, false);
    if (problems) {
        dd_ddx_abort(x);
        dd_ddx_close(x);
        dd_error("%s: nothing changed (%d problem%s)", ddx, problems, problems == 1 ? "" : "s");
        return DD_EXIT_ERROR;
    }
    if (!dd_ddx_commit(x, &err) || !dd_ddx_publish(x, &err)) {
        dd_error("%s", err);
        free(err);
        dd_ddx_close(x);
        if (create)
            dd_error("%s: no index made", ddx);
        return DD_EXIT_ERROR;
    }
    dd_ddx_counts c;
    if (!o->quiet && dd_ddx_counts_of(x, &c, &err)) {
        char *p = dd_printable(ddx);
        fprintf(stderr,
                "dedup %s: %s: %zu %s signed, %zu unchanged; %llu in the index; %llu bytes read\n",
                name, p, added, dd_plural(added, "document", "documents"), skipped,
                (unsigned long long)c.docs, (unsigned long long)bytes);
        free(p);
    }
    if (left_out)
        fprintf(stderr, "dedup %s: %s: %zu file%s left out (not text)\n", name, ddx, left_out,
                left_out == 1 ? "" : "s");
    free(err);
    dd_ddx_close(x);
    return left_out ? DD_EXIT_ERROR : DD_EXIT_CLEAN;
}

static int index_info(const char *ddx)
{
    char *err = NULL;
    dd_ddx *x = dd_ddx_open(ddx, false, NULL, &err);
    dd_ddx_counts c;
    if (!x || !dd_ddx_counts_of(x, &c, &err)) {
        dd_error("%s", err);
        free(err);
        dd_ddx_close(x);
        return DD_EXIT_ERROR;
    }
    const dd_ddx_settings *s = dd_ddx_settings_of(x);
    printf("index: %s\n", ddx);
    printf("format: %d\n", DD_DDX_FORMAT);
    size_t norm_len;
    const char *scheme = dd_ddx_profile_scheme(s->profile, &norm_len);
    printf("normaliser: %.*s\n", (int)norm_len, s->profile);
    printf("signatures: %s\n", scheme);
    printf("unit: %s\n", s->unit_mode ? "block" : "line");
    printf("ngram: %u\n", s->ngram);
    printf("num-perm: %u\n", s->num_perm);
    printf("bands x rows: %u x %u\n", s->bands, s->rows);
    printf("seed: %llu\n", (unsigned long long)s->seed);
    printf("key fingerprint: %s\n", s->key_fingerprint[0] ? s->key_fingerprint : "none");
    printf("documents: %llu\n", (unsigned long long)c.docs);
    printf("paragraphs: %llu\n", (unsigned long long)c.paragraphs);
    printf("band entries: %llu\n", (unsigned long long)c.band_entries);
    printf("size: %llu bytes\n", (unsigned long long)c.map_bytes);
    dd_ddx_close(x);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        dd_stdout_failed(errno);
        return DD_EXIT_ERROR;
    }
    return DD_EXIT_CLEAN;
}

/* Removing needs no signature, so no setting but the key must match: an
 * index built with a key is changed only by who holds it. */
static int index_remove(const char *ddx, const dd_options *o, char *const *ids, size_t n)
{
    char *err = NULL;
    dd_ddx *x = dd_ddx_open(ddx, true, NULL, &err);
    if (x && (err = dd_ddx_key_difference(x, o->key_fingerprint)) == NULL)
        dd_ddx_begin(x, &err);
    if (err) {
        dd_error("%s", err);
        free(err);
        dd_ddx_close(x);
        return DD_EXIT_ERROR;
    }
    int missing = 0;
    for (size_t i = 0; i < n; i++) {
        bool found = false;
        if (!dd_ddx_remove(x, ids[i], &found, &err)) {
            dd_error("%s", err);
            free(err);
            dd_ddx_abort(x);
            dd_ddx_close(x);
            return DD_EXIT_ERROR;
        }
        if (!found) {
            char *p = dd_printable(ids[i]);
            dd_error("%s: not in the index %s", p, ddx);
            free(p);
            missing++;
        }
    }
    if (missing) {
        dd_ddx_abort(x);
        dd_ddx_close(x);
        dd_error("%s: nothing removed", ddx);
        return DD_EXIT_ERROR;
    }
    bool ok = dd_ddx_commit(x, &err);
    if (!ok) {
        dd_error("%s", err);
        free(err);
    }
    dd_ddx_close(x);
    return ok ? DD_EXIT_CLEAN : DD_EXIT_ERROR;
}

int cmd_index(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fputs(index_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? DD_EXIT_ERROR : DD_EXIT_CLEAN;
    }
    const char *sub = argv[1];
    const dd_command_spec *spec = NULL;
    for (size_t i = 0; i < sizeof index_commands / sizeof index_commands[0]; i++)
        if (!strcmp(index_commands[i].name + strlen("index "), sub))
            spec = &index_commands[i];
    if (!spec) {
        dd_error("index: '%s' is not build, add, info or remove", sub);
        fputs(index_usage, stderr);
        return DD_EXIT_ERROR;
    }
    /* The options parser sees the subcommand as the command. */
    char **args = dd_malloc((size_t)argc * sizeof *args);
    args[0] = (char *)spec->name;
    for (int i = 2; i < argc; i++)
        args[i - 1] = argv[i];
    dd_options o;
    int status = dd_options_parse(&o, spec, argc - 1, args);
    if (status < 0) {
        if (!strcmp(sub, "build")) {
            if (!o.output) {
                dd_error("index build: -o DIR.ddx names the index to create");
                status = DD_EXIT_ERROR;
            } else {
                status = index_write(spec->name, o.output, true, &o, o.paths, o.npaths);
            }
        } else if (!strcmp(sub, "info")) {
            status = o.npaths == 1 ? index_info(o.paths[0])
                                   : (dd_error("index info: give one DIR.ddx"), DD_EXIT_ERROR);
        } else if (o.npaths < 2) {
            dd_error("index %s: give DIR.ddx and at least one %s", sub,
                     strcmp(sub, "add") ? "ID" : "PATH");
            status = DD_EXIT_ERROR;
        } else if (!strcmp(sub, "add")) {
            status = index_write(spec->name, o.paths[0], false, &o, o.paths + 1, o.npaths - 1);
        } else {
            status = index_remove(o.paths[0], &o, o.paths + 1, o.npaths - 1);
        }
    }
    free(args);
    return status;
}
