/*
 * options.c - parsing the command line of scan, clean, filter and check.
 */
#include "cmd/options.h"

#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const char dd_version_text[] = "dedup " SH_VERSION "\n"
                               "License: MIT\n";

const char dd_usage_text[] =
    "Usage: dedup COMMAND [OPTION]... PATH...\n"
    "\n"
    "Find and remove duplicated text: near-duplicate documents (syndicated\n"
    "copies), paragraphs repeated inside a document or across documents, and\n"
    "boilerplate.\n"
    "\n"
    "Commands:\n"
    "  scan PATH...            report duplicates\n"
    "  clean PATH... -o DIR    write cleaned copies of the inputs under DIR\n"
    "  clean --in-place PATH...  clean the files themselves\n"
    "  filter [FILE...]        stream records from FILE... or standard input to\n"
    "                          standard output, without the copies\n"
    "  check PATH...           pre-commit check of the named files against each\n"
    "                          other and the rest of their folders\n"
    "  index build|add|info|remove  a persistent index of documents\n"
    "  keygen FILE             write a new secret key for --key-file\n"
    "  status --work-dir DIR   the tasks that scan or clean --executor slurm\n"
    "                          submitted: done, running, pending, failed\n"
    "  help [COMMAND]          show the options of a command\n"
    "\n"
    "Run 'dedup COMMAND --help' for the options of a command; 'man dedup'\n"
    "describes them all.\n"
    "\n"
    "  -h, --help                show this help and exit\n"
    "  -V, --version             show the version and the license and exit\n"
    "\n"
    "Exit status: 0 nothing found (clean, filter: success), 1 duplicates found\n"
    "(scan, check; clean --dry-run: something would change), 2 usage or input\n"
    "error, or a file left out (--on-error), even when duplicates were found;\n"
    "129 SIGHUP, 130 SIGINT, 143 SIGTERM: ended by that signal.\n";

/* ---- The options ---------------------------------------------------------
 *
 * Every option any command takes, once: its names, whether it takes a value,
 * the id dd_options_parse switches on, and its --help text (one paragraph,
 * wrapped when printed). */

enum {
    OPT_CONTAINMENT = 256,
    OPT_EXECUTOR,
    OPT_SBATCH_OPTION,
    OPT_MIN_SHINGLES,
    OPT_RECALL,
    OPT_SIZE_RATIO,
    OPT_NUM_PERM,
    OPT_BANDS,
    OPT_ROWS,
    OPT_HAMMING,
    OPT_KEEP,
    OPT_NO_NEAR,
    OPT_EXPLAIN,
    OPT_PARA_THRESHOLD,
    OPT_VERIFY,
    OPT_JSONL,
    OPT_LINES,
    OPT_FIELD,
    OPT_ID_FIELD,
    OPT_ANNOTATE,
    OPT_CLEAN_PARAGRAPHS,
    OPT_NO_CLEAN_PARAGRAPHS,
    OPT_ON_ERROR,
    OPT_MAX_RECORD,
    OPT_KEY_FILE,
    OPT_IN_PLACE,
    OPT_DRY_RUN,
    OPT_STATS,
    OPT_BASELINE,
    OPT_WRITE_BASELINE,
    OPT_INDEX,
    OPT_WHOLE_FILES,
    OPT_CLUSTERS,
    OPT_REMOVED,
    OPT_WORK_DIR,
    OPT_STAGE,
    OPT_TASK,
    OPT_TASKS,
    OPT_PART_SIZE,
    OPT_TMP_DIR,
    OPT_MEMORY,
};

struct dd_option_spec {
    const char *name; /* the long name, without -- */
    int short_name;   /* its one letter, or 0 */
    int has_arg;      /* no_argument or required_argument */
    int id;           /* the short name, or one of OPT_* */
    const char *synopsis;
    const char *help;
};

#define OPTION(var, lname, sname, arg, ident, syn, text)                                           \
    static const dd_option_spec var = {lname, sname, arg, ident, syn, text}

OPTION(opt_unit, "unit", 'u', required_argument, 'u', "-u, --unit line|block",
       "a unit (paragraph) is a non-blank line (default), or a run of non-blank lines between "
       "blank lines");
OPTION(opt_key_file, "key-file", 0, required_argument, OPT_KEY_FILE, "--key-file FILE",
       "derive every hash from the secret key in FILE (dedup keygen; default $DEDUP_KEY_FILE), "
       "so that texts cannot be crafted to collide without it");
OPTION(opt_max_record, "max-record", 0, required_argument, OPT_MAX_RECORD, "--max-record MB",
       "longest document (a file, or a record of filter) accepted (default 256); analysing one "
       "takes up to about 11 times its size in memory (filter: 20)");
OPTION(opt_min_words, "min-words", 'w', required_argument, 'w', "-w, --min-words N",
       "report a run of repeated units only when it holds at least N normalised words "
       "(default 4)");
OPTION(opt_boilerplate_df, "boilerplate-df", 'b', required_argument, 'b', "-b, --boilerplate-df N",
       "a unit found in at least N documents is boilerplate (default 3, at least 2)");
OPTION(opt_para_threshold, "para-threshold", 0, required_argument, OPT_PARA_THRESHOLD,
       "--para-threshold T",
       "units whose word 3-shingles have Jaccard or containment >= T are near-repeats "
       "(default 0.8)");
OPTION(opt_method, "method", 'm', required_argument, 'm', "-m, --method minhash|simhash",
       "signatures to compare (default minhash; an index holds MinHash signatures)");
