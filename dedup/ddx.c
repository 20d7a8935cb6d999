/*
 * ddx.c - the persistent index over LMDB (see ddx.h).
 *
 * Tables (LMDB named databases), every number stored big-endian so that keys
 * sort as numbers and the files are the same on every machine:
 *   meta     "settings" -> the settings, "next" -> the next document number
 *   docs     id -> the document record (below)
 *   numbers  number -> id
 *   bands    band key (8 bytes) -> document numbers (sorted duplicates)
 *   paras    paragraph key (16 bytes) -> (number, first line, last line)
 *            (sorted duplicates, so in document order)
 * A document record: number, size, mtime, key, words, shingles, num_perm
 * MinHash values, then its band keys and its paragraphs, kept so that
 * removing it can find its entries in bands and paras.
 */
#include "ddx.h"

#include "util.h"

#include <errno.h>
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The map (the largest the data file may grow to before it is raised): a
 * sparse reservation, raised to twice its size when a write starts with
 * more than half of it used. One add must fit in what is left. */
#define INITIAL_MAP ((size_t)4 << 30)

struct dd_ddx {
    char *path;
    MDB_env *env;
    MDB_txn *txn; /* the write transaction, when one is open */
    MDB_dbi meta, docs, numbers, bands, paras;
    dd_ddx_settings settings;
    bool write;
};

/* ------------------------------------------------------------ encoding */

typedef struct enc {
    unsigned char *p;
    size_t len, cap;
} enc;

static void put_bytes(enc *e, const void *p, size_t n)
{
    dd_grow(&e->p, &e->cap, e->len + n + 1, 1);
    memcpy(e->p + e->len, p, n);
    e->len += n;
}

static void put_u32(enc *e, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    put_bytes(e, b, 4);
}

static void put_u64(enc *e, uint64_t v)
{
    put_u32(e, (uint32_t)(v >> 32));
    put_u32(e, (uint32_t)v);
}

typedef struct dec {
    const unsigned char *p;
    size_t len, at;
    bool bad;
} dec;

static const unsigned char *get_bytes(dec *d, size_t n)
{
    if (d->bad || d->len - d->at < n) {
        d->bad = true;
        return NULL;
    }
    d->at += n;
    return d->p + d->at - n;
}

static uint32_t get_u32(dec *d)
{
    const unsigned char *b = get_bytes(d, 4);
    return b ? (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3] : 0;
}

static uint64_t get_u64(dec *d)
{
    uint64_t hi = get_u32(d);
    return hi << 32 | get_u32(d);
}

static void be32(unsigned char *b, uint32_t v)
{
    b[0] = (unsigned char)(v >> 24);
    b[1] = (unsigned char)(v >> 16);
    b[2] = (unsigned char)(v >> 8);
    b[3] = (unsigned char)v;
}

static uint32_t from_be32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static void be64(unsigned char *b, uint64_t v)
{
    be32(b, (uint32_t)(v >> 32));
    be32(b + 4, (uint32_t)v);
}

static void encode_settings(enc *e, const dd_ddx_settings *s)
{
    put_u32(e, DD_DDX_FORMAT);
    put_bytes(e, s->profile, sizeof s->profile);
    put_u32(e, s->unit_mode);
    put_u32(e, s->ngram);
    put_u32(e, s->num_perm);
    put_u32(e, s->bands);
    put_u32(e, s->rows);
    put_u64(e, s->seed);
    put_bytes(e, s->key_fingerprint, sizeof s->key_fingerprint);
}

/* ------------------------------------------------------------- errors */

static bool fail(const dd_ddx *x, char **err, const char *what, int rc)
{
    *err = dd_asprintf("%s: %s: %s", x->path, what, mdb_strerror(rc));
    return false;
}

/* A transaction for reading: the write one when open, else a new snapshot. */
static bool read_txn(dd_ddx *x, MDB_txn **txn, char **err)
{
    if (x->txn) {
        *txn = x->txn;
        return true;
    }
    int rc = mdb_txn_begin(x->env, NULL, MDB_RDONLY, txn);
    return rc == 0 || fail(x, err, "cannot read", rc);
}

