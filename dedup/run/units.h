/*
 * units.h - the units (paragraphs) of every document of a corpus, in input
 * order, in memory or in a scratch file: the first structure a memory
 * budget (--memory) moves out of memory, as it grows with the paragraphs
 * of the corpus (64 bytes each), not with its documents.
 *
 * A scratch array of units (io/scratch_array.h): appended once, document
 * after document, kept in memory up to max_bytes of them, then moved to a
 * scratch file as more come (a block at a time), read back by number
 * (unit i of the corpus) wherever each is. Where they are changes no result: a run gives the same
 * output with any budget. Reading is thread-safe while nothing is appended.
 */
#ifndef DD_RUN_UNITS_H
#define DD_RUN_UNITS_H

#include "engine/document.h"
#include "io/scratch_array.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* v: the units in memory; n: every unit appended; spool: set once they
 * passed max_bytes (some may still be in memory). */
typedef dd_scratch_array dd_units;

/* Starts s empty: units are kept in memory up to max_bytes of them (0:
 * no limit, as in a dd_units zeroed), then in a scratch file in dir (NULL: dd_spool_default_dir()),
 * which must outlive s. */
void dd_units_init(dd_units *s, size_t max_bytes, const char *dir);
void dd_units_free(dd_units *s);

/* Appends v[0..n). False, with *err set to a new message naming the folder
 * (a full disk), when they could not be written: s then holds the units
 * before them. */
bool dd_units_append(dd_units *s, const dd_unit *v, size_t n, char **err);

/* Unit i (below s->n). */
dd_unit dd_units_get(const dd_units *s, size_t i);

/* Units [first, first + n): a pointer into memory, or into *buf (grown as
 * needed; *cap is its capacity), where they are read to. Valid until the
 * next append, or the next use of buf. */
const dd_unit *dd_units_span(const dd_units *s, size_t first, size_t n, dd_unit **buf, size_t *cap);

/* Bytes of units in memory (allocated), and in the scratch file. */
size_t dd_units_memory_bytes(const dd_units *s);
uint64_t dd_units_scratch_bytes(const dd_units *s);

#endif