OPTION(opt_threshold, "threshold", 't', required_argument, 't', "-t, --threshold J",
       "near-duplicates have Jaccard >= J (default 0.8)");
OPTION(opt_containment, "containment", 0, required_argument, OPT_CONTAINMENT, "--containment C",
       "... or containment of the smaller >= C (default 0.8; 0 turns this half of the rule "
       "off)");
OPTION(opt_size_ratio, "size-ratio", 0, required_argument, OPT_SIZE_RATIO, "--size-ratio R",
       "find containment pairs with probability >= --recall when the larger has at most R "
       "times the shingles of the smaller (default 2.5); further apart, only the smaller joins "
       "the larger's cluster, and pairs sharing a paragraph are always compared");
OPTION(opt_recall, "recall", 0, required_argument, OPT_RECALL, "--recall R",
       "find a pair at the threshold with probability >= R; sets the LSH bands (default 0.99)");
OPTION(opt_ngram, "ngram", 'k', required_argument, 'k', "-k, --ngram K",
       "words per shingle (default 5)");
OPTION(opt_num_perm, "num-perm", 0, required_argument, OPT_NUM_PERM, "--num-perm N",
       "MinHash values per document (default 128)");
OPTION(opt_bands, "bands", 0, required_argument, OPT_BANDS, "--bands B",
       "LSH bands (default: chosen from --recall)");
OPTION(opt_rows, "rows", 0, required_argument, OPT_ROWS, "--rows R",
       "values per band (default: chosen from --recall)");
OPTION(opt_min_shingles, "min-shingles", 0, required_argument, OPT_MIN_SHINGLES, "--min-shingles N",
       "containment counts when the smaller has >= N shingles (default 50)");
OPTION(opt_hamming, "hamming", 0, required_argument, OPT_HAMMING, "--hamming K",
       "simhash: at most K differing bits (default 3)");
OPTION(opt_keep, "keep", 0, required_argument, OPT_KEEP, "--keep first|longest",
       "which copy represents a cluster (default first; ties by input order)");
OPTION(opt_no_near, "no-near", 0, no_argument, OPT_NO_NEAR, "--no-near",
       "look for exact and near repeats of paragraphs only, not for near-duplicate documents");
OPTION(opt_explain, "explain-params", 0, no_argument, OPT_EXPLAIN, "--explain-params",
       "print the LSH parameters and candidate probabilities, then exit");
OPTION(opt_verify, "verify", 0, required_argument, OPT_VERIFY, "--verify exact|estimate",
       "how MinHash candidates are verified: exact (default) decides on the exact shingle "
       "sets, recomputed from the documents for the pairs whose estimate could pass; estimate "
       "decides on the full signatures and the exact set sizes");
OPTION(opt_format, "format", 'f', required_argument, 'f', "-f, --format text|jsonl|tsv",
       "report format (default: text on a terminal, jsonl otherwise); tsv prints "
       "doc<TAB>cluster for every document");
OPTION(opt_output, "output", 'o', required_argument, 'o', "-o, --output DIR",
       "write the cleaned copies under DIR");
OPTION(opt_in_place, "in-place", 0, no_argument, OPT_IN_PLACE, "--in-place",
       "replace each file that changes by its cleaned content, atomically, keeping its mode, "
       "owner and times; near-duplicate files stay");
OPTION(opt_removed, "removed", 0, required_argument, OPT_REMOVED, "--removed DIR2",
       "with -o DIR: write what DIR leaves out under DIR2, mirroring the inputs: each "
       "near-duplicate file, and for each shard a shard of the same name and compression "
       "holding its records left out, in order (with --on-error drop, the inputs left out "
       "too); the lines removed from kept documents are not there");
OPTION(opt_dry_run, "dry-run", 0, no_argument, OPT_DRY_RUN, "--dry-run",
       "write nothing; print what would change as a unified diff and exit 1 if anything would");
OPTION(opt_clusters, "clusters", 0, required_argument, OPT_CLUSTERS, "--clusters FILE",
       "also write every document of a cluster of near-duplicates to FILE, one JSON line each: "
       "its doc (and shard, shard_line), cluster (the id), cluster_size, representative and "
       "similarity, as the report's clusters give them; FILE is replaced atomically");
OPTION(opt_jsonl, "jsonl", 0, no_argument, OPT_JSONL, "--jsonl",
       "one JSON object per line (the default when the first record starts with '{')");
OPTION(opt_stdin_jsonl, "jsonl", 0, no_argument, OPT_JSONL, "--jsonl",
       "read standard input (-) as a shard of JSON records (plain, gzip or zstd), each a "
       "document named by its --id-field or -:LINE, as a file named *.jsonl would be; without "
       "it, standard input is one document");
OPTION(opt_lines, "lines", 0, no_argument, OPT_LINES, "--lines",
       "each line a document (the default otherwise)");
OPTION(opt_null, "null", 'z', no_argument, 'z', "-z, --null", "documents separated by NUL bytes");
OPTION(opt_field, "field", 0, required_argument, OPT_FIELD, "--field PATH",
       "JSONL: the text, a dotted path (default text)");
OPTION(opt_id_field, "id-field", 0, required_argument, OPT_ID_FIELD, "--id-field PATH",
       "JSONL: the id (default: the record number)");
