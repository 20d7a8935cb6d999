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
 * its memory freed. A name there is read back (pread) into a room of the
 * caller's when it is asked for (a document opened, a report naming it):
 * the file's pages are the system's page cache, not the process's memory.
 * A name is asked for through a room either way (one code path); one in
 * memory is given where it is, without a copy.
 *
 * Appending is not thread-safe; reading is, once nothing is appended, each
 * thread with rooms of its own.
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

    char **blocks;       /* a block in memory; NULL when it is in the scratch file */
    uint32_t *sizes;     /* the bytes of each block */
    uint64_t *file_at;   /* where a block in the scratch file starts there */
    size_t n, cap;       /* blocks */
    size_t used;         /* bytes used in the last block */
    size_t bytes;        /* the bytes of the blocks in memory */
    int fd;              /* 1 + the scratch file's descriptor, 0 before it is made */
    uint64_t file_bytes; /* bytes written to it */
} dd_names;

/* Appends s[0..len) and a NUL; returns its handle. Exits after a message
 * when memory is short or the scratch file cannot be written. */
uint64_t dd_names_add(dd_names *a, const char *s, size_t len);

/* A caller's room for a name read back from the scratch file: {0} to
 * start, reused from name to name (it grows to the longest), freed by
 * dd_name_room_free. */
typedef struct dd_name_room {
    char *s;
    size_t cap;
} dd_name_room;

/* The name of handle at. A name in memory is given where it is (valid
 * while the arena lives); one in the scratch file is read into room (valid
 * until room is used again or freed). So the name is the caller's to use
 * until it next uses or frees room: a caller that holds two names at once
 * gives each its own room. Exits after a message when the scratch file
 * cannot be read. */
const char *dd_names_read(const dd_names *a, uint64_t at, dd_name_room *room);

void dd_name_room_free(dd_name_room *room);

/* Gives back the unused end of the last block, when it is in memory (a
 * name added later starts a new block). */
void dd_names_trim(dd_names *a);

/* The bytes the arena holds in memory (its blocks there, their unused ends
 * included), and the bytes of its scratch file. */
size_t dd_names_memory_bytes(const dd_names *a);
uint64_t dd_names_scratch_bytes(const dd_names *a);

void dd_names_free(dd_names *a);

#endif
