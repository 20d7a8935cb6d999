/*
 * submit.h - scan and clean with --executor slurm (submit.c).
 */
#ifndef DD_SUBMIT_H
#define DD_SUBMIT_H

#include "cmd/options.h"

/* Plans the run of o (argv: the command's arguments, argv[0] its name, as
 * dd_options_parse left them) in its work folder and submits what is not
 * done to Slurm (run/slurm.h); prints the jobs submitted. Returns the exit
 * status: 0 submitted (or nothing left to do), 2 after a message. */
int dd_submit_slurm(const dd_options *o, int argc, char **argv);

#endif