OPTION(opt_shard_field, "field", 0, required_argument, OPT_FIELD, "--field PATH",
       "JSONL shards: the text of a record, a dotted path (default text)");
OPTION(opt_shard_id_field, "id-field", 0, required_argument, OPT_ID_FIELD, "--id-field PATH",
       "JSONL shards: the id that names a record in reports (default: id when the record has "
       "one, else SHARD:LINE); a record without it is malformed");
OPTION(opt_whole_files, "whole-files", 0, no_argument, OPT_WHOLE_FILES, "--whole-files",
       "read files named *.jsonl, *.jsonl.gz and *.jsonl.zst as one document each, as any "
       "other file, not as shards of records");
OPTION(opt_annotate, "annotate", 0, no_argument, OPT_ANNOTATE, "--annotate",
       "keep every record and add a \"dedup\" member saying what was found (JSONL)");
OPTION(opt_clean_paragraphs, "clean-paragraphs", 0, no_argument, OPT_CLEAN_PARAGRAPHS,
       "--clean-paragraphs", "remove repeated paragraphs inside kept records (the default)");
OPTION(opt_no_clean_paragraphs, "no-clean-paragraphs", 0, no_argument, OPT_NO_CLEAN_PARAGRAPHS,
       "--no-clean-paragraphs", "keep repeated paragraphs inside kept records");
OPTION(opt_on_error, "on-error", 0, required_argument, OPT_ON_ERROR, "--on-error stop|skip|drop",
       "a malformed record stops the run (default), is written through unchanged, or is "
       "dropped; the run then ends with status 0");
OPTION(opt_on_error_files, "on-error", 0, required_argument, OPT_ON_ERROR,
       "--on-error stop|skip|drop",
       "a file that is not text (invalid UTF-8, or a NUL byte past its first 8000 bytes) is "
       "named on stderr with its line and byte, a malformed record of a shard (not JSON, no "
       "--field) with its shard and line, and: stop ends the run, nothing written; skip "
       "(default) leaves it out of the comparison, clean -o copies it unchanged; drop: clean -o "
       "does not copy it; the run ends with status 2. check reports a named one as a finding "
       "and only warns of one in the folder");
OPTION(opt_stats, "stats", 0, no_argument, OPT_STATS, "--stats",
       "print counts and speed on standard error");
OPTION(opt_baseline, "baseline", 0, required_argument, OPT_BASELINE, "--baseline FILE",
       "accepted findings: do not report them");
OPTION(opt_write_baseline, "write-baseline", 0, required_argument, OPT_WRITE_BASELINE,
       "--write-baseline FILE", "write every finding to FILE as accepted, exit 0");
OPTION(opt_index, "index", 0, required_argument, OPT_INDEX, "--index DIR.ddx",
       "compare with the documents of this index (dedup index build): scan also reports what "
       "the documents share with it, check compares the named files with it instead of the "
       "rest of their folders, filter also drops copies of its documents and removes "
       "paragraphs found in them");
OPTION(opt_index_output, "output", 'o', required_argument, 'o', "-o, --output DIR.ddx",
       "the index to create (a folder that must not exist)");
OPTION(opt_executor, "executor", 0, required_argument, OPT_EXECUTOR, "--executor local|slurm",
       "where the tasks of a run with --work-dir run: on this machine, in this process "
       "(local, the default), or submitted to Slurm as job arrays, one per stage: the N tasks "
       "of --tasks N of sign, then of group, then of verify, each array after the stages "
       "before it (afterok), then the decide stage after them all (slurm: the command "
       "returns once they are submitted; run it again to submit what is not done; dedup status "
       "shows them)");
OPTION(opt_sbatch_option, "sbatch-option", 0, required_argument, OPT_SBATCH_OPTION,
       "--sbatch-option OPT",
       "with --executor slurm: give OPT, one argument, to sbatch for every job; repeat it for "
       "several, e.g. --sbatch-option=--partition=cpu --sbatch-option=--time=2:00:00 (also "
       "--mem, --cpus-per-task)");
OPTION(opt_quiet, "quiet", 'q', no_argument, 'q', "-q, --quiet",
       "no progress line and no summary on standard error (errors and warnings are still "
       "written)");
OPTION(opt_threads, "threads", 'j', required_argument, 'j', "-j, --threads N",
       "analyse documents, and verify the pairs that may be copies, on N threads (default: one "
       "per online CPU; 1: no thread is started); the output is the same for every N");
OPTION(opt_work_dir, "work-dir", 0, required_argument, OPT_WORK_DIR, "--work-dir DIR",
       "keep the run's stages in DIR (made if missing): the analysis of every part of the "
       "inputs (sign), the candidate pairs of paragraphs across documents (group) and their "
       "verification (verify), then the decisions (decide); the same command run again after a crash "
       "or a kill reuses every part completed and gives the same output; DIR made with other "
       "settings or inputs is refused");
OPTION(opt_stage, "stage", 0, required_argument, OPT_STAGE,
       "--stage sign|group|verify|decide",
       "with --work-dir: run one stage: sign the parts not signed yet; group: from the parts "
       "all signed, make the candidate pairs of paragraphs across documents, a partition of "
       "their band keys at a time (as many partitions as parts); verify: from every group "
       "partition, verify the pairs whose later paragraph is in each part (these three exit 0 "
       "without deciding); or decide from the parts all signed, making the group and verify "
       "partitions not made yet (default: every stage)");
