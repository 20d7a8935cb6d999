/*
 * doc_stages.c - the clustering of near-duplicate documents as stages of a
 * work folder (doc_stages.h).
 */
#include "run/doc_stages.h"

#include "engine/doc_pairs.h"
#include "run/across_stages.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#define ENTRY_BYTES 20  /* a docs file's band key: key, band, document, words */
#define TABLE_BYTES 24  /* a docs file's document: document, where its signature is, checksum */
#define PAIR_BYTES 12   /* a group-docs pair: later, earlier, shares */
#define HOT_BYTES 8     /* a hot entry: document, band */
#define JUDGED_BYTES 48 /* a verify-docs pair, with its verdict */

static const char DOCS_MAGIC[8] = {'D', 'D', 'D', 'O', 'C', 'S', '0', '1'};
static const char GROUP_DOCS_MAGIC[8] = {'D', 'D', 'G', 'D', 'O', 'C', 'S', '1'};

static void put32(unsigned char *b, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint64_t bits_of(double d)
{
    uint64_t v;
    memcpy(&v, &d, sizeof v);
    return v;
}

static double double_of(uint64_t v)
{
    double d;
    memcpy(&d, &v, sizeof d);
    return d;
}

/* Says, for the file at path, what: an error. */
static void say_file(const char *path, const char *what)
{
    char *p = dd_printable(path);
    dd_error("%s: %s", p, what);
    free(p);
}

/* ------------------------------------------------------------ docs files */

char *dd_doc_keys_path(const dd_work *w, size_t part)
{
    char *p = dd_work_part_path(w, part);
    char *docs = dd_asprintf("%s.docs", p);
    free(p);
    return docs;
}

typedef struct doc_key {
    uint64_t key;
    uint32_t band, doc, words;
} doc_key;

struct dd_doc_keys {
    const dd_work *w;
    size_t part;
    doc_key *keys;
    size_t nkeys, keys_cap;
    unsigned char *table; /* TABLE_BYTES a document */
    size_t table_len, table_cap;
    unsigned char *sig; /* a signature's bytes, for its checksum */
    size_t sig_cap;
};

dd_doc_keys *dd_doc_keys_new(const dd_work *w, size_t part)
{
    dd_doc_keys *b = dd_calloc(1, sizeof *b);
    b->w = w;
    b->part = part;
    return b;
}

void dd_doc_keys_add(dd_doc_keys *b, uint32_t doc, const dd_analysed *r, uint64_t facts_end)
{
    const dd_near_params *p = &b->w->near;
    if (!p->enabled || !(r->status == DD_LOAD_TEXT || r->status == DD_LOAD_BINARY) ||
        r->sig.doc.words == 0)
        return;
    size_t nkeys = dd_near_keys_per_doc(p);
    uint64_t keys[64 + 1];
    uint64_t *k = nkeys <= 64 ? keys : dd_malloc(nkeys * sizeof *k);
    dd_keys_of_signature(p, r->sig.minhash, r->sig.simhash, k);
    dd_grow(&b->keys, &b->keys_cap, b->nkeys + nkeys, sizeof *b->keys);
    for (size_t band = 0; band < nkeys; band++)
        b->keys[b->nkeys++] = (doc_key){k[band], (uint32_t)band, doc, r->sig.doc.words};
    if (k != keys)
        free(k);
    /* Where its signature is: the end of its facts (facts.h), as written. */
    size_t n = dd_facts_signature_bytes(b->w->num_perm);
    dd_grow(&b->sig, &b->sig_cap, n, 1);
    unsigned char *s = b->sig;
    dd_put_le64(s, r->sig.doc.key.lo);
    dd_put_le64(s + 8, r->sig.doc.key.hi);
    put32(s + 16, r->sig.doc.words);
    put32(s + 20, r->sig.doc.shingles);
    dd_put_le64(s + 24, r->sig.simhash);
    for (size_t i = 0; i < b->w->num_perm; i++)
        put32(s + 32 + 4 * i, r->sig.minhash[i]);
    dd_grow(&b->table, &b->table_cap, b->table_len + TABLE_BYTES, 1);
    unsigned char *t = b->table + b->table_len;
    dd_put_le64(t, doc);
    dd_put_le64(t + 8, facts_end - n);
    dd_put_le64(t + 16, XXH3_64bits(s, n));
    b->table_len += TABLE_BYTES;
}

bool dd_doc_keys_write(dd_doc_keys *b, size_t ndocs)
{
    const dd_work *w = b->w;
    if (!w->near.enabled)
        return true;
    /* The keys by partition (counted, then moved). */
    size_t *start = dd_calloc(w->nparts + 1, sizeof *start);
    for (size_t i = 0; i < b->nkeys; i++)
        start[b->keys[i].key % w->nparts + 1]++;
    for (size_t k = 0; k < w->nparts; k++)
        start[k + 1] += start[k];
    unsigned char *body = dd_malloc(b->nkeys * ENTRY_BYTES + 1);
    size_t *next = dd_malloc((w->nparts ? w->nparts : 1) * sizeof *next);
    memcpy(next, start, w->nparts * sizeof *next);
    for (size_t i = 0; i < b->nkeys; i++) {
        unsigned char *e = body + ENTRY_BYTES * next[b->keys[i].key % w->nparts]++;
        dd_put_le64(e, b->keys[i].key);
        put32(e + 8, b->keys[i].band);
        put32(e + 12, b->keys[i].doc);
        put32(e + 16, b->keys[i].words);
    }
    free(next);
    dd_section *sections = dd_malloc((w->nparts + 1) * sizeof *sections);
    for (size_t k = 0; k < w->nparts; k++)
        sections[k] =
            (dd_section){body + ENTRY_BYTES * start[k], ENTRY_BYTES * (start[k + 1] - start[k])};
    sections[w->nparts] = (dd_section){b->table, b->table_len};
    char *path = dd_doc_keys_path(w, b->part);
    bool ok = dd_work_write_sections(w, w->sign_dir, path, DOCS_MAGIC, w->parts[b->part].hash,
                                     b->part, ndocs, sections, w->nparts + 1);
    free(path);
    free(sections);
    free(body);
    free(start);
    return ok;
}

void dd_doc_keys_free(dd_doc_keys *b)
{
    if (!b)
        return;
    free(b->keys);
    free(b->table);
    free(b->sig);
    free(b);
}

/* Opens the docs file of part (its header right; every section checked
 * too when whole); when it is missing or damaged, it is made again with the
 * part's keys file, from its facts (said when a file was there). False
 * after a message. */
static bool open_docs(dd_work *w, size_t part, bool whole, dd_sectioned *f)
{
    char *path = dd_doc_keys_path(w, part);
    char *why = NULL;
    bool ok =
        dd_sectioned_open(w, path, DOCS_MAGIC, w->parts[part].hash, part, w->nparts + 1, f, &why);
    sh_buf section = {0};
    for (size_t k = 0; ok && whole && k <= w->nparts; k++)
        if (!dd_sectioned_read(f, k, &section, &why)) {
            dd_sectioned_close(f);
            ok = false;
        }
    if (ok && f->extra != w->parts[part].n) {
        why = dd_asprintf("damaged: it holds %" PRIu64 " documents, its part %zu", f->extra,
                          w->parts[part].n);
        dd_sectioned_close(f);
        ok = false;
    }
    sh_buf_free(&section);
    if (!ok) {
        char *p = dd_printable(path);
        dd_warn("%s: %s; making it again from its part's facts", p, why ? why : "not there");
        free(p);
        free(why);
        why = NULL;
        ok = dd_across_keys_remake(w, part, &why) &&
             dd_sectioned_open(w, path, DOCS_MAGIC, w->parts[part].hash, part, w->nparts + 1, f,
                               &why);
        if (!ok) {
            char *pp = dd_work_part_path(w, part);
            say_file(pp, why ? why : "its documents' keys cannot be made");
            free(pp);
        }
    }
    free(why);
    free(path);
    return ok;
}

/* --------------------------------------------------------------- group */

/* A document's entry in a bucket, with its rank key: --keep first, the
 * document; longest, most words first, then the document. */
typedef struct group_entry {
    uint64_t key, rank_key;
    uint32_t band, doc;
} group_entry;

typedef struct group_entries {
    group_entry *v;
    size_t n, cap;
} group_entries;

/* Appends the entries of section k of part j's docs file to out: false
 * after a message. */
static bool read_group_entries(dd_work *w, size_t j, size_t k, group_entries *out)
{
    dd_sectioned f;
    if (!open_docs(w, j, false, &f))
        return false;
    sh_buf section = {0};
    char *why = NULL;
    bool ok = dd_sectioned_read(&f, k, &section, &why);
    dd_sectioned_close(&f);
    if (!ok || section.len % ENTRY_BYTES) {
        /* Damaged under a right header: made again, then read again. */
        char *path = dd_doc_keys_path(w, j);
        char *p = dd_printable(path);
        dd_warn("%s: %s; making it again from its part's facts", p,
                why ? why : "damaged: a section cut off");
        free(p);
        free(path);
        free(why);
        why = NULL;
        ok = dd_across_keys_remake(w, j, &why) && open_docs(w, j, false, &f);
        if (ok) {
            ok = dd_sectioned_read(&f, k, &section, &why) && section.len % ENTRY_BYTES == 0;
            dd_sectioned_close(&f);
        }
        if (!ok) {
            char *pp = dd_work_part_path(w, j);
            say_file(pp, why ? why : "its documents' keys cannot be made");
            free(pp);
            free(why);
            sh_buf_free(&section);
            return false;
        }
    }
    free(why);
    const dd_part *pt = &w->parts[j];
    size_t n = section.len / ENTRY_BYTES, nkeys = dd_near_keys_per_doc(&w->near);
    bool longest = w->near.keep == DD_KEEP_LONGEST;
    dd_grow(&out->v, &out->cap, out->n + n + 1, sizeof *out->v);
    const unsigned char *e = (const unsigned char *)section.data;
    for (size_t i = 0; i < n && ok; i++, e += ENTRY_BYTES) {
        uint64_t key = dd_get_le64(e);
        uint32_t band = get32(e + 8), rel = get32(e + 12), words = get32(e + 16);
        ok = key % w->nparts == k && band < nkeys && rel < pt->n && words > 0;
        uint32_t doc = (uint32_t)(pt->first + rel);
        out->v[out->n++] = (group_entry){
            key, longest ? (uint64_t)(UINT32_MAX - words) << 32 | doc : doc, band, doc};
    }
    if (!ok) {
        char *path = dd_doc_keys_path(w, j);
        say_file(path, "damaged: a band key that cannot be; remove it and run again");
        free(path);
    }
    sh_buf_free(&section);
    return ok;
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The rank of rank key k among keys[0..n), sorted and unique. */
static uint32_t local_rank(const uint64_t *keys, size_t n, uint64_t k)
{
    size_t lo;
    DD_LOWER_BOUND(lo, n, i, keys[i] < k);
    return (uint32_t)lo;
}

/* Makes group-docs partition k from section k of every docs file: false
 * after a message. */
static bool make_group_docs(dd_work *w, size_t k)
{
    group_entries all = {0};
    bool ok = true;
    for (size_t j = 0; j < w->nparts && ok; j++)
        ok = read_group_entries(w, j, k, &all);
    if (!ok) {
        free(all.v);
        return false;
    }
    /* Ranks within the partition: the order of the rank keys, so that
     * the engine's buckets (32-bit ranks) give the pairs of rank order. */
    uint64_t *ranks = dd_malloc((all.n + 1) * sizeof *ranks);
    size_t nranks = 0;
    for (size_t i = 0; i < all.n; i++)
        ranks[i] = all.v[i].rank_key;
    if (all.n > 1)
        qsort(ranks, all.n, sizeof *ranks, compare_u64);
    for (size_t i = 0; i < all.n; i++)
        if (nranks == 0 || ranks[nranks - 1] != ranks[i])
            ranks[nranks++] = ranks[i];
    dd_band_entry *entries = dd_malloc((all.n + 1) * sizeof *entries);
    for (size_t i = 0; i < all.n; i++)
        entries[i] = (dd_band_entry){all.v[i].key, all.v[i].band,
                                     local_rank(ranks, nranks, all.v[i].rank_key)};
    free(all.v);
    size_t nentries = all.n;
    dd_band_entries_sort(entries, nentries);
    dd_rank_pairs pairs = {0};
    dd_band_entries hot = {0};
    dd_bucket_pairs(entries, nentries, &pairs, &hot);
    free(entries);
    /* Back to documents (the low half of a rank key), by the sign part of
     * the later one: counted, then written. */
    size_t np = w->nparts;
    size_t *npairs = dd_calloc(np, sizeof *npairs), *nhot = dd_calloc(np, sizeof *nhot);
    for (size_t i = 0; i < pairs.n; i++) {
        pairs.v[i].later = (uint32_t)ranks[pairs.v[i].later];
        pairs.v[i].earlier = (uint32_t)ranks[pairs.v[i].earlier];
        npairs[dd_work_part_of(w, pairs.v[i].later)]++;
    }
    for (size_t i = 0; i < hot.n; i++) {
        hot.v[i].rank = (uint32_t)ranks[hot.v[i].rank];
        nhot[dd_work_part_of(w, hot.v[i].rank)]++;
    }
    free(ranks);
    unsigned char **bodies = dd_calloc(np, sizeof *bodies);
    size_t *fill_pairs = dd_calloc(np, sizeof *fill_pairs),
           *fill_hot = dd_calloc(np, sizeof *fill_hot);
    dd_section *sections = dd_malloc((np ? np : 1) * sizeof *sections);
    for (size_t v = 0; v < np; v++) {
        size_t len = 16 + npairs[v] * PAIR_BYTES + nhot[v] * HOT_BYTES;
        bodies[v] = dd_malloc(len);
        dd_put_le64(bodies[v], npairs[v]);
        dd_put_le64(bodies[v] + 8, nhot[v]);
        sections[v] = (dd_section){bodies[v], len};
    }
    for (size_t i = 0; i < pairs.n; i++) {
        size_t v = dd_work_part_of(w, pairs.v[i].later);
        unsigned char *b = bodies[v] + 16 + PAIR_BYTES * fill_pairs[v]++;
        put32(b, pairs.v[i].later);
        put32(b + 4, pairs.v[i].earlier);
        put32(b + 8, pairs.v[i].shares);
    }
    for (size_t i = 0; i < hot.n; i++) {
        size_t v = dd_work_part_of(w, hot.v[i].rank);
        unsigned char *b = bodies[v] + 16 + PAIR_BYTES * npairs[v] + HOT_BYTES * fill_hot[v]++;
        put32(b, hot.v[i].rank);
        put32(b + 4, hot.v[i].band);
    }
    dd_rank_pairs_free(&pairs);
    dd_band_entries_free(&hot);
    ok = dd_work_write_stage_sections(w, "group-docs", k, GROUP_DOCS_MAGIC, sections, np);
    for (size_t v = 0; v < np; v++)
        free(bodies[v]);
    free(bodies);
    free(sections);
    free(npairs);
    free(nhot);
    free(fill_pairs);
    free(fill_hot);
    return ok;
}

/* -------------------------------------------------------------- verify */

/* The tables of the docs files (where each document's signature is), by
 * sign part, loaded when a pair names one of its documents. */
typedef struct sig_tables {
    dd_work *w;
    unsigned char **rows; /* per part: TABLE_BYTES a document (NULL: not loaded) */
    size_t *n;
    int *fd; /* per part: its part file, -1: not open */
} sig_tables;

static void sig_tables_free(sig_tables *t)
{
    for (size_t j = 0; j < t->w->nparts; j++) {
        free(t->rows[j]);
        if (t->fd[j] >= 0)
            close(t->fd[j]);
    }
    free(t->rows);
    free(t->n);
    free(t->fd);
}

/* Loads the table of part j and opens its part file: false after a
 * message. */
static bool load_sig_table(sig_tables *t, size_t j)
{
    dd_work *w = t->w;
    dd_sectioned f;
    if (!open_docs(w, j, false, &f))
        return false;
    sh_buf section = {0};
    char *why = NULL;
    bool ok = dd_sectioned_read(&f, w->nparts, &section, &why);
    dd_sectioned_close(&f);
    char *part_path = dd_work_part_path(w, j);
    struct stat st;
    int fd = ok ? open(part_path, O_RDONLY | O_CLOEXEC) : -1;
    if (ok && (fd < 0 || fstat(fd, &st) != 0)) {
        why = dd_asprintf("%s", strerror(errno));
        ok = false;
    }
    size_t n = ok ? section.len / TABLE_BYTES : 0,
           sig_bytes = dd_facts_signature_bytes(w->num_perm);
    ok = ok && section.len % TABLE_BYTES == 0;
    const unsigned char *r = (const unsigned char *)section.data;
    for (size_t i = 0; ok && i < n; i++, r += TABLE_BYTES)
        ok = dd_get_le64(r) < w->parts[j].n && (i == 0 || dd_get_le64(r) > dd_get_le64(r - 24)) &&
             dd_get_le64(r + 8) <= (uint64_t)st.st_size - sig_bytes &&
             (uint64_t)st.st_size >= sig_bytes;
    if (!ok) {
        say_file(part_path, why ? why
                                : "damaged: its docs file's table of signatures is wrong; remove "
                                  "it and run again");
        if (fd >= 0)
            close(fd);
        sh_buf_free(&section);
    } else {
        t->rows[j] = (unsigned char *)section.data;
        t->n[j] = n;
        t->fd[j] = fd;
    }
    free(why);
    free(part_path);
    return ok;
}

/* What reading a signature found. */
typedef enum sig_read { SIG_READ, SIG_NONE, SIG_FAILED } sig_read;

/* Reads the signature of document doc into sig: SIG_NONE when the docs
 * file of its part has none (a document without words), SIG_FAILED after
 * a message. */
static sig_read read_signature(sig_tables *t, uint32_t doc, unsigned char **buf, size_t *cap,
                               dd_signed *sig)
{
    dd_work *w = t->w;
    size_t j = dd_work_part_of(w, doc);
    if (!t->rows[j] && !load_sig_table(t, j))
        return SIG_FAILED;
    uint64_t rel = doc - w->parts[j].first;
    size_t lo;
    DD_LOWER_BOUND(lo, t->n[j], i, dd_get_le64(t->rows[j] + TABLE_BYTES * i) < rel);
    const unsigned char *row = t->rows[j] + TABLE_BYTES * lo;
    if (lo == t->n[j] || dd_get_le64(row) != rel)
        return SIG_NONE;
    size_t n = dd_facts_signature_bytes(w->num_perm);
    dd_grow(buf, cap, n, 1);
    bool ok = pread(t->fd[j], *buf, n, (off_t)dd_get_le64(row + 8)) == (ssize_t)n &&
              XXH3_64bits(*buf, n) == dd_get_le64(row + 16) &&
              dd_facts_decode_signature(*buf, w->num_perm, sig);
    if (!ok) {
        char *path = dd_work_part_path(w, j);
        char *what = dd_asprintf("damaged: the signature of document %" PRIu32
                                 " is not what its docs file says; remove the folder and run "
                                 "again",
                                 doc);
        say_file(path, what);
        free(what);
        free(path);
    }
    return ok ? SIG_READ : SIG_FAILED;
}

/* A group-docs file made again (dd_work_read_stage_section's remake). */
static bool remake_group_docs(void *ctx, size_t g) { return make_group_docs(ctx, g); }

/* Where doc is in docs[0..n), sorted (it is there). */
static uint32_t local_rank_u32(const uint32_t *docs, size_t n, uint32_t doc)
{
    size_t lo;
    DD_LOWER_BOUND(lo, n, i, docs[i] < doc);
    return (uint32_t)lo;
}

static int compare_hot(const void *a, const void *b)
{
    const dd_band_entry *x = a, *y = b;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    return (x->band > y->band) - (x->band < y->band);
}

/* Makes verify-docs partition v from section v of every group-docs file
 * (one made again first when make_missing): false after a message. */
static bool make_verify_docs(dd_work *w, size_t v, bool make_missing)
{
    const dd_part *pt = &w->parts[v];
    size_t nkeys = dd_near_keys_per_doc(&w->near);
    dd_rank_pairs pairs = {0};
    dd_band_entries hot = {0};
    sh_buf body = {0};
    bool ok = true;
    for (size_t g = 0; g < w->nparts && ok; g++) {
        ok = dd_work_read_stage_section(
            w, "group-docs", GROUP_DOCS_MAGIC, g, v, make_missing ? remake_group_docs : NULL, w,
            "not grouped: make every group partition first (--stage group, or every --task)",
            &body);
        if (!ok)
            break;
        char *path = dd_work_stage_path(w, "group-docs", g);
        const unsigned char *b = (const unsigned char *)body.data;
        uint64_t np = body.len >= 16 ? dd_get_le64(b) : 0,
                 nh = body.len >= 16 ? dd_get_le64(b + 8) : 0;
        ok = body.len >= 16 && np <= (body.len - 16) / PAIR_BYTES &&
             nh == (body.len - 16 - np * PAIR_BYTES) / HOT_BYTES &&
             (body.len - 16 - np * PAIR_BYTES) % HOT_BYTES == 0;
        if (ok) {
            dd_grow(&pairs.v, &pairs.cap, pairs.n + np + 1, sizeof *pairs.v);
            dd_grow(&hot.v, &hot.cap, hot.n + nh + 1, sizeof *hot.v);
        }
        b += 16;
        for (uint64_t i = 0; ok && i < np; i++, b += PAIR_BYTES) {
            dd_rank_pair q = {get32(b), get32(b + 4), get32(b + 8)};
            ok = q.later >= pt->first && q.later < pt->first + pt->n && q.earlier != q.later &&
                 dd_work_part_of(w, q.earlier) < w->nparts &&
                 q.earlier < w->parts[w->nparts - 1].first + w->parts[w->nparts - 1].n;
            pairs.v[pairs.n++] = q;
        }
        for (uint64_t i = 0; ok && i < nh; i++, b += HOT_BYTES) {
            uint32_t doc = get32(b), band = get32(b + 4);
            ok = doc >= pt->first && doc < pt->first + pt->n && band < nkeys;
            hot.v[hot.n++] = (dd_band_entry){0, band, doc};
        }
        if (!ok)
            say_file(path, "damaged: a pair that cannot be; remove it and run again");
        free(path);
    }
    sh_buf_free(&body);
    /* --keep first: the documents V's share a paragraph with, earlier ones
     * (the matches of V's paragraphs), as pairs to judge ahead (shares 0:
     * the sweep verifies a linked representative whatever its buckets).
     * (--keep longest: a document's better-ranked partners may be later
     * ones, whose matches are in other verify files: the sweep verifies
     * those itself.) */
    if (ok && w->near.keep == DD_KEEP_FIRST) {
        dd_doc_pair *links = NULL;
        size_t nlinks = 0;
        ok = dd_across_read_links(w, v, &links, &nlinks);
        dd_grow(&pairs.v, &pairs.cap, pairs.n + nlinks + 1, sizeof *pairs.v);
        for (size_t i = 0; i < nlinks; i++)
            pairs.v[pairs.n++] = (dd_rank_pair){links[i].a, links[i].b, 0};
        free(links);
    }
    unsigned char *out = NULL;
    size_t len = 0, njudged = 0;
    if (ok) {
        /* Each pair once, by later then earlier document, its shares
         * summed; the hot entries by document. */
        dd_rank_pairs_count(&pairs);
        if (hot.n > 1)
            qsort(hot.v, hot.n, sizeof *hot.v, compare_hot);
        /* The signatures of the documents they name, once each, in a
         * dd_signatures of their own (numbered by their order). */
        uint32_t *docs = dd_malloc((2 * pairs.n + 1) * sizeof *docs);
        size_t ndocs = 0;
        for (size_t i = 0; i < pairs.n; i++) {
            docs[ndocs++] = pairs.v[i].later;
            docs[ndocs++] = pairs.v[i].earlier;
        }
        if (ndocs > 1)
            qsort(docs, ndocs, sizeof *docs, dd_compare_u32);
        size_t u = 0;
        for (size_t i = 0; i < ndocs; i++)
            if (u == 0 || docs[u - 1] != docs[i])
                docs[u++] = docs[i];
        ndocs = u;
        dd_signatures s;
        memset(&s, 0, sizeof s);
        s.params = w->near;
        s.max_in_memory = SIZE_MAX;
        dd_signatures_reserve(&s, ndocs);
        sig_tables t = {w, dd_calloc(w->nparts, sizeof *t.rows), dd_calloc(w->nparts, sizeof *t.n),
                        dd_malloc(w->nparts * sizeof *t.fd)};
        for (size_t j = 0; j < w->nparts; j++)
            t.fd[j] = -1;
        dd_signed sig = {0};
        unsigned char *buf = NULL;
        size_t cap = 0;
        bool *none = dd_calloc(ndocs + 1, sizeof *none); /* no signature */
        for (size_t i = 0; i < ndocs && ok; i++) {
            char *err = NULL;
            sig_read got = read_signature(&t, docs[i], &buf, &cap, &sig);
            none[i] = got == SIG_NONE;
            ok = got != SIG_FAILED && (got == SIG_NONE ? dd_signatures_add_missing(&s, &err)
                                                       : dd_signatures_add_signed(&s, &sig, &err));
            if (err) {
                dd_error("%s", err);
                free(err);
                ok = false;
            }
        }
        free(buf);
        dd_signed_free(&sig);
        sig_tables_free(&t);
        /* Each pair judged on the two signatures; a link's with a document
         * without one is left out (the sweep passes over it: it is never a
         * representative), but a bucket's documents all have one. */
        out = dd_malloc(16 + pairs.n * JUDGED_BYTES + hot.n * HOT_BYTES);
        unsigned char *b = out + 16;
        for (size_t i = 0; i < pairs.n && ok; i++) {
            const dd_rank_pair *q = &pairs.v[i];
            uint32_t later = local_rank_u32(docs, ndocs, q->later),
                     earlier = local_rank_u32(docs, ndocs, q->earlier);
            if (none[later] || none[earlier]) {
                if (q->shares == 0)
                    continue;
                char *path = dd_work_stage_path(w, "group-docs", 0);
                say_file(path, "damaged: a pair names a document without words; remove the "
                               "group-docs folder and run again");
                free(path);
                ok = false;
                break;
            }
            dd_given_pair g;
            dd_near_prejudge(&s, later, earlier, &g);
            memset(b, 0, JUDGED_BYTES);
            put32(b, q->later);
            put32(b + 4, q->earlier);
            put32(b + 8, q->shares);
            put32(b + 12, g.same);
            b[16] = (unsigned char)g.verdict;
            b[17] = g.m.exact;
            b[18] = g.m.estimated;
            put32(b + 20, g.m.of);
            put32(b + 24, g.m.round);
            put32(b + 28, g.m.hamming);
            dd_put_le64(b + 32, bits_of(g.m.jaccard));
            dd_put_le64(b + 40, bits_of(g.m.containment));
            b += JUDGED_BYTES;
            njudged++;
        }
        dd_put_le64(out, njudged);
        dd_put_le64(out + 8, hot.n);
        for (size_t i = 0; i < hot.n && ok; i++, b += HOT_BYTES) {
            put32(b, hot.v[i].rank);
            put32(b + 4, hot.v[i].band);
        }
        len = (size_t)(b - out);
        free(none);
        free(docs);
        dd_signatures_free(&s);
    }
    dd_rank_pairs_free(&pairs);
    dd_band_entries_free(&hot);
    ok = ok && dd_work_write_stage_file(w, "verify-docs", v, out, len);
    free(out);
    return ok;
}

/* The most bytes of a verify-docs body: any size its marker says (the
 * file is checked against it and its checksum before it is read). */
#define VERIFY_DOCS_MOST_BYTES ((uint64_t)1 << 50)

/* ------------------------------------------------------------- stages */

/* The stage of documents beside stage. */
static const char *docs_stage(const char *stage)
{
    return !strcmp(stage, "group") ? "group-docs" : "verify-docs";
}

/* Whether partition k of the documents' stage is made, whole and right (a
 * group-docs file: every section checked when whole, its table of
 * contents only otherwise); says what is wrong with a file that is there
 * (when say). */
static bool doc_stage_done(const dd_work *w, const char *stage, size_t k, bool whole, bool say)
{
    sh_buf body = {0};
    char *why = NULL;
    bool ok;
    if (!strcmp(stage, "group-docs")) {
        dd_sectioned f;
        ok = dd_work_open_stage_sections(w, stage, k, GROUP_DOCS_MAGIC, w->nparts, &f, &why);
        for (size_t s = 0; ok && whole && s < w->nparts; s++)
            ok = dd_sectioned_read(&f, s, &body, &why);
        if (f.fd >= 0)
            dd_sectioned_close(&f);
    } else {
        ok = dd_work_read_stage_file(w, stage, k, VERIFY_DOCS_MOST_BYTES, &body, &why);
    }
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

bool dd_doc_stage_run(dd_work *w, const dd_options *o, const char *stage, bool make_missing)
{
    if (!w->near.enabled)
        return true;
    const char *docs = docs_stage(stage);
    bool group = !strcmp(docs, "group-docs");
    if (!group) {
        /* Verify reads a section of every group-docs file. */
        for (size_t k = 0; k < w->nparts; k++)
            if (!doc_stage_done(w, "group-docs", k, false, false)) {
                if (!make_missing) {
                    char *path = dd_work_stage_path(w, "group-docs", k);
                    say_file(path, "not grouped, or damaged: make every group partition first "
                                   "(--stage group, or every --task)");
                    free(path);
                    return false;
                }
                dd_options all = *o;
                all.work.one_task = false;
                if (!dd_doc_stage_run(w, &all, "group", true))
                    return false;
                break;
            }
    }
    bool ok = true;
    for (size_t k = 0; k < w->nparts && ok; k++) {
        if (o->work.one_task && k % o->work.tasks != o->work.task)
            continue;
        if (doc_stage_done(w, docs, k, true, true))
            continue;
        ok = group ? make_group_docs(w, k) : make_verify_docs(w, k, make_missing);
    }
    return ok;
}

/* -------------------------------------------------------------- decide */

/* A pair given to the sweep: its later document's rank, and the pair. */
typedef struct ranked_given {
    uint32_t later;
    dd_given_pair g;
} ranked_given;

static int compare_ranked_given(const void *a, const void *b)
{
    const ranked_given *x = a, *y = b;
    if (x->later != y->later)
        return x->later < y->later ? -1 : 1;
    return (x->g.earlier > y->g.earlier) - (x->g.earlier < y->g.earlier);
}

/* What the sweep is given: pairs and hot entries, by later rank. */
typedef struct sweep_input {
    ranked_given *pairs;
    size_t npairs, pairs_cap;
    dd_band_entry *hot; /* rank: the document's rank */
    size_t nhot, hot_cap;
} sweep_input;

/* Appends what verify-docs file v gives to in, by rank: false after a
 * message. */
static bool read_verify_docs(const dd_work *w, size_t v, const uint32_t *rank_of, size_t nkeys,
                             sweep_input *in)
{
    sh_buf body = {0};
    char *why = NULL;
    char *path = dd_work_stage_path(w, "verify-docs", v);
    bool ok = dd_work_read_stage_file(w, "verify-docs", v, VERIFY_DOCS_MOST_BYTES, &body, &why);
    if (!ok) {
        say_file(path, why ? why : "not verified: verify every partition first");
        free(why);
        free(path);
        sh_buf_free(&body);
        return false;
    }
    const dd_part *pt = &w->parts[v];
    const unsigned char *b = (const unsigned char *)body.data;
    uint64_t np = body.len >= 16 ? dd_get_le64(b) : 0, nh = body.len >= 16 ? dd_get_le64(b + 8) : 0;
    ok = body.len >= 16 && np <= (body.len - 16) / JUDGED_BYTES &&
         (body.len - 16 - np * JUDGED_BYTES) == nh * HOT_BYTES;
    if (ok) {
        dd_grow(&in->pairs, &in->pairs_cap, in->npairs + np + 1, sizeof *in->pairs);
        dd_grow(&in->hot, &in->hot_cap, in->nhot + nh + 1, sizeof *in->hot);
    }
    b += 16;
    for (uint64_t i = 0; ok && i < np; i++, b += JUDGED_BYTES) {
        uint32_t later = get32(b), earlier = get32(b + 4);
        ok = later >= pt->first && later < pt->first + pt->n && b[16] <= DD_VERDICT_MAY_JOIN &&
             b[17] <= 1 && b[18] <= 1 && earlier != later;
        if (!ok)
            break;
        ranked_given *r = &in->pairs[in->npairs++];
        memset(r, 0, sizeof *r);
        r->later = rank_of[later];
        r->g.shares = get32(b + 8);
        r->g.same = get32(b + 12);
        r->g.verdict = (dd_pair_verdict)b[16];
        r->g.m.exact = b[17];
        r->g.m.estimated = b[18];
        r->g.m.doc = later;
        r->g.m.of = get32(b + 20);
        r->g.m.round = get32(b + 24);
        r->g.m.hamming = get32(b + 28);
        r->g.m.jaccard = double_of(dd_get_le64(b + 32));
        r->g.m.containment = double_of(dd_get_le64(b + 40));
        r->g.earlier = earlier; /* a document here: a rank once checked (below) */
    }
    for (uint64_t i = 0; ok && i < nh; i++, b += HOT_BYTES) {
        uint32_t doc = get32(b), band = get32(b + 4);
        ok = doc >= pt->first && doc < pt->first + pt->n && band < nkeys;
        in->hot[in->nhot++] = (dd_band_entry){0, band, ok ? rank_of[doc] : 0};
    }
    if (!ok)
        say_file(path, "damaged: a pair that cannot be; remove it and run again");
    free(path);
    sh_buf_free(&body);
    return ok;
}

/* Places the documents of ranks [from, to) with in (their pairs and hot
 * entries, every one of those ranks, sorted by rank). */
static void sweep(dd_placer *p, const uint32_t *order, const uint32_t *twin, size_t nkeys,
                  const sweep_input *in, size_t from, size_t to, dd_given_pair **given,
                  size_t *given_cap)
{
    bool *hot_bands = dd_calloc(nkeys, sizeof *hot_bands);
    size_t at_pair = 0, at_hot = 0;
    dd_member m;
    for (size_t r = from; r < to; r++) {
        size_t n = 0;
        for (; at_pair < in->npairs && in->pairs[at_pair].later == r; at_pair++) {
            dd_grow(given, given_cap, n + 1, sizeof **given);
            (*given)[n++] = in->pairs[at_pair].g;
        }
        for (; at_hot < in->nhot && in->hot[at_hot].rank == r; at_hot++)
            hot_bands[in->hot[at_hot].band] = true;
        dd_placer_place_given(p, order[r], twin[r], hot_bands, *given, n, &m);
        memset(hot_bands, 0, nkeys * sizeof *hot_bands);
    }
    free(hot_bands);
}

static int compare_hot_rank(const void *a, const void *b) { return compare_hot(a, b); }

/* Turns the earlier documents of in's pairs into ranks (checking they are
 * ranked before the later one), and sorts the pairs and hot entries by
 * rank: false after a message. */
static bool rank_input(const dd_work *w, const uint32_t *rank_of, size_t n, sweep_input *in)
{
    for (size_t i = 0; i < in->npairs; i++) {
        uint32_t e = in->pairs[i].g.earlier;
        if (e >= n || rank_of[e] >= in->pairs[i].later) {
            dd_error("%s: a verify-docs file names a pair that cannot be; remove the folder and "
                     "run again",
                     w->dir);
            return false;
        }
        in->pairs[i].g.earlier = rank_of[e];
    }
    if (in->npairs > 1)
        qsort(in->pairs, in->npairs, sizeof *in->pairs, compare_ranked_given);
    if (in->nhot > 1)
        qsort(in->hot, in->nhot, sizeof *in->hot, compare_hot_rank);
    return true;
}

bool dd_doc_stages_cluster(const dd_work *w, const dd_signatures *s, dd_clusters *out)
{
    size_t n = s->n, nkeys = dd_near_keys_per_doc(&s->params);
    size_t ndocs = w->nparts ? w->parts[w->nparts - 1].first + w->parts[w->nparts - 1].n : 0;
    if (ndocs != n || nkeys != dd_near_keys_per_doc(&w->near)) {
        dd_error("%s: its parts hold %zu documents, not the %zu read; remove it and run again",
                 w->dir, ndocs, n);
        return false;
    }
    uint32_t *order = dd_malloc((n ? n : 1) * sizeof *order);
    uint32_t *rank_of = dd_malloc((n ? n : 1) * sizeof *rank_of);
    dd_rank_documents(s, order);
    for (size_t r = 0; r < n; r++)
        rank_of[order[r]] = (uint32_t)r;
    uint32_t *twin = dd_doc_twins(s, order, s->n, NULL);
    dd_placer *p = dd_placer_new(s);
    dd_placer_reserve_given(p, n);
    sweep_input in = {0};
    dd_given_pair *given = NULL;
    size_t given_cap = 0;
    bool ok = true;
    uint64_t pairs = 0, hot = 0;
    size_t held = 0;
    if (s->params.keep == DD_KEEP_FIRST) {
        /* Rank order is input order: the files one after the other, each
         * its part's documents. */
        for (size_t v = 0; v < w->nparts && ok; v++) {
            in.npairs = in.nhot = 0;
            ok = read_verify_docs(w, v, rank_of, nkeys, &in) && rank_input(w, rank_of, n, &in);
            if (ok)
                sweep(p, order, twin, nkeys, &in, w->parts[v].first,
                      w->parts[v].first + w->parts[v].n, &given, &given_cap);
            pairs += in.npairs;
            hot += in.nhot;
            size_t bytes = in.pairs_cap * sizeof *in.pairs + in.hot_cap * sizeof *in.hot;
            held = bytes > held ? bytes : held;
        }
    } else {
        /* --keep longest: ranks across every file. */
        for (size_t v = 0; v < w->nparts && ok; v++)
            ok = read_verify_docs(w, v, rank_of, nkeys, &in);
        ok = ok && rank_input(w, rank_of, n, &in);
        if (ok)
            sweep(p, order, twin, nkeys, &in, 0, n, &given, &given_cap);
        pairs = in.npairs;
        hot = in.nhot;
        held = in.pairs_cap * sizeof *in.pairs + in.hot_cap * sizeof *in.hot;
    }
    if (ok && getenv("DEDUP_RUN_STATS"))
        fprintf(stderr,
                "dedup: near-duplicate documents from the work folder: %" PRIu64
                " pairs given (%.2f a document), %" PRIu64
                " hot entries, %.1f MB of them held at most; %" PRIu64
                " pairs verified by the sweep; the sweep holds %zu bytes, %.0f a document\n",
                pairs, n ? (double)pairs / (double)n : 0.0, hot, (double)held / 1e6,
                dd_placer_counts_of(p).asked, dd_placer_bytes(p),
                n ? (double)dd_placer_bytes(p) / (double)n : 0.0);
    if (ok)
        dd_placer_finish(p, n, out);
    dd_placer_free(p);
    free(in.pairs);
    free(in.hot);
    free(given);
    free(twin);
    free(rank_of);
    free(order);
    return ok;
}
