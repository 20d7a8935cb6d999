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
#include "cmd/commands.h"
#include "store/ddx.h"
#include "store/index_settings.h"
#include "io/input.h"
#include "cmd/options.h"
#include "run/progress.h"
#include "report/report.h"
#include "run/run.h"
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
    &dd_group_index_build,
    &dd_group_signatures,
    &dd_group_common,
    &dd_group_key,
    &dd_group_progress,
    &dd_group_threads,
    &dd_group_scratch,
    &dd_group_files,
    &dd_group_records,
    &dd_group_help,
    NULL,
};
static const dd_option_group *const add_groups[] = {
    &dd_group_signatures, &dd_group_common,
    &dd_group_key,        &dd_group_progress,
    &dd_group_threads,    &dd_group_scratch,
    &dd_group_files,      &dd_group_records,
    &dd_group_help,       NULL,
};
static const dd_option_group *const help_only[] = {&dd_group_help, NULL};
static const dd_option_group *const remove_groups[] = {&dd_group_key, &dd_group_help, NULL};

static const dd_command_spec index_commands[] = {
    {"index build",
     "Usage: dedup index build PATH... -o DIR.ddx\n"
     "\n"
     "A new index of the documents under PATH..., signed as scan signs them (each\n"
     "record of a shard, *.jsonl[.gz|.zst], under its id). The index records the\n"
     "settings below; scan, check and filter use it only with the same ones.\n",
     build_groups, "0 success, 2 usage or input error.", false},
    {"index add",
     "Usage: dedup index add DIR.ddx PATH...\n"
     "\n"
     "Add or update the documents under PATH... (a document whose size and\n"
     "mtime are unchanged is not read again), with the index's settings.\n",
     add_groups, "0 success, 2 usage or input error.", false},
    {"index info",
     "Usage: dedup index info DIR.ddx\n"
     "\n"
     "Print the index's settings and counts.\n",
     help_only, "0 success, 2 usage or input error.", false},
    {"index remove",
     "Usage: dedup index remove DIR.ddx ID...\n"
     "\n"
     "Remove documents by id (the path they were indexed under).\n",
     remove_groups, "0 success, 2 usage or input error.", false},
};

/*
 * Adding documents, on every core (run.h). The calling thread first goes
 * over the inputs in order, without a word, to find what each needs (stat,
 * and the index's record: a document whose size and mtime are unchanged is
 * not read again; LMDB stays on the thread of its write transaction). The
 * workers then read, check and sign the documents to read (pure: an
 * analyser and a signer per thread), and the calling thread takes the
 * results in input order: messages, counts, the progress line and the
 * writes to the index, exactly as one thread would.
 */

/* What an input needs, found before the workers start. */
typedef enum plan {
    PLAN_READ,     /* read, sign and store */
    PLAN_STDIN,    /* standard input: refused */
    PLAN_NO_STAT,  /* stat failed */
    PLAN_SAME,     /* indexed with the same size and mtime: skipped */
    PLAN_DDX_FAIL, /* the index could not be read: the run stops there */
} plan;

typedef struct planned {
    plan what;
    uint64_t size;
    int64_t mtime_ns;
    char *err; /* PLAN_DDX_FAIL */
} planned;

typedef struct signer_state {
    dd_analyzer a;
    dd_signatures sigs; /* one document at a time */
    bool ok;
} signer_state;

typedef struct signed_doc {
    dd_run_result run;
    dd_load_status loaded;
    dd_not_text bad;
    sh_buf text;
    dd_doc doc;
    dd_ddx_doc rec; /* key, words, shingles, minhash (its own copy) */
    uint32_t *minhash;
    size_t minhash_cap;
    uint64_t *keys; /* band keys */
    size_t keys_cap;
    dd_ddx_para *paras;
    size_t paras_cap;
} signed_doc;

