/*
 * input.c - walking the inputs and reading documents: files, streams, and
 * the records of JSONL shards.
 */
#include "io/input.h"

#include "io/jsonl.h"
#include "io/safe_write.h"
#include "io/spool.h"
#include "io/stream.h"
#include "key_table.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* Has the file of status st been collected before? Records it if not.
 * Files are told apart by their identity (device, inode), the key of a
 * table that maps it to nothing (key_table.h). */
static bool seen_before(dd_key_table *seen, const struct stat *st)
{
    sh_key identity = {.lo = (uint64_t)st->st_ino, .hi = (uint64_t)st->st_dev};
    uint32_t had;
    return dd_key_table_add(seen, identity, 0, &had) == DD_KEY_HAD;
}

/* Appends record d to the list. Ends the process after a message when its
 * scratch file cannot be written (a full disk): every later step needs the
 * list whole, as with its names (io/names.h). */
static void append_record(dd_inputs *in, const dd_input_rec *d)
{
    char *err = NULL;
    if (!dd_scratch_array_append(&in->docs, d, 1, &err)) {
        dd_error("keeping the list of the inputs out of memory (--memory): %s", err);
        free(err);
        exit(DD_EXIT_ERROR);
    }
    in->n = in->docs.n;
}

/* The record of document i: a pointer into the list, or into a block of
 * the calling thread (dd_scratch_array_get), valid until the thread reads
 * another block of a scratch array. */
static const dd_input_rec *record_of(const dd_inputs *in, size_t i)
{
    return dd_scratch_array_get(&in->docs, i);
}

/* Adds the file at path (its id) as a document: out_rel, its output name,
 * is mostly the end of path, and is then kept as a place in it. folder:
 * dd_input's folder_fd. */
static void add_input(dd_inputs *in, const char *path, const char *out_rel, uint64_t size,
                      bool is_stream, int folder)
{
    dd_input_rec d = {.size = size, .stream = is_stream, .folder = (uint64_t)folder};
    size_t len = strlen(path), out_len = strlen(out_rel);
    if (out_len <= len && !strcmp(path + len - out_len, out_rel)) {
        d.name = dd_names_add(&in->names, path, len);
        d.out_rel = (uint32_t)(len - out_len);
    } else { /* kept after the path, in the same string of the arena */
        char *both = dd_asprintf("%s%c%s", path, '\0', out_rel);
        d.name = dd_names_add(&in->names, both, len + 1 + out_len);
        d.out_rel = (uint32_t)(len + 1);
        free(both);
    }
    if (is_stream) {
        dd_grow(&in->streams, &in->streams_cap, in->nstreams + 1, sizeof *in->streams);
        d.off = in->nstreams;
        in->streams[in->nstreams++] = dd_calloc(1, sizeof **in->streams);
    }
    append_record(in, &d);
}

dd_input dd_inputs_get(const dd_inputs *in, size_t i, dd_name_room *room)
{
    const dd_input_rec *d = record_of(in, i);
    const char *name = dd_names_read(&in->names, d->name, room);
    if (d->shard) {
        const dd_shard *s = in->shards[d->shard - 1];
        return (dd_input){.path = s->path,
                          .id = name,
                          .out_rel = s->out_rel,
                          .size = d->size,
                          .shard = s,
                          .line = d->line,
                          .off = d->off,
                          .named_by_id = d->named_by_id};
    }
    return (dd_input){.path = name,
                      .id = name,
                      .out_rel = name + d->out_rel,
                      .size = d->size,
                      .is_stdin = !strcmp(name, "-"),
                      .stream = d->stream ? in->streams[d->off] : NULL,
                      .folder_fd = (int)d->folder};
}

const char *dd_input_id(const dd_inputs *in, size_t i, dd_name_room *room)
{
    return dd_names_read(&in->names, record_of(in, i)->name, room);
}

char *dd_input_printable_id(const dd_inputs *in, size_t i)
{
    dd_name_room room = {0};
    char *shown = dd_printable(dd_input_id(in, i, &room));
    dd_name_room_free(&room);
    return shown;
}

const char *dd_input_path(const dd_inputs *in, size_t i, dd_name_room *room)
{
    const dd_input_rec *d = record_of(in, i);
    return d->shard ? in->shards[d->shard - 1]->path : dd_names_read(&in->names, d->name, room);
}

const char *dd_input_out_rel(const dd_inputs *in, size_t i, dd_name_room *room)
{
    const dd_input_rec *d = record_of(in, i);
    return d->shard ? in->shards[d->shard - 1]->out_rel
                    : dd_names_read(&in->names, d->name, room) + d->out_rel;
}

bool dd_input_is_stream(const dd_inputs *in, size_t i)
{
    const dd_input_rec *d = record_of(in, i);
    return !d->shard && d->stream;
}

uint64_t dd_input_line(const dd_inputs *in, size_t i)
{
    const dd_input_rec *d = record_of(in, i);
    return d->shard ? d->line : 0;
}

const dd_shard *dd_input_shard(const dd_inputs *in, size_t i)
{
    uint32_t shard = record_of(in, i)->shard;
    return shard ? in->shards[shard - 1] : NULL;
}

uint64_t dd_input_size(const dd_inputs *in, size_t i) { return record_of(in, i)->size; }

size_t dd_inputs_memory_bytes(const dd_inputs *in)
{
    return dd_scratch_array_memory_bytes(&in->docs) + dd_names_memory_bytes(&in->names) +
           in->streams_cap * sizeof *in->streams + in->nstreams * sizeof **in->streams;
}

/* ---- Shards ---------------------------------------------------------------
 *
 * A shard is read once, when the inputs are collected, in order (stream.c:
 * plain, gzip or zstd): each line that is not blank becomes a document,
 * named by its id, and its place is remembered: its offset in the file for
 * a plain regular file, in the scratch file for any other (its lines are
 * copied there as they are decompressed), so that reading a record again
 * (analysis, exact verification, a report's excerpt, clean) is one pread.
 */

bool dd_is_shard_name(const char *path)
{
    static const char *const ends[] = {".jsonl", ".jsonl.gz", ".jsonl.zst"};
    size_t len = strlen(path);
    for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++) {
        size_t n = strlen(ends[i]);
        if (len > n && !strcmp(path + len - n, ends[i]) && path[len - n - 1] != '/')
            return true;
    }
    return false;
}

