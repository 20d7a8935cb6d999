/*
 * across_stages.c - the group and verify stages of the search for
 * near-repeated paragraphs across documents, in a work folder
 * (across_stages.h).
 */
#include "run/across_stages.h"

#include "engine/unit_pairs.h"
#include "run/facts.h"
#include "run/memory.h"
#include "run/near_across.h"
#include "run/run.h"
#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MATCH_BYTES 48

/* The facts of a document, read from its part and decoded. */
typedef struct decoded {
    dd_analysed r;
    size_t doc;    /* decoded in r: 1 + its number (0: none) */
    uint64_t used; /* when last asked for */
} decoded;

/* Documents' facts, one reader per thread. Verifying asks for a later
 * unit's document, then for the earlier ones of its candidates, then for
 * the later one again: the last two documents asked for are kept. */
#define DECODED_KEPT 2

typedef struct facts_reader {
    const dd_work *w;
    dd_facts_reader file;
    sh_buf bytes;
    decoded kept[DECODED_KEPT];
    uint64_t clock;
} facts_reader;

static void facts_reader_free(facts_reader *f)
{
    dd_facts_reader_close(&f->file);
    sh_buf_free(&f->bytes);
    for (size_t k = 0; k < DECODED_KEPT; k++) {
        dd_analysed *r = &f->kept[k].r;
        dd_analysed_clear(r);
        sh_buf_free(&r->run.messages);
    }
    memset(f, 0, sizeof *f);
}

/* The facts of document doc: NULL, with *why set, when they cannot be
 * read or are damaged. Valid until the next call but one. */
static const dd_analysed *read_document(facts_reader *f, size_t doc, char **why)
{
    decoded *d = &f->kept[0];
    for (size_t k = 0; k < DECODED_KEPT; k++) {
        if (f->kept[k].doc == doc + 1) {
            f->kept[k].used = ++f->clock;
            return &f->kept[k].r;
        }
        if (f->kept[k].used < d->used)
            d = &f->kept[k];
    }
    d->doc = 0;
    sh_buf said = {0};
    dd_messages_capture(&said);
    bool read = dd_work_read_facts(f->w, &f->file, doc, &f->bytes);
    dd_messages_capture(NULL);
    d->r.run.messages.len = 0;
    if (!read) {
        *why = dd_asprintf("%s", said.len ? said.data : "cannot read the facts of a document");
        sh_buf_free(&said);
        return NULL;
    }
    sh_buf_free(&said);
    if (!dd_facts_decode(f->bytes.data, f->bytes.len, f->w->num_perm, (uint32_t)doc, &d->r)) {
        *why = dd_asprintf("%s: the facts of document %zu are damaged; remove the folder and run "
                           "again",
                           f->w->dir, doc);
        return NULL;
    }
    d->doc = doc + 1;
    d->used = ++f->clock;
    return &d->r;
}

/* Whether the facts of r hold units searched across documents. */
static bool searched(const dd_analysed *r)
{
    return r->status == DD_LOAD_TEXT || r->status == DD_LOAD_BINARY;
}

/* ------------------------------------------------------------- group */

/* The entries of the partitions of a batch from one sign part: at [slot *
 * DD_NEAR_UNIT_BANDS + band], slot the partition's place in the batch. */
typedef struct part_entries {
    dd_unit_entry **v;
    size_t *n, *cap;
    char *why; /* what went wrong reading them (NULL: nothing) */
} part_entries;

typedef struct group_job {
    dd_work *w;
    const size_t *slot_of; /* per partition: its place in the batch, SIZE_MAX: not in it */
    size_t nslots;
    part_entries *parts; /* per sign part */
} group_job;

static void *reader_new(void *ctx)
{
    facts_reader *f = dd_calloc(1, sizeof *f);
    f->w = ctx;
    return f;
}

static void reader_free(void *ctx, void *state)
{
    (void)ctx;
    if (state) {
        facts_reader_free(state);
        free(state);
    }
}