static void end_read(dd_ddx *x, MDB_txn *txn)
{
    if (txn != x->txn)
        mdb_txn_abort(txn);
}

/* ------------------------------------------------------- open and close */

/* Opens the environment and its tables; reads the settings unless creating. */
static dd_ddx *open_env(const char *path, bool write, bool create, const dd_ddx_settings *s,
                        char **err)
{
    struct stat st;
    if (!create) {
        if (stat(path, &st) != 0) {
            *err = dd_asprintf("%s: %s", path, strerror(errno));
            return NULL;
        }
        if (!S_ISDIR(st.st_mode)) {
            *err = dd_asprintf("%s: not a dedup index (not a folder)", path);
            return NULL;
        }
        char *data = dd_asprintf("%s/data.mdb", path);
        int r = stat(data, &st);
        free(data);
        if (r != 0) {
            *err = dd_asprintf("%s: not a dedup index (no data.mdb in it)", path);
            return NULL;
        }
    }
    dd_ddx *x = dd_calloc(1, sizeof *x);
    x->path = dd_strdup(path);
    x->write = write;
    int rc = mdb_env_create(&x->env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(x->env, 8);
    if (rc == 0)
        rc = mdb_env_set_mapsize(x->env, INITIAL_MAP);
    if (rc == 0)
        rc = mdb_env_open(x->env, path, write ? 0 : MDB_RDONLY, 0644);
    if (rc != 0) {
        *err = dd_asprintf("%s: not a dedup index (%s)", path, mdb_strerror(rc));
        dd_ddx_close(x);
        return NULL;
    }
    /* A data file shorter than the pages LMDB says it has (a truncated copy)
     * would make reads fault: refuse it here. */
    MDB_envinfo info;
    MDB_stat est;
    char *data = dd_asprintf("%s/data.mdb", path);
    if (mdb_env_info(x->env, &info) == 0 && mdb_env_stat(x->env, &est) == 0 &&
        stat(data, &st) == 0 &&
        (uint64_t)(info.me_last_pgno + 1) * est.ms_psize > (uint64_t)st.st_size) {
        *err = dd_asprintf("%s: not a dedup index (data.mdb is truncated)", path);
        free(data);
        dd_ddx_close(x);
        return NULL;
    }
    free(data);
    MDB_txn *txn;
    rc = mdb_txn_begin(x->env, NULL, write ? 0 : MDB_RDONLY, &txn);
    unsigned flags = create ? MDB_CREATE : 0;
    if (rc == 0)
        rc = mdb_dbi_open(txn, "meta", flags, &x->meta);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "docs", flags, &x->docs);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "numbers", flags, &x->numbers);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "bands", flags | MDB_DUPSORT | MDB_DUPFIXED, &x->bands);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "paras", flags | MDB_DUPSORT | MDB_DUPFIXED, &x->paras);
    if (rc != 0) {
        if (txn)
            mdb_txn_abort(txn);
        *err = dd_asprintf("%s: not a dedup index (%s)", path, mdb_strerror(rc));
        dd_ddx_close(x);
        return NULL;
    }
    MDB_val k = {8, "settings"}, v;
    if (create) {
        x->settings = *s;
        enc e = {0};
        encode_settings(&e, s);
        v = (MDB_val){e.len, e.p};
        rc = mdb_put(txn, x->meta, &k, &v, 0);
        free(e.p);
        if (rc == 0)
            rc = mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn);
        if (rc != 0) {
            *err = dd_asprintf("%s: cannot create the index: %s", path, mdb_strerror(rc));
            dd_ddx_close(x);
            return NULL;
        }
        return x;
    }
    rc = mdb_get(txn, x->meta, &k, &v);
    if (rc != 0) {
        mdb_txn_abort(txn);
        *err = dd_asprintf("%s: not a dedup index (no settings: %s)", path, mdb_strerror(rc));
        dd_ddx_close(x);
        return NULL;
    }
    dec d = {v.mv_data, v.mv_size, 0, false};
    uint32_t format = get_u32(&d);
    dd_ddx_settings *got = &x->settings;
    const unsigned char *b = get_bytes(&d, sizeof got->profile);
    if (b)
        memcpy(got->profile, b, sizeof got->profile);
    got->unit_mode = get_u32(&d);
    got->ngram = get_u32(&d);
    got->num_perm = get_u32(&d);
    got->bands = get_u32(&d);
    got->rows = get_u32(&d);
    got->seed = get_u64(&d);
    b = get_bytes(&d, sizeof got->key_fingerprint);
    if (b)
        memcpy(got->key_fingerprint, b, sizeof got->key_fingerprint);
    /* Committing (even a read-only transaction) keeps the table handles
     * opened in it for the environment's lifetime. */
    rc = mdb_txn_commit(txn);
    if (rc != 0) {
        *err = dd_asprintf("%s: not a dedup index (%s)", path, mdb_strerror(rc));
        dd_ddx_close(x);
        return NULL;
    }
    got->profile[sizeof got->profile - 1] = '\0';
    got->key_fingerprint[sizeof got->key_fingerprint - 1] = '\0';
    if (format != DD_DDX_FORMAT || d.bad || d.at != d.len) {
        *err = format > DD_DDX_FORMAT && !d.bad
                   ? dd_asprintf("%s: index format %u is newer than this dedup's (%d)", path,
                                 format, DD_DDX_FORMAT)
                   : dd_asprintf("%s: not a dedup index (bad settings record)", path);
        dd_ddx_close(x);
        return NULL;
    }
    if (got->num_perm == 0 || got->num_perm > SH_MINHASH_MAX_PERM || got->bands == 0 ||
        got->bands > got->num_perm) {
        *err = dd_asprintf("%s: not a dedup index (impossible settings)", path);
        dd_ddx_close(x);
        return NULL;
    }
    return x;
}