OPTION(opt_task, "task", 0, required_argument, OPT_TASK, "--task I",
       "with --work-dir and --tasks N: run only the parts (sign) or partitions (group, verify: "
       "--stage) whose number modulo N is I (from 0) and are not done, then exit 0 without "
       "deciding: one task of N, for N processes or a job array; a sign task reads only the "
       "files and shards of its own parts");
OPTION(opt_tasks, "tasks", 0, required_argument, OPT_TASKS, "--tasks N",
       "with --work-dir: split the sign, group and verify stages into N tasks each (1 to "
       "1000000), the parts whose number modulo N is I making task I; --task I runs one of "
       "them; without --task, every task runs here, on the -j threads (the same parts and "
       "work as --tasks 1); with --executor slurm, the number of tasks of each stage's job "
       "array");
OPTION(opt_part_size, "part-size", 0, required_argument, OPT_PART_SIZE, "--part-size SIZE",
       "with --work-dir: cut the inputs into parts of about SIZE bytes each (K, M, G: times "
       "1024; default 32M): whole files and whole shards (as on disk: compressed), in input "
       "order; a shard larger than SIZE is a part of its own");
OPTION(opt_tmp_dir, "tmp-dir", 0, required_argument, OPT_TMP_DIR, "--tmp-dir DIR",
       "write scratch files in DIR (default $TMPDIR, else /tmp): the decompressed records of "
       "compressed shards, and the shingle sets of paragraphs (filter: of the records kept); "
       "each is removed from DIR as soon as it is made, so nothing is left there however the "
       "run ends; a full DIR is an error that names it");
OPTION(opt_memory, "memory", 0, required_argument, OPT_MEMORY, "--memory SIZE",
       "the memory the run may hold (K, M, G: times 1024; at least 1M; default: half of what "
       "/proc/meminfo calls available when the run starts, or of the memory limit of its "
       "cgroup (a container, a Slurm job) when lower, 1G where neither can be read); the "
       "units (paragraphs) of every document, 64 bytes each, stay in memory up to a quarter "
       "of SIZE, the near-repeats of paragraphs found up to a sixteenth, and past it each go "
       "to a scratch file in --tmp-dir; so do the MinHash values of the document signatures, "
       "512 bytes a document, past a sixteenth, and the input list (its records, the names of "
       "the inputs, the documents' digests) past a sixteenth; the output is the same for every SIZE (what else grows with the "
       "corpus is not bounded yet: see the README); SIZE is the run's data: the process holds "
       "about 10 MiB more of its own (code, libraries, ICU's data) and 2 MiB a thread, and "
       "what grows with the documents, about 64 bytes each; the clustering of the documents "
       "takes a quarter of SIZE: past it, their band keys are sorted a part at a time, in "
       "scratch files");
OPTION(opt_help, "help", 'h', no_argument, 'h', "-h, --help", "show this help and exit");
OPTION(opt_version, "version", 'V', no_argument, 'V', "-V, --version",
       "show the version and the license (MIT) and exit");

