/*
 * index_settings.h - the settings a run would record in, or require of, a
 * persistent index (ddx.h), from its options.
 */
#ifndef DD_INDEX_SETTINGS_H
#define DD_INDEX_SETTINGS_H

#include "store/ddx.h"
#include "cmd/options.h"

/* Fills s from o (and the normaliser's profile). False after a message when
 * the options cannot be indexed (SimHash: the index holds MinHash
 * signatures). */
bool dd_index_settings(const dd_options *o, dd_ddx_settings *s);

#endif