/* The first difference between the index's settings and want, or NULL. */
static char *settings_difference(const dd_ddx_settings *have, const dd_ddx_settings *want)
{
    static const char *units[] = {"line", "block"};
    if (strcmp(have->profile, want->profile))
        return dd_asprintf("normaliser profile differs: index '%s', this build '%s'",
                           have->profile, want->profile);
    if (have->unit_mode != want->unit_mode)
        return dd_asprintf("built with --unit %s, not %s", units[have->unit_mode & 1],
                           units[want->unit_mode & 1]);
    if (have->ngram != want->ngram)
        return dd_asprintf("built with --ngram %u, not %u", have->ngram, want->ngram);
    if (have->num_perm != want->num_perm)
        return dd_asprintf("built with --num-perm %u, not %u", have->num_perm, want->num_perm);
    if (have->bands != want->bands || have->rows != want->rows)
        return dd_asprintf("built with bands x rows %u x %u, not %u x %u", have->bands,
                           have->rows, want->bands, want->rows);
    if (have->seed != want->seed)
        return dd_asprintf("built with another hash seed");
    if (strcmp(have->key_fingerprint, want->key_fingerprint)) {
        if (!have->key_fingerprint[0])
            return dd_asprintf("built without a key, but a key was given");
        if (!want->key_fingerprint[0])
            return dd_asprintf("built with key %s, but no key was given", have->key_fingerprint);
        return dd_asprintf("built with key %s, not %s", have->key_fingerprint,
                           want->key_fingerprint);
    }
    return NULL;
}

dd_ddx *dd_ddx_create(const char *path, const dd_ddx_settings *s, char **err)
{
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        *err = dd_asprintf("%s: %s", path, strerror(errno));
        return NULL;
    }
    char *data = dd_asprintf("%s/data.mdb", path);
    struct stat st;
    bool exists = stat(data, &st) == 0;
    free(data);
    if (exists) {
        *err = dd_asprintf("%s: an index is already there (use dedup index add)", path);
        return NULL;
    }
    return open_env(path, true, true, s, err);
}

