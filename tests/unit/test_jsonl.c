/*
 * test_jsonl.c - unit tests of jsonl.c: parse errors, dotted fields, and the
 * byte spans that dedup filter splices, checked by splicing and comparing
 * whole lines.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "io/jsonl.h"
#include "shingle.h"

/* line with the value at path replaced by repl, as filter writes it. */
static char *splice(const char *line, const char *path, const char *repl)
{
    size_t start, end, len = strlen(line);
    if (!dd_jsonl_value_span(line, len, path, &start, &end))
        return NULL;
    assert_true(start < end && end <= len);
    char *out = malloc(len + strlen(repl) + 1);
    memcpy(out, line, start);
    strcpy(out + start, repl);
    strcat(out, line + end);
    return out;
}

static void expect_splice(const char *line, const char *path, const char *repl, const char *want)
{
    char *why = NULL;
    json_t *root = dd_jsonl_parse(line, strlen(line), &why);
    assert_non_null(root);
    json_decref(root);
    char *got = splice(line, path, repl);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void spans_of_values(void **state)
{
    (void)state;
    expect_splice("{\"text\":\"a\"}", "text", "\"B\"", "{\"text\":\"B\"}");
    /* not first, not last, spaces everywhere, CRLF */
    expect_splice("  { \"id\" : 7 , \"text\" :  \"x \\\" } ]\" , \"n\": -1.5e3 }\r", "text", "\"y\"",
                  "  { \"id\" : 7 , \"text\" :  \"y\" , \"n\": -1.5e3 }\r");
    /* nested, after arrays of objects and strings holding braces */
    expect_splice("{\"a\":[{\"text\":\"no\"},\"}\"],\"meta\":{\"x\":{},\"body\":\"old\"},\"z\":1}",
                  "meta.body", "\"new\"",
                  "{\"a\":[{\"text\":\"no\"},\"}\"],\"meta\":{\"x\":{},\"body\":\"new\"},\"z\":1}");
    /* an escaped key names the same field */
    expect_splice("{\"te\\u0078t\":\"old\",\"other\":true}", "text", "\"new\"",
                  "{\"te\\u0078t\":\"new\",\"other\":true}");
    /* a key twice: the last counts, as in jansson */
    const char *dup = "{\"text\":\"first\",\"text\":\"second\"}";
    char *why = NULL;
    json_t *root = dd_jsonl_parse(dup, strlen(dup), &why);
    assert_non_null(root);
    assert_string_equal(json_string_value(dd_jsonl_get(root, "text", &why)), "second");
    json_decref(root);
    expect_splice(dup, "text", "\"new\"", "{\"text\":\"first\",\"text\":\"new\"}");
    /* a 30-digit number and a unicode escape before it */
    expect_splice("{\"big\":123456789012345678901234567890,\"u\":\"caf\\u00e9\",\"text\":\"t\"}",
                  "text", "1", "{\"big\":123456789012345678901234567890,\"u\":\"caf\\u00e9\",\"text\":1}");
}

/* An id is written back (filter --annotate) as the bytes of its value in
 * the line: jansson's value is no way to spell it, since it reads every
 * integer as a real (42 would come back as 42.0, 1234567890123456789 as
 * 1.23456789e18). The span is exactly the value as written, whatever its
 * type and size, with the spaces around it left out. */
static void spans_of_ids(void **state)
{
    (void)state;
    const char *ids[] = {"42",  "1234567890123456789", "123456789012345678901234567890",
                         "1.50", "1e3", "-0", "-7", "\"s\\u00e9\"", "\"a\\\"b\\\\c\"",
                         "{\"a\": [1, 2.0], \"b\":{}}", "[1 ,\"x\"]", "true", "null"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        const char *layouts[] = {"{\"id\":%s,\"text\":\"t\"}", "{\"text\":\"t\", \"id\" :  %s  }",
                                 "{\"meta\":{\"x\":1,\"id\":%s},\"text\":\"t\"}"};
        for (size_t l = 0; l < 3; l++) {
            char line[256];
            snprintf(line, sizeof line, layouts[l], ids[i]);
            char *why = NULL;
            json_t *root = dd_jsonl_parse(line, strlen(line), &why);
            if (!root)
                fail_msg("%s: %s", line, why);
            const char *path = l == 2 ? "meta.id" : "id";
            assert_non_null(dd_jsonl_get(root, path, &why));
            size_t s, e;
            assert_true(dd_jsonl_value_span(line, strlen(line), path, &s, &e));
            if (e - s != strlen(ids[i]) || memcmp(line + s, ids[i], e - s) != 0)
                fail_msg("%s: the id's span is '%.*s', not '%s'", line, (int)(e - s), line + s,
                         ids[i]);
            if (i == 0) /* why the bytes, not the value: 42 is read as a real */
                assert_true(json_is_real(dd_jsonl_get(root, path, &why)));
            json_decref(root);
        }
    }
}

static void missing_paths(void **state)
{
    (void)state;
    size_t s, e;
    const char *line = "{\"text\":\"a string\",\"meta\":{\"body\":1}}";
    assert_false(dd_jsonl_value_span(line, strlen(line), "body", &s, &e));
    assert_false(dd_jsonl_value_span(line, strlen(line), "text.x", &s, &e));
    assert_false(dd_jsonl_value_span(line, strlen(line), "meta.title", &s, &e));
    assert_true(dd_jsonl_value_span(line, strlen(line), "meta.body", &s, &e));
    assert_int_equal(e - s, 1);
    assert_int_equal(line[s], '1');
}

static void object_end(void **state)
{
    (void)state;
    size_t at;
    bool empty;
    const char *a = "{\"text\":\"x\"}  \r";
    assert_true(dd_jsonl_object_end(a, strlen(a), &at, &empty));
    assert_int_equal(at, 11);
    assert_false(empty);
    const char *b = " {  } ";
    assert_true(dd_jsonl_object_end(b, strlen(b), &at, &empty));
    assert_int_equal(at, 4);
    assert_true(empty);
}

static void expect_parse_error(const char *line, const char *want_prefix)
{
    char *why = NULL;
    json_t *root = dd_jsonl_parse(line, strlen(line), &why);
    assert_null(root);
    assert_non_null(why);
    if (strncmp(why, want_prefix, strlen(want_prefix)) != 0)
        fail_msg("'%s' does not start with '%s'", why, want_prefix);
    free(why);
}

/* \u0000 in a string value is accepted: the string holds the NUL, and its
 * length, not the NUL, says where it ends. */
static void nul_in_values(void **state)
{
    (void)state;
    const char *line = "{\"text\": \"nul \\u0000 inside\", \"id\": [\"a\\u0000\"]}";
    char *why = NULL;
    json_t *root = dd_jsonl_parse(line, strlen(line), &why);
    assert_non_null(root);
    assert_null(why);
    json_t *text = dd_jsonl_get(root, "text", &why);
    assert_non_null(text);
    assert_int_equal(json_string_length(text), 12);
    assert_memory_equal(json_string_value(text), "nul \0 inside", 12);
    size_t start, end;
    assert_true(dd_jsonl_value_span(line, strlen(line), "text", &start, &end));
    assert_int_equal(start, 9);
    assert_int_equal(end, 28);
    json_decref(root);
}

static void parse_errors(void **state)
{
    (void)state;
    expect_parse_error("{\"text\": \"unfinished", "not JSON: ");
    expect_parse_error("{\"text\": 1} trailing", "not JSON: ");
    expect_parse_error("[1, 2]", "not a JSON object (an array)");
    expect_parse_error("\"text\"", "not a JSON object (a string)");
    expect_parse_error("{\"text\": \"bad \xff byte\"}", "not JSON: ");
    /* \u0000 is valid JSON in a value, but jansson cannot hold it in a key */
    expect_parse_error("{\"te\\u0000xt\": \"x\"}", "not JSON: ");
    expect_parse_error("", "not JSON: ");
    /* ten thousand levels: jansson's depth limit, an error, not a crash */
    size_t depth = 10000;
    char *deep = malloc(2 * depth + 16);
    strcpy(deep, "{\"a\":");
    size_t n = strlen(deep);
    for (size_t i = 0; i < depth; i++)
        deep[n++] = '[';
    for (size_t i = 0; i < depth; i++)
        deep[n++] = ']';
    deep[n++] = '}';
    deep[n] = '\0';
    expect_parse_error(deep, "not JSON: ");
    /* the scanner on it stays in bounds */
    size_t s, e, at;
    bool empty;
    assert_true(dd_jsonl_value_span(deep, n, "a", &s, &e));
    assert_int_equal(e, n - 1);
    assert_true(dd_jsonl_object_end(deep, n, &at, &empty));
    free(deep);
}

static void fields(void **state)
{
    (void)state;
    const char *line = "{\"text\":42,\"meta\":{\"body\":\"b\"},\"s\":\"x\"}";
    char *why = NULL;
    json_t *root = dd_jsonl_parse(line, strlen(line), &why);
    assert_non_null(root);
    assert_string_equal(json_string_value(dd_jsonl_get(root, "meta.body", &why)), "b");
    assert_string_equal(dd_jsonl_type_name(dd_jsonl_get(root, "text", &why)), "a number");
    assert_null(dd_jsonl_get(root, "meta.title", &why));
    assert_string_equal(why, "no field 'meta.title'");
    free(why);
    assert_null(dd_jsonl_get(root, "s.x", &why));
    assert_string_equal(why, "field 's' is not an object");
    free(why);
    json_decref(root);
}

/* Garbage never makes the scanner read out of bounds (the ASan build
 * checks): truncated strings, unbalanced brackets, random bytes. */
static void garbage(void **state)
{
    (void)state;
    const char *cases[] = {"{\"text\":\"abc", "{\"text\"", "{\"text\":", "{{{{", "{\"a\":[1,2",
                           "{\"\\", "{\"text\":\"a\\", "}", ""};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = strlen(cases[i]), s = 0, e = 0, at;
        bool empty;
        if (dd_jsonl_value_span(cases[i], len, "text", &s, &e))
            assert_true(s <= e && e <= len);
        if (dd_jsonl_object_end(cases[i], len, &at, &empty))
            assert_true(at < len);
    }
    uint64_t x = 88172645463325252ULL;
    char buf[64];
    for (int round = 0; round < 20000; round++) {
        size_t len = (size_t)(round % 63) + 1;
        for (size_t i = 0; i < len; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf[i] = "{}[]\":,\\ta x1"[x % 14];
        }
        char *heap = malloc(len); /* exact size, so ASan sees any overrun */
        memcpy(heap, buf, len);
        size_t s = 0, e = 0, at;
        bool empty;
        if (dd_jsonl_value_span(heap, len, "a", &s, &e))
            assert_true(s <= e && e <= len);
        if (dd_jsonl_object_end(heap, len, &at, &empty))
            assert_true(at < len);
        free(heap);
    }
}

