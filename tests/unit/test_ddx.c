/*
 * test_ddx.c - unit tests of the persistent index (dedup/store/ddx.c): real LMDB
 * environments in a temporary folder. Documents carry MinHash signatures of
 * random shingle sets (two of them near-duplicates, so that they share LSH
 * bands), band keys hashed from the signature's rows, and paragraphs; every
 * field read back is compared with what was stored. Damaged and foreign
 * files must give an error naming the path, never a crash; a reader in
 * another process keeps its snapshot while a writer commits; and a writer
 * killed at random moments, 50 times, leaves an index that opens with the
 * documents of its last commit or of the one it was making.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/ddx.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NUM_PERM 128
#define BANDS 64
#define ROWS 2
#define PROFILE "sh-norm/1 nfkc_cf+marks+format+arabic+digits+punct+space icu/72.1 unicode/15.0"

static uint64_t next_random(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* ------------------------------------------------------------ fixture */

typedef struct fixture {
    char dir[256];
    int n;
} fixture;

static void remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (d) {
            struct dirent *e;
            while ((e = readdir(d)) != NULL) {
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                    continue;
                char sub[1024];
                snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
                remove_tree(sub);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof f->dir, "%s/test_ddx.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(f->dir))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    remove_tree(f->dir);
    free(f);
    return 0;
}

/* A new path in the temporary folder (not created). */
static char *temp_path(fixture *f, const char *name)
{
    char *p = malloc(strlen(f->dir) + strlen(name) + 32);
    assert_non_null(p);
    sprintf(p, "%s/%d-%s", f->dir, f->n++, name);
    return p;
}

static void default_settings(dd_ddx_settings *s)
{
    memset(s, 0, sizeof *s);
    snprintf(s->profile, sizeof s->profile, "%s", PROFILE);
    s->unit_mode = 0;
    s->ngram = 5;
    s->num_perm = NUM_PERM;
    s->bands = BANDS;
    s->rows = ROWS;
    s->seed = 0x5eed5eed12345678ULL;
}

static void settings_equal(const dd_ddx_settings *a, const dd_ddx_settings *b)
{
    assert_string_equal(a->profile, b->profile);
    assert_int_equal(a->unit_mode, b->unit_mode);
    assert_int_equal(a->ngram, b->ngram);
    assert_int_equal(a->num_perm, b->num_perm);
    assert_int_equal(a->bands, b->bands);
    assert_int_equal(a->rows, b->rows);
    assert_true(a->seed == b->seed);
    assert_string_equal(a->key_fingerprint, b->key_fingerprint);
}

/* ----------------------------------------------------------- documents */

/* A document as the test made it. */
typedef struct tdoc {
    dd_ddx_doc d;
    char id[64];
    uint32_t minhash[NUM_PERM];
    uint64_t bands[BANDS];
    dd_ddx_para paras[8];
    size_t nparas;
} tdoc;

/* Band b's key: a hash of its rows, as LSH does. */
static void band_keys(const uint32_t *sig, uint64_t *keys)
{
    for (unsigned b = 0; b < BANDS; b++) {
        uint64_t s = (uint64_t)b << 56;
        for (unsigned r = 0; r < ROWS; r++)
            s = next_random(&s) ^ sig[b * ROWS + r];
        keys[b] = next_random(&s);
    }
}

static sh_key para_key(uint64_t n)
{
    uint64_t s = n * 7919;
    return (sh_key){next_random(&s), next_random(&s)};
}

/* Makes a document of nshingles random shingles from rng, of which the
 * first keep are those of base (when base is not NULL), signed by m. */
static void make_doc(tdoc *t, const char *id, uint64_t *rng, const sh_minhasher *m,
                     const uint64_t *base, size_t keep, uint64_t *shingles, size_t nshingles)
{
    memset(t, 0, sizeof *t);
    snprintf(t->id, sizeof t->id, "%s", id);
    for (size_t i = 0; i < nshingles; i++)
        shingles[i] = base && i < keep ? base[i] : next_random(rng);
    sh_minhash(m, shingles, nshingles, t->minhash);
    band_keys(t->minhash, t->bands);
    t->d.id = t->id;
    t->d.size = 1000 + next_random(rng) % 100000;
    t->d.mtime_ns = 1700000000123456789LL + (int64_t)(next_random(rng) % 1000000);
    t->d.key = (sh_key){next_random(rng), next_random(rng)};
    t->d.words = (uint32_t)nshingles + 4;
    t->d.shingles = (uint32_t)nshingles;
    t->d.minhash = t->minhash;
}

static void add_para(tdoc *t, uint64_t key, uint32_t first, uint32_t last)
{
    t->paras[t->nparas++] = (dd_ddx_para){para_key(key), first, last};
}

static void put(dd_ddx *x, tdoc *t)
{
    char *err = NULL;
    bool ok = dd_ddx_put(x, &t->d, t->bands, t->paras, t->nparas, &err);
    if (!ok)
        fail_msg("put %s: %s", t->id, err);
}

static void expect_doc(const dd_ddx_doc *got, const tdoc *t, uint32_t number)
{
    assert_string_equal(got->id, t->id);
    assert_int_equal(got->number, number);
    assert_int_equal(got->size, t->d.size);
    assert_true(got->mtime_ns == t->d.mtime_ns);
    assert_true(sh_key_equal(got->key, t->d.key));
    assert_int_equal(got->words, t->d.words);
    assert_int_equal(got->shingles, t->d.shingles);
    assert_memory_equal(got->minhash, t->minhash, sizeof t->minhash);
}

/* Reads the document both ways and compares it with t. */
static void check_doc(dd_ddx *x, const tdoc *t, uint32_t number)
{
    dd_ddx_doc d;
    char *err = NULL;
    assert_true(dd_ddx_get(x, t->id, &d, &err));
    expect_doc(&d, t, number);
    dd_ddx_doc_free(&d);
    assert_true(dd_ddx_get_number(x, number, &d, &err));
    expect_doc(&d, t, number);
    dd_ddx_doc_free(&d);
}

static void check_absent(dd_ddx *x, const char *id, uint32_t number)
{
    dd_ddx_doc d;
    char *err = (char *)"unset";
    assert_false(dd_ddx_get(x, id, &d, &err));
    assert_null(err);
    err = (char *)"unset";
    assert_false(dd_ddx_get_number(x, number, &d, &err));
    assert_null(err);
}

static long candidates(dd_ddx *x, const uint64_t *keys, size_t n, uint32_t **out, size_t *cap)
{
    char *err = NULL;
    long got = dd_ddx_candidates(x, keys, n, out, cap, &err);
    if (got < 0)
        fail_msg("candidates: %s", err);
    return got;
}

/* candidates of keys must be exactly want[0..n). */
static void expect_candidates(dd_ddx *x, const uint64_t *keys, size_t nkeys, const uint32_t *want,
                              size_t n)
{
    uint32_t *out = NULL;
    size_t cap = 0;
    long got = candidates(x, keys, nkeys, &out, &cap);
    assert_int_equal(got, n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(out[i], want[i]);
    free(out);
}

static void expect_counts(dd_ddx *x, uint64_t docs, uint64_t paragraphs, uint64_t bands)
{
    dd_ddx_counts c;
    char *err = NULL;
    assert_true(dd_ddx_counts_of(x, &c, &err));
    assert_int_equal(c.docs, docs);
    assert_int_equal(c.paragraphs, paragraphs);
    assert_int_equal(c.band_entries, bands);
    assert_true(c.map_bytes > 0);
}

static void begin(dd_ddx *x)
{
    char *err = NULL;
    if (!dd_ddx_begin(x, &err))
        fail_msg("begin: %s", err);
}

static void commit(dd_ddx *x)
{
    char *err = NULL;
    if (!dd_ddx_commit(x, &err))
        fail_msg("commit: %s", err);
}

static dd_ddx *open_index(const char *path, bool write, const dd_ddx_settings *want)
{
    char *err = NULL;
    dd_ddx *x = dd_ddx_open(path, write, want, &err);
    if (!x)
        fail_msg("open %s: %s", path, err);
    return x;
}

/* Three documents: a and b near-duplicates (b keeps 90 of a's 100
 * shingles), c unrelated. Paragraph 1 is in all three, twice in b. */
typedef struct trio {
    tdoc a, b, c, b2;
} trio;

static void make_trio(trio *t)
{
    uint64_t rng = 42, sa[100], sb[100], sc[100];
    sh_status st;
    sh_minhasher *m = sh_minhasher_new(NUM_PERM, 7, &st);
    assert_non_null(m);
    make_doc(&t->a, "corpus/a.txt", &rng, m, NULL, 0, sa, 100);
    make_doc(&t->b, "corpus/b.txt", &rng, m, sa, 90, sb, 100);
    make_doc(&t->c, "corpus/c.txt", &rng, m, NULL, 0, sc, 100);
    /* b edited: another near-duplicate of a, with other paragraphs */
    make_doc(&t->b2, "corpus/b.txt", &rng, m, sa, 95, sb, 100);
    sh_minhasher_free(m);
    add_para(&t->a, 1, 3, 3);
    add_para(&t->a, 2, 4, 4);
    add_para(&t->b, 3, 1, 2);
    add_para(&t->b, 1, 5, 7);
    add_para(&t->b, 1, 9, 9);
    add_para(&t->c, 4, 1, 1);
    add_para(&t->c, 1, 2, 2);
    add_para(&t->b2, 5, 1, 1);
    add_para(&t->b2, 2, 6, 6);
}

/* Distinct band keys of t (LSH entries it makes). */
static size_t distinct_bands(const tdoc *t)
{
    size_t n = 0;
    for (size_t i = 0; i < BANDS; i++) {
        size_t j = 0;
        while (j < i && t->bands[j] != t->bands[i])
            j++;
        n += j == i;
    }
    return n;
}

/* Whether t has band key k. */
static bool has_band(const tdoc *t, uint64_t k)
{
    for (size_t i = 0; i < BANDS; i++)
        if (t->bands[i] == k)
            return true;
    return false;
}

/* ------------------------------------------------------------- tests */

static bool collect_ids(void *ctx, const dd_ddx_doc *d)
{
    char *buf = ctx;
    strcat(buf, d->id);
    strcat(buf, ";");
    return true;
}

static bool stop_after_one(void *ctx, const dd_ddx_doc *d)
{
    (void)d;
    (*(int *)ctx)++;
    return false;
}

typedef struct nested {
    dd_ddx *x;
    int calls, failures;
} nested;

/* Reads from inside dd_ddx_each: the same snapshot is used. */
static bool read_inside(void *ctx, const dd_ddx_doc *d)
{
    nested *n = ctx;
    n->calls++;
    dd_ddx_doc again;
    char *err = NULL;
    if (!dd_ddx_get_number(n->x, d->number, &again, &err) || strcmp(again.id, d->id))
        n->failures++;
    else
        dd_ddx_doc_free(&again);
    free(err);
    return true;
}

static void round_trip(void **state)
{
    fixture *f = *state;
    trio t;
    make_trio(&t);
    /* The scenario shares bands between a and b, none with c. */
    size_t shared = 0;
    for (size_t i = 0; i < BANDS; i++) {
        shared += has_band(&t.b, t.a.bands[i]);
        assert_false(has_band(&t.c, t.a.bands[i]));
        assert_false(has_band(&t.c, t.b.bands[i]));
    }
    assert_true(shared > 10 && shared < BANDS);
    uint64_t all_bands = distinct_bands(&t.a) + distinct_bands(&t.b) + distinct_bands(&t.c);

    dd_ddx_settings s;
    default_settings(&s);
    char *path = temp_path(f, "index.ddx");
    char *err = NULL;
    dd_ddx *x = dd_ddx_create(path, &s, &err);
    assert_non_null(x);
    settings_equal(dd_ddx_settings_of(x), &s);
    expect_counts(x, 0, 0, 0);
    begin(x);
    put(x, &t.a);
    put(x, &t.b);
    put(x, &t.c);
    assert_int_equal(t.a.d.number, 1);
    assert_int_equal(t.b.d.number, 2);
    assert_int_equal(t.c.d.number, 3);
    /* Reads inside the write transaction see its writes. */
    check_doc(x, &t.b, 2);
    expect_counts(x, 3, 7, all_bands);
    commit(x);
    dd_ddx_close(x);

    x = open_index(path, false, &s);
    settings_equal(dd_ddx_settings_of(x), &s);
    assert_false(dd_ddx_begin(x, &err));
    assert_non_null(strstr(err, "opened for reading only"));
    free(err);
    check_doc(x, &t.a, 1);
    check_doc(x, &t.b, 2);
    check_doc(x, &t.c, 3);
    check_absent(x, "corpus/d.txt", 4);
    check_absent(x, "", 0);
    expect_counts(x, 3, 7, all_bands);

    uint32_t ab[] = {1, 2}, abc[] = {1, 2, 3}, c_only[] = {3};
    expect_candidates(x, t.a.bands, BANDS, ab, 2);
    expect_candidates(x, t.b.bands, BANDS, ab, 2);
    expect_candidates(x, t.c.bands, BANDS, c_only, 1);
    uint64_t mixed[BANDS + 3];
    memcpy(mixed, t.c.bands, sizeof t.c.bands);
    mixed[BANDS] = t.a.bands[5];
    mixed[BANDS + 1] = 12345; /* in no document */
    mixed[BANDS + 2] = t.c.bands[0];
    expect_candidates(x, mixed, BANDS + 3, abc, 3);
    expect_candidates(x, mixed + BANDS + 1, 1, NULL, 0);
    /* a band of a only (not shared with b) */
    for (size_t i = 0; i < BANDS; i++)
        if (!has_band(&t.b, t.a.bands[i])) {
            uint32_t a_only[] = {1};
            expect_candidates(x, &t.a.bands[i], 1, a_only, 1);
            break;
        }

    dd_ddx_place pl[8];
    long n = dd_ddx_paragraph(x, para_key(1), pl, 8, &err);
    assert_int_equal(n, 4);
    dd_ddx_place want[] = {{1, 3, 3}, {2, 5, 7}, {2, 9, 9}, {3, 2, 2}};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pl[i].doc, want[i].doc);
        assert_int_equal(pl[i].first_line, want[i].first_line);
        assert_int_equal(pl[i].last_line, want[i].last_line);
    }
    assert_int_equal(dd_ddx_paragraph(x, para_key(1), pl, 2, &err), 2);
    assert_int_equal(pl[1].first_line, 5);
    assert_int_equal(dd_ddx_paragraph(x, para_key(3), pl, 8, &err), 1);
    assert_int_equal(pl[0].doc, 2);
    assert_int_equal(dd_ddx_paragraph(x, para_key(99), pl, 8, &err), 0);

    char ids[256] = "";
    assert_true(dd_ddx_each(x, collect_ids, ids, &err));
    assert_string_equal(ids, "corpus/a.txt;corpus/b.txt;corpus/c.txt;");
    int calls = 0;
    assert_true(dd_ddx_each(x, stop_after_one, &calls, &err));
    assert_int_equal(calls, 1);
    nested nest = {x, 0, 0};
    assert_true(dd_ddx_each(x, read_inside, &nest, &err));
    assert_int_equal(nest.calls, 3);
    assert_int_equal(nest.failures, 0);
    dd_ddx_close(x);

    /* Replace b: a new number, its old bands and paragraphs gone. */
    x = open_index(path, true, &s);
    begin(x);
    put(x, &t.b2);
    assert_int_equal(t.b2.d.number, 4);
    commit(x);
    uint64_t bands_now = distinct_bands(&t.a) + distinct_bands(&t.b2) + distinct_bands(&t.c);
    expect_counts(x, 3, 6, bands_now);
    check_doc(x, &t.b2, 4);
    check_absent(x, "corpus/none.txt", 2);
    uint32_t a4[] = {1, 4};
    expect_candidates(x, t.a.bands, BANDS, a4, 2);
    for (size_t i = 0; i < BANDS; i++) /* the bands b alone had */
        if (!has_band(&t.a, t.b.bands[i]) && !has_band(&t.b2, t.b.bands[i]))
            expect_candidates(x, &t.b.bands[i], 1, NULL, 0);
    assert_int_equal(dd_ddx_paragraph(x, para_key(1), pl, 8, &err), 2);
    assert_int_equal(pl[0].doc, 1);
    assert_int_equal(pl[1].doc, 3);
    assert_int_equal(dd_ddx_paragraph(x, para_key(3), pl, 8, &err), 0);
    assert_int_equal(dd_ddx_paragraph(x, para_key(2), pl, 8, &err), 2);
    assert_int_equal(pl[0].doc, 1);
    assert_int_equal(pl[1].doc, 4);
    assert_int_equal(pl[1].first_line, 6);

    /* Remove a: gone from every table. */
    begin(x);
    bool found = false;
    assert_true(dd_ddx_remove(x, "corpus/a.txt", &found, &err));
    assert_true(found);
    assert_true(dd_ddx_remove(x, "corpus/a.txt", &found, &err));
    assert_false(found);
    assert_true(dd_ddx_remove(x, "never/there.txt", &found, &err));
    assert_false(found);
    commit(x);
    bands_now = distinct_bands(&t.b2) + distinct_bands(&t.c);
    expect_counts(x, 2, 4, bands_now);
    check_absent(x, "corpus/a.txt", 1);
    uint32_t only4[] = {4};
    expect_candidates(x, t.a.bands, BANDS, only4, 1);
    assert_int_equal(dd_ddx_paragraph(x, para_key(2), pl, 8, &err), 1);
    assert_int_equal(pl[0].doc, 4);

    /* Abort: nothing changes. */
    begin(x);
    tdoc extra = t.a;
    extra.d.id = extra.id;
    extra.d.minhash = extra.minhash;
    snprintf(extra.id, sizeof extra.id, "corpus/extra.txt");
    put(x, &extra);
    assert_int_equal(extra.d.number, 5);
    assert_true(dd_ddx_remove(x, "corpus/c.txt", &found, &err));
    assert_true(found);
    expect_counts(x, 2, 4, distinct_bands(&t.b2) + distinct_bands(&extra));
    dd_ddx_abort(x);
    expect_counts(x, 2, 4, bands_now);
    check_absent(x, "corpus/extra.txt", 5);
    check_doc(x, &t.c, 3);

    /* A removed document's number is not given again (an aborted one is:
     * it was never seen). */
    begin(x);
    put(x, &extra);
    assert_int_equal(extra.d.number, 5);
    assert_true(dd_ddx_remove(x, "corpus/extra.txt", &found, &err));
    put(x, &extra);
    assert_int_equal(extra.d.number, 6);
    commit(x);
    bands_now += distinct_bands(&extra);
    memset(ids, 0, sizeof ids);
    assert_true(dd_ddx_each(x, collect_ids, ids, &err));
    assert_string_equal(ids, "corpus/b.txt;corpus/c.txt;corpus/extra.txt;");

    /* Writes need a transaction; a failed put aborts it. */
    assert_false(dd_ddx_put(x, &extra.d, extra.bands, NULL, 0, &err));
    assert_non_null(strstr(err, "no write transaction"));
    free(err);
    assert_false(dd_ddx_commit(x, &err));
    free(err);
    assert_false(dd_ddx_remove(x, "corpus/c.txt", &found, &err));
    free(err);
    begin(x);
    put(x, &t.a);
    char long_id[2000];
    memset(long_id, 'x', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    extra.d.id = long_id;
    assert_false(dd_ddx_put(x, &extra.d, extra.bands, NULL, 0, &err));
    assert_true(strncmp(err, path, strlen(path)) == 0);
    free(err);
    check_absent(x, long_id, 99);
    assert_true(dd_ddx_begin(x, &err)); /* the failed put aborted: a new one starts */
    dd_ddx_abort(x);
    check_absent(x, "corpus/a.txt", 7);
    expect_counts(x, 3, 6, bands_now);
    dd_ddx_close(x);
    free(path);
}

/* Many documents share one band key: its numbers span several LMDB pages. */
static void many_in_one_band(void **state)
{
    fixture *f = *state;
    dd_ddx_settings s;
    default_settings(&s);
    char *path = temp_path(f, "many.ddx");
    char *err = NULL;
    dd_ddx *x = dd_ddx_create(path, &s, &err);
    assert_non_null(x);
    enum { N = 3000 };
    const uint64_t shared = 0xABCDEF, single = 0x123456, pair = 0x777;
    uint64_t rng = 9;
    tdoc *t = calloc(1, sizeof *t);
    assert_non_null(t);
    begin(x);
    for (int i = 0; i < N + 1; i++) {
        snprintf(t->id, sizeof t->id, "doc/%05d", i);
        t->d.id = t->id;
        t->d.minhash = t->minhash;
        for (int k = 0; k < NUM_PERM; k++)
            t->minhash[k] = (uint32_t)next_random(&rng);
        for (int b = 0; b < BANDS; b++)
            t->bands[b] = next_random(&rng);
        t->bands[0] = i < N ? shared : single;
        if (i == 7 || i == 2500)
            t->bands[1] = pair;
        if (i == 11)
            t->bands[2] = t->bands[3]; /* the same key twice in one document */
        t->nparas = 0;
        put(x, t);
        assert_int_equal(t->d.number, i + 1);
    }
    commit(x);
    expect_counts(x, N + 1, 0, (uint64_t)(N + 1) * BANDS - 1);
    uint32_t *out = NULL, *want = malloc((N + 1) * sizeof *want);
    size_t cap = 0;
    for (int i = 0; i < N + 1; i++)
        want[i] = (uint32_t)i + 1;
    uint64_t q[] = {single, shared, 99, single, pair};
    assert_int_equal(candidates(x, q, 5, &out, &cap), N + 1);
    assert_memory_equal(out, want, (N + 1) * sizeof *want);
    assert_int_equal(candidates(x, q + 1, 1, &out, &cap), N);
    assert_memory_equal(out, want, N * sizeof *want);
    /* a one-number key right after a many-page one, on one cursor */
    assert_int_equal(candidates(x, q + 1, 3, &out, &cap), N + 1);
    uint64_t q2[] = {shared, single};
    assert_int_equal(candidates(x, q2, 2, &out, &cap), N + 1);
    uint64_t q3[] = {single, pair};
    assert_int_equal(candidates(x, q3, 2, &out, &cap), 3);
    assert_int_equal(out[0], 8);
    assert_int_equal(out[1], 2501);
    assert_int_equal(out[2], N + 1);
    /* after removing some, inside a write transaction */
    begin(x);
    bool found;
    for (int i = 0; i < N; i += 2) {
        char id[32];
        snprintf(id, sizeof id, "doc/%05d", i);
        assert_true(dd_ddx_remove(x, id, &found, &err));
        assert_true(found);
    }
    assert_int_equal(candidates(x, q + 1, 1, &out, &cap), N / 2);
    for (int i = 0; i < N / 2; i++)
        assert_int_equal(out[i], 2 * i + 2);
    commit(x);
    expect_counts(x, N / 2 + 1, 0, (uint64_t)(N / 2 + 1) * BANDS - 1);
    free(out);
    free(want);
    free(t);
    dd_ddx_close(x);
    free(path);
}

/* Opening with want must fail with exactly message. */
static void expect_mismatch(const char *path, const dd_ddx_settings *want, const char *message)
{
    for (int w = 0; w < 2; w++) {
        char *err = NULL;
        dd_ddx *x = dd_ddx_open(path, w, want, &err);
        assert_null(x);
        assert_non_null(err);
        char *full = malloc(strlen(path) + strlen(message) + 3);
        sprintf(full, "%s: %s", path, message);
        assert_string_equal(err, full);
        free(full);
        free(err);
    }
}

static void profile_scheme(void **state)
{
    (void)state;
    size_t n;
    assert_string_equal(dd_ddx_profile_scheme(PROFILE " minhash/oph1", &n), "minhash/oph1");
    assert_int_equal(n, strlen(PROFILE));
    assert_string_equal(dd_ddx_profile_scheme(PROFILE, &n), "minhash/k1");
    assert_int_equal(n, strlen(PROFILE));
}

static void settings_mismatch(void **state)
{
    fixture *f = *state;
    dd_ddx_settings s, w;
    default_settings(&s);
    char *path = temp_path(f, "settings.ddx");
    char *err = NULL;
    dd_ddx *x = dd_ddx_create(path, &s, &err);
    assert_non_null(x);
    dd_ddx_close(x);

    dd_ddx_close(open_index(path, false, &s));
    dd_ddx_close(open_index(path, true, &s));
    dd_ddx_close(open_index(path, false, NULL));

    w = s;
    w.ngram = 4;
    expect_mismatch(path, &w, "built with --ngram 5, not 4");
    w = s;
    w.num_perm = 64;
    expect_mismatch(path, &w, "built with --num-perm 128, not 64");
    w = s;
    w.bands = 21;
    w.rows = 6;
    expect_mismatch(path, &w, "built with bands x rows 64 x 2, not 21 x 6");
    w = s;
    w.rows = 1;
    expect_mismatch(path, &w, "built with bands x rows 64 x 2, not 64 x 1");
    w = s;
    snprintf(w.profile, sizeof w.profile, "sh-norm/1 nfkc_cf+marks icu/74.2 unicode/15.1");
    expect_mismatch(path, &w,
                    "normaliser profile differs: index '" PROFILE
                    "', this build 'sh-norm/1 nfkc_cf+marks icu/74.2 unicode/15.1': build the "
                    "index again with dedup index build");
    /* An index whose profile names no MinHash scheme was made before the
     * scheme was recorded: its signatures are classic MinHash. */
    w = s;
    snprintf(w.profile, sizeof w.profile, "%s minhash/oph1", PROFILE);
    expect_mismatch(path, &w,
                    "signatures made with minhash/k1, this build makes minhash/oph1: build the "
                    "index again with dedup index build");
    /* both differ: the normaliser is named (without the schemes) */
    snprintf(w.profile, sizeof w.profile, "sh-norm/1 nfkc_cf icu/74.2 unicode/15.1 minhash/oph1");
    expect_mismatch(path, &w,
                    "normaliser profile differs: index '" PROFILE
                    "', this build 'sh-norm/1 nfkc_cf icu/74.2 unicode/15.1': build the index "
                    "again with dedup index build");
    w = s;
    w.unit_mode = 1;
    expect_mismatch(path, &w, "built with --unit line, not block");
    w = s;
    w.seed++;
    expect_mismatch(path, &w, "built with another hash seed");
    w = s;
    snprintf(w.key_fingerprint, sizeof w.key_fingerprint, "%s", "9f86d081884c7d65");
    expect_mismatch(path, &w, "built without a key, but --key-file was given");
    /* the first difference is named */
    w.ngram = 3;
    expect_mismatch(path, &w, "built with --ngram 5, not 3");

    dd_ddx_settings o = s;
    snprintf(o.profile, sizeof o.profile, "%s minhash/oph1", PROFILE);
    char *opath = temp_path(f, "oph.ddx");
    x = dd_ddx_create(opath, &o, &err);
    assert_non_null(x);
    dd_ddx_close(x);
    dd_ddx_close(open_index(opath, true, &o));
    w = o;
    snprintf(w.profile, sizeof w.profile, "%s minhash/k1", PROFILE);
    expect_mismatch(opath, &w,
                    "signatures made with minhash/oph1, this build makes minhash/k1: build the "
                    "index again with dedup index build");
    free(opath);

    dd_ddx_settings k = s;
    k.unit_mode = 1;
    snprintf(k.key_fingerprint, sizeof k.key_fingerprint, "%s", "9f86d081884c7d65");
    char *kpath = temp_path(f, "keyed.ddx");
    x = dd_ddx_create(kpath, &k, &err);
    assert_non_null(x);
    dd_ddx_close(x);
    dd_ddx_close(open_index(kpath, false, &k));
    w = k;
    w.key_fingerprint[0] = '\0';
    expect_mismatch(kpath, &w, "built with key fingerprint 9f86d081884c7d65, but no --key-file was given");
    snprintf(w.key_fingerprint, sizeof w.key_fingerprint, "%s", "0123abcd");
    expect_mismatch(kpath, &w, "built with key fingerprint 9f86d081884c7d65, not 0123abcd");
    w = k;
    w.unit_mode = 0;
    expect_mismatch(kpath, &w, "built with --unit block, not line");
    x = open_index(kpath, false, NULL);
    assert_string_equal(dd_ddx_settings_of(x)->key_fingerprint, "9f86d081884c7d65");
    assert_int_equal(dd_ddx_settings_of(x)->unit_mode, 1);
    dd_ddx_close(x);
    free(kpath);
    free(path);
}

/* ---------------------------------------------------- damaged files */

static void write_file(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, p, n), (ssize_t)n);
    close(fd);
}

