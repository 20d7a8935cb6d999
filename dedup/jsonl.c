/*
 * jsonl.c - fields of JSON records, and where a value lies in the line (see
 * jsonl.h).
 *
 * The scanner below never validates: it runs on lines jansson has accepted,
 * and only skips strings, scalars and nested containers to find the members
 * of an object. It is still bounded by the line's length on any input.
 */
#include "jsonl.h"

#include "util.h"

#include <string.h>

json_t *dd_jsonl_parse(const char *line, size_t len, char **why)
{
    json_error_t err;
    json_t *v =
        json_loadb(line, len, JSON_DECODE_INT_AS_REAL | JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (!v) {
        *why = dd_asprintf("not JSON: %s at column %d", err.text, err.column);
        return NULL;
    }
    if (!json_is_object(v)) {
        *why = dd_asprintf("not a JSON object (%s)", dd_jsonl_type_name(v));
        json_decref(v);
        return NULL;
    }
    return v;
}

const char *dd_jsonl_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE: return "true";
    case JSON_FALSE: return "false";
    default: return "null";
    }
}

json_t *dd_jsonl_get(json_t *root, const char *path, char **why)
{
    json_t *v = root;
    const char *part = path;
    for (;;) {
        const char *dot = strchr(part, '.');
        size_t n = dot ? (size_t)(dot - part) : strlen(part);
        if (!json_is_object(v)) {
            *why = dd_asprintf("field '%.*s' is not an object", (int)(part - 1 - path), path);
            return NULL;
        }
        v = json_object_getn(v, part, n);
        if (!v) {
            *why = dd_asprintf("no field '%s'", path);
            return NULL;
        }
        if (!dot)
            return v;
        part = dot + 1;
    }
}

/* ------------------------------------------------------------ the scanner */

static size_t skip_space(const char *s, size_t len, size_t i)
{
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
        i++;
    return i;
}

/* s[i] is '"': the index after the closing quote, or len. */
static size_t skip_string(const char *s, size_t len, size_t i)
{
    for (i++; i < len; i++) {
        if (s[i] == '\\')
            i++;
        else if (s[i] == '"')
            return i + 1;
    }
    return len;
}

/* The index after the value that starts at s[i] (no space before it). */
static size_t skip_value(const char *s, size_t len, size_t i)
{
    if (i >= len)
        return len;
    if (s[i] == '"')
        return skip_string(s, len, i);
    if (s[i] == '{' || s[i] == '[') {
        size_t depth = 0;
        while (i < len) {
            char c = s[i];
            if (c == '"') {
                i = skip_string(s, len, i);
                continue;
            }
            if (c == '{' || c == '[')
                depth++;
            else if ((c == '}' || c == ']') && --depth == 0)
                return i + 1;
            i++;
        }
        return len;
    }
    while (i < len && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' && s[i] != '\t' &&
           s[i] != '\r' && s[i] != '\n')
        i++;
    return i;
}

/* Is the quoted key s[start..end) (quotes included) the name[0..n)? */
static bool key_is(const char *s, size_t start, size_t end, const char *name, size_t n)
{
    if (end - start < 2)
        return false;
    if (!memchr(s + start, '\\', end - start))
        return end - start - 2 == n && !memcmp(s + start + 1, name, n);
    json_t *k = json_loadb(s + start, end - start, JSON_DECODE_ANY, NULL);
    bool same = k && json_is_string(k) && json_string_length(k) == n &&
                !memcmp(json_string_value(k), name, n);
    json_decref(k);
    return same;
}

/* In the object at s[i] ('{'), the value of member name[0..n): its span,
 * the last one when the key is there twice (jansson keeps the last value
 * of a duplicated key). */
static bool find_member(const char *s, size_t len, size_t i, const char *name, size_t n,
                        size_t *start, size_t *end)
{
    if (i >= len || s[i] != '{')
        return false;
    bool found = false;
    i = skip_space(s, len, i + 1);
    while (i < len && s[i] == '"') {
        size_t key_end = skip_string(s, len, i);
        size_t v = skip_space(s, len, key_end);
        if (v >= len || s[v] != ':')
            return false;
        v = skip_space(s, len, v + 1);
        size_t v_end = skip_value(s, len, v);
        if (v_end == v || v_end > len)
            return false;
        if (key_is(s, i, key_end, name, n)) {
            *start = v;
            *end = v_end;
            found = true;
        }
        i = skip_space(s, len, v_end);
        if (i < len && s[i] == ',')
            i = skip_space(s, len, i + 1);
    }
    return found;
}

bool dd_jsonl_value_span(const char *line, size_t len, const char *path, size_t *start,
                         size_t *end)
{
    size_t obj = skip_space(line, len, 0), s = 0, e = 0;
    const char *part = path;
    for (;;) {
        const char *dot = strchr(part, '.');
        size_t n = dot ? (size_t)(dot - part) : strlen(part);
        if (!find_member(line, len, obj, part, n, &s, &e))
            return false;
        if (!dot)
            break;
        obj = s;
        part = dot + 1;
    }
    *start = s;
    *end = e;
    return true;
}

bool dd_jsonl_object_end(const char *line, size_t len, size_t *at, bool *empty)
{
    size_t i = skip_space(line, len, 0);
    if (i >= len || line[i] != '{')
        return false;
    size_t end = skip_value(line, len, i);
    if (end > len || end < i + 2 || line[end - 1] != '}')
        return false;
    *at = end - 1;
    *empty = skip_space(line, len, i + 1) == end - 1;
    return true;
}
