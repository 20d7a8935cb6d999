/*
 * progress.c - see progress.h.
 */
#include "run/progress.h"

#include "util.h"

#include <stdio.h>
#include <unistd.h>

/* Seconds between two drawings of the line: a few times a second. */
#define REDRAW_SECONDS 0.25

/* The progress whose line is on the screen, for dd_progress_clear. */
static dd_progress *on_screen;

void dd_progress_start(dd_progress *p, const char *name, const char *items, bool quiet)
{
    *p = (dd_progress){.on = !quiet && isatty(STDERR_FILENO), .name = name, .items = items};
    p->start = dd_monotonic_seconds();
    p->last = p->start - REDRAW_SECONDS; /* the first update draws at once */
}

void dd_progress_stage(dd_progress *p, const char *stage)
{
    p->stage = stage;
    p->start = dd_monotonic_seconds();
    p->last = p->start - REDRAW_SECONDS;
    p->n = p->bytes = p->expected = 0;
}

void dd_progress_expect(dd_progress *p, uint64_t bytes) { p->expected = bytes; }

/* Writes "1h02m", "3m05s" or "12s" to out. */
static void format_seconds(char *out, size_t size, double secs)
{
    unsigned long s = secs < 0 ? 0 : (unsigned long)(secs + 0.5);
    if (s >= 3600)
        snprintf(out, size, "%luh%02lum", s / 3600, s / 60 % 60);
    else if (s >= 60)
        snprintf(out, size, "%lum%02lus", s / 60, s % 60);
    else
        snprintf(out, size, "%lus", s);
}

/* Ends the line drawn so far: spaces over what is left of a longer line
 * before it. width: what was just written. */
static void finish_line(dd_progress *p, int width, double t)
{
    if (width < p->width)
        fprintf(stderr, "%*s", p->width - width, "");
    if (width > p->width)
        p->width = width;
    p->last = t;
    on_screen = p;
}

void dd_progress_phase(dd_progress *p, const char *phase)
{
    dd_progress_stage(p, phase);
    if (!p->on)
        return;
    finish_line(p, fprintf(stderr, "\r%s: %s", p->name, phase) - 1, dd_monotonic_seconds());
}

/* Draws the line over the one on the screen: "\r", the text, and spaces
 * over what is left of a longer line before it. */
static void draw(dd_progress *p, double t)
{
    double mb = (double)p->bytes / 1e6, secs = t - p->start;
    int width = fprintf(stderr, "\r%s: %s%s%llu %s%s, %.1f MB, %.1f MB/s", p->name,
                        p->stage ? p->stage : "", p->stage ? ": " : "", (unsigned long long)p->n,
                        p->items, p->n == 1 ? "" : "s", mb, secs > 0.05 ? mb / secs : 0.0) -
                1;
    if (p->expected && p->bytes <= p->expected) {
        width += fprintf(stderr, ", %d%%", (int)(100.0 * (double)p->bytes / (double)p->expected));
        if (p->bytes && secs >= 1.0) { /* too soon, the speed says little */
            char left[32];
            format_seconds(left, sizeof left,
                           secs * (double)(p->expected - p->bytes) / (double)p->bytes);
            width += fprintf(stderr, ", %s left", left);
        }
    }
    finish_line(p, width, t);
}

void dd_progress_update(dd_progress *p, uint64_t n, uint64_t bytes)
{
    if (!p->on)
        return;
    p->n = n;
    p->bytes = bytes;
    double t = dd_monotonic_seconds();
    if (t - p->last >= REDRAW_SECONDS)
        draw(p, t);
}

void dd_progress_clear(void)
{
    dd_progress *p = on_screen;
    if (!p)
        return;
    fprintf(stderr, "\r%*s\r", p->width, "");
    p->width = 0;
    p->last = dd_monotonic_seconds() - REDRAW_SECONDS; /* drawn again at the next update */
    on_screen = NULL;
}

void dd_progress_end(dd_progress *p, bool keep)
{
    if (!p->on)
        return;
    if (keep) {
        draw(p, dd_monotonic_seconds());
        fputc('\n', stderr);
        p->width = 0;
        on_screen = NULL;
    } else if (on_screen == p) {
        dd_progress_clear();
    }
    p->on = false;
}
