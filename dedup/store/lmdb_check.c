/*
 * lmdb_check.c - see lmdb_check.h.
 *
 * LMDB's on-disk structures, as mdb.c (0.9) declares them, in the byte order
 * and layout of the machine (LMDB writes its structs as they are in memory):
 *   page header: page number (size_t), pad (2), flags (2), then the lower
 *     and upper bounds of the free space (2 each), or for an overflow page
 *     the count of its pages (4); PAGE_HEADER bytes in all. After it, a
 *     branch or leaf page has the offsets (2 bytes each, in key order) of its
 *     nodes, which sit at the end of the page; a LEAF2 page (duplicates of a
 *     fixed size) has the values themselves, packed.
 *   node: data size low and high 16 bits (on a branch: the child's page
 *     number's, whose top 16 bits are the flags field), flags (2), key size
 *     (2), the key, then the data (or, F_BIGDATA, the number of the first
 *     overflow page holding it).
 *   table record (MDB_db): pad (4; the value size of LEAF2 pages), flags (2),
 *     depth (2), branch, leaf and overflow page counts, entries, root page
 *     (size_t each).
 *   header (MDB_meta, after the page header of pages 0 and 1): magic (4),
 *     version (4), address (pointer), map size (size_t), the free-page
 *     table's record (whose pad is the page size) and the main table's, last
 *     page (size_t), transaction id (size_t).
 */
#include "store/lmdb_check.h"

#include "util.h"

#include <lmdb.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WORD sizeof(size_t)      /* a page number, a count, a txn id */
#define PAGE_HEADER (WORD + 8)   /* mdb.c's PAGEHDRSZ */
#define NODE_HEADER 8            /* mdb.c's NODESIZE */
#define DB_RECORD (8 + 5 * WORD) /* sizeof(MDB_db) */
#define META_MAGIC 0xBEEFC0DEu
#define META_VERSION 1
#define META_PAGES 2         /* pages 0 and 1 */
#define MAX_KEY 511          /* MDB_MAXKEYSIZE */
#define MAX_DEPTH 32         /* CURSOR_STACK: LMDB's deepest tree */
#define NO_PAGE ((size_t)-1) /* P_INVALID: an empty tree's root */
#define MIN_PAGE_SIZE 4096
#define MAX_PAGE_SIZE 32768 /* MAX_PAGESIZE */

/* Offsets in the header, from the end of page 0's or 1's page header. */
#define META_FREE_DB (8 + 2 * WORD)
#define META_MAIN_DB (META_FREE_DB + DB_RECORD)
#define META_LAST_PAGE (META_MAIN_DB + DB_RECORD)
#define META_TXNID (META_LAST_PAGE + WORD)
#define META_BYTES (META_TXNID + WORD)

enum {
    P_BRANCH = 0x01,
    P_LEAF = 0x02,
    P_OVERFLOW = 0x04,
    P_META = 0x08,
    P_DIRTY = 0x10,
    P_LEAF2 = 0x20,
    P_SUBP = 0x40
};
enum { F_BIGDATA = 0x01, F_SUBDATA = 0x02, F_DUPDATA = 0x04 };

