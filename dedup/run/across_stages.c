/*
 * across_stages.c - the group and verify stages of the search for
 * near-repeated paragraphs across documents, in a work folder
 * (across_stages.h).
 */
#include "run/across_stages.h"

#include "engine/unit_pairs.h"
#include "run/doc_stages.h"
#include "run/facts.h"
#include "run/near_across.h"
#include "run/run.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#define MATCH_BYTES 48
#define PAIR_BYTES 16
#define KEY_BYTES 24   /* a band key's entry in a keys file: key, set key, id */
#define TABLE_BYTES 32 /* a unit's row in a keys file: id, where its set is, n, checksum */

static const char KEYS_MAGIC[8] = {'D', 'D', 'K', 'E', 'Y', 'S', '0', '1'};
static const char GROUP_MAGIC[8] = {'D', 'D', 'G', 'R', 'O', 'U', 'P', '2'};

/* Whether the facts of r hold units searched across documents. */
static bool searched(const dd_analysed *r)
{
    return r->status == DD_LOAD_TEXT || r->status == DD_LOAD_BINARY;
}

/* ---------------------------------------------------------- keys files */

char *dd_across_keys_path(const dd_work *w, size_t part)
{
    char *p = dd_work_part_path(w, part);
    char *keys = dd_asprintf("%s.keys", p);
    free(p);
    return keys;
}

struct dd_keys_builder {
    const dd_work *w;
    size_t part;
    /* The band keys of its units; `at`: their place in the file, partition *
     * DD_NEAR_UNIT_BANDS + band. */
    dd_unit_entry *rows;
    size_t nrows, rows_cap;
    unsigned char *table; /* TABLE_BYTES a unit */
    size_t table_len, table_cap;
    unsigned char *set_bytes; /* a set as its part file has it */
    size_t set_cap;
    dd_doc_keys *docs; /* the documents' band keys (run/doc_stages.h) */
};

dd_keys_builder *dd_keys_builder_new(const dd_work *w, size_t part)
{
    dd_keys_builder *b = dd_calloc(1, sizeof *b);
    b->w = w;
    b->part = part;
    b->docs = dd_doc_keys_new(w, part);
    return b;
}

void dd_keys_builder_add(dd_keys_builder *b, uint32_t doc, const dd_analysed *r, uint64_t sets_at,
                         uint64_t facts_end)
{
    dd_doc_keys_add(b->docs, doc, r, facts_end);
    if (!searched(r))
        return;
    for (size_t u = 0; u < r->doc.nunits; u++) {
        if (r->doc.units[u].words < DD_NEAR_UNIT_ACROSS_MIN_WORDS)
            continue;
        const uint64_t *set = r->sets.hashes + r->sets.start[u];
        size_t n = r->sets.start[u + 1] - r->sets.start[u];
        uint64_t set_key = dd_unit_set_key(set, n).lo, id = dd_unit_id(doc, (uint32_t)u);
        dd_grow(&b->rows, &b->rows_cap, b->nrows + DD_NEAR_UNIT_BANDS, sizeof *b->rows);
        for (size_t band = 0; band < DD_NEAR_UNIT_BANDS; band++) {
            uint64_t key = r->band_keys[u * DD_NEAR_UNIT_BANDS + band];
            b->rows[b->nrows++] = (dd_unit_entry){key, set_key, id};
        }
        dd_grow(&b->set_bytes, &b->set_cap, 8 * n + 1, 1);
        for (size_t i = 0; i < n; i++)
            dd_put_le64(b->set_bytes + 8 * i, set[i]);
        dd_grow(&b->table, &b->table_cap, b->table_len + TABLE_BYTES, 1);
        unsigned char *t = b->table + b->table_len;
        dd_put_le64(t, id);
        dd_put_le64(t + 8, sets_at + 8 * (uint64_t)r->sets.start[u]);
        dd_put_le64(t + 16, n);
        dd_put_le64(t + 24, XXH3_64bits(b->set_bytes, 8 * n));
        b->table_len += TABLE_BYTES;
    }
}

/* Where row i of b goes: its partition's section, its band's list there
 * (a unit's rows are added together, band after band). */
