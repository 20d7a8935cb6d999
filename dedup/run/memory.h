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

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* The default memory budget (--memory): half of what the process may
 * take when the run starts: what /proc/meminfo calls available
 * (MemAvailable), or the memory limit of its control group (a container,
 * a Slurm job: dd_memory_cgroup_limit) when that is lower; at least 64
 * MiB; 1 GiB when neither can be read. Read at the first call; later
 * calls give the same. Thread-safe. */
uint64_t dd_memory_default(void);

/* The memory limit, in bytes, of the control group the process is in (the
 * lowest set on it or on a group above it: memory.max of cgroup v2,
 * memory.limit_in_bytes of v1's memory controller), read from
 * /proc/self/cgroup, /proc/self/mountinfo and the group's folders, each
 * with root before its path ("" for the machine's; a folder that mimics
 * it in tests). UINT64_MAX when there is none, or it cannot be read. */
uint64_t dd_memory_cgroup_limit(const char *root);

/* The bytes of units (run/units.h) a run of budget bytes (0: the default)
 * keeps in memory: a quarter of it. Past that, they go to a scratch file. */
size_t dd_memory_units_share(uint64_t budget);

/* The bytes of near-repeats of paragraphs (run/corpus.h) a run of budget
 * bytes (0: the default) keeps in memory: a sixteenth of it (a round's
 * near-repeats share theirs with their units' lines: run/rounds.c). */
size_t dd_memory_near_units_share(uint64_t budget);

/* The bytes of document signatures' MinHash values (engine/near.h) a run
 * of budget bytes (0: the default) keeps in memory: a sixteenth of it. */
size_t dd_memory_signatures_share(uint64_t budget);

/* What grows with the documents alone shares a sixteenth of a run of
 * budget bytes (0: the default) in memory; past each share, a scratch file:
 *
 * the names of the inputs (their paths and ids: io/names.h), half of it
 * (read from the scratch file when a report needs them); */
size_t dd_memory_names_share(uint64_t budget);
/* the input list's records (io/input.h: 40 bytes a document), a quarter of
 * it (read back a block at a time, mostly in order); */
size_t dd_memory_input_records_share(uint64_t budget);
/* the digests and sizes of the documents as first read (run/corpus.h's
 * dd_read_as: 16 bytes a document), a quarter of it (read when a
 * document is read again). */
size_t dd_memory_read_as_share(uint64_t budget);

/* The share of the search for near-repeats of paragraphs across
 * documents (run/near_across.h) in a run of budget bytes (0: the
 * default): half of it, its own quarter and the quarter of the rounds,
 * which start once it has ended. While the documents are read, the
 * paragraphs' sets, where each is, the sets kept lately and their band
 * keys take from seven eighths of it what they need, first come first
 * served (past that, they go to scratch files); its later steps take the
 * last eighth and what those left, for a part of its band keys or pairs. */
size_t dd_memory_near_across_share(uint64_t budget);

/* The share of the tables of a round of decisions (run/rounds.c) in a
 * run of budget bytes (0: the default): a quarter of it, for the parts of
 * the table of distinct paragraphs (engine/paragraphs.h) built at once,
 * one a thread, and for a part of the keys of the documents whose text
 * changed (the documents sharing one are placed again); past it, each is
 * done in more parts, one after another. Between the two, the documents a
 * round changed are analysed again a window at a time, the bytes of the
 * documents in the window within it. It is the second quarter of the
 * search across documents' half (which ends before the rounds start).
 * With the units' quarter and the near-repeats', the signatures' and the
 * names' sixteenths (the near-repeats' twice while those across documents
 * are merged in), the shares leave an eighth of the budget for the rest. */
size_t dd_memory_rounds_share(uint64_t budget);

/* The bytes of the later occurrences of the paragraph table of a round
 * (engine/paragraphs.h's dd_later_lists: 56 bytes each, a unit and the
 * first occurrence of its key, the lines of both and the unit's words;
 * run/rounds.c) a run of budget bytes (0: the
 * default) keeps in memory: a sixteenth of it, within the quarter the
 * search across documents gives back as the rounds start. Past that, they
 * are in a scratch file, read back in order. When a round's units are in
 * their scratch file and its table is built in parts, the units handed out
 * to the parts (dd_unit_lists: 48 bytes each) take another sixteenth, from
 * the same quarter, on the same terms. */
size_t dd_memory_paragraph_later_share(uint64_t budget);