#define GROUP(var, text, ...)                                                                      \
    static const dd_option_spec *const var##_options[] = {__VA_ARGS__, NULL};                      \
    const dd_option_group var = {text, var##_options}

GROUP(dd_group_common, "Reading", &opt_unit, &opt_max_record);
GROUP(dd_group_key, "Keyed hashing", &opt_key_file);
GROUP(dd_group_progress, "Progress", &opt_quiet);
GROUP(dd_group_files, "Files that are not text", &opt_on_error_files);
GROUP(dd_group_records, "JSONL shards", &opt_shard_field, &opt_shard_id_field, &opt_whole_files);
GROUP(dd_group_threads, "Threads", &opt_threads);
GROUP(dd_group_scratch, "Scratch files", &opt_tmp_dir);
GROUP(dd_group_memory, "Memory", &opt_memory);
GROUP(dd_group_stages, "Work folder", &opt_work_dir, &opt_stage, &opt_task, &opt_tasks,
      &opt_part_size);
GROUP(dd_group_paragraphs, "Paragraphs", &opt_min_words, &opt_boilerplate_df, &opt_para_threshold);
GROUP(dd_group_signatures, "Signatures", &opt_method, &opt_ngram, &opt_num_perm, &opt_threshold,
      &opt_containment, &opt_size_ratio, &opt_recall, &opt_bands, &opt_rows);
GROUP(dd_group_near, "Near-duplicate documents", &opt_min_shingles, &opt_keep, &opt_hamming,
      &opt_no_near, &opt_verify, &opt_explain);
GROUP(dd_group_index, "Index", &opt_index);
GROUP(dd_group_help, "Help", &opt_help, &opt_version);
GROUP(dd_group_scan, "Report", &opt_format);
GROUP(dd_group_clean, "Cleaning", &opt_output, &opt_in_place, &opt_dry_run, &opt_removed);
GROUP(dd_group_clusters, "Clusters file", &opt_clusters);
GROUP(dd_group_stdin, "Standard input", &opt_stdin_jsonl);
GROUP(dd_group_filter, "Streams", &opt_jsonl, &opt_lines, &opt_null, &opt_field, &opt_id_field,
      &opt_annotate, &opt_clean_paragraphs, &opt_no_clean_paragraphs, &opt_on_error, &opt_stats);
GROUP(dd_group_check, "Pre-commit check", &opt_baseline, &opt_write_baseline);
GROUP(dd_group_index_build, "Index build", &opt_index_output);
GROUP(dd_group_executor, "Executor", &opt_executor, &opt_sbatch_option);

/* Every group, for naming the commands that take an option another does not. */
static const dd_option_group *const all_groups[] = {
    &dd_group_common,     &dd_group_key,         &dd_group_files,    &dd_group_paragraphs,
    &dd_group_signatures, &dd_group_near,        &dd_group_index,    &dd_group_help,
    &dd_group_scan,       &dd_group_clean,       &dd_group_filter,   &dd_group_check,
    &dd_group_executor,   &dd_group_index_build, &dd_group_progress, &dd_group_threads,
    &dd_group_records,    &dd_group_clusters,    &dd_group_stdin,    &dd_group_stages,
    &dd_group_scratch,    &dd_group_memory,
};

/* ---- --help -------------------------------------------------------------- */

enum { HELP_TEXT_COLUMN = 28, HELP_WIDTH = 79 };

/* Writes text from column HELP_TEXT_COLUMN, wrapped at HELP_WIDTH; the first
 * line goes on from column `at` (a new line when at is past the column). */
static void write_wrapped(FILE *out, const char *text, size_t at)
{
    if (at > HELP_TEXT_COLUMN - 2) {
        fputc('\n', out);
        at = 0;
    }
    fprintf(out, "%*s", (int)(HELP_TEXT_COLUMN - at), "");
    size_t col = HELP_TEXT_COLUMN;
    bool first_word = true;
    while (*text) {
        size_t len = strcspn(text, " ");
        if (!first_word && col + 1 + len > HELP_WIDTH) {
            fprintf(out, "\n%*s", HELP_TEXT_COLUMN, "");
            col = HELP_TEXT_COLUMN;
        } else if (!first_word) {
            fputc(' ', out);
            col++;
        }
        fwrite(text, 1, len, out);
        col += len;
        first_word = false;
        text += len;
        text += strspn(text, " ");
    }
    fputc('\n', out);
}

/* failed, or, when it is 0 and out has just failed a write, its errno. */
static int first_failure(FILE *out, int failed)
{
    if (failed || !ferror(out))
        return failed;
    return errno ? errno : EIO;
}

int dd_command_help(FILE *out, const dd_command_spec *cmd)
{
    errno = 0;
    fputs(cmd->usage, out);
    int failed = first_failure(out, 0);
    for (const dd_option_group *const *g = cmd->groups; *g; g++) {
        fprintf(out, "\n%s:\n", (*g)->title);
        failed = first_failure(out, failed);
        for (const dd_option_spec *const *s = (*g)->options; *s; s++) {
            /* Long-only options line up with the long names of the others. */
            const char *indent = (*s)->short_name ? "  " : "      ";
            fprintf(out, "%s%s", indent, (*s)->synopsis);
            write_wrapped(out, (*s)->help, strlen(indent) + strlen((*s)->synopsis));
            failed = first_failure(out, failed);
        }
    }
    fprintf(out, "\nExit status: %s\n", cmd->exit_status);
    return first_failure(out, failed);
}

dd_records_spec dd_options_records(const dd_options *o)
{
    return (dd_records_spec){o->whole_files,
                             o->field,
                             o->id_field,
                             (size_t)o->max_record_mb << 20,
                             o->input_format == DD_INPUT_JSONL,
                             o->tmp_dir};
}

int dd_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "dedup %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry 'dedup %s --help'.\n", cmd);
    va_end(ap);
    return DD_EXIT_ERROR;
}

/* dd_usage_error with a message of one string argument. */
static int usage_error(const char *cmd, const char *fmt, const char *arg)
{
    return dd_usage_error(cmd, fmt, arg);
}

/* The option of any command that argv names ("--format", "--form=x", "-f",
 * "-qf"), or NULL. */
static const dd_option_spec *find_any_option(const char *arg)
{
    for (size_t g = 0; g < sizeof all_groups / sizeof all_groups[0]; g++)
        for (const dd_option_spec *const *s = all_groups[g]->options; *s; s++) {
            if (arg[0] == '-' && arg[1] == '-') {
                size_t len = strcspn(arg + 2, "=");
                if (len > 0 && !strncmp((*s)->name, arg + 2, len))
                    return *s;
            } else if (arg[0] == '-' && (*s)->short_name && arg[1] == (*s)->short_name) {
                return *s;
            }
        }
    return NULL;
}

/* The getopt tables of a command: the long options and the short ones
 * ("u:w:..."), from its groups. Returns false when there is no room (a
 * programming error: the tables below are large enough for every group). */
enum { MAX_OPTIONS = 64 };
static bool command_getopt_tables(const dd_command_spec *cmd, struct option *longopts,
                                  char *shortopts, size_t shortopts_size)
{
    size_t n = 0, ns = 0;
    shortopts[ns++] = ':'; /* a missing value is ':', not '?' */
    for (const dd_option_group *const *g = cmd->groups; *g; g++)
        for (const dd_option_spec *const *s = (*g)->options; *s; s++) {
            if (n + 1 >= MAX_OPTIONS || ns + 3 >= shortopts_size)
                return false;
            longopts[n++] = (struct option){(*s)->name, (*s)->has_arg, NULL, (*s)->id};
            if ((*s)->short_name) {
                shortopts[ns++] = (char)(*s)->short_name;
                if ((*s)->has_arg == required_argument)
                    shortopts[ns++] = ':';
            }
        }
    longopts[n] = (struct option){NULL, 0, NULL, 0};
    shortopts[ns] = '\0';
    return true;
}