static size_t place_of(const dd_keys_builder *b, size_t i)
{
    return (size_t)(b->rows[i].key % b->w->nparts) * DD_NEAR_UNIT_BANDS + i % DD_NEAR_UNIT_BANDS;
}

bool dd_keys_builder_write(dd_keys_builder *b, size_t ndocs)
{
    const dd_work *w = b->w;
    /* The rows by their place (counted, then moved), each place's by key,
     * then id. */
    size_t places = w->nparts * DD_NEAR_UNIT_BANDS;
    size_t *start = dd_calloc(places + 1, sizeof *start);
    for (size_t i = 0; i < b->nrows; i++)
        start[place_of(b, i) + 1]++;
    for (size_t k = 0; k < places; k++)
        start[k + 1] += start[k];
    dd_unit_entry *rows = dd_malloc((b->nrows ? b->nrows : 1) * sizeof *rows);
    size_t *next = dd_malloc((places ? places : 1) * sizeof *next);
    memcpy(next, start, places * sizeof *next);
    for (size_t i = 0; i < b->nrows; i++)
        rows[next[place_of(b, i)]++] = b->rows[i];
    free(next);
    free(b->rows);
    b->rows = NULL;
    b->rows_cap = 0;
    for (size_t k = 0; k < places; k++)
        dd_unit_entries_sort(rows + start[k], start[k + 1] - start[k]);
    /* Section k: the number of entries of each band, then the entries, band
     * after band; then the table of the units. */
    size_t len = places * 8 + b->nrows * KEY_BYTES;
    unsigned char *body = dd_malloc(len ? len : 1), *p = body;
    dd_section *sections = dd_malloc((w->nparts + 1) * sizeof *sections);
    for (size_t k = 0; k < w->nparts; k++) {
        sections[k].p = p;
        const size_t *band_start = start + k * DD_NEAR_UNIT_BANDS;
        for (size_t band = 0; band < DD_NEAR_UNIT_BANDS; band++)
            dd_put_le64(p + 8 * band, band_start[band + 1] - band_start[band]);
        p += 8 * DD_NEAR_UNIT_BANDS;
        for (size_t i = band_start[0]; i < band_start[DD_NEAR_UNIT_BANDS]; i++, p += KEY_BYTES) {
            dd_put_le64(p, rows[i].key);
            dd_put_le64(p + 8, rows[i].set);
            dd_put_le64(p + 16, rows[i].id);
        }
        sections[k].n = (size_t)(p - (const unsigned char *)sections[k].p);
    }
    free(rows);
    free(start);
    sections[w->nparts] = (dd_section){b->table, b->table_len};
    char *path = dd_across_keys_path(w, b->part);
    bool ok = dd_doc_keys_write(b->docs, ndocs) &&
              dd_work_write_sections(w, w->sign_dir, path, KEYS_MAGIC, w->parts[b->part].hash,
                                     b->part, ndocs, sections, w->nparts + 1);
    free(path);
    free(sections);
    free(body);
    return ok;
}

void dd_keys_builder_free(dd_keys_builder *b)
{
    if (!b)
        return;
    free(b->rows);
    free(b->table);
    free(b->set_bytes);
    dd_doc_keys_free(b->docs);
    free(b);
}

