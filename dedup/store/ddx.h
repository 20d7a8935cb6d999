/*
 * ddx.h - the persistent index (a DIR.ddx folder): an LMDB environment that
 * remembers documents between runs, for dedup index, check, scan --index and
 * filter --index.
 *
 * It holds, per document: its id (a path), size, mtime, exact key, sizes and
 * MinHash signature; the LSH band keys of that signature; and the exact keys
 * of its paragraphs with where they are (line). A header records everything
 * that must match for two runs to compare documents the same way (format
 * version, normaliser profile with its ICU and Unicode versions, shingle
 * size, MinHash values, bands and rows, unit mode, seed or key
 * fingerprint): opening with other settings is an error naming the first
 * difference.
 *
 * Safety comes from LMDB: every change is one write transaction, so a crash
 * or kill leaves the index as it was before or after it; any number of
 * readers (other processes) see a consistent snapshot while one writer
 * writes. A file that is not an LMDB environment of this format, or is
 * truncated, is an error, not a crash; a damaged one is refused before any
 * write (see dd_ddx_begin), and fails a read as "the index is damaged".
 *
 * Not thread-safe: one dd_ddx per thread. Open an index at most once per
 * process at a time (LMDB's rule: a second open of the same files in one
 * process breaks its locks); other processes may open it freely. dedup
 * opens one, and calls it only from the thread that consumes a run's
 * results (run.h), never from a worker.
 *
 * The fault guard (ddx.c) keeps its state per thread; its handlers for
 * SIGBUS, SIGSEGV and SIGFPE and its one-second CPU tick (ITIMER_VIRTUAL,
 * SIGVTALRM) are process-wide. A tick counts only on the thread it lands on
 * when that thread is inside a guarded call; ticks come with the CPU time of
 * the whole process and land on the threads that use it, so the loop limit
 * stays about the limit's seconds of the guarded thread's own CPU time
 * whatever the number of busy workers.
 */
#ifndef DD_DDX_H
#define DD_DDX_H

#include "engine/earlier.h"
#include "shingle.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DD_DDX_FORMAT 1

/* What must match between the index and a run. */
typedef struct dd_ddx_settings {
    char profile[192];         /* sh_normalizer_profile, " " and the document
                                  signatures' sh_minhash_scheme_name (none:
                                  built before it was recorded, minhash/k1) */
    uint32_t unit_mode;        /* dd_unit_mode */
    uint32_t ngram;            /* words per document shingle */
    uint32_t num_perm;         /* MinHash values */
    uint32_t bands, rows;      /* LSH */
    uint64_t seed;             /* hash seed */
    char key_fingerprint[65];  /* hex of the keyed-hash fingerprint, "" when not keyed */
} dd_ddx_settings;

/* A document as stored: the engine's view of an indexed document
 * (engine/earlier.h); its number is given by dd_ddx_put. */
typedef dd_indexed_doc dd_ddx_doc;

/* A paragraph of a document: its exact key and its lines. */
typedef struct dd_ddx_para {
    sh_key key;
    uint32_t first_line, last_line;
} dd_ddx_para;

/* Where a paragraph was seen (engine/earlier.h). */
typedef dd_indexed_place dd_ddx_place;

typedef struct dd_ddx_counts {
    uint64_t docs, paragraphs, band_entries;
    uint64_t map_bytes; /* size of the LMDB data file */
} dd_ddx_counts;

typedef struct dd_ddx dd_ddx;

/* Creates a new index at path (a folder that must not exist or be empty)
 * with settings s. NULL and *err (a new message, "PATH: why") on failure. */
dd_ddx *dd_ddx_create(const char *path, const dd_ddx_settings *s, char **err);

/* Like dd_ddx_create, but the new index is made in a folder beside path
 * (PATH.part-PID) and takes the name path only with dd_ddx_publish, after
 * its commit: until then no index is at path, so a build that fails (a full
 * disk) or is killed never leaves one there that looks complete. Closing it
 * unpublished removes it (a killed build leaves its PATH.part-PID, for
 * dd_ddx_remove_stale_parts to remove at the next build or add). path
 * must not exist, or be an empty folder. */
dd_ddx *dd_ddx_create_staged(const char *path, const dd_ddx_settings *s, char **err);

/* A staging folder PATH.part-PID found by dd_ddx_remove_stale_parts. */
typedef struct dd_ddx_stale_part {
    char *path; /* as it lies beside the index's path: "DIR/NAME.part-PID" */
    long pid;
    int err; /* 0: removed; else why not (ENOTEMPTY: it holds other files) */
} dd_ddx_stale_part;

/* Removes the staging folders that builds of path killed before they
 * published it left beside it (a killed build cannot remove its own): each
 * PATH.part-PID whose PID is of no process running on this machine
 * (kill(PID, 0) fails with ESRCH), when it holds nothing but LMDB's
 * data.mdb and lock.mdb. One whose process runs (a build of path going on
 * now, or a process that took the PID since) is left alone. Returns them
 * (*n of them), removed or not, for the caller to say; NULL when there is
 * none. */
dd_ddx_stale_part *dd_ddx_remove_stale_parts(const char *path, size_t *n);
void dd_ddx_stale_parts_free(dd_ddx_stale_part *parts, size_t n);

/* Renames a staged index to its path (no write transaction open); true
 * at once for any other index. False with *err when the rename fails. */
bool dd_ddx_publish(dd_ddx *x, char **err);

/* Opens an existing index, for reading only or for writing too. When want
 * is not NULL, its settings must equal the index's: otherwise NULL and *err
 * names the first difference, e.g. "PATH: built with --ngram 5, not 4".
 * Not an index, a newer format, a truncated or damaged file: NULL and *err. */