/* What collecting the inputs needs besides them. */
typedef struct collector {
    dd_inputs *in;
    dd_sources *list;             /* listing only (dd_inputs_list): no shard is read */
    dd_key_table seen;            /* the files collected: seen_before */
    dd_writer *scratch;           /* the scratch file's writer, once made */
    char *scratch_dir;            /* where it is (for messages) */
    const char *scratch_named_by; /* what named that folder: "--tmp-dir" or "TMPDIR" */
} collector;

/* Lists the file at path (st: its status, NULL for a stream) as a source. */
static void add_source(collector *k, const char *path, const struct stat *st, bool shard)
{
    dd_sources *l = k->list;
    dd_grow(&l->v, &l->cap, l->n + 1, sizeof *l->v);
    l->v[l->n++] = (dd_source){.path = dd_strdup(path),
                               .size = st ? (uint64_t)st->st_size : 0,
                               .mtime = st ? st->st_mtim : (struct timespec){0, 0},
                               .shard = shard,
                               .stream = st == NULL};
}

static bool is_blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return false;
    return true;
}

/* The scratch file of the shards that cannot be read again in place,
 * made at the first need: in $TMPDIR (/tmp when unset), removed from its
 * folder at once so that nothing is left behind whatever ends the run.
 * NULL after a message. (Not a dd_spool, which is one thread's: records
 * are read again by the -j workers at once, each with its own pread.) */
static dd_writer *scratch_writer(collector *k, const char *shard)
{
    if (k->scratch)
        return k->scratch;
    const char *dir = k->in->records.scratch_dir; /* --tmp-dir */
    k->scratch_named_by = dir ? "--tmp-dir" : "TMPDIR";
    if (!dir)
        dir = dd_spool_default_dir(); /* filter's scratch files go there too */
    char *path = dd_asprintf("%s/dedup-shards.XXXXXX", dir);
    int fd = mkstemp(path);
    if (fd < 0) {
        char *p = dd_printable(shard), *d = dd_printable(dir);
        dd_error("%s: cannot make a scratch file in %s (%s) for its decompressed records: %s", p, d,
                 k->scratch_named_by, strerror(errno));
        free(p);
        free(d);
        free(path);
        return NULL;
    }
    unlink(path);
    free(path);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    k->in->scratch_fd = fd + 1;
    k->scratch_dir = dd_strdup(dir);
    k->scratch = dd_writer_new(fd, 0);
    return k->scratch;
}

/* The id of record rec[0..len) (shard at line), as reports name it: the
 * string (or the JSON text of any other value) of --id-field, else of
 * "id" when it holds a string or a number; "SHARD:LINE" when there is
 * none. *by_id says which. */
static char *record_id(const dd_records_spec *r, const char *shard, uint64_t line, const char *rec,
                       size_t len, bool *by_id)
{
    size_t start, end;
    *by_id = false;
    if (dd_jsonl_value_span(rec, len, r->id_field ? r->id_field : "id", &start, &end)) {
        if (rec[start] == '"') {
            sh_buf id = {0};
            if (dd_jsonl_string(rec + start, end - start, &id)) {
                *by_id = true;
                return id.data; /* NUL-terminated */
            }
            sh_buf_free(&id);
        } else if (r->id_field || rec[start] == '-' || (rec[start] >= '0' && rec[start] <= '9')) {
            *by_id = true;
            return dd_asprintf("%.*s", (int)(end - start), rec + start);
        }
    }
    return dd_asprintf("%s:%llu", shard, (unsigned long long)line);
}

/* Says why the reading of shard s stopped (err from stream.c, "PATH:
 * why"), at the line after line. */
static void shard_failed(const char *path, uint64_t line, const char *err)
{
    char *p = dd_printable(path);
    size_t plen = strlen(p);
    const char *why = !strncmp(err, p, plen) && err[plen] == ':' ? err + plen + 2 : err;
    if (line == 0)
        dd_error("%s:1: %s; no record of it is read", p, why);
    else
        dd_error("%s:%llu: %s; only the %llu line%s before it %s read", p,
                 (unsigned long long)line + 1, why, (unsigned long long)line, line == 1 ? "" : "s",
                 line == 1 ? "is" : "are");
    free(p);
}

/* Reads the shard at path (a regular file when regular) and adds its
 * records. Returns the number of problems reported. */
