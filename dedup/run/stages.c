/*
 * stages.c - the work folder of a resumable run (stages.h).
 *
 * A part file is
 *   a header of 64 bytes: "DDSIGN02", the settings' hash, the inputs'
 *   hash, the part's hash, its number, its first file, its documents (8
 *   bytes each, little-endian), 8 bytes of zeros;
 *   the facts of each of its documents, in order (facts.c);
 *   an index: where each document's facts start, and where they end (n + 1
 *   offsets from the start of the file), then where the index starts;
 *   the XXH3-64 of every byte before it, then "DDSIGEND".
 * Its marker, part-NNNNNN.done, is a few lines of text: the three hashes,
 * the file's size and its checksum.
 *
 * Files are written under a temporary name that says which host and
 * process writes it (NAME.tmp.HOST.PID), synced, then renamed into place,
 * and the folder synced: after a crash a name holds a whole file or
 * nothing. A temporary file of a process of this host that is no longer
 * running is removed when the folder is next opened.
 */
#include "run/stages.h"

#include "engine/document.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

/* Changes whenever what a part file holds changes: a folder of another
 * format is refused, never read. */
#define FACTS_FORMAT "2"
#define PLAN_FIRST_LINE "dedup work folder, facts format " FACTS_FORMAT "\n"
#define HEADER_BYTES 64
#define TRAILER_BYTES 24 /* index start, checksum, end magic */
#define WRITE_CHUNK ((size_t)1 << 20)
#define MARKER_MAX_BYTES 4096 /* a marker is about 150 bytes */
/* The most bytes of facts a document can have: FACTS_PER_BYTE per byte of
 * it (a unit of one word on every line takes about 170: its record, set
 * start, band keys, a near-repeat, a shingle hash), FACTS_PER_DOCUMENT
 * besides (its fixed fields, messages), and its signature (4 bytes a
 * MinHash value).
 * Real text takes about 1.1 bytes a byte (README.md). A part file larger
 * than its documents' facts can be is damaged, and never read: what it
 * makes dedup hash and allocate stays a constant times the inputs. */
#define FACTS_PER_BYTE 256
#define FACTS_PER_DOCUMENT ((uint64_t)1 << 16)

/* --------------------------------------------------------------- helpers */

/* Syncs the folder dir, so that a rename in it survives a crash. */
static bool sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0 || fsync(fd) != 0) {
        int err = errno;
        if (fd >= 0)
            close(fd);
        dd_error("%s: %s", dir, strerror(err));
        return false;
    }
    close(fd);
    return true;
}

/* Creates the temporary file tmp, new: what is at its name (a file a dead
 * process of the same number left, or a link someone put there to have us
 * write through it) is removed first, and the file is made where the name
 * is, never through a link. */
static int create_temporary(const char *tmp)
{
    unlink(tmp);
    return open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
}

static char *temp_name(const char *path)
{
    char host[256] = "host";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    for (char *h = host; *h; h++)
        if (*h == '/' || *h == '.')
            *h = '_';
    return dd_asprintf("%s.tmp.%s.%ld", path, host, (long)getpid());
}

static bool write_all(int fd, const void *p, size_t n, const char *path)
{
    const char *s = p;
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            dd_error("%s: %s", path, w < 0 ? strerror(errno) : "cannot write");
            return false;
        }
        s += w;
        n -= (size_t)w;
    }
    return true;
}

/* Bytes to write, one piece of a file. */
typedef struct piece {
    const void *p;
    size_t n;
} piece;

/* Writes the pieces v[0..n), end to end, to path atomically: a temporary
 * file, synced, renamed, its folder dir synced. False after a message. */
static bool write_pieces_atomically(const char *dir, const char *path, const piece *v, size_t n)
{
    char *tmp = temp_name(path);
    int fd = create_temporary(tmp);
    bool ok = fd >= 0;
    if (!ok)
        dd_error("%s: %s", tmp, strerror(errno));
    for (size_t i = 0; i < n && ok; i++)
        ok = write_all(fd, v[i].p, v[i].n, tmp);
    if (ok && fsync(fd) != 0) {
        dd_error("%s: %s", tmp, strerror(errno));
        ok = false;
    }
    if (fd >= 0 && close(fd) != 0 && ok) {
        dd_error("%s: %s", tmp, strerror(errno));
        ok = false;
    }
    if (ok && rename(tmp, path) != 0) {
        dd_error("%s: %s", path, strerror(errno));
        ok = false;
    }
    if (!ok)
        unlink(tmp);
    free(tmp);
    return ok && sync_dir(dir);
}

/* Writes text to path atomically (write_pieces_atomically). */
static bool write_file_atomically(const char *dir, const char *path, const char *text, size_t len)
{
    piece whole = {text, len};
    return write_pieces_atomically(dir, path, &whole, 1);
}

/* Opens a file of the work folder to read it, without waiting: anything
 * but a regular file (a FIFO or a device put there) is refused, errno
 * ENODEV (a FIFO opened to read would block until a writer came). */