static unsigned char *read_whole(const char *path, size_t *n)
{
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    unsigned char *p = malloc((size_t)st.st_size + 1);
    assert_int_equal(read(fd, p, (size_t)st.st_size), st.st_size);
    close(fd);
    *n = (size_t)st.st_size;
    return p;
}

static off_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

/* Opening path (for reading, then for writing) must fail with a message
 * that starts with "PATH: " and holds what (when not NULL). */
static void expect_not_index(const char *path, const char *what)
{
    for (int w = 0; w < 2; w++) {
        char *err = NULL;
        dd_ddx *x = dd_ddx_open(path, w, NULL, &err);
        if (x)
            fail_msg("%s opened (%s)", path, w ? "write" : "read");
        assert_non_null(err);
        if (strncmp(err, path, strlen(path)) || strncmp(err + strlen(path), ": ", 2))
            fail_msg("message does not start with the path: %s", err);
        if (what && !strstr(err, what))
            fail_msg("message '%s' lacks '%s'", err, what);
        free(err);
    }
}

/* A folder holding data (n bytes) as data.mdb. */
static char *index_of_bytes(fixture *f, const char *name, const void *data, size_t n)
{
    char *dir = temp_path(f, name);
    assert_int_equal(mkdir(dir, 0755), 0);
    char file[1024];
    snprintf(file, sizeof file, "%s/data.mdb", dir);
    write_file(file, data, n);
    return dir;
}