/* The bytes of each array of what the rounds find that grows with the
 * corpus (run/rounds.c: the lines removed, the lines a round removes as
 * its findings are made, the places of the boilerplate, the copies'
 * similarities) a run of budget bytes (0: the default) keeps in memory: a
 * 64th of it, from the eighth the shares leave for the rest (five at once
 * while a round's lines join those removed before, in a new array; four
 * while the places of the documents kept are chosen). Past it, they are in
 * a scratch file, read back in order, or a document's lines at a time. */
size_t dd_memory_findings_share(uint64_t budget);

/* The bytes of exact verification's cache of documents' sets (run/corpus.c,
 * shared by its threads) in a run of budget bytes (0: the default): a
 * sixteenth of it, at most 16 MiB. It is used from the clustering on, once
 * the search across documents has given back its half. */
size_t dd_memory_set_cache_share(uint64_t budget);

/* The share of the clustering of documents (run/corpus.c) in a run of
 * budget bytes (0: the default): a quarter of it, the rounds' quarter
 * (they start once it has ended; the search across documents has given
 * back its half by then). */
size_t dd_memory_clustering_share(uint64_t budget);

/* What the placer (engine/near.h: its per-document arrays, its table of
 * exact keys and its index of the representatives' band keys) and its
 * filter of shared keys hold a document at most, as measured: 185 and 177
 * bytes a document on the 1 GB corpus, 191 and 256 on 100 MB (the filter's
 * size a power of two). */
#define DD_PLACER_BYTES_A_DOC 448

/* Whether the placer and its filter for ndocs documents fit the
 * clustering's share of a run of budget bytes (0: the default). When they
 * do not, the run clusters by the sweep of sorted band keys
 * (run/cluster_sweep.h), within the share: the same clusters. */
bool dd_memory_placer_fits(uint64_t budget, size_t ndocs);

/* The bytes of the write buffer of each scratch file (io/spool.h) of a run
 * of budget bytes (0: the default) on `threads` threads: a sixteenth of
 * the budget over the scratch files the run may hold at once (9 a shelf of
 * the search across documents, one a thread and two more, and up to 80
 * others: the parts of its band keys being cut, the pairs, the units, the
 * near-repeats, the signatures, the rounds'), from 8 KiB to 1 MiB. At
 * 16 MiB on 2 threads, 8 KiB each instead of 1 MiB: a hundred scratch
 * files held 100 MB. */
size_t dd_memory_scratch_buffer(uint64_t budget, unsigned threads);

/* Makes what the process holds follow a run of budget bytes (0: the
 * default) on `threads` threads: the buffers of the scratch files it makes
 * from now on (dd_memory_scratch_buffer, io/spool.h); and malloc maps each
 * block of 1 MiB or more on its own, so that it goes back to the system
 * when freed (M_MMAP_THRESHOLD, fixed: not glibc's, which rises as such
 * blocks are freed), and each thread's heap keeps up to a 64th of the
 * budget among the threads (at most 16 MiB) free at its top rather than
 * give it back and fault it in again (M_TRIM_THRESHOLD). For the whole
 * process: called before the run starts its threads. */
void dd_memory_hold_to_budget(uint64_t budget, unsigned threads);

/* Writes to out, for measuring (DEDUP_RUN_STATS), what the process holds
 * (VmRSS of /proc/self/status), how much of it is files mapped (RssFile:
 * pages of the code, the libraries and ICU's data, clean and shared with
 * other processes), and the most it held so far (VmHWM), as
 * "dedup: memory at WHEN: the process holds X MB (F MB of it files mapped:
 * code, libraries, ICU's data), at most Y MB so far", then what malloc
 * holds in all its arenas (mallinfo2), in blocks in use and in chunks
 * freed but kept for later allocations, as
 * "dedup: memory at WHEN: malloc: U MB in use, K MB freed and kept".
 * Nothing when /proc cannot be read. */
void dd_memory_process(FILE *out, const char *when);

/* The bytes of malloc's blocks in use now, in all its arenas (mallinfo2:
 * it walks the free lists, so not in a tight loop). */
size_t dd_memory_heap_in_use(void);

/* Writes to out, one line each, the bytes held by the structures of c that
 * grow with the corpus, and across_bytes of the paragraphs' sets and band
 * keys (run/near_across.h), as
 * "dedup: memory: NAME: X MB (Y bytes a document)", largest first, then
 * their total. when says at which point of the run ("after reading"). */
void dd_memory_account(FILE *out, const char *when, const dd_corpus *c, size_t across_bytes);

#endif