bool dd_across_keys_remake(dd_work *w, size_t part, char **why)
{
    if (!dd_work_check_part(w, part, why)) {
        if (!*why)
            *why = dd_strdup("not signed: sign every part first (--stage sign, or every --task)");
        return false;
    }
    const uint64_t *off = w->offsets[part];
    size_t n = w->parts[part].n;
    char *path = dd_work_part_path(w, part);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    free(path);
    if (fd < 0) {
        *why = dd_asprintf("%s", strerror(errno));
        return false;
    }
    dd_keys_builder *b = dd_keys_builder_new(w, part);
    sh_buf bytes = {0}, again = {0};
    dd_analysed r = {0};
    bool ok = true;
    for (size_t k = 0; k < n && ok; k++) {
        size_t len = (size_t)(off[k + 1] - off[k]);
        dd_grow(&bytes.data, &bytes.cap, len + 1, 1);
        r.run.messages.len = 0;
        ok = pread(fd, bytes.data, len, (off_t)off[k]) == (ssize_t)len &&
             dd_facts_decode(bytes.data, len, w->num_perm, (uint32_t)k, &r);
        if (!ok) {
            *why = dd_asprintf("damaged: the facts of its document %zu cannot be read", k);
            break;
        }
        /* Encoding the facts again gives their bytes, and where the sets are. */
        again.len = 0;
        size_t sets_at = dd_facts_encode(&r, (uint32_t)k, &r.run.messages, w->num_perm, &again);
        dd_keys_builder_add(b, (uint32_t)k, &r, off[k] + sets_at, off[k + 1]);
    }
    close(fd);
    ok = ok && dd_keys_builder_write(b, n);
    if (!ok && !*why)
        *why = dd_strdup("cannot be written");
    dd_keys_builder_free(b);
    dd_analysed_clear(&r);
    sh_buf_free(&r.run.messages);
    sh_buf_free(&bytes);
    sh_buf_free(&again);
    return ok;
}

/* Opens the keys file of part, when its part is signed (its marker there)
 * and the file's header and table of contents are right (every section
 * checked too when whole); otherwise makes it again from the part's facts
 * first (saying why, when a file was there). Sets the part's number of
 * documents. False after a message. */
static bool open_keys(dd_work *w, size_t part, bool whole, dd_sectioned *f)
{
    char *path = dd_across_keys_path(w, part);
    char *why = NULL;
    bool ok =
        dd_sectioned_open(w, path, KEYS_MAGIC, w->parts[part].hash, part, w->nparts + 1, f, &why);
    sh_buf section = {0};
    for (size_t k = 0; ok && whole && k <= w->nparts; k++)
        if (!dd_sectioned_read(f, k, &section, &why)) {
            dd_sectioned_close(f);
            ok = false;
        }
    if (ok && w->placed && f->extra != w->parts[part].n) {
        why = dd_asprintf("damaged: it holds %" PRIu64 " documents, its part %zu", f->extra,
                          w->parts[part].n);
        dd_sectioned_close(f);
        ok = false;
    }
    char *p = dd_printable(path);
    if (!ok) {
        if (why)
            dd_warn("%s: %s; making it again from its part's facts", p, why);
        free(why);
        why = NULL;
        ok = dd_across_keys_remake(w, part, &why) &&
             dd_sectioned_open(w, path, KEYS_MAGIC, w->parts[part].hash, part, w->nparts + 1, f,
                               &why);
        if (!ok) {
            char *pp = dd_work_part_path(w, part);
            char *q = dd_printable(pp);
            dd_error("%s: %s", q, why ? why : "its keys cannot be made");
            free(q);
            free(pp);
        }
    }
    if (ok)
        w->parts[part].n = (size_t)f->extra;
    free(why);
    free(p);
    free(path);
    sh_buf_free(&section);
    return ok;
}

bool dd_across_keys_ready(dd_work *w, size_t part, bool whole)
{
    dd_sectioned f;
    bool ok = open_keys(w, part, whole, &f);
    if (ok)
        dd_sectioned_close(&f);
    return ok;
}

bool dd_across_parts_ready(dd_work *w)
{
    for (size_t k = 0; k < w->nparts; k++) {
        char *path = dd_work_part_path(w, k);
        char *marker = dd_asprintf("%s.done", path);
        bool signed_ = access(marker, F_OK) == 0;
        free(marker);
        if (!signed_) {
            char *p = dd_printable(path);
            dd_error("%s: not signed: sign every part first (--stage sign, or every --task)", p);
            free(p);
        }
        free(path);
        if (!signed_ || !dd_across_keys_ready(w, k, false))
            return false;
    }
    dd_work_number_documents(w);
    return true;
}

/* ------------------------------------------------------------- group */

/* The entries of one group partition from one sign part, a list a band. */
typedef struct part_entries {
    dd_unit_entry *v[DD_NEAR_UNIT_BANDS];
    size_t n[DD_NEAR_UNIT_BANDS];
    char *why; /* what went wrong reading them (NULL: nothing) */
} part_entries;

