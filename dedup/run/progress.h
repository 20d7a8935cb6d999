/*
 * progress.h - the progress line of a long run on a terminal: what has been
 * read so far (files or records, MB) and how fast (MB/s), redrawn in place
 * on standard error at most a few times a second, e.g.
 *
 *     dedup scan: 1520 files, 48.3 MB, 61.2 MB/s, 31%, 1m47s left
 *
 * The share done is shown when the stage's total bytes are known
 * (dd_progress_expect), and the time left once it has run for a second,
 * assuming the speed so far. A stage whose work is not counted in bytes is
 * shown as a phase ("dedup scan: deciding") until the next stage.
 *
 * It is shown only when standard error is a terminal and -q was not given;
 * otherwise every call does nothing. Every command that reads much (scan,
 * clean, check, filter, index build and add) draws its line through here.
 *
 * One line at a time, drawn from the main thread only. A message written by
 * dd_error or dd_warn (util.h) first erases the line (dd_progress_clear), so
 * it never ends up glued to one; the next update draws the line again below
 * the message.
 */
#ifndef DD_PROGRESS_H
#define DD_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct dd_progress {
    bool on;           /* drawing: stderr is a terminal and not quiet */
    const char *name;  /* "dedup scan" */
    const char *items; /* what is counted, singular: "file", "record" */
    const char *stage; /* NULL, or a word before the counts: "writing" */
    double start;      /* of the current stage, in seconds */
    double last;       /* when the line was last drawn */
    uint64_t n, bytes; /* the counts last drawn */
    uint64_t expected; /* the stage's total bytes, 0: unknown */
    int width;         /* of the line on the screen, to erase it */
} dd_progress;

/* Starts the line of command name ("dedup scan"), counting items
 * ("file": "s" is added but for 1). quiet: -q, nothing is ever drawn. */
void dd_progress_start(dd_progress *p, const char *name, const char *items, bool quiet);

/* A new stage ("writing", or NULL): the counts and the speed start again
 * from zero, and the line shows the word after the name. */
void dd_progress_stage(dd_progress *p, const char *stage);

/* The current stage will handle `bytes` bytes in all (0: unknown): the
 * line adds the share done and an estimate of the time left. */
void dd_progress_expect(dd_progress *p, uint64_t bytes);

/* A phase without counts ("deciding"): draws "NAME: PHASE" at once, in
 * place of the line; the next stage or update replaces it. */
void dd_progress_phase(dd_progress *p, const char *phase);

/* n items and bytes so far in this stage: draws the line at the first
 * update of a stage, then whenever the last drawing is a quarter of a
 * second old. Cheap enough to call for every record. */
void dd_progress_update(dd_progress *p, uint64_t n, uint64_t bytes);

/* The end: erases the line (a summary follows), or with keep draws it one
 * last time with the final counts and ends it with a newline. */
void dd_progress_end(dd_progress *p, bool keep);

/* Erases the line being shown, if any, so that a message can be written;
 * the next update draws it again. For dd_error and dd_warn: main() hands
 * it to dd_messages_erase_first (util.h). */
void dd_progress_clear(void);

#endif
