/*
 * spool.h - a scratch file: byte strings appended once and read back by
 * where they start, for what a stream must keep of every earlier record but
 * cannot keep in memory (dedup filter: the shingle sets of the kept records,
 * for exact verification against any of them).
 *
 * The file is made in a folder (TMPDIR, or /tmp) and unlinked as soon as it
 * is open, so nothing is left behind, whatever ends the process; its space
 * is given back when the spool is freed (or the process ends). Appends go
 * through a buffer of DD_SPOOL_BLOCK bytes, written in whole blocks; a read
 * takes what is still in the buffer from there and the rest with pread(),
 * so what was written is read back at once, and recent strings, the ones
 * most often read, are mostly read from the operating system's page cache.
 * Memory: the buffer (DD_SPOOL_BLOCK bytes, or what a run with a small
 * memory budget set: dd_spool_set_buffer_bytes). Not thread-safe: one
 * spool per thread, but for dd_spool_peek, which several threads may call
 * at once while nothing is appended.
 */
#ifndef DD_SPOOL_H
#define DD_SPOOL_H

#include <stdbool.h>
#include "engine/engine.h"

#include <stddef.h>
#include <stdint.h>

#define DD_SPOOL_BLOCK ((size_t)1 << 20)

typedef struct dd_spool dd_spool;

/* The bytes of the buffer of each spool made from now on (0: back to
 * DD_SPOOL_BLOCK), for the whole process: a run sets it from its memory
 * budget (run/memory.h, dd_memory_scratch_buffer) before it starts its
 * threads, so that the buffers of the scratch files it holds at once,
 * which can be a hundred, stay within that budget. Spools made before
 * keep the size they have. Thread-safe. */
void dd_spool_set_buffer_bytes(size_t bytes);

/* The bytes of the buffer of a spool made now. */
size_t dd_spool_buffer_bytes(void);

/* The folder scratch files go to: $TMPDIR when it is set and not empty,
 * else /tmp. */
const char *dd_spool_default_dir(void);

/* A new, empty spool in folder dir (NULL: dd_spool_default_dir()). On
 * failure returns NULL and sets *err to a new message, "cannot make a
 * scratch file in DIR: why" (the caller frees it). */
dd_spool *dd_spool_new(const char *dir, char **err);

/* Appends p[0..n) and sets *at to where it starts. On failure (a write
 * error: a full disk) returns false and sets *err to a new message
 * "scratch file in DIR: why"; the failure is final: later appends and reads
 * fail the same way. */
bool dd_spool_append(dd_spool *s, const void *p, size_t n, uint64_t *at, char **err);

/* Appends n bytes that are written later, with dd_spool_overwrite (one
 * write each, from the caller's memory: a hole of the file until then, not
 * to be read before), and sets *at to where they start. Failures as
 * dd_spool_append's (the buffer is written first). */
bool dd_spool_reserve(dd_spool *s, uint64_t n, uint64_t *at, char **err);

/* Reads n bytes from where at says (an append's *at) into p. False, with
 * *err set as above, on a read error (final) or a range past the end (not
 * final). */
bool dd_spool_read(dd_spool *s, uint64_t at, void *p, size_t n, char **err);

/* dd_spool_read that changes nothing of s: for several threads reading at
 * once while no thread appends. False on any failure (nothing is said:
 * the caller has another way to the bytes, or reads them with
 * dd_spool_read to learn why). */
bool dd_spool_peek(const dd_spool *s, uint64_t at, void *p, size_t n);

/* Writes p[0..n) over bytes already appended, from where at says (to keep
 * a string in a form that is cheaper to read again: the same length). False,
 * with *err set as above, on a write error (final) or a range past the end
 * (not final). */
bool dd_spool_overwrite(dd_spool *s, uint64_t at, const void *p, size_t n, char **err);

/* The bytes appended so far: the size of the file once all is written. */
uint64_t dd_spool_bytes(const dd_spool *s);

/* Closes (and so frees) the file. NULL is allowed. */
void dd_spool_free(dd_spool *s);

/* s as the engine's scratch store (engine/base.h), for a history
 * (history.h) or a unit index (near_units.h): its functions are those
 * above. s must outlive its use. */
dd_scratch dd_spool_scratch(dd_spool *s);

#endif
