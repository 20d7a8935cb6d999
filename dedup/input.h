/*
 * input.h - the documents named on the command line: files, directories
 * walked recursively in sorted order, and - for standard input.
 */
#ifndef DD_INPUT_H
#define DD_INPUT_H

#include "shingle.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct dd_input {
    char *path;    /* what to open ("-" for standard input) */
    char *id;      /* the document's id in reports: the path as named */
    char *out_rel; /* where clean writes it, relative to the output folder */
    bool is_stdin;
} dd_input;

typedef struct dd_inputs {
    dd_input *v;
    size_t n, cap;
    char **dirs; /* the directories named on the command line */
    size_t ndirs, dirs_cap;
} dd_inputs;

/* Collects the documents under paths[0..n). Problems (a missing path, an
 * unreadable directory) are reported on stderr as "dedup: PATH: why" and
 * counted in the return value; the other documents are still collected. A
 * file reached twice is read once. */
int dd_inputs_collect(dd_inputs *in, char *const *paths, size_t n);
void dd_inputs_free(dd_inputs *in);

/* Reads the whole document into buf (replacing its contents), at most max
 * bytes: a longer document is refused ("longer than --max-record"), a
 * regular file before anything is read, a stream (standard input, a FIFO, a
 * device) once max bytes have come, so that memory stays bounded. On
 * failure prints "dedup: ID: why" and returns false. */
bool dd_input_read(const dd_input *d, size_t max, sh_buf *buf);

/* A file is binary when its first DD_BINARY_PROBE bytes hold a NUL byte:
 * git's rule (and grep's, in spirit). dedup skips such files with a
 * warning; a NUL byte further on is an error (see dd_input_check_text). */
#define DD_BINARY_PROBE 8000
bool dd_input_is_binary(const char *text, size_t len);

/* Warns that input d is a binary file, skipped. */
void dd_input_warn_binary(const dd_input *d);

/* Reports the first byte of text that makes it not a text file: invalid
 * UTF-8 or a NUL byte, as "dedup: ID:LINE: why at byte OFFSET". Returns
 * false after a report, true if the text is valid. The normaliser finds
 * invalid UTF-8 as it goes, so this full check runs only when it did. */
bool dd_input_check_text(const dd_input *d, const char *text, size_t len);

#endif
