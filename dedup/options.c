/*
 * options.c - parsing the command line of scan, clean, filter and check.
 */
#include "options.h"

#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const char dd_version_text[] = "dedup " SH_VERSION "\n"
                               "License: MIT\n";

const char dd_usage_text[] =
    "Usage: dedup COMMAND [OPTIONS] PATH...\n"
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
    "                          standard output, without the copies\n"    "  check PATH...           pre-commit check of the named files against each\n"
    "                          other and the rest of their folders\n"
    "  keygen FILE             write a new secret key for --key-file\n"
    "  help [COMMAND]          show help for a command\n"
    "\n"
    "PATH is a file, a directory (read recursively, in sorted order) or - for\n"
    "standard input (scan only).\n"
    "\n"
    "Options:\n"
    "  -f, --format text|jsonl|tsv  report format for scan (default: text on a\n"
    "                            terminal, jsonl otherwise); tsv prints\n"
    "                            doc<TAB>cluster for every document\n"
    "  -o, --output DIR          (clean) write the cleaned copies under DIR\n"
    "      --in-place            (clean) replace each file that changes by its\n"
    "                            cleaned content, atomically, keeping its mode,\n"
    "                            owner and times; near-duplicate files stay\n"
    "      --dry-run             (clean) write nothing; print what would change as\n"
    "                            a unified diff and exit 1 if anything would\n"
    "      --key-file FILE       derive every hash from the secret key in FILE\n"
    "                            (dedup keygen; default $DEDUP_KEY_FILE), so that\n"
    "                            texts cannot be crafted to collide without it\n"
    "      --max-record MB       longest document (a file, or a record of filter)\n"
    "                            accepted (default 256); memory stays within\n"
    "                            about 10 times it\n"
    "  -h, --help                show this help and exit\n"
    "  -V, --version             show the version and the license and exit\n"
    "\n"
    "Paragraphs:\n"
    "  -u, --unit line|block     a unit (paragraph) is a non-blank line (default),\n"
    "                            or a run of non-blank lines between blank lines\n"
    "  -w, --min-words N         report a run of repeated units only when it holds\n"
    "                            at least N normalised words (default 4)\n"
    "  -b, --boilerplate-df N    a unit found in at least N documents is\n"
    "                            boilerplate (default 3, at least 2)\n"
    "      --para-threshold T    units whose word 3-shingles have Jaccard or\n"
    "                            containment >= T are near-repeats (default 0.8)\n"
    "\n"
    "Near-duplicate documents:\n"
    "  -m, --method minhash|simhash  signatures to compare (default minhash)\n"
    "  -t, --threshold J         near-duplicates have Jaccard >= J (default 0.8)\n"
    "      --containment C       ... or containment of the smaller >= C (default\n"
    "                            0.8; 0 turns this half of the rule off)\n"
    "      --min-shingles N      ... when the smaller has >= N shingles (default 50)\n"
    "      --size-ratio R        find containment pairs with probability >=\n"
    "                            --recall when the larger has at most R times\n"
    "                            the shingles of the smaller (default 2.5);\n"
    "                            further apart, only the smaller joins the\n"
    "                            larger's cluster, and pairs sharing a\n"
    "                            paragraph are always compared\n"
    "      --recall R            find a pair at the threshold with probability\n"
    "                            >= R; sets the LSH bands (default 0.99)\n"
    "  -k, --ngram K             words per shingle (default 5)\n"
    "      --num-perm N          MinHash values per document (default 128)\n"
    "      --bands B             LSH bands (default: chosen from --recall)\n"
    "      --rows R              values per band (default: chosen from --recall)\n"
    "      --hamming K           simhash: at most K differing bits (default 3)\n"
    "      --keep first|longest  which copy represents a cluster (default first;\n"
    "                            ties by input order)\n"
    "      --no-near             look for exact and near repeats of paragraphs\n"
    "                            only, not for near-duplicate documents\n"
    "      --explain-params      print the LSH parameters and candidate\n"
    "                            probabilities, then exit\n"
    "      --verify exact|estimate  how MinHash candidates are verified: exact\n"
    "                            (default) decides on the exact shingle sets,\n"
    "                            recomputed from the documents for the pairs\n"
    "                            whose estimate could pass; estimate decides on\n"
    "                            the full signatures and the exact set sizes.\n"
    "                            Shingle sets are never kept in memory.\n"
    "\n"
    "Filter (records in order; each is decided against the ones before it and\n"
    "the first copy is kept; .gz and .zst input is read as such):\n"
    "      --jsonl               one JSON object per line (the default when the\n"
    "                            first record starts with '{')\n"
    "      --lines               each line a document (the default otherwise)\n"
    "  -z, --null                documents separated by NUL bytes\n"
    "      --field PATH          JSONL: the text, a dotted path (default text)\n"
    "      --id-field PATH       JSONL: the id (default: the record number)\n"
    "      --annotate            keep every record and add a \"dedup\" member\n"
    "                            saying what was found (JSONL)\n"
    "      --no-clean-paragraphs keep repeated paragraphs inside kept records\n"
    "      --on-error stop|skip|drop  a malformed record stops the run (default),\n"
    "                            is written through unchanged, or is dropped\n"
    "      --stats               print counts and speed on standard error\n"
    "      --index DIR.ddx       also drop copies of the documents of this index\n"
    "                            and remove paragraphs found in them\n"
    "  With filter, --verify exact (the default) uses the shingle sets of the\n"
    "  last 4096 records; older ones are compared on estimates.\n"
    "\n"
    "Check (findings in the named files only, as path:line: message):\n"
    "      --baseline FILE       accepted findings: do not report them\n"
    "      --write-baseline FILE  write every finding to FILE as accepted, exit 0\n"
    "      --index DIR.ddx       compare with the documents of this index (dedup\n"
    "                            index build) instead of the rest of the folders;\n"
    "                            scan --index also reports what the documents\n"
    "                            share with the index\n"
    "\n"
    "Index:\n"
    "  index build PATH... -o DIR.ddx   a persistent index of the documents\n"
    "  index add DIR.ddx PATH...        add or update documents (unchanged size\n"
    "                                   and mtime: not read again)\n"
    "  index info DIR.ddx               its settings and counts\n"
    "  index remove DIR.ddx ID...       remove documents by id (their path)\n"
    "\n"
    "Exit status: 0 nothing found (clean, filter: success), 1 duplicates found\n"
    "(scan, check; clean --dry-run: something would change), 2 usage or input\n"
    "error; 129 SIGHUP, 130 SIGINT, 143 SIGTERM: ended by that signal.\n";