/* A folder holding the fuzzer's regression input `input`
 * (tests/fuzz/regressions/fuzz_index_open/) as data.mdb. */
static char *index_of_regression(fixture *f, const char *name, const char *input)
{
    char src[1024];
    snprintf(src, sizeof src, "tests/fuzz/regressions/fuzz_index_open/%s", input);
    size_t n;
    unsigned char *bytes = read_whole(src, &n);
    char *dir = index_of_bytes(f, name, bytes, n);
    free(bytes);
    return dir;
}

/* A file that libFuzzer made (tests/fuzz/regressions/fuzz_index_open/):
 * its header passes every check, but a page number in it lies past the end
 * of the file, so LMDB's read of that page faults (SIGBUS). The read must
 * fail with "the index is damaged", and so must every later call, while
 * reads that do not touch the page still work before it. */
static void page_outside_the_file(void **state)
{
    fixture *f = *state;
    char *path = index_of_regression(f, "sigbus.ddx", "page-outside-file-sigbus");
    char *err = NULL;
    dd_ddx *x = dd_ddx_open(path, false, NULL, &err);
    assert_non_null(x);
    dd_ddx_counts c;
    assert_true(dd_ddx_counts_of(x, &c, &err));
    assert_int_equal(c.docs, 2);
    dd_ddx_place places[4];
    sh_key key = {1, 2};
    assert_int_equal(dd_ddx_paragraph(x, key, places, 4, &err), -1);
    assert_non_null(err);
    if (strncmp(err, path, strlen(path)) || !strstr(err, ": the index is damaged"))
        fail_msg("unexpected message: %s", err);
    free(err);
    err = NULL;
    assert_false(dd_ddx_counts_of(x, &c, &err));
    assert_non_null(strstr(err, "the index is damaged"));
    free(err);
    dd_ddx_close(x);
    free(path);
}

