/*
 * options.h - the command line of scan, clean, filter and check.
 */
#ifndef DD_OPTIONS_H
#define DD_OPTIONS_H

#include "document.h"
#include "keys.h"
#include "near.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum dd_format { DD_FORMAT_TEXT, DD_FORMAT_JSONL, DD_FORMAT_TSV } dd_format;

typedef enum dd_input_format {
    DD_INPUT_AUTO,  /* filter: JSONL when the first record starts with '{' */
    DD_INPUT_JSONL, /* one JSON object per line */
    DD_INPUT_LINES, /* each line a document */
    DD_INPUT_NUL,   /* documents separated by NUL bytes */
} dd_input_format;

typedef enum dd_on_error { DD_ON_ERROR_STOP, DD_ON_ERROR_SKIP, DD_ON_ERROR_DROP } dd_on_error;

typedef struct dd_options {
    dd_unit_mode unit;
    unsigned long min_words;
    unsigned long boilerplate_df;
    dd_format format;
    dd_near_params near;
    bool explain_params;
    double para_threshold; /* near-repeats of units */
    const char *output; /* clean: -o DIR */
    bool in_place;      /* clean: --in-place */
    bool dry_run;       /* clean: --dry-run */
    const char *clean_option; /* the first of those two given */
    /* filter: */
    dd_input_format input_format;
    const char *field;    /* dotted path of the text (default "text") */
    const char *id_field; /* dotted path of the id, NULL: the record number */
    bool annotate;
    bool clean_paragraphs;
    bool stats;
    dd_on_error on_error;
    unsigned long max_record_mb;
    /* the first filter option given, for scan and clean to refuse it */
    const char *filter_option;
    /* check: */
    const char *baseline;       /* accepted findings */
    const char *write_baseline; /* write the findings there and exit 0 */
    const char *index;          /* --index DIR.ddx */
    const char *check_option;   /* the first check option given */
    /* hashing: plain with DD_SEED, or keyed by --key-file / DEDUP_KEY_FILE */
    const char *key_file;                         /* NULL: none */
    sh_hasher hash;                               /* how every text is hashed */
    char key_fingerprint[DD_KEY_FINGERPRINT_SIZE]; /* "" without a key */
    char **paths;
    size_t npaths;
} dd_options;

/* The text of dedup --help. */
extern const char dd_usage_text[];

/* The text of dedup --version: the version, then the license (LICENSE). */
extern const char dd_version_text[];

/* Parses argv (argv[0] is the command name) into o. Returns -1 to go on, or
 * the status to exit with (0 after --help or --version, 2 after a usage
 * error, reported on stderr). */
int dd_options_parse(dd_options *o, int argc, char **argv);

#endif
