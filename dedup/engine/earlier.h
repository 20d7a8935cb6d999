/*
 * earlier.h - what the engine knows of an earlier corpus (--index), through
 * one interface: its documents (signatures, sizes, where their files are)
 * and where its paragraphs are. The program's earlier corpus is an LMDB
 * index (store/ddx.h: dd_ddx_earlier); the engine reads it only through a
 * dd_earlier, so it does no I/O itself. Part of engine.h.
 */
#ifndef DD_ENGINE_EARLIER_H
#define DD_ENGINE_EARLIER_H

#include "shingle.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A document of the earlier corpus. */
typedef struct dd_indexed_doc {
    char *id;          /* its path; owned by the struct when returned by get */
    uint64_t size;     /* bytes */
    int64_t mtime_ns;  /* modification time, nanoseconds since the epoch */
    sh_key key;        /* exact key of its normalised words */
    uint32_t words, shingles;
    uint32_t *minhash; /* num_perm values; owned as id */
    uint32_t number;   /* its number: its rank in the earlier corpus */
} dd_indexed_doc;

/* Frees what d owns (id, minhash) and zeroes it. */
void dd_indexed_doc_free(dd_indexed_doc *d);

/* Where a paragraph was seen in the earlier corpus. */
typedef struct dd_indexed_place {
    uint32_t doc; /* document number */
    uint32_t first_line, last_line;
} dd_indexed_place;

/*
 * The earlier corpus, as the caller gives it. Read only; called by one
 * thread at a time (the one that decides). Every function fails with
 * false or -1 and *err set to a new message (which the engine hands back
 * in its notes or its own *err); "not there" is false with *err NULL.
 */
typedef struct dd_earlier {
    /* The document with this id, into *d (free with dd_indexed_doc_free). */
    bool (*get)(void *ctx, const char *id, dd_indexed_doc *d, char **err);
    /* The document of this number. */
    bool (*get_number)(void *ctx, uint32_t number, dd_indexed_doc *d, char **err);
    /* The numbers filed under each of the bands band keys, at most
     * per_band of each (the lowest), key after key, into *out (grown; *cap
     * its capacity): a number once for each band it shares. How many. */
    long (*band_members)(void *ctx, const uint64_t *band_keys, size_t bands, size_t per_band,
                         uint32_t **out, size_t *cap, char **err);
    /* The places of a paragraph's exact key, in increasing document order,
     * at most max of them, into out. How many. */
    long (*paragraph)(void *ctx, sh_key key, dd_indexed_place *out, size_t max, char **err);
    void *ctx;
} dd_earlier;

/* How many places of a paragraph are looked at: its documents are counted
 * among them. */
#define DD_EARLIER_PLACES 64

/* The paragraph of exact key `key` in the earlier corpus, outside document
 * number self (UINT32_MAX: none): how many documents hold it there (*docs,
 * counting each once, among its first DD_EARLIER_PLACES places), its first
 * place (*at) and that place's document (*of, to free with
 * dd_indexed_doc_free). False when no other document holds it (*err NULL)
 * or on an error (*err set). The one paragraph lookup of every mode
 * (history.c, index_match.c). */
bool dd_earlier_paragraph(const dd_earlier *e, sh_key key, uint32_t self, uint32_t *docs,
                          dd_indexed_place *at, dd_indexed_doc *of, char **err);

#endif
