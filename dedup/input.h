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

/* Reads the whole document into buf (replacing its contents). On failure
 * prints "dedup: ID: why" and returns false. */
bool dd_input_read(const dd_input *d, sh_buf *buf);

/* Reports the first byte of text that makes it not a text file: invalid
 * UTF-8 or a NUL byte, as "dedup: ID:LINE: why at byte OFFSET". Returns
 * false after a report, true if the text is valid. The normaliser finds
 * invalid UTF-8 as it goes, so this full check runs only when it did. */
bool dd_input_check_text(const dd_input *d, const char *text, size_t len);

#endif
