/*
 * document.c - cutting a document into units and keying them.
 */
#include "engine/document.h"

#include "util.h"

#include <stdlib.h>
#include <string.h>

bool dd_analyzer_init(dd_analyzer *a, dd_unit_mode mode, const sh_hasher *hash, dd_notes *notes)
{
    sh_status st;
    memset(a, 0, sizeof *a);
    a->mode = mode;
    a->hash = hash;
    a->norm = sh_normalizer_new(NULL, &st);
    if (a->norm)
        a->tok = sh_tokenizer_new(&st);
    if (!a->norm || !a->tok) {
        dd_note_add(notes, DD_NOTE_ERROR, "cannot start the normaliser: %s", sh_status_str(st));
        dd_analyzer_free(a);
        return false;
    }
    return true;
}

void dd_analyzer_free(dd_analyzer *a)
{
    sh_tokenizer_free(a->tok);
    sh_normalizer_free(a->norm);
    a->tok = NULL;
    a->norm = NULL;
}

void dd_doc_free(dd_doc *doc)
{
    free(doc->units);
    sh_tokens_free(&doc->words);
    sh_buf_free(&doc->scratch);
    memset(doc, 0, sizeof *doc);
}

static bool is_blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\f' && s[i] != '\v')
            return false;
    return true;
}

/* Normalises, splits and keys the unit text[off..off+len) and appends it to
 * doc unless it has no words. */
static sh_status add_unit(dd_analyzer *a, dd_doc *doc, const char *text, size_t off, size_t len,
                          size_t line_end, size_t first_line, size_t last_line)
{
    size_t before = doc->words.n;
    sh_status st = sh_words(a->norm, a->tok, text + off, len, &doc->scratch, &doc->words);
    if (st != SH_OK)
        return st;
    size_t words = doc->words.n - before;
    if (words == 0)
        return SH_OK;
    if (words > UINT32_MAX)
        return SH_ERR_TOO_LONG;
    dd_grow(&doc->units, &doc->units_cap, doc->nunits + 1, sizeof *doc->units);
    dd_unit *u = &doc->units[doc->nunits++];
    const sh_token *w0 = &doc->words.v[before], *w1 = &doc->words.v[doc->words.n - 1];
    u->off = off;
    u->len = len;
    u->line_end = (uint8_t)line_end;
    u->bom = off == 0 && len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3) ? 3 : 0;
    u->first_line = first_line;
    u->last_line = last_line;
    u->first_word = before;
    u->words = (uint32_t)words;
    u->key = sh_key_of(doc->words.text.data + w0->off, w1->off + w1->len - w0->off, a->hash);
    return SH_OK;
}

sh_status dd_analyze(dd_analyzer *a, const char *text, size_t len, dd_doc *doc)
{
    doc->nunits = 0;
    sh_tokens_clear(&doc->words);
    size_t line = 1, pos = 0;
    size_t block_off = 0, block_line = 0, block_end = 0, block_last = 0, block_line_end = 0;
    bool in_block = false;
    sh_status st = SH_OK;
    while (pos < len && st == SH_OK) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len; /* end of the line's content */
        size_t content_end = end;
        if (content_end > pos && text[content_end - 1] == '\r')
            content_end--;
        size_t line_end = end - content_end + (nl != NULL); /* "\r" and "\n" */
        bool blank = is_blank(text + pos, content_end - pos);
        if (a->mode == DD_UNIT_LINE) {
            if (!blank)
                st = add_unit(a, doc, text, pos, content_end - pos, line_end, line, line);
        } else if (!blank) {
            if (!in_block) {
                in_block = true;
                block_off = pos;
                block_line = line;
            }
            block_end = content_end;
            block_line_end = line_end;
            block_last = line;
        } else if (in_block) {
            st = add_unit(a, doc, text, block_off, block_end - block_off, block_line_end,
                          block_line, block_last);
            in_block = false;
        }
        pos = end + 1;
        line++;
    }
    if (st == SH_OK && in_block)
        st = add_unit(a, doc, text, block_off, block_end - block_off, block_line_end, block_line,
                      block_last);
    if (st == SH_OK)
        doc->key = sh_key_of(doc->words.text.data ? doc->words.text.data : "", doc->words.text.len,
                             a->hash);
    return st;
}
