/*
 * base.h - what every part of the engine shares with its callers: the
 * messages it returns instead of printing them, and the interface through
 * which it asks the caller for a document's text. Part of engine.h, the
 * engine's one public header (its contracts are stated there).
 */
#ifndef DD_ENGINE_BASE_H
#define DD_ENGINE_BASE_H

#include "shingle.h"
#include "util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------- messages */

/* What the engine has to say: an error (what failed) or a warning (what a
 * decision had to do without), as dd_notes (util.h): the engine never
 * prints. A function that can fail or warn takes a dd_notes, appends to
 * it, and returns a status (false, NULL or an enum); the caller prints the
 * notes (dd_notes_say) or keeps them in order with its other messages. */

/* ----------------------------------------------------------------- texts */

/* What asking for a document's text gave. */
typedef enum dd_text_status {
    DD_TEXT_OK,      /* the text is given */
    DD_TEXT_NONE,    /* it cannot be had, and there is nothing to say (said before) */
    DD_TEXT_FAILED,  /* it could not be read: an error, said by the source */
    DD_TEXT_CHANGED, /* it is no longer the text analysed: a warning, said by the source */
} dd_text_status;

/*
 * The texts the engine reads again, given by its caller (run/ or cmd/:
 * engine/ does no file I/O). The engine keeps what it learnt of each
 * document (facts), never its text; where a decision needs the text again
 * (clean's later rounds analyse what is left of a document; an index match
 * compares exact shingle sets), it asks the source.
 */
typedef struct dd_text_source {
    /* Document doc's text as it was when analysed (its first reading), to
     * *text[0..*len): into buf (which the source may grow; the caller owns
     * it) or into memory the source keeps while the engine runs. Called on
     * any thread, for different documents at the same time (each thread
     * with its own buf): the source changes nothing shared. What reading
     * the text has to say (a read error, a file changed since) the source
     * says itself, where the calling thread's messages go (run.h), and
     * tells by the status. */
    dd_text_status (*document)(void *ctx, uint32_t doc, sh_buf *buf, const char **text,
                               size_t *len);
    /* The text of the indexed document id (store/ddx.h), into buf, when it
     * is there with this size in bytes and modification time (mtime_ns < 0:
     * any); false, saying nothing, otherwise. NULL: indexed texts cannot
     * be had (decisions then rest on the signatures). Any thread. */
    bool (*indexed)(void *ctx, const char *id, uint64_t size, int64_t mtime_ns, sh_buf *buf);
    void *ctx;
} dd_text_source;

/* --------------------------------------------------------- scratch bytes */

/*
 * Where the engine keeps what it must read again and memory should not
 * hold (a stream's earlier records' shingle sets: history.h; the sets of
 * the paragraphs the unit index lists: near_units.h): bytes the caller
 * stores for it (io/spool.h: a scratch file). Used by one thread at a
 * time, the one that decides, but for peek, which several threads may
 * call at once while none appends or overwrites. On failure a function
 * returns false and sets *err to a new message (the engine frees it or
 * passes it on).
 */
typedef struct dd_scratch {
    /* Appends p[0..n); *at is where it starts. */
    bool (*append)(void *ctx, const void *p, size_t n, uint64_t *at, char **err);
    /* Reads n bytes from at (an append's *at, or inside what it appended). */
    bool (*read)(void *ctx, uint64_t at, void *p, size_t n, char **err);
    /* Writes p[0..n) over bytes appended before, from at. */
    bool (*overwrite)(void *ctx, uint64_t at, const void *p, size_t n, char **err);
    /* The bytes appended so far. */
    uint64_t (*bytes)(const void *ctx);
    /* read that changes nothing of the store: false on any failure, with
     * nothing said (the caller has another way to the bytes). */
    bool (*peek)(const void *ctx, uint64_t at, void *p, size_t n);
    void *ctx;
} dd_scratch;

#endif