dd_ddx *dd_ddx_open(const char *path, bool write, const dd_ddx_settings *want, char **err)
{
    dd_ddx *x = open_env(path, write, false, NULL, err);
    if (x && want) {
        char *diff = settings_difference(&x->settings, want);
        if (diff) {
            *err = dd_asprintf("%s: %s", path, diff);
            free(diff);
            dd_ddx_close(x);
            return NULL;
        }
    }
    return x;
}

void dd_ddx_close(dd_ddx *x)
{
    if (!x)
        return;
    if (x->txn)
        mdb_txn_abort(x->txn);
    if (x->env)
        mdb_env_close(x->env);
    free(x->path);
    free(x);
}

const dd_ddx_settings *dd_ddx_settings_of(const dd_ddx *x) { return &x->settings; }

/* ---------------------------------------------------------- transactions */

bool dd_ddx_begin(dd_ddx *x, char **err)
{
    if (!x->write) {
        *err = dd_asprintf("%s: opened for reading only", x->path);
        return false;
    }
    MDB_envinfo info;
    MDB_stat est;
    if (mdb_env_info(x->env, &info) == 0 && mdb_env_stat(x->env, &est) == 0 &&
        (uint64_t)(info.me_last_pgno + 1) * est.ms_psize > info.me_mapsize / 2) {
        int rc = mdb_env_set_mapsize(x->env, info.me_mapsize * 2);
        if (rc != 0)
            return fail(x, err, "cannot grow the map", rc);
    }
    int rc = mdb_txn_begin(x->env, NULL, 0, &x->txn);
    if (rc != 0) {
        x->txn = NULL;
        return fail(x, err, "cannot start writing", rc);
    }
    return true;
}

bool dd_ddx_commit(dd_ddx *x, char **err)
{
    int rc = mdb_txn_commit(x->txn);
    x->txn = NULL;
    return rc == 0 || fail(x, err, "cannot commit", rc);
}

void dd_ddx_abort(dd_ddx *x)
{
    if (x->txn)
        mdb_txn_abort(x->txn);
    x->txn = NULL;
}

/* ------------------------------------------------------------ documents */

/* Decodes a document record (the minhash array and id are allocated). */
static bool decode_doc(const MDB_val *v, const char *id, size_t id_len, dd_ddx_doc *d)
{
    memset(d, 0, sizeof *d);
    dec r = {v->mv_data, v->mv_size, 0, false};
    d->number = get_u32(&r);
    d->size = get_u64(&r);
    d->mtime_ns = (int64_t)get_u64(&r);
    d->key.lo = get_u64(&r);
    d->key.hi = get_u64(&r);
    d->words = get_u32(&r);
    d->shingles = get_u32(&r);
    uint32_t k = get_u32(&r);
    if (r.bad || k > SH_MINHASH_MAX_PERM)
        return false;
    d->minhash = dd_malloc((k ? k : 1) * sizeof *d->minhash);
    for (uint32_t i = 0; i < k; i++)
        d->minhash[i] = get_u32(&r);
    d->id = dd_malloc(id_len + 1);
    memcpy(d->id, id, id_len);
    d->id[id_len] = '\0';
    if (r.bad) {
        dd_ddx_doc_free(d);
        return false;
    }
    return true;
}

void dd_ddx_doc_free(dd_ddx_doc *d)
{
    free(d->id);
    free(d->minhash);
    memset(d, 0, sizeof *d);
}

