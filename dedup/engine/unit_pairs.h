/*
 * unit_pairs.h - the candidate pairs of the search for near-repeated
 * paragraphs across documents, as a pure function of the units, so that
 * they can be computed a part at a time (run/near_across.c: within a
 * budget of memory, whatever the corpus's size).
 *
 * The rule is the one of dd_find_near_units_across (near_units.h), said
 * without an index that grows as documents are searched: every unit of
 * DD_NEAR_UNIT_ACROSS_MIN_WORDS words or more has DD_NEAR_UNIT_BANDS band
 * keys; a unit is indexed unless a unit before it (in rank order) has the
 * same set; a band key lists the first DD_NEAR_UNIT_MAX_BUCKET indexed
 * units with that key; the candidates of a unit are the units listed under
 * its band keys that belong to earlier documents. A unit's band keys are
 * those of every unit with its set, so whether a unit is the first with its
 * set is seen among the units of any one of its keys.
 *
 * So the entries (band key, set key, unit) of one band can be taken a range
 * of keys at a time, in any order: each key's units give their pairs alone.
 */
#ifndef DD_UNIT_PAIRS_H
#define DD_UNIT_PAIRS_H

#include <stddef.h>
#include <stdint.h>

/* A unit's id: its document (rank order) and its number in the document,
 * so ids increase in rank order whatever the thread that made them. */
static inline uint64_t dd_unit_id(uint32_t doc, uint32_t unit)
{
    return (uint64_t)doc << 32 | unit;
}
static inline uint32_t dd_unit_id_doc(uint64_t id) { return (uint32_t)(id >> 32); }
static inline uint32_t dd_unit_id_unit(uint64_t id) { return (uint32_t)id; }

/* A unit under one of its band keys. */
typedef struct dd_unit_entry {
    uint64_t key; /* its band key (of one band: the entries given together are of one) */
    uint64_t set; /* its set's key (dd_unit_set_key: .lo): the same for the same set */
    uint64_t id;  /* dd_unit_id of the unit */
} dd_unit_entry;

/* A candidate pair: unit later is compared with unit earlier (ids). */
typedef struct dd_unit_pair {
    uint64_t later, earlier;
} dd_unit_pair;

/* Sorts v[0..n) by key, then id. Takes a copy of the n entries for the
 * while. */
void dd_unit_entries_sort(dd_unit_entry *v, size_t n);

/* Sorts the entries of the runs runs[0..nruns) together (run r holds
 * runs[r][0..nrun[r]), entries of one band, whatever their order and
 * whatever run holds which) by key, then id, into out, which has room for
 * them all: the order does not depend on how they were cut into runs. The
 * runs are not changed; out is all the memory of their size written (and
 * 3 MB at most besides), so entries kept in several places (one a thread)
 * are sorted without a copy of them all first. */
void dd_unit_entries_sort_into(const dd_unit_entry *const *runs, const size_t *nrun, size_t nruns,
                               dd_unit_entry *out);

/* Calls emit for every candidate pair of the entries v[0..n) of one band,
 * sorted (dd_unit_entries_sort), holding every entry of each key they
 * hold: for each unit, the units listed under the key that come from
 * earlier documents. A pair found under several bands is emitted for each
 * (dd_unit_pairs_sort removes the repeats). Exits only when out of memory. */
void dd_unit_entries_pairs(const dd_unit_entry *v, size_t n,
                           void (*emit)(void *ctx, dd_unit_pair pair), void *ctx);

/* Sorts v[0..n) by later, then earlier, in place (no copy of v), and
 * removes the repeats (the same two ids: the same two places); returns
 * how many are left. */
size_t dd_unit_pairs_sort(dd_unit_pair *v, size_t n);

/* Copies the pairs v[0..n) into out[0..n) by ranges of their later unit,
 * so that they can be sorted a range at a time, on any thread: range r (of
 * `ranges`, at least 1) is out[start[r] .. start[r + 1]) (start has ranges + 1
 * entries), every later unit of range r is below those of range r + 1, and
 * a pair's repeats are in its range. dd_unit_pairs_sort of each range, the
 * ranges then put end to end, is dd_unit_pairs_sort of v. */
void dd_unit_pairs_partition(const dd_unit_pair *v, size_t n, size_t ranges, dd_unit_pair *out,
                             size_t *start);

#endif
