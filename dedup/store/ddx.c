/*
 * ddx.c - the persistent index over LMDB (see ddx.h).
 *
 * Tables (LMDB named databases), every number stored big-endian so that keys
 * sort as numbers and the files are the same on every machine:
 *   meta     "settings" -> the settings (below), "next" -> the next document
 *            number (4 bytes)
 *   docs     id -> the document record (below)
 *   numbers  number (4 bytes) -> id
 *   bands    band key (8 bytes) -> document numbers (4 bytes; sorted
 *            duplicates of a fixed size)
 *   paras    paragraph key (16 bytes: hi, lo) -> (number, first line, last
 *            line) (12 bytes; sorted duplicates, so in document order)
 * The settings record: format version (4), profile (192 bytes, NUL-padded),
 * unit mode, ngram, num_perm, bands, rows (4 each), seed (8), key fingerprint
 * (65 bytes, NUL-padded): 289 bytes.
 * A document record: number (4), size (8), mtime (8), key lo, hi (8 each),
 * words, shingles (4 each), the count of MinHash values and the values (4
 * each), the count of band keys and the keys (8 each), the count of
 * paragraphs and each one's key hi, lo (8 each), first and last line (4
 * each). The band keys and paragraphs are kept so that removing a document
 * finds its entries in bands and paras.
 *
 * The map (the largest the data file can grow to while a write transaction
 * runs) is a reservation of address space, not of disk or memory: the data
 * file only grows as pages are written. It starts at INITIAL_MAP and, at the
 * start of each write transaction (with the writer's lock held, so that no
 * other process writes meanwhile), is doubled until at most half of it is in
 * use. One write transaction can therefore always add at least half the map
 * (32 GiB on a 64-bit machine, some 8 million documents at the default
 * settings); only a single transaction larger than that fails, with
 * MDB_MAP_FULL, and changes nothing. Readers in other processes adopt a map
 * that a writer grew (MDB_MAP_RESIZED) when they start their next read.
 *
 * Writes act only on a verified store. LMDB trusts the page numbers, sizes
 * and offsets of its file; on a write, a damaged one makes it write out of
 * bounds (the audit saw a 4 GB memcpy over the heap), free a page still in
 * use, or write into its read-only map, and memory is corrupted before any
 * signal comes, so the fault guard below cannot contain it. So each write
 * transaction, once it holds LMDB's writer lock (no other writer can change
 * the file until it ends), first checks the whole data file with
 * dd_lmdb_check (lmdb_check.h): every page the write can reach, with the
 * invariants LMDB's writes rely on. A store that fails is "PATH: the index
 * is damaged (WHY); build it again", and LMDB never writes to it.
 * Why this and not a checksum recorded at each commit: a checksum proves the
 * bytes are those of the last commit only if it is recorded in the same
 * atomic step as the commit, and LMDB's commit has no room for it (a side
 * file written after the commit is stale after a kill between the two, and
 * an index made before has none); it must also skip the free pages, which
 * an aborted or killed write may change, and finding those means walking
 * the trees anyway. The structural check needs no record, works on every
 * existing index, and refuses a crafted file as well as a damaged one.
 * What it cannot see is a value changed within its size; the decoders of
 * this file check every value they read, so that gives wrong answers,
 * never a wrong memory access.
 */
#include "store/ddx.h"

#include "store/lmdb_check.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <lmdb.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <sys/time.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#if SIZE_MAX > 0xffffffffu
#define INITIAL_MAP ((size_t)64 << 30)
#else
#define INITIAL_MAP ((size_t)1 << 30)
#endif

/* The smallest map tried when the address space is short. */
#define MIN_MAP ((size_t)256 << 20)

/* The size of the settings record, format 1. */
#define SETTINGS_BYTES (4 + 192 + 5 * 4 + 8 + 65)

#define MAX_CURSORS 8

struct dd_ddx {
    char *path;
    MDB_env *env;
    MDB_txn *txn;    /* the write transaction, when one is open */
    MDB_txn *rtxn;   /* the read snapshot, reset between reads (NULL before the first) */
    unsigned rdepth; /* reads in progress on rtxn: dd_ddx_each's fn may read too */
    MDB_dbi meta, docs, numbers, bands, paras;
    dd_ddx_settings settings;
    size_t max_key; /* the longest id LMDB takes as a key */
    bool write;
    MDB_txn *open_txn; /* the transaction that reads the settings while opening */
    bool damaged;      /* a call faulted: every later call fails */
    char *final_path;  /* dd_ddx_create_staged: its name once published */
    bool stranded;     /* it faulted in a write transaction: LMDB is never called
                          again through x (see mark_damaged) */
    /* The data file as mapped by verify_store while it checks it, so that a
     * fault there (the file cut short meanwhile) still unmaps it. */
    void *check_map;
    size_t check_len;
    /* Cursors open now (reads nest through dd_ddx_each), so that a fault's
     * jump, which skips their closing, does not leak them. */
    MDB_cursor *cursors[MAX_CURSORS];
    size_t ncursors;
};

/* ------------------------------------------------------------ encoding */

typedef struct enc {
    unsigned char *p;
    size_t len, cap;
} enc;

static void put_bytes(enc *e, const void *p, size_t n)
{
    dd_grow(&e->p, &e->cap, e->len + n + 1, 1);
    memcpy(e->p + e->len, p, n);
    e->len += n;
}

static void be32(unsigned char *b, uint32_t v)
{
    b[0] = (unsigned char)(v >> 24);
    b[1] = (unsigned char)(v >> 16);
    b[2] = (unsigned char)(v >> 8);
    b[3] = (unsigned char)v;
}

static void be64(unsigned char *b, uint64_t v)
{
    be32(b, (uint32_t)(v >> 32));
    be32(b + 4, (uint32_t)v);
}

static uint32_t from_be32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* LMDB writes its header fields in the byte order of the machine; they are
 * read as little-endian, the order of the machines dedup runs on. */
