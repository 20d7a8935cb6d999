/*
 * stages.h - a run kept in a work folder (--work-dir DIR), so that it can
 * be resumed, and its first stage split into tasks.
 *
 * A run is two stages:
 *   1. sign: the inputs, in rank order, are cut into parts (whole inputs,
 *      or whole records of a shard, about --part-size bytes each; where the
 *      cuts fall follows from the list of inputs and their sizes only).
 *      The facts of every document of a part (facts.h) are written to
 *      DIR/sign/part-NNNNNN: under a temporary name, synced, renamed into
 *      place, then a completion marker DIR/sign/part-NNNNNN.done. Parts are
 *      independent: any process may sign any of them (--task I --tasks N:
 *      the parts whose number % N is I).
 *   2. decide: the facts of every part, in rank order, stand for the first
 *      analysis of the documents; the decisions follow as without a work
 *      folder (later rounds read texts again, as they always do).
 *
 * DIR/plan names the version, the settings (every option that changes a
 * decision), the part size and the inputs (their number and a hash of
 * their names, sizes and places), with hashes of both; every part file and
 * marker carries the same hashes. A run whose settings or inputs differ
 * from DIR/plan refuses the folder and says which differs. A part file is
 * trusted only with its marker, and when its header, its length and its
 * checksum (XXH3-64 of all its bytes) are right, and its size within what
 * facts of its documents can take (FACTS_PER_BYTE per byte of input, and
 * FACTS_PER_DOCUMENT each); otherwise it is signed again (the decide stage
 * alone refuses it).
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
    size_t first, n; /* inputs [first, first + n) */
    uint64_t hash;   /* of their names, sizes and places */
    uint64_t most;   /* bytes its file can have (a larger one is damaged, never read) */
} dd_part;

typedef struct dd_work {
    char *dir;      /* as given */
    char *sign_dir; /* DIR/sign */
    uint64_t settings_hash, inputs_hash;
    size_t num_perm; /* MinHash values in a signature (0: SimHash) */
    dd_part *parts;
    size_t nparts;
    size_t ndocs;
    /* Once a part is checked (dd_work_check_part): where each of its
     * documents' facts lie in its file, n + 1 offsets. */
    uint64_t **offsets;
} dd_work;

/* Opens (or makes) the work folder of o for the inputs in: refuses it,
 * after a message, when it was made with other settings or inputs, or
 * when an input is a stream (read once: it cannot be signed in one process
 * and decided in another). */
bool dd_work_open(dd_work *w, const dd_options *o, const dd_inputs *in);
void dd_work_free(dd_work *w);

/* Whether part is signed and its file is whole and right (see above); then
 * its offsets are loaded. *why says what is wrong with a file that is
 * there (NULL when there is none, or no marker): the caller frees it. */
bool dd_work_check_part(dd_work *w, size_t part, char **why);

/* The name of part's file (the caller frees it). */
char *dd_work_part_path(const dd_work *w, size_t part);

/* Writing a part: its documents' facts in order, then finished (synced,
 * renamed into place, marked complete). */
typedef struct dd_part_writer dd_part_writer;
dd_part_writer *dd_part_writer_new(const dd_work *w, size_t part);
/* Appends the next document's facts. False after a message when they
 * cannot be written (then only dd_part_writer_free is left to call). */
bool dd_part_writer_add(dd_part_writer *pw, const sh_buf *facts);
/* Writes the end of the file, syncs it, renames it into place and writes
 * its marker. False after a message. */
bool dd_part_writer_finish(dd_part_writer *pw);
/* Frees pw; a file not finished is removed. */
void dd_part_writer_free(dd_part_writer *pw);

/* A reader of facts, one per thread: the part file it last read stays
 * open. */
typedef struct dd_facts_reader {
    int fd;      /* 1 + the descriptor of the file open, 0: none (zero-initialise) */
    size_t part; /* of that file */
} dd_facts_reader;

/* Reads the facts of document doc (its part checked) into out (replacing
 * its contents). False after a message (captured on a worker) when the
 * file cannot be read. */
bool dd_work_read_facts(const dd_work *w, dd_facts_reader *r, size_t doc, sh_buf *out);
void dd_facts_reader_close(dd_facts_reader *r);

/* Whether every part of task `task` of `tasks` (the parts whose number %
 * tasks is task) has its completion marker in the work folder dir, as its
 * plan counts the parts: what `dedup status` shows, without opening the
 * folder for a run's settings and inputs or reading the parts back (a run
 * checks them: dd_work_check_part). False when dir has no plan. */
bool dd_work_task_marked(const char *dir, unsigned long task, unsigned long tasks);

#endif