typedef struct index_run {
    dd_ddx *x;
    const dd_options *o;
    dd_inputs in;
    dd_name_room room; /* the consumer's (store_one), for the names of in */
    planned *plans;
    dd_progress *progress;
    size_t *added, *skipped, *left_out;
    uint64_t *bytes;
    int problems;
} index_run;

static uint64_t input_weight(void *ctx, size_t i)
{
    const index_run *r = ctx;
    return dd_input_size(&r->in, i);
}

static void *signer_new(void *ctx)
{
    const index_run *r = ctx;
    signer_state *w = dd_calloc(1, sizeof *w);
    sh_buf lost = {0}; /* a failure is reported by each document (sign_one) */
    dd_messages_capture(&lost);
    w->ok = dd_analyzer_init(&w->a, r->o->unit, &r->o->hash, NULL);
    if (w->ok && !dd_signatures_init(&w->sigs, &r->o->near, &r->o->hash, NULL)) {
        dd_analyzer_free(&w->a);
        w->ok = false;
    }
    dd_messages_capture(NULL);
    sh_buf_free(&lost);
    return w;
}

static void signer_free(void *ctx, void *state)
{
    (void)ctx;
    signer_state *w = state;
    if (w->ok) {
        dd_analyzer_free(&w->a);
        dd_signatures_free(&w->sigs);
    }
    free(w);
}

static void signed_doc_free(void *ctx, void *result)
{
    (void)ctx;
    signed_doc *d = result;
    sh_buf_free(&d->text);
    dd_doc_free(&d->doc);
    free(d->minhash);
    free(d->keys);
    free(d->paras);
}

/* dd_ordered_map.work: reads, checks and signs input i (pure). */
static void sign_one(void *ctx, void *state, size_t i, void *result)
{
    const index_run *r = ctx;
    signer_state *w = state;
    signed_doc *d = result;
    if (r->plans[i].what != PLAN_READ)
        return;
    if (!w->ok) {
        dd_error("cannot start the normaliser");
        d->loaded = DD_LOAD_FAILED;
        return;
    }
    const dd_options *o = r->o;
    dd_name_room room = {0};
    const dd_input input = dd_inputs_get(&r->in, i, &room);
    d->loaded =
        dd_input_load(&input, (size_t)o->max_record_mb << 20, &w->a, &d->text, &d->doc, &d->bad);
    dd_name_room_free(&room);
    if (d->loaded != DD_LOAD_TEXT)
        return;
    w->sigs.n = 0;
    dd_signatures_add(&w->sigs, &d->doc.words, d->doc.key, &o->hash);
    dd_grow(&d->keys, &d->keys_cap, o->near.bands + o->near.hamming + 2, sizeof *d->keys);
    dd_signature_keys(&w->sigs, 0, d->keys);
    dd_grow(&d->minhash, &d->minhash_cap, o->near.num_perm, sizeof *d->minhash);
    memcpy(d->minhash, w->sigs.minhash, o->near.num_perm * sizeof *d->minhash);
    dd_grow(&d->paras, &d->paras_cap, d->doc.nunits + 1, sizeof *d->paras);
    for (size_t u = 0; u < d->doc.nunits; u++)
        d->paras[u] = (dd_ddx_para){d->doc.units[u].key, (uint32_t)d->doc.units[u].first_line,
                                    (uint32_t)d->doc.units[u].last_line};
    d->rec = (dd_ddx_doc){.key = d->doc.key,
                          .words = w->sigs.docs[0].words,
                          .shingles = w->sigs.docs[0].shingles,
                          .minhash = d->minhash};
}

