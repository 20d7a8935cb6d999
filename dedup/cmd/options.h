/*
 * options.h - the command line of every command that reads documents: scan,
 * clean, filter, check and index build/add.
 *
 * Each command owns its usage text and the list of option groups it takes
 * (a dd_command_spec, in its own file); the groups and the options in them
 * are defined once, here and in options.c. A command's --help is made from
 * its spec, and an option it does not take is refused.
 */
#ifndef DD_OPTIONS_H
#define DD_OPTIONS_H

#include "engine/engine.h"
#include "io/input.h"
#include "io/keys.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef enum dd_format { DD_FORMAT_TEXT, DD_FORMAT_JSONL, DD_FORMAT_TSV } dd_format;

typedef enum dd_input_format {
    DD_INPUT_AUTO,  /* filter: JSONL when the first record starts with '{' */
    DD_INPUT_JSONL, /* one JSON object per line */
    DD_INPUT_LINES, /* each line a document */
    DD_INPUT_NUL,   /* documents separated by NUL bytes */
} dd_input_format;

typedef enum dd_on_error { DD_ON_ERROR_STOP, DD_ON_ERROR_SKIP, DD_ON_ERROR_DROP } dd_on_error;

/* Where the tasks of a run with a work folder run (--executor). */
typedef enum dd_executor {
    DD_EXECUTOR_LOCAL, /* in this process (the default) */
    DD_EXECUTOR_SLURM, /* submitted as Slurm job arrays (run/slurm.h) */
} dd_executor;

/* Which stages of a run with a work folder (--work-dir) run (--stage). */
typedef enum dd_stage {
    DD_STAGE_ALL,    /* sign the parts not signed yet, then decide (the default) */
    DD_STAGE_SIGN,   /* sign only (--stage sign, or --task): no report, no output */
    DD_STAGE_GROUP,  /* the candidate pairs of paragraphs only (--stage group): every part signed */
    DD_STAGE_VERIFY, /* their verification only (--stage verify): every partition grouped */
    DD_STAGE_DECIDE, /* decide only: every part must have been signed */
} dd_stage;

/* The stages of a run kept in a work folder (run/stages.h). */
typedef struct dd_work_options {
    const char *dir;         /* --work-dir DIR, NULL: no work folder */
    dd_stage stage;          /* --stage */
    bool one_task;           /* --task I given: this process runs task I of its stage alone */
    unsigned long task;      /* --task I: the parts whose number % tasks is task */
    unsigned long tasks;     /* --tasks N (0: not given); without --task, every task */
    unsigned long part_size; /* --part-size: bytes of input per part, about */
} dd_work_options;

/* Whether stage runs alone, as a task: sign, group or verify (no report,
 * no output). */
static inline bool dd_stage_is_task(dd_stage stage)
{
    return stage == DD_STAGE_SIGN || stage == DD_STAGE_GROUP || stage == DD_STAGE_VERIFY;
}

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
    const char *removed;       /* clean: --removed DIR2, what -o leaves out */
    const char *clusters_file; /* scan, clean: --clusters FILE */
    bool quiet;         /* -q: no progress line and no summary on stderr */
    unsigned long threads; /* -j: threads that analyse documents (0: one per CPU) */
    dd_executor executor;  /* --executor */
    size_t nsbatch_options; /* --sbatch-option, counted (their values stay in argv) */
    /* filter: */
    dd_input_format input_format;
    const char *field;    /* dotted path of the text (default "text"); also of shards */
    const char *id_field; /* dotted path of the id, NULL: the record number (filter),
                             "id" when a record has one (shards) */
    bool whole_files;     /* --whole-files: shards are read as plain files */
    bool annotate;
    bool clean_paragraphs;
    bool stats;
    dd_on_error on_error;
    unsigned long max_record_mb;
    /* check: */
    const char *baseline;       /* accepted findings */
    const char *write_baseline; /* write the findings there and exit 0 */
    const char *index;          /* --index DIR.ddx */
    dd_work_options work;       /* --work-dir, --stage, --task, --tasks, --part-size */
    const char *tmp_dir;  /* --tmp-dir DIR: scratch files go there (NULL: $TMPDIR, else /tmp) */
    unsigned long memory; /* --memory SIZE in bytes (0: the default, run/memory.h) */
    /* hashing: plain with DD_SEED, or keyed by --key-file / DEDUP_KEY_FILE */
    const char *key_file;                         /* NULL: none */
    sh_hasher hash;                               /* how every text is hashed */
    char key_fingerprint[DD_KEY_FINGERPRINT_SIZE]; /* "" without a key */
    char **paths;
    size_t npaths;
} dd_options;

