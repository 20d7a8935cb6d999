/*
 * units.c - a corpus's units, in memory or in a scratch file (units.h).
 */
#include "run/units.h"

void dd_units_init(dd_units *s, size_t max_bytes, const char *dir)
{
    dd_scratch_array_init(s, sizeof(dd_unit), max_bytes, dir, "paragraphs");
}

void dd_units_free(dd_units *s) { dd_scratch_array_free(s); }

bool dd_units_append(dd_units *s, const dd_unit *v, size_t n, char **err)
{
    return dd_scratch_array_append(s, v, n, err);
}

dd_unit dd_units_get(const dd_units *s, size_t i)
{
    return *(const dd_unit *)dd_scratch_array_get(s, i);
}

const dd_unit *dd_units_span(const dd_units *s, size_t first, size_t n, dd_unit **buf, size_t *cap)
{
    return dd_scratch_array_span(s, first, n, buf, cap);
}

size_t dd_units_memory_bytes(const dd_units *s) { return dd_scratch_array_memory_bytes(s); }

uint64_t dd_units_scratch_bytes(const dd_units *s) { return dd_scratch_array_scratch_bytes(s); }