static int open_regular(const char *path)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    int err = fstat(fd, &st) != 0 ? errno : !S_ISREG(st.st_mode) ? ENODEV : 0;
    if (err) {
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

/* What open_regular's errno means. */
static const char *open_error(int err)
{
    return err == ENODEV ? "not a regular file" : strerror(err);
}

/* The first max bytes at most of a small regular file (enough to compare
 * it with what it should hold: a larger one differs), their number in
 * *len, or NULL (errno set). */
static char *read_small_file(const char *path, size_t max, size_t *len_read)
{
    int fd = open_regular(path);
    if (fd < 0)
        return NULL;
    char *text = dd_malloc(max + 1);
    size_t len = 0;
    while (len < max) {
        ssize_t n = read(fd, text + len, max - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int err = errno;
            close(fd);
            free(text);
            errno = err;
            return NULL;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    text[len] = '\0';
    *len_read = len;
    return text;
}

/* Removes the temporary files in dir that processes of this host left when
 * they died (a crash, kill -9). */
static void remove_dead_temporaries(const char *dir)
{
    char host[256] = "host";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    for (char *h = host; *h; h++)
        if (*h == '/' || *h == '.')
            *h = '_';
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *t = strstr(e->d_name, ".tmp.");
        if (!t)
            continue;
        const char *pid_at = strrchr(t + 5, '.');
        if (!pid_at || (size_t)(pid_at - (t + 5)) != strlen(host) ||
            strncmp(t + 5, host, strlen(host)))
            continue;
        long pid = strtol(pid_at + 1, NULL, 10);
        if (pid <= 0 || (kill((pid_t)pid, 0) != 0 && errno == ESRCH)) {
            char *path = dd_asprintf("%s/%s", dir, e->d_name);
            unlink(path);
            free(path);
        }
    }
    closedir(d);
}

/* ---------------------------------------------------------------- the plan */

/* A number as its shortest text that reads back the same. */
static char *number_text(double v)
{
    for (int digits = 6; digits < 17; digits++) {
        char *s = dd_asprintf("%.*g", digits, v);
        if (strtod(s, NULL) == v)
            return s;
        free(s);
    }
    return dd_asprintf("%.17g", v);
}

/* The settings that change a decision, one "name value" line each, named
 * as the options that set them. */
static void settings_text(const dd_options *o, sh_buf *out)
{
    const dd_near_params *n = &o->near;
    char *para = number_text(o->para_threshold), *threshold = number_text(n->threshold),
         *containment = number_text(n->containment), *recall = number_text(n->recall),
         *ratio = number_text(n->size_ratio);
    char *s = dd_asprintf(
        "setting version %s\n"
        "setting unit %s\n"
        "setting min-words %lu\n"
        "setting boilerplate-df %lu\n"
        "setting para-threshold %s\n"
        "setting near %s\n"
        "setting method %s\n"
        "setting threshold %s\n"
        "setting containment %s\n"
        "setting recall %s\n"
        "setting size-ratio %s\n"
        "setting min-shingles %lu\n"
        "setting ngram %lu\n"
        "setting num-perm %lu\n"
        "setting bands %lu\n"
        "setting rows %lu\n"
        "setting hamming %lu\n"
        "setting keep %s\n"
        "setting verify %s\n"
        "setting key %s\n"
        "setting seed %llu\n"
        "setting max-record %lu\n"
        "setting field %s\n"
        "setting id-field %s\n"
        "setting whole-files %s\n"
        "setting on-error %s\n"
        "setting in-place %s\n",
        SH_VERSION, o->unit == DD_UNIT_LINE ? "line" : "block", o->min_words, o->boilerplate_df,
        para, n->enabled ? "yes" : "no", n->method == DD_METHOD_MINHASH ? "minhash" : "simhash",
        threshold, containment, recall, ratio, n->min_shingles, n->ngram, n->num_perm, n->bands,
        n->rows, n->hamming, n->keep == DD_KEEP_FIRST ? "first" : "longest",
        n->verify_exact ? "exact" : "estimate", o->key_fingerprint[0] ? o->key_fingerprint : "none",
        (unsigned long long)(o->hash.keyed ? 0 : o->hash.seed), o->max_record_mb,
        o->field ? o->field : "", o->id_field ? o->id_field : "(default)",
        o->whole_files ? "yes" : "no",
        o->on_error == DD_ON_ERROR_STOP   ? "stop"
        : o->on_error == DD_ON_ERROR_SKIP ? "skip"
                                          : "drop",
        o->in_place ? "yes" : "no");
    free(para);
    free(threshold);
    free(containment);
    free(recall);
    free(ratio);
    dd_grow(&out->data, &out->cap, out->len + strlen(s) + 1, 1);
    memcpy(out->data + out->len, s, strlen(s) + 1);
    out->len += strlen(s);
    free(s);
}

/* Hashes what names source f and what it holds: its path, its kind, its
 * size and the time it was last changed (mtime), so that a file edited
 * since the folder was made, even to the same size, makes other inputs. */
static void hash_source(XXH3_state_t *st, const dd_source *f)
{
    unsigned char b[25];
    XXH3_64bits_update(st, f->path, strlen(f->path) + 1);
    b[0] = f->shard ? 'S' : 'F';
    dd_put_le64(b + 1, f->size);
    dd_put_le64(b + 9, (uint64_t)f->mtime.tv_sec);
    dd_put_le64(b + 17, (uint64_t)f->mtime.tv_nsec);
    XXH3_64bits_update(st, b, sizeof b);
}

/* a + b, or UINT64_MAX when it does not fit. */
static uint64_t add_saturated(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* a * b, or UINT64_MAX when it does not fit. */
static uint64_t times_saturated(uint64_t a, uint64_t b)
{
    return b && a > UINT64_MAX / b ? UINT64_MAX : a * b;
}

/* Whether source f is a compressed shard: its size on disk says nothing of
 * its records' (they are known once it is read). */
static bool compressed(const dd_source *f)
{
    size_t len = strlen(f->path);
    return f->shard && ((len >= 3 && !strcmp(f->path + len - 3, ".gz")) ||
                        (len >= 4 && !strcmp(f->path + len - 4, ".zst")));
}

/* What the files of part p, as listed, can hold: p->text, the bytes of
 * their documents, at most their sizes (UINT64_MAX for a compressed shard,
 * unknown until read), and p->most_docs, a document a file, at most one a
 * byte of a shard (each record a line that is not blank). dd_work_place
 * makes both exact. */
static void bound_part(const dd_work *w, dd_part *p)
{
    p->text = 0;
    p->most_docs = 0;
    for (size_t k = p->from; k < p->from + p->files; k++) {
        const dd_source *f = &w->sources.v[k];
        bool unknown = compressed(f);
        p->text = add_saturated(p->text, unknown ? UINT64_MAX : f->size);
        p->most_docs = add_saturated(p->most_docs, unknown ? UINT64_MAX : f->shard ? f->size : 1);
    }
}

/* The most bytes the file of part p can have when it holds n documents
 * (FACTS_PER_BYTE). */
static uint64_t part_most_bytes(const dd_work *w, const dd_part *p, uint64_t n)
{
    uint64_t most = add_saturated(HEADER_BYTES + TRAILER_BYTES, times_saturated(8, n + 1));
    most = add_saturated(most, times_saturated(p->text, FACTS_PER_BYTE));
    return add_saturated(most, times_saturated(n, FACTS_PER_DOCUMENT + 4 * (uint64_t)w->num_perm));
}

/* Cuts the sources of w into parts of about part_size bytes: whole files,
 * in order, a part closed once it holds part_size bytes or more. */
static void cut_parts(dd_work *w, uint64_t part_size)
{
    size_t cap = 0;
    const dd_sources *in = &w->sources;
    XXH3_state_t *all = XXH3_createState(), *one = XXH3_createState();
    XXH3_64bits_reset(all);
    for (size_t i = 0; i < in->n;) {
        dd_grow(&w->parts, &cap, w->nparts + 1, sizeof *w->parts);
        dd_part *p = &w->parts[w->nparts++];
        *p = (dd_part){.from = i};
        uint64_t bytes = 0;
        XXH3_64bits_reset(one);
        while (i < in->n && (bytes < part_size || i == p->from)) {
            bytes += in->v[i].size;
            hash_source(one, &in->v[i]);
            hash_source(all, &in->v[i]);
            i++;
        }
        p->files = i - p->from;
        p->hash = XXH3_64bits_digest(one);
        bound_part(w, p);
    }
    w->inputs_hash = XXH3_64bits_digest(all);
    XXH3_freeState(all);
    XXH3_freeState(one);
}

/* The value of the line "name ..." of text (up to its end), or NULL. */
static const char *line_value(const char *text, const char *name, size_t *len)
{
    size_t nl = strlen(name);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (!strncmp(p, name, nl) && p[nl] == ' ') {
            *len = strcspn(p + nl + 1, "\n");
            return p + nl + 1;
        }
    return NULL;
}

/* A value of the plan found in the folder, as a message may show it (the
 * plan may have been written by anyone: escaped like a path), or "none". */
static char *there_value(const char *t, size_t len)
{
    if (!t)
        return dd_strdup("none");
    char *raw = dd_asprintf("%.*s", (int)len, t);
    char *printable = dd_printable(raw);
    free(raw);
    return printable;
}

/* Says why the plan `there` (of w->dir) is not `here`. */
static void say_why_refused(const dd_work *w, const char *there, const char *here)
{
    char *dir = dd_printable(w->dir);
    if (strncmp(there, PLAN_FIRST_LINE, strlen(PLAN_FIRST_LINE))) {
        dd_error("%s: not a work folder of this version of dedup (no plan of facts format %s); "
                 "give another --work-dir",
                 dir, FACTS_FORMAT);
        free(dir);
        return;
    }
    /* The first setting that differs. */
    for (const char *p = here; *p; p += strcspn(p, "\n") + 1) {
        if (strncmp(p, "setting ", 8))
            continue;
        size_t name_len = strcspn(p + 8, " ");
        char *name = dd_asprintf("setting %.*s", (int)name_len, p + 8);
        size_t hl, tl;
        const char *h = line_value(here, name, &hl), *t = line_value(there, name, &tl);
        if (!t || tl != hl || strncmp(t, h, hl)) {
            char *was = there_value(t, tl);
            dd_error("%s: made with other settings (%s: %s there, %.*s here); give another "
                     "--work-dir, or remove it",
                     dir, name + 8, was, (int)hl, h);
            free(was);
            free(name);
            free(dir);
            return;
        }
        free(name);
    }
    size_t hl, tl;
    const char *h = line_value(here, "part-size", &hl), *t = line_value(there, "part-size", &tl);
    if (!t || tl != hl || strncmp(t, h, hl)) {
        char *was = there_value(t, tl);
        dd_error("%s: made with another --part-size (%s bytes there, %.*s here); give another "
                 "--work-dir, or remove it",
                 dir, was, (int)hl, h);
        free(was);
        free(dir);
        return;
    }
    /* The first part whose files differ, and the first of its files. */
    char *where = NULL;
    for (size_t k = 0; k < w->nparts && !where; k++) {
        char *name = dd_asprintf("part %zu", k);
        h = line_value(here, name, &hl);
        t = line_value(there, name, &tl);
        if (!t || tl != hl || strncmp(t, h, hl)) {
            char *first = dd_printable(w->sources.v[w->parts[k].from].path);
            where = dd_asprintf("; the first that differ are in part %zu, from %s", k, first);
            free(first);
        }
        free(name);
    }
    h = line_value(here, "files", &hl);
    t = line_value(there, "files", &tl);
    char *was = there_value(t, tl);
    dd_error("%s: made for other inputs (%s files there, %.*s here%s: a file added, removed, "
             "or changed since); give another --work-dir, or remove it",
             dir, was, (int)hl, h, where ? where : "");
    free(was);
    free(where);
    free(dir);
}

bool dd_work_open(dd_work *w, const dd_options *o, bool quiet)
{
    memset(w, 0, sizeof *w);
    w->dir = dd_strdup(o->work.dir);
    w->sign_dir = dd_asprintf("%s/sign", o->work.dir);
    w->num_perm = o->near.method == DD_METHOD_MINHASH ? o->near.num_perm : 0;
    w->near = o->near;
    dd_records_spec records = dd_options_records(o);
    sh_buf unsaid = {0};
    if (quiet)
        dd_messages_capture(&unsaid);
    dd_inputs_list(&w->sources, o->paths, o->npaths, &records);
    if (quiet)
        dd_messages_capture(NULL);
    sh_buf_free(&unsaid);
    for (size_t i = 0; i < w->sources.n; i++)
        if (w->sources.v[i].stream) {
            char *p = dd_printable(w->sources.v[i].path);
            dd_error("%s: a stream is read once: it cannot be kept in a work folder "
                     "(--work-dir); name files",
                     p);
            free(p);
            return false;
        }
    cut_parts(w, o->work.part_size);
    w->offsets = dd_calloc(w->nparts ? w->nparts : 1, sizeof *w->offsets);
    sh_buf settings = {0};
    settings_text(o, &settings);
    w->settings_hash = XXH3_64bits(settings.data, settings.len);
    char *head =
        dd_asprintf(PLAN_FIRST_LINE "settings %016" PRIx64 "\ninputs %016" PRIx64
                                    "\nfiles %zu\nparts %zu\npart-size %lu\n",
                    w->settings_hash, w->inputs_hash, w->sources.n, w->nparts, o->work.part_size);
    sh_buf plan = {0};
    dd_grow(&plan.data, &plan.cap, strlen(head) + settings.len + 1, 1);
    memcpy(plan.data, head, strlen(head));
    memcpy(plan.data + strlen(head), settings.data, settings.len + 1);
    plan.len = strlen(head) + settings.len;
    free(head);
    sh_buf_free(&settings);
    for (size_t k = 0; k < w->nparts; k++) {
        char *line = dd_asprintf("part %zu from %zu files %zu inputs %016" PRIx64 "\n", k,
                                 w->parts[k].from, w->parts[k].files, w->parts[k].hash);
        size_t len = strlen(line);
        dd_grow(&plan.data, &plan.cap, plan.len + len + 1, 1);
        memcpy(plan.data + plan.len, line, len + 1);
        plan.len += len;
        free(line);
    }
    bool ok = true;
    static const char *const later_stages[] = {"group", "verify", "group-docs", "verify-docs"};
    /* The documents' stages' folders only when they are clustered. */
    for (int k = 0; k < (o->near.enabled ? 6 : 4) && ok; k++) {
        char *dir = k == 0   ? dd_strdup(w->dir)
                    : k == 1 ? dd_strdup(w->sign_dir)
                             : dd_asprintf("%s/%s", w->dir, later_stages[k - 2]);
        if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
            char *p = dd_printable(dir);
            dd_error("%s: %s", p, strerror(errno));
            free(p);
            ok = false;
        } else if (k >= 2) {
            remove_dead_temporaries(dir);
        }
        free(dir);
    }
    char *plan_path = dd_asprintf("%s/plan", w->dir);
    size_t there_len = 0;
    char *there = ok ? read_small_file(plan_path, plan.len + 1, &there_len) : NULL;
    if (ok && !there && errno != ENOENT) {
        char *p = dd_printable(plan_path);
        dd_error("%s: %s", p, open_error(errno));
        free(p);
        ok = false;
    } else if (ok && there && (there_len != plan.len || memcmp(there, plan.data, plan.len))) {
        say_why_refused(w, there, plan.data);
        ok = false;
    } else if (ok && !there) {
        ok = write_file_atomically(w->dir, plan_path, plan.data, plan.len);
    }
    if (ok) {
        remove_dead_temporaries(w->dir);
        remove_dead_temporaries(w->sign_dir);
    }
    free(there);
    free(plan_path);
    sh_buf_free(&plan);
    return ok;
}

/* Says that the inputs are not the files listed, at file k. */
static bool not_listed(const dd_work *w, size_t k, const char *path)
{
    char *dir = dd_printable(w->dir);
    char *p = dd_printable(k < w->sources.n ? w->sources.v[k].path : path ? path : "(none)");
    dd_error("%s: the inputs changed while they were read (%s); run again", dir, p);
    free(p);
    free(dir);
    return false;
}

bool dd_work_place(dd_work *w, const dd_inputs *in)
{
    /* The inputs are, in order, the sources' documents: one for a file,
     * the records of a shard (none for a shard that could not be opened,
     * which was said when it was collected). */
    size_t doc = 0, shard = 0, part = 0;
    dd_name_room room = {0};
    for (size_t k = 0; k < w->sources.n; k++) {
        const dd_source *f = &w->sources.v[k];
        size_t docs = 1;
        if (f->shard) {
            const dd_shard *s = shard < in->nshards ? in->shards[shard] : NULL;
            docs = s && s->first == doc && !strcmp(s->path, f->path) ? s->n : 0;
            shard += s && s->first == doc && !strcmp(s->path, f->path);
        } else if (doc >= in->n || dd_input_shard(in, doc) ||
                   strcmp(dd_input_path(in, doc, &room), f->path)) {
            dd_name_room_free(&room);
            return not_listed(w, k, NULL);
        }
        while (w->parts[part].from + w->parts[part].files <= k)
            part++;
        if (w->parts[part].from == k)
            w->parts[part].first = doc;
        doc += docs;
        w->parts[part].n = doc - w->parts[part].first;
    }
    if (doc != in->n || shard != in->nshards) {
        bool ok = not_listed(w, w->sources.n, doc < in->n ? dd_input_path(in, doc, &room) : NULL);
        dd_name_room_free(&room);
        return ok;
    }
    dd_name_room_free(&room);
    /* Their documents known, the bounds of the parts' files are exact. */
    for (size_t k = 0; k < w->nparts; k++) {
        dd_part *p = &w->parts[k];
        p->text = 0;
        for (size_t i = p->first; i < p->first + p->n; i++)
            p->text = add_saturated(p->text, dd_input_size(in, i));
        p->most_docs = p->n;
    }
    w->placed = true;
    return true;
}

void dd_work_free(dd_work *w)
{
    for (size_t k = 0; w->offsets && k < w->nparts; k++)
        free(w->offsets[k]);
    free(w->offsets);
    free(w->parts);
    dd_sources_free(&w->sources);
    free(w->dir);
    free(w->sign_dir);
    memset(w, 0, sizeof *w);
}

char *dd_work_part_path(const dd_work *w, size_t part)
{
    return dd_asprintf("%s/part-%06zu", w->sign_dir, part);
}

/* ------------------------------------------------------------- checking */

static char *marker_text(const dd_work *w, size_t part, uint64_t size, uint64_t checksum)
{
    return dd_asprintf("dedup part, facts format " FACTS_FORMAT "\nsettings %016" PRIx64
                       "\ninputs %016" PRIx64 "\npart %016" PRIx64 "\nbytes %" PRIu64
                       "\nchecksum %016" PRIx64 "\n",
                       w->settings_hash, w->inputs_hash, w->parts[part].hash, size, checksum);
}

/* Checks the file of part against its marker: *why says what is wrong. */
static bool check_file(dd_work *w, size_t part, const char *path, const char *marker, char **why)
{
    int fd = open_regular(path);
    if (fd < 0) {
        *why = dd_asprintf("%s", open_error(errno));
        return false;
    }
    struct stat st;
    dd_part *p = &w->parts[part];
    uint64_t n = 0, index_bytes = 0;
    bool ok = false;
    unsigned char head[HEADER_BYTES], tail[TRAILER_BYTES];
    uint64_t *offsets = NULL;
    XXH3_state_t *sum = XXH3_createState();
    XXH3_64bits_reset(sum);
    char *buf = dd_malloc(WRITE_CHUNK);
    if (fstat(fd, &st) != 0) {
        *why = dd_asprintf("%s", strerror(errno));
        goto done;
    }
    uint64_t size = (uint64_t)st.st_size;
    /* The marker's hashes must be ours; its size and checksum the file's. */
    char *want = marker_text(w, part, 0, 0);
    size_t fixed = (size_t)(strstr(want, "bytes ") - want);
    bool ours = !strncmp(marker, want, fixed);
    free(want);
    if (!ours) {
        *why = dd_strdup("its marker is of other settings or inputs");
        goto done;
    }
    uint64_t marked = strtoull(marker + fixed + strlen("bytes "), NULL, 10);
    if (size != marked) {
        *why = dd_asprintf(size < marked ? "cut off (%" PRIu64 " of its %" PRIu64 " bytes)"
                                         : "damaged (%" PRIu64 " bytes, not %" PRIu64 ")",
                           size, marked);
        goto done;
    }
    if (size < HEADER_BYTES + TRAILER_BYTES || pread(fd, head, HEADER_BYTES, 0) != HEADER_BYTES ||
        memcmp(head, "DDSIGN02", 8) || dd_get_le64(head + 8) != w->settings_hash ||
        dd_get_le64(head + 16) != w->inputs_hash || dd_get_le64(head + 24) != p->hash ||
        dd_get_le64(head + 32) != part || dd_get_le64(head + 40) != p->from) {
        *why = dd_strdup("its header is not this part's");
        goto done;
    }
    n = dd_get_le64(head + 48);
    if (w->placed && n != p->n) {
        *why = dd_asprintf("damaged: it holds %" PRIu64 " documents, its files %zu", n, p->n);
        goto done;
    }
    if (n > p->most_docs) {
        *why = dd_asprintf("damaged: it holds %" PRIu64 " documents, more than its files can", n);
        goto done;
    }
    if (size > part_most_bytes(w, p, n)) {
        *why = dd_asprintf("damaged (%" PRIu64 " bytes, more than the facts of its documents "
                           "can take)",
                           size);
        goto done;
    }
    index_bytes = 8 * (n + 1);
    if (n > size || size < HEADER_BYTES + index_bytes + TRAILER_BYTES) {
        *why = dd_strdup("damaged (too short for its documents)");
        goto done;
    }
    for (uint64_t at = 0; at < size - 16;) {
        size_t want_bytes = size - 16 - at < WRITE_CHUNK ? (size_t)(size - 16 - at) : WRITE_CHUNK;
        ssize_t r = pread(fd, buf, want_bytes, (off_t)at);
        if (r <= 0) {
            *why = dd_asprintf("%s", r < 0 ? strerror(errno) : "cut off");
            goto done;
        }
        XXH3_64bits_update(sum, buf, (size_t)r);
        at += (uint64_t)r;
    }
    if (pread(fd, tail, TRAILER_BYTES, (off_t)(size - TRAILER_BYTES)) != TRAILER_BYTES ||
        memcmp(tail + 16, "DDSIGEND", 8)) {
        *why = dd_strdup("damaged (no end mark)");
        goto done;
    }
    uint64_t checksum = dd_get_le64(tail + 8), index_at = dd_get_le64(tail);
    char *right = marker_text(w, part, size, checksum);
    bool marker_ok = !strcmp(marker, right);
    free(right);
    if (checksum != XXH3_64bits_digest(sum) || !marker_ok) {
        *why = dd_strdup("damaged: its checksum or size is not what its marker says");
        goto done;
    }
    if (index_at != size - TRAILER_BYTES - index_bytes) {
        *why = dd_strdup("damaged: its index is misplaced");
        goto done;
    }
    offsets = dd_malloc((n + 1) * sizeof *offsets);
    unsigned char *ix = dd_malloc(index_bytes);
    if (pread(fd, ix, index_bytes, (off_t)index_at) != (ssize_t)index_bytes) {
        free(ix);
        *why = dd_strdup("cut off");
        goto done;
    }
    for (size_t k = 0; k <= n; k++)
        offsets[k] = dd_get_le64(ix + 8 * k);
    free(ix);
    ok = offsets[0] == HEADER_BYTES && offsets[n] == index_at;
    for (size_t k = 0; ok && k < n; k++)
        ok = offsets[k] <= offsets[k + 1];
    if (!ok)
        *why = dd_strdup("damaged: its index is wrong");
done:
    close(fd);
    free(buf);
    XXH3_freeState(sum);
    if (ok) {
        free(w->offsets[part]);
        w->offsets[part] = offsets;
        p->n = (size_t)n; /* the same, once placed */
    } else {
        free(offsets);
    }
    return ok;
}

bool dd_work_check_part(dd_work *w, size_t part, char **why)
{
    *why = NULL;
    char *path = dd_work_part_path(w, part);
    char *marker_path = dd_asprintf("%s.done", path);
    size_t marker_len = 0;
    char *marker = read_small_file(marker_path, MARKER_MAX_BYTES, &marker_len);
    bool ok = marker && strlen(marker) == marker_len && check_file(w, part, path, marker, why);
    free(marker);
    free(marker_path);
    free(path);
    return ok;
}

/* -------------------------------------------------------------- writing */

struct dd_part_writer {
    const dd_work *w;
    size_t part;
    char *path, *tmp;
    int fd;
    sh_buf pending; /* bytes not written yet */
    uint64_t written, at;
    uint64_t *offsets;
    size_t n, ndocs; /* documents written, of ndocs */
    XXH3_state_t *sum;
    bool failed;
};

static bool flush_pending(dd_part_writer *pw)
{
    if (!pw->pending.len)
        return true;
    XXH3_64bits_update(pw->sum, pw->pending.data, pw->pending.len);
    if (!write_all(pw->fd, pw->pending.data, pw->pending.len, pw->tmp))
        return false;
    pw->written += pw->pending.len;
    pw->pending.len = 0;
    return true;
}

static void add_bytes(dd_part_writer *pw, const void *p, size_t n)
{
    dd_grow(&pw->pending.data, &pw->pending.cap, pw->pending.len + n + 1, 1);
    memcpy(pw->pending.data + pw->pending.len, p, n);
    pw->pending.len += n;
    pw->at += n;
}

dd_part_writer *dd_part_writer_new(const dd_work *w, size_t part, size_t ndocs)
{
    dd_part_writer *pw = dd_calloc(1, sizeof *pw);
    pw->w = w;
    pw->part = part;
    pw->ndocs = ndocs;
    pw->path = dd_work_part_path(w, part);
    pw->tmp = temp_name(pw->path);
    pw->fd = create_temporary(pw->tmp);
    if (pw->fd < 0) {
        dd_error("%s: %s", pw->tmp, strerror(errno));
        dd_part_writer_free(pw);
        return NULL;
    }
    pw->sum = XXH3_createState();
    XXH3_64bits_reset(pw->sum);
    const dd_part *p = &w->parts[part];
    pw->offsets = dd_malloc((ndocs + 1) * sizeof *pw->offsets);
    unsigned char head[HEADER_BYTES] = "DDSIGN02";
    dd_put_le64(head + 8, w->settings_hash);
    dd_put_le64(head + 16, w->inputs_hash);
    dd_put_le64(head + 24, p->hash);
    dd_put_le64(head + 32, part);
    dd_put_le64(head + 40, p->from);
    dd_put_le64(head + 48, ndocs);
    add_bytes(pw, head, sizeof head);
    return pw;
}

bool dd_part_writer_add(dd_part_writer *pw, const sh_buf *facts)
{
    if (pw->failed || pw->n >= pw->ndocs)
        return false;
    pw->offsets[pw->n++] = pw->at;
    add_bytes(pw, facts->data, facts->len);
    if (pw->pending.len >= WRITE_CHUNK && !flush_pending(pw))
        pw->failed = true;
    return !pw->failed;
}

bool dd_part_writer_finish(dd_part_writer *pw)
{
    if (pw->failed || pw->n != pw->ndocs)
        return false;
    pw->offsets[pw->n] = pw->at;
    uint64_t index_at = pw->at;
    unsigned char b[8];
    for (size_t k = 0; k <= pw->n; k++) {
        dd_put_le64(b, pw->offsets[k]);
        add_bytes(pw, b, 8);
    }
    dd_put_le64(b, index_at);
    add_bytes(pw, b, 8);
    if (!flush_pending(pw))
        return pw->failed = true, false;
    uint64_t checksum = XXH3_64bits_digest(pw->sum);
    unsigned char end[16];
    dd_put_le64(end, checksum);
    memcpy(end + 8, "DDSIGEND", 8);
    uint64_t size = pw->written + sizeof end;
    if (!write_all(pw->fd, end, sizeof end, pw->tmp))
        return pw->failed = true, false;
    if (fsync(pw->fd) != 0 || close(pw->fd) != 0) {
        pw->fd = -1;
        dd_error("%s: %s", pw->tmp, strerror(errno));
        return pw->failed = true, false;
    }
    pw->fd = -1;
    if (rename(pw->tmp, pw->path) != 0) {
        dd_error("%s: %s", pw->path, strerror(errno));
        return pw->failed = true, false;
    }
    free(pw->tmp);
    pw->tmp = NULL;
    if (!sync_dir(pw->w->sign_dir))
        return false;
    char *marker = marker_text(pw->w, pw->part, size, checksum);
    char *marker_path = dd_asprintf("%s.done", pw->path);
    bool ok = write_file_atomically(pw->w->sign_dir, marker_path, marker, strlen(marker));
    free(marker);
    free(marker_path);
    return ok;
}

uint64_t dd_part_writer_at(const dd_part_writer *pw) { return pw->at; }

void dd_part_writer_free(dd_part_writer *pw)
{
    if (!pw)
        return;
    if (pw->fd >= 0)
        close(pw->fd);
    if (pw->tmp)
        unlink(pw->tmp);
    free(pw->tmp);
    free(pw->path);
    free(pw->offsets);
    sh_buf_free(&pw->pending);
    if (pw->sum)
        XXH3_freeState(pw->sum);
    free(pw);
}

/* -------------------------------------------------------------- reading */

size_t dd_work_part_of(const dd_work *w, uint64_t doc)
{
    /* the last part that starts at or before doc (the first starts at 0) */
    size_t after;
    DD_LOWER_BOUND(after, w->nparts, i, w->parts[i].first <= doc);
    return after ? after - 1 : 0;
}

bool dd_work_read_facts(const dd_work *w, dd_facts_reader *r, size_t doc, sh_buf *out)
{
    size_t part = dd_work_part_of(w, doc);
    const uint64_t *off = w->offsets[part];
    size_t k = doc - w->parts[part].first;
    if (r->fd <= 0 || r->part != part) {
        dd_facts_reader_close(r);
        char *path = dd_work_part_path(w, part);
        int fd = open_regular(path);
        if (fd < 0) {
            dd_error("%s: %s", path, open_error(errno));
            free(path);
            return false;
        }
        free(path);
        r->fd = fd + 1;
        r->part = part;
    }
    size_t len = (size_t)(off[k + 1] - off[k]);
    dd_grow(&out->data, &out->cap, len + 1, 1);
    ssize_t got = pread(r->fd - 1, out->data, len, (off_t)off[k]);
    if (got != (ssize_t)len) {
        char *path = dd_work_part_path(w, part);
        dd_error("%s: %s", path, got < 0 ? strerror(errno) : "cut off");
        free(path);
        return false;
    }
    out->len = len;
    out->data[len] = '\0';
    return true;
}

void dd_facts_reader_close(dd_facts_reader *r)
{
    if (r->fd > 0)
        close(r->fd - 1);
    r->fd = 0;
}

/* ------------------------------------------- the files of the later stages */

/* A file of a later stage (group, verify) is
 *   a header of 64 bytes: "DD" and the stage's name in capitals (cut to 5
 *   letters), "1"; the settings' hash, the inputs' hash, the partition's
 *   number, the number of partitions, the length of its body (8 bytes
 *   each, little-endian), 16 bytes of zeros;
 *   its body (what the stage writes: run/across_stages.c);
 *   the XXH3-64 of every byte before it, then "DDSTGEND".
 * Its marker, NAME.done, says the stage, the hashes, the partition, the
 * file's size and its checksum. Written as a part file is: under a
 * temporary name, synced, renamed into place, its marker last. */

/* The magic of a file of stage. */
static void stage_magic(const char *stage, unsigned char magic[8])
{
    memset(magic, '1', 8);
    magic[0] = 'D';
    magic[1] = 'D';
    for (size_t i = 0; i < 5 && stage[i]; i++)
        magic[2 + i] =
            (unsigned char)(stage[i] >= 'a' && stage[i] <= 'z' ? stage[i] - 32 : stage[i]);
}

char *dd_work_stage_path(const dd_work *w, const char *stage, size_t part)
{
    return dd_asprintf("%s/%s/part-%06zu", w->dir, stage, part);
}

static char *stage_marker_text(const dd_work *w, const char *stage, size_t part, uint64_t size,
                               uint64_t checksum)
{
    return dd_asprintf("dedup %s file, format 1\nsettings %016" PRIx64 "\ninputs %016" PRIx64
                       "\npart %zu of %zu\nbytes %" PRIu64 "\nchecksum %016" PRIx64 "\n",
                       stage, w->settings_hash, w->inputs_hash, part, w->nparts, size, checksum);
}

bool dd_work_write_stage_file(const dd_work *w, const char *stage, size_t part, const void *body,
                              size_t len)
{
    char *dir = dd_asprintf("%s/%s", w->dir, stage);
    char *path = dd_work_stage_path(w, stage, part);
    unsigned char head[HEADER_BYTES] = {0}, end[16];
    stage_magic(stage, head);
    dd_put_le64(head + 8, w->settings_hash);
    dd_put_le64(head + 16, w->inputs_hash);
    dd_put_le64(head + 24, part);
    dd_put_le64(head + 32, w->nparts);
    dd_put_le64(head + 40, len);
    XXH3_state_t *sum = XXH3_createState();
    XXH3_64bits_reset(sum);
    XXH3_64bits_update(sum, head, sizeof head);
    XXH3_64bits_update(sum, body, len);
    uint64_t checksum = XXH3_64bits_digest(sum);
    XXH3_freeState(sum);
    dd_put_le64(end, checksum);
    memcpy(end + 8, "DDSTGEND", 8);
    piece file[] = {{head, sizeof head}, {body, len}, {end, sizeof end}};
    bool ok = write_pieces_atomically(dir, path, file, 3);
    if (ok) {
        char *marker = stage_marker_text(w, stage, part, sizeof head + len + sizeof end, checksum);
        char *marker_path = dd_asprintf("%s.done", path);
        ok = write_file_atomically(dir, marker_path, marker, strlen(marker));
        free(marker);
        free(marker_path);
    }
    free(path);
    free(dir);
    return ok;
}

bool dd_work_read_stage_file(const dd_work *w, const char *stage, size_t part, uint64_t most,
                             sh_buf *body, char **why)
{
    *why = NULL;
    body->len = 0;
    char *path = dd_work_stage_path(w, stage, part);
    char *marker_path = dd_asprintf("%s.done", path);
    size_t marker_len = 0;
    char *marker = read_small_file(marker_path, MARKER_MAX_BYTES, &marker_len);
    free(marker_path);
    int fd = marker && strlen(marker) == marker_len ? open_regular(path) : -1;
    bool ok = false;
    struct stat st;
    unsigned char head[HEADER_BYTES], magic[8], end[16];
    stage_magic(stage, magic);
    if (!marker || strlen(marker) != marker_len)
        goto done; /* not done: no marker */
    if (fd < 0) {
        *why = dd_asprintf("%s", open_error(errno));
        goto done;
    }
    if (fstat(fd, &st) != 0) {
        *why = dd_asprintf("%s", strerror(errno));
        goto done;
    }
    uint64_t size = (uint64_t)st.st_size;
    const char *bytes_at = strstr(marker, "\nbytes ");
    uint64_t marked = bytes_at ? strtoull(bytes_at + 7, NULL, 10) : 0;
    if (size != marked) {
        *why = dd_asprintf(size < marked ? "cut off (%" PRIu64 " of its %" PRIu64 " bytes)"
                                         : "damaged (%" PRIu64 " bytes, not %" PRIu64 ")",
                           size, marked);
        goto done;
    }
    if (size < HEADER_BYTES + 16 || size - HEADER_BYTES - 16 > most) {
        *why = dd_asprintf("damaged (%" PRIu64 " bytes)", size);
        goto done;
    }
    if (pread(fd, head, HEADER_BYTES, 0) != HEADER_BYTES || memcmp(head, magic, 8) ||
        dd_get_le64(head + 8) != w->settings_hash || dd_get_le64(head + 16) != w->inputs_hash ||
        dd_get_le64(head + 24) != part || dd_get_le64(head + 32) != w->nparts ||
        dd_get_le64(head + 40) != size - HEADER_BYTES - 16) {
        *why = dd_strdup("its header is not this partition's");
        goto done;
    }
    size_t len = (size_t)(size - HEADER_BYTES - 16);
    dd_grow(&body->data, &body->cap, len + 1, 1);
    if (pread(fd, body->data, len, HEADER_BYTES) != (ssize_t)len ||
        pread(fd, end, sizeof end, (off_t)(HEADER_BYTES + len)) != (ssize_t)sizeof end ||
        memcmp(end + 8, "DDSTGEND", 8)) {
        *why = dd_strdup("cut off");
        goto done;
    }
    XXH3_state_t *sum = XXH3_createState();
    XXH3_64bits_reset(sum);
    XXH3_64bits_update(sum, head, sizeof head);
    XXH3_64bits_update(sum, body->data, len);
    uint64_t checksum = XXH3_64bits_digest(sum);
    XXH3_freeState(sum);
    char *right = stage_marker_text(w, stage, part, size, checksum);
    ok = checksum == dd_get_le64(end) && !strcmp(marker, right);
    free(right);
    if (!ok)
        *why = dd_strdup("damaged: its checksum or size is not what its marker says");
    else
        body->len = len;
done:
    if (fd >= 0)
        close(fd);
    free(marker);
    free(path);
    return ok;
}

/* ------------------------------------------------------- sectioned files */

#define SECTION_ENTRY_BYTES 24 /* offset, length, checksum */

bool dd_work_write_sections(const dd_work *w, const char *dir, const char *path,
                            const char magic[8], uint64_t ident, uint64_t number, uint64_t extra,
                            const dd_section *v, size_t n)
{
    size_t toc_len = HEADER_BYTES + SECTION_ENTRY_BYTES * n;
    unsigned char *toc = dd_calloc(1, toc_len);
    memcpy(toc, magic, 8);
    dd_put_le64(toc + 8, w->settings_hash);
    dd_put_le64(toc + 16, w->inputs_hash);
    dd_put_le64(toc + 24, ident);
    dd_put_le64(toc + 32, number);
    dd_put_le64(toc + 40, n);
    dd_put_le64(toc + 48, extra);
    dd_put_le64(toc + 56, XXH3_64bits(toc, 56));
    uint64_t at = toc_len;
    for (size_t k = 0; k < n; k++) {
        unsigned char *e = toc + HEADER_BYTES + SECTION_ENTRY_BYTES * k;
        dd_put_le64(e, at);
        dd_put_le64(e + 8, v[k].n);
        dd_put_le64(e + 16, XXH3_64bits(v[k].p, v[k].n));
        at += v[k].n;
    }
    piece *pieces = dd_malloc((n + 1) * sizeof *pieces);
    pieces[0] = (piece){toc, toc_len};
    for (size_t k = 0; k < n; k++)
        pieces[k + 1] = (piece){v[k].p, v[k].n};
    bool ok = write_pieces_atomically(dir, path, pieces, n + 1);
    free(pieces);
    free(toc);
    return ok;
}

void dd_sectioned_close(dd_sectioned *f)
{
    if (f->fd >= 0)
        close(f->fd);
    memset(f, 0, sizeof *f);
    f->fd = -1;
}

bool dd_sectioned_open(const dd_work *w, const char *path, const char magic[8], uint64_t ident,
                       uint64_t number, size_t n, dd_sectioned *f, char **why)
{
    *why = NULL;
    memset(f, 0, sizeof *f);
    f->fd = open_regular(path);
    if (f->fd < 0) {
        if (errno != ENOENT)
            *why = dd_asprintf("%s", open_error(errno));
        dd_sectioned_close(f);
        return false;
    }
    struct stat st;
    unsigned char head[HEADER_BYTES];
    if (fstat(f->fd, &st) != 0) {
        *why = dd_asprintf("%s", strerror(errno));
    } else if ((uint64_t)st.st_size < HEADER_BYTES + (uint64_t)SECTION_ENTRY_BYTES * n ||
               pread(f->fd, head, HEADER_BYTES, 0) != HEADER_BYTES) {
        *why = dd_asprintf("cut off (%" PRIu64 " bytes)", (uint64_t)st.st_size);
    } else if (XXH3_64bits(head, 56) != dd_get_le64(head + 56)) {
        *why = dd_strdup("damaged: its header is not what its checksum says");
    } else if (memcmp(head, magic, 8) || dd_get_le64(head + 8) != w->settings_hash ||
               dd_get_le64(head + 16) != w->inputs_hash || dd_get_le64(head + 24) != ident ||
               dd_get_le64(head + 32) != number || dd_get_le64(head + 40) != n) {
        *why = dd_strdup("its header is not this plan's");
    } else {
        f->extra = dd_get_le64(head + 48);
        f->n = n;
        f->size = (uint64_t)st.st_size;
        f->header_sum = dd_get_le64(head + 56);
        return true;
    }
    dd_sectioned_close(f);
    return false;
}

bool dd_sectioned_read(const dd_sectioned *f, size_t k, sh_buf *out, char **why)
{
    *why = NULL;
    unsigned char e[SECTION_ENTRY_BYTES];
    if (pread(f->fd, e, sizeof e, (off_t)(HEADER_BYTES + SECTION_ENTRY_BYTES * k)) !=
        (ssize_t)sizeof e) {
        *why = dd_strdup("cut off");
        return false;
    }
    /* A damaged entry names bytes whose checksum is not its own. */
    uint64_t at = dd_get_le64(e), len = dd_get_le64(e + 8), sum = dd_get_le64(e + 16);
    if (at < HEADER_BYTES + (uint64_t)SECTION_ENTRY_BYTES * f->n || at > f->size ||
        len > f->size - at) {
        *why = dd_asprintf("damaged: its section %zu is misplaced", k);
        return false;
    }
    dd_grow(&out->data, &out->cap, (size_t)len + 1, 1);
    ssize_t got = pread(f->fd, out->data, (size_t)len, (off_t)at);
    if (got != (ssize_t)len) {
        *why = dd_asprintf("%s", got < 0 ? strerror(errno) : "cut off");
        return false;
    }
    if (XXH3_64bits(out->data, (size_t)len) != sum) {
        *why = dd_asprintf("damaged: its section %zu is not what its checksum says", k);
        return false;
    }
    out->len = (size_t)len;
    out->data[len] = '\0';
    return true;
}

bool dd_work_write_stage_sections(const dd_work *w, const char *stage, size_t part,
                                  const char magic[8], const dd_section *v, size_t n)
{
    char *dir = dd_asprintf("%s/%s", w->dir, stage);
    char *path = dd_work_stage_path(w, stage, part);
    bool ok = dd_work_write_sections(w, dir, path, magic, 0, part, 0, v, n);
    dd_sectioned f;
    char *why = NULL;
    if (ok && !dd_sectioned_open(w, path, magic, 0, part, n, &f, &why)) {
        dd_error("%s: %s", path, why ? why : "cannot be read back");
        ok = false;
    }
    free(why);
    if (ok) {
        char *marker = stage_marker_text(w, stage, part, f.size, f.header_sum);
        char *marker_path = dd_asprintf("%s.done", path);
        ok = write_file_atomically(dir, marker_path, marker, strlen(marker));
        free(marker);
        free(marker_path);
        dd_sectioned_close(&f);
    }
    free(path);
    free(dir);
    return ok;
}

bool dd_work_open_stage_sections(const dd_work *w, const char *stage, size_t part,
                                 const char magic[8], size_t n, dd_sectioned *f, char **why)
{
    *why = NULL;
    memset(f, 0, sizeof *f);
    f->fd = -1;
    char *path = dd_work_stage_path(w, stage, part);
    char *marker_path = dd_asprintf("%s.done", path);
    size_t marker_len = 0;
    char *marker = read_small_file(marker_path, MARKER_MAX_BYTES, &marker_len);
    free(marker_path);
    bool ok = marker && strlen(marker) == marker_len &&
              dd_sectioned_open(w, path, magic, 0, part, n, f, why);
    bool opened = ok;
    if (ok) {
        char *right = stage_marker_text(w, stage, part, f->size, f->header_sum);
        ok = !strcmp(marker, right);
        free(right);
        if (!ok)
            *why = dd_strdup("damaged: its size or checksum is not what its marker says");
    }
    if (!ok && opened)
        dd_sectioned_close(f);
    free(marker);
    free(path);
    return ok;
}

/* Section k of stage's file g into body: false, *why set (NULL: not there
 * or not marked), when it cannot be read. */
static bool read_stage_section(const dd_work *w, const char *stage, const char magic[8], size_t g,
                               size_t k, sh_buf *body, char **why)
{
    dd_sectioned f;
    if (!dd_work_open_stage_sections(w, stage, g, magic, w->nparts, &f, why))
        return false;
    bool ok = dd_sectioned_read(&f, k, body, why);
    dd_sectioned_close(&f);
    return ok;
}

bool dd_work_read_stage_section(dd_work *w, const char *stage, const char magic[8], size_t g,
                                size_t k, bool (*remake)(void *ctx, size_t g), void *ctx,
                                const char *not_made, sh_buf *body)
{
    char *why = NULL;
    bool ok = read_stage_section(w, stage, magic, g, k, body, &why);
    char *path = dd_work_stage_path(w, stage, g);
    char *p = dd_printable(path);
    if (!ok && remake) {
        if (why)
            dd_warn("%s: %s; making it again", p, why);
        free(why);
        why = NULL;
        ok = remake(ctx, g) && read_stage_section(w, stage, magic, g, k, body, &why);
    }
    if (!ok)
        dd_error("%s: %s", p, why ? why : not_made);
    free(why);
    free(p);
    free(path);
    return ok;
}

size_t dd_work_number_documents(dd_work *w)
{
    size_t doc = 0;
    for (size_t k = 0; k < w->nparts; k++) {
        w->parts[k].first = doc;
        doc += w->parts[k].n;
    }
    return doc;
}

/* ----------------------------------------------------- markers, as status shows them */

/* The number of parts the plan of the work folder dir counts: false when
 * it has no plan. */
static bool plan_parts(const char *dir, size_t *nparts)
{
    char *plan_path = dd_asprintf("%s/plan", dir);
    /* The plan as its size says (a plan lists every input: a line each),
     * within a bound, so that a file planted there costs little. */
    struct stat st;
    size_t plan_len, max = (size_t)256 << 20;
    char *plan =
        stat(plan_path, &st) == 0 && S_ISREG(st.st_mode)
            ? read_small_file(plan_path, (uint64_t)st.st_size < max ? (size_t)st.st_size : max,
                              &plan_len)
            : NULL;
    free(plan_path);
    size_t len;
    *nparts = 0;
    const char *parts = plan ? line_value(plan, "parts", &len) : NULL;
    bool ok = parts && sscanf(parts, "%zu", nparts) == 1;
    free(plan);
    return ok;
}

/* Whether the plan of the work folder dir clusters near-duplicate
 * documents (then its group and verify stages make the documents' files
 * too: run/doc_stages.h). */
static bool plan_near(const char *dir)
{
    char *plan_path = dd_asprintf("%s/plan", dir);
    FILE *f = fopen(plan_path, "r");
    free(plan_path);
    bool near = false;
    char line[256];
    while (f && !near && fgets(line, sizeof line, f))
        near = !strcmp(line, "setting near yes\n");
    if (f)
        fclose(f);
    return near;
}

bool dd_work_task_marked(const char *dir, const char *stage, unsigned long task,
                         unsigned long tasks)
{
    size_t nparts;
    bool ok = plan_parts(dir, &nparts);
    /* A group or verify task makes the documents' partitions too. */
    bool docs = ok && (!strcmp(stage, "group") || !strcmp(stage, "verify")) && plan_near(dir);
    for (size_t k = task; ok && k < nparts; k += tasks) {
        char *marker = dd_asprintf("%s/%s/part-%06zu.done", dir, stage, k);
        char *doc_marker = docs ? dd_asprintf("%s/%s-docs/part-%06zu.done", dir, stage, k) : NULL;
        ok = access(marker, F_OK) == 0 && (!doc_marker || access(doc_marker, F_OK) == 0);
        free(marker);
        free(doc_marker);
    }
    return ok;
}

size_t dd_work_marked(const char *dir, const char *stage, size_t *nparts)
{
    size_t marked = 0;
    if (!plan_parts(dir, nparts))
        return 0;
    for (size_t k = 0; k < *nparts; k++) {
        char *marker = dd_asprintf("%s/%s/part-%06zu.done", dir, stage, k);
        marked += access(marker, F_OK) == 0;
        free(marker);
    }
    return marked;
}
