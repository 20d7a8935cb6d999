/*
 * jsonl.c - fields of JSON records, and where a value lies in the line (see
 * jsonl.h).
 *
 * The scanner below never validates: it runs on lines jansson has accepted,
 * and only skips strings, scalars and nested containers to find the members
 * of an object. It is still bounded by the line's length on any input.
 */
#include "io/jsonl.h"

#include "util.h"

#include <stdlib.h>
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

/* s[i] is '"': the index after the closing quote, or len. The quotes are
 * found with memchr; one is the closing quote when an even number of
 * backslashes (all inside the string) stands before it. */
static size_t skip_string(const char *s, size_t len, size_t i)
{
    for (i++; i < len;) {
        const char *q = memchr(s + i, '"', len - i);
        if (!q)
            return len;
        size_t at = (size_t)(q - s), k = at;
        while (k > i && s[k - 1] == '\\')
            k--;
        if ((at - k) % 2 == 0)
            return at + 1;
        i = at + 1;
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

/* ------------------------------------------------ without jansson */

static void append(sh_buf *b, const char *p, size_t n)
{
    if (sh_buf_append(b, p, n) != SH_OK) {
        dd_error("out of memory");
        exit(DD_EXIT_ERROR);
    }
}

static int hex4(const char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

bool dd_jsonl_string(const char *s, size_t len, sh_buf *text)
{
    text->len = 0;
    if (len < 2 || s[0] != '"' || s[len - 1] != '"')
        return false;
    const char *p = s + 1, *end = s + len - 1;
    while (p < end) {
        const char *q = p;
        while (q < end && *q != '\\' && *q != '"' && (unsigned char)*q >= 0x20)
            q++;
        append(text, p, (size_t)(q - p));
        if (q == end)
            break;
        if (*q != '\\' || q + 1 >= end)
            return false;
        char c = q[1], out;
        p = q + 2;
        switch (c) {
        case '"':
            out = '"';
            break;
        case '\\':
            out = '\\';
            break;
        case '/':
            out = '/';
            break;
        case 'b':
            out = '\b';
            break;
        case 'f':
            out = '\f';
            break;
        case 'n':
            out = '\n';
            break;
        case 'r':
            out = '\r';
            break;
        case 't':
            out = '\t';
            break;
        case 'u': {
            int u = end - p >= 4 ? hex4(p) : -1;
            if (u < 0)
                return false;
            p += 4;
            long cp = u;
            if (u >= 0xD800 && u <= 0xDBFF) { /* a pair of surrogates */
                int lo = end - p >= 6 && p[0] == '\\' && p[1] == 'u' ? hex4(p + 2) : -1;
                if (lo < 0xDC00 || lo > 0xDFFF)
                    return false;
                p += 6;
                cp = 0x10000 + ((long)(u - 0xD800) << 10) + (lo - 0xDC00);
            } else if (u >= 0xDC00 && u <= 0xDFFF) {
                return false;
            }
            char utf8[4];
            size_t n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
            if (n == 1)
                utf8[0] = (char)cp;
            else if (n == 2)
                utf8[0] = (char)(0xC0 | (cp >> 6));
            else if (n == 3)
                utf8[0] = (char)(0xE0 | (cp >> 12));
            else
                utf8[0] = (char)(0xF0 | (cp >> 18));
            for (size_t i = 1; i < n; i++)
                utf8[i] = (char)(0x80 | ((cp >> (6 * (n - 1 - i))) & 0x3F));
            append(text, utf8, n);
            continue;
        }
        default:
            return false;
        }
        append(text, &out, 1);
    }
    append(text, "", 0);
    text->data[text->len] = '\0';
    return true;
}

/*
 * The check of dd_jsonl_surely_valid: JSON's grammar, and UTF-8 in its
 * strings. It answers "valid" only where jansson, as
 * dd_jsonl_parse calls it, surely accepts the line; whatever it does not
 * follow to the end (a key with an escape, which may hold \u0000; a number
 * with an exponent or of more than 300 characters, which may overflow a
 * double; nesting deeper than MAX_DEPTH) it leaves to jansson.
 */
#define MAX_DEPTH 64

static bool v_value(const char *s, size_t len, size_t *i, int depth);

/* The length of the UTF-8 sequence that starts s[0..n), 0 when it is not
 * a valid one (sh_utf8_check's rules: no overlong form, no surrogate,
 * nothing above U+10FFFF). */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
    unsigned c = s[0], lo = 0x80, hi = 0xBF;
    size_t need;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
    } else {
        return 0;
    }
    if (n < need || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t k = 2; k < need; k++)
        if ((s[k] & 0xC0) != 0x80)
            return 0;
    return need;
}

/* A string at s[*i] ('"'), its bytes valid UTF-8 (only a string may hold
 * bytes past ASCII: anywhere else the grammar refuses them). */
static bool v_string(const char *s, size_t len, size_t *i, bool key)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t j = *i + 1;
    for (;;) {
        while (j < len && u[j] != '"' && u[j] != '\\' && u[j] >= 0x20) {
            if (u[j] < 0x80) {
                j++;
                continue;
            }
            size_t n = utf8_sequence(u + j, len - j);
            if (!n)
                return false;
            j += n;
        }
        if (j >= len || u[j] < 0x20)
            return false;
        if (s[j] == '"') {
            *i = j + 1;
            return true;
        }
        if (key || j + 1 >= len) /* a key with an escape: jansson's */
            return false;
        char e = s[j + 1];
        if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' ||
            e == 't') {
            j += 2;
            continue;
        }
        int cp = e == 'u' && len - j >= 6 ? hex4(s + j + 2) : -1;
        if (cp < 0 || (cp >= 0xDC00 && cp <= 0xDFFF))
            return false;
        j += 6;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            int lo = len - j >= 6 && s[j] == '\\' && s[j + 1] == 'u' ? hex4(s + j + 2) : -1;
            if (lo < 0xDC00 || lo > 0xDFFF)
                return false;
            j += 6;
        }
    }
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static bool v_number(const char *s, size_t len, size_t *i)
{
    size_t j = *i;
    if (j < len && s[j] == '-')
        j++;
    if (j < len && s[j] == '0')
        j++;
    else if (j < len && s[j] >= '1' && s[j] <= '9')
        while (j < len && is_digit(s[j]))
            j++;
    else
        return false;
    if (j < len && s[j] == '.') {
        j++;
        if (j >= len || !is_digit(s[j]))
            return false;
        while (j < len && is_digit(s[j]))
            j++;
    }
    if ((j < len && (s[j] == 'e' || s[j] == 'E')) || j - *i > 300)
        return false;
    *i = j;
    return true;
}