/* dd_ordered_map.consume: input i, in input order. False stops the run. */
static bool store_one(void *ctx, size_t i, void *result)
{
    index_run *r = ctx;
    signed_doc *d = result;
    const dd_input input = dd_inputs_get(&r->in, i, &r->room), *in = &input;
    planned *p = &r->plans[i];
    dd_progress_update(r->progress, i, *r->bytes);
    switch (p->what) {
    case PLAN_STDIN:
        dd_error("index: standard input has no path to index it by");
        r->problems++;
        return true;
    case PLAN_NO_STAT: {
        char *pr = dd_printable(in->id);
        dd_error("%s: cannot stat", pr);
        free(pr);
        r->problems++;
        return true;
    }
    case PLAN_SAME:
        (*r->skipped)++;
        return true;
    case PLAN_DDX_FAIL:
        dd_error("%s", p->err);
        r->problems++;
        return false;
    case PLAN_READ:
        break;
    }
    if (d->loaded == DD_LOAD_FAILED) {
        r->problems++;
        return true;
    }
    *r->bytes += d->text.len;
    if (d->loaded == DD_LOAD_BINARY) /* warned; not indexed */
        return true;
    if (d->loaded == DD_LOAD_NOT_TEXT && r->o->on_error == DD_ON_ERROR_STOP) {
        dd_input_report_not_text(in, &d->bad, false, NULL);
        r->problems++;
        return false;
    }
    if (d->loaded == DD_LOAD_NOT_TEXT) {
        dd_input_report_not_text(in, &d->bad, false, "not indexed");
        (*r->left_out)++;
        return true;
    }
    d->rec.id = (char *)in->id; /* the list's: dd_ddx_put only reads it */
    d->rec.size = p->size;
    d->rec.mtime_ns = p->mtime_ns;
    char *err = NULL;
    if (!dd_ddx_put(r->x, &d->rec, d->keys, d->paras, d->doc.nunits, &err)) {
        dd_error("%s", err);
        free(err);
        r->problems++;
        return false;
    }
    (*r->added)++;
    return true;
}

/* Adds (or updates) the documents under paths to x, inside its write
 * transaction. Returns the number of problems; *added, *skipped (unchanged)
 * and *left_out (not text, --on-error skip or drop: not indexed) count, and
 * *bytes counts the bytes read. */
static int index_paths(dd_ddx *x, const dd_options *o, char *const *paths, size_t npaths,
                       size_t *added, size_t *skipped, size_t *left_out, uint64_t *bytes,
                       dd_progress *progress)
{
    index_run r = {.x = x,
                   .o = o,
                   .progress = progress,
                   .added = added,
                   .skipped = skipped,
                   .left_out = left_out,
                   .bytes = bytes};
    dd_records_spec records = dd_options_records(o);
    r.problems = dd_inputs_collect(&r.in, paths, npaths, &records);
    r.plans = dd_calloc(r.in.n ? r.in.n : 1, sizeof *r.plans);
    size_t n = 0; /* inputs up to the first that the index cannot answer for */
    while (n < r.in.n) {
        const dd_input input = dd_inputs_get(&r.in, n, &r.room), *d = &input;
        planned *p = &r.plans[n++];
        struct stat st;
        if (d->is_stdin) {
            p->what = PLAN_STDIN;
            continue;
        }
        if (stat(d->path, &st) != 0) {
            p->what = PLAN_NO_STAT;
            continue;
        }
        p->size = (uint64_t)st.st_size;
        p->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
        dd_ddx_doc old = {0};
        if (dd_ddx_get(x, d->id, &old, &p->err)) {
            bool same = old.size == p->size && old.mtime_ns == p->mtime_ns;
            dd_ddx_doc_free(&old);
            p->what = same ? PLAN_SAME : PLAN_READ;
        } else if (p->err) {
            p->what = PLAN_DDX_FAIL;
            break;
        } else {
            p->what = PLAN_READ;
        }
    }
    uint64_t to_read = 0;
    for (size_t i = 0; i < n; i++)
        to_read += r.plans[i].what == PLAN_READ ? r.plans[i].size : 0;
    dd_progress_expect(progress, to_read);
    unsigned threads = o->threads ? (unsigned)o->threads : dd_online_cpus();
    dd_ordered_map m = {
        .n = n,
        .threads = threads,
        .window = 16 * (size_t)threads,
        .max_weight = (uint64_t)32 << 20,
        .ctx = &r,
        .result_size = sizeof(signed_doc),
        .weight = input_weight,
        .worker_new = signer_new,
        .worker_free = signer_free,
        .work = sign_one,
        .consume = store_one,
        .result_free = signed_doc_free,
    };
    dd_run_in_order(&m);
    dd_progress_update(progress, r.in.n, *bytes);
    for (size_t i = 0; i < n; i++)
        free(r.plans[i].err);
    free(r.plans);
    dd_name_room_free(&r.room);
    dd_inputs_free(&r.in);
    return r.problems;
}