/* The usage error for arg, an option that cmd does not take: another
 * command's option is named as such. */
static int not_an_option(const dd_command_spec *cmd, const char *arg)
{
    const dd_option_spec *other = find_any_option(arg);
    if (other) {
        if (arg[1] == '-')
            fprintf(stderr, "dedup %s: --%s is not an option of %s\n", cmd->name, other->name,
                    cmd->name);
        else
            fprintf(stderr, "dedup %s: -%c (--%s) is not an option of %s\n", cmd->name, arg[1],
                    other->name, cmd->name);
        fprintf(stderr, "Try 'dedup %s --help'.\n", cmd->name);
        return DD_EXIT_ERROR;
    }
    return usage_error(cmd->name, "unknown option '%s'", arg);
}

static bool parse_fraction(const char *s, double lo, double hi, bool open_lo, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || v != v || v > hi || v < lo || (open_lo && v == lo))
        return false;
    *out = v;
    return true;
}

/* A size in bytes: digits, then K, M or G (times 1024 each), at least 1
 * and at most 1 TB. */
static bool parse_size(const char *s, unsigned long *out)
{
    char *end;
    errno = 0;
    if (*s < '0' || *s > '9')
        return false;
    unsigned long long v = strtoull(s, &end, 10);
    unsigned shift = 0;
    if (*end == 'K' || *end == 'k')
        shift = 10;
    else if (*end == 'M' || *end == 'm')
        shift = 20;
    else if (*end == 'G' || *end == 'g')
        shift = 30;
    if (shift)
        end++;
    if (errno || *end || v == 0 || v > (1ull << 40) >> shift)
        return false;
    *out = (unsigned long)(v << shift);
    return true;
}

/* Plain hashing, or keyed by --key-file, else by $DEDUP_KEY_FILE when it is
 * set and not empty. */
static bool set_up_hashing(dd_options *o)
{
    o->hash = sh_hasher_plain(DD_SEED);
    o->key_fingerprint[0] = '\0';
    if (!o->key_file) {
        const char *env = getenv("DEDUP_KEY_FILE");
        if (env && *env)
            o->key_file = env;
    }
    if (!o->key_file)
        return true;
    return dd_key_load(o->key_file, &o->hash, o->key_fingerprint);
}

