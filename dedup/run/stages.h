/*
 * stages.h - a run kept in a work folder (--work-dir DIR), so that it can
 * be resumed, and its stages split into tasks.
 *
 * A run is four stages:
 *   1. sign: the inputs, in rank order, are cut into parts: whole files and
 *      whole shards, a part closed once it holds --part-size bytes or more
 *      (as they lie on disk: a compressed shard by its compressed size).
 *      The cuts are planned from the walk of the folders and stat(2) alone
 *      (dd_inputs_list), and a task reads only the files of its own parts:
 *      N tasks read the corpus once between them, not N times. The facts
 *      of every document of a part (facts.h; document numbers in them are
 *      relative, so a part is signed alone) are written to
 *      DIR/sign/part-NNNNNN: under a temporary name, synced, renamed into
 *      place, then a completion marker DIR/sign/part-NNNNNN.done. Parts are
 *      independent: any process may sign any of them (--task I --tasks N:
 *      the parts whose number % N is I). Beside each, before its marker,
 *      DIR/sign/part-NNNNNN.keys: its paragraphs' band keys cut by group
 *      partition (run/across_stages.h; a sectioned file, below).
 *   2. group and 3. verify: the search for paragraphs repeated across
 *      documents, a partition at a time, as many partitions as parts, each
 *      a file DIR/group/part-NNNNNN or DIR/verify/part-NNNNNN
 *      (run/across_stages.h; dd_work_write_stage_sections and
 *      dd_work_write_stage_file below), each task reading its own sections
 *      of the files before; the same tasks make the candidate pairs of
 *      near-duplicate documents, DIR/group-docs/part-NNNNNN and
 *      DIR/verify-docs/part-NNNNNN, from the docs file each part has beside
 *      it (run/doc_stages.h).
 *   4. decide: every input is collected; the documents of each part follow
 *      those of the parts before it, and its facts, in rank order, stand
 *      for the first analysis of the documents, the verify files for the
 *      search across documents, the verify-docs files for the clustering
 *      of documents (swept in rank order, not placed with an index); the
 *      decisions follow as without a work folder (later rounds read texts
 *      again, as they always do).
 *
 * DIR/plan names the version, the settings (every option that changes a
 * decision), the part size and the inputs (their files: names, kinds,
 * sizes and times of last change, with a hash of each part's and of all),
 * with hashes of both; every part file and marker carries the same hashes.
 * A run whose settings or inputs differ from DIR/plan refuses the folder
 * and says which differs. A part file is trusted only with its marker, and
 * when its header, its length and its checksum (XXH3-64 of all its bytes)
 * are right, and its size within what facts of its documents can take
 * (FACTS_PER_BYTE per byte of their text, and FACTS_PER_DOCUMENT each: a
 * bound known from its files' sizes before the documents are placed, save
 * for a compressed shard, exact once they are); otherwise it is signed
 * again (the decide stage alone refuses it).
 */
#ifndef DD_STAGES_H
#define DD_STAGES_H

#include "cmd/options.h"
#include "io/input.h"
#include "shingle.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct dd_part {
    size_t from, files; /* the sources [from, from + files) of dd_work.sources */
    uint64_t hash;      /* of their names, kinds, sizes and times */
    size_t first, n;    /* its documents, inputs [first, first + n), once placed */
    /* What its file can hold: the bytes of its documents' text (its files'
     * sizes as listed, UINT64_MAX with a compressed shard; their sum once
     * placed) and their number (one a file, one a byte of a shard; n once
     * placed). A file larger than their facts can be is damaged, never
     * read. */
    uint64_t text, most_docs;
} dd_part;

typedef struct dd_work {
    char *dir;      /* as given */
    char *sign_dir; /* DIR/sign */
    uint64_t settings_hash, inputs_hash;
    size_t num_perm; /* MinHash values in a signature (0: SimHash) */
    dd_near_params near; /* the settings of near-duplicate documents */
    dd_sources sources; /* the files of the inputs, as listed */
    dd_part *parts;
    size_t nparts;
    bool placed; /* the parts' documents are known (dd_work_place) */
    /* Once a part is checked (dd_work_check_part): where each of its
     * documents' facts lie in its file, n + 1 offsets. */
    uint64_t **offsets;
} dd_work;

