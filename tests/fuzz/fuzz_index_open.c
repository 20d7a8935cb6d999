/*
 * fuzz_index_open.c - libFuzzer target: arbitrary bytes as an index's data
 * file, opened read-only (dd_ddx_open, dedup/store/ddx.h).
 *
 * The bytes are written to DIR/data.mdb (a folder made once per process)
 * and opened. It must be refused with a message, or open and then answer
 * every read (settings, counts, each document, a document by number,
 * candidates, a paragraph) with a result or a message: never crash, never
 * read outside the file. LMDB keeps a lock file beside the data file; it
 * is removed before each run so that no state carries over.
 */
#include "store/ddx.h"
#include "fuzz_check.h"
#include "fuzz_index.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];

static bool visit(void *ctx, const dd_ddx_doc *d)
{
    size_t *n = ctx;
    CHECK(d->id != NULL);
    return ++*n < 1000;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Files made to loop are stopped after a second or two of CPU, not the
     * ten a user gets: every input then runs well within libFuzzer's
     * -timeout, on a loaded machine too. */
    dd_ddx_set_loop_limit(1);
    fuzz_index_folder(dir, sizeof dir, "/tmp/fuzz-ddx.XXXXXX", data, size);
    char *err = NULL;
    dd_ddx *x = dd_ddx_open(dir, false, NULL, &err);
    if (!x) {
        CHECK(err && *err);
        free(err);
        return 0;
    }
    const dd_ddx_settings *s = dd_ddx_settings_of(x);
    CHECK(s->num_perm >= 1 && s->bands >= 1);
    dd_ddx_counts c;
    if (!dd_ddx_counts_of(x, &c, &err)) {
        free(err);
        err = NULL;
    }
    size_t seen = 0;
    if (!dd_ddx_each(x, visit, &seen, &err)) {
        free(err);
        err = NULL;
    }
    dd_ddx_doc d;
    for (uint32_t number = 0; number < 3; number++) {
        if (dd_ddx_get_number(x, number, &d, &err))
            dd_ddx_doc_free(&d);
        free(err);
        err = NULL;
    }
    if (dd_ddx_get(x, "a.txt", &d, &err))
        dd_ddx_doc_free(&d);
    free(err);
    err = NULL;
    uint64_t keys[4] = {0, 1, 0x0123456789ABCDEFULL, ~0ULL};
    uint32_t *out = NULL;
    size_t cap = 0;
    if (dd_ddx_candidates(x, keys, 4, &out, &cap, &err) < 0)
        free(err);
    err = NULL;
    free(out);
    dd_ddx_place places[8];
    sh_key key = {1, 2};
    if (dd_ddx_paragraph(x, key, places, 8, &err) < 0)
        free(err);
    dd_ddx_close(x);
    return 0;
}