static uint32_t from_le32(const unsigned char *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static void put_u32(enc *e, uint32_t v)
{
    unsigned char b[4];
    be32(b, v);
    put_bytes(e, b, 4);
}

static void put_u64(enc *e, uint64_t v)
{
    unsigned char b[8];
    be64(b, v);
    put_bytes(e, b, 8);
}

typedef struct dec {
    const unsigned char *p;
    size_t len, at;
    bool bad;
} dec;

static const unsigned char *get_bytes(dec *d, size_t n)
{
    if (d->bad || d->len - d->at < n) {
        d->bad = true;
        return NULL;
    }
    d->at += n;
    return d->p + d->at - n;
}

static uint32_t get_u32(dec *d)
{
    const unsigned char *b = get_bytes(d, 4);
    return b ? from_be32(b) : 0;
}

static uint64_t get_u64(dec *d)
{
    uint64_t hi = get_u32(d);
    return hi << 32 | get_u32(d);
}

static void encode_settings(enc *e, const dd_ddx_settings *s)
{
    char profile[sizeof s->profile] = {0}, fp[sizeof s->key_fingerprint] = {0};
    /* Only the string, NUL-padded: the same settings give the same bytes. */
    memcpy(profile, s->profile, strnlen(s->profile, sizeof profile - 1));
    memcpy(fp, s->key_fingerprint, strnlen(s->key_fingerprint, sizeof fp - 1));
    put_u32(e, DD_DDX_FORMAT);
    put_bytes(e, profile, sizeof profile);
    put_u32(e, s->unit_mode);
    put_u32(e, s->ngram);
    put_u32(e, s->num_perm);
    put_u32(e, s->bands);
    put_u32(e, s->rows);
    put_u64(e, s->seed);
    put_bytes(e, fp, sizeof fp);
}

/* Decodes a settings record into *s; NULL, or why it is not one. */
static char *decode_settings(const MDB_val *v, dd_ddx_settings *s)
{
    memset(s, 0, sizeof *s);
    dec d = {v->mv_data, v->mv_size, 0, false};
    uint32_t format = get_u32(&d);
    if (d.bad)
        return dd_asprintf("not a dedup index (a settings record of %zu bytes)", v->mv_size);
    if (format > DD_DDX_FORMAT)
        return dd_asprintf("index format %u is newer than this dedup's (%d): a newer dedup "
                           "built it",
                           format, DD_DDX_FORMAT);
    if (format != DD_DDX_FORMAT)
        return dd_asprintf("not a dedup index (format %u)", format);
    if (v->mv_size != SETTINGS_BYTES)
        return dd_asprintf("not a dedup index (a settings record of %zu bytes, not %d)",
                           v->mv_size, SETTINGS_BYTES);
    memcpy(s->profile, get_bytes(&d, sizeof s->profile), sizeof s->profile);
    s->unit_mode = get_u32(&d);
    s->ngram = get_u32(&d);
    s->num_perm = get_u32(&d);
    s->bands = get_u32(&d);
    s->rows = get_u32(&d);
    s->seed = get_u64(&d);
    memcpy(s->key_fingerprint, get_bytes(&d, sizeof s->key_fingerprint),
           sizeof s->key_fingerprint);
    s->profile[sizeof s->profile - 1] = '\0';
    s->key_fingerprint[sizeof s->key_fingerprint - 1] = '\0';
    if (s->num_perm == 0 || s->num_perm > SH_MINHASH_MAX_PERM || s->bands == 0 ||
        s->bands > s->num_perm || s->ngram == 0)
        return dd_asprintf("not a dedup index (impossible settings: ngram %u, num-perm %u, "
                           "bands %u)",
                           s->ngram, s->num_perm, s->bands);
    return NULL;
}

/* ------------------------------------------------------------- errors */

static bool fail(const dd_ddx *x, char **err, const char *what, int rc)
{
    *err = dd_asprintf("%s: %s: %s", x->path, what, mdb_strerror(rc));
    return false;
}

/* A failed write of the data file. LMDB reports a short write as EIO ("Input/
 * output error"), which is what a full disk gives it: then the file system
 * is named as full. */
static bool write_error(const dd_ddx *x, char **err, const char *what, int rc)
{
    struct statvfs fs;
    if ((rc == EIO || rc == ENOSPC) && statvfs(x->path, &fs) == 0 &&
        (uint64_t)fs.f_bavail * fs.f_frsize < ((uint64_t)1 << 20)) {
        *err = dd_asprintf("%s: %s: %s (%llu bytes free on its file system)", x->path, what,
                           strerror(ENOSPC),
                           (unsigned long long)((uint64_t)fs.f_bavail * fs.f_frsize));
        return false;
    }
    return fail(x, err, what, rc);
}

/* Whether an error of mdb_env_open or of reading the tables says the files
 * are not an LMDB environment of ours (rather than, say, a permission). */
static bool not_ours(int rc)
{
    return rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH || rc == MDB_CORRUPTED ||
           rc == MDB_PAGE_NOTFOUND || rc == MDB_INCOMPATIBLE || rc == MDB_NOTFOUND ||
           rc == MDB_BAD_DBI || rc == EINVAL || rc == ENOTDIR || rc == EISDIR;
}

/* --------------------------------------------------------- transactions */

/* mdb_txn_begin, adopting the larger map another process set. */
static int begin_txn(dd_ddx *x, unsigned flags, MDB_txn **txn)
{
    for (int tries = 0;; tries++) {
        *txn = NULL;
        int rc = mdb_txn_begin(x->env, NULL, flags, txn);
        if (rc != MDB_MAP_RESIZED || tries == 4)
            return rc;
        rc = mdb_env_set_mapsize(x->env, 0);
        if (rc != 0)
            return rc;
    }
}

/* A transaction for reading: the write one when open, else the read
 * snapshot (renewed if no read is in progress). */
static bool read_txn(dd_ddx *x, MDB_txn **txn, char **err)
{
    *err = NULL;
    if (x->txn) {
        *txn = x->txn;
        return true;
    }
    if (x->rdepth) {
        x->rdepth++;
        *txn = x->rtxn;
        return true;
    }
    int rc;
    if (!x->rtxn) {
        rc = begin_txn(x, MDB_RDONLY, &x->rtxn);
    } else {
        for (int tries = 0;; tries++) {
            rc = mdb_txn_renew(x->rtxn);
            if (rc != MDB_MAP_RESIZED || tries == 4)
                break;
            rc = mdb_env_set_mapsize(x->env, 0);
            if (rc != 0)
                break;
        }
    }
    if (rc != 0)
        return fail(x, err, "cannot read", rc);
    x->rdepth = 1;
    *txn = x->rtxn;
    return true;
}

static void end_read(dd_ddx *x, MDB_txn *txn)
{
    if (txn == x->txn)
        return;
    if (--x->rdepth == 0)
        mdb_txn_reset(x->rtxn);
}

/* ------------------------------------------------------- open and close */

static char *data_path(const char *path) { return dd_asprintf("%s/data.mdb", path); }

/* LMDB finds its second header page with the page size written in the
 * first, and divides by it: a page size of 0 would stop the program
 * (SIGFPE) inside LMDB, where the fault guard could not free what LMDB had
 * allocated. So the first header is read here first: when it carries
 * LMDB's magic number, its page size (the md_pad of the free-page table,
 * 40 bytes in: page header 16, magic 4, version 4, address 8, map size 8)
 * must be a power of two from 512 to 65536. NULL, or why. */
static char *check_page_size(const char *path)
{
    char *data = data_path(path);
    FILE *f = fopen(data, "rb");
    free(data);
    unsigned char head[44];
    size_t n = f ? fread(head, 1, sizeof head, f) : 0;
    if (f)
        fclose(f);
    if (n < sizeof head)
        return NULL; /* too short to be LMDB's: LMDB refuses it itself */
    uint32_t magic = from_le32(head + 16), psize = from_le32(head + 40);
    if (magic == 0xBEEFC0DEu && (psize < 512 || psize > 65536 || (psize & (psize - 1))))
        return dd_asprintf("%s: the index is damaged (a page size of %u in its header)", path,
                           psize);
    return NULL;
}

/* Checks that path is a folder with a data file in it; NULL, or why not. */
static char *check_folder(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return dd_asprintf("%s: %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return dd_asprintf("%s: not a dedup index (not a folder)", path);
    char *data = data_path(path);
    int r = stat(data, &st);
    int e = errno;
    free(data);
    if (r != 0)
        return e == ENOENT ? dd_asprintf("%s: not a dedup index (no data.mdb in it)", path)
                           : dd_asprintf("%s: data.mdb: %s", path, strerror(e));
    if (!S_ISREG(st.st_mode))
        return dd_asprintf("%s: not a dedup index (data.mdb is not a file)", path);
    /* LMDB would take an empty data file for a new environment. */
    if (st.st_size == 0)
        return dd_asprintf("%s: not a dedup index (data.mdb is empty)", path);
    return check_page_size(path);
}

/* Refuses a data file shorter than the pages its header says it has (a
 * truncated copy), whose reads would fault. NULL, or why. */
static char *check_length(dd_ddx *x)
{
    MDB_envinfo info;
    MDB_stat est;
    struct stat st;
    char *data = data_path(x->path);
    int r = stat(data, &st);
    free(data);
    if (mdb_env_info(x->env, &info) != 0 || mdb_env_stat(x->env, &est) != 0 || r != 0)
        return dd_asprintf("%s: not a dedup index (cannot read its header)", x->path);
    if (((uint64_t)info.me_last_pgno + 1) * est.ms_psize > (uint64_t)st.st_size)
        return dd_asprintf("%s: not a dedup index (data.mdb is truncated)", x->path);
    return NULL;
}

/* Opens the tables in txn (creating them when create). */
static int open_tables(dd_ddx *x, MDB_txn *txn, bool create)
{
    unsigned c = create ? MDB_CREATE : 0, dup = MDB_DUPSORT | MDB_DUPFIXED;
    int rc = mdb_dbi_open(txn, "meta", c, &x->meta);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "docs", c, &x->docs);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "numbers", c, &x->numbers);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "bands", c | dup, &x->bands);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "paras", c | dup, &x->paras);
    unsigned fb = 0, fp = 0;
    if (rc == 0)
        rc = mdb_dbi_flags(txn, x->bands, &fb);
    if (rc == 0)
        rc = mdb_dbi_flags(txn, x->paras, &fp);
    if (rc == 0 && ((fb & dup) != dup || (fp & dup) != dup))
        rc = MDB_INCOMPATIBLE;
    return rc;
}

