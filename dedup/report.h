/*
 * report.h - writing the findings: text (path:line: message) or JSON lines.
 */
#ifndef DD_REPORT_H
#define DD_REPORT_H

#include "input.h"
#include "near.h"
#include "options.h"
#include "paragraphs.h"

#include <jansson.h>
#include <stdio.h>

/* An id (a path) as a new JSON string: as it is when it is valid UTF-8,
 * escaped as dd_printable does (\xHH) when not, since JSON strings must be
 * UTF-8. Every JSON report and annotation writes ids through it. */
json_t *dd_json_id(const char *id);

/* Writes every finding to out: clusters by id, then repeats and boilerplate
 * in the order of dd_findings (tsv: doc<TAB>cluster for every document).
 * Returns false on a write error. */
bool dd_report_write(FILE *out, dd_format format, dd_method method, const dd_inputs *in,
                     const dd_clusters *c, const dd_findings *f);

/* one when n is 1, else many: for the summary lines. */
const char *dd_plural(uint64_t n, const char *one, const char *many);

#endif