/* dd_pool work: the entries of the batch's partitions from sign part j. */
static void group_part(void *ctx, void *state, size_t j)
{
    group_job *job = ctx;
    facts_reader *f = state;
    const dd_part *p = &job->w->parts[j];
    part_entries *out = &job->parts[j];
    size_t lists = job->nslots * DD_NEAR_UNIT_BANDS;
    out->v = dd_calloc(lists, sizeof *out->v);
    out->n = dd_calloc(lists, sizeof *out->n);
    out->cap = dd_calloc(lists, sizeof *out->cap);
    uint64_t partitions = job->w->nparts;
    for (size_t doc = p->first; doc < p->first + p->n; doc++) {
        const dd_analysed *r = read_document(f, doc, &out->why);
        if (!r)
            return;
        if (!searched(r))
            continue;
        for (size_t u = 0; u < r->doc.nunits; u++) {
            if (r->doc.units[u].words < DD_NEAR_UNIT_ACROSS_MIN_WORDS)
                continue;
            const uint64_t *set = r->sets.hashes + r->sets.start[u];
            size_t n = r->sets.start[u + 1] - r->sets.start[u];
            uint64_t set_key = dd_unit_set_key(set, n).lo;
            for (size_t b = 0; b < DD_NEAR_UNIT_BANDS; b++) {
                uint64_t key = r->band_keys[u * DD_NEAR_UNIT_BANDS + b];
                size_t slot = job->slot_of[key % partitions];
                if (slot == SIZE_MAX)
                    continue;
                size_t l = slot * DD_NEAR_UNIT_BANDS + b;
                dd_grow(&out->v[l], &out->cap[l], out->n[l] + 1, sizeof *out->v[l]);
                out->v[l][out->n[l]++] =
                    (dd_unit_entry){key, set_key, dd_unit_id((uint32_t)doc, (uint32_t)u)};
            }
        }
    }
}

typedef struct pair_list {
    dd_unit_pair *v;
    size_t n, cap;
} pair_list;

static void take_pair(void *ctx, dd_unit_pair pair)
{
    pair_list *l = ctx;
    dd_grow(&l->v, &l->cap, l->n + 1, sizeof *l->v);
    l->v[l->n++] = pair;
}

/* Makes group partition k, whose entries are at slot of job (freed):
 * false after a message. */
static bool write_group(dd_work *w, group_job *job, size_t slot, size_t k)
{
    pair_list pairs = {0};
    for (size_t b = 0; b < DD_NEAR_UNIT_BANDS; b++) {
        /* The band's entries of every part, in one array. */
        size_t l = slot * DD_NEAR_UNIT_BANDS + b, n = 0;
        for (size_t j = 0; j < w->nparts; j++)
            n += job->parts[j].n[l];
        dd_unit_entry *v = dd_malloc((n ? n : 1) * sizeof *v);
        n = 0;
        for (size_t j = 0; j < w->nparts; j++) {
            if (job->parts[j].n[l])
                memcpy(v + n, job->parts[j].v[l], job->parts[j].n[l] * sizeof *v);
            n += job->parts[j].n[l];
            free(job->parts[j].v[l]);
            job->parts[j].v[l] = NULL;
        }
        dd_unit_entries_sort(v, n);
        dd_unit_entries_pairs(v, n, take_pair, &pairs);
        free(v);
    }
    size_t n = dd_unit_pairs_sort(pairs.v, pairs.n);
    /* Where each verify partition's pairs start, then the pairs. */
    size_t len = 8 * (w->nparts + 1) + 16 * n;
    unsigned char *body = dd_malloc(len);
    size_t at = 0;
    for (size_t v = 0; v <= w->nparts; v++) {
        while (at < n && dd_work_part_of(w, dd_unit_id_doc(pairs.v[at].later)) < v)
            at++;
        dd_put_le64(body + 8 * v, v == w->nparts ? n : at);
    }
    unsigned char *p = body + 8 * (w->nparts + 1);
    for (size_t i = 0; i < n; i++, p += 16) {
        dd_put_le64(p, pairs.v[i].later);
        dd_put_le64(p + 8, pairs.v[i].earlier);
    }
    bool ok = dd_work_write_stage_file(w, "group", k, body, len);
    free(body);
    free(pairs.v);
    return ok;
}

/* Makes the group partitions todo[0..n), reading the facts of every sign
 * part once (on the pool): false after a message. */