/* ------------------------------------------------------------ faults
 *
 * LMDB reads pages straight from the mapped data file and trusts the page
 * numbers, sizes and offsets it finds there. Those of a damaged or crafted
 * file can point past the end of the file (SIGBUS) or outside the map
 * (SIGSEGV), and a page size of 0 in its header divides by zero (SIGFPE);
 * check_length only catches a file shorter than its header says. LMDB's
 * own assertions on inconsistent pages (mdb_env_set_assert) are caught
 * too, instead of aborting. Pages that point back at their ancestors can
 * also make LMDB loop for ever: a guarded call that runs for more than
 * loop_limit seconds of CPU (10 unless dd_ddx_set_loop_limit says
 * otherwise; counted by a one-second ITIMER_VIRTUAL tick, so no system
 * call per call) is stopped the same way. dd_ddx_each, dd_ddx_begin and
 * dd_ddx_commit have no limit: their work grows with the index.
 * So every public function that reads the map runs under a guard: a fault
 * while it runs jumps back to it, and it fails with "the index is damaged".
 * The handle is then marked damaged and every later call fails the same
 * way; closing it is still safe (it only releases, it reads no pages). A
 * fault outside a guard goes to the handler that was there before (the
 * default action, or a sanitizer's), so other crashes still crash.
 * LMDB takes no lock while reading, and a write transaction's lock is
 * released by aborting it, so jumping out of LMDB leaves nothing held.
 */
static _Thread_local sigjmp_buf *fault_jump; /* innermost guard of this thread */
static _Thread_local dd_ddx *opening;        /* the handle dd_ddx_open is making */
static struct sigaction previous_bus, previous_segv, previous_fpe;
static _Thread_local volatile sig_atomic_t ticks;      /* CPU seconds in this call */
static _Thread_local volatile sig_atomic_t tick_limit; /* 0: no limit */
static bool ticking;

/* The CPU seconds a guarded call may run before it is stopped as looping
 * (dd_ddx_set_loop_limit): ten by default, far above any real lookup. */
static int loop_limit = 10;

/* LMDB's own consistency checks (mdb_assert) call this before abort():
 * inside a guarded call, an inconsistent page is a damaged index like any
 * other, so the call is stopped there; outside one, abort() follows. */
static void on_lmdb_assert(MDB_env *env, const char *what)
{
    (void)env;
    (void)what;
    if (fault_jump)
        siglongjmp(*fault_jump, SIGABRT);
}

/* The one-second CPU tick: stops a guarded call past its limit. */
static void on_tick(int sig)
{
    if (fault_jump && tick_limit && ++ticks > tick_limit)
        siglongjmp(*fault_jump, sig);
}

static void on_fault(int sig, siginfo_t *info, void *context)
{
    if (fault_jump)
        siglongjmp(*fault_jump, sig);
    const struct sigaction *before = sig == SIGBUS    ? &previous_bus
                                     : sig == SIGSEGV ? &previous_segv
                                                      : &previous_fpe;
    if (before->sa_flags & SA_SIGINFO) {
        before->sa_sigaction(sig, info, context);
    } else if (before->sa_handler == SIG_DFL || before->sa_handler == SIG_IGN) {
        /* Returning runs the faulting instruction again, which now takes
         * the default action: the program dies of the signal. */
        signal(sig, SIG_DFL);
    } else {
        before->sa_handler(sig);
    }
}

/* Installs on_fault for SIGBUS, SIGSEGV and SIGFPE unless it is there already,
 * keeping the handlers it replaces. Called by every dd_ddx_open, so that a
 * handler installed since (a test framework's) is chained, not lost. */
static void install_fault_handler(void)
{
    struct sigaction now;
    if (sigaction(SIGBUS, NULL, &now) == 0 && (now.sa_flags & SA_SIGINFO) &&
        now.sa_sigaction == on_fault)
        return;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &previous_bus);
    sigaction(SIGSEGV, &sa, &previous_segv);
    sigaction(SIGFPE, &sa, &previous_fpe);
    if (!ticking) {
        struct sigaction tick;
        memset(&tick, 0, sizeof tick);
        tick.sa_handler = on_tick;
        tick.sa_flags = SA_RESTART; /* interrupted system calls go on */
        sigemptyset(&tick.sa_mask);
        sigaction(SIGVTALRM, &tick, NULL);
        struct itimerval every_second = {{1, 0}, {1, 0}};
        setitimer(ITIMER_VIRTUAL, &every_second, NULL);
        ticking = true;
    }
}

/* What a guarded call says after a fault, or when x is already damaged. */
static char *damaged_message(const char *path)
{
    return dd_asprintf("%s: the index is damaged (LMDB faulted reading its data file, or looped "
                       "in it for %d s); build it again",
                       path, loop_limit);
}

/* After a fault in x: marks x, and lets go of what the jump left behind.
 * - In verify_store (the data file cut short while it is checked): the
 *   file is unmapped, and the write transaction, which LMDB had not used
 *   yet, is aborted.
 * - In a read: the cursors are closed (a read transaction does not list
 *   them, so this frees only them), and the snapshot is released by
 *   dd_ddx_close.
 * - Inside LMDB in the write transaction: LMDB was stopped half-way through
 *   changing it. mdb_put and mdb_del list a cursor that lives in their own
 *   stack frame (which the jump threw away) in the transaction, so
 *   mdb_txn_abort or mdb_cursor_close would free memory the program does not
 *   own (the audit's "bad free" and "double free"). So the transaction is
 *   stranded: it, its cursors and the environment are left as they are, and
 *   LMDB is never called again through x (dd_ddx_close frees only x). The
 *   process keeps that memory, the map and LMDB's writer lock until it
 *   exits; then the next writer takes the lock over (LMDB's writer lock is a
 *   robust mutex). A program that goes on must not open this index again.
 *   Writes run on verified stores only, so this is a second line: it takes
 *   a file changed under the writer by someone else, or a write that loops
 *   past loop_limit. */
static void mark_damaged(dd_ddx *x)
{
    x->damaged = true;
    bool in_check = x->check_map != NULL;
    if (in_check) {
        munmap(x->check_map, x->check_len);
        x->check_map = NULL;
    }
    if (x->txn && !in_check) {
        x->stranded = true;
        x->txn = NULL;
        x->ncursors = 0;
        x->rdepth = 0;
        return;
    }
    while (x->ncursors)
        mdb_cursor_close(x->cursors[--x->ncursors]);
    if (x->txn)
        mdb_txn_abort(x->txn);
    x->txn = NULL;
    x->rdepth = 0;
}

/* mdb_cursor_open and mdb_cursor_close, keeping x->cursors. */
static int open_cursor(dd_ddx *x, MDB_txn *txn, MDB_dbi dbi, MDB_cursor **cur)
{
    if (x->ncursors == MAX_CURSORS)
        return MDB_CURSOR_FULL;
    int rc = mdb_cursor_open(txn, dbi, cur);
    if (rc == 0)
        x->cursors[x->ncursors++] = *cur;
    return rc;
}

static void close_cursor(dd_ddx *x, MDB_cursor *cur)
{
    for (size_t i = x->ncursors; i-- > 0;) {
        if (x->cursors[i] == cur) {
            x->cursors[i] = x->cursors[--x->ncursors];
            break;
        }
    }
    mdb_cursor_close(cur);
}

/* Runs CALL (an expression of the _unguarded function) under a guard for x,
 * with result variable R: on a fault or a damaged x, R = FAILED and *err is
 * set. sigsetjmp must run in the caller's frame, hence a macro. */
#define GUARDED(x, err, R, FAILED, LIMIT, CALL)                                                   \
    do {                                                                                          \
        if ((x)->damaged) {                                                                       \
            *(err) = damaged_message((x)->path);                                                  \
            R = FAILED;                                                                           \
            break;                                                                                \
        }                                                                                         \
        sigjmp_buf jump_;                                                                         \
        sigjmp_buf *volatile outer_ = fault_jump;                                                 \
        volatile sig_atomic_t outer_ticks_ = ticks, outer_limit_ = tick_limit;                    \
        if (sigsetjmp(jump_, 1)) {                                                                \
            fault_jump = outer_;                                                                  \
            ticks = outer_ticks_;                                                                 \
            tick_limit = outer_limit_;                                                            \
            mark_damaged(x);                                                                      \
            *(err) = damaged_message((x)->path);                                                  \
            R = FAILED;                                                                           \
            break;                                                                                \
        }                                                                                         \
        ticks = 0;                                                                                \
        tick_limit = (LIMIT);                                                                     \
        fault_jump = &jump_;                                                                      \
        R = (CALL);                                                                               \
        fault_jump = outer_;                                                                      \
        ticks = outer_ticks_;                                                                     \
        tick_limit = outer_limit_;                                                                \
    } while (0)

