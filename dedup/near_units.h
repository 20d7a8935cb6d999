/*
 * near_units.h - near-repeated units inside one document.
 *
 * A unit (of at least min_words words) is a near-repeat of an earlier unit of
 * the same document when their sets of word 3-shingles have Jaccard >= T, or
 * when the later unit's set is contained in the earlier one's to a share >= T
 * and the later unit has at least DD_NEAR_UNIT_MIN_SHINGLES shingles: a
 * restated paragraph, a pull-quote. The sets are exact: the document is in
 * memory. Only the later unit is a near-repeat (it is what clean removes), so
 * a short unit that comes before the long one containing it is never removed.
 * Units with the same exact key are exact repeats, found elsewhere.
 */
#ifndef DD_NEAR_UNITS_H
#define DD_NEAR_UNITS_H

#include "document.h"

#include <stddef.h>
#include <stdint.h>

#define DD_NEAR_UNIT_NGRAM 3
#define DD_NEAR_UNIT_MIN_SHINGLES 10
#define DD_NEAR_UNIT_FANOUT 4

typedef struct dd_near_unit {
    uint32_t doc; /* set by the caller */
    size_t unit; /* the later unit, index in the document */
    size_t of;   /* the earliest earlier unit it matches */
    double jaccard;
    double containment; /* of the later unit in the earlier one */
} dd_near_unit;

typedef struct dd_near_unit_list {
    dd_near_unit *v;
    size_t n, cap;
} dd_near_unit_list;

/* Appends the near-repeats of doc to out, by unit. */
void dd_find_near_units(const dd_doc *doc, double threshold, unsigned long min_words,
                        uint64_t seed, dd_near_unit_list *out);

#endif
