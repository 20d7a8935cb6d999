/*
 * key_table.h - the program's table from exact 128-bit keys to 32-bit
 * numbers: paragraphs' keys to their numbers (engine/paragraphs.c,
 * engine/history.c), documents' keys to the first document placed with
 * them (engine/near.c), files' identities (device, inode) to nothing, to
 * read each file once (io/input.c). It lies beside util.c, under every
 * layer, so that engine/ and io/ both use it.
 *
 * Open addressing with linear probing in a power-of-two number of slots,
 * each key's home slot salted (util.h: dd_table_home, so that texts
 * cannot be written to pile their keys into one run of slots); the table
 * doubles before it would pass its fill. Lookups give a key's number,
 * never its slot, so nothing decided depends on where an entry sits. A
 * table belongs to one thread (or is read by several, changed by none).
 *
 * Memory: 20 bytes a slot (the key in four 32-bit words, so that a slot
 * needs no 8-byte alignment, and 1 + the number), at most 1 / fill of a
 * slot per key: 40 bytes a key at half full, 27 at three quarters; while
 * the table doubles, the old one is held too.
 *
 * The other tables of the program are not this one, for what they hold:
 * engine/capped_map.c lists several values per 64-bit key in 12-byte
 * slots; engine/near_units.c's table of a document's 3-shingles lists the
 * first units of each and is emptied per document by a generation number;
 * dd_set_table (near_units.h) is a set of 64-bit hashes in 8-byte slots.
 * All of them take their homes from dd_table_home.
 */
#ifndef DD_KEY_TABLE_H
#define DD_KEY_TABLE_H

#include "shingle.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest number a key can have (a slot holds 1 + the number, 0 marks
 * an empty slot). */
#define DD_KEY_TABLE_MAX_VALUE (UINT32_MAX - 1)

typedef struct dd_key_slot {
    uint32_t key[4]; /* lo's low and high half, then hi's */
    uint32_t value1; /* 1 + the key's number; 0: an empty slot */
} dd_key_slot;

typedef struct dd_key_table {
    dd_key_slot *slots;
    size_t nslots; /* a power of two */
    size_t used;
    unsigned max_quarters; /* the fill it never passes, in quarters of nslots */
    uint64_t salt;         /* dd_table_salt() */
} dd_key_table;

/* An empty table that is never more than max_quarters / 4 full (2: half,
 * 3: three quarters). Exits with a message when out of memory, as every
 * dd_ allocation does. */
void dd_key_table_init(dd_key_table *t, unsigned max_quarters);
void dd_key_table_free(dd_key_table *t);

/* Empties t and sizes it for n keys: its slots are allocated again only
 * when n needs another number of them (for a table filled again and
 * again, as the placer's batches are). */
void dd_key_table_reset(dd_key_table *t, size_t n);

/* Makes room for n keys in all, so that adding them does not double the
 * table again and again. */
void dd_key_table_reserve(dd_key_table *t, size_t n);

/* What dd_key_table_add did. */
typedef enum dd_key_added {
    DD_KEY_ADDED, /* key was new: it has the number given */
    DD_KEY_HAD,   /* key had a number: *had (the table is unchanged) */
    DD_KEY_FULL   /* key was new and the number given is above
                     DD_KEY_TABLE_MAX_VALUE: nothing was added */
} dd_key_added;

/* Gives key the number value, unless it has one. */
dd_key_added dd_key_table_add(dd_key_table *t, sh_key key, size_t value, uint32_t *had);

/* The number of key, if it has one. */
bool dd_key_table_get(const dd_key_table *t, sh_key key, uint32_t *value);

/* Bytes its slots take. */
size_t dd_key_table_bytes(const dd_key_table *t);

#endif
