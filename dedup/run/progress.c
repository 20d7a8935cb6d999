/*
 * progress.c - see progress.h.
 */
#include "run/progress.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

/* Seconds between two drawings of the line: a few times a second. */
#define REDRAW_SECONDS 0.25

/* The progress whose line is on the screen, for dd_progress_clear. */
static dd_progress *on_screen;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void dd_progress_start(dd_progress *p, const char *name, const char *items, bool quiet)
{
    *p = (dd_progress){.on = !quiet && isatty(STDERR_FILENO), .name = name, .items = items};
    p->start = now();
    p->last = p->start - REDRAW_SECONDS; /* the first update draws at once */
}

void dd_progress_stage(dd_progress *p, const char *stage)
{
    p->stage = stage;
    p->start = now();
    p->last = p->start - REDRAW_SECONDS;
    p->n = p->bytes = 0;
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
    if (width < p->width)
        fprintf(stderr, "%*s", p->width - width, "");
    if (width > p->width)
        p->width = width;
    p->last = t;
    on_screen = p;
}

void dd_progress_update(dd_progress *p, uint64_t n, uint64_t bytes)
{
    if (!p->on)
        return;
    p->n = n;
    p->bytes = bytes;
    double t = now();
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
    p->last = now() - REDRAW_SECONDS; /* drawn again at the next update */
    on_screen = NULL;
}

void dd_progress_end(dd_progress *p, bool keep)
{
    if (!p->on)
        return;
    if (keep) {
        draw(p, now());
        fputc('\n', stderr);
        p->width = 0;
        on_screen = NULL;
    } else if (on_screen == p) {
        dd_progress_clear();
    }
    p->on = false;
}