/* Another file the fuzzer made: a header whose page size is 0, on which
 * LMDB's opening divides by zero (SIGFPE). It must be refused with "the
 * index is damaged" and the path, for reading and for writing. */
static void page_size_zero(void **state)
{
    fixture *f = *state;
    char *path = index_of_regression(f, "sigfpe.ddx", "page-size-zero-sigfpe");
    expect_not_index(path, "the index is damaged");
    free(path);
}

/* A small real index, closed; returns its path. */
static char *real_index(fixture *f, const char *name, int docs)
{
    dd_ddx_settings s;
    default_settings(&s);
    char *path = temp_path(f, name);
    char *err = NULL;
    dd_ddx *x = dd_ddx_create(path, &s, &err);
    assert_non_null(x);
    uint64_t rng = 1234;
    tdoc *t = calloc(1, sizeof *t);
    begin(x);
    for (int i = 0; i < docs; i++) {
        snprintf(t->id, sizeof t->id, "real/%04d.txt", i);
        t->d.id = t->id;
        t->d.minhash = t->minhash;
        for (int k = 0; k < NUM_PERM; k++)
            t->minhash[k] = (uint32_t)next_random(&rng);
        band_keys(t->minhash, t->bands);
        t->nparas = 0;
        for (int p = 0; p < 5; p++)
            add_para(t, next_random(&rng) % 50, (uint32_t)p + 1, (uint32_t)p + 1);
        put(x, t);
    }
    commit(x);
    free(t);
    dd_ddx_close(x);
    return path;
}

