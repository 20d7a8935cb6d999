/*
 * jsonl.h - one JSON object per line (JSONL): reading a record's fields, and
 * finding where a value lies in the line's bytes so that the record can be
 * written back with one value replaced, or one member added, and every other
 * byte as it was.
 *
 * jansson parses and validates every line; this module only locates values
 * in lines that jansson has accepted, since jansson keeps no positions.
 * Re-serialising the whole record instead would change how its other values
 * are spelled (escapes, number formats, spaces) and lose integers too big for
 * 64 bits.
 */
#ifndef DD_JSONL_H
#define DD_JSONL_H

#include "shingle.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Parses line[0..len) with jansson: one JSON object, spaces (and a CR at the
 * end) around it allowed. Every integer is read as a real, so that integers
 * too big for 64 bits are accepted: a value written back (a cleaned text,
 * an id) is always taken from the line's bytes (dd_jsonl_value_span), never
 * from the parsed value, which would spell 42 as 42.0 and lose digits;
 * strings must be valid UTF-8 and may hold \u0000 (valid JSON, common in
 * crawls: a string's length, never a NUL, says where it ends), except in
 * keys, which jansson cannot hold. Returns the object (the caller
 * json_decref's it), or NULL with *why set to a new message (the caller
 * frees it), e.g. "not JSON: <jansson's reason> at column 17" or "not a JSON
 * object (an array)". */
json_t *dd_jsonl_parse(const char *line, size_t len, char **why);

/* The value at a dotted path in root ("text", "meta.body": each part a key
 * of an object; a key holding a dot cannot be named). Returns a borrowed
 * reference, or NULL with *why set to a new message: "no field 'meta.body'"
 * or "field 'meta' is not an object". */
json_t *dd_jsonl_get(json_t *root, const char *path, char **why);

/* A short name of the JSON type of v for messages: "a string", "a number",
 * "an object", "an array", "true", "false", "null". */
const char *dd_jsonl_type_name(const json_t *v);

/* The bytes [*start, *end) of the value at path in line, a line that
 * dd_jsonl_parse accepted. When an object holds a key twice, the last one
 * counts, as in jansson. Keys are compared after decoding their escapes.
 * False if the path is not in the line. */
bool dd_jsonl_value_span(const char *line, size_t len, const char *path, size_t *start,
                         size_t *end);

/* Where a new member goes at the end of the root object of line (accepted by
 * dd_jsonl_parse): *at is the offset of its closing brace, *empty whether it
 * has no members (so the new one needs no comma before it). */
bool dd_jsonl_object_end(const char *line, size_t len, size_t *at, bool *empty);

/* Whether line[0..len) is surely what dd_jsonl_parse accepts (one JSON
 * object, valid UTF-8), found without jansson, several times faster: true
 * only when jansson would accept it; false when it would not, or may not
 * (a key with an escape, a number with an exponent, deep nesting): then
 * ask dd_jsonl_parse, which also says why. */
bool dd_jsonl_surely_valid(const char *line, size_t len);

/* Decodes the JSON string s[0..len) (its quotes included), a value that
 * dd_jsonl_value_span found, into text (replacing its contents,
 * NUL-terminated), as jansson would decode it (\u0000 gives a NUL). False
 * when it is not a valid JSON string; its bytes are not checked to be
 * UTF-8 (the caller has: dd_jsonl_surely_valid, or a digest of what it
 * read before). */
bool dd_jsonl_string(const char *s, size_t len, sh_buf *text);

#endif