static int usage_error(const char *cmd, const char *fmt, const char *arg)
{
    fprintf(stderr, "dedup %s: ", cmd);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'dedup --help'.\n");
    return DD_EXIT_ERROR;
}

/* Parses a number in [lo, hi] (lo excluded when open_lo). */
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

enum {
    OPT_CONTAINMENT = 256,
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
};

int dd_options_parse(dd_options *o, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"method", required_argument, NULL, 'm'},
        {"threshold", required_argument, NULL, 't'},
        {"containment", required_argument, NULL, OPT_CONTAINMENT},
        {"min-shingles", required_argument, NULL, OPT_MIN_SHINGLES},
        {"recall", required_argument, NULL, OPT_RECALL},
        {"size-ratio", required_argument, NULL, OPT_SIZE_RATIO},
        {"ngram", required_argument, NULL, 'k'},
        {"num-perm", required_argument, NULL, OPT_NUM_PERM},
        {"bands", required_argument, NULL, OPT_BANDS},
        {"rows", required_argument, NULL, OPT_ROWS},
        {"hamming", required_argument, NULL, OPT_HAMMING},
        {"keep", required_argument, NULL, OPT_KEEP},
        {"no-near", no_argument, NULL, OPT_NO_NEAR},
        {"explain-params", no_argument, NULL, OPT_EXPLAIN},
        {"para-threshold", required_argument, NULL, OPT_PARA_THRESHOLD},
        {"verify", required_argument, NULL, OPT_VERIFY},
        {"jsonl", no_argument, NULL, OPT_JSONL},
        {"lines", no_argument, NULL, OPT_LINES},
        {"null", no_argument, NULL, 'z'},
        {"field", required_argument, NULL, OPT_FIELD},
        {"id-field", required_argument, NULL, OPT_ID_FIELD},
        {"annotate", no_argument, NULL, OPT_ANNOTATE},
        {"clean-paragraphs", no_argument, NULL, OPT_CLEAN_PARAGRAPHS},
        {"no-clean-paragraphs", no_argument, NULL, OPT_NO_CLEAN_PARAGRAPHS},
        {"on-error", required_argument, NULL, OPT_ON_ERROR},
        {"max-record", required_argument, NULL, OPT_MAX_RECORD},
        {"stats", no_argument, NULL, OPT_STATS},
        {"baseline", required_argument, NULL, OPT_BASELINE},
        {"write-baseline", required_argument, NULL, OPT_WRITE_BASELINE},
        {"index", required_argument, NULL, OPT_INDEX},
        {"key-file", required_argument, NULL, OPT_KEY_FILE},
        {"in-place", no_argument, NULL, OPT_IN_PLACE},
        {"dry-run", no_argument, NULL, OPT_DRY_RUN},
        {"unit", required_argument, NULL, 'u'},
        {"min-words", required_argument, NULL, 'w'},
        {"boilerplate-df", required_argument, NULL, 'b'},
        {"format", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = argv[0];
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
    dd_near_params *n = &o->near;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":u:w:b:f:o:m:t:k:zhV", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_JSONL:
        case OPT_LINES:
        case 'z':
            o->input_format = c == OPT_JSONL ? DD_INPUT_JSONL
                              : c == OPT_LINES ? DD_INPUT_LINES
                                               : DD_INPUT_NUL;
            o->filter_option = c == OPT_JSONL ? "--jsonl" : c == OPT_LINES ? "--lines" : "-z";
            break;
        case OPT_FIELD:
            o->field = optarg;
            o->filter_option = "--field";
            break;
        case OPT_ID_FIELD:
            o->id_field = optarg;
            o->filter_option = "--id-field";
            break;
        case OPT_ANNOTATE:
            o->annotate = true;
            o->filter_option = "--annotate";
            break;
        case OPT_CLEAN_PARAGRAPHS:
        case OPT_NO_CLEAN_PARAGRAPHS:
            o->clean_paragraphs = c == OPT_CLEAN_PARAGRAPHS;
            o->filter_option = c == OPT_CLEAN_PARAGRAPHS ? "--clean-paragraphs"
                                                         : "--no-clean-paragraphs";
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
            o->filter_option = "--on-error";
            break;
        case OPT_MAX_RECORD:
            if (!dd_parse_uint(optarg, 1, 1u << 20, &o->max_record_mb))
                return usage_error(cmd, "--max-record: '%s' is not a number of MB from 1 to 1048576",
                                   optarg);
            break;
        case OPT_STATS:
            o->stats = true;
            o->filter_option = "--stats";
            break;
        case OPT_BASELINE:
            o->baseline = optarg;
            o->check_option = "--baseline";
            break;
        case OPT_WRITE_BASELINE:
            o->write_baseline = optarg;
            o->check_option = "--write-baseline";
            break;
        case OPT_INDEX: o->index = optarg; break;
        case OPT_KEY_FILE: o->key_file = optarg; break;
        case OPT_IN_PLACE:
            o->in_place = true;
            o->clean_option = "--in-place";
            break;
        case OPT_DRY_RUN:
            o->dry_run = true;
            o->clean_option = "--dry-run";
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
        case OPT_NO_NEAR: n->enabled = false; break;
        case OPT_EXPLAIN: o->explain_params = true; break;
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
                return usage_error(cmd, "--para-threshold: '%s' is not a number in (0, 1]",
                                   optarg);
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
                return usage_error(cmd, "--boilerplate-df: '%s' is not a number of at least 2",
                                   optarg);
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
        case 'o': o->output = optarg; break;
        case 'h': fputs(dd_usage_text, stdout); return DD_EXIT_CLEAN;
        case 'V': fputs(dd_version_text, stdout); return DD_EXIT_CLEAN;
        case ':': return usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
        default: return usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (!dd_near_params_check(n))
        return DD_EXIT_ERROR;
    o->paths = argv + optind;
    o->npaths = (size_t)(argc - optind);
    if (o->explain_params)
        return -1;
    if (strcmp(cmd, "filter") && o->filter_option)
        return usage_error(cmd, "%s is an option of filter", o->filter_option);
    if (strcmp(cmd, "clean") && o->clean_option)
        return usage_error(cmd, "%s is an option of clean", o->clean_option);
    if (strcmp(cmd, "check") && o->check_option)
        return usage_error(cmd, "%s is an option of check", o->check_option);
    if (o->index && !strcmp(cmd, "clean"))
        return usage_error(cmd, "%s", "--index is an option of scan, check and filter");
    if (o->npaths == 0 && strcmp(cmd, "filter"))
        return usage_error(cmd, "%s", "no PATH given (use - for standard input)");
    return set_up_hashing(o) ? -1 : DD_EXIT_ERROR;
}
