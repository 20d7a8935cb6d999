/*
 * fuzz_index_write.c - libFuzzer target: arbitrary bytes as an index's data
 * file, opened for writing, then written to as `dedup index add` and
 * `dedup index remove` write (dd_ddx_begin, dd_ddx_put, dd_ddx_remove,
 * dd_ddx_commit; dedup/store/ddx.h).
 *
 * The bytes go to DIR/data.mdb (a folder made once per process; LMDB's lock
 * file is removed before each run). Promises checked:
 *   - opening for writing, and beginning a write, either fail with a
 *     message or succeed; beginning verifies the whole store (lmdb_check.h);
 *   - on a store that passed, every write answers with a result or a
 *     message, and none says the index is damaged: a verified store never
 *     makes LMDB fault (ASan catches any out-of-bounds access or bad free);
 *   - the store LMDB wrote then passes the check again (the check accepts
 *     what LMDB itself writes), and reads back what was written.
 * The writes: a new document "fuzz/new.txt" (with paragraphs, one key
 * shared with an existing band), the first indexed document replaced, the
 * second removed, and a document that is not there removed.
 */
#include "store/ddx.h"
#include "fuzz_check.h"
#include "fuzz_index.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];

/* The ids of the first two documents, in id order. */
typedef struct firsts {
    char id[2][600];
    size_t n;
} firsts;

static bool first_two(void *ctx, const dd_ddx_doc *d)
{
    firsts *f = ctx;
    snprintf(f->id[f->n++], sizeof f->id[0], "%s", d->id);
    return f->n < 2;
}

static bool damaged(const char *err) { return err && strstr(err, "the index is damaged"); }

/* Stores a document under id with signature values from seed; true, or
 * false with the message in *err. */
static bool put(dd_ddx *x, const char *id, uint32_t seed, char **err)
{
    const dd_ddx_settings *s = dd_ddx_settings_of(x);
    uint32_t *minhash = calloc(s->num_perm, sizeof *minhash);
    uint64_t *bands = calloc(s->bands, sizeof *bands);
    CHECK(minhash && bands);
    for (uint32_t i = 0; i < s->num_perm; i++)
        minhash[i] = seed * 2654435761u + i;
    for (uint32_t i = 0; i < s->bands; i++)
        bands[i] = (uint64_t)seed << 32 | i;
    bands[0] = 1; /* a key other documents of the target may share */
    dd_ddx_para paras[40];
    for (uint32_t i = 0; i < 40; i++)
        paras[i] = (dd_ddx_para){{seed + i, i % 7}, i + 1, i + 1};
    dd_ddx_doc d = {.id = (char *)id,
                    .size = 1000,
                    .mtime_ns = 1,
                    .key = {seed, 7},
                    .words = 50,
                    .shingles = 46,
                    .minhash = minhash};
    bool ok = dd_ddx_put(x, &d, bands, paras, 40, err);
    free(minhash);
    free(bands);
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Files made to loop are stopped after a second or two of CPU, not the
     * ten a user gets: every input then runs well within libFuzzer's
     * -timeout, on a loaded machine too. */
    dd_ddx_set_loop_limit(1);
    fuzz_index_folder(dir, sizeof dir, "/tmp/fuzz-ddx-write.XXXXXX", data, size);
    char *err = NULL;
    dd_ddx *x = dd_ddx_open(dir, true, NULL, &err);
    if (!x) {
        CHECK(err && *err);
        free(err);
        return 0;
    }
    if (!dd_ddx_begin(x, &err)) { /* refused: damaged, or another error */
        CHECK(err && *err);
        free(err);
        dd_ddx_close(x);
        return 0;
    }
    /* A verified store: reads and writes must not fault. */
    firsts some = {0};
    if (!dd_ddx_each(x, first_two, &some, &err)) {
        CHECK(!damaged(err));
        free(err);
        err = NULL;
    }
    bool ok = put(x, "fuzz/new.txt", 11, &err);
    if (ok && some.n > 0)
        ok = put(x, some.id[0], 12, &err);
    bool found = false;
    if (ok && some.n > 1)
        ok = dd_ddx_remove(x, some.id[1], &found, &err);
    if (ok)
        ok = dd_ddx_remove(x, "fuzz/not-there.txt", &found, &err) && !found;
    if (ok)
        ok = dd_ddx_commit(x, &err);
    if (!ok) { /* a damaged record, a full map...: a message, never a fault */
        CHECK(err && *err && !damaged(err));
        free(err);
        dd_ddx_abort(x);
        dd_ddx_close(x);
        return 0;
    }
    /* What LMDB wrote passes the check, and reads back. */
    if (!dd_ddx_begin(x, &err)) {
        fprintf(stderr, "fuzz_index_write: the store LMDB wrote is refused: %s\n", err);
        CHECK(false);
    }
    dd_ddx_doc d;
    CHECK(dd_ddx_get(x, "fuzz/new.txt", &d, &err));
    CHECK(d.size == 1000 && d.words == 50);
    dd_ddx_doc_free(&d);
    dd_ddx_abort(x);
    dd_ddx_close(x);
    return 0;
}