static int collect_shard(collector *k, const char *path, const char *out_rel, bool regular)
{
    dd_inputs *in = k->in;
    char *err = NULL;
    dd_reader *r = dd_reader_open(path, in->records.max_record, &err);
    if (!r) {
        dd_error("%s", err);
        free(err);
        return 1;
    }
    dd_shard *s = dd_calloc(1, sizeof *s);
    s->path = dd_strdup(path);
    s->out_rel = dd_strdup(out_rel);
    s->format = dd_reader_format(r);
    s->first = in->n;
    s->copy_fd = -1;
    s->records = in->records;
    dd_grow(&in->shards, &in->shards_cap, in->nshards + 1, sizeof *in->shards);
    in->shards[in->nshards++] = s;
    dd_writer *copy = NULL;
    if (strcmp(s->format, "plain") || !regular) {
        if (!(copy = scratch_writer(k, path))) {
            dd_reader_close(r);
            return 1;
        }
        s->copy_fd = in->scratch_fd - 1;
    }
    const char *rec;
    size_t len;
    bool had_delim;
    int got;
    uint64_t off = 0, line = 0;
    int problems = 0;
    while ((got = dd_reader_next(r, '\n', &rec, &len, &had_delim, &err)) == 1) {
        line = dd_reader_record_number(r);
        uint64_t at = copy ? in->scratch_size : off;
        off += len + had_delim;
        if (copy) {
            if (dd_writer_write(copy, rec, len) != 0 || dd_writer_write(copy, "\n", 1) != 0)
                break;
            in->scratch_size += len + 1;
        }
        if (is_blank(rec, len))
            continue;
        bool by_id;
        char *id = record_id(&in->records, path, line, rec, len, &by_id);
        append_record(in, &(dd_input_rec){.name = dd_names_add(&in->names, id, strlen(id)),
                                          .size = len,
                                          .off = at,
                                          .line = line,
                                          .shard = (uint32_t)in->nshards,
                                          .named_by_id = by_id});
        free(id);
    }
    if (got < 0) {
        shard_failed(path, line, err);
        free(err);
        problems++;
    }
    dd_reader_close(r);
    if (copy && dd_writer_flush(copy) != 0) {
        /* The records of the shard are not all in the scratch file: none
         * of them is a document. */
        char *p = dd_printable(path), *d = dd_printable(k->scratch_dir);
        dd_error("%s: writing its decompressed records to a scratch file in %s (%s): %s; "
                 "none of its records is read",
                 p, d, k->scratch_named_by, strerror(errno));
        free(p);
        free(d);
        dd_scratch_array_truncate(&in->docs, s->first); /* their ids stay in the arena, unused */
        in->n = s->first;
        problems++;
    }
    s->n = in->n - s->first;
    return problems;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Folders of version control tools are not data. */
static bool is_vcs_dir(const char *name)
{
    return !strcmp(name, ".git") || !strcmp(name, ".hg") || !strcmp(name, ".svn");
}

/* Puts a joined with one slash to b in buf, grown as needed: returns
 * buf's text. Copied, not formatted: the listing joins two names a file
 * on the calling thread, and a vsnprintf of "%s/%s" cost about 2,000
 * instructions (70 M of the news' 16,111 files). */
static const char *join_into(sh_buf *buf, const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t slash = la > 0 && a[la - 1] != '/';
    dd_grow(&buf->data, &buf->cap, la + slash + lb + 1, 1);
    memcpy(buf->data, a, la);
    buf->data[la] = '/'; /* overwritten by b when no slash is wanted */
    memcpy(buf->data + la + slash, b, lb + 1);
    buf->len = la + slash + lb;
    return buf->data;
}

/* Joins a and b with one slash: a new string, the caller's to free. */
static char *join(const char *a, const char *b)
{
    sh_buf buf = {0};
    join_into(&buf, a, b);
    return buf.data;
}

/* What walk keeps of a name's status in its folder: of the link itself
 * its type, of what it names what the inputs need (st: only these fields
 * are set), and errno when either could not be had (0: both were). */
typedef struct entry_status {
    mode_t link_mode; /* 0: not had */
    struct {
        mode_t st_mode;
        nlink_t st_nlink;
        dev_t st_dev;
        ino_t st_ino;
        off_t st_size;
        struct timespec st_mtim;
    } st;
    int error;
} entry_status;

/* The status of name in the folder open as d (see entry_status). */
static void status_in(DIR *d, const char *name, entry_status *es)
{
    struct stat st;
    *es = (entry_status){0};
    if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        es->error = errno;
        return;
    }
    es->link_mode = st.st_mode;
    if (S_ISLNK(st.st_mode) && fstatat(dirfd(d), name, &st, 0) != 0) {
        es->error = errno;
        return;
    }
    es->st.st_mode = st.st_mode;
    es->st.st_nlink = st.st_nlink;
    es->st.st_dev = st.st_dev;
    es->st.st_ino = st.st_ino;
    es->st.st_size = st.st_size;
    es->st.st_mtim = st.st_mtim;
}

/* A folder read (read_folder): its names, sorted, each with its status;
 * what went wrong is said when it is taken (take_folder), in the walk's
 * order. */
typedef struct folder {
    char *text;   /* the names, one after the other, each NUL-terminated */
    char **names; /* into text */
    entry_status *status;
    size_t n;
    int open_error; /* opendir's errno: nothing was read */
    int list_error; /* readdir's errno: the names before it were read */
    int fd;         /* a duplicate of its descriptor when it holds a regular file; else -1 */
} folder;

/* Looking up the statuses of a folder's names, on any thread. */
typedef struct status_loop {
    DIR *d;
    folder *f;
} status_loop;

static void status_work(void *ctx, void *worker, size_t i)
{
    (void)worker;
    const status_loop *s = ctx;
    status_in(s->d, s->f->names[i], &s->f->status[i]);
}

/* A folder of fewer names is looked up on the calling thread alone (waking
 * the others would cost more). */
#define STATUS_LOOP_MIN 64

/* How many folders the inputs keep open at most: a quarter of the files
 * the process may open, at most 1024 (the folders walked past those are
 * not kept: their files are opened by path). */
static size_t folders_kept_max(void)
{
    struct rlimit l;
    rlim_t files = getrlimit(RLIMIT_NOFILE, &l) == 0 ? l.rlim_cur : 256;
    return files / 4 > 1024 ? 1024 : (size_t)(files / 4);
}

/* Reads the folder dir into f, on any thread: its names, sorted, and their
 * statuses, looked up in the folder open (not from the top by the whole
 * path, as lstat and stat of path would): the link itself, then what it
 * names (the same when it is no link); with loop (not NULL, its run set),
 * a folder's names on several threads. The folder is closed before any
 * subfolder is walked, so a deep tree holds no more than one open (and
 * those read ahead: take_folder); with keep_fd, a duplicate of its
 * descriptor is kept when it holds a regular file (keep_folder). Says
 * nothing. */
static void read_folder(const dd_loop *loop, const char *dir, bool keep_fd, folder *f)
{
    *f = (folder){.fd = -1};
    DIR *d = opendir(dir);
    if (!d) {
        f->open_error = errno;
        return;
    }
    /* The names in one buffer (one allocation, not one a name), their
     * places in it, made pointers once it is whole. */
    size_t len = 0, text_cap = 0, cap = 0;
    size_t *at = NULL;
    struct dirent *e;
    errno = 0;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        size_t bytes = strlen(e->d_name) + 1;
        dd_grow(&f->text, &text_cap, len + bytes, 1);
        memcpy(f->text + len, e->d_name, bytes);
        dd_grow(&at, &cap, f->n + 1, sizeof *at);
        at[f->n++] = len;
        len += bytes;
    }
    f->list_error = errno;
    size_t n = f->n ? f->n : 1;
    f->names = dd_malloc(n * sizeof *f->names);
    for (size_t i = 0; i < f->n; i++)
        f->names[i] = f->text + at[i];
    free(at);
    if (f->n > 1)
        qsort(f->names, f->n, sizeof *f->names, compare_names);
    f->status = dd_malloc(n * sizeof *f->status);
    status_loop looked = {d, f};
    if (loop && loop->run && f->n >= STATUS_LOOP_MIN)
        loop->run(loop->loop_ctx, f->n, &looked, status_work);
    else
        for (size_t i = 0; i < f->n; i++)
            status_work(&looked, NULL, i);
    bool files = false;
    for (size_t i = 0; i < f->n && !files; i++)
        files = !f->status[i].error && S_ISREG(f->status[i].st.st_mode);
    if (keep_fd && files)
        f->fd = fcntl(dirfd(d), F_DUPFD_CLOEXEC, 0);
    closedir(d);
}

static void folder_free(folder *f)
{
    free(f->text);
    free(f->names);
    free(f->status);
    if (f->fd >= 0)
        close(f->fd);
    *f = (folder){.fd = -1};
}

/* Keeps f's descriptor (read_folder) open, for its files to be opened by
 * their names in it: returns 1 + the descriptor kept, or 0 when it has
 * none or the inputs keep enough folders open already. */
