/*
 * lmdb_check.h - checks that the bytes of an LMDB data file (data.mdb) are a
 * well-formed LMDB store holding the named tables it should, before LMDB is
 * let write to it.
 *
 * Why: LMDB trusts every page number, size and offset it finds in its file.
 * Reading, a wrong one makes it read out of bounds, which ddx.c's fault
 * guard catches. Writing, it makes LMDB write out of bounds (a 4 GB memcpy
 * over the heap after a page's bounds were overwritten), free a page that is
 * still in use, or modify a page of the read-only map in place: memory is
 * corrupted before any signal is raised, and no guard can undo that. So the
 * write path runs only on a store that this check accepts.
 *
 * What it checks is what LMDB's writes rely on, and what every store LMDB
 * itself wrote satisfies (LMDB 0.9, the format of liblmdb0 on Debian 12):
 *   - both header (meta) pages: magic, version, the same page size, a power
 *     of two from 4096 to 32768 (the sizes LMDB makes files with); the
 *     newest header (the one a write transaction starts from) names a last
 *     page inside the file;
 *   - every page reachable from the newest header (the free-page table, the
 *     main table, each named table, each table of duplicates) lies between
 *     page 2 and that last page, carries its own number, is of the type its
 *     place in the tree requires (no "dirty" or other transient flag), and is
 *     reached once only: no page belongs to two trees, none is listed as
 *     free while in use, none is listed free twice, so no loop is possible;
 *   - inside each page: the free-space bounds are in order, every node lies
 *     between the upper bound and the page's end, no two nodes overlap, no
 *     node is bigger than LMDB would have made it, keys have at most 511
 *     bytes and are in strictly increasing order, also across pages (each
 *     subtree holds only keys between its two separators);
 *   - every leaf of a tree is at the depth its table record says;
 *   - values: an overflow value's pages are inside the file, of type
 *     overflow, and as many as its size needs; a free-page record's count
 *     fits its value and its page numbers decrease; a table of duplicates
 *     (inline sub-page or sub-table) has the fixed value size and the flags
 *     of its table;
 *   - the main table holds exactly the named tables given, each with the
 *     flags it was made with, and their keys and values have the sizes given.
 * Not checked: the entry and page counts of each table record (statistics
 * LMDB reports, never relies on), pages no tree reaches (LMDB never reads
 * them), the older header's trees (a write starts from the newest), and the
 * meaning of the values (the index's own decoders check those).
 *
 * The check reads each reachable page once: its time grows with the store,
 * about as fast as reading the file (bench/README.md has figures).
 */
#ifndef DD_LMDB_CHECK_H
#define DD_LMDB_CHECK_H

#include <stddef.h>

/* A named table the store must hold. */
typedef struct dd_lmdb_table {
    const char *name;
    unsigned flags;    /* LMDB flags it was made with: 0, or MDB_DUPSORT | MDB_DUPFIXED */
    size_t key_size;   /* the size of every key; 0: any from 1 to 511 bytes */
    size_t value_size; /* the size of every value; 0: any (required with MDB_DUPFIXED) */
} dd_lmdb_table;

/* Checks the data file's bytes, file[0..len), as described above. NULL when
 * the store is well-formed and holds exactly tables[0..ntables), or a new
 * message saying the first thing wrong, e.g. "page 7: not a page of this
 * tree (flags 0xffff)". Reads nothing outside file[0..len). */
char *dd_lmdb_check(const unsigned char *file, size_t len, const dd_lmdb_table *tables,
                    size_t ntables);

#endif
