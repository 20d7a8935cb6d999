/*
 * options.h - the command line of scan and clean.
 */
#ifndef DD_OPTIONS_H
#define DD_OPTIONS_H

#include "document.h"
#include "near.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum dd_format { DD_FORMAT_TEXT, DD_FORMAT_JSONL, DD_FORMAT_TSV } dd_format;

typedef struct dd_options {
    dd_unit_mode unit;
    unsigned long min_words;
    unsigned long boilerplate_df;
    dd_format format;
    dd_near_params near;
    bool explain_params;
    double para_threshold; /* near-repeats of units */
    const char *output; /* clean: -o DIR */
    char **paths;
    size_t npaths;
} dd_options;

/* The text of dedup --help. */
extern const char dd_usage_text[];

/* Parses argv (argv[0] is the command name) into o. Returns -1 to go on, or
 * the status to exit with (0 after --help or --version, 2 after a usage
 * error, reported on stderr). */
int dd_options_parse(dd_options *o, int argc, char **argv);

#endif
