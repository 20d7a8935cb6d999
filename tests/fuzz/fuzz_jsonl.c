/*
 * fuzz_jsonl.c - libFuzzer target: arbitrary lines through the JSONL
 * reader (dedup/io/jsonl.h).
 *
 * The first byte chooses the field path ("text", "id", "meta.body"); the
 * rest is the line. Asserts: a line that dd_jsonl_parse accepts is an
 * object; when the path names a string there, dd_jsonl_value_span finds
 * bytes inside the line that jansson decodes to the same string, and
 * splicing another string there gives a line that parses again; the end of
 * the object lies inside the line, on a closing brace. A rejected line comes
 * with a reason. dd_jsonl_surely_valid never accepts a line that jansson
 * rejects, and dd_jsonl_string decodes a string value as jansson does.
 */
#include "io/jsonl.h"
#include "fuzz_check.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *paths[] = {"text", "id", "meta.body"};
    if (size == 0)
        return 0;
    const char *path = paths[data[0] % 3];
    const char *line = (const char *)data + 1;
    size_t len = size - 1;
    char *why = NULL;
    json_t *root = dd_jsonl_parse(line, len, &why);
    bool surely = dd_jsonl_surely_valid(line, len);
    if (!root) {
        CHECK(why && *why);
        CHECK(!surely);
        free(why);
        return 0;
    }
    CHECK(json_is_object(root));
    size_t at;
    bool empty;
    CHECK(dd_jsonl_object_end(line, len, &at, &empty));
    CHECK(at < len && line[at] == '}');
    CHECK(empty == (json_object_size(root) == 0));
    json_t *v = dd_jsonl_get(root, path, &why);
    if (!v) {
        CHECK(why);
        free(why);
    } else if (json_is_string(v)) {
        size_t start, end;
        CHECK(dd_jsonl_value_span(line, len, path, &start, &end));
        CHECK(start < end && end <= len);
        json_error_t err;
        json_t *again =
            json_loadb(line + start, end - start, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
        CHECK(again && json_is_string(again));
        CHECK(json_string_length(again) == json_string_length(v) &&
              !memcmp(json_string_value(again), json_string_value(v), json_string_length(v)));
        json_decref(again);
        sh_buf text = {0};
        CHECK(dd_jsonl_string(line + start, end - start, &text));
        CHECK(text.len == json_string_length(v) &&
              !memcmp(text.data, json_string_value(v), text.len));
        sh_buf_free(&text);
        /* The record with that value replaced still parses. */
        size_t n = start + 5 + (len - end);
        char *spliced = malloc(n + 1);
        CHECK(spliced);
        memcpy(spliced, line, start);
        memcpy(spliced + start, "\"new\"", 5);
        memcpy(spliced + start + 5, line + end, len - end);
        json_t *root2 = dd_jsonl_parse(spliced, n, &why);
        CHECK(root2);
        json_t *v2 = dd_jsonl_get(root2, path, &why);
        CHECK(v2 && json_is_string(v2) && !strcmp(json_string_value(v2), "new"));
        json_decref(root2);
        free(spliced);
    }
    json_decref(root);
    return 0;
}