/* The text of dedup --help: the commands, not their options. */
extern const char dd_usage_text[];

/* The text of dedup --version: the version, then the license (LICENSE). */
extern const char dd_version_text[];

/* A group of options, as --help and the man page's OPTIONS section show it:
 * a title and the options, each known to dd_options_parse. */
typedef struct dd_option_spec dd_option_spec;
typedef struct dd_option_group {
    const char *title;
    const dd_option_spec *const *options; /* NULL-terminated */
} dd_option_group;

/* The groups that commands share. */
extern const dd_option_group dd_group_common;     /* reading: every reader */
extern const dd_option_group dd_group_key;        /* --key-file: every user of hashes */
extern const dd_option_group dd_group_progress;   /* -q: the commands that show progress */
extern const dd_option_group dd_group_files;      /* --on-error: the commands that read files */
extern const dd_option_group dd_group_records;    /* JSONL shards: the commands that read files */
extern const dd_option_group dd_group_threads;    /* -j: the commands that analyse on threads */
extern const dd_option_group dd_group_scratch;    /* --tmp-dir: the commands with scratch files */
extern const dd_option_group dd_group_memory;     /* --memory: scan, clean, check */
extern const dd_option_group dd_group_stages;     /* --work-dir: scan, clean, check */
extern const dd_option_group dd_group_paragraphs; /* repeated units and boilerplate */
extern const dd_option_group dd_group_signatures; /* what an index records too */
extern const dd_option_group dd_group_near;       /* near-duplicate decisions */
extern const dd_option_group dd_group_index;      /* --index DIR.ddx */
extern const dd_option_group dd_group_help;       /* -h, -V: every command */
/* The groups of one command each. */
extern const dd_option_group dd_group_scan;
extern const dd_option_group dd_group_clean;
extern const dd_option_group dd_group_clusters; /* --clusters FILE: scan, clean */
extern const dd_option_group dd_group_stdin;    /* --jsonl: standard input's records (scan) */
extern const dd_option_group dd_group_filter;
extern const dd_option_group dd_group_check;
extern const dd_option_group dd_group_index_build;
extern const dd_option_group dd_group_executor; /* --executor: scan, clean */

/* What a command is, for its --help and for dd_options_parse: its name as
 * the user types it ("scan", "index build"), the usage text that opens its
 * help (synopsis, what it does; ends with a newline), the groups of options
 * it takes (NULL-terminated), the exit statuses it gives, and whether it
 * reads records rather than files. */
typedef struct dd_command_spec {
    const char *name;
    const char *usage;
    const dd_option_group *const *groups;
    const char *exit_status;
    /* A stream of records (filter): no PATH means standard input, and a
     * malformed record stops the run unless --on-error says otherwise. The
     * other commands read files: a PATH is needed, and a file that is not
     * text is left out (--on-error skip) by default. */
    bool reads_records;
} dd_command_spec;

/* How the inputs' shards are read with these options (dd_inputs_collect). */
dd_records_spec dd_options_records(const dd_options *o);

/* A usage error of command cmd ("clean", "index build"): options that do
 * not go together, or a missing one. Writes "dedup CMD: MESSAGE" and
 * "Try 'dedup CMD --help'." to stderr, as dd_options_parse does for a bad
 * option, and returns DD_EXIT_ERROR. */
int dd_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes the --help text of the command to out. Returns 0, or the errno of
 * the first write that failed (the C library drops what it held then, so a
 * later flush has nothing to say why). */
int dd_command_help(FILE *out, const dd_command_spec *cmd);

/* Parses argv (argv[0] is the command's first word) into o, taking only the
 * options of cmd; another command's option is refused, named. Returns -1 to
 * go on, or the status to exit with (0 after --help or --version, 2 after a
 * usage error, reported on stderr). */
int dd_options_parse(dd_options *o, const dd_command_spec *cmd, int argc, char **argv);

#endif