static int keep_folder(dd_inputs *in, folder *f)
{
    if (f->fd < 0 || in->nfolder_fds >= folders_kept_max())
        return 0;
    dd_grow(&in->folder_fds, &in->folder_fds_cap, in->nfolder_fds + 1, sizeof *in->folder_fds);
    in->folder_fds[in->nfolder_fds++] = f->fd;
    int kept = f->fd + 1;
    f->fd = -1;
    return kept;
}

/* Whether name i of f is a folder the walk goes into. */
static bool walked_into(const folder *f, size_t i)
{
    const entry_status *es = &f->status[i];
    return !dd_is_temp_name(f->names[i]) && !es->error && S_ISDIR(es->st.st_mode) &&
           !S_ISLNK(es->link_mode) && !is_vcs_dir(f->names[i]);
}

/* Whether name i of f is a folder the walk goes into that holds no
 * folder: a link count of 2 (its name and its "."; a file system that
 * does not count them gives 1: not known). */
static bool walked_leaf(const folder *f, size_t i)
{
    return walked_into(f, i) && f->status[i].st.st_nlink == 2;
}

/*
 * Reading ahead. The calling thread takes a folder's names in order (the
 * inputs, their order, the messages), which no other thread can do; the
 * reading of a folder (its names, sorted, their statuses) is any
 * thread's. So the folders of a folder that hold no folder are read on
 * the loop's threads, in order, while the calling thread takes those
 * before them: read_folder by the loop's start and wait, take_folder
 * here. At -j 2 the listing of the news (16,111 files in 9 folders) ran
 * 0.017 to 0.028 s of CPU on the calling thread alone, the other asleep,
 * when only the statuses were looked up on the pool
 * (bench/bench_timeline.sh).
 *
 * At most FOLDERS_AHEAD folders are read ahead at once, and past the
 * first, at most AHEAD_BYTES of their folders' own sizes (on most file
 * systems about 12 to 40 bytes a name), so that what is read ahead stays
 * small whatever the tree: a folder is held whole once read, as it was
 * when it was read in its turn.
 */
#define FOLDERS_AHEAD 64
#define AHEAD_BYTES ((uint64_t)1 << 20)

/* The folders read ahead, each an item of the loop in order. */
typedef struct ahead {
    const char *dir; /* the parent's path */
    const folder *parent;
    const size_t *which; /* names of the parent */
    folder *read;        /* read[j]: the folder of name which[j] */
    bool keep_fd;
} ahead;

static void read_ahead(void *ctx, void *worker, size_t j)
{
    (void)worker;
    const ahead *a = ctx;
    char *path = join(a->dir, a->parent->names[a->which[j]]);
    read_folder(NULL, path, a->keep_fd, &a->read[j]);
    free(path);
}

/* The names of f from i on that are read ahead together, in which[0..):
 * the folders that hold no folder, up to the next folder that may, within
 * FOLDERS_AHEAD and most_bytes. */
static size_t ahead_of(const folder *f, size_t i, uint64_t most_bytes, size_t *which)
{
    size_t n = 0;
    uint64_t bytes = 0;
    for (; i < f->n && n < FOLDERS_AHEAD; i++) {
        if (!walked_into(f, i))
            continue;
        if (!walked_leaf(f, i))
            break;
        bytes += (uint64_t)f->status[i].st.st_size;
        if (n > 0 && bytes > most_bytes)
            break;
        which[n++] = i;
    }
    return n;
}

static int walk(collector *k, const char *dir, const char *rel, bool nested);

/* Takes the names of folder f (read_folder of dir; output prefix rel),
 * freed here: its files added in sorted order, its folders walked.
 * nested: it was read ahead (see above), and the loop is busy: any folder
 * in it is read on the calling thread. Returns the number of problems
 * reported. */
static int take_folder(collector *k, const char *dir, const char *rel, folder *f, bool nested)
{
    dd_inputs *in = k->in;
    int problems = 0;
    if (f->open_error) {
        char *p = dd_printable(dir);
        dd_error("%s: %s", p, strerror(f->open_error));
        free(p);
        folder_free(f);
        return 1;
    }
    if (f->list_error) {
        char *p = dd_printable(dir);
        dd_error("%s: %s", p, strerror(f->list_error));
        free(p);
        problems++;
    }
    int folder_fd = keep_folder(in, f);
    const dd_loop *loop = &in->loop;
    bool can_ahead = !nested && loop->start && loop->wait && loop->finish;
    uint64_t most_bytes = AHEAD_BYTES;
    if (in->names.max_in_memory && in->names.max_in_memory / 4 < most_bytes)
        most_bytes = in->names.max_in_memory / 4; /* --memory */
    size_t *which = NULL; /* made when first read ahead (not on the stack: a deep tree) */
    folder *read = NULL;
    ahead a = {dir, f, NULL, NULL, !k->list};
    size_t nahead = 0, next_ahead = 0; /* the folders of the loop running, the next to take */
    /* Each name's path and output name, joined in buffers of their own
     * (a walk below joins in others). */
    sh_buf path_buf = {0}, rel_buf = {0};
    for (size_t i = 0; i < f->n; i++) {
        const char *name = f->names[i];
        const char *path = join_into(&path_buf, dir, name), *sub = join_into(&rel_buf, rel, name);
        const entry_status *es = &f->status[i];
        struct stat st = {.st_mode = es->st.st_mode,
                          .st_dev = es->st.st_dev,
                          .st_ino = es->st.st_ino,
                          .st_size = es->st.st_size,
                          .st_mtim = es->st.st_mtim};
        mode_t link_mode = es->link_mode;
        if (can_ahead && next_ahead == nahead && walked_leaf(f, i)) {
            if (!which) {
                a.which = which = dd_malloc(FOLDERS_AHEAD * sizeof *which);
                a.read = read = dd_malloc(FOLDERS_AHEAD * sizeof *read);
            }
            nahead = ahead_of(f, i, most_bytes, which);
            next_ahead = 0;
            if (nahead > 1)
                loop->start(loop->loop_ctx, nahead, &a, read_ahead);
            else
                nahead = 0; /* one folder: read as any other, its statuses on the loop */
        }
        if (dd_is_temp_name(name)) {
            char *p = dd_printable(path);
            const char *what = S_ISDIR(link_mode) ? "folder" : "file";
            if (dd_temp_name_is_live(name))
                dd_warn("%s: a temporary %s of a dedup clean running now, skipped", p, what);
            else
                dd_warn("%s: a temporary %s left by an interrupted dedup clean, skipped "
                        "(remove it)",
                        p, what);
            free(p);
        } else if (es->error) {
            char *p = dd_printable(path);
            dd_error("%s: %s", p, strerror(es->error));
            free(p);
            problems++;
        } else if (S_ISDIR(st.st_mode)) {
            if (S_ISLNK(link_mode)) {
                char *p = dd_printable(path);
                dd_warn("%s: symbolic link to a directory, not followed", p);
                free(p);
            } else if (next_ahead < nahead && which[next_ahead] == i) {
                loop->wait(loop->loop_ctx, next_ahead);
                problems += take_folder(k, path, sub, &read[next_ahead], true);
                if (++next_ahead == nahead) {
                    loop->finish(loop->loop_ctx);
                    nahead = next_ahead = 0;
                }
            } else if (!is_vcs_dir(name)) {
                problems += walk(k, path, sub, nested);
            }
        } else if (S_ISREG(st.st_mode)) {
            if (seen_before(&k->seen, &st))
                ;
            else if (k->list)
                add_source(k, path, &st, !in->records.whole_files && dd_is_shard_name(name));
            else if (!in->records.whole_files && dd_is_shard_name(name))
                problems += collect_shard(k, path, sub, true);
            else
                add_input(in, path, sub, (uint64_t)st.st_size, false, folder_fd);
        } else {
            char *p = dd_printable(path);
            dd_warn("%s: not a regular file, skipped", p);
            free(p);
        }
    }
    sh_buf_free(&path_buf);
    sh_buf_free(&rel_buf);
    free(which);
    free(read);
    folder_free(f);
    return problems;
}