/* Removes the document whose record is v from bands, paras and numbers. */
static int remove_entries(dd_ddx *x, const MDB_val *v)
{
    dec r = {v->mv_data, v->mv_size, 0, false};
    uint32_t number = get_u32(&r);
    get_bytes(&r, 8 + 8 + 16 + 4 + 4);
    uint32_t k = get_u32(&r);
    get_bytes(&r, (size_t)k * 4);
    uint32_t nbands = get_u32(&r);
    unsigned char num[4];
    be32(num, number);
    for (uint32_t i = 0; i < nbands && !r.bad; i++) {
        const unsigned char *bk = get_bytes(&r, 8);
        if (!bk)
            break;
        MDB_val key = {8, (void *)bk}, val = {4, num};
        int rc = mdb_del(x->txn, x->bands, &key, &val);
        if (rc != 0 && rc != MDB_NOTFOUND)
            return rc;
    }
    uint32_t nparas = get_u32(&r);
    for (uint32_t i = 0; i < nparas && !r.bad; i++) {
        const unsigned char *pk = get_bytes(&r, 16);
        const unsigned char *lines = get_bytes(&r, 8);
        if (!pk || !lines)
            break;
        unsigned char place[12];
        memcpy(place, num, 4);
        memcpy(place + 4, lines, 8);
        MDB_val key = {16, (void *)pk}, val = {12, place};
        int rc = mdb_del(x->txn, x->paras, &key, &val);
        if (rc != 0 && rc != MDB_NOTFOUND)
            return rc;
    }
    if (r.bad)
        return MDB_CORRUPTED;
    MDB_val nk = {4, num};
    int rc = mdb_del(x->txn, x->numbers, &nk, NULL);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

bool dd_ddx_put(dd_ddx *x, dd_ddx_doc *d, const uint64_t *band_keys, const dd_ddx_para *paras,
                size_t nparas, char **err)
{
    size_t id_len = strlen(d->id);
    if (id_len == 0 || id_len > 511) {
        *err = dd_asprintf("%s: %s: an id must have 1 to 511 bytes", x->path, d->id);
        return false;
    }
    MDB_val idk = {id_len, d->id}, old;
    int rc = mdb_get(x->txn, x->docs, &idk, &old);
    if (rc == 0)
        rc = remove_entries(x, &old);
    else if (rc == MDB_NOTFOUND)
        rc = 0;
    if (rc != 0)
        return fail(x, err, "cannot replace a document", rc);
    /* A new number, never reused. */
    MDB_val nk = {4, "next"}, nv;
    uint32_t number = 1;
    rc = mdb_get(x->txn, x->meta, &nk, &nv);
    if (rc == 0 && nv.mv_size == 4)
        number = from_be32(nv.mv_data);
    else if (rc != MDB_NOTFOUND && rc != 0)
        return fail(x, err, "cannot read the next number", rc);
    unsigned char next[4], num[4];
    be32(next, number + 1);
    be32(num, number);
    nv = (MDB_val){4, next};
    d->number = number;

    const dd_ddx_settings *s = &x->settings;
    enc e = {0};
    put_u32(&e, number);
    put_u64(&e, d->size);
    put_u64(&e, (uint64_t)d->mtime_ns);
    put_u64(&e, d->key.lo);
    put_u64(&e, d->key.hi);
    put_u32(&e, d->words);
    put_u32(&e, d->shingles);
    put_u32(&e, s->num_perm);
    for (uint32_t i = 0; i < s->num_perm; i++)
        put_u32(&e, d->minhash[i]);
    put_u32(&e, s->bands);
    for (uint32_t i = 0; i < s->bands; i++)
        put_u64(&e, band_keys[i]);
    put_u32(&e, (uint32_t)nparas);
    for (size_t i = 0; i < nparas; i++) {
        put_u64(&e, paras[i].key.hi);
        put_u64(&e, paras[i].key.lo);
        put_u32(&e, paras[i].first_line);
        put_u32(&e, paras[i].last_line);
    }
    MDB_val rec = {e.len, e.p}, idv = {id_len, d->id};
    rc = mdb_put(x->txn, x->meta, &nk, &nv, 0);
    if (rc == 0)
        rc = mdb_put(x->txn, x->docs, &idk, &rec, 0);
    MDB_val numk = {4, num};
    if (rc == 0)
        rc = mdb_put(x->txn, x->numbers, &numk, &idv, 0);
    for (uint32_t i = 0; i < s->bands && rc == 0; i++) {
        unsigned char bk[8];
        be64(bk, band_keys[i]);
        MDB_val key = {8, bk}, val = {4, num};
        rc = mdb_put(x->txn, x->bands, &key, &val, 0);
        if (rc == MDB_KEYEXIST) /* the same band twice in one signature */
            rc = 0;
    }
    for (size_t i = 0; i < nparas && rc == 0; i++) {
        unsigned char pk[16], place[12];
        be64(pk, paras[i].key.hi);
        be64(pk + 8, paras[i].key.lo);
        memcpy(place, num, 4);
        be32(place + 4, paras[i].first_line);
        be32(place + 8, paras[i].last_line);
        MDB_val key = {16, pk}, val = {12, place};
        rc = mdb_put(x->txn, x->paras, &key, &val, 0);
        if (rc == MDB_KEYEXIST)
            rc = 0;
    }
    free(e.p);
    if (rc != 0) {
        dd_ddx_abort(x);
        return fail(x, err, rc == MDB_MAP_FULL ? "the index is full for one run (add fewer files at a time)"
                                               : "cannot store a document",
                    rc);
    }
    return true;
}

bool dd_ddx_remove(dd_ddx *x, const char *id, bool *found, char **err)
{
    MDB_val idk = {strlen(id), (void *)id}, old;
    int rc = mdb_get(x->txn, x->docs, &idk, &old);
    *found = rc == 0;
    if (rc == MDB_NOTFOUND)
        return true;
    if (rc == 0)
        rc = remove_entries(x, &old);
    if (rc == 0)
        rc = mdb_del(x->txn, x->docs, &idk, NULL);
    if (rc != 0) {
        dd_ddx_abort(x);
        return fail(x, err, "cannot remove a document", rc);
    }
    return true;
}

bool dd_ddx_get(dd_ddx *x, const char *id, dd_ddx_doc *d, char **err)
{
    *err = NULL;
    MDB_txn *txn;
    if (!read_txn(x, &txn, err))
        return false;
    MDB_val idk = {strlen(id), (void *)id}, v;
    int rc = mdb_get(txn, x->docs, &idk, &v);
    bool ok = false;
    if (rc == 0) {
        ok = decode_doc(&v, id, strlen(id), d);
        if (!ok)
            *err = dd_asprintf("%s: %s: damaged document record", x->path, id);
    } else if (rc != MDB_NOTFOUND) {
        fail(x, err, "cannot read", rc);
    }
    end_read(x, txn);
    return ok;
}

bool dd_ddx_get_number(dd_ddx *x, uint32_t number, dd_ddx_doc *d, char **err)
{
    *err = NULL;
    MDB_txn *txn;
    if (!read_txn(x, &txn, err))
        return false;
    unsigned char num[4];
    be32(num, number);
    MDB_val nk = {4, num}, idv, v;
    int rc = mdb_get(txn, x->numbers, &nk, &idv);
    bool ok = false;
    if (rc == 0)
        rc = mdb_get(txn, x->docs, &idv, &v);
    if (rc == 0) {
        ok = decode_doc(&v, idv.mv_data, idv.mv_size, d);
        if (!ok)
            *err = dd_asprintf("%s: document %u: damaged record", x->path, number);
    } else if (rc != MDB_NOTFOUND) {
        fail(x, err, "cannot read", rc);
    }
    end_read(x, txn);
    return ok;
}

static int compare_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

long dd_ddx_candidates(dd_ddx *x, const uint64_t *band_keys, size_t bands, uint32_t **out,
                       size_t *cap, char **err)
{
    MDB_txn *txn;
    if (!read_txn(x, &txn, err))
        return -1;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, x->bands, &cur);
    size_t n = 0;
    for (size_t b = 0; b < bands && rc == 0; b++) {
        unsigned char bk[8];
        be64(bk, band_keys[b]);
        MDB_val key = {8, bk}, val;
        int got = mdb_cursor_get(cur, &key, &val, MDB_SET_KEY);
        while (got == 0) {
            if (val.mv_size == 4) {
                dd_grow(out, cap, n + 1, sizeof **out);
                (*out)[n++] = from_be32(val.mv_data);
            }
            got = mdb_cursor_get(cur, &key, &val, MDB_NEXT_DUP);
        }
        if (got != MDB_NOTFOUND)
            rc = got;
    }
    if (rc == 0)
        mdb_cursor_close(cur);
    end_read(x, txn);
    if (rc != 0) {
        fail(x, err, "cannot read the bands", rc);
        return -1;
    }
    if (n > 1)
        qsort(*out, n, sizeof **out, compare_u32);
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (u == 0 || (*out)[i] != (*out)[u - 1])
            (*out)[u++] = (*out)[i];
    return (long)u;
}

