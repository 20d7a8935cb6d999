/*
 * keygen.c - dedup keygen FILE: write a new secret key for --key-file.
 */
#include "cmd/commands.h"
#include "io/keys.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

static const char keygen_usage[] =
    "Usage: dedup keygen FILE\n"
    "\n"
    "Writes a new random key (32 bytes, as 64 hexadecimal digits) to FILE,\n"
    "which must not exist, readable by its owner only (mode 0600), and prints\n"
    "its fingerprint. Give it to scan, clean, filter, check and index with\n"
    "--key-file FILE (or DEDUP_KEY_FILE=FILE) so that every hash depends on it.\n"
    "Needs a build with libsodium.\n";

int cmd_keygen(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        fputs(keygen_usage, stdout);
        return DD_EXIT_CLEAN;
    }
    if (argc != 2 || argv[1][0] == '-') {
        dd_error("keygen: give the one FILE to write the key to");
        fputs(keygen_usage, stderr);
        return DD_EXIT_ERROR;
    }
    char fingerprint[DD_KEY_FINGERPRINT_SIZE];
    if (!dd_key_generate(argv[1], fingerprint))
        return DD_EXIT_ERROR;
    printf("%s: key fingerprint %s\n", argv[1], fingerprint);
    return DD_EXIT_CLEAN;
}