static bool make_groups(dd_work *w, dd_pool *pool, const size_t *todo, size_t n)
{
    size_t *slot_of = dd_malloc(w->nparts * sizeof *slot_of);
    for (size_t k = 0; k < w->nparts; k++)
        slot_of[k] = SIZE_MAX;
    for (size_t i = 0; i < n; i++)
        slot_of[todo[i]] = i;
    group_job job = {w, slot_of, n, dd_calloc(w->nparts, sizeof *job.parts)};
    dd_pool_for(pool, w->nparts, &job, group_part);
    bool ok = true;
    for (size_t j = 0; j < w->nparts && ok; j++)
        if (job.parts[j].why) {
            dd_error("%s", job.parts[j].why);
            ok = false;
        }
    for (size_t i = 0; i < n && ok; i++)
        ok = write_group(w, &job, i, todo[i]);
    for (size_t j = 0; j < w->nparts; j++) {
        for (size_t l = 0; l < n * DD_NEAR_UNIT_BANDS; l++)
            free(job.parts[j].v[l]);
        free(job.parts[j].v);
        free(job.parts[j].n);
        free(job.parts[j].cap);
        free(job.parts[j].why);
    }
    free(job.parts);
    free(slot_of);
    return ok;
}

/* ------------------------------------------------------------ verify */

/* The most bytes the facts of the signed parts hold. */
static uint64_t facts_bytes(const dd_work *w)
{
    uint64_t bytes = 0;
    for (size_t k = 0; k < w->nparts; k++)
        bytes += w->offsets[k][w->parts[k].n] - w->offsets[k][0];
    return bytes;
}

/* The most bytes of a group file's body: a unit searched takes 64 bytes of
 * facts at least (a hash of its set, its band keys), and has at most
 * DD_NEAR_UNIT_MAX_BUCKET candidates a band. */
static uint64_t group_most_bytes(const dd_work *w)
{
    return 8 * ((uint64_t)w->nparts + 1) +
           facts_bytes(w) / 64 * DD_NEAR_UNIT_BANDS * DD_NEAR_UNIT_MAX_BUCKET * 16;
}

/* dd_unit_source.unit of the sign parts: by the unit's id (dd_unit_id). */
static const uint64_t *unit_of_facts(const void *ctx, void *reader, uint64_t id, uint64_t **buf,
                                     size_t *cap, char **why)
{
    (void)ctx;
    facts_reader *f = reader;
    size_t doc = (size_t)(id >> 32), u = (uint32_t)id;
    const dd_analysed *r = read_document(f, doc, why);
    if (!r)
        return NULL;
    if (!searched(r) || u >= r->doc.nunits) {
        *why = dd_asprintf("%s: a candidate pair names a paragraph that document %zu does not "
                           "have: the group files are not of these facts; remove the folder and "
                           "run again",
                           f->w->dir, doc);
        return NULL;
    }
    size_t n = r->sets.start[u + 1] - r->sets.start[u];
    dd_grow(buf, cap, n + 2, sizeof **buf);
    (*buf)[0] = id;
    (*buf)[1] = n;
    memcpy(*buf + 2, r->sets.hashes + r->sets.start[u], n * sizeof **buf);
    return *buf;
}

static void *source_reader_new(const void *ctx) { return reader_new((void *)ctx); }

static void source_reader_free(void *reader) { reader_free(NULL, reader); }

typedef struct match_sink {
    unsigned char *v;
    size_t len, cap;
} match_sink;

static bool take_matches(void *ctx, const dd_near_unit *v, size_t n)
{
    match_sink *s = ctx;
    dd_grow(&s->v, &s->cap, s->len + n * MATCH_BYTES, 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char *b = s->v + s->len;
        uint64_t jaccard, containment;
        memcpy(&jaccard, &v[i].jaccard, 8);
        memcpy(&containment, &v[i].containment, 8);
        dd_put_le64(b, (uint64_t)v[i].of_doc << 32 | v[i].doc);
        dd_put_le64(b + 8, v[i].unit);
        dd_put_le64(b + 16, v[i].of);
        dd_put_le64(b + 24, jaccard);
        dd_put_le64(b + 32, containment);
        dd_put_le64(b + 40, v[i].alternative);
        s->len += MATCH_BYTES;
    }
    return true;
}

/* Makes verify partition k from the group files (read whole and right):
 * false after a message. */
