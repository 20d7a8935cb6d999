/*
 * report.h - writing the findings: text (path:line: message) or JSON lines.
 */
#ifndef DD_REPORT_H
#define DD_REPORT_H

#include "input.h"
#include "near.h"
#include "options.h"
#include "paragraphs.h"

#include <stdio.h>

/* Writes every finding to out: clusters by id, then repeats and boilerplate
 * in the order of dd_findings (tsv: doc<TAB>cluster for every document).
 * Returns false on a write error. */
bool dd_report_write(FILE *out, dd_format format, dd_method method, const dd_inputs *in,
                     const dd_clusters *c, const dd_findings *f);

#endif