static void not_an_index(void **state)
{
    fixture *f = *state;
    char *missing = temp_path(f, "missing.ddx");
    expect_not_index(missing, "No such file or directory");

    char *file = temp_path(f, "file.ddx");
    write_file(file, "garbage\n", 8);
    expect_not_index(file, "not a dedup index (not a folder)");

    char *empty = temp_path(f, "empty.ddx");
    assert_int_equal(mkdir(empty, 0755), 0);
    expect_not_index(empty, "not a dedup index (no data.mdb in it)");

    char *subdir = temp_path(f, "subdir.ddx");
    assert_int_equal(mkdir(subdir, 0755), 0);
    char sub[1024];
    snprintf(sub, sizeof sub, "%s/data.mdb", subdir);
    assert_int_equal(mkdir(sub, 0755), 0);
    expect_not_index(subdir, "not a dedup index (data.mdb is not a file)");

    uint64_t rng = 77;
    unsigned char junk[20000];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)next_random(&rng);
    char *random = index_of_bytes(f, "random.ddx", junk, sizeof junk);
    expect_not_index(random, "not a dedup index");
    /* nothing was written to it */
    char data[1024];
    snprintf(data, sizeof data, "%s/data.mdb", random);
    size_t n;
    unsigned char *back = read_whole(data, &n);
    assert_int_equal(n, sizeof junk);
    assert_memory_equal(back, junk, n);
    free(back);

    char *zero = index_of_bytes(f, "zero.ddx", "", 0);
    expect_not_index(zero, "not a dedup index (data.mdb is empty)");
    snprintf(data, sizeof data, "%s/data.mdb", zero);
    assert_int_equal(file_size(data), 0);

    /* Truncated copies of a real index: at half, at 100 bytes, and at
     * every page boundary and a little past it. */
    char *real = real_index(f, "real.ddx", 200);
    snprintf(data, sizeof data, "%s/data.mdb", real);
    unsigned char *whole = read_whole(data, &n);
    assert_true(n > 8 * 4096);
    dd_ddx_close(open_index(real, false, NULL));
    char *half = index_of_bytes(f, "half.ddx", whole, n / 2);
    expect_not_index(half, "not a dedup index (data.mdb is truncated)");
    snprintf(data, sizeof data, "%s/data.mdb", half);
    assert_int_equal(file_size(data), (off_t)(n / 2));
    char *tiny = index_of_bytes(f, "tiny.ddx", whole, 100);
    expect_not_index(tiny, "not a dedup index");
    for (size_t cut = 4096; cut < n; cut += 4096) {
        size_t cuts[] = {cut - 1, cut, cut + 200};
        for (int i = 0; i < 3; i++) {
            if (cuts[i] >= n)
                continue;
            char *p = index_of_bytes(f, "cut.ddx", whole, cuts[i]);
            expect_not_index(p, "not a dedup index");
            remove_tree(p);
            free(p);
        }
    }
    /* Garbage inside the header pages. */
    unsigned char *bad = malloc(n);
    memcpy(bad, whole, n);
    for (size_t i = 0; i < 64; i++)
        bad[i] ^= 0x5a;
    for (size_t i = 4096; i < 4096 + 64; i++)
        bad[i] ^= 0x5a;
    char *smashed = index_of_bytes(f, "smashed.ddx", bad, n);
    expect_not_index(smashed, "not a dedup index");
    free(bad);
    free(whole);

    free(missing);
    free(file);
    free(empty);
    free(subdir);
    free(random);
    free(zero);
    free(real);
    free(half);
    free(tiny);
    free(smashed);
}

/* Writes one key of the main database (or of table) of an LMDB
 * environment at path, with the raw LMDB API. */
static void raw_put(const char *path, const char *table, const char *key, const void *val,
                    size_t n)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
    mkdir(path, 0755);
    assert_int_equal(mdb_env_open(env, path, 0, 0644), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, table, MDB_CREATE, &dbi), 0);
    MDB_val k = {strlen(key), (void *)key}, v = {n, (void *)val};
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static void foreign_and_damaged_records(void **state)
{
    fixture *f = *state;
    /* Another program's LMDB environment. */
    char *other = temp_path(f, "other.ddx");
    raw_put(other, NULL, "hello", "world", 5);
    expect_not_index(other, "not a dedup index (no dedup tables or settings in it)");
    /* A table named meta, but no settings. */
    char *nometa = temp_path(f, "nometa.ddx");
    raw_put(nometa, "meta", "other", "x", 1);
    expect_not_index(nometa, "not a dedup index");

    /* A real index whose settings record is changed. */
    char *real = real_index(f, "short.ddx", 3);
    raw_put(real, "meta", "settings", "\0\0\0\1abc", 7);
    expect_not_index(real, "not a dedup index (a settings record of 7 bytes, not 289)");
    raw_put(real, "meta", "settings", "\0\0", 2);
    expect_not_index(real, "not a dedup index (a settings record of 2 bytes)");
    unsigned char rec[289] = {0};
    rec[3] = 2; /* format 2 */
    raw_put(real, "meta", "settings", rec, sizeof rec);
    expect_not_index(real, "index format 2 is newer than this dedup's (1)");
    rec[3] = 0;
    raw_put(real, "meta", "settings", rec, sizeof rec);
    expect_not_index(real, "not a dedup index (format 0)");
    rec[3] = 1; /* all settings zero */
    raw_put(real, "meta", "settings", rec, sizeof rec);
    expect_not_index(real, "not a dedup index (impossible settings");

    /* A document record cut short: get reports it, no crash. */
    char *cut = real_index(f, "cutdoc.ddx", 3);
    raw_put(cut, "docs", "real/0001.txt", "\0\0\0\2", 4);
    dd_ddx *x = open_index(cut, false, NULL);
    dd_ddx_doc d;
    char *err = NULL;
    assert_false(dd_ddx_get(x, "real/0001.txt", &d, &err));
    assert_non_null(err);
    assert_non_null(strstr(err, "damaged"));
    free(err);
    err = NULL;
    assert_false(dd_ddx_get_number(x, 2, &d, &err));
    assert_non_null(err);
    free(err);
    assert_false(dd_ddx_each(x, collect_ids, (char[256]){""}, &err));
    assert_non_null(err);
    free(err);
    assert_true(dd_ddx_get(x, "real/0000.txt", &d, &err));
    dd_ddx_doc_free(&d);
    dd_ddx_close(x);

    free(other);
    free(nometa);
    free(real);
    free(cut);
}