static bool make_verify(dd_work *w, dd_unit_verifier *verifier, size_t k)
{
    pair_list pairs = {0};
    sh_buf body = {0};
    uint64_t most = group_most_bytes(w);
    bool ok = true;
    for (size_t g = 0; g < w->nparts && ok; g++) {
        char *why;
        if (!dd_work_read_stage_file(w, "group", g, most, &body, &why)) {
            char *path = dd_work_stage_path(w, "group", g);
            char *p = dd_printable(path);
            dd_error("%s: %s", p, why ? why : "not grouped: make every group partition first");
            free(p);
            free(path);
            free(why);
            ok = false;
            break;
        }
        const unsigned char *b = (const unsigned char *)body.data;
        size_t head = 8 * (w->nparts + 1);
        uint64_t from = body.len >= head ? dd_get_le64(b + 8 * k) : 1,
                 to = body.len >= head ? dd_get_le64(b + 8 * (k + 1)) : 0,
                 all = body.len >= head ? dd_get_le64(b + 8 * w->nparts) : 0;
        if (from > to || to > all || body.len != head + 16 * all) {
            char *path = dd_work_stage_path(w, "group", g);
            dd_error("%s: damaged: its index is wrong; remove it and run again", path);
            free(path);
            ok = false;
            break;
        }
        dd_grow(&pairs.v, &pairs.cap, pairs.n + (size_t)(to - from) + 1, sizeof *pairs.v);
        for (uint64_t i = from; i < to; i++) {
            const unsigned char *p = b + head + 16 * i;
            pairs.v[pairs.n++] = (dd_unit_pair){dd_get_le64(p), dd_get_le64(p + 8)};
        }
    }
    sh_buf_free(&body);
    /* Every pair: its later unit in part k, after the earlier one. */
    for (size_t i = 0; i < pairs.n && ok; i++) {
        uint64_t later_doc = pairs.v[i].later >> 32, earlier_doc = pairs.v[i].earlier >> 32;
        const dd_part *p = &w->parts[k];
        if (later_doc < p->first || later_doc >= p->first + p->n || earlier_doc >= later_doc) {
            dd_error("%s: a group file names a pair of another partition; remove the folder and "
                     "run again",
                     w->dir);
            ok = false;
        }
    }
    match_sink matches = {0};
    if (ok) {
        size_t n = dd_unit_pairs_sort(pairs.v, pairs.n);
        char *why = NULL;
        ok = dd_unit_verifier_run(verifier, pairs.v, n, take_matches, &matches, &why);
        if (!ok)
            dd_error("%s", why ? why : "verifying paragraphs");
        free(why);
    }
    free(pairs.v);
    ok = ok &&
         dd_work_write_stage_file(w, "verify", k, matches.v ? matches.v : (void *)"", matches.len);
    free(matches.v);
    return ok;
}

bool dd_across_read_matches(const dd_work *w, size_t part, const size_t *unit_start,
                            dd_near_unit_list *out)
{
    out->n = 0;
    sh_buf body = {0};
    char *why;
    uint64_t most = 3 * group_most_bytes(w) * (MATCH_BYTES / 16);
    bool ok = dd_work_read_stage_file(w, "verify", part, most, &body, &why);
    char *path = dd_work_stage_path(w, "verify", part);
    char *p = dd_printable(path);
    free(path);
    if (!ok) {
        dd_error("%s: %s", p, why ? why : "not verified: verify every partition first");
        free(why);
    } else if (body.len % MATCH_BYTES) {
        dd_error("%s: damaged; remove it and run again", p);
        ok = false;
    }
    const dd_part *pt = &w->parts[part];
    size_t n = ok ? body.len / MATCH_BYTES : 0;
    dd_grow(&out->v, &out->cap, n + 1, sizeof *out->v);
    for (size_t i = 0; i < n && ok; i++) {
        const unsigned char *b = (const unsigned char *)body.data + i * MATCH_BYTES;
        uint64_t docs = dd_get_le64(b), jaccard = dd_get_le64(b + 24),
                 containment = dd_get_le64(b + 32), alternative = dd_get_le64(b + 40);
        dd_near_unit *x = &out->v[i];
        x->doc = (uint32_t)docs;
        x->of_doc = (uint32_t)(docs >> 32);
        uint64_t unit = dd_get_le64(b + 8), of = dd_get_le64(b + 16);
        memcpy(&x->jaccard, &jaccard, 8);
        memcpy(&x->containment, &containment, 8);
        x->alternative = alternative == 1;
        ok = x->doc >= pt->first && x->doc < pt->first + pt->n && x->of_doc < x->doc &&
             (i == 0 || x->doc >= out->v[i - 1].doc) && alternative <= 1 &&
             unit < unit_start[x->doc + 1] - unit_start[x->doc] &&
             of < unit_start[x->of_doc + 1] - unit_start[x->of_doc] && x->jaccard >= 0 &&
             x->jaccard <= 1 && x->containment >= 0 && x->containment <= 1;
        x->unit = (size_t)unit;
        x->of = (size_t)of;
        if (!ok)
            dd_error("%s: damaged: a match that cannot be; remove it and run again", p);
    }
    out->n = ok ? n : 0;
    free(p);
    sh_buf_free(&body);
    return ok;
}

