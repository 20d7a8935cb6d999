/*
 * base.c - the engine's messages (see base.h).
 */
#include "engine/base.h"

#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dd_note_add(dd_notes *notes, dd_note_kind kind, const char *fmt, ...)
{
    if (!notes)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *text = dd_malloc(n > 0 ? (size_t)n + 1 : 1);
    va_start(ap, fmt);
    vsnprintf(text, n > 0 ? (size_t)n + 1 : 1, fmt, ap);
    va_end(ap);
    dd_grow(&notes->v, &notes->cap, notes->n + 1, sizeof *notes->v);
    notes->v[notes->n++] = (dd_note){kind, text};
}

void dd_notes_move(dd_notes *to, dd_notes *from)
{
    if (!from->n)
        return;
    dd_grow(&to->v, &to->cap, to->n + from->n, sizeof *to->v);
    memcpy(to->v + to->n, from->v, from->n * sizeof *from->v);
    to->n += from->n;
    from->n = 0;
}

void dd_notes_clear(dd_notes *notes)
{
    for (size_t i = 0; i < notes->n; i++)
        free(notes->v[i].text);
    notes->n = 0;
}

void dd_notes_free(dd_notes *notes)
{
    dd_notes_clear(notes);
    free(notes->v);
    memset(notes, 0, sizeof *notes);
}
