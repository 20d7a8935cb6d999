/*
 * memory.c - where a run's memory goes (memory.h).
 */
#include "run/memory.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

uint64_t dd_memory_default(void)
{
    uint64_t kb = 0;
    FILE *f = fopen("/proc/meminfo", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "MemAvailable: %" SCNu64 " kB", &kb) == 1)
                break;
        fclose(f);
    }
    if (!kb)
        return (uint64_t)1 << 30;
    uint64_t half = kb * 1024 / 2;
    return half < ((uint64_t)64 << 20) ? (uint64_t)64 << 20 : half;
}

/* One part of `parts` of the budget (0: the default budget). */
static size_t share_of(uint64_t budget, unsigned parts)
{
    if (!budget)
        budget = dd_memory_default();
    uint64_t share = budget / parts;
    return share > SIZE_MAX ? SIZE_MAX : (size_t)share;
}

size_t dd_memory_units_share(uint64_t budget) { return share_of(budget, 4); }

size_t dd_memory_near_units_share(uint64_t budget) { return share_of(budget, 16); }

size_t dd_memory_signatures_share(uint64_t budget) { return share_of(budget, 16); }
size_t dd_memory_names_share(uint64_t budget) { return share_of(budget, 16); }
size_t dd_memory_near_across_share(uint64_t budget) { return share_of(budget, 4); }

size_t dd_memory_rounds_share(uint64_t budget) { return share_of(budget, 4); }

void dd_memory_process(FILE *out, const char *when)
{
    uint64_t rss = 0, peak = 0, kb;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "VmRSS: %" SCNu64 " kB", &kb) == 1)
            rss = kb;
        else if (sscanf(line, "VmHWM: %" SCNu64 " kB", &kb) == 1)
            peak = kb;
    }
    fclose(f);
    fprintf(out, "dedup: memory at %s: the process holds %.1f MB, at most %.1f MB so far\n", when,
            (double)rss * 1024 / 1e6, (double)peak * 1024 / 1e6);
}

typedef struct held {
    const char *name;
    size_t bytes;
} held;

static int by_bytes_down(const void *a, const void *b)
{
    const held *x = a, *y = b;
    return (x->bytes < y->bytes) - (x->bytes > y->bytes);
}

void dd_memory_account(FILE *out, const char *when, const dd_corpus *c, size_t across_bytes)
{
    size_t docs = c->inputs.n;
    const dd_signatures *s = &c->signatures;
    size_t per_doc = sizeof *c->digests + sizeof *c->sizes + sizeof *c->failed + sizeof *c->reread;
    held v[] = {
        {"units of every document (corpus units)", dd_units_memory_bytes(&c->units)},
        {"unit starts", (docs + 1) * sizeof *c->unit_start},
        {"paragraphs' sets and band keys (past the budget: in scratch files)", across_bytes},
        {"document signatures (MinHash, keys, sizes; past the budget: keys, sizes)",
         s->cap * sizeof *s->docs + dd_signatures_minhash_bytes(s) +
             (s->simhash ? s->cap * sizeof *s->simhash : 0)},
        {"near-repeats of paragraphs found (past the budget: a batch's)",
         dd_scratch_array_memory_bytes(&c->near_units) +
             c->near_found.cap * sizeof *c->near_found.v},
        {"input list (records, names; past the budget: records)",
         dd_inputs_memory_bytes(&c->inputs)},
        {"per-document digests, sizes, flags", docs * per_doc},
    };
    size_t n = sizeof v / sizeof *v, total = 0;
    qsort(v, n, sizeof *v, by_bytes_down);
    for (size_t k = 0; k < n; k++) {
        total += v[k].bytes;
        fprintf(out, "dedup: memory %s: %s: %.1f MB (%.0f bytes a document)\n", when, v[k].name,
                (double)v[k].bytes / 1e6, docs ? (double)v[k].bytes / (double)docs : 0.0);
    }
    fprintf(out, "dedup: memory %s: total of these: %.1f MB (%.0f bytes a document, %zu units)\n",
            when, (double)total / 1e6, docs ? (double)total / (double)docs : 0.0, c->units.n);
}
