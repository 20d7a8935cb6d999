/*
 * options.c - parsing the command line of scan and clean.
 */
#include "options.h"

#include "util.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const char dd_usage_text[] =
    "Usage: dedup COMMAND [OPTIONS] PATH...\n"
    "\n"
    "Find and remove duplicated text: paragraphs repeated inside a document,\n"
    "paragraphs repeated across documents, and boilerplate.\n"
    "\n"
    "Commands:\n"
    "  scan PATH...            report duplicates\n"
    "  clean PATH... -o DIR    write cleaned copies of the inputs under DIR\n"
    "  help [COMMAND]          show help for a command\n"
    "\n"
    "PATH is a file, a directory (read recursively, in sorted order) or - for\n"
    "standard input (scan only).\n"
    "\n"
    "Options:\n"
    "  -u, --unit line|block     a unit (paragraph) is a non-blank line (default),\n"
    "                            or a run of non-blank lines between blank lines\n"
    "  -w, --min-words N         report a run of repeated units only when it holds\n"
    "                            at least N normalised words (default 4)\n"
    "  -b, --boilerplate-df N    a unit found in at least N documents is\n"
    "                            boilerplate (default 3, at least 2)\n"
    "  -f, --format text|jsonl   report format for scan (default: text on a\n"
    "                            terminal, jsonl otherwise)\n"
    "  -o, --output DIR          (clean) write the cleaned copies under DIR\n"
    "  -h, --help                show this help and exit\n"
    "  -V, --version             show the version and exit\n"
    "\n"
    "Exit status: 0 nothing found (clean: success), 1 duplicates found (scan),\n"
    "2 usage or input error.\n";

static int usage_error(const char *cmd, const char *fmt, const char *arg)
{
    fprintf(stderr, "dedup %s: ", cmd);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'dedup --help'.\n");
    return DD_EXIT_ERROR;
}

int dd_options_parse(dd_options *o, int argc, char **argv)
{
    static const struct option longopts[] = {
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
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":u:w:b:f:o:hV", longopts, NULL)) != -1) {
        switch (c) {
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
            else
                return usage_error(cmd, "--format: '%s' is not text or jsonl", optarg);
            break;
        case 'o': o->output = optarg; break;
        case 'h': fputs(dd_usage_text, stdout); return DD_EXIT_CLEAN;
        case 'V': printf("dedup %s\n", SH_VERSION); return DD_EXIT_CLEAN;
        case ':': return usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
        default: return usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
        }
    }
    o->paths = argv + optind;
    o->npaths = (size_t)(argc - optind);
    if (o->npaths == 0)
        return usage_error(cmd, "%s", "no PATH given (use - for standard input)");
    return -1;
}
