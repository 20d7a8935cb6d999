/*
 * corpus.c - the first pass over the inputs.
 */
#include "corpus.h"

#include "util.h"

#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

/* The seed of every key and shingle hash. Fixed, so keys are stable across
 * runs and machines. */
#define DD_SEED 0

uint64_t dd_digest(const char *text, size_t len) { return XXH3_64bits(text, len); }

bool dd_corpus_run(dd_corpus *c, const dd_options *o)
{
    memset(c, 0, sizeof *c);
    c->problems = dd_inputs_collect(&c->inputs, o->paths, o->npaths);
    if (c->inputs.n > UINT32_MAX - 1) {
        dd_error("too many documents (%zu)", c->inputs.n);
        return false;
    }
    dd_analyzer a;
    if (!dd_analyzer_init(&a, o->unit, DD_SEED))
        return false;
    c->paragraphs = dd_paragraphs_new();
    c->digests = dd_calloc(c->inputs.n, sizeof *c->digests);
    c->failed = dd_calloc(c->inputs.n, sizeof *c->failed);
    sh_buf text = {0};
    dd_doc doc = {0};
    for (size_t i = 0; i < c->inputs.n; i++) {
        const dd_input *in = &c->inputs.v[i];
        if (!dd_input_read(in, &text) ||
            (memchr(text.data, '\0', text.len) && !dd_input_check_text(in, text.data, text.len))) {
            c->failed[i] = true;
            c->problems++;
            continue;
        }
        c->digests[i] = dd_digest(text.data, text.len);
        sh_status st = dd_analyze(&a, text.data, text.len, &doc);
        if (st == SH_ERR_BAD_UTF8 && !dd_input_check_text(in, text.data, text.len)) {
            c->failed[i] = true;
            c->problems++;
            continue;
        }
        if (st != SH_OK) {
            char *p = dd_printable(in->id);
            dd_error("%s: %s", p, sh_status_str(st));
            free(p);
            c->failed[i] = true;
            c->problems++;
            continue;
        }
        dd_paragraphs_add(c->paragraphs, (uint32_t)i, &doc, text.data);
    }
    dd_paragraphs_finish(c->paragraphs, o->min_words, (uint32_t)o->boilerplate_df, &c->findings);
    dd_doc_free(&doc);
    sh_buf_free(&text);
    dd_analyzer_free(&a);
    return true;
}

void dd_corpus_free(dd_corpus *c)
{
    dd_findings_free(&c->findings);
    dd_paragraphs_free(c->paragraphs);
    dd_inputs_free(&c->inputs);
    free(c->digests);
    free(c->failed);
    memset(c, 0, sizeof *c);
}
