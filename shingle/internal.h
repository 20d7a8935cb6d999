/*
 * internal.h - what the library's files share with each other; not part of
 * the API (shingle.h is).
 */
#ifndef SH_INTERNAL_H
#define SH_INTERNAL_H

#include "shingle.h"

#include <stdbool.h>
#include <unicode/umachine.h>

/* Does a word holding c need ICU's word break rules? True for the scripts
 * that ICU segments with a dictionary and for anything other than letters,
 * digits and combining marks; false for the letters of scripts written with
 * spaces between words, where a word is simply a run without spaces. */
bool sh_needs_word_rules(UChar32 c);

/* Did the last sh_normalize call on n write text whose words are exactly its
 * runs between single spaces (no code point for which sh_needs_word_rules,
 * spaces collapsed)? */
bool sh_normalized_is_spaced(const sh_normalizer *n);

/* For tests: sh_normalize without its fast path, every normalisation segment
 * written by the slow path (the table entry of a lone code point, ICU for
 * the rest). Same contract as sh_normalize, and the same output, errors and
 * sh_normalized_is_spaced, which is what the tests check. */
sh_status sh_normalize_reference(sh_normalizer *n, const char *text, size_t len, sh_buf *out);

#endif