dd_ddx *dd_ddx_open(const char *path, bool write, const dd_ddx_settings *want, char **err);

/* NULL when a run whose key has this fingerprint ("" without a key) may
 * use the index, that is when it was built with the same key or with none
 * as the run; otherwise a new message, e.g. "PATH: built with key
 * fingerprint F, but no --key-file was given". For a command that needs no
 * other setting to match (index remove). */
char *dd_ddx_key_difference(const dd_ddx *x, const char *key_fingerprint);

void dd_ddx_close(dd_ddx *x);

/* Sets how many seconds of CPU a guarded call (every call but dd_ddx_each,
 * dd_ddx_begin and dd_ddx_commit) may run before it fails as "the index is
 * damaged (... or looped in it for N s)": 10 by default, far above any
 * real lookup; seconds below 1 count as 1. Process-wide: for tests and fuzz
 * targets, which meet files made to loop; call it before opening an index,
 * while no other thread uses one. */
void dd_ddx_set_loop_limit(int seconds);

/* The settings recorded in the index. */
const dd_ddx_settings *dd_ddx_settings_of(const dd_ddx *x);

/* The MinHash scheme named at the end of a settings profile (" minhash/..."),
 * or "minhash/k1" when there is none (an index made before the scheme was
 * recorded, whose signatures are classic MinHash); *norm_len is set to the
 * length of the normaliser's part before it. The result points into profile
 * or is static. */
const char *dd_ddx_profile_scheme(const char *profile, size_t *norm_len);

/* Writes: between dd_ddx_begin and dd_ddx_commit, one LMDB write
 * transaction; nothing is visible to readers before the commit, and a
 * crash before it leaves the index as it was. dd_ddx_abort drops the
 * changes. All return false with *err on failure (the transaction is then
 * aborted). One transaction can add at least half of the map, 32 GiB on a
 * 64-bit machine (the map grows between transactions: see ddx.c).
 *
 * LMDB never writes to a store that has not been verified: dd_ddx_begin,
 * holding LMDB's writer lock, checks the whole data file (lmdb_check.h:
 * every page a write can reach, and the invariants LMDB's writes rely on)
 * and refuses a damaged one with "PATH: the index is damaged (WHY); build
 * it again", aborting and changing nothing. Its time grows with the index
 * (bench/README.md: some milliseconds per 10 MB). Reads are not verified:
 * a fault while one runs fails it as damaged (see ddx.c).
 *
 * After a fault inside LMDB during a write (which a verified store does not
 * give, unless the file is changed under the writer), the call fails as
 * damaged and the handle calls LMDB no more: the transaction is neither
 * aborted nor freed (its state is LMDB's, cut off half-way), and
 * dd_ddx_close frees only the handle. The process keeps that memory and
 * LMDB's writer lock until it exits; it must not open this index again. */
bool dd_ddx_begin(dd_ddx *x, char **err);
bool dd_ddx_commit(dd_ddx *x, char **err);
void dd_ddx_abort(dd_ddx *x);

/* Inside a write transaction: stores document d (d->number is set) with its
 * band keys (bands of them, as computed by the caller from the signature)
 * and its paragraphs; a document with the same id is replaced. */
bool dd_ddx_put(dd_ddx *x, dd_ddx_doc *d, const uint64_t *band_keys, const dd_ddx_para *paras,
                size_t nparas, char **err);

/* Inside a write transaction: removes the document with this id, its band
 * entries and its paragraphs. *found says whether it was there. */
bool dd_ddx_remove(dd_ddx *x, const char *id, bool *found, char **err);

/* Reads (inside a write transaction, or each on a fresh read snapshot): */

/* The document with this id: true and *d filled (free with
 * dd_ddx_doc_free), false when absent (*err NULL) or on error (*err set). */
bool dd_ddx_get(dd_ddx *x, const char *id, dd_ddx_doc *d, char **err);
/* The same by number. */
bool dd_ddx_get_number(dd_ddx *x, uint32_t number, dd_ddx_doc *d, char **err);
void dd_ddx_doc_free(dd_ddx_doc *d);

/* The numbers of the documents that share at least one of the bands band
 * keys, each once, in increasing order, in *out (grown; *cap its capacity).
 * Returns how many, or -1 with *err. */
long dd_ddx_candidates(dd_ddx *x, const uint64_t *band_keys, size_t bands, uint32_t **out,
                       size_t *cap, char **err);
/* The same, bounded (near.h, "Candidate search"): the numbers filed under
 * each band key, at most per_band of each (the lowest: the documents indexed
 * first), key after key, in *out; a number appears once for each band it
 * shares. Returns how many, or -1 with *err. */
long dd_ddx_band_members(dd_ddx *x, const uint64_t *band_keys, size_t bands, size_t per_band,
                         uint32_t **out, size_t *cap, char **err);

/* The places of a paragraph key, in increasing document order, at most max
 * of them. Returns how many, or -1 with *err. */
long dd_ddx_paragraph(dd_ddx *x, sh_key key, dd_ddx_place *out, size_t max, char **err);

/* x as the engine's earlier corpus (engine/earlier.h): its functions are
 * dd_ddx_get, dd_ddx_get_number, dd_ddx_band_members and
 * dd_ddx_paragraph. x must outlive its use. */
dd_earlier dd_ddx_earlier(dd_ddx *x);

/* Calls fn for every document, in id order (bytewise), until it returns
 * false. All of it reads one snapshot; fn may read the index too (it sees the
 * same snapshot) but not begin a write transaction. */
bool dd_ddx_each(dd_ddx *x, bool (*fn)(void *ctx, const dd_ddx_doc *d), void *ctx, char **err);

bool dd_ddx_counts_of(dd_ddx *x, dd_ddx_counts *c, char **err);

#endif