/* Removes what builds of ddx that were killed left beside it (see
 * dd_ddx_remove_stale_parts), saying so in one line each. name: "index
 * build" or "index add". */
static void remove_stale_parts(const char *name, const char *ddx)
{
    size_t n;
    dd_ddx_stale_part *parts = dd_ddx_remove_stale_parts(ddx, &n);
    for (size_t i = 0; i < n; i++) {
        char *p = dd_printable(parts[i].path);
        if (!parts[i].err)
            fprintf(stderr,
                    "dedup %s: %s: removed, left by an index build that was killed "
                    "(process %ld no longer runs)\n",
                    name, p, parts[i].pid);
        else
            dd_warn("%s: left by an index build that was killed (process %ld no longer runs), "
                    "but not removed: %s",
                    p, parts[i].pid,
                    parts[i].err == ENOTEMPTY ? "it holds other files" : strerror(parts[i].err));
        free(p);
    }
    dd_ddx_stale_parts_free(parts, n);
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
    remove_stale_parts(name, ddx);
    char *err = NULL;
    dd_ddx *x =
        create ? dd_ddx_create_staged(ddx, &want, &err) : dd_ddx_open(ddx, true, &want, &err);
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
    int problems = index_paths(x, o, paths, npaths, &added, &skipped, &left_out, &bytes, &progress);
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

/* Prints "label: value" for value[0..len): the index's path, or a string
 * of the settings read from the index (which anyone may have written),
 * escaped as every text output is (dd_printable), so that it cannot drive
 * the terminal or forge a line. */
static void print_text(const char *label, const char *value, size_t len)
{
    char *copy = dd_asprintf("%.*s", (int)len, value);
    char *shown = dd_printable(copy);
    printf("%s: %s\n", label, shown);
    free(shown);
    free(copy);
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
    print_text("index", ddx, strlen(ddx));
    printf("format: %d\n", DD_DDX_FORMAT);
    size_t norm_len;
    const char *scheme = dd_ddx_profile_scheme(s->profile, &norm_len);
    print_text("normaliser", s->profile, norm_len);
    print_text("signatures", scheme, strlen(scheme));
    printf("unit: %s\n", s->unit_mode ? "block" : "line");
    printf("ngram: %u\n", s->ngram);
    printf("num-perm: %u\n", s->num_perm);
    printf("bands x rows: %u x %u\n", s->bands, s->rows);
    printf("seed: %llu\n", (unsigned long long)s->seed);
    const char *fingerprint = s->key_fingerprint[0] ? s->key_fingerprint : "none";
    print_text("key fingerprint", fingerprint, strlen(fingerprint));
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
                status = dd_usage_error(spec->name, "-o DIR.ddx names the index to create");
            } else {
                status = index_write(spec->name, o.output, true, &o, o.paths, o.npaths);
            }
        } else if (!strcmp(sub, "info")) {
            status = o.npaths == 1 ? index_info(o.paths[0])
                                   : dd_usage_error(spec->name, "give one DIR.ddx");
        } else if (o.npaths < 2) {
            status = dd_usage_error(spec->name, "give DIR.ddx and at least one %s",
                                    strcmp(sub, "add") ? "ID" : "PATH");
        } else if (!strcmp(sub, "add")) {
            status = index_write(spec->name, o.paths[0], false, &o, o.paths + 1, o.npaths - 1);
        } else {
            status = index_remove(o.paths[0], &o, o.paths + 1, o.npaths - 1);
        }
    }
    free(args);
    return status;
}