/* Opens the environment and its tables; writes the settings when creating,
 * reads them otherwise. */
static dd_ddx *open_env(const char *path, bool write, bool create, const dd_ddx_settings *s,
                        char **err)
{
    if (!create && (*err = check_folder(path)))
        return NULL;
    dd_ddx *x = dd_calloc(1, sizeof *x);
    x->path = dd_strdup(path);
    x->write = write;
    opening = x; /* from here a fault can be cleaned up */
    /* Where address space is limited (ulimit -v, valgrind), the map is
     * halved until it fits, down to MIN_MAP. */
    int rc;
    for (size_t map = INITIAL_MAP;; map /= 2) {
        rc = mdb_env_create(&x->env);
        if (rc == 0)
            rc = mdb_env_set_assert(x->env, on_lmdb_assert);
        if (rc == 0)
            rc = mdb_env_set_maxdbs(x->env, 8);
        if (rc == 0)
            rc = mdb_env_set_mapsize(x->env, map);
        if (rc == 0)
            rc = mdb_env_open(x->env, path, MDB_NOTLS | (write ? 0 : MDB_RDONLY), 0644);
        if ((rc != ENOMEM && rc != EINVAL) || map / 2 < MIN_MAP)
            break;
        mdb_env_close(x->env);
        x->env = NULL;
    }
    if (rc != 0) {
        *err = create        ? dd_asprintf("%s: cannot create the index: %s", path, mdb_strerror(rc))
               : not_ours(rc) ? dd_asprintf("%s: not a dedup index (%s)", path, mdb_strerror(rc))
                              : dd_asprintf("%s: cannot open the index: %s", path, mdb_strerror(rc));
        dd_ddx_close(x);
        return NULL;
    }
    x->max_key = (size_t)mdb_env_get_maxkeysize(x->env);
    if (!create && (*err = check_length(x))) {
        dd_ddx_close(x);
        return NULL;
    }
    if (write) {
        int dead;
        mdb_reader_check(x->env, &dead); /* slots of readers that were killed */
    }
    /* Creating writes; opening only reads, so it never waits for a writer.
     * Committing (even a read-only transaction) keeps the table handles
     * opened in it for the environment's lifetime. */
    MDB_txn *txn;
    rc = begin_txn(x, create ? 0 : MDB_RDONLY, &txn);
    x->open_txn = rc == 0 ? txn : NULL;
    opening = x;
    if (rc == 0)
        rc = open_tables(x, txn, create);
    MDB_val k = {8, "settings"}, v;
    if (create) {
        x->settings = *s;
        enc e = {0};
        encode_settings(&e, s);
        v = (MDB_val){e.len, e.p};
        if (rc == 0)
            rc = mdb_put(txn, x->meta, &k, &v, 0);
        free(e.p);
        if (rc == 0) {
            rc = mdb_txn_commit(txn);
            txn = NULL;
        }
        x->open_txn = NULL;
        if (rc != 0) {
            if (txn)
                mdb_txn_abort(txn);
            *err = dd_asprintf("%s: cannot create the index: %s", path, mdb_strerror(rc));
            dd_ddx_close(x);
            return NULL;
        }
        /* What is read back is what is compared later. */
        x->settings.profile[sizeof x->settings.profile - 1] = '\0';
        x->settings.key_fingerprint[sizeof x->settings.key_fingerprint - 1] = '\0';
        return x;
    }
    if (rc == 0)
        rc = mdb_get(txn, x->meta, &k, &v);
    if (rc != 0) {
        if (txn)
            mdb_txn_abort(txn);
        x->open_txn = NULL;
        *err = not_ours(rc) ? dd_asprintf("%s: not a dedup index (%s)", path,
                                          rc == MDB_NOTFOUND ? "no dedup tables or settings in it"
                                                             : mdb_strerror(rc))
                            : dd_asprintf("%s: cannot read the index: %s", path, mdb_strerror(rc));
        dd_ddx_close(x);
        return NULL;
    }
    char *why = decode_settings(&v, &x->settings);
    rc = mdb_txn_commit(txn);
    x->open_txn = NULL;
    if (!why && rc != 0)
        why = dd_asprintf("cannot read the index: %s", mdb_strerror(rc));
    if (why) {
        *err = dd_asprintf("%s: %s", path, why);
        free(why);
        dd_ddx_close(x);
        return NULL;
    }
    return x;
}

static const char *unit_name(uint32_t mode)
{
    return mode == 0 ? "line" : mode == 1 ? "block" : "(unknown)";
}

const char *dd_ddx_profile_scheme(const char *profile, size_t *norm_len)
{
    const char *tag = strstr(profile, " minhash/");
    *norm_len = tag ? (size_t)(tag - profile) : strlen(profile);
    return tag ? tag + 1 : "minhash/k1";
}

/* text[0..len), a string of the settings read from an index (which anyone
 * may have written), as messages may show it: escaped (dd_printable), so
 * that it cannot drive the terminal or forge a line. A new string. */
static char *stored_text(const char *text, size_t len)
{
    char *copy = dd_asprintf("%.*s", (int)len, text);
    char *shown = dd_printable(copy);
    free(copy);
    return shown;
}

/* Whether the index's key fingerprint have (NUL-terminated, "" without a
 * key) and a run's want differ, and how, or NULL. */
static char *key_difference(const char *have, const char *want)
{
    int n = (int)sizeof((dd_ddx_settings *)0)->key_fingerprint - 1;
    if (!strncmp(have, want, (size_t)n))
        return NULL;
    if (!have[0])
        return dd_asprintf("built without a key, but --key-file was given");
    char *shown = stored_text(have, strlen(have));
    char *diff =
        !want[0] ? dd_asprintf("built with key fingerprint %s, but no --key-file was given", shown)
                 : dd_asprintf("built with key fingerprint %s, not %.*s", shown, n, want);
    free(shown);
    return diff;
}

/* The first difference between the index's settings and want, or NULL. */
static char *settings_difference(const dd_ddx_settings *have, const dd_ddx_settings *want)
{
    if (have->ngram != want->ngram)
        return dd_asprintf("built with --ngram %u, not %u", have->ngram, want->ngram);
    if (have->num_perm != want->num_perm)
        return dd_asprintf("built with --num-perm %u, not %u", have->num_perm, want->num_perm);
    if (have->bands != want->bands || have->rows != want->rows)
        return dd_asprintf("built with bands x rows %u x %u, not %u x %u", have->bands,
                           have->rows, want->bands, want->rows);
    if (have->unit_mode != want->unit_mode)
        return dd_asprintf("built with --unit %s, not %s", unit_name(have->unit_mode),
                           unit_name(want->unit_mode));
    if (strncmp(have->profile, want->profile, sizeof have->profile - 1)) {
        char w[sizeof want->profile];
        snprintf(w, sizeof w, "%.*s", (int)sizeof w - 1, want->profile);
        size_t hn, wn;
        const char *hs = dd_ddx_profile_scheme(have->profile, &hn);
        const char *ws = dd_ddx_profile_scheme(w, &wn);
        char *diff;
        if (hn == wn && !strncmp(have->profile, w, hn)) {
            char *scheme = stored_text(hs, strlen(hs));
            diff = dd_asprintf("signatures made with %s, this build makes %s: build the index "
                               "again with dedup index build",
                               scheme, ws);
            free(scheme);
        } else {
            char *profile = stored_text(have->profile, hn);
            diff = dd_asprintf("normaliser profile differs: index '%s', this build '%.*s': build "
                               "the index again with dedup index build",
                               profile, (int)wn, w);
            free(profile);
        }
        return diff;
    }
    if (have->seed != want->seed)
        return dd_asprintf("built with another hash seed");
    return key_difference(have->key_fingerprint, want->key_fingerprint);
}