int dd_options_parse(dd_options *o, const dd_command_spec *spec, int argc, char **argv)
{
    struct option longopts[MAX_OPTIONS];
    char shortopts[2 * MAX_OPTIONS + 2];
    if (!command_getopt_tables(spec, longopts, shortopts, sizeof shortopts)) {
        dd_error("%s: too many options for the option tables", spec->name);
        return DD_EXIT_ERROR;
    }
    const char *cmd = spec->name;
    memset(o, 0, sizeof *o);
    o->unit = DD_UNIT_LINE;
    o->min_words = 4;
    o->boilerplate_df = 3;
    o->format = isatty(STDOUT_FILENO) ? DD_FORMAT_TEXT : DD_FORMAT_JSONL;
    dd_near_params_default(&o->near);
    o->para_threshold = 0.8;
    o->field = "text";
    o->clean_paragraphs = true;
    o->max_record_mb = 256;
    o->work.part_size = 32ul << 20;
    bool task_given = false, part_size_given = false;
    /* A malformed record stops filter; a file that is not text is left
     * out by the commands that read files. */
    o->on_error = spec->reads_records ? DD_ON_ERROR_STOP : DD_ON_ERROR_SKIP;
    dd_near_params *n = &o->near;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        switch (c) {
        case OPT_JSONL:
        case OPT_LINES:
        case 'z':
            o->input_format = c == OPT_JSONL   ? DD_INPUT_JSONL
                              : c == OPT_LINES ? DD_INPUT_LINES
                                               : DD_INPUT_NUL;
            break;
        case OPT_FIELD:
            o->field = optarg;
            break;
        case OPT_ID_FIELD:
            o->id_field = optarg;
            break;
        case OPT_ANNOTATE:
            o->annotate = true;
            break;
        case OPT_WHOLE_FILES:
            o->whole_files = true;
            break;
        case OPT_CLEAN_PARAGRAPHS:
        case OPT_NO_CLEAN_PARAGRAPHS:
            o->clean_paragraphs = c == OPT_CLEAN_PARAGRAPHS;
            break;
        case OPT_ON_ERROR:
            if (!strcmp(optarg, "stop"))
                o->on_error = DD_ON_ERROR_STOP;
            else if (!strcmp(optarg, "skip"))
                o->on_error = DD_ON_ERROR_SKIP;
            else if (!strcmp(optarg, "drop"))
                o->on_error = DD_ON_ERROR_DROP;
            else
                return usage_error(cmd, "--on-error: '%s' is not stop, skip or drop", optarg);
            break;
        case OPT_MAX_RECORD:
            if (!dd_parse_uint(optarg, 1, 1u << 20, &o->max_record_mb))
                return usage_error(
                    cmd, "--max-record: '%s' is not a number of MB from 1 to 1048576", optarg);
            break;
        case OPT_STATS:
            o->stats = true;
            break;
        case OPT_EXECUTOR:
            if (!strcmp(optarg, "local"))
                o->executor = DD_EXECUTOR_LOCAL;
            else if (!strcmp(optarg, "slurm"))
                o->executor = DD_EXECUTOR_SLURM;
            else
                return usage_error(cmd, "--executor: '%s' is not local or slurm", optarg);
            break;
        case OPT_SBATCH_OPTION:
            o->nsbatch_options++; /* taken from argv by the executor (cmd/submit.c) */
            break;
        case OPT_MEMORY: {
            unsigned long bytes;
            if (!parse_size(optarg, &bytes) || bytes < (1ul << 20))
                return usage_error(cmd, "--memory: '%s' is not a size from 1M to 1T (K, M, G)",
                                   optarg);
            o->memory = bytes;
            break;
        }
        case OPT_TMP_DIR: {
            struct stat st;
            if (stat(optarg, &st) != 0 || !S_ISDIR(st.st_mode))
                return usage_error(cmd, "--tmp-dir: '%s' is not a folder", optarg);
            o->tmp_dir = optarg;
            break;
        }
        case OPT_WORK_DIR:
            o->work.dir = optarg;
            break;
        case OPT_STAGE:
            if (!strcmp(optarg, "sign"))
                o->work.stage = DD_STAGE_SIGN;
            else if (!strcmp(optarg, "group"))
                o->work.stage = DD_STAGE_GROUP;
            else if (!strcmp(optarg, "verify"))
                o->work.stage = DD_STAGE_VERIFY;
            else if (!strcmp(optarg, "decide"))
                o->work.stage = DD_STAGE_DECIDE;
            else
                return usage_error(cmd, "--stage: '%s' is not sign, group, verify or decide",
                                   optarg);
            break;
        case OPT_TASK:
            if (!dd_parse_uint(optarg, 0, 999999, &o->work.task))
                return usage_error(cmd, "--task: '%s' is not a number from 0 to 999999", optarg);
            task_given = true;
            break;
        case OPT_TASKS:
            if (!dd_parse_uint(optarg, 1, 1000000, &o->work.tasks))
                return usage_error(cmd, "--tasks: '%s' is not a number from 1 to 1000000", optarg);
            break;
        case OPT_PART_SIZE:
            part_size_given = true;
            if (!parse_size(optarg, &o->work.part_size))
                return usage_error(cmd,
                                   "--part-size: '%s' is not a size from 1 to 1T (bytes, or "
                                   "K, M, G)",
                                   optarg);
            break;
        case OPT_BASELINE:
            o->baseline = optarg;
            break;
        case OPT_WRITE_BASELINE:
            o->write_baseline = optarg;
            break;
        case OPT_INDEX:
            o->index = optarg;
            break;
        case OPT_KEY_FILE:
            o->key_file = optarg;
            break;
        case OPT_IN_PLACE:
            o->in_place = true;
            break;
        case OPT_DRY_RUN:
            o->dry_run = true;
            break;
        case OPT_REMOVED:
            o->removed = optarg;
            break;
        case OPT_CLUSTERS:
            o->clusters_file = optarg;
            break;
        case 'm':
            if (!strcmp(optarg, "minhash"))
                n->method = DD_METHOD_MINHASH;
            else if (!strcmp(optarg, "simhash"))
                n->method = DD_METHOD_SIMHASH;
            else
                return usage_error(cmd, "--method: '%s' is not minhash or simhash", optarg);
            break;
        case 't':
            if (!parse_fraction(optarg, 0, 1, true, &n->threshold))
                return usage_error(cmd, "--threshold: '%s' is not a number in (0, 1]", optarg);
            break;
        case OPT_CONTAINMENT:
            if (!parse_fraction(optarg, 0, 1, false, &n->containment))
                return usage_error(cmd, "--containment: '%s' is not a number in [0, 1]", optarg);
            break;
        case OPT_MIN_SHINGLES:
            if (!dd_parse_uint(optarg, 0, UINT32_MAX, &n->min_shingles))
                return usage_error(cmd, "--min-shingles: '%s' is not a whole number", optarg);
            break;
        case OPT_RECALL:
            if (!parse_fraction(optarg, 0, 1, true, &n->recall) || n->recall >= 1)
                return usage_error(cmd, "--recall: '%s' is not a number in (0, 1)", optarg);
            break;
        case OPT_SIZE_RATIO:
            if (!parse_fraction(optarg, 1, 1e6, false, &n->size_ratio))
                return usage_error(cmd, "--size-ratio: '%s' is not a number from 1 to 1000000",
                                   optarg);
            break;
        case 'k':
            if (!dd_parse_uint(optarg, 1, 64, &n->ngram))
                return usage_error(cmd, "--ngram: '%s' is not a number from 1 to 64", optarg);
            break;
        case OPT_NUM_PERM:
            if (!dd_parse_uint(optarg, 1, SH_MINHASH_MAX_PERM, &n->num_perm))
                return usage_error(cmd, "--num-perm: '%s' is not a number from 1 to 1024", optarg);
            break;
        case OPT_BANDS:
            if (!dd_parse_uint(optarg, 1, SH_MINHASH_MAX_PERM, &n->bands))
                return usage_error(cmd, "--bands: '%s' is not a number from 1 to 1024", optarg);
            break;
        case OPT_ROWS:
            if (!dd_parse_uint(optarg, 1, SH_MINHASH_MAX_PERM, &n->rows))
                return usage_error(cmd, "--rows: '%s' is not a number from 1 to 1024", optarg);
            break;
        case OPT_HAMMING:
            if (!dd_parse_uint(optarg, 0, 31, &n->hamming))
                return usage_error(cmd, "--hamming: '%s' is not a number from 0 to 31", optarg);
            break;
        case OPT_KEEP:
            if (!strcmp(optarg, "first"))
                n->keep = DD_KEEP_FIRST;
            else if (!strcmp(optarg, "longest"))
                n->keep = DD_KEEP_LONGEST;
            else
                return usage_error(cmd, "--keep: '%s' is not first or longest", optarg);
            break;
        case OPT_NO_NEAR:
            n->enabled = false;
            break;
        case OPT_EXPLAIN:
            o->explain_params = true;
            break;
        case OPT_VERIFY:
            if (!strcmp(optarg, "exact"))
                n->verify_exact = true;
            else if (!strcmp(optarg, "estimate"))
                n->verify_exact = false;
            else
                return usage_error(cmd, "--verify: '%s' is not exact or estimate", optarg);
            break;
        case OPT_PARA_THRESHOLD:
            if (!parse_fraction(optarg, 0, 1, true, &o->para_threshold))
                return usage_error(cmd, "--para-threshold: '%s' is not a number in (0, 1]", optarg);
            break;
        case 'u':
            if (!strcmp(optarg, "line"))
                o->unit = DD_UNIT_LINE;
            else if (!strcmp(optarg, "block"))
                o->unit = DD_UNIT_BLOCK;
            else
                return usage_error(cmd, "--unit: '%s' is not line or block", optarg);
            break;
        case 'w':
            if (!dd_parse_uint(optarg, 1, 1000000, &o->min_words))
                return usage_error(cmd, "--min-words: '%s' is not a number from 1 to 1000000",
                                   optarg);
            break;
        case 'b':
            if (!dd_parse_uint(optarg, 2, UINT32_MAX, &o->boilerplate_df))
                return usage_error(
                    cmd, "--boilerplate-df: '%s' is not a number from 2 to 4294967295", optarg);
            break;
        case 'f':
            if (!strcmp(optarg, "text"))
                o->format = DD_FORMAT_TEXT;
            else if (!strcmp(optarg, "jsonl"))
                o->format = DD_FORMAT_JSONL;
            else if (!strcmp(optarg, "tsv"))
                o->format = DD_FORMAT_TSV;
            else
                return usage_error(cmd, "--format: '%s' is not text, jsonl or tsv", optarg);
            break;
        case 'o':
            o->output = optarg;
            break;
        case 'q':
            o->quiet = true;
            break;
        case 'j':
            if (!dd_parse_uint(optarg, 1, 1024, &o->threads))
                return usage_error(cmd, "--threads: '%s' is not a number from 1 to 1024", optarg);
            break;
        case 'h': {
            int failed = dd_command_help(stdout, spec);
            if (failed) /* said now: a later flush would not know why */
                dd_stdout_failed(failed);
            return DD_EXIT_CLEAN; /* main's dd_stdout_finish makes it 2 after a failure */
        }
        case 'V':
            fputs(dd_version_text, stdout);
            return DD_EXIT_CLEAN;
        case ':':
            return usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
        default: {
            /* getopt names an unknown short option in optopt, a long one
             * by leaving it in argv[optind - 1]. */
            char short_form[3] = {'-', (char)optopt, '\0'};
            return not_an_option(spec, optopt ? short_form : argv[optind - 1]);
        }
        }
    }
    if (o->whole_files && o->input_format == DD_INPUT_JSONL)
        return usage_error(cmd, "%s",
                           "--jsonl reads standard input as records, --whole-files "
                           "reads shards as plain files: give one of them");
    dd_notes notes = {0};
    if (!dd_notes_said(&notes, dd_near_params_check(n, &notes)))
        return DD_EXIT_ERROR;
    if (o->nsbatch_options && o->executor != DD_EXECUTOR_SLURM)
        return usage_error(cmd, "%s", "--sbatch-option goes with --executor slurm");
    dd_work_options *w = &o->work;
    if (o->executor == DD_EXECUTOR_SLURM && (task_given || w->stage != DD_STAGE_ALL))
        return usage_error(cmd, "%s",
                           "--task and --stage run on this machine: they do not go "
                           "with --executor slurm (which submits every stage)");
    if (o->executor == DD_EXECUTOR_SLURM && (!w->dir || !w->tasks))
        return usage_error(cmd, "%s", "--executor slurm needs --work-dir DIR and --tasks N");
    if (task_given && !w->tasks)
        return usage_error(cmd, "%s", "--task I needs --tasks N");
    if (task_given && w->task >= w->tasks)
        return usage_error(cmd, "%s", "--task I must be less than --tasks N (tasks count from 0)");
    if (task_given && w->stage == DD_STAGE_DECIDE)
        return usage_error(cmd, "%s", "--task runs a task of sign, group or verify: it does not "
                                      "go with --stage decide (one task)");
    if (task_given && w->stage == DD_STAGE_ALL)
        w->stage = DD_STAGE_SIGN;
    w->one_task = task_given;
    if (!w->dir && (w->tasks || w->stage != DD_STAGE_ALL || part_size_given))
        return usage_error(cmd, "%s",
                           "--task, --tasks, --stage and --part-size need --work-dir DIR");
    o->paths = argv + optind;
    o->npaths = (size_t)(argc - optind);
    if (o->explain_params)
        return -1;
    if (o->npaths == 0 && !spec->reads_records)
        return usage_error(cmd, "%s", "no PATH given (use - for standard input)");
    return set_up_hashing(o) ? -1 : DD_EXIT_ERROR;
}