static void create_errors(void **state)
{
    fixture *f = *state;
    dd_ddx_settings s;
    default_settings(&s);
    char *err = NULL;
    char *real = real_index(f, "exists.ddx", 2);
    assert_null(dd_ddx_create(real, &s, &err));
    assert_non_null(strstr(err, "an index is already there"));
    assert_true(strncmp(err, real, strlen(real)) == 0);
    free(err);
    dd_ddx *x = open_index(real, false, NULL);
    expect_counts(x, 2, 10, 2 * BANDS);
    dd_ddx_close(x);

    char *full = temp_path(f, "notempty");
    assert_int_equal(mkdir(full, 0755), 0);
    char file[1024];
    snprintf(file, sizeof file, "%s/article.txt", full);
    write_file(file, "text\n", 5);
    assert_null(dd_ddx_create(full, &s, &err));
    assert_non_null(strstr(err, "not empty"));
    free(err);
    snprintf(file, sizeof file, "%s/data.mdb", full);
    assert_int_equal(file_size(file), -1);

    char *plain = temp_path(f, "plain");
    write_file(plain, "x", 1);
    assert_null(dd_ddx_create(plain, &s, &err));
    assert_true(strncmp(err, plain, strlen(plain)) == 0);
    free(err);

    char *deep = temp_path(f, "no/such/folder.ddx");
    assert_null(dd_ddx_create(deep, &s, &err));
    assert_true(strncmp(err, deep, strlen(deep)) == 0);
    free(err);

    /* An empty folder is fine. */
    char *emptydir = temp_path(f, "empty.ddx");
    assert_int_equal(mkdir(emptydir, 0755), 0);
    x = dd_ddx_create(emptydir, &s, &err);
    assert_non_null(x);
    dd_ddx_close(x);
    dd_ddx_close(open_index(emptydir, true, &s));

    free(real);
    free(full);
    free(plain);
    free(deep);
    free(emptydir);
}

/* ------------------------------------------------------- processes */

static void write_u64(int fd, uint64_t v)
{
    ssize_t w = write(fd, &v, sizeof v);
    (void)w;
}

static bool read_u64(int fd, uint64_t *v)
{
    size_t got = 0;
    while (got < sizeof *v) {
        ssize_t r = read(fd, (char *)v + got, sizeof *v - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        got += (size_t)r;
    }
    return true;
}

typedef struct snapshot_child {
    dd_ddx *x;
    int to_parent, from_parent;
    bool done;
} snapshot_child;

static uint64_t docs_now(dd_ddx *x)
{
    dd_ddx_counts c;
    char *err = NULL;
    if (!dd_ddx_counts_of(x, &c, &err)) {
        free(err);
        return UINT64_MAX;
    }
    return c.docs;
}

/* In the child, inside dd_ddx_each: reports the count, waits for the
 * parent's commit, reports the count again (same snapshot). */
static bool hold_snapshot(void *ctx, const dd_ddx_doc *d)
{
    (void)d;
    snapshot_child *c = ctx;
    if (c->done)
        return false;
    c->done = true;
    write_u64(c->to_parent, docs_now(c->x));
    uint64_t go;
    if (!read_u64(c->from_parent, &go))
        return false;
    dd_ddx_doc other;
    char *err = NULL;
    /* the new documents are not in this snapshot */
    uint64_t seen = dd_ddx_get_number(c->x, (uint32_t)go, &other, &err) ? 1 : 0;
    if (seen)
        dd_ddx_doc_free(&other);
    free(err);
    write_u64(c->to_parent, docs_now(c->x));
    write_u64(c->to_parent, seen);
    return false;
}

static void reader_keeps_snapshot(void **state)
{
    fixture *f = *state;
    dd_ddx_settings s;
    default_settings(&s);
    char *path = real_index(f, "snap.ddx", 3);
    int up[2], down[2];
    assert_int_equal(pipe(up), 0);
    assert_int_equal(pipe(down), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(up[0]);
        close(down[1]);
        char *err = NULL;
        dd_ddx *x = dd_ddx_open(path, false, &s, &err);
        if (!x)
            _exit(3);
        snapshot_child c = {x, up[1], down[0], false};
        if (!dd_ddx_each(x, hold_snapshot, &c, &err))
            _exit(4);
        write_u64(up[1], docs_now(x)); /* a new read: the new count */
        dd_ddx_close(x);
        _exit(0);
    }
    close(up[1]);
    close(down[0]);
    uint64_t before, during, seen, after;
    assert_true(read_u64(up[0], &before));
    assert_int_equal(before, 3);
    /* The writer commits while the child holds its snapshot. */
    dd_ddx *x = open_index(path, true, &s);
    begin(x);
    tdoc *t = calloc(1, sizeof *t);
    uint64_t rng = 5;
    for (int i = 0; i < 2; i++) {
        snprintf(t->id, sizeof t->id, "new/%d", i);
        t->d.id = t->id;
        t->d.minhash = t->minhash;
        for (int k = 0; k < NUM_PERM; k++)
            t->minhash[k] = (uint32_t)next_random(&rng);
        band_keys(t->minhash, t->bands);
        put(x, t);
    }
    commit(x);
    expect_counts(x, 5, 15, 5 * BANDS);
    write_u64(down[1], t->d.number);
    assert_true(read_u64(up[0], &during));
    assert_true(read_u64(up[0], &seen));
    assert_true(read_u64(up[0], &after));
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(during, 3);
    assert_int_equal(seen, 0);
    assert_int_equal(after, 5);
    close(up[0]);
    close(down[1]);
    free(t);
    dd_ddx_close(x);
    free(path);
}

/* The child of writer_killed: transactions of BATCH documents, forever;
 * after each commit, the count of documents to the pipe. */
enum { BATCH = 20 };

static void writer_child(const char *path, const dd_ddx_settings *s, int round, int fd)
{
    char *err = NULL;
    dd_ddx *x = dd_ddx_open(path, true, s, &err);
    if (!x)
        _exit(3);
    uint64_t docs = docs_now(x), rng = (uint64_t)round * 1000003;
    tdoc *t = calloc(1, sizeof *t);
    for (int txn = 0; txn < 100000; txn++) {
        if (!dd_ddx_begin(x, &err))
            _exit(4);
        for (int i = 0; i < BATCH; i++) {
            snprintf(t->id, sizeof t->id, "round%02d/%05d/%02d", round, txn, i);
            t->d.id = t->id;
            t->d.minhash = t->minhash;
            for (int k = 0; k < NUM_PERM; k++)
                t->minhash[k] = (uint32_t)next_random(&rng);
            band_keys(t->minhash, t->bands);
            t->nparas = 0;
            for (int p = 0; p < 4; p++)
                add_para(t, next_random(&rng), (uint32_t)p + 1, (uint32_t)p + 1);
            if (!dd_ddx_put(x, &t->d, t->bands, t->paras, t->nparas, &err))
                _exit(5);
        }
        if (!dd_ddx_commit(x, &err))
            _exit(6);
        docs += BATCH;
        write_u64(fd, docs);
    }
    _exit(0);
}

static bool count_each(void *ctx, const dd_ddx_doc *d)
{
    (void)d;
    (*(uint64_t *)ctx)++;
    return true;
}

static void writer_killed(void **state)
{
    fixture *f = *state;
    dd_ddx_settings s;
    default_settings(&s);
    char *path = real_index(f, "kill.ddx", 0);
    uint64_t rng = 20240601, committed = 0;
    int at_commit = 0, in_between = 0, started = 0;
    for (int round = 0; round < 50; round++) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            writer_child(path, &s, round, fds[1]);
        }
        close(fds[1]);
        uint64_t v, last = committed;
        bool any = false;
        /* Every other round waits for the writer's first commit first (10 s
         * at most): on a loaded machine, under ASan, a writer can take more
         * than 40 ms to commit, and then no kill of 50 fell after one. */
        struct pollfd ready = {fds[0], POLLIN, 0};
        if (round % 2 && poll(&ready, 1, 10000) == 1 && read_u64(fds[0], &v)) {
            last = v;
            any = true;
        }
        /* Then a random moment within the next 40 ms. */
        struct timespec ts = {0, (long)(next_random(&rng) % 40000) * 1000};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!WIFSIGNALED(status))
            fail_msg("round %d: the writer exited with status %d before the kill", round,
                     WEXITSTATUS(status));
        while (read_u64(fds[0], &v)) {
            last = v;
            any = true;
        }
        close(fds[0]);
        started += any;
        char *err = NULL;
        dd_ddx *x = dd_ddx_open(path, false, &s, &err);
        if (!x)
            fail_msg("round %d: the index does not open: %s", round, err);
        dd_ddx_counts c;
        assert_true(dd_ddx_counts_of(x, &c, &err));
        if (c.docs == last)
            at_commit++;
        else if (c.docs == last + BATCH)
            in_between++; /* killed after its commit, before it reported it */
        else
            fail_msg("round %d: %llu documents, the writer had reported %llu", round,
                     (unsigned long long)c.docs, (unsigned long long)last);
        /* whole transactions only: every table agrees */
        assert_int_equal(c.band_entries, c.docs * BANDS);
        assert_int_equal(c.paragraphs, c.docs * 4);
        uint64_t seen = 0;
        assert_true(dd_ddx_each(x, count_each, &seen, &err));
        assert_int_equal(seen, c.docs);
        committed = c.docs;
        dd_ddx_close(x);
    }
    /* The kills fell both before any commit and after several. */
    assert_true(committed > 0);
    assert_true(at_commit + in_between == 50);
    print_message("50 kills: %d after a reported commit, %d after an unreported one, %d "
                  "after at least one commit; %llu documents\n",
                  at_commit, in_between, started, (unsigned long long)committed);
    /* It still takes writes. */
    dd_ddx *x = open_index(path, true, &s);
    begin(x);
    bool found;
    char *err = NULL;
    assert_true(dd_ddx_remove(x, "round00/00000/00", &found, &err));
    commit(x);
    expect_counts(x, committed - found, (committed - found) * 4, (committed - found) * BANDS);
    dd_ddx_close(x);
    free(path);
}

