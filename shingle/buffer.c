/*
 * buffer.c - status strings, growable buffers, UTF-8 checking.
 */
#include "shingle.h"

#include <stdlib.h>
#include <string.h>

const char *sh_status_str(sh_status st)
{
    switch (st) {
    case SH_OK: return "success";
    case SH_ERR_NOMEM: return "out of memory";
    case SH_ERR_INVALID_ARG: return "invalid argument";
    case SH_ERR_BAD_UTF8: return "invalid UTF-8";
    case SH_ERR_ICU: return "ICU error";
    case SH_ERR_TOO_LONG: return "text too long";
    }
    return "unknown error";
}

void sh_buf_free(sh_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

sh_status sh_buf_reserve(sh_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return SH_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1) {
        if (cap > SIZE_MAX / 2)
            return SH_ERR_NOMEM;
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (!p)
        return SH_ERR_NOMEM;
    b->data = p;
    b->cap = cap;
    return SH_OK;
}

sh_status sh_buf_append(sh_buf *b, const char *s, size_t n)
{
    sh_status st = sh_buf_reserve(b, n);
    if (st != SH_OK)
        return st;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return SH_OK;
}

size_t sh_utf8_check(const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < len) {
        /* ASCII runs, eight bytes at a time. */
        while (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ULL)
                break;
            i += 8;
        }
        if (i >= len)
            break;
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0)
                lo = 0xA0; /* no overlong forms */
            if (c == 0xED)
                hi = 0x9F; /* no surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0)
                lo = 0x90;
            if (c == 0xF4)
                hi = 0x8F; /* nothing above U+10FFFF */
        } else {
            return i; /* 0x80..0xC1 and 0xF5..0xFF never start a sequence */
        }
        if (need > len - i - 1)
            return i; /* truncated at the end of the text */
        if (s[i + 1] < lo || s[i + 1] > hi)
            return i;
        for (size_t k = 2; k <= need; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
        i += need + 1;
    }
    return len;
}