long dd_ddx_paragraph(dd_ddx *x, sh_key key, dd_ddx_place *out, size_t max, char **err)
{
    MDB_txn *txn;
    if (!read_txn(x, &txn, err))
        return -1;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, x->paras, &cur);
    size_t n = 0;
    if (rc == 0) {
        unsigned char pk[16];
        be64(pk, key.hi);
        be64(pk + 8, key.lo);
        MDB_val k = {16, pk}, v;
        int got = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY);
        while (got == 0 && n < max) {
            if (v.mv_size == 12) {
                const unsigned char *p = v.mv_data;
                out[n++] = (dd_ddx_place){from_be32(p), from_be32(p + 4), from_be32(p + 8)};
            }
            got = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP);
        }
        if (got != 0 && got != MDB_NOTFOUND)
            rc = got;
        mdb_cursor_close(cur);
    }
    end_read(x, txn);
    if (rc != 0) {
        fail(x, err, "cannot read the paragraphs", rc);
        return -1;
    }
    return (long)n;
}

bool dd_ddx_each(dd_ddx *x, bool (*fn)(void *ctx, const dd_ddx_doc *d), void *ctx, char **err)
{
    MDB_txn *txn;
    if (!read_txn(x, &txn, err))
        return false;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, x->docs, &cur);
    bool ok = rc == 0;
    if (ok) {
        MDB_val k, v;
        int got = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
        while (got == 0) {
            dd_ddx_doc d;
            if (!decode_doc(&v, k.mv_data, k.mv_size, &d)) {
                *err = dd_asprintf("%s: a damaged document record", x->path);
                ok = false;
                break;
            }
            bool more = fn(ctx, &d);
            dd_ddx_doc_free(&d);
            if (!more)
                break;
            got = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        }
        if (ok && got != 0 && got != MDB_NOTFOUND) {
            ok = false;
            fail(x, err, "cannot read the documents", got);
        }
        mdb_cursor_close(cur);
    } else {
        fail(x, err, "cannot read the documents", rc);
    }
    end_read(x, txn);
    return ok;
}

bool dd_ddx_counts_of(dd_ddx *x, dd_ddx_counts *c, char **err)
{
    memset(c, 0, sizeof *c);
    MDB_txn *txn;
    if (!read_txn(x, &txn, err))
        return false;
    MDB_stat st;
    int rc = mdb_stat(txn, x->docs, &st);
    if (rc == 0) {
        c->docs = st.ms_entries;
        rc = mdb_stat(txn, x->paras, &st);
    }
    if (rc == 0) {
        c->paragraphs = st.ms_entries;
        rc = mdb_stat(txn, x->bands, &st);
    }
    if (rc == 0)
        c->band_entries = st.ms_entries;
    end_read(x, txn);
    char *data = dd_asprintf("%s/data.mdb", x->path);
    struct stat fs;
    if (stat(data, &fs) == 0)
        c->map_bytes = (uint64_t)fs.st_size;
    free(data);
    return rc == 0 || fail(x, err, "cannot count", rc);
}