/* ------------------------------------------------------------ stages */

/* Whether partition k of stage is made, whole and right; says what is
 * wrong with a file that is there. */
static bool stage_done(const dd_work *w, const char *stage, size_t k, bool say)
{
    sh_buf body = {0};
    char *why;
    uint64_t most = !strcmp(stage, "group") ? group_most_bytes(w)
                                            : 3 * group_most_bytes(w) * (MATCH_BYTES / 16);
    bool ok = dd_work_read_stage_file(w, stage, k, most, &body, &why);
    sh_buf_free(&body);
    if (!ok && why && say) {
        char *path = dd_work_stage_path(w, stage, k);
        char *p = dd_printable(path);
        dd_warn("%s: %s; making it again", p, why);
        free(p);
        free(path);
    }
    free(why);
    return ok;
}

bool dd_across_stage_run(dd_work *w, const dd_options *o, const char *stage, unsigned threads,
                         bool make_missing)
{
    bool group = !strcmp(stage, "group");
    if (!group) {
        /* Verify reads every group file. */
        for (size_t k = 0; k < w->nparts; k++)
            if (!stage_done(w, "group", k, false)) { /* said when it is made again */
                if (!make_missing) {
                    char *path = dd_work_stage_path(w, "group", k);
                    char *p = dd_printable(path);
                    dd_error("%s: not grouped, or damaged: make every group partition first "
                             "(--stage group, or every --task)",
                             p);
                    free(p);
                    free(path);
                    return false;
                }
                dd_options all = *o;
                all.work.one_task = false;
                if (!dd_across_stage_run(w, &all, "group", threads, true))
                    return false;
                break;
            }
    }
    dd_pool *pool = group ? dd_pool_new("group", threads, w, reader_new, reader_free) : NULL;
    dd_unit_source src = {unit_of_facts, source_reader_new, source_reader_free, w};
    dd_unit_verifier *verifier =
        group ? NULL : dd_unit_verifier_new(&src, threads, o->para_threshold);
    bool ok = true;
    /* Group: the partitions to make, in batches, each made from one pass
     * over the facts; a batch's entries (32 bytes a band key: about half a
     * byte a byte of facts in all) within the budget's share. */
    size_t *todo = dd_malloc((w->nparts ? w->nparts : 1) * sizeof *todo), ntodo = 0;
    uint64_t per_partition = facts_bytes(w) / 2 / (w->nparts ? w->nparts : 1) + 1;
    size_t batch = dd_memory_near_across_share(o->memory) / per_partition;
    batch = batch ? batch : 1;
    for (size_t k = 0; k < w->nparts && ok; k++) {
        if (o->work.one_task && k % o->work.tasks != o->work.task)
            continue;
        if (stage_done(w, stage, k, true))
            continue;
        if (!group) {
            ok = make_verify(w, verifier, k);
            continue;
        }
        todo[ntodo++] = k;
        if (ntodo == batch) {
            ok = make_groups(w, pool, todo, ntodo);
            ntodo = 0;
        }
    }
    if (ok && ntodo)
        ok = make_groups(w, pool, todo, ntodo);
    free(todo);
    dd_pool_free(pool);
    dd_unit_verifier_free(verifier);
    return ok;
}
