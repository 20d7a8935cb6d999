/*
 * stream.h - records read from a stream in large blocks, plain or compressed
 * (gzip, zstd), and output written in large blocks: the I/O of `dedup
 * filter`, where gigabytes go through and memory must not grow with them.
 */
#ifndef DD_STREAM_H
#define DD_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The size of the reader's blocks: of each read(), and of the decompressed
 * data it hands out records from. */
#define DD_STREAM_BLOCK ((size_t)1 << 20)

/* Reader. Memory: two blocks (one for plain input) plus the longest record
 * that spans blocks, at most max_record bytes. Not thread-safe; one reader
 * per stream. */
typedef struct dd_reader dd_reader;

/* Opens PATH for reading ("-" is standard input). Compression is detected by
 * the first bytes, whatever the name: gzip (1f 8b) through zlib, zstd (28 b5
 * 2f fd) through libzstd; anything else is read as it is. The first bytes are
 * read here, so this waits for them on a pipe. max_record is the longest
 * record accepted, in bytes, the delimiter not counted; 0 means no limit (and
 * no bound on memory). On failure returns NULL and sets *err to a new message
 * "PATH: reason" (the caller frees it). dd_reader_close closes the file, but
 * not standard input. */
dd_reader *dd_reader_open(const char *path, size_t max_record, char **err);

/* The same over an open descriptor, which should be blocking; name is used in
 * messages (e.g. "-") and copied. The reader never closes fd: the caller
 * does, after dd_reader_close. */
dd_reader *dd_reader_open_fd(int fd, const char *name, size_t max_record, char **err);

/* The next record, ending at the byte delim ('\n' or '\0'), the delimiter not
 * included. Returns
 *   1  with *rec and *len set: the bytes stay valid until the next call (or
 *      dd_reader_close) and belong to the reader; they are not terminated;
 *   0  at a clean end of input (again on every later call);
 *  -1  on error, with *err set to a new message naming the file, which the
 *      caller frees: "PATH: " + the read error, "PATH: truncated gzip data"
 *      (or zstd: the input ends inside a gzip member or a zstd frame),
 *      "PATH: corrupt gzip data (why)" (or zstd), "PATH: record N is longer
 *      than M bytes", or for zstd frames that need a window over 128 MiB
 *      (zstd --long=28 or more), which are refused to bound memory, "PATH:
 *      zstd data with a window over 128 MiB (...)". An error is final: later
 *      calls fail the same way.
 * Multi-member gzip (cat a.gz b.gz) and multi-frame zstd input is read to the
 * end; anything after the last member or frame that is not another one is an
 * error. Records returned before an error came from data that had not been
 * checked whole: gzip checks its CRC at the end of each member.
 * The last record may lack a delimiter; *had_delim (when had_delim is not
 * NULL) says whether the record had one. An empty input has no records; input
 * that ends with a delimiter has no empty record after it. */
int dd_reader_next(dd_reader *r, int delim, const char **rec, size_t *len, bool *had_delim,
                   char **err);

/* Lets go of the memory of the last record returned when it spanned blocks
 * and took more than two of them (its bytes are no longer valid): for a
 * caller that copied it, so that a long record is not held twice. */
void dd_reader_release_record(dd_reader *r);

/* The 1-based number of the last record returned (0 before the first). */
uint64_t dd_reader_record_number(const dd_reader *r);
/* The decompressed bytes of the records returned so far, delimiters
 * included: at the end of input, the size of the decompressed data. */
uint64_t dd_reader_bytes(const dd_reader *r);
/* The name as given to dd_reader_open or dd_reader_open_fd. */
const char *dd_reader_name(const dd_reader *r);
/* What was detected: "plain", "gzip" or "zstd". */
const char *dd_reader_format(const dd_reader *r);
/* Whether PATH is a regular file that a reader takes as it is (not gzip or
 * zstd by its first bytes, whose records hold more bytes than the file):
 * then *size is its size. False for "-", anything but a regular file, a
 * compressed or unreadable one. For the progress line's total. */
bool dd_stream_plain_size(const char *path, uint64_t *size);

/* Frees the reader and closes what dd_reader_open opened. NULL is allowed. */
void dd_reader_close(dd_reader *r);

/* Writer: bytes go to fd in whole blocks, or what is left on flush; never
 * one write() per record. Short writes and EINTR are handled; fd should be
 * blocking. */
typedef struct dd_writer dd_writer;

/* A writer over fd (not closed by the writer) that buffers up to block bytes
 * (0: DD_STREAM_BLOCK). */
dd_writer *dd_writer_new(int fd, size_t block);

/* A writer over fd that compresses what it is given: format "gzip" (zlib,
 * the default level, one gzip member) or "zstd" (the default level, one
 * frame with its checksum), or "plain" (as dd_writer_new). What is written
 * is a whole compressed file only after dd_writer_finish. */
dd_writer *dd_writer_new_compressed(int fd, const char *format);

/* Appends p[0..n). Returns 0, or -1 with errno set (EPIPE when the reader
 * went away and SIGPIPE is ignored; the caller decides). An error is final:
 * what was buffered is dropped and later writes and flushes fail with the
 * same errno. */
int dd_writer_write(dd_writer *w, const void *p, size_t n);

/* Writes out everything buffered. Returns 0, or -1 with errno set, as above. */
int dd_writer_flush(dd_writer *w);

/* Writes out everything buffered and ends the compressed stream (for a
 * plain writer: dd_writer_flush). Nothing may be written after it. Returns
 * 0, or -1 with errno set. */
int dd_writer_finish(dd_writer *w);

/* Frees the writer without flushing (flush first to keep the output). NULL
 * is allowed. */
void dd_writer_free(dd_writer *w);

#endif
