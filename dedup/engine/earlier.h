/*
 * earlier.h - what the engine knows of an earlier corpus (--index), through
 * one interface: its documents (signatures, sizes, where their files are)
 * and where its paragraphs are. The program's earlier corpus is an LMDB
 * index (store/ddx.h: dd_ddx_earlier); the engine reads it only through a
 * dd_earlier, so it does no I/O itself. Part of engine.h.
 */
#ifndef DD_ENGINE_EARLIER_H
#define DD_ENGINE_EARLIER_H

#include "engine/near.h"
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

/* A document's copy in the earlier corpus: the indexed document (owned),
 * and the similarity to it. */
typedef struct dd_earlier_copy {
    dd_indexed_doc doc;
    bool exact;     /* the same normalised words */
    bool estimated; /* jaccard and containment from the signatures */
    double jaccard, containment;
} dd_earlier_copy;

/* Work space of dd_earlier_copy_of, and what its candidate searches did:
 * zero it before first use, free it with dd_earlier_search_free. */
typedef struct dd_earlier_search {
    uint64_t *keys;
    uint32_t *cands;
    dd_candidate *choice;
    size_t keys_cap, cands_cap, choice_cap;
    uint64_t compared; /* candidates compared */
    uint64_t left_out; /* candidates found but not compared (near.h's caps) */
} dd_earlier_search;
void dd_earlier_search_free(dd_earlier_search *w);

/* The exact overlap (near.h) of the document being searched for with
 * indexed document d, for exact verification; false when it cannot be had
 * (a text that is not there, or changed: the signatures then decide). */
typedef bool (*dd_indexed_overlap)(void *ctx, const dd_indexed_doc *d, dd_overlap *o);

/* The copy search of every mode against an earlier corpus (history.c,
 * index_match.c): is document doc of s a copy of an indexed document? Its
 * candidates are the documents its band keys list (at most DD_BUCKET_CAP a
 * key; DD_MAX_CANDIDATES of them, those sharing the most bands: near.h),
 * but for document number self (0: none); they are compared in their rank
 * (number) order, and the first that passes the join rule with the indexed
 * document as the representative (dd_near_joins: it came first) is the
 * answer. The similarity is 1 for the same exact key, else exact when
 * overlap (NULL: none) gives the sets' overlap, else estimated from the
 * signatures. Returns 1 with *copy set (free copy->doc), 0 when none
 * passes (or doc has no words), -1 on an error of e (*err set). */
int dd_earlier_copy_of(const dd_earlier *e, const dd_signatures *s, uint32_t doc, uint32_t self,
                       dd_indexed_overlap overlap, void *overlap_ctx, dd_earlier_search *w,
                       dd_earlier_copy *copy, char **err);

#endif
