/*
 * main.c - dedup: find and remove duplicated text. Dispatches to the
 * subcommands.
 */
#include "cmd/commands.h"
#include "cmd/options.h"
#include "run/progress.h"
#include "shingle.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

static int cmd_help(int argc, char **argv);

static const struct command {
    const char *name;
    int (*run)(int argc, char **argv);
} commands[] = {
    { "scan", cmd_scan },
    { "clean", cmd_clean },
    { "filter", cmd_filter },
    { "check", cmd_check },
    { "index", cmd_index },
    { "keygen", cmd_keygen },
    { "status", cmd_status },
    { "help", cmd_help },
};

/* dedup help [COMMAND [SUBCOMMAND]]: what COMMAND --help prints. */
static int cmd_help(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fputs(dd_usage_text, stdout);
        return DD_EXIT_CLEAN;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(argv[1], commands[i].name) || commands[i].run == cmd_help)
            continue;
        char help[] = "--help";
        char *args[] = {argv[1], argc > 2 ? argv[2] : help, help, NULL};
        return commands[i].run(argc > 2 ? 3 : 2, args);
    }
    dd_error("help: '%s' is not a command. Try 'dedup --help'.", argv[1]);
    return DD_EXIT_ERROR;
}

int main(int argc, char **argv)
{
    /* A message first erases the progress line a long run draws. */
    dd_messages_erase_first(dd_progress_clear);
    if (argc < 2) {
        fputs(dd_usage_text, stderr);
        return DD_EXIT_ERROR;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))
        return dd_stdout_finish(cmd_help(argc - 1, argv + 1));
    if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
        fputs(dd_version_text, stdout);
        return dd_stdout_finish(DD_EXIT_CLEAN);
    }
    /* What a command wrote must have reached standard output: a write
     * error there is the run's error, whatever the command returned. */
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return dd_stdout_finish(commands[i].run(argc - 1, argv + 1));
    dd_error("'%s' is not a command. Try 'dedup --help'.", argv[1]);
    return DD_EXIT_ERROR;
}