/* Opens (or makes) the work folder of o for its inputs, listed
 * (dd_inputs_list, not read; quiet: what the listing finds wrong is not
 * said, for a caller that collects the inputs too and says it then):
 * refuses it, after a message, when it was made with other settings or
 * inputs, or when an input is a stream (read once: it cannot be signed in
 * one process and decided in another). */
bool dd_work_open(dd_work *w, const dd_options *o, bool quiet);

/* Places the documents of every part among the inputs in, collected for
 * the same paths: false after a message when in is not made of w's
 * sources (a file came or went since they were listed). */
bool dd_work_place(dd_work *w, const dd_inputs *in);
void dd_work_free(dd_work *w);

/* Whether part is signed and its file is whole and right (see above), and,
 * once placed, holds as many documents as the part has; then its offsets
 * are loaded (and, not placed, its number of documents set). *why says what is wrong with a file
 * that is there (NULL when there is none, or no marker): the caller frees it. */
bool dd_work_check_part(dd_work *w, size_t part, char **why);

/* The name of part's file (the caller frees it). */
char *dd_work_part_path(const dd_work *w, size_t part);

/* Writing a part: its documents' facts in order, then finished (synced,
 * renamed into place, marked complete). */
typedef struct dd_part_writer dd_part_writer;
dd_part_writer *dd_part_writer_new(const dd_work *w, size_t part, size_t ndocs);
/* Appends the next document's facts. False after a message when they
 * cannot be written (then only dd_part_writer_free is left to call). */
bool dd_part_writer_add(dd_part_writer *pw, const sh_buf *facts);
/* Writes the end of the file, syncs it, renames it into place and writes
 * its marker. False after a message. */
bool dd_part_writer_finish(dd_part_writer *pw);
/* Where, in the part's file, the next document's facts will start. */
uint64_t dd_part_writer_at(const dd_part_writer *pw);
/* Frees pw; a file not finished is removed. */
void dd_part_writer_free(dd_part_writer *pw);

/* A reader of facts, one per thread: the part file it last read stays
 * open. */
typedef struct dd_facts_reader {
    int fd;      /* 1 + the descriptor of the file open, 0: none (zero-initialise) */
    size_t part; /* of that file */
} dd_facts_reader;

/* The part that holds document doc (the parts placed: dd_part.first). */
size_t dd_work_part_of(const dd_work *w, uint64_t doc);

/* Reads the facts of document doc (the parts placed, its part checked) into out (replacing
 * its contents). False after a message (captured on a worker) when the
 * file cannot be read. */
bool dd_work_read_facts(const dd_work *w, dd_facts_reader *r, size_t doc, sh_buf *out);
void dd_facts_reader_close(dd_facts_reader *r);

/* Once every part is checked (dd_work_check_part): numbers the documents
 * of the parts in order (each part's first), as dd_work_place would for
 * the inputs collected, without collecting them; returns their number. */
size_t dd_work_number_documents(dd_work *w);

/* The stages after sign (run/across_stages.h) write one file for each of
 * w->nparts partitions, DIR/STAGE/part-NNNNNN, with a completion marker
 * part-NNNNNN.done, the plan's hashes in its header and marker, and a
 * checksum (see stages.c). STAGE: "group" or "verify". */
char *dd_work_stage_path(const dd_work *w, const char *stage, size_t part);

/* Writes body[0..len) as the file of partition part of stage: under a
 * temporary name, synced, renamed into place, then its marker. False
 * after a message. */
bool dd_work_write_stage_file(const dd_work *w, const char *stage, size_t part, const void *body,
                              size_t len);

/* Reads the body of the file of partition part of stage into body when it
 * has its marker and is whole and right (its header of this plan and
 * partition, its size and checksum those of its marker, its body at most
 * `most` bytes). Otherwise false, *why saying what is wrong with a file
 * that is marked (NULL when it has no marker): the caller frees it. */
bool dd_work_read_stage_file(const dd_work *w, const char *stage, size_t part, uint64_t most,
                             sh_buf *body, char **why);