typedef struct group_job {
    const dd_work *w;
    size_t k;            /* the partition */
    part_entries *parts; /* per sign part */
} group_job;

/* dd_pool work: the entries of partition job->k in the keys file of sign
 * part j: one section, read by one pread. */
static void group_part(void *ctx, void *state, size_t j)
{
    (void)state;
    group_job *job = ctx;
    const dd_work *w = job->w;
    part_entries *out = &job->parts[j];
    char *path = dd_across_keys_path(w, j);
    dd_sectioned f;
    sh_buf section = {0};
    if (!dd_sectioned_open(w, path, KEYS_MAGIC, w->parts[j].hash, j, w->nparts + 1, &f,
                           &out->why) ||
        !dd_sectioned_read(&f, job->k, &section, &out->why)) {
        if (!out->why)
            out->why = dd_strdup("not there");
        if (f.fd >= 0)
            dd_sectioned_close(&f);
        sh_buf_free(&section);
        free(path);
        return;
    }
    uint64_t docs = f.extra;
    dd_sectioned_close(&f);
    free(path);
    const unsigned char *b = (const unsigned char *)section.data;
    size_t head = 8 * DD_NEAR_UNIT_BANDS, total = 0;
    bool ok = section.len >= head;
    for (size_t band = 0; ok && band < DD_NEAR_UNIT_BANDS; band++) {
        uint64_t n = dd_get_le64(b + 8 * band);
        ok = n <= (section.len - head) / KEY_BYTES - total;
        total += ok ? (size_t)n : 0;
    }
    ok = ok && section.len == head + total * KEY_BYTES && docs == w->parts[j].n;
    const unsigned char *e = b + head;
    uint64_t first = w->parts[j].first;
    for (size_t band = 0; ok && band < DD_NEAR_UNIT_BANDS; band++) {
        size_t n = (size_t)dd_get_le64(b + 8 * band);
        out->v[band] = dd_malloc((n ? n : 1) * sizeof *out->v[band]);
        for (size_t i = 0; ok && i < n; i++, e += KEY_BYTES) {
            uint64_t key = dd_get_le64(e), id = dd_get_le64(e + 16);
            ok = dd_unit_id_doc(id) < w->parts[j].n && key % w->nparts == job->k;
            out->v[band][i] = (dd_unit_entry){
                key, dd_get_le64(e + 8),
                dd_unit_id((uint32_t)(first + dd_unit_id_doc(id)), dd_unit_id_unit(id))};
        }
        out->n[band] = n;
    }
    if (!ok)
        out->why = dd_strdup("damaged: a band key that cannot be");
    sh_buf_free(&section);
}