/* ------------------------------------------------ writes on damaged stores */

/* The free pages of the index at path, from LMDB's own free-page table, and
 * its last page: what a write may find damaged without harm. */
static size_t free_pages(const char *path, size_t *last)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_envinfo info;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
    assert_int_equal(mdb_env_open(env, path, MDB_RDONLY, 0644), 0);
    assert_int_equal(mdb_env_info(env, &info), 0);
    *last = info.me_last_pgno;
    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_cursor_open(txn, 0, &cur), 0); /* 0: the free-page table */
    size_t n = 0;
    MDB_val k, v;
    while (mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0)
        n += *(const size_t *)v.mv_data;
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return n;
}

/* The audit's damages: each page of a real index filled in turn with 0xFF,
 * 0x00, 'A' and 0x01, then a write (a document put, one removed) as index
 * add and remove make. Before writes were verified, such a write made LMDB
 * write out of bounds (SIGSEGV, a 4 GB memcpy over the heap) or free a page
 * in use. Now every page in use must be refused by dd_ddx_begin with "PATH:
 * the index is damaged (", before LMDB writes (the file is unchanged), and
 * every free page (LMDB never reads one) must let the write go through. */
static void damaged_store_refused_on_write(void **state)
{
    fixture *f = *state;
    char *real = real_index(f, "pristine.ddx", 60);
    char data[1024];
    snprintf(data, sizeof data, "%s/data.mdb", real);
    size_t len, last, nfree = free_pages(real, &last);
    unsigned char *pristine = read_whole(data, &len);
    const size_t page = 4096, used = last + 1 - 2 - nfree;
    assert_true(len >= (last + 1) * page);
    const unsigned char fills[] = {0xFF, 0x00, 'A', 0x01};
    tdoc *t = calloc(1, sizeof *t);
    uint64_t rng = 77;
    for (size_t k = 0; k < sizeof fills; k++) {
        size_t refused = 0, written = 0;
        for (size_t p = 2; p <= last; p++) {
            unsigned char *bytes = malloc(len);
            memcpy(bytes, pristine, len);
            memset(bytes + p * page, fills[k], page);
            char *path = index_of_bytes(f, "damaged.ddx", bytes, len);
            char *err = NULL;
            /* opening reads the table of tables: it may refuse first */
            dd_ddx *x = dd_ddx_open(path, true, NULL, &err);
            if (!x || !dd_ddx_begin(x, &err)) {
                if (strncmp(err, path, strlen(path)) ||
                    (strncmp(err + strlen(path), ": the index is damaged (", 24) &&
                     (x || strncmp(err + strlen(path), ": not a dedup index", 19))))
                    fail_msg("page %zu filled with 0x%02x: %s", p, fills[k], err);
                free(err);
                dd_ddx_close(x);
                snprintf(data, sizeof data, "%s/data.mdb", path);
                size_t n;
                unsigned char *after = read_whole(data, &n);
                assert_true(n == len && !memcmp(after, bytes, len));
                free(after);
                refused++;
            } else {
                snprintf(t->id, sizeof t->id, "new/%zu.txt", p);
                t->d.id = t->id;
                t->d.minhash = t->minhash;
                for (int i = 0; i < NUM_PERM; i++)
                    t->minhash[i] = (uint32_t)next_random(&rng);
                band_keys(t->minhash, t->bands);
                t->nparas = 0;
                add_para(t, 3, 1, 1);
                put(x, t);
                bool found;
                if (!dd_ddx_remove(x, "real/0007.txt", &found, &err))
                    fail_msg("page %zu filled with 0x%02x: remove: %s", p, fills[k], err);
                assert_true(found);
                commit(x);
                dd_ddx_close(x);
                written++;
            }
            free(bytes);
            free(path);
        }
        if (refused != used || written != nfree)
            fail_msg("fill 0x%02x: %zu of %zu pages refused (%zu in use), %zu written (%zu free)",
                     fills[k], refused, last - 1, used, written, nfree);
    }
    print_message("%zu pages in use, each refused with each fill; %zu free, written\n", used,
                  nfree);
    free(t);
    free(pristine);
    free(real);
}