char *dd_ddx_key_difference(const dd_ddx *x, const char *key_fingerprint)
{
    char *diff = key_difference(x->settings.key_fingerprint, key_fingerprint);
    char *err = diff ? dd_asprintf("%s: %s", x->path, diff) : NULL;
    free(diff);
    return err;
}

/* Removes what dd_ddx_create made of a new index folder. */
static void remove_new(const char *path)
{
    static const char *files[] = {"data.mdb", "lock.mdb"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char *f = dd_asprintf("%s/%s", path, files[i]);
        unlink(f);
        free(f);
    }
    rmdir(path);
}

/* Why an index cannot be created at path, which exists: NULL when it is an
 * empty folder. */
static char *occupied(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return dd_asprintf("%s: cannot create the index: it exists and is not a folder", path);
    DIR *dir = opendir(path);
    if (!dir)
        return dd_asprintf("%s: cannot create the index: %s", path, strerror(errno));
    bool empty = true, index = false;
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        empty = false;
        if (!strcmp(e->d_name, "data.mdb"))
            index = true;
    }
    closedir(dir);
    if (empty)
        return NULL;
    return index ? dd_asprintf("%s: an index is already there (use dedup index add)", path)
                 : dd_asprintf("%s: cannot create the index: the folder is not empty", path);
}

dd_ddx *dd_ddx_create(const char *path, const dd_ddx_settings *s, char **err)
{
    bool made = mkdir(path, 0755) == 0;
    if (!made) {
        *err = errno != EEXIST
                   ? dd_asprintf("%s: cannot create the index: %s", path, strerror(errno))
                   : occupied(path);
        if (*err)
            return NULL;
    }
    install_fault_handler();
    dd_ddx *x = open_env(path, true, true, s, err);
    if (!x && made)
        remove_new(path);
    return x;
}

dd_ddx *dd_ddx_create_staged(const char *path, const dd_ddx_settings *s, char **err)
{
    struct stat st;
    *err = NULL;
    if (stat(path, &st) == 0)
        *err = occupied(path);
    else if (errno != ENOENT)
        *err = dd_asprintf("%s: cannot create the index: %s", path, strerror(errno));
    if (*err)
        return NULL;
    char *staging = dd_asprintf("%s.part-%ld", path, (long)getpid());
    dd_ddx *x = dd_ddx_create(staging, s, err);
    if (x)
        x->final_path = dd_strdup(path);
    free(staging);
    return x;
}

/* The PID of a staging folder named name, when it is base.part-PID (PID
 * in digits), else 0. */
static long staging_pid(const char *name, const char *base, size_t base_len)
{
    static const char tag[] = ".part-";
    if (strncmp(name, base, base_len) || strncmp(name + base_len, tag, strlen(tag)))
        return 0;
    const char *digits = name + base_len + strlen(tag);
    long pid = 0;
    for (const char *d = digits; *d; d++) {
        if (*d < '0' || *d > '9' || pid > 999999999)
            return 0;
        pid = pid * 10 + (*d - '0');
    }
    return pid;
}

/* Removes the staging folder part when it holds nothing but what LMDB
 * makes there; 0, or why not. */
static int remove_part(const char *part)
{
    DIR *dir = opendir(part);
    if (!dir)
        return errno;
    struct dirent *e;
    int err = 0;
    while (!err && (e = readdir(dir)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "data.mdb") &&
            strcmp(e->d_name, "lock.mdb"))
            err = ENOTEMPTY; /* not only the index: someone's files */
    closedir(dir);
    static const char *files[] = {"data.mdb", "lock.mdb"};
    for (size_t i = 0; i < sizeof files / sizeof *files && !err; i++) {
        char *f = dd_asprintf("%s/%s", part, files[i]);
        if (unlink(f) != 0 && errno != ENOENT)
            err = errno;
        free(f);
    }
    if (!err && rmdir(part) != 0)
        err = errno;
    return err;
}

dd_ddx_stale_part *dd_ddx_remove_stale_parts(const char *path, size_t *n)
{
    *n = 0;
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/') /* "x.ddx/" names x.ddx */
        len--;
    size_t base_at = len;
    while (base_at > 0 && path[base_at - 1] != '/')
        base_at--;
    char *folder = base_at ? dd_asprintf("%.*s", (int)base_at, path) : dd_strdup(".");
    DIR *dir = opendir(folder);
    dd_ddx_stale_part *parts = NULL;
    size_t cap = 0;
    struct dirent *e;
    while (dir && (e = readdir(dir))) {
        long pid = staging_pid(e->d_name, path + base_at, len - base_at);
        if (pid <= 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue; /* not a staging folder, or its process runs */
        char *part = dd_asprintf("%.*s%s", (int)base_at, path, e->d_name);
        struct stat st;
        if (lstat(part, &st) != 0 || !S_ISDIR(st.st_mode)) {
            free(part);
            continue;
        }
        dd_grow(&parts, &cap, *n + 1, sizeof *parts);
        parts[(*n)++] = (dd_ddx_stale_part){part, pid, remove_part(part)};
    }
    if (dir)
        closedir(dir);
    free(folder);
    return parts;
}

void dd_ddx_stale_parts_free(dd_ddx_stale_part *parts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(parts[i].path);
    free(parts);
}

bool dd_ddx_publish(dd_ddx *x, char **err)
{
    if (!x->final_path)
        return true;
    if (x->txn || rename(x->path, x->final_path) != 0) {
        *err = x->txn ? dd_asprintf("%s: cannot publish the index: a write transaction is open",
                                    x->final_path)
                      : dd_asprintf("%s: cannot put the new index in place: %s", x->final_path,
                                    strerror(errno));
        return false;
    }
    free(x->path);
    x->path = x->final_path; /* LMDB keeps its open files: it needs no path */
    x->final_path = NULL;
    return true;
}

static dd_ddx *open_unguarded(const char *path, bool write, const dd_ddx_settings *want, char **err)
{
    dd_ddx *x = open_env(path, write, false, NULL, err);
    if (x && want) {
        char *diff = settings_difference(&x->settings, want);
        if (diff) {
            *err = dd_asprintf("%s: %s", path, diff);
            free(diff);
            dd_ddx_close(x);
            return NULL;
        }
    }
    return x;
}

void dd_ddx_close(dd_ddx *x)
{
    if (!x)
        return;
    if (opening == x)
        opening = NULL;
    if (x->stranded) { /* see mark_damaged: LMDB is not called again */
        free(x->final_path);
        free(x->path);
        free(x);
        return;
    }
    if (x->txn)
        mdb_txn_abort(x->txn);
    if (x->rtxn)
        mdb_txn_abort(x->rtxn);
    if (x->open_txn)
        mdb_txn_abort(x->open_txn);
    if (x->env)
        mdb_env_close(x->env);
    if (x->final_path) { /* a staged index never published */
        remove_new(x->path);
        free(x->final_path);
    }
    free(x->path);
    free(x);
}

const dd_ddx_settings *dd_ddx_settings_of(const dd_ddx *x) { return &x->settings; }

/* ---------------------------------------------------------- writing */

/* The tables of an index, as dd_lmdb_check must find them (see the top of
 * this file). */
static const dd_lmdb_table index_tables[] = {
    {"meta", 0, 0, 0},
    {"docs", 0, 0, 0},
    {"numbers", 0, 4, 0},
    {"bands", MDB_DUPSORT | MDB_DUPFIXED, 8, 4},
    {"paras", MDB_DUPSORT | MDB_DUPFIXED, 16, 12},
};

/* Inside the write transaction just begun (LMDB's writer lock held, so the
 * file cannot change under an honest writer): checks the whole data file
 * before LMDB writes to it. On a damaged store, aborts the transaction and
 * says why. Its run under the caller's guard: a fault (the file cut short
 * meanwhile) fails it as damaged, see mark_damaged. */
static bool verify_store(dd_ddx *x, char **err)
{
    char *data = data_path(x->path);
    int fd = open(data, O_RDONLY | O_CLOEXEC);
    free(data);
    struct stat st;
    void *map = MAP_FAILED;
    char *why = NULL;
    if (fd < 0 || fstat(fd, &st) != 0)
        why = dd_asprintf("cannot read data.mdb: %s", strerror(errno));
    else if (st.st_size <= 0 || (uint64_t)st.st_size > SIZE_MAX)
        why = dd_asprintf("data.mdb has %lld bytes", (long long)st.st_size);
    else if ((map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED | MAP_POPULATE, fd,
                         0)) == MAP_FAILED) /* populated: every page is read once */
        why = dd_asprintf("cannot map data.mdb: %s", strerror(errno));
    if (fd >= 0)
        close(fd); /* the map stays */
    if (map != MAP_FAILED) {
        x->check_map = map;
        x->check_len = (size_t)st.st_size;
        why = dd_lmdb_check(map, x->check_len, index_tables,
                            sizeof index_tables / sizeof *index_tables);
        x->check_map = NULL;
        munmap(map, (size_t)st.st_size);
    }
    if (!why)
        return true;
    dd_ddx_abort(x);
    *err = dd_asprintf("%s: the index is damaged (%s); build it again", x->path, why);
    free(why);
    return false;
}