/* Adds the files under dir (output prefix rel) in sorted order. nested:
 * see take_folder. Returns the number of problems reported. */
static int walk(collector *k, const char *dir, const char *rel, bool nested)
{
    folder f;
    read_folder(nested ? NULL : &k->in->loop, dir, !k->list, &f);
    return take_folder(k, dir, rel, &f, nested);
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* Remembers the real path of dir as a named tree (dd_inputs_hold). */
static void add_tree(dd_inputs *in, const char *dir)
{
    char *real = realpath(dir, NULL);
    if (!real)
        return; /* nothing can be held in a tree that cannot be resolved */
    dd_grow(&in->trees, &in->trees_cap, in->ntrees + 1, sizeof *in->trees);
    in->trees[in->ntrees++] = real;
}

/* Remembers the directory of the named file path as a named tree. */
static void add_tree_of_file(dd_inputs *in, const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = !slash          ? dd_strdup(".")
                : slash == path ? dd_strdup("/")
                                : dd_asprintf("%.*s", (int)(slash - path), path);
    add_tree(in, dir);
    free(dir);
}

bool dd_path_within(const char *a, const char *b)
{
    size_t lb = strlen(b);
    if (!strcmp(b, "/"))
        return true;
    return !strncmp(a, b, lb) && (a[lb] == '\0' || a[lb] == '/');
}

bool dd_inputs_hold(const dd_inputs *in, const char *real)
{
    for (size_t i = 0; i < in->ntrees; i++)
        if (dd_path_within(real, in->trees[i]))
            return true;
    return false;
}

/* dd_inputs_collect, or dd_inputs_list when list is not NULL (in then
 * gathers only what the walk needs: the named directories and trees). */
static int collect_or_list(dd_inputs *in, dd_sources *list, char *const *paths, size_t n,
                           const dd_records_spec *records)
{
    collector k = {.in = in, .list = list};
    dd_key_table_init(&k.seen, 2);
    int problems = 0;
    in->records = records ? *records : (dd_records_spec){false, "text", NULL, 0, false, NULL};
    if (!in->records.field)
        in->records.field = "text";
    dd_scratch_array_init(&in->docs, sizeof(dd_input_rec), in->records_max_in_memory,
                          in->records.scratch_dir /* --tmp-dir */, "the list of the inputs");
    in->names.dir = in->records.scratch_dir; /* --tmp-dir */
    in->names.dir_named_by = in->records.scratch_dir ? "--tmp-dir" : NULL;
    in->from_path = dd_realloc(in->from_path, (n + 1) * sizeof *in->from_path);
    for (size_t i = 0; i < n; i++) {
        const char *path = paths[i];
        in->from_path[i] = in->n;
        if (!strcmp(path, "-") && list) {
            add_source(&k, path, NULL, in->records.stdin_records && !in->records.whole_files);
            continue;
        }
        if (!strcmp(path, "-")) {
            if (in->records.stdin_records && !in->records.whole_files)
                problems += collect_shard(&k, "-", "-", false); /* copied as read */
            else
                add_input(in, "-", "-", 0, true, 0);
            continue;
        }
        struct stat st;
        if (stat(path, &st) != 0) {
            char *p = dd_printable(path);
            dd_error("%s: %s", p, strerror(errno));
            free(p);
            problems++;
        } else if (S_ISDIR(st.st_mode)) {
            dd_grow(&in->dirs, &in->dirs_cap, in->ndirs + 1, sizeof *in->dirs);
            in->dirs[in->ndirs++] = dd_strdup(path);
            add_tree(in, path);
            problems += walk(&k, path, "", false);
        } else if (S_ISREG(st.st_mode)) {
            if (seen_before(&k.seen, &st)) {
                char *p = dd_printable(path);
                dd_warn("%s: named twice, read once", p);
                free(p);
            } else if (list) {
                add_source(&k, path, &st, !in->records.whole_files && dd_is_shard_name(path));
            } else {
                add_tree_of_file(in, path);
                if (!in->records.whole_files && dd_is_shard_name(path))
                    problems += collect_shard(&k, path, base_name(path), true);
                else
                    add_input(in, path, base_name(path), (uint64_t)st.st_size, false, 0);
            }
        } else if (list) {
            add_source(&k, path, NULL, !in->records.whole_files && dd_is_shard_name(path));
        } else if (!in->records.whole_files && dd_is_shard_name(path)) {
            /* A FIFO named as a shard: its records, copied as read. */
            problems += collect_shard(&k, path, base_name(path), false);
        } else {
            /* FIFOs and devices named explicitly are read like stdin:
             * once. */
            add_input(in, path, base_name(path), 0, true, 0);
        }
    }
    in->from_path[n] = in->n;
    /* All are known: no room is kept for more. */
    dd_scratch_array_trim(&in->docs);
    dd_names_trim(&in->names);
    dd_key_table_free(&k.seen);
    dd_writer_free(k.scratch); /* flushed after each shard */
    free(k.scratch_dir);
    return problems;
}

int dd_inputs_collect(dd_inputs *in, char *const *paths, size_t n, const dd_records_spec *records)
{
    return collect_or_list(in, NULL, paths, n, records);
}

int dd_inputs_list(dd_sources *list, char *const *paths, size_t n, const dd_records_spec *records)
{
    dd_inputs in = {0};
    int problems = collect_or_list(&in, list, paths, n, records);
    dd_inputs_free(&in);
    return problems;
}

void dd_sources_free(dd_sources *list)
{
    for (size_t i = 0; i < list->n; i++)
        free(list->v[i].path);
    free(list->v);
    memset(list, 0, sizeof *list);
}

void dd_inputs_free(dd_inputs *in)
{
    for (size_t i = 0; i < in->nstreams; i++) {
        sh_buf_free(&in->streams[i]->text);
        free(in->streams[i]);
    }
    free(in->streams);
    dd_names_free(&in->names);
    for (size_t i = 0; i < in->nshards; i++) {
        free(in->shards[i]->path);
        free(in->shards[i]->out_rel);
        free(in->shards[i]);
    }
    free(in->shards);
    free(in->from_path);
    if (in->scratch_fd > 0)
        close(in->scratch_fd - 1);
    for (size_t i = 0; i < in->nfolder_fds; i++)
        close(in->folder_fds[i]);
    free(in->folder_fds);
    for (size_t i = 0; i < in->ndirs; i++)
        free(in->dirs[i]);
    for (size_t i = 0; i < in->ntrees; i++)
        free(in->trees[i]);
    dd_scratch_array_free(&in->docs);
    free(in->dirs);
    free(in->trees);
    memset(in, 0, sizeof *in);
}

/* Refuses a document longer than max bytes. */
static bool too_long(const dd_input *d, int fd, size_t max)
{
    if (!d->is_stdin)
        close(fd);
    char *p = dd_printable(d->id), *limit = dd_max_record_text(max);
    dd_error("%s: longer than %s; not read", p, limit);
    free(limit);
    free(p);
    return false;
}

/* Copies n bytes of data into buf (replacing its contents), NUL-terminated. */
static void copy_into(sh_buf *buf, const char *data, size_t n)
{
    buf->len = 0;
    if (sh_buf_append(buf, data ? data : "", n) != SH_OK) {
        dd_error("out of memory");
        exit(DD_EXIT_ERROR);
    }
}

/* Whether fd is open on a regular file, no longer than max bytes: else
 * says why not (and closes fd), unless d is a stream, which need not be
 * regular. *regular tells which; *size is the file's (a regular file's). */
static bool status_fits(const dd_input *d, int fd, size_t max, bool *regular, uint64_t *size)
{
    struct stat st;
    *regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    *size = *regular ? (uint64_t)st.st_size : 0;
    if (!*regular && !d->stream) {
        close(fd);
        char *p = dd_printable(d->id);
        dd_error("%s: no longer a regular file; not read", p);
        free(p);
        return false;
    }
    if (*regular && *size > max)
        return too_long(d, fd, max);
    return true;
}

/* Reads document d from fd, open on it (standard input, or d's file),
 * and closes fd unless it is standard input: dd_input_read without the
 * stream's copy. A stream stops at its first DD_BINARY_PROBE bytes when
 * they hold a NUL byte: *binary is then set.
 *
 * A file that the walk found regular, of d->size bytes (not empty, not
 * too long), is read without asking for its status again: into room for
 * more than that size, so that one read(2) gives it whole, its short count
 * saying it ended. Only when that read gives another count (the file
 * changed since: it grew, shrank, or is no longer a regular file; or the
 * read failed) is its status asked for (fstat), and the file read on to
 * its end as any other. (What would tell apart from the file a FIFO put in
 * its place that gives exactly that many bytes at once: its status, a
 * system call for every file; such a FIFO is read as that file.) */
static bool read_open(const dd_input *d, int fd, size_t max, sh_buf *buf, bool *binary)
{
    *binary = false;
    buf->len = 0;
    bool as_listed = !d->stream && d->size > 0 && d->size <= max;
    bool regular = as_listed;
    uint64_t size = d->size;
    if (!as_listed && !status_fits(d, fd, max, &regular, &size))
        return false;
    /* Room for the file, its NUL and one byte more: a file that did not
     * grow is read whole by one read(2), whose short count says it ended. */
    if (regular && size > 0 && size + 2 > buf->cap) {
        buf->cap = (size_t)size + 2;
        buf->data = dd_realloc(buf->data, buf->cap);
    }
    for (;;) {
        if (buf->cap - buf->len < 2) {
            buf->cap = buf->cap ? buf->cap * 2 : 65536;
            buf->data = dd_realloc(buf->data, buf->cap);
        }
        size_t asked = buf->cap - buf->len - 1;
        ssize_t r = read(fd, buf->data + buf->len, asked);
        if (r < 0 && errno == EINTR)
            continue;
        if (as_listed) { /* the first read */
            as_listed = false;
            if (r == (ssize_t)size && (size_t)r < asked) {
                buf->len = (size_t)r;
                break; /* the file as listed, whole */
            }
            int e = errno;
            if (!status_fits(d, fd, max, &regular, &size))
                return false;
            errno = e;
        }
        if (r < 0) {
            int e = errno;
            if (!d->is_stdin)
                close(fd);
            errno = e;
            goto fail;
        }
        if (r == 0)
            break;
        size_t before = buf->len;
        buf->len += (size_t)r;
        if (d->stream && before < DD_BINARY_PROBE && buf->len >= DD_BINARY_PROBE &&
            dd_input_is_binary(buf->data, buf->len)) {
            *binary = true;
            break;
        }
        if (buf->len > max) /* a stream, or a file that grew */
            return too_long(d, fd, max);
        if (regular && (size_t)r < asked)
            break; /* a regular file reads short only at its end: no read of 0 to find it */
    }
    if (!d->is_stdin)
        close(fd);
    buf->data[buf->len] = '\0';
    return true;
fail:;
    char *p = dd_printable(d->id);
    dd_error("%s: %s", p, strerror(errno));
    free(p);
    return false;
}

/* Opens document d's file (not standard input), without waiting: by its
 * name in its folder when the inputs keep that open (no lookup of the
 * folder's path again), else by path. */
static int open_input(const dd_input *d, int flags)
{
    if (d->folder_fd > 0)
        return openat(d->folder_fd - 1, strrchr(d->path, '/') + 1, flags);
    return open(d->path, flags);
}

/* Reads document d from its start (dd_input_read without the stream's
 * copy). A file that the walk found regular is opened without waiting, so
 * that one replaced by a FIFO since is refused instead of blocking. */
static bool read_once(const dd_input *d, size_t max, sh_buf *buf, bool *binary)
{
    int fd = d->is_stdin ? STDIN_FILENO
                         : open_input(d, O_RDONLY | O_CLOEXEC | (d->stream ? 0 : O_NONBLOCK));
    if (fd < 0) {
        char *p = dd_printable(d->id);
        dd_error("%s: %s", p, strerror(errno));
        free(p);
        return false;
    }
    return read_open(d, fd, max, buf, binary);
}

bool dd_input_read_fd(const dd_input *d, int fd, size_t max, sh_buf *buf)
{
    bool binary;
    return read_open(d, fd, max, buf, &binary);
}

/* ---- Records, read again ------------------------------------------------ */

/* pread(2) of n bytes at off into p, whole unless the end comes first:
 * the bytes read, or -1 with errno set. */
static long pread_all(int fd, char *p, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, p + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (long)got;
}

/* Reads the line of record d into buf: 0, or an errno. A line cut short
 * (the shard shrank) is read as far as it goes: its parsing says so. */
static int read_line(const dd_input *d, sh_buf *buf)
{
    const dd_shard *s = d->shard;
    int fd = s->copy_fd >= 0 ? s->copy_fd : open(s->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return errno;
    buf->len = 0;
    if (sh_buf_reserve(buf, d->size + 1) != SH_OK) {
        dd_error("out of memory");
        exit(DD_EXIT_ERROR);
    }
    long got = pread_all(fd, buf->data, d->size, d->off);
    int err = got < 0 ? errno : 0;
    if (s->copy_fd < 0)
        close(fd);
    buf->len = got > 0 ? (size_t)got : 0;
    buf->data[buf->len] = '\0';
    return err;
}

/* The text of record d (its --field), into text: 0, or an errno (nothing
 * said), or 0 with *malformed set to why the record is not one (the caller
 * frees it). */
char *dd_record_text(const dd_records_spec *r, const char *line, size_t len, sh_buf *text)
{
    char *malformed = NULL;
    text->len = 0;
    /* Most lines are checked and their text taken without jansson, which
     * takes the rest (and says why a line is malformed). */
    size_t start, end, id_start, id_end;
    if (dd_jsonl_surely_valid(line, len) &&
        dd_jsonl_value_span(line, len, r->field, &start, &end) &&
        dd_jsonl_string(line + start, end - start, text) &&
        (!r->id_field || dd_jsonl_value_span(line, len, r->id_field, &id_start, &id_end)))
        return NULL;
    json_t *root = dd_jsonl_parse(line, len, &malformed);
    json_t *v = root ? dd_jsonl_get(root, r->field, &malformed) : NULL;
    if (v && !json_is_string(v))
        malformed = dd_asprintf("field '%s' is %s, not a string", r->field, dd_jsonl_type_name(v));
    else if (v && r->id_field && !dd_jsonl_get(root, r->id_field, &malformed))
        ; /* an --id-field it lacks: said */
    else if (v && sh_buf_append(text, json_string_value(v), json_string_length(v)) != SH_OK) {
        dd_error("out of memory");
        exit(DD_EXIT_ERROR);
    }
    json_decref(root);
    if (text->data)
        text->data[text->len] = '\0';
    return malformed;
}

/* Reads record d's text as read_record does, for a record read again:
 * the value of its --field found in the line and decoded (dd_jsonl_string),
 * a few times faster than parsing the whole line; the line is parsed in
 * full only when that fails. */
static int read_record_again(const dd_input *d, sh_buf *text, char **malformed)
{
    *malformed = NULL;
    text->len = 0;
    sh_buf line = {0};
    int err = read_line(d, &line);
    size_t start, end;
    if (!err && !(dd_jsonl_value_span(line.data, line.len, d->shard->records.field, &start, &end) &&
                  dd_jsonl_string(line.data + start, end - start, text)))
        *malformed = dd_record_text(&d->shard->records, line.data, line.len, text);
    sh_buf_free(&line);
    return err;
}

static int read_record(const dd_input *d, sh_buf *text, char **malformed)
{
    *malformed = NULL;
    text->len = 0;
    sh_buf line = {0};
    int err = read_line(d, &line);
    if (!err)
        *malformed = dd_record_text(&d->shard->records, line.data, line.len, text);
    sh_buf_free(&line);
    return err;
}

bool dd_record_line(const dd_input *d, sh_buf *buf)
{
    int err = read_line(d, buf);
    if (err) {
        char *p = dd_input_name(d, 0, 0);
        dd_error("%s: %s", p, strerror(err));
        free(p);
    }
    return !err;
}

long dd_input_pread(const dd_input *d, char *buf, size_t len, uint64_t off)
{
    if (!d->shard) {
        int fd = open_input(d, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        long r = fd >= 0 ? pread_all(fd, buf, len, off) : -1;
        int err = errno;
        if (fd >= 0)
            close(fd);
        errno = err;
        return r;
    }
    sh_buf text = {0};
    char *malformed;
    int err = read_record_again(d, &text, &malformed);
    free(malformed); /* said by the reading that found it: nothing to show */
    size_t n = !err && off < text.len ? text.len - off : 0;
    if (n > len)
        n = len;
    if (n)
        memcpy(buf, text.data + off, n);
    sh_buf_free(&text);
    errno = err;
    return err ? -1 : (long)n;
}

char *dd_input_name(const dd_input *d, size_t line, size_t last)
{
    if (!d->shard) {
        char *p = dd_printable(d->id);
        char *name = !line         ? dd_strdup(p)
                     : last > line ? dd_asprintf("%s:%zu-%zu", p, line, last)
                                   : dd_asprintf("%s:%zu", p, line);
        free(p);
        return name;
    }
    char *shard = dd_printable(d->shard->path);
    char *id = d->named_by_id ? dd_printable(d->id) : NULL;
    char lines[64] = "";
    if (line && last > line)
        snprintf(lines, sizeof lines, " lines %zu-%zu", line, last);
    else if (line)
        snprintf(lines, sizeof lines, " line %zu", line);
    char *name = dd_asprintf("%s:%llu%s%s%s%s", shard, (unsigned long long)d->line, id ? " [" : "",
                             id ? id : "", id ? "]" : "", lines);
    free(shard);
    free(id);
    return name;
}

char *dd_input_at(const dd_input *d, size_t line)
{
    if (!d->shard) {
        char *p = dd_printable(d->id);
        char *at = line ? dd_asprintf("%s:%zu: ", p, line) : dd_asprintf("%s: ", p);
        free(p);
        return at;
    }
    char *shard = dd_printable(d->shard->path);
    char *id = d->named_by_id ? dd_printable(d->id) : NULL;
    char *at = dd_asprintf("%s:%llu: %s%s%s", shard, (unsigned long long)d->line, id ? "[" : "",
                           id ? id : "", id ? "] " : "");
    free(shard);
    free(id);
    return at;
}

bool dd_input_read(const dd_input *d, size_t max, sh_buf *buf)
{
    dd_stream_copy *s = d->stream;
    bool binary;
    if (d->shard) { /* read again: its first reading is dd_input_load's */
        char *malformed;
        int err = read_record_again(d, buf, &malformed);
        if (err || malformed) {
            char *p = dd_input_name(d, 0, 0);
            dd_error("%s: %s", p, err ? strerror(err) : malformed);
            free(p);
        }
        free(malformed);
        return !err && !malformed;
    }
    if (!s)
        return read_once(d, max, buf, &binary);
    if (s->state == DD_STREAM_KEPT) {
        copy_into(buf, s->text.data, s->text.len);
        return true;
    }
    if (s->state != DD_STREAM_UNREAD) {
        char *p = dd_printable(d->id);
        dd_error("%s: %s", p,
                 s->state == DD_STREAM_BINARY
                     ? "a binary stream, of which only the start was read; cannot be read again"
                     : "not a regular file, and its one reading failed");
        free(p);
        return false;
    }
    bool ok = read_once(d, max, buf, &binary);
    s->state = !ok ? DD_STREAM_FAILED : binary ? DD_STREAM_BINARY : DD_STREAM_KEPT;
    if (s->state == DD_STREAM_KEPT)
        copy_into(&s->text, buf->data, buf->len);
    return ok;
}

/* The 1-based line that holds byte off. */
static size_t line_of(const char *text, size_t off)
{
    size_t line = 1;
    for (const char *p = text; (p = memchr(p, '\n', off - (size_t)(p - text))) != NULL; p++)
        line++;
    return line;
}

bool dd_input_is_binary(const char *text, size_t len)
{
    return memchr(text, '\0', len < DD_BINARY_PROBE ? len : DD_BINARY_PROBE) != NULL;
}

static void warn_binary(const dd_input *d)
{
    char *p = dd_printable(d->id);
    dd_warn("%s: a binary file (a NUL byte in its first %d bytes), skipped", p, DD_BINARY_PROBE);
    free(p);
}

bool dd_find_not_text(const char *text, size_t len, dd_not_text *bad)
{
    const char *nul = memchr(text, '\0', len);
    size_t before_nul = nul ? (size_t)(nul - text) : len;
    size_t valid = sh_utf8_check(text, before_nul);
    if (valid != before_nul)
        *bad = (dd_not_text){.why = "invalid UTF-8", .offset = valid};
    else if (nul)
        *bad = (dd_not_text){.why = "NUL byte", .offset = before_nul};
    else
        return false;
    bad->line = line_of(text, bad->offset);
    return true;
}

char *dd_not_text_message(const dd_input *d, const dd_not_text *bad)
{
    if (bad->malformed[0]) {
        char *shard = dd_printable(d->path), *why = dd_printable(bad->malformed);
        char *m = dd_asprintf("%s:%zu: %s", shard, bad->line, why);
        free(shard);
        free(why);
        return m;
    }
    char *p = dd_printable(d->id);
    char *m = dd_asprintf("%s:%zu: %s at byte %zu%s", p, bad->line, bad->why, bad->offset,
                          strcmp(bad->why, "NUL byte") ? "" : " (not a text file)");
    free(p);
    return m;
}

void dd_input_report_not_text(const dd_input *d, const dd_not_text *bad, bool warning,
                              const char *fate)
{
    char *m = dd_not_text_message(d, bad);
    if (warning)
        dd_warn("%s%s%s", m, fate ? "; " : "", fate ? fate : "");
    else
        dd_error("%s%s%s", m, fate ? "; " : "", fate ? fate : "");
    free(m);
}

/* dd_input_load of a record. */
static dd_load_status load_record(const dd_input *d, dd_analyzer *a, sh_buf *text, dd_doc *doc,
                                  dd_not_text *bad)
{
    char *malformed;
    int err = read_record(d, text, &malformed);
    if (err) {
        char *p = dd_input_name(d, 0, 0);
        dd_error("%s: %s", p, strerror(err));
        free(p);
        return DD_LOAD_FAILED;
    }
    if (malformed) {
        *bad = (dd_not_text){.line = (size_t)d->line};
        snprintf(bad->malformed, sizeof bad->malformed, "%s", malformed);
        free(malformed);
        text->len = 0;
        dd_analyze(a, "", 0, doc);
        return DD_LOAD_NOT_TEXT;
    }
    sh_status st = dd_analyze(a, text->data ? text->data : "", text->len, doc);
    if (st != SH_OK) {
        char *p = dd_input_name(d, 0, 0);
        dd_error("%s: %s", p, sh_status_str(st));
        free(p);
        return DD_LOAD_FAILED;
    }
    return DD_LOAD_TEXT;
}

dd_load_status dd_input_load(const dd_input *d, size_t max, dd_analyzer *a, sh_buf *text,
                             dd_doc *doc, dd_not_text *bad)
{
    if (d->shard)
        return load_record(d, a, text, doc, bad);
    if (!dd_input_read(d, max, text))
        return DD_LOAD_FAILED;
    if (dd_input_is_binary(text->data, text->len)) {
        warn_binary(d);
        dd_analyze(a, "", 0, doc); /* an empty document: nothing found, nothing removed */
        return DD_LOAD_BINARY;
    }
    /* The normaliser finds invalid UTF-8 as it goes, so the full check
     * runs only when it did, or when there is a NUL byte (valid UTF-8). */
    sh_status st = memchr(text->data, '\0', text->len) ? SH_ERR_BAD_UTF8
                                                       : dd_analyze(a, text->data, text->len, doc);
    if (st == SH_ERR_BAD_UTF8 && dd_find_not_text(text->data, text->len, bad)) {
        dd_analyze(a, "", 0, doc);
        return DD_LOAD_NOT_TEXT;
    }
    if (st != SH_OK) {
        char *p = dd_printable(d->id);
        dd_error("%s: %s", p, sh_status_str(st));
        free(p);
        return DD_LOAD_FAILED;
    }
    return DD_LOAD_TEXT;
}
