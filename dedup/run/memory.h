/*
 * memory.h - where a run's memory goes: the bytes each structure of a
 * corpus holds, for measuring (DEDUP_RUN_STATS, bench/bench_memory.sh)
 * and for the README's memory section.
 *
 * Every figure is what the structure has allocated (its capacity), not
 * what it uses: that is what the process holds once the pages are
 * touched.
 */
#ifndef DD_RUN_MEMORY_H
#define DD_RUN_MEMORY_H

#include "run/corpus.h"

#include <stdio.h>

/* Writes to out, one line each, the bytes held by the structures of c that
 * grow with the corpus, and by the paragraph index ix (NULL: none), as
 * "dedup: memory: NAME: X MB (Y bytes a document)", largest first, then
 * their total. when says at which point of the run ("after reading"). */
void dd_memory_account(FILE *out, const char *when, const dd_corpus *c, const dd_unit_index *ix);

#endif