/* A file changed under a writer after its check: every page marked "dirty"
 * (a flag LMDB only sets in memory), so that the next put makes LMDB write
 * into its read-only map, a fault inside mdb_put. The put must fail with "the
 * index is damaged", and abort and close must not touch the transaction
 * (mdb_txn_abort would free the cursor mdb_put keeps on its stack: the
 * audit's bad free, which glibc aborts on and ASan reports). In a child,
 * since the handle then keeps LMDB's memory and writer lock until exit. */
static void fault_inside_a_write(void **state)
{
    fixture *f = *state;
    char *path = real_index(f, "fault.ddx", 20);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* a crash here kills the child (not cmocka's handlers, which would
         * go on running the other tests in it) */
        int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
        for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
            signal(sigs[i], SIG_DFL);
        dd_ddx *x = open_index(path, true, NULL);
        begin(x);
        char data[1024];
        snprintf(data, sizeof data, "%s/data.mdb", path);
        int fd = open(data, O_RDWR);
        off_t size = lseek(fd, 0, SEEK_END);
        for (off_t at = 2 * 4096; at < size; at += 4096) {
            uint16_t flags;
            if (pread(fd, &flags, 2, at + 10) != 2)
                _exit(3);
            flags |= 0x10; /* P_DIRTY */
            if (pwrite(fd, &flags, 2, at + 10) != 2)
                _exit(3);
        }
        close(fd);
        tdoc *t = calloc(1, sizeof *t);
        snprintf(t->id, sizeof t->id, "real/0003.txt");
        t->d.id = t->id;
        t->d.minhash = t->minhash;
        char *err = NULL;
        bool ok = dd_ddx_put(x, &t->d, t->bands, t->paras, 0, &err);
        int status = ok ? 4 : !strstr(err, ": the index is damaged") ? 5 : 0;
        free(err);
        err = NULL;
        bool found;
        if (status == 0 && (dd_ddx_remove(x, "real/0004.txt", &found, &err) ||
                            !strstr(err, ": the index is damaged")))
            status = 6;
        free(err);
        dd_ddx_abort(x);
        dd_ddx_close(x);
        free(t);
        _exit(status); /* what LMDB keeps goes with the process */
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("the writer %s %d", WIFEXITED(status) ? "exited with" : "died of signal",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    free(path);
}

/* What LMDB itself writes must always pass the check: 40 write transactions
 * of puts, replacements and removes, with ids up to LMDB's 511 bytes,
 * records on overflow pages (many paragraphs), band keys shared by hundreds
 * of documents (duplicates on sub-pages, then in sub-tables, then removed
 * again), and pages freed and reused. Each dd_ddx_begin checks the whole
 * store; one refusal fails the test. */
static void verified_after_many_writes(void **state)
{
    fixture *f = *state;
    dd_ddx_settings s;
    default_settings(&s);
    char *path = temp_path(f, "churn.ddx");
    char *err = NULL;
    dd_ddx *x = dd_ddx_create(path, &s, &err);
    assert_non_null(x);
    tdoc *t = calloc(1, sizeof *t);
    dd_ddx_para *paras = calloc(300, sizeof *paras);
    uint64_t rng = 5;
    for (int round = 0; round < 40; round++) {
        begin(x);
        for (int i = 0; i < 60; i++) {
            uint64_t r = next_random(&rng);
            int n = (int)(r % 400);
            char id[512];
            int len = (r >> 20) % 17 == 0 ? 300 + (int)(r % 211) : 12;
            snprintf(id, sizeof id, "doc/%04d/", n);
            for (int k = (int)strlen(id); k < len; k++)
                id[k] = (char)('a' + (k + n) % 26);
            id[len] = '\0';
            if ((r >> 8) % 4 == 0) {
                bool found;
                if (!dd_ddx_remove(x, id, &found, &err))
                    fail_msg("round %d: remove: %s", round, err);
                continue;
            }
            for (int k = 0; k < NUM_PERM; k++)
                t->minhash[k] = (uint32_t)next_random(&rng);
            band_keys(t->minhash, t->bands);
            t->bands[0] = 1 + n % 3;  /* shared by a third of all documents */
            t->bands[1] = 100 + n % 40;
            size_t np = (r >> 30) % 9 == 0 ? 250 : (r >> 30) % 6;
            for (size_t p = 0; p < np; p++)
                paras[p] = (dd_ddx_para){para_key(p % 50 + (p ? 0 : (uint64_t)n)),
                                         (uint32_t)p + 1, (uint32_t)p + 1};
            dd_ddx_doc d = {.id = id,
                            .size = r % 100000,
                            .mtime_ns = (int64_t)(r % 1000000),
                            .key = {r, ~r},
                            .words = 10,
                            .shingles = 6,
                            .minhash = t->minhash};
            if (!dd_ddx_put(x, &d, t->bands, paras, np, &err))
                fail_msg("round %d: put: %s", round, err);
        }
        commit(x);
    }
    begin(x); /* the last commit's store, checked */
    dd_ddx_abort(x);
    dd_ddx_close(x);
    free(paras);
    free(t);
    free(path);
}

/* index build's staging: the new index is at path only once published. */
static void staged_create(void **state)
{
    fixture *f = *state;
    dd_ddx_settings s;
    default_settings(&s);
    char *path = temp_path(f, "staged.ddx");
    char *err = NULL;
    dd_ddx *x = dd_ddx_create_staged(path, &s, &err);
    assert_non_null(x);
    begin(x);
    tdoc *t = calloc(1, sizeof *t);
    snprintf(t->id, sizeof t->id, "a.txt");
    t->d.id = t->id;
    t->d.minhash = t->minhash;
    put(x, t);
    commit(x);
    assert_int_equal(file_size(path), -1); /* not there before it is published */
    dd_ddx_close(x);                       /* never published: removed */
    assert_int_equal(file_size(path), -1);
    char part[1024];
    snprintf(part, sizeof part, "%s.part-%ld", path, (long)getpid());
    assert_int_equal(file_size(part), -1);

    x = dd_ddx_create_staged(path, &s, &err);
    assert_non_null(x);
    begin(x);
    put(x, t);
    commit(x);
    assert_true(dd_ddx_publish(x, &err));
    expect_counts(x, 1, 0, 1); /* its band keys are all 0 */
    dd_ddx_close(x);
    x = open_index(path, false, &s);
    expect_counts(x, 1, 0, 1);
    dd_ddx_close(x);
    assert_int_equal(file_size(part), -1);
    /* an index already there is not replaced */
    assert_null(dd_ddx_create_staged(path, &s, &err));
    assert_non_null(strstr(err, "an index is already there"));
    free(err);
    free(t);
    free(path);
}

/* index remove's key check. */
static void key_difference(void **state)
{
    fixture *f = *state;
    char *path = real_index(f, "keyed.ddx", 0);
    dd_ddx *x = open_index(path, false, NULL);
    assert_null(dd_ddx_key_difference(x, ""));
    char *err = dd_ddx_key_difference(x, "0123456789abcdef0123456789abcdef");
    assert_non_null(err);
    assert_non_null(strstr(err, ": built without a key, but --key-file was given"));
    free(err);
    dd_ddx_close(x);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),     cmocka_unit_test(many_in_one_band),
        cmocka_unit_test(profile_scheme), cmocka_unit_test(settings_mismatch),
        cmocka_unit_test(not_an_index),   cmocka_unit_test(foreign_and_damaged_records),
        cmocka_unit_test(create_errors),  cmocka_unit_test(reader_keeps_snapshot),
        cmocka_unit_test(writer_killed),  cmocka_unit_test(page_outside_the_file),
        cmocka_unit_test(page_size_zero),
        cmocka_unit_test(damaged_store_refused_on_write),
        cmocka_unit_test(fault_inside_a_write),
        cmocka_unit_test(verified_after_many_writes),
        cmocka_unit_test(staged_create),
        cmocka_unit_test(key_difference),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
