/*
 * scan.c - dedup scan: report repeated paragraphs and boilerplate.
 */
#include "commands.h"
#include "corpus.h"
#include "report.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int cmd_scan(int argc, char **argv)
{
    dd_options o;
    int status = dd_options_parse(&o, argc, argv);
    if (status >= 0)
        return status;
    if (o.output) {
        dd_error("scan: -o/--output is an option of clean");
        return DD_EXIT_ERROR;
    }
    if (o.explain_params) {
        dd_near_explain(stdout, &o.near);
        return DD_EXIT_CLEAN;
    }
    dd_corpus c;
    if (!dd_corpus_run(&c, &o)) {
        dd_corpus_free(&c);
        return DD_EXIT_ERROR;
    }
    if (!dd_report_write(stdout, o.format, o.near.method, &c.inputs, &c.clusters, &c.findings)) {
        dd_error("writing the report: %s", errno ? strerror(errno) : "write error");
        dd_corpus_free(&c);
        return DD_EXIT_ERROR;
    }
    bool found = c.findings.nrepeats > 0 || c.findings.nboilerplate > 0 || c.clusters.n > 0;
    status = c.problems ? DD_EXIT_ERROR : found ? DD_EXIT_FOUND : DD_EXIT_CLEAN;
    dd_corpus_free(&c);
    return status;
}