static bool begin_unguarded(dd_ddx *x, char **err)
{
    if (!x->write) {
        *err = dd_asprintf("%s: opened for reading only", x->path);
        return false;
    }
    if (x->txn || x->rdepth) {
        *err = dd_asprintf("%s: cannot start writing: %s", x->path,
                           x->txn ? "a write transaction is open" : "a read is in progress");
        return false;
    }
    int dead;
    mdb_reader_check(x->env, &dead);
    for (;;) {
        MDB_txn *txn;
        int rc = begin_txn(x, 0, &txn);
        if (rc != 0)
            return fail(x, err, "cannot start writing", rc);
        /* With the writer's lock held, the pages in use are final until this
         * transaction writes: raise the map if more than half is used. */
        MDB_envinfo info;
        MDB_stat est;
        rc = mdb_env_info(x->env, &info);
        if (rc == 0)
            rc = mdb_env_stat(x->env, &est);
        if (rc != 0) {
            mdb_txn_abort(txn);
            return fail(x, err, "cannot start writing", rc);
        }
        uint64_t used = ((uint64_t)info.me_last_pgno + 1) * est.ms_psize;
        if (used <= info.me_mapsize / 2) {
            x->txn = txn;
            return verify_store(x, err);
        }
        mdb_txn_abort(txn);
        size_t map = info.me_mapsize;
        while (map / 2 < used) {
            if (map > SIZE_MAX / 2) {
                *err = dd_asprintf("%s: cannot grow the map beyond %zu bytes", x->path, map);
                return false;
            }
            map *= 2;
        }
        rc = mdb_env_set_mapsize(x->env, map);
        if (rc != 0)
            return fail(x, err, "cannot grow the map", rc);
    }
}

static bool commit_unguarded(dd_ddx *x, char **err)
{
    if (!x->txn) {
        *err = dd_asprintf("%s: cannot commit: no write transaction is open", x->path);
        return false;
    }
    int rc = mdb_txn_commit(x->txn);
    x->txn = NULL;
    return rc == 0 || write_error(x, err, "cannot commit", rc);
}

void dd_ddx_abort(dd_ddx *x)
{
    if (x->txn)
        mdb_txn_abort(x->txn);
    x->txn = NULL;
}

/* Aborts the write transaction and says why. */
static bool write_failed(dd_ddx *x, char **err, const char *what, int rc)
{
    dd_ddx_abort(x);
    if (rc == MDB_MAP_FULL) {
        MDB_envinfo info;
        size_t map = mdb_env_info(x->env, &info) == 0 ? info.me_mapsize : 0;
        *err = dd_asprintf("%s: %s: this write transaction outgrew the %zu MiB map, of which "
                           "at least half was free when it started (MDB_MAP_FULL); nothing "
                           "was changed",
                           x->path, what, map >> 20);
        return false;
    }
    return write_error(x, err, what, rc); /* LMDB writes some pages early */
}

static bool need_txn(dd_ddx *x, char **err, const char *what)
{
    if (x->txn)
        return true;
    *err = dd_asprintf("%s: %s: no write transaction is open", x->path, what);
    return false;
}

