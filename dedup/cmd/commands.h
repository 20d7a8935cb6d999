/*
 * commands.h - the subcommands, one file each (scan.c, clean.c, filter.c,
 * check.c, index.c, keygen.c, status.c).
 *
 * Each takes the arguments after "dedup" (argv[0] is the command name) and
 * returns the exit status: 0 nothing found or success, 1 duplicates found,
 * 2 usage or input error.
 */
#ifndef DD_COMMANDS_H
#define DD_COMMANDS_H

int cmd_scan(int argc, char **argv);
int cmd_clean(int argc, char **argv);
int cmd_filter(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_index(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_status(int argc, char **argv);

#endif