/* dd_jsonl_surely_valid says "valid" only where jansson accepts the line,
 * and the text dd_jsonl_string decodes is jansson's, byte for byte. */
static void expect_fast(const char *line, size_t len, bool fast)
{
    char *why = NULL;
    json_t *root = dd_jsonl_parse(line, len, &why);
    bool valid = dd_jsonl_surely_valid(line, len);
    assert_int_equal(valid, fast);
    if (valid) {
        assert_non_null(root);
        size_t s, e;
        if (dd_jsonl_value_span(line, len, "text", &s, &e) && line[s] == '"') {
            sh_buf text = {0};
            assert_true(dd_jsonl_string(line + s, e - s, &text));
            json_t *v = json_object_get(root, "text");
            assert_int_equal(text.len, json_string_length(v));
            assert_memory_equal(text.data, json_string_value(v), text.len);
            sh_buf_free(&text);
        }
    }
    json_decref(root);
    free(why);
}

static void without_jansson(void **state)
{
    (void)state;
    const char *valid[] = {
        "{\"id\":1,\"text\":\"a\\nb \\\"q\\\" \\/ \\t\\u00e9\\u0000x\\ud83d\\ude00\"}",
        "  {\"text\":\"\xd8\xa7\xd9\x84\xd9\x86\xd8\xb5\", "
        "\"a\":[1,-2.5,true,false,null,{}],\"b\":{\"c\":[]}}\r",
        "{}",
        "{\"text\":\"\",\"n\":-0,\"m\":12345678901234567890123}",
    };
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++)
        expect_fast(valid[i], strlen(valid[i]), true);
    /* jansson's to decide: it refuses some, accepts others */
    const char *not_fast[] = {
        "{\"te\\u0078t\":\"a\"}", /* an escape in a key */
        "{\"k\\u0000\":1}",       /* \u0000 in a key: jansson refuses */
        "{\"n\":1e999}",          /* overflows a double */
        "{\"n\":1.5e3}",          /* an exponent */
        "{\"text\":\"\\ud800\"}", /* a lone surrogate */
        "{\"text\":\"\\udc00x\"}",
        "{\"text\":\"a\tb\"}",    /* a raw control character */
        "{\"text\":\"caf\xe9\"}", /* not UTF-8 */
        "{\"a\":1,}",             /* trailing comma */
        "{\"a\":01}",
        "{\"a\":1} x",
        "{\"a\" 1}",
        "[1,2]",
        "{\"a\":tru}",
        "{\"a\":\"\\x\"}",
        "{\"a\":-}",
        "{\"a\":1.}",
        "",
    };
    for (size_t i = 0; i < sizeof not_fast / sizeof not_fast[0]; i++)
        expect_fast(not_fast[i], strlen(not_fast[i]), false);
    /* Deep nesting is left to jansson (which refuses past 2048). */
    char deep[512];
    size_t n = 0;
    deep[n++] = '{';
    const char *open = "\"a\":";
    for (int i = 0; i < 70; i++) {
        memcpy(deep + n, open, 4);
        n += 4;
        deep[n++] = '{';
    }
    for (int i = 0; i < 71; i++)
        deep[n++] = '}';
    expect_fast(deep, n, false);
    /* Random lines: never out of bounds, never valid where jansson is not. */
    uint64_t x = 2463534242ULL;
    char buf[48];
    for (int round = 0; round < 50000; round++) {
        size_t len = (size_t)(round % 47) + 1;
        buf[0] = '{';
        for (size_t i = 1; i < len; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf[i] = "{}[]\":,\\tu01e.-aux9 "[x % 20];
        }
        char *heap = malloc(len);
        memcpy(heap, buf, len);
        char *why = NULL;
        json_t *root = dd_jsonl_parse(heap, len, &why);
        if (dd_jsonl_surely_valid(heap, len))
            assert_non_null(root);
        json_decref(root);
        free(why);
        free(heap);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(spans_of_values), cmocka_unit_test(missing_paths),
        cmocka_unit_test(object_end),      cmocka_unit_test(parse_errors),
        cmocka_unit_test(fields),          cmocka_unit_test(garbage),
        cmocka_unit_test(spans_of_ids),    cmocka_unit_test(nul_in_values),
        cmocka_unit_test(without_jansson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