/* Removes the document whose record is v from bands, paras and numbers. */
static int remove_entries(dd_ddx *x, const MDB_val *v)
{
    dec r = {v->mv_data, v->mv_size, 0, false};
    uint32_t number = get_u32(&r);
    get_bytes(&r, 8 + 8 + 16 + 4 + 4);
    uint32_t k = get_u32(&r);
    get_bytes(&r, (size_t)k * 4);
    uint32_t nbands = get_u32(&r);
    unsigned char num[4];
    be32(num, number);
    for (uint32_t i = 0; i < nbands && !r.bad; i++) {
        const unsigned char *bk = get_bytes(&r, 8);
        if (!bk)
            break;
        MDB_val key = {8, (void *)bk}, val = {4, num};
        int rc = mdb_del(x->txn, x->bands, &key, &val);
        if (rc != 0 && rc != MDB_NOTFOUND)
            return rc;
    }
    uint32_t nparas = get_u32(&r);
    for (uint32_t i = 0; i < nparas && !r.bad; i++) {
        const unsigned char *pk = get_bytes(&r, 16);
        const unsigned char *lines = get_bytes(&r, 8);
        if (!pk || !lines)
            break;
        unsigned char place[12];
        memcpy(place, num, 4);
        memcpy(place + 4, lines, 8);
        MDB_val key = {16, (void *)pk}, val = {12, place};
        int rc = mdb_del(x->txn, x->paras, &key, &val);
        if (rc != 0 && rc != MDB_NOTFOUND)
            return rc;
    }
    if (r.bad || r.at != r.len)
        return MDB_CORRUPTED;
    MDB_val nk = {4, num};
    int rc = mdb_del(x->txn, x->numbers, &nk, NULL);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static bool put_unguarded(dd_ddx *x, dd_ddx_doc *d, const uint64_t *band_keys, const dd_ddx_para *paras,
                size_t nparas, char **err)
{
    if (!need_txn(x, err, "cannot store a document"))
        return false;
    size_t id_len = strlen(d->id);
    if (id_len == 0 || id_len > x->max_key) {
        char *p = dd_printable(d->id);
        *err = dd_asprintf("%s: %s: an id must have 1 to %zu bytes", x->path, p, x->max_key);
        free(p);
        dd_ddx_abort(x);
        return false;
    }
    if (nparas > UINT32_MAX) {
        *err = dd_asprintf("%s: a document with %zu paragraphs", x->path, nparas);
        dd_ddx_abort(x);
        return false;
    }
    MDB_val idk = {id_len, d->id}, old;
    int rc = mdb_get(x->txn, x->docs, &idk, &old);
    if (rc == 0)
        rc = remove_entries(x, &old);
    else if (rc == MDB_NOTFOUND)
        rc = 0;
    if (rc != 0)
        return write_failed(x, err, "cannot replace a document", rc);
    /* A new number, never reused. */
    MDB_val nk = {4, "next"}, nv;
    uint32_t number = 1;
    rc = mdb_get(x->txn, x->meta, &nk, &nv);
    if (rc == 0 && nv.mv_size == 4)
        number = from_be32(nv.mv_data);
    else if (rc == 0)
        rc = MDB_CORRUPTED;
    else if (rc == MDB_NOTFOUND)
        rc = 0;
    if (rc == 0 && number == UINT32_MAX)
        rc = MDB_MAP_FULL;
    if (rc != 0)
        return write_failed(x, err, "cannot number a document", rc);
    unsigned char next[4], num[4];
    be32(next, number + 1);
    be32(num, number);
    nv = (MDB_val){4, next};

    const dd_ddx_settings *s = &x->settings;
    enc e = {0};
    put_u32(&e, number);
    put_u64(&e, d->size);
    put_u64(&e, (uint64_t)d->mtime_ns);
    put_u64(&e, d->key.lo);
    put_u64(&e, d->key.hi);
    put_u32(&e, d->words);
    put_u32(&e, d->shingles);
    put_u32(&e, s->num_perm);
    for (uint32_t i = 0; i < s->num_perm; i++)
        put_u32(&e, d->minhash[i]);
    put_u32(&e, s->bands);
    for (uint32_t i = 0; i < s->bands; i++)
        put_u64(&e, band_keys[i]);
    put_u32(&e, (uint32_t)nparas);
    for (size_t i = 0; i < nparas; i++) {
        put_u64(&e, paras[i].key.hi);
        put_u64(&e, paras[i].key.lo);
        put_u32(&e, paras[i].first_line);
        put_u32(&e, paras[i].last_line);
    }
    MDB_val rec = {e.len, e.p}, idv = {id_len, d->id}, numk = {4, num};
    rc = mdb_put(x->txn, x->meta, &nk, &nv, 0);
    if (rc == 0)
        rc = mdb_put(x->txn, x->docs, &idk, &rec, 0);
    if (rc == 0) {
        rc = mdb_put(x->txn, x->numbers, &numk, &idv, MDB_NOOVERWRITE);
        if (rc == MDB_KEYEXIST) /* a number given twice: "next" went back */
            rc = MDB_CORRUPTED;
    }
    for (uint32_t i = 0; i < s->bands && rc == 0; i++) {
        unsigned char bk[8];
        be64(bk, band_keys[i]);
        MDB_val key = {8, bk}, val = {4, num};
        rc = mdb_put(x->txn, x->bands, &key, &val, MDB_NODUPDATA);
        if (rc == MDB_KEYEXIST) /* the same band key twice in one signature */
            rc = 0;
    }
    for (size_t i = 0; i < nparas && rc == 0; i++) {
        unsigned char pk[16], place[12];
        be64(pk, paras[i].key.hi);
        be64(pk + 8, paras[i].key.lo);
        memcpy(place, num, 4);
        be32(place + 4, paras[i].first_line);
        be32(place + 8, paras[i].last_line);
        MDB_val key = {16, pk}, val = {12, place};
        rc = mdb_put(x->txn, x->paras, &key, &val, MDB_NODUPDATA);
        if (rc == MDB_KEYEXIST)
            rc = 0;
    }
    free(e.p);
    if (rc != 0)
        return write_failed(x, err, "cannot store a document", rc);
    d->number = number;
    return true;
}

static bool remove_unguarded(dd_ddx *x, const char *id, bool *found, char **err)
{
    *found = false;
    if (!need_txn(x, err, "cannot remove a document"))
        return false;
    size_t id_len = strlen(id);
    if (id_len == 0 || id_len > x->max_key)
        return true; /* such an id cannot be a key */
    MDB_val idk = {id_len, (void *)id}, old;
    int rc = mdb_get(x->txn, x->docs, &idk, &old);
    if (rc == MDB_NOTFOUND)
        return true;
    if (rc == 0)
        rc = remove_entries(x, &old);
    if (rc == 0)
        rc = mdb_del(x->txn, x->docs, &idk, NULL);
    if (rc != 0)
        return write_failed(x, err, "cannot remove a document", rc);
    *found = true;
    return true;
}

/* ---------------------------------------------------------- reading */

/* Decodes a document record (the minhash array and id are allocated);
 * false when it is damaged. */
static bool decode_doc(const dd_ddx *x, const MDB_val *v, const char *id, size_t id_len,
                       dd_ddx_doc *d)
{
    memset(d, 0, sizeof *d);
    dec r = {v->mv_data, v->mv_size, 0, false};
    d->number = get_u32(&r);
    d->size = get_u64(&r);
    d->mtime_ns = (int64_t)get_u64(&r);
    d->key.lo = get_u64(&r);
    d->key.hi = get_u64(&r);
    d->words = get_u32(&r);
    d->shingles = get_u32(&r);
    uint32_t k = get_u32(&r);
    if (r.bad || k != x->settings.num_perm)
        return false;
    const unsigned char *mh = get_bytes(&r, (size_t)k * 4);
    if (!mh)
        return false;
    d->minhash = dd_malloc((size_t)k * sizeof *d->minhash);
    for (uint32_t i = 0; i < k; i++)
        d->minhash[i] = from_be32(mh + 4 * (size_t)i);
    d->id = dd_malloc(id_len + 1);
    memcpy(d->id, id, id_len);
    d->id[id_len] = '\0';
    return true;
}

void dd_ddx_doc_free(dd_ddx_doc *d) { dd_indexed_doc_free(d); }

static bool get_unguarded(dd_ddx *x, const char *id, dd_ddx_doc *d, char **err)
{
    *err = NULL;
    size_t id_len = strlen(id);
    if (id_len == 0 || id_len > x->max_key)
        return false; /* such an id cannot be a key */
    MDB_txn *txn;
    if (!read_txn(x, &txn, err))
        return false;
    MDB_val idk = {id_len, (void *)id}, v;
    int rc = mdb_get(txn, x->docs, &idk, &v);
    bool ok = false;
    if (rc == 0) {
        ok = decode_doc(x, &v, id, id_len, d);
        if (!ok) {
            char *p = dd_printable(id);
            *err = dd_asprintf("%s: %s: a damaged document record", x->path, p);
            free(p);
        }
    } else if (rc != MDB_NOTFOUND) {
        fail(x, err, "cannot read", rc);
    }
    end_read(x, txn);
    return ok;
}

static bool get_number_unguarded(dd_ddx *x, uint32_t number, dd_ddx_doc *d, char **err)
{
    MDB_txn *txn;
    if (!read_txn(x, &txn, err))
        return false;
    unsigned char num[4];
    be32(num, number);
    MDB_val nk = {4, num}, idv, v;
    int rc = mdb_get(txn, x->numbers, &nk, &idv);
    bool ok = false;
    if (rc == 0)
        rc = mdb_get(txn, x->docs, &idv, &v);
    if (rc == 0) {
        ok = decode_doc(x, &v, idv.mv_data, idv.mv_size, d) && d->number == number;
        if (!ok) {
            dd_ddx_doc_free(d);
            *err = dd_asprintf("%s: document %u: a damaged record", x->path, number);
        }
    } else if (rc != MDB_NOTFOUND) {
        fail(x, err, "cannot read", rc);
    }
    end_read(x, txn);
    return ok;
}

/* Appends the numbers in v (a multiple of 4 bytes) to out. */
static bool add_numbers(const MDB_val *v, uint32_t **out, size_t *cap, size_t *n)
{
    if (v->mv_size % 4)
        return false;
    size_t k = v->mv_size / 4;
    dd_grow(out, cap, *n + k, sizeof **out);
    const unsigned char *p = v->mv_data;
    for (size_t i = 0; i < k; i++)
        (*out)[(*n)++] = from_be32(p + 4 * i);
    return true;
}

/* The numbers under each band key, at most per_band of each (the lowest),
 * appended key after key; with distinct, sorted and each once. */
static long candidates_unguarded(dd_ddx *x, const uint64_t *band_keys, size_t bands,
                                 size_t per_band, bool distinct, uint32_t **out, size_t *cap,
                                 char **err)
{
    MDB_txn *txn;
    if (!read_txn(x, &txn, err))
        return -1;
    MDB_cursor *cur = NULL;
    int rc = open_cursor(x, txn, x->bands, &cur);
    size_t n = 0;
    for (size_t b = 0; b < bands && rc == 0; b++) {
        unsigned char bk[8];
        be64(bk, band_keys[b]);
        MDB_val key = {8, bk}, val;
        rc = mdb_cursor_get(cur, &key, &val, MDB_SET_KEY);
        if (rc == MDB_NOTFOUND) {
            rc = 0;
            continue;
        }
        /* A page of numbers at a time. A key with one number has no page of
         * duplicates: MDB_GET_MULTIPLE then leaves val as MDB_SET_KEY set it. */
        if (rc == 0)
            rc = mdb_cursor_get(cur, &key, &val, MDB_GET_MULTIPLE);
        size_t band_start = n;
        while (rc == 0 && n - band_start < per_band) {
            if (!add_numbers(&val, out, cap, &n))
                rc = MDB_CORRUPTED;
            else
                rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT_MULTIPLE);
        }
        if (rc == MDB_NOTFOUND)
            rc = 0;
        if (n - band_start > per_band) /* numbers come sorted: the lowest stay */
            n = band_start + per_band;
    }
    if (cur)
        close_cursor(x, cur);
    end_read(x, txn);
    if (rc != 0) {
        fail(x, err, "cannot read the bands", rc);
        return -1;
    }
    if (!distinct)
        return (long)n;
    if (n > 1)
        qsort(*out, n, sizeof **out, dd_compare_u32);
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (u == 0 || (*out)[i] != (*out)[u - 1])
            (*out)[u++] = (*out)[i];
    return (long)u;
}