static void part_entries_free(part_entries *e)
{
    for (size_t band = 0; band < DD_NEAR_UNIT_BANDS; band++) {
        free(e->v[band]);
        e->v[band] = NULL;
        e->n[band] = 0;
    }
    free(e->why);
    e->why = NULL;
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

/* Makes group partition k from section k of every sign part's keys file
 * (on the pool; a keys file missing or damaged is made again from its
 * part's facts): false after a message. */
static bool make_group(dd_work *w, dd_pool *pool, size_t k)
{
    group_job job = {w, k, dd_calloc(w->nparts ? w->nparts : 1, sizeof *job.parts)};
    dd_pool_for(pool, w->nparts, &job, group_part);
    bool ok = true;
    for (size_t j = 0; j < w->nparts && ok; j++) {
        if (!job.parts[j].why)
            continue;
        char *path = dd_across_keys_path(w, j);
        char *p = dd_printable(path);
        dd_warn("%s: %s; making it again from its part's facts", p, job.parts[j].why);
        free(p);
        free(path);
        part_entries_free(&job.parts[j]);
        char *why = NULL;
        ok = dd_across_keys_remake(w, j, &why);
        if (ok) {
            group_part(&job, NULL, j);
            ok = !job.parts[j].why;
        }
        if (!ok) {
            char *pp = dd_work_part_path(w, j);
            char *q = dd_printable(pp);
            dd_error("%s: %s", q, why ? why : job.parts[j].why);
            free(q);
            free(pp);
        }
        free(why);
    }
    pair_list pairs = {0};
    for (size_t band = 0; band < DD_NEAR_UNIT_BANDS && ok; band++) {
        /* The band's entries of every part, in one array. */
        size_t n = 0;
        for (size_t j = 0; j < w->nparts; j++)
            n += job.parts[j].n[band];
        dd_unit_entry *v = dd_malloc((n ? n : 1) * sizeof *v);
        n = 0;
        for (size_t j = 0; j < w->nparts; j++) {
            if (job.parts[j].n[band])
                memcpy(v + n, job.parts[j].v[band], job.parts[j].n[band] * sizeof *v);
            n += job.parts[j].n[band];
            free(job.parts[j].v[band]);
            job.parts[j].v[band] = NULL;
        }
        dd_unit_entries_sort(v, n);
        dd_unit_entries_pairs(v, n, take_pair, &pairs);
        free(v);
    }
    for (size_t j = 0; j < w->nparts; j++)
        part_entries_free(&job.parts[j]);
    free(job.parts);
    if (!ok) {
        free(pairs.v);
        return false;
    }
    size_t n = dd_unit_pairs_sort(pairs.v, pairs.n);
    /* A section for each verify partition: the pairs (later, earlier)
     * whose later unit is in a document of its sign part. */
    unsigned char *body = dd_malloc(n ? PAIR_BYTES * n : 1), *p = body;
    dd_section *sections = dd_malloc((w->nparts ? w->nparts : 1) * sizeof *sections);
    size_t at = 0;
    for (size_t v = 0; v < w->nparts; v++) {
        sections[v].p = p;
        for (; at < n && dd_work_part_of(w, dd_unit_id_doc(pairs.v[at].later)) == v;
             at++, p += PAIR_BYTES) {
            dd_put_le64(p, pairs.v[at].later);
            dd_put_le64(p + 8, pairs.v[at].earlier);
        }
        sections[v].n = (size_t)(p - (const unsigned char *)sections[v].p);
    }
    ok = dd_work_write_stage_sections(w, "group", k, GROUP_MAGIC, sections, w->nparts);
    free(sections);
    free(body);
    free(pairs.v);
    return ok;
}

/* ------------------------------------------------------------ verify */

/* The bytes of the signed parts' files (their sizes: what their facts can
 * make). */
static uint64_t facts_bytes(const dd_work *w)
{
    uint64_t bytes = 0;
    for (size_t k = 0; k < w->nparts; k++) {
        char *path = dd_work_part_path(w, k);
        struct stat st;
        if (stat(path, &st) == 0)
            bytes += (uint64_t)st.st_size;
        free(path);
    }
    return bytes;
}

/* The most bytes of a verify file's body: a unit searched takes 64 bytes
 * of facts at least (a hash of its set, its band keys), and has at most
 * DD_NEAR_UNIT_MAX_BUCKET candidates a band, each a match at most. */
static uint64_t matches_most_bytes(const dd_work *w)
{
    return 3 * (facts_bytes(w) / 64 * DD_NEAR_UNIT_BANDS * DD_NEAR_UNIT_MAX_BUCKET * MATCH_BYTES);
}

/* Where the units' sets are, for a verify partition: the tables of the
 * sign parts its pairs name (read from their keys files) and their part
 * files, open. Shared, read only, by the verifying threads. */
typedef struct unit_table {
    unsigned char *rows; /* TABLE_BYTES a unit, by id (relative to the part) */
    size_t n;
    int fd; /* the part file, -1: not open */
} unit_table;

typedef struct unit_tables {
    dd_work *w;
    unit_table *v; /* per sign part; rows NULL: not loaded */
} unit_tables;

static void unit_tables_clear(unit_tables *t)
{
    for (size_t k = 0; t->v && k < t->w->nparts; k++) {
        free(t->v[k].rows);
        if (t->v[k].fd >= 0)
            close(t->v[k].fd);
        t->v[k] = (unit_table){NULL, 0, -1};
    }
}

/* Loads the table of sign part j, and opens its file: false after a
 * message. */
static bool load_table(unit_tables *t, size_t j)
{
    dd_work *w = t->w;
    unit_table *u = &t->v[j];
    dd_sectioned f;
    sh_buf section = {0};
    char *why = NULL;
    bool ok = open_keys(w, j, false, &f);
    if (ok && !dd_sectioned_read(&f, w->nparts, &section, &why)) {
        /* A damaged table: the keys file made again, then read again. */
        char *path = dd_across_keys_path(w, j);
        char *p = dd_printable(path);
        dd_warn("%s: %s; making it again from its part's facts", p, why);
        free(p);
        free(path);
        free(why);
        why = NULL;
        dd_sectioned_close(&f);
        ok = dd_across_keys_remake(w, j, &why) && open_keys(w, j, false, &f) &&
             dd_sectioned_read(&f, w->nparts, &section, &why);
    }
    if (ok)
        dd_sectioned_close(&f);
    char *part_path = dd_work_part_path(w, j);
    struct stat st;
    u->fd = ok ? open(part_path, O_RDONLY | O_CLOEXEC) : -1;
    if (ok && (u->fd < 0 || fstat(u->fd, &st) != 0)) {
        why = dd_asprintf("%s", strerror(errno));
        ok = false;
    }
    /* Each row: a unit of the part, after the one before, its set inside
     * the part file. */
    size_t n = ok ? section.len / TABLE_BYTES : 0;
    ok = ok && section.len % TABLE_BYTES == 0;
    const unsigned char *r = (const unsigned char *)section.data;
    for (size_t i = 0; ok && i < n; i++, r += TABLE_BYTES) {
        uint64_t id = dd_get_le64(r), at = dd_get_le64(r + 8), count = dd_get_le64(r + 16);
        ok = dd_unit_id_doc(id) < w->parts[j].n && (i == 0 || id > dd_get_le64(r - TABLE_BYTES)) &&
             count <= (uint64_t)st.st_size / 8 && at <= (uint64_t)st.st_size - 8 * count;
    }
    if (!ok) {
        char *p = dd_printable(part_path);
        dd_error("%s: %s", p,
                 why ? why
                     : "damaged: its keys file's table of sets is wrong; "
                       "remove it and run again");
        free(p);
    } else {
        u->rows = (unsigned char *)section.data;
        u->n = n;
        section.data = NULL;
    }
    free(why);
    free(part_path);
    sh_buf_free(&section);
    return ok;
}

/* dd_unit_source.unit of the sign parts: unit id's set, found in its
 * part's table and read by one pread, checked against its checksum. */
static const uint64_t *unit_of_table(const void *ctx, void *reader, uint64_t id, uint64_t **buf,
                                     size_t *cap, char **why)
{
    (void)reader;
    const unit_tables *t = ctx;
    const dd_work *w = t->w;
    size_t doc = dd_unit_id_doc(id), j = dd_work_part_of(w, doc);
    const unit_table *u = &t->v[j];
    uint64_t rel = dd_unit_id((uint32_t)(doc - w->parts[j].first), dd_unit_id_unit(id));
    size_t lo;
    DD_LOWER_BOUND(lo, u->rows ? u->n : 0, i, dd_get_le64(u->rows + TABLE_BYTES * i) < rel);
    const unsigned char *row = u->rows + TABLE_BYTES * lo;
    if (lo == (u->rows ? u->n : 0) || dd_get_le64(row) != rel) {
        *why = dd_asprintf("%s: a candidate pair names a paragraph that document %zu does not "
                           "have: the group files are not of these facts; remove the folder and "
                           "run again",
                           w->dir, doc);
        return NULL;
    }
    size_t n = (size_t)dd_get_le64(row + 16);
    dd_grow(buf, cap, n + 2, sizeof **buf);
    unsigned char *bytes = (unsigned char *)(*buf + 2);
    ssize_t got = pread(u->fd, bytes, 8 * n, (off_t)dd_get_le64(row + 8));
    if (got != (ssize_t)(8 * n) || XXH3_64bits(bytes, 8 * n) != dd_get_le64(row + 24)) {
        char *path = dd_work_part_path(w, j);
        *why = dd_asprintf("%s: damaged: the set of a paragraph of document %zu is not what its "
                           "keys file says; remove it and run again",
                           path, doc);
        free(path);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        (*buf)[2 + i] = dd_get_le64(bytes + 8 * i);
    (*buf)[0] = id;
    (*buf)[1] = n;
    return *buf;
}

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

/* A group file made again (dd_work_read_stage_section's remake). */
typedef struct group_remake {
    dd_work *w;
    dd_pool *pool;
} group_remake;

static bool remake_group(void *ctx, size_t g)
{
    group_remake *r = ctx;
    return make_group(r->w, r->pool, g);
}

/* Makes verify partition k from section k of every group file (a damaged
 * one made again first when make_missing; otherwise an error): false
 * after a message. */
static bool make_verify(dd_work *w, dd_pool *pool, dd_unit_verifier *verifier, unit_tables *t,
                        size_t k, bool make_missing)
{
    pair_list pairs = {0};
    sh_buf body = {0};
    bool ok = true;
    group_remake remake = {w, pool};
    for (size_t g = 0; g < w->nparts && ok; g++) {
        ok = dd_work_read_stage_section(
            w, "group", GROUP_MAGIC, g, k, make_missing ? remake_group : NULL, &remake,
            "not grouped: make every group partition first (--stage group)", &body);
        if (!ok)
            break;
        if (body.len % PAIR_BYTES) {
            char *path = dd_work_stage_path(w, "group", g);
            dd_error("%s: damaged: its section %zu is cut off; remove it and run again", path, k);
            free(path);
            ok = false;
            break;
        }
        size_t n = body.len / PAIR_BYTES;
        dd_grow(&pairs.v, &pairs.cap, pairs.n + n + 1, sizeof *pairs.v);
        const unsigned char *b = (const unsigned char *)body.data;
        for (size_t i = 0; i < n; i++, b += PAIR_BYTES)
            pairs.v[pairs.n++] = (dd_unit_pair){dd_get_le64(b), dd_get_le64(b + 8)};
    }
    sh_buf_free(&body);
    /* Every pair: its later unit in part k, after the earlier one. The
     * tables of the parts they name are loaded. */
    for (size_t i = 0; i < pairs.n && ok; i++) {
        uint64_t later_doc = dd_unit_id_doc(pairs.v[i].later),
                 earlier_doc = dd_unit_id_doc(pairs.v[i].earlier);
        const dd_part *p = &w->parts[k];
        if (later_doc < p->first || later_doc >= p->first + p->n || earlier_doc >= later_doc) {
            dd_error("%s: a group file names a pair of another partition; remove the folder and "
                     "run again",
                     w->dir);
            ok = false;
            break;
        }
        size_t j = dd_work_part_of(w, earlier_doc);
        if (!t->v[j].rows)
            ok = load_table(t, j);
        if (ok && !t->v[k].rows)
            ok = load_table(t, k);
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
    unit_tables_clear(t);
    free(pairs.v);
    ok = ok &&
         dd_work_write_stage_file(w, "verify", k, matches.v ? matches.v : (void *)"", matches.len);
    free(matches.v);
    return ok;
}

bool dd_across_read_matches(const dd_work *w, size_t part, const dd_unit_starts *starts,
                            dd_near_unit_list *out)
{
    out->n = 0;
    sh_buf body = {0};
    char *why;
    uint64_t most = matches_most_bytes(w);
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
             unit < dd_unit_start(starts, x->doc + 1) - dd_unit_start(starts, x->doc) &&
             of < dd_unit_start(starts, x->of_doc + 1) - dd_unit_start(starts, x->of_doc) &&
             x->jaccard >= 0 && x->jaccard <= 1 && x->containment >= 0 && x->containment <= 1;
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

bool dd_across_read_links(const dd_work *w, size_t part, dd_doc_pair **out, size_t *n)
{
    *n = 0;
    sh_buf body = {0};
    char *why;
    bool ok = dd_work_read_stage_file(w, "verify", part, matches_most_bytes(w), &body, &why);
    if (!ok || body.len % MATCH_BYTES) {
        char *path = dd_work_stage_path(w, "verify", part);
        char *p = dd_printable(path);
        dd_error("%s: %s", p, !ok && why ? why : !ok ? "not verified" : "damaged");
        free(p);
        free(path);
        free(why);
        sh_buf_free(&body);
        return false;
    }
    size_t count = body.len / MATCH_BYTES;
    const dd_part *pt = &w->parts[part];
    *out = dd_realloc(*out, (count ? count : 1) * sizeof **out);
    for (size_t i = 0; i < count && ok; i++) {
        const unsigned char *b = (const unsigned char *)body.data + i * MATCH_BYTES;
        uint64_t docs = dd_get_le64(b);
        uint32_t doc = (uint32_t)docs, of_doc = (uint32_t)(docs >> 32);
        ok = doc >= pt->first && doc < pt->first + pt->n && of_doc < doc;
        if (ok && dd_get_le64(b + 40) == 0) /* not an alternative */
            (*out)[(*n)++] = (dd_doc_pair){doc, of_doc};
    }
    if (!ok) {
        char *path = dd_work_stage_path(w, "verify", part);
        char *p = dd_printable(path);
        dd_error("%s: damaged: a match that cannot be; remove it and run again", p);
        free(p);
        free(path);
        *n = 0;
    }
    sh_buf_free(&body);
    return ok;
}

/* ------------------------------------------------------------ stages */

/* Whether partition k of stage is made, whole and right (a group file:
 * every section checked, when whole; its table of contents only
 * otherwise); says what is wrong with a file that is there. */
static bool stage_done(const dd_work *w, const char *stage, size_t k, bool whole, bool say)
{
    sh_buf body = {0};
    char *why = NULL;
    bool ok;
    if (!strcmp(stage, "group")) {
        dd_sectioned f;
        ok = dd_work_open_stage_sections(w, stage, k, GROUP_MAGIC, w->nparts, &f, &why);
        for (size_t s = 0; ok && whole && s < w->nparts; s++)
            ok = dd_sectioned_read(&f, s, &body, &why);
        if (f.fd >= 0)
            dd_sectioned_close(&f);
    } else {
        ok = dd_work_read_stage_file(w, stage, k, matches_most_bytes(w), &body, &why);
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

bool dd_across_stage_run(dd_work *w, const dd_options *o, const char *stage, unsigned threads,
                         bool make_missing)
{
    bool group = !strcmp(stage, "group");
    if (!group) {
        /* Verify reads a section of every group file. */
        for (size_t k = 0; k < w->nparts; k++)
            if (!stage_done(w, "group", k, false, false)) { /* said when it is made again */
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
    dd_pool *pool = dd_pool_new("group", threads, NULL, NULL, NULL);
    unit_tables tables = {w, dd_malloc((w->nparts ? w->nparts : 1) * sizeof *tables.v)};
    for (size_t k = 0; k < w->nparts; k++)
        tables.v[k] = (unit_table){NULL, 0, -1};
    dd_unit_source src = {unit_of_table, NULL, NULL, &tables, NULL}; /* no read-ahead */
    dd_unit_verifier *verifier =
        group ? NULL : dd_unit_verifier_new(&src, threads, o->para_threshold);
    bool ok = true;
    for (size_t k = 0; k < w->nparts && ok; k++) {
        if (o->work.one_task && k % o->work.tasks != o->work.task)
            continue;
        if (stage_done(w, stage, k, true, true))
            continue;
        ok = group ? make_group(w, pool, k)
                   : make_verify(w, pool, verifier, &tables, k, make_missing);
    }
    unit_tables_clear(&tables);
    free(tables.v);
    dd_pool_free(pool);
    dd_unit_verifier_free(verifier);
    /* The stage of the near-duplicate documents of the same partitions
     * (run/doc_stages.h). */
    return ok && dd_doc_stage_run(w, o, stage, make_missing);
}