/* A file cut in sections, each read alone (two preads: its entry and its
 * bytes) and checked alone: what a task reads of another's output is its
 * own section, not the whole file. It is
 *   a header of 64 bytes: its magic (8 bytes), the settings' hash, the
 *   inputs' hash, `ident` (what it is of: a sign part's hash, or 0), its
 *   number, the number of sections, `extra` (what the writer says: a part's
 *   documents), the XXH3-64 of the 56 bytes before (8 bytes each,
 *   little-endian);
 *   a table of contents: each section's offset, length and XXH3-64 (8
 *   bytes each: a damaged entry names bytes that are not what it says);
 *   the sections, end to end, filling the file.
 * Written atomically (a temporary file, synced, renamed, its folder
 * synced). */
typedef struct dd_section {
    const void *p;
    size_t n;
} dd_section;

/* Writes sections v[0..n) to path (in folder dir) as a sectioned file of
 * w's plan. False after a message. */
bool dd_work_write_sections(const dd_work *w, const char *dir, const char *path,
                            const char magic[8], uint64_t ident, uint64_t number, uint64_t extra,
                            const dd_section *v, size_t n);

/* Writes sections v[0..n) as the file of partition part of stage (a
 * sectioned file: magic, ident 0, number part), then its marker
 * part-NNNNNN.done (the plan's hashes, the partition, the file's size and
 * the checksum of its header). False after a message. */
bool dd_work_write_stage_sections(const dd_work *w, const char *stage, size_t part,
                                  const char magic[8], const dd_section *v, size_t n);

/* A sectioned file open to read. */
typedef struct dd_sectioned {
    int fd; /* -1: not open */
    uint64_t extra, size, header_sum;
    size_t n; /* sections */
} dd_sectioned;

/* Opens path, a sectioned file of w's plan with this magic, ident, number
 * and n sections, reading its header (checked: its checksum, the file
 * long enough for its table of contents). Otherwise false, *why saying
 * what is wrong (NULL when there is no file): the caller frees it. */
bool dd_sectioned_open(const dd_work *w, const char *path, const char magic[8], uint64_t ident,
                       uint64_t number, size_t n, dd_sectioned *f, char **why);
/* Opens the sectioned file of partition part of stage (n sections) when
 * its marker is there and says its size and header. Otherwise false, *why
 * as dd_sectioned_open says (NULL: no marker). */
bool dd_work_open_stage_sections(const dd_work *w, const char *stage, size_t part,
                                 const char magic[8], size_t n, dd_sectioned *f, char **why);
/* Reads section k of f into out (replacing its contents) and checks it
 * against its checksum: false, *why set, when it cannot be read or is
 * damaged. */
bool dd_sectioned_read(const dd_sectioned *f, size_t k, sh_buf *out, char **why);
void dd_sectioned_close(dd_sectioned *f);
/* Reads section k of the sectioned file of partition g of stage (magic,
 * one section a partition: the group files the verify tasks read) into
 * body. When it cannot and remake is given, a damaged file is said to be
 * made again (a missing one silently), remake(ctx, g) makes it, and it is
 * read once more. False after an error naming the file and why
 * (not_made: it is not there or not marked). */
bool dd_work_read_stage_section(dd_work *w, const char *stage, const char magic[8], size_t g,
                                size_t k, bool (*remake)(void *ctx, size_t g), void *ctx,
                                const char *not_made, sh_buf *body);

/* Whether every partition of task `task` of `tasks` of stage (sign, group
 * or verify: those whose number % tasks is task) has its completion marker
 * in the work folder dir (group and verify: the documents' partitions
 * too, STAGE-docs, when its plan clusters them: run/doc_stages.h), as its plan counts the parts: what `dedup
 * status` shows, without opening the folder for a run's settings and
 * inputs or reading the files back (a run checks them). False when dir
 * has no plan. */
bool dd_work_task_marked(const char *dir, const char *stage, unsigned long task,
                         unsigned long tasks);

/* How many partitions of stage have their completion marker in the work
 * folder dir, of the *nparts its plan counts (0 of 0 without a plan). */
size_t dd_work_marked(const char *dir, const char *stage, size_t *nparts);

#endif