static bool v_literal(const char *s, size_t len, size_t *i, const char *word)
{
    size_t n = strlen(word);
    if (len - *i < n || memcmp(s + *i, word, n))
        return false;
    *i += n;
    return true;
}

/* An object or an array at s[*i]. */
static bool v_container(const char *s, size_t len, size_t *i, int depth)
{
    char close = s[*i] == '{' ? '}' : ']';
    bool object = close == '}';
    if (depth > MAX_DEPTH)
        return false;
    size_t j = skip_space(s, len, *i + 1);
    if (j < len && s[j] == close) {
        *i = j + 1;
        return true;
    }
    for (;;) {
        if (object) {
            if (j >= len || s[j] != '"' || !v_string(s, len, &j, true))
                return false;
            j = skip_space(s, len, j);
            if (j >= len || s[j] != ':')
                return false;
            j = skip_space(s, len, j + 1);
        }
        if (!v_value(s, len, &j, depth + 1))
            return false;
        j = skip_space(s, len, j);
        if (j < len && s[j] == ',') {
            j = skip_space(s, len, j + 1);
            continue;
        }
        if (j < len && s[j] == close) {
            *i = j + 1;
            return true;
        }
        return false;
    }
}

static bool v_value(const char *s, size_t len, size_t *i, int depth)
{
    if (*i >= len)
        return false;
    switch (s[*i]) {
    case '"':
        return v_string(s, len, i, false);
    case '{':
    case '[':
        return v_container(s, len, i, depth);
    case 't':
        return v_literal(s, len, i, "true");
    case 'f':
        return v_literal(s, len, i, "false");
    case 'n':
        return v_literal(s, len, i, "null");
    default:
        return v_number(s, len, i);
    }
}

bool dd_jsonl_surely_valid(const char *line, size_t len)
{
    size_t i = skip_space(line, len, 0);
    if (i >= len || line[i] != '{' || !v_container(line, len, &i, 1))
        return false;
    return skip_space(line, len, i) == len;
}
