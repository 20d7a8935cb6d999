/*
 * units.h - the units (paragraphs) of every document of a corpus, in input
 * order, in memory or in a scratch file: the first structure a memory
 * budget (--memory) moves out of memory, as it grows with the paragraphs
 * of the corpus (64 bytes each), not with its documents.
 *
 * Units are appended once, document after document. While their bytes stay
 * within max_bytes they are kept in memory; past it, all of them go to a
 * scratch file (io/spool.h: made in dir and unlinked at once, so nothing is
 * left there however the run ends), and every later one follows them there.
 * They are read back by number (unit i of the corpus): through the
 * operating system's page cache, not the process's memory. Where they are
 * changes no result: a run gives the same output with any budget.
 *
 * Reading is thread-safe while nothing is appended. A unit that cannot be
 * read back from a scratch file just written (an I/O error of the disk)
 * ends the process with a message naming the folder and status 2, as
 * running out of memory does: there is no other copy of it.
 */
#ifndef DD_RUN_UNITS_H
#define DD_RUN_UNITS_H

#include "engine/document.h"
#include "io/spool.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct dd_units {
    dd_unit *v;       /* in memory: every unit, until they go to the scratch file */
    size_t n, cap;    /* n: every unit appended, wherever it is */
    size_t max_bytes; /* of units kept in memory (0: no limit) */
    const char *dir;  /* where the scratch file is made (NULL: dd_spool_default_dir()) */
    dd_spool *spool;  /* once they went there: every unit, unit i at i * sizeof(dd_unit) */
    uint64_t id;      /* for the blocks read back (units.c) */
} dd_units;

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
