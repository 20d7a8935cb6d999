/*
 * names.h - an arena of names: NUL-terminated strings appended once and
 * kept while the arena lives, in large blocks (no allocation per string),
 * each known by a 64-bit handle. The input list keeps the paths and ids of
 * its documents here (input.h).
 *
 * A name lies whole in one block: a block of the arena's block size, or of
 * its own size for a name longer than that. The handle is the block's
 * number in its upper 32 bits and the name's start in the lower 32.
 *
 * Past max_in_memory bytes of blocks in memory, each block filled is
 * written to a scratch file (in dir, unlinked as soon as it is made) and
 * read from there: the block is then a read-only mapping of its place in
 * the file, whose pages the system reads when a name is read (a report
 * naming a document) and takes back when memory is short. A name's address
 * is the same either way, valid while the arena lives: one code path.
 *
 * Appending is not thread-safe; reading is, once nothing is appended.
 */
#ifndef DD_NAMES_H
#define DD_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DD_NAMES_BLOCK ((size_t)1 << 20)

typedef struct dd_names {
    /* Set before the first name is added ({0}: all in memory). */
    size_t max_in_memory;     /* bytes of blocks kept in memory (0: no limit) */
    const char *dir;          /* where the scratch file is made (NULL: dd_spool_default_dir()) */
    const char *dir_named_by; /* what named dir, for messages ("--tmp-dir"; NULL: "TMPDIR") */

    char **blocks;
    uint32_t *sizes;     /* the bytes of each block */
    bool *on_file;       /* the block is a mapping of the scratch file */
    size_t n, cap;       /* blocks */
    size_t used;         /* bytes used in the last block */
    size_t bytes;        /* the bytes of the blocks in memory */
    int fd;              /* 1 + the scratch file's descriptor, 0 before it is made */
    uint64_t file_bytes; /* bytes written to it */
} dd_names;

/* Appends s[0..len) and a NUL; returns its handle. Exits after a message
 * when memory is short or the scratch file cannot be written. */
uint64_t dd_names_add(dd_names *a, const char *s, size_t len);

/* The name of handle at: valid while the arena lives. */
const char *dd_names_at(const dd_names *a, uint64_t at);

/* Gives back the unused end of the last block, when it is in memory (a
 * name added later starts a new block). */
void dd_names_trim(dd_names *a);

/* The bytes the arena holds in memory (its blocks there, their unused ends
 * included), and the bytes of its scratch file. */
size_t dd_names_memory_bytes(const dd_names *a);
uint64_t dd_names_scratch_bytes(const dd_names *a);

void dd_names_free(dd_names *a);

#endif
