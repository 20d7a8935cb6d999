/*
 * set_cache.h - shingle sets made or read again, kept for the next time
 * they are asked for: the one cache of sets of the program. A set is made
 * again by reading and analysing its text, or read back from a scratch
 * store (base.h: dd_scratch), both costly, and verifying candidates asks
 * for the same sets again and again (a representative, or a paragraph
 * printed in many documents). Its users: the documents' sets that exact
 * verification makes again (run/corpus.c, one cache for every thread that
 * verifies, with a budget of bytes, behind a lock there), and the sets of
 * the paragraphs the unit index lists, read back when a later paragraph is
 * compared with them (near_units.c).
 *
 * A cache holds one set per slot, the slot of an id being id modulo its
 * number of slots; a set is known by its id (a document's or a listed
 * paragraph's number) and a version (of the text it was made from: 0 when
 * texts do not change), and a set asked for under another id or version is
 * not found. With a budget, the sets it holds take at most that many bytes
 * in all (their exact sizes: a slot's buffer is freed when the slot is
 * claimed again), the oldest slots emptied first, in turn; without one,
 * each slot keeps its buffer for the next set (fewer allocations).
 *
 * Ownership: the cache owns its sets and their buffers. What
 * dd_set_cache_find or dd_set_cache_claim returns stays valid until the
 * next dd_set_cache_claim, dd_set_cache_forget or dd_set_cache_free on the
 * same cache; the caller copies what it must keep longer. Threads: a cache
 * is not locked: it belongs to one thread, or its user locks it (and
 * copies a set out before releasing the lock).
 */
#ifndef DD_SET_CACHE_H
#define DD_SET_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct dd_cached_set {
    uint64_t id1;     /* 1 + the id, 0: empty */
    uint32_t version; /* of the text the set was made from */
    bool kept;        /* the set is there (not only claimed) */
    uint64_t *set;    /* the set: n hashes, in a buffer of cap */
    size_t n, cap;
} dd_cached_set;

typedef struct dd_set_cache {
    dd_cached_set *slots;
    size_t nslots;
    size_t budget; /* the most bytes its sets may take; 0: no limit */
    size_t bytes;  /* the bytes of the sets it holds (with a budget) */
    size_t hand;   /* the slot to empty next when they pass the budget */
} dd_set_cache;

/* An empty cache of nslots slots (at least 1) and a budget of bytes (0:
 * none). Exits when out of memory, as every dd_ allocation does. */
void dd_set_cache_init(dd_set_cache *c, size_t nslots, size_t budget);
void dd_set_cache_free(dd_set_cache *c);

/* The set of (id, version), or NULL when the cache does not hold it. */
const dd_cached_set *dd_set_cache_find(const dd_set_cache *c, uint64_t id, uint32_t version);

/* The slot of (id, version), emptied, for its set to come: the caller
 * writes the set to slot->set (growing the buffer as dd_grow does, *cap
 * its capacity) and its size to slot->n, then calls dd_set_cache_keep; a
 * slot claimed and not kept stays empty. */
dd_cached_set *dd_set_cache_claim(dd_set_cache *c, uint64_t id, uint32_t version);

/* The claimed slot holds its set: it is found from now on. With a budget,
 * the oldest other slots are emptied first while the sets take more. */
void dd_set_cache_keep(dd_set_cache *c, dd_cached_set *slot);

/* Empties every slot and frees their buffers. */
void dd_set_cache_forget(dd_set_cache *c);

/* Bytes its sets' buffers take. */
size_t dd_set_cache_bytes(const dd_set_cache *c);

#endif