static unsigned get16(const unsigned char *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

static uint32_t get32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static size_t get_word(const unsigned char *p)
{
    size_t v;
    memcpy(&v, p, WORD);
    return v;
}

/* A node's two 16-bit halves of its data size (or child page number). */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
static size_t node_lo(const unsigned char *n) { return get16(n + 2); }
static size_t node_hi(const unsigned char *n) { return get16(n); }
#else
static size_t node_lo(const unsigned char *n) { return get16(n); }
static size_t node_hi(const unsigned char *n) { return get16(n + 2); }
#endif
static unsigned node_flags(const unsigned char *n) { return get16(n + 4); }
static size_t node_key_size(const unsigned char *n) { return get16(n + 6); }
static size_t node_data_size(const unsigned char *n) { return node_lo(n) | node_hi(n) << 16; }

static size_t node_child(const unsigned char *n)
{
    size_t pgno = node_lo(n) | node_hi(n) << 16;
#if SIZE_MAX > 0xffffffffu
    pgno |= (size_t)node_flags(n) << 32;
#endif
    return pgno;
}

static size_t even(size_t n) { return n + (n & 1); }

typedef enum { TREE_FREE, TREE_MAIN, TREE_TABLE, TREE_DUPS } tree_kind;

/* A tree being walked. */
typedef struct tree {
    tree_kind kind;
    const char *name;           /* for messages */
    const dd_lmdb_table *table; /* TREE_TABLE, TREE_DUPS */
    size_t depth;               /* as its record says: its leaves' level */
} tree;

/* A key, or no bound (p NULL). */
typedef struct span {
    const unsigned char *p;
    size_t n;
} span;

typedef struct checker {
    const unsigned char *file;
    size_t len, psize;
    size_t node_max;        /* mdb.c's me_nodemax: the largest node in a page */
    size_t last;            /* the newest header's last page */
    unsigned char *reached; /* a bit a page: in a tree, or listed as free */
    uint32_t *extents;      /* the page in hand's nodes: offset << 16 | end */
    uint16_t *end_at;       /* by offset / 2: the end of the node there, or 0 */
    const dd_lmdb_table *tables;
    size_t ntables;
    bool *found;       /* which tables the main table named */
    char (*names)[64]; /* "table NAME", for messages */
    char *why;
} checker;

static bool bad(checker *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Records the first thing wrong; returns false. */
static bool bad(checker *c, const char *fmt, ...)
{
    if (c->why)
        return false;
    va_list ap;
    va_start(ap, fmt);
    char buf[256];
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    c->why = dd_strdup(buf);
    return false;
}

/* Claims count pages from pgno for one use: they must be after the headers,
 * up to the last page, and not yet reached. */
static bool claim(checker *c, const tree *t, size_t pgno, size_t count, const char *as)
{
    if (pgno < META_PAGES || pgno > c->last || count == 0 || count > c->last - pgno + 1)
        return bad(c, "%s: %s %zu (%zu pages) is outside pages 2-%zu", t->name, as, pgno, count,
                   c->last);
    for (size_t i = pgno; i < pgno + count; i++) {
        if (c->reached[i / 8] & (1u << (i % 8)))
            return bad(c, "%s: page %zu is reached twice (used twice, or used and free)", t->name,
                       i);
        c->reached[i / 8] |= (unsigned char)(1u << (i % 8));
    }
    return true;
}

static int compare(const tree *t, span a, span b)
{
    if (t->kind == TREE_FREE) { /* MDB_INTEGERKEY: one size_t (checked) */
        size_t x = get_word(a.p), y = get_word(b.p);
        return (x > y) - (x < y);
    }
    size_t n = a.n < b.n ? a.n : b.n;
    int d = n ? memcmp(a.p, b.p, n) : 0;
    return d ? d : (a.n > b.n) - (a.n < b.n);
}

/* The size every key of t must have, or 0 for any from 1 to MAX_KEY. */
static size_t key_size_of(const tree *t)
{
    switch (t->kind) {
    case TREE_FREE:
        return WORD;
    case TREE_TABLE:
        return t->table->key_size;
    case TREE_DUPS:
        return t->table->value_size;
    default:
        return 0;
    }
}

/* Checks a key's size, and that it comes after prev (or, the first of its
 * page, not before lo) and before hi. Keys being checked in increasing
 * order, the callers give hi for the last key of a page only. */
static bool check_key(checker *c, const tree *t, size_t pgno, span key, span prev, span lo, span hi)
{
    size_t want = key_size_of(t);
    if (want ? key.n != want : key.n == 0 || key.n > MAX_KEY)
        return bad(c, "%s: page %zu: a key of %zu bytes", t->name, pgno, key.n);
    if (prev.p && compare(t, prev, key) >= 0)
        return bad(c, "%s: page %zu: keys out of order", t->name, pgno);
    if ((!prev.p && lo.p && compare(t, key, lo) < 0) || (hi.p && compare(t, key, hi) >= 0))
        return bad(c, "%s: page %zu: a key outside its parent's bounds", t->name, pgno);
    return true;
}

static bool walk_tree(checker *c, tree *t, const unsigned char *record);

/* The bytes of a leaf node's value, inline or on its overflow pages. */
static bool value_of(checker *c, const tree *t, size_t pgno, const unsigned char *node, span *v)
{
    v->n = node_data_size(node);
    const unsigned char *data = node + NODE_HEADER + node_key_size(node);
    if (!(node_flags(node) & F_BIGDATA)) {
        v->p = data;
        return true;
    }
    size_t first = get_word(data);
    if (first < META_PAGES || first > c->last)
        return bad(c, "%s: page %zu: a value on page %zu, outside pages 2-%zu", t->name, pgno,
                   first, c->last);
    const unsigned char *ov = c->file + first * c->psize;
    size_t pages = get32(ov + WORD + 4), need = (PAGE_HEADER - 1 + v->n) / c->psize + 1;
    if (get16(ov + WORD + 2) != P_OVERFLOW || get_word(ov) != first || pages < need)
        return bad(c, "%s: page %zu: its value's overflow page %zu is not one of %zu pages",
                   t->name, pgno, first, need);
    if (!claim(c, t, first, pages, "overflow page"))
        return false;
    v->p = ov + PAGE_HEADER;
    return true;
}

/* A list of free pages: a count, then that many page numbers, decreasing. */
static bool check_free_list(checker *c, const tree *t, size_t pgno, span v)
{
    size_t count = v.n >= WORD ? get_word(v.p) : 0;
    if (v.n < WORD || v.n % WORD || count > v.n / WORD - 1)
        return bad(c, "%s: page %zu: a free-page list of %zu bytes", t->name, pgno, v.n);
    size_t prev = NO_PAGE;
    for (size_t i = 1; i <= count; i++) {
        size_t free_page = get_word(v.p + i * WORD);
        if (free_page >= prev)
            return bad(c, "%s: page %zu: free pages out of order", t->name, pgno);
        if (!claim(c, t, free_page, 1, "free page"))
            return false;
        prev = free_page;
    }
    return true;
}

static bool check_leaf2(checker *c, const tree *t, size_t pgno, const unsigned char *p, size_t size,
                        span lo, span hi);

/* The value of a leaf node of t, on page pgno. */
static bool check_value(checker *c, const tree *t, size_t pgno, const unsigned char *node)
{
    unsigned flags = node_flags(node);
    span v;
    switch (t->kind) {
    case TREE_FREE:
        if (flags & ~F_BIGDATA)
            return bad(c, "%s: page %zu: a node with flags 0x%x", t->name, pgno, flags);
        return value_of(c, t, pgno, node, &v) && check_free_list(c, t, pgno, v);
    case TREE_MAIN: {
        span key = {node + NODE_HEADER, node_key_size(node)};
        size_t i = 0;
        while (i < c->ntables &&
               (strlen(c->tables[i].name) != key.n || memcmp(c->tables[i].name, key.p, key.n)))
            i++;
        if (i == c->ntables)
            return bad(c, "%s: page %zu: a table that is not one of the index's", t->name, pgno);
        if (flags != F_SUBDATA || node_data_size(node) != DB_RECORD)
            return bad(c, "%s: page %zu: table %s's record is not one", t->name, pgno,
                       c->tables[i].name);
        const unsigned char *record = node + NODE_HEADER + key.n;
        if (get16(record + 4) != c->tables[i].flags)
            return bad(c, "table %s: made with flags 0x%x, not 0x%x", c->tables[i].name,
                       get16(record + 4), c->tables[i].flags);
        c->found[i] = true;
        tree table = {TREE_TABLE, c->names[i], &c->tables[i], 0};
        return walk_tree(c, &table, record);
    }
    case TREE_TABLE:
        break;
    default:
        return bad(c, "%s: page %zu: a node on a page of fixed-size values", t->name, pgno);
    }
    const dd_lmdb_table *table = t->table;
    if (!(table->flags & MDB_DUPSORT)) {
        if (flags & ~F_BIGDATA)
            return bad(c, "%s: page %zu: a node with flags 0x%x", t->name, pgno, flags);
        if (!value_of(c, t, pgno, node, &v))
            return false;
        if (table->value_size && v.n != table->value_size)
            return bad(c, "%s: page %zu: a value of %zu bytes", t->name, pgno, v.n);
        return true;
    }
    /* duplicates of table->value_size bytes: one inline, several on an
     * inline sub-page, or many in a sub-table */
    size_t size = node_data_size(node);
    const unsigned char *data = node + NODE_HEADER + node_key_size(node);
    if (flags == 0) {
        if (size != table->value_size)
            return bad(c, "%s: page %zu: a value of %zu bytes", t->name, pgno, size);
        return true;
    }
    if (flags == F_DUPDATA) {
        if (size < PAGE_HEADER ||
            (get16(data + WORD + 2) & ~P_DIRTY) != (P_LEAF | P_LEAF2 | P_SUBP) ||
            get16(data + WORD) != table->value_size)
            return bad(c, "%s: page %zu: a sub-page of values that is not one", t->name, pgno);
        span none = {NULL, 0};
        tree dups = {TREE_DUPS, t->name, table, 1};
        return check_leaf2(c, &dups, pgno, data, size, none, none);
    }
    if (flags == (F_DUPDATA | F_SUBDATA) && size == DB_RECORD && get16(data + 4) == MDB_DUPFIXED &&
        get32(data) == table->value_size) {
        tree dups = {TREE_DUPS, t->name, table, 0};
        return walk_tree(c, &dups, data);
    }
    return bad(c, "%s: page %zu: a node with flags 0x%x", t->name, pgno, flags);
}

/* A page (or sub-page) of values of a fixed size, packed after the header;
 * p[0..size) is inside the file. */
static bool check_leaf2(checker *c, const tree *t, size_t pgno, const unsigned char *p, size_t size,
                        span lo, span hi)
{
    size_t lower = get16(p + WORD + 4), upper = get16(p + WORD + 6), ks = t->table->value_size;
    size_t n = lower >= PAGE_HEADER ? (lower - PAGE_HEADER) / 2 : 0;
    /* the free space it claims (upper - lower) must be there after its n
     * values: LMDB writes the next value into it */
    if (ks == 0 || lower < PAGE_HEADER || (lower - PAGE_HEADER) % 2 || lower > upper ||
        upper > size || n == 0 || n > (size - PAGE_HEADER) / ks ||
        PAGE_HEADER + n * ks + (upper - lower) > size)
        return bad(c, "%s: page %zu: %zu values of %zu bytes and free space %zu-%zu in %zu bytes",
                   t->name, pgno, n, ks, lower, upper, size);
    span prev = {NULL, 0}, none = {NULL, 0};
    for (size_t i = 0; i < n; i++) {
        span key = {p + PAGE_HEADER + i * ks, ks};
        if (!check_key(c, t, pgno, key, prev, lo, i + 1 == n ? hi : none))
            return false;
        prev = key;
    }
    return true;
}

static bool walk_page(checker *c, const tree *t, size_t pgno, size_t level, span lo, span hi);

/* Whether the n nodes of c->extents (each inside [upper, size), each noted
 * in c->end_at by its offset) overlap none of the others. LMDB packs them
 * from upper to the end of the page, so following them from upper usually
 * answers at once; otherwise they are sorted. Leaves c->end_at all zero. */
static bool apart(checker *c, size_t n, size_t upper, size_t size)
{
    size_t at = upper, seen = 0;
    while (seen < n && at < size && c->end_at[at / 2]) {
        size_t end = c->end_at[at / 2];
        c->end_at[at / 2] = 0;
        at = end;
        seen++;
    }
    for (size_t i = 0; i < n; i++)
        c->end_at[(c->extents[i] >> 16) / 2] = 0;
    if (seen == n) /* one after the other: a node at each end, n of them */
        return true;
    qsort(c->extents, n, sizeof *c->extents, dd_compare_u32);
    for (size_t i = 1; i < n; i++)
        if ((c->extents[i - 1] & 0xffff) > c->extents[i] >> 16)
            return false;
    return true;
}

/* A branch or leaf page whose nodes are listed after its header. */
static bool check_nodes(checker *c, const tree *t, size_t pgno, size_t level, span lo, span hi)
{
    const unsigned char *p = c->file + pgno * c->psize;
    size_t size = c->psize, lower = get16(p + WORD + 4), upper = get16(p + WORD + 6);
    bool leaf = level == t->depth;
    if (lower < PAGE_HEADER || (lower - PAGE_HEADER) % 2 || lower > upper || upper > size ||
        lower == PAGE_HEADER)
        return bad(c, "%s: page %zu: free space %zu-%zu", t->name, pgno, lower, upper);
    size_t n = (lower - PAGE_HEADER) / 2;
    /* First every node's place: inside [upper, size), apart from the others. */
    for (size_t i = 0; i < n; i++) {
        size_t at = get16(p + PAGE_HEADER + 2 * i);
        if (at < upper || at % 2 || at > size - NODE_HEADER)
            return bad(c, "%s: page %zu: node %zu at %zu, outside %zu-%zu", t->name, pgno, i, at,
                       upper, size);
        const unsigned char *node = p + at;
        size_t bytes = NODE_HEADER + node_key_size(node);
        if (leaf)
            bytes += node_flags(node) & F_BIGDATA ? WORD : node_data_size(node);
        if (bytes > c->node_max || even(bytes) > size - at)
            return bad(c, "%s: page %zu: node %zu of %zu bytes at %zu", t->name, pgno, i, bytes,
                       at);
        c->extents[i] = (uint32_t)at << 16 | (uint32_t)(at + even(bytes));
        c->end_at[at / 2] = (uint16_t)(at + even(bytes));
    }
    if (!apart(c, n, upper, size))
        return bad(c, "%s: page %zu: nodes overlap", t->name, pgno);
    /* Then the keys, and what each node leads to. */
    span prev = {NULL, 0}, none = {NULL, 0};
    for (size_t i = 0; i < n; i++) {
        const unsigned char *node = p + get16(p + PAGE_HEADER + 2 * i);
        span key = {node + NODE_HEADER, node_key_size(node)};
        if (leaf) {
            if (!check_key(c, t, pgno, key, prev, lo, i + 1 == n ? hi : none) ||
                !check_value(c, t, pgno, node))
                return false;
            prev = key;
            continue;
        }
        /* a branch: key i separates child i - 1 from child i; key 0 is not
         * used (child 0 holds what is below key 1) */
        if (i > 0 && !check_key(c, t, pgno, key, prev, lo, i + 1 == n ? hi : none))
            return false;
        span child_lo = i > 0 ? key : lo, child_hi = hi;
        if (i + 1 < n) {
            const unsigned char *next = p + get16(p + PAGE_HEADER + 2 * (i + 1));
            child_hi = (span){next + NODE_HEADER, node_key_size(next)};
        }
        if (!walk_page(c, t, node_child(node), level + 1, child_lo, child_hi))
            return false;
        if (i > 0)
            prev = key;
    }
    return true;
}

/* The page pgno at level (1: the root) of t; its keys are within [lo, hi). */
static bool walk_page(checker *c, const tree *t, size_t pgno, size_t level, span lo, span hi)
{
    if (!claim(c, t, pgno, 1, "page"))
        return false;
    const unsigned char *p = c->file + pgno * c->psize;
    if (get_word(p) != pgno)
        return bad(c, "%s: page %zu carries the number %zu", t->name, pgno, get_word(p));
    bool leaf = level == t->depth;
    unsigned flags = get16(p + WORD + 2);
    unsigned want = !leaf ? P_BRANCH : t->kind == TREE_DUPS ? P_LEAF | P_LEAF2 : P_LEAF;
    if (flags != want)
        return bad(c, "%s: page %zu: flags 0x%x where a %s page belongs", t->name, pgno, flags,
                   leaf ? "leaf" : "branch");
    if (flags & P_LEAF2)
        return check_leaf2(c, t, pgno, p, c->psize, lo, hi);
    return check_nodes(c, t, pgno, level, lo, hi);
}

/* The tree whose table record is record. */
static bool walk_tree(checker *c, tree *t, const unsigned char *record)
{
    size_t depth = get16(record + 6), root = get_word(record + 8 + 4 * WORD);
    if (root == NO_PAGE)
        return depth == 0 || bad(c, "%s: empty, but of depth %zu", t->name, depth);
    if (depth < 1 || depth > MAX_DEPTH)
        return bad(c, "%s: a tree of depth %zu", t->name, depth);
    t->depth = depth;
    span none = {NULL, 0};
    return walk_page(c, t, root, 1, none, none);
}

/* Header page i (0 or 1): NULL when it is not one. */
static const unsigned char *header(const unsigned char *file, size_t len, size_t at)
{
    if (at > len || len - at < PAGE_HEADER + META_BYTES)
        return NULL;
    const unsigned char *page = file + at, *m = page + PAGE_HEADER;
    if (!(get16(page + WORD + 2) & P_META) || get32(m) != META_MAGIC ||
        get32(m + 4) != META_VERSION)
        return NULL;
    return m;
}

static bool power_of_two(size_t n) { return n && !(n & (n - 1)); }

char *dd_lmdb_check(const unsigned char *file, size_t len, const dd_lmdb_table *tables,
                    size_t ntables)
{
    const unsigned char *m0 = header(file, len, 0);
    if (!m0)
        return dd_strdup("page 0 is not an LMDB header");
    size_t psize = get32(m0 + META_FREE_DB);
    if (psize < MIN_PAGE_SIZE || psize > MAX_PAGE_SIZE || !power_of_two(psize))
        return dd_asprintf("a page size of %zu", psize);
    const unsigned char *m1 = header(file, len, psize);
    if (!m1 || get32(m1 + META_FREE_DB) != psize)
        return dd_strdup("page 1 is not an LMDB header of the same page size");
    /* a write starts from the newest header; on a tie, LMDB takes page 0's */
    const unsigned char *m = get_word(m1 + META_TXNID) > get_word(m0 + META_TXNID) ? m1 : m0;
    size_t last = get_word(m + META_LAST_PAGE), pages = len / psize;
    if (last < META_PAGES - 1 || last >= pages)
        return dd_asprintf("its header names page %zu as its last, in a file of %zu pages", last,
                           pages);
    if (get16(m + META_FREE_DB + 4) != MDB_INTEGERKEY || get16(m + META_MAIN_DB + 4) != 0)
        return dd_asprintf("environment flags 0x%x and 0x%x", get16(m + META_FREE_DB + 4),
                           get16(m + META_MAIN_DB + 4));
    checker c = {.file = file,
                 .len = len,
                 .psize = psize,
                 .node_max = (((psize - PAGE_HEADER) / 2) & ~(size_t)1) - 2,
                 .last = last,
                 .reached = dd_calloc(last / 8 + 1, 1),
                 .extents = dd_malloc(psize / 2 * sizeof(uint32_t)),
                 .end_at = dd_calloc(psize / 2, sizeof(uint16_t)),
                 .tables = tables,
                 .ntables = ntables,
                 .found = dd_calloc(ntables + 1, sizeof(bool)),
                 .names = dd_calloc(ntables + 1, sizeof *c.names)};
    for (size_t i = 0; i < ntables; i++)
        snprintf(c.names[i], sizeof c.names[i], "table %.50s", tables[i].name);
    tree free_pages = {TREE_FREE, "the free-page table", NULL, 0};
    tree main_table = {TREE_MAIN, "the table of tables", NULL, 0};
    if (walk_tree(&c, &free_pages, m + META_FREE_DB) &&
        walk_tree(&c, &main_table, m + META_MAIN_DB))
        for (size_t i = 0; i < ntables; i++)
            if (!c.found[i]) {
                bad(&c, "table %s is missing", tables[i].name);
                break;
            }
    free(c.reached);
    free(c.extents);
    free(c.end_at);
    free(c.found);
    free(c.names);
    return c.why;
}