static long paragraph_unguarded(dd_ddx *x, sh_key key, dd_ddx_place *out, size_t max, char **err)
{
    MDB_txn *txn;
    if (!read_txn(x, &txn, err))
        return -1;
    MDB_cursor *cur = NULL;
    int rc = open_cursor(x, txn, x->paras, &cur);
    size_t n = 0;
    if (rc == 0 && max > 0) {
        unsigned char pk[16];
        be64(pk, key.hi);
        be64(pk + 8, key.lo);
        MDB_val k = {16, pk}, v;
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY);
        while (rc == 0 && n < max) {
            if (v.mv_size != 12) {
                rc = MDB_CORRUPTED;
                break;
            }
            const unsigned char *p = v.mv_data;
            out[n++] = (dd_ddx_place){from_be32(p), from_be32(p + 4), from_be32(p + 8)};
            if (n < max)
                rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP);
        }
        if (rc == MDB_NOTFOUND)
            rc = 0;
    }
    if (cur)
        close_cursor(x, cur);
    end_read(x, txn);
    if (rc != 0) {
        fail(x, err, "cannot read the paragraphs", rc);
        return -1;
    }
    return (long)n;
}

static bool each_unguarded(dd_ddx *x, bool (*fn)(void *ctx, const dd_ddx_doc *d), void *ctx, char **err)
{
    MDB_txn *txn;
    if (!read_txn(x, &txn, err))
        return false;
    MDB_cursor *cur = NULL;
    int rc = open_cursor(x, txn, x->docs, &cur);
    bool damaged = false;
    if (rc == 0) {
        MDB_val k, v;
        rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
        while (rc == 0) {
            dd_ddx_doc d;
            if (!decode_doc(x, &v, k.mv_data, k.mv_size, &d)) {
                damaged = true;
                break;
            }
            bool more = fn(ctx, &d);
            dd_ddx_doc_free(&d);
            if (!more)
                break;
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        }
        if (rc == MDB_NOTFOUND)
            rc = 0;
    }
    if (cur)
        close_cursor(x, cur);
    end_read(x, txn);
    if (damaged) {
        *err = dd_asprintf("%s: a damaged document record", x->path);
        return false;
    }
    return rc == 0 || fail(x, err, "cannot read the documents", rc);
}

static bool counts_of_unguarded(dd_ddx *x, dd_ddx_counts *c, char **err)
{
    memset(c, 0, sizeof *c);
    MDB_txn *txn;
    if (!read_txn(x, &txn, err))
        return false;
    MDB_stat st;
    int rc = mdb_stat(txn, x->docs, &st);
    if (rc == 0) {
        c->docs = st.ms_entries;
        rc = mdb_stat(txn, x->paras, &st);
    }
    if (rc == 0) {
        c->paragraphs = st.ms_entries;
        rc = mdb_stat(txn, x->bands, &st);
    }
    if (rc == 0)
        c->band_entries = st.ms_entries;
    end_read(x, txn);
    char *data = data_path(x->path);
    struct stat fs;
    if (stat(data, &fs) == 0)
        c->map_bytes = (uint64_t)fs.st_size;
    free(data);
    return rc == 0 || fail(x, err, "cannot count", rc);
}

/* ------------------------------------------------------------ the guarded API */

dd_ddx *dd_ddx_open(const char *path, bool write, const dd_ddx_settings *want, char **err)
{
    install_fault_handler();
    sigjmp_buf jump;
    sigjmp_buf *volatile outer = fault_jump;
    opening = NULL;
    if (sigsetjmp(jump, 1)) {
        fault_jump = outer;
        tick_limit = 0;
        dd_ddx *half = opening;
        opening = NULL;
        *err = damaged_message(path);
        if (half) {
            mark_damaged(half);
            dd_ddx_close(half);
        }
        return NULL;
    }
    ticks = 0;
    tick_limit = loop_limit;
    fault_jump = &jump;
    dd_ddx *x = open_unguarded(path, write, want, err);
    fault_jump = outer;
    tick_limit = 0;
    opening = NULL;
    return x;
}

bool dd_ddx_begin(dd_ddx *x, char **err)
{
    bool ok;
    GUARDED(x, err, ok, false, 0, begin_unguarded(x, err));
    return ok;
}

bool dd_ddx_commit(dd_ddx *x, char **err)
{
    bool ok;
    GUARDED(x, err, ok, false, 0, commit_unguarded(x, err));
    return ok;
}

bool dd_ddx_put(dd_ddx *x, dd_ddx_doc *d, const uint64_t *band_keys, const dd_ddx_para *paras,
                size_t nparas, char **err)
{
    bool ok;
    GUARDED(x, err, ok, false, loop_limit, put_unguarded(x, d, band_keys, paras, nparas, err));
    return ok;
}

bool dd_ddx_remove(dd_ddx *x, const char *id, bool *found, char **err)
{
    bool ok;
    GUARDED(x, err, ok, false, loop_limit, remove_unguarded(x, id, found, err));
    return ok;
}

bool dd_ddx_get(dd_ddx *x, const char *id, dd_ddx_doc *d, char **err)
{
    bool ok;
    *err = NULL;
    GUARDED(x, err, ok, false, loop_limit, get_unguarded(x, id, d, err));
    return ok;
}

bool dd_ddx_get_number(dd_ddx *x, uint32_t number, dd_ddx_doc *d, char **err)
{
    bool ok;
    *err = NULL;
    GUARDED(x, err, ok, false, loop_limit, get_number_unguarded(x, number, d, err));
    return ok;
}

void dd_ddx_set_loop_limit(int seconds)
{
    loop_limit = seconds > 0 ? seconds : 1;
}

long dd_ddx_candidates(dd_ddx *x, const uint64_t *band_keys, size_t bands, uint32_t **out,
                       size_t *cap, char **err)
{
    long n;
    GUARDED(x, err, n, -1, loop_limit,
            candidates_unguarded(x, band_keys, bands, SIZE_MAX, true, out, cap, err));
    return n;
}

long dd_ddx_band_members(dd_ddx *x, const uint64_t *band_keys, size_t bands, size_t per_band,
                         uint32_t **out, size_t *cap, char **err)
{
    long n;
    GUARDED(x, err, n, -1, loop_limit,
            candidates_unguarded(x, band_keys, bands, per_band, false, out, cap, err));
    return n;
}

long dd_ddx_paragraph(dd_ddx *x, sh_key key, dd_ddx_place *out, size_t max, char **err)
{
    long n;
    GUARDED(x, err, n, -1, loop_limit, paragraph_unguarded(x, key, out, max, err));
    return n;
}

bool dd_ddx_each(dd_ddx *x, bool (*fn)(void *ctx, const dd_ddx_doc *d), void *ctx, char **err)
{
    bool ok;
    GUARDED(x, err, ok, false, 0, each_unguarded(x, fn, ctx, err));
    return ok;
}

bool dd_ddx_counts_of(dd_ddx *x, dd_ddx_counts *c, char **err)
{
    bool ok;
    GUARDED(x, err, ok, false, loop_limit, counts_of_unguarded(x, c, err));
    return ok;
}

static bool earlier_get(void *ctx, const char *id, dd_indexed_doc *d, char **err)
{
    return dd_ddx_get(ctx, id, d, err);
}

static bool earlier_get_number(void *ctx, uint32_t number, dd_indexed_doc *d, char **err)
{
    return dd_ddx_get_number(ctx, number, d, err);
}

static long earlier_band_members(void *ctx, const uint64_t *band_keys, size_t bands,
                                 size_t per_band, uint32_t **out, size_t *cap, char **err)
{
    return dd_ddx_band_members(ctx, band_keys, bands, per_band, out, cap, err);
}

static long earlier_paragraph(void *ctx, sh_key key, dd_indexed_place *out, size_t max,
                              char **err)
{
    return dd_ddx_paragraph(ctx, key, out, max, err);
}

dd_earlier dd_ddx_earlier(dd_ddx *x)
{
    return (dd_earlier){earlier_get, earlier_get_number, earlier_band_members, earlier_paragraph,
                        x};
}
