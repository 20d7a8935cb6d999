/*
 * input.h - the documents named on the command line: files, directories
 * walked recursively in sorted order, and - for standard input.
 */
#ifndef DD_INPUT_H
#define DD_INPUT_H

#include "document.h"
#include "shingle.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A stream (standard input, or a FIFO or a device named on the command
 * line) can be read only once: opening a FIFO again would wait for a writer
 * that never comes. Its bytes are kept at the first reading, and every later
 * reading (exact verification, a report's excerpt, clean) gives them again. */
typedef struct dd_stream_copy {
    sh_buf text;
    enum {
        DD_STREAM_UNREAD,
        DD_STREAM_KEPT,
        DD_STREAM_BINARY, /* a NUL byte in its first DD_BINARY_PROBE bytes: read no further */
        DD_STREAM_FAILED,
    } state;
} dd_stream_copy;

typedef struct dd_input {
    char *path;    /* what to open ("-" for standard input) */
    char *id;      /* the document's id in reports: the path as named */
    char *out_rel; /* where clean writes it, relative to the output folder */
    uint64_t size; /* bytes when collected (a regular file), else 0: a hint */
    bool is_stdin;
    dd_stream_copy *stream; /* a stream's bytes (owned); NULL for a regular file */
} dd_input;

typedef struct dd_inputs {
    dd_input *v;
    size_t n, cap;
    char **dirs; /* the directories named on the command line */
    size_t ndirs, dirs_cap;
    char **trees; /* the real paths of the named trees (see dd_inputs_hold) */
    size_t ntrees, trees_cap;
} dd_inputs;

/* Collects the documents under paths[0..n). Problems (a missing path, an
 * unreadable directory) are reported on stderr as "dedup: PATH: why" and
 * counted in the return value; the other documents are still collected. A
 * file reached twice (named twice, or through a symbolic link) is read
 * once. Below a directory, a symbolic link to a file is followed (the file
 * is read, wherever it is), a link to a directory is not (no loop can be
 * entered). */
int dd_inputs_collect(dd_inputs *in, char *const *paths, size_t n);
void dd_inputs_free(dd_inputs *in);

/* Whether the real path real (no symbolic link in it) lies in one of the
 * trees the command line named: a directory named, or the directory of a
 * file named, as their real paths were when the inputs were collected. What
 * lies elsewhere was reached through a symbolic link, which whoever can
 * write in a named folder may have planted: clean --in-place does not write
 * there. */
bool dd_inputs_hold(const dd_inputs *in, const char *real);

/* Whether the real path a is b or lies inside it. */
bool dd_path_within(const char *a, const char *b);

/* Reads the whole document into buf (replacing its contents), at most max
 * bytes: a longer document is refused ("longer than --max-record"), a
 * regular file before anything is read, a stream (standard input, a FIFO, a
 * device) once max bytes have come, so that memory stays bounded. A stream
 * is read once: later calls give the bytes of the first (d->stream). A
 * stream whose first DD_BINARY_PROBE bytes hold a NUL byte is binary
 * whatever follows, and is read no further (so /dev/zero is skipped at
 * once): buf then holds those bytes, and a later call, which would need
 * the rest, fails. On failure prints "dedup: ID: why" and returns false. */
bool dd_input_read(const dd_input *d, size_t max, sh_buf *buf);

/* Reads document d, a regular file, from fd (open on it, as
 * dd_replace_target_read opens it) as dd_input_read would from its path,
 * and closes fd. */
bool dd_input_read_fd(const dd_input *d, int fd, size_t max, sh_buf *buf);

/* A file is binary when its first DD_BINARY_PROBE bytes hold a NUL byte:
 * git's rule (and grep's, in spirit). dedup skips such files with a
 * warning; a NUL byte further on makes a file that is not text (see
 * dd_input_load). */
#define DD_BINARY_PROBE 8000
bool dd_input_is_binary(const char *text, size_t len);

/* Where a document stops being text: its first invalid UTF-8 sequence or
 * NUL byte. */
typedef struct dd_not_text {
    const char *why; /* "invalid UTF-8", or "NUL byte" (static strings) */
    size_t offset;   /* 0-based byte offset in the document */
    size_t line;     /* 1-based line of that byte */
} dd_not_text;

/* Finds the first byte of text[0..len) that makes it not text; false when
 * the whole text is valid UTF-8 without a NUL byte. */
bool dd_find_not_text(const char *text, size_t len, dd_not_text *bad);

/* "ID:LINE: why at byte OFFSET", as every command says it: on stdout for
 * check's findings, after "dedup: " on stderr elsewhere. The string is the
 * caller's to free. */
char *dd_not_text_message(const dd_input *d, const dd_not_text *bad);

/* Reports bad on stderr: "dedup: ID:LINE: why at byte OFFSET[; FATE]"
 * ("dedup: warning: ..." when warning), FATE saying what becomes of the
 * file (NULL: nothing more is said). */
void dd_input_report_not_text(const dd_input *d, const dd_not_text *bad, bool warning,
                              const char *fate);

/* What dd_input_load found. */
typedef enum dd_load_status {
    DD_LOAD_TEXT,     /* valid text, cut into doc's units */
    DD_LOAD_BINARY,   /* a binary file, skipped with a warning: doc is empty */
    DD_LOAD_NOT_TEXT, /* invalid UTF-8, or a NUL byte past DD_BINARY_PROBE: *bad says
                         where; nothing is reported (the --on-error policy of the
                         command decides), doc is empty */
    DD_LOAD_FAILED,   /* not read, or not analysed: reported on stderr */
} dd_load_status;

/* Reads document d (dd_input_read: at most max bytes) into text, decides
 * whether it is text, and cuts it into units with a. The one place where
 * every command (scan, clean, check, index) reads and decodes a document.
 * text holds the bytes read unless the status is DD_LOAD_FAILED. */
dd_load_status dd_input_load(const dd_input *d, size_t max, dd_analyzer *a, sh_buf *text,
                             dd_doc *doc, dd_not_text *bad);

#endif
