/*
 * input.h - the documents named on the command line: files, directories
 * walked recursively in sorted order, - for standard input, and the records
 * of JSONL shards (files named *.jsonl, *.jsonl.gz, *.jsonl.zst), each
 * record a document.
 */
#ifndef DD_INPUT_H
#define DD_INPUT_H

#include "engine/engine.h"
#include "io/names.h"
#include "io/scratch_array.h"
#include "shingle.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* A stream (standard input, or a FIFO or a device named on the command
 * line) can be read only once: opening a FIFO again would wait for a writer
 * that never comes. Its bytes are kept at the first reading, and every later
 * reading (exact verification, a report's excerpt, clean) gives them again. */
typedef struct dd_stream_copy {
    sh_buf text;
    enum {
        DD_STREAM_UNREAD,
        DD_STREAM_KEPT,
        DD_STREAM_BINARY, /* a NUL byte in its first DD_BINARY_PROBE bytes: read no further */
        DD_STREAM_FAILED,
    } state;
} dd_stream_copy;

/* How shards are read (the commands' --field, --id-field, --whole-files and
 * --max-record). */
typedef struct dd_records_spec {
    bool whole_files;        /* shards are plain files: one document each */
    const char *field;       /* the text: a dotted path (default "text") */
    const char *id_field;    /* the id: a dotted path, NULL: "id" when a record has one */
    size_t max_record;       /* the longest line, in bytes (0: no limit) */
    bool stdin_records;      /* standard input ("-") is a shard of records, named "-" */
    const char *scratch_dir; /* where compressed shards are decompressed to (NULL:
                                dd_spool_default_dir()) */
} dd_records_spec;

/*
 * A shard: a file of JSON records, one a line, plain or compressed (gzip,
 * zstd), whose records are documents. It is read once, in order, when the
 * inputs are collected: each record is then known by its line and by where
 * its bytes lie. A plain regular file is read again at those offsets
 * (pread, like any file); a compressed one (or a stream) cannot be, short of
 * decompressing it again from its start for every record read again, so its
 * decompressed lines are written, at that one reading, to a scratch file
 * (unlinked at once, in $TMPDIR), read again from there.
 */
typedef struct dd_shard {
    char *path;         /* as named or found: what messages and reports name */
    char *out_rel;      /* where clean -o writes its cleaned copy */
    const char *format; /* "plain", "gzip" or "zstd", as detected */
    int copy_fd;        /* the scratch file holding its lines, or -1: read path */
    size_t first;       /* its records are inputs [first, first + n) */
    size_t n;
    dd_records_spec records; /* how its records are read */
} dd_shard;

/*
 * A document of the input list as the accessors give it (dd_inputs_get):
 * its names point into the list (its arena of names, or its shard), valid
 * while the list lives; nothing here is owned.
 */
typedef struct dd_input {
    const char *path;    /* what to open ("-" for standard input; a record: its shard's) */
    const char *id;      /* the document's name in reports: the path as named; a record's
                            id (--id-field), else "SHARD:LINE" */
    const char *out_rel; /* where clean writes it, relative to the output folder (a
                            record: its shard's) */
    uint64_t size;       /* bytes when collected (a regular file; a record: its line), else
                            0: a hint */
    bool is_stdin;
    dd_stream_copy *stream; /* a stream's bytes (the list's); NULL for a regular file */
    /* A file found in a folder walked: opened by its name in that folder
     * (the end of path), whose descriptor the inputs keep: 1 + it; 0: the
     * file is opened by path. */
    int folder_fd;
    /* A record of a shard (shard not NULL): its line there, from 1, and
     * where that line starts in the shard's bytes (decompressed: in the
     * scratch file); named_by_id when id is the record's id. */
    const dd_shard *shard;
    uint64_t line;
    uint64_t off;
    bool named_by_id;
} dd_input;

/*
 * A document as the list keeps it: 40 bytes, its names in the list's
 * arena (in->names), each stored once. A file's path is its id too, and
 * its output name (out_rel) is the end of its path (for a file found in a
 * named folder, its path below that folder; for a file named, its base
 * name), so they are places in one string. A record's path and output name
 * are its shard's; its id is its own string. Read it through
 * dd_inputs_get (or dd_input_id, dd_input_path).
 */
typedef struct dd_input_rec {
    uint64_t name; /* in in->names: a file's path (and id); a record's id */
    uint64_t size; /* as dd_input's */
    uint64_t off;  /* a record: where its line starts; a stream: its index in in->streams */
    union {
        uint64_t line;   /* a record: its line in its shard, from 1 */
        uint64_t folder; /* a file of a folder walked: dd_input's folder_fd */
    };
    uint32_t shard;           /* a record: 1 + its shard's index in in->shards; a file: 0 */
    uint32_t out_rel : 30;    /* a file: where its output name starts in its path */
    uint32_t named_by_id : 1; /* a record named by its id */
    uint32_t stream : 1;      /* a stream (standard input, a FIFO, a device) */
} dd_input_rec;

/* How dd_inputs_collect may run a loop of independent items (the status
 * of each name of a folder, looked up in it): run(loop_ctx, n, ctx, work)
 * calls work(ctx, worker, i) for every i in 0..n-1, in any order and on
 * any thread, and returns once all have run. run NULL: they run in order,
 * on the calling thread. The work writes only item i's result and says
 * nothing on stderr.
 *
 * And, when start, wait and finish are set, a loop whose items are taken
 * in order while the others run (folders read ahead while the calling
 * thread takes those before them): start(loop_ctx, n, ctx, work) starts
 * items 0..n-1 and returns at once; wait(loop_ctx, i) returns once item i
 * has run (running others meanwhile); finish(loop_ctx) once all have. No
 * other loop runs between start and finish. */
typedef struct dd_loop {
    void (*run)(void *loop_ctx, size_t n, void *ctx,
                void (*work)(void *ctx, void *worker, size_t i));
    void *loop_ctx;
    void (*start)(void *loop_ctx, size_t n, void *ctx,
                  void (*work)(void *ctx, void *worker, size_t i));
    void (*wait)(void *loop_ctx, size_t i);
    void (*finish)(void *loop_ctx);
} dd_loop;

typedef struct dd_inputs {
    dd_loop loop; /* set by the caller before dd_inputs_collect ({0}: one thread) */
    /* The documents, in input order: a scratch array of dd_input_rec
     * (io/scratch_array.h), in memory up to records_max_in_memory bytes of
     * them (the caller may set it before dd_inputs_collect; 0: no limit),
     * past it in a scratch file in records' scratch_dir, read back a block
     * at a time (a run reads them mostly in order). n of them. */
    size_t records_max_in_memory;
    dd_scratch_array docs;
    size_t n;
    dd_names names;           /* the paths and ids of the documents (the caller may set
                                 names.max_in_memory before dd_inputs_collect: past it,
                                 they are in a scratch file in records' scratch_dir) */
    dd_stream_copy **streams; /* the bytes of the streams among them */
    size_t nstreams, streams_cap;
    char **dirs; /* the directories named on the command line */
    size_t ndirs, dirs_cap;
    char **trees; /* the real paths of the named trees (see dd_inputs_hold) */
    size_t ntrees, trees_cap;
    size_t *from_path; /* the inputs of paths[k] are [from_path[k], from_path[k + 1]) */
    dd_records_spec records;
    dd_shard **shards; /* in input order */
    size_t nshards, shards_cap;
    int scratch_fd;        /* 1 + the descriptor of the scratch file of the shards
                              that are copied, 0 when there is none */
    uint64_t scratch_size; /* bytes written to it */
    /* The folders kept open, for the files in them (dd_input.folder_fd). */
    int *folder_fds;
    size_t nfolder_fds, folder_fds_cap;
} dd_inputs;

/* Whether a file of this name is a shard: it ends in .jsonl, .jsonl.gz or
 * .jsonl.zst. */
bool dd_is_shard_name(const char *path);

/* Collects the documents under paths[0..n). Problems (a missing path, an
 * unreadable directory, a shard cut short) are reported on stderr as
 * "dedup: PATH: why" and counted in the return value; the other documents
 * are still collected. A file reached twice (named twice, or through a
 * symbolic link) is read once. Below a directory, a symbolic link to a file
 * is followed (the file is read, wherever it is), a link to a directory is
 * not (no loop can be entered). A shard (dd_is_shard_name), unless
 * records->whole_files, is read through here (records, NULL: the defaults)
 * and gives one document for each line that is not blank. */
int dd_inputs_collect(dd_inputs *in, char *const *paths, size_t n, const dd_records_spec *records);
void dd_inputs_free(dd_inputs *in);

/* Document i (i < in->n) of the list, as a dd_input pointing into the
 * list and, for its names kept in the list's scratch file (names.h), into
 * room: valid while the list lives and until room is used again or freed
 * (dd_name_room_free), whichever comes first. The caller owns room: one for
 * each document whose names it holds at once, on its own thread. */
dd_input dd_inputs_get(const dd_inputs *in, size_t i, dd_name_room *room);

/* Document i's id, path (what to open) and output name (out_rel), as
 * dd_input's: strings of the list or of room, as dd_inputs_get's. */
const char *dd_input_id(const dd_inputs *in, size_t i, dd_name_room *room);
const char *dd_input_path(const dd_inputs *in, size_t i, dd_name_room *room);
const char *dd_input_out_rel(const dd_inputs *in, size_t i, dd_name_room *room);

/* Document i's id as a message shows it (dd_printable): a new string, the
 * caller's to free. For messages, which hold no name room. */
char *dd_input_printable_id(const dd_inputs *in, size_t i);

/* Whether document i is a stream (dd_input's stream is not NULL), without
 * its names. */
bool dd_input_is_stream(const dd_inputs *in, size_t i);

/* Document i's line in its shard as dd_input's (0: not a record), without
 * its names. */
uint64_t dd_input_line(const dd_inputs *in, size_t i);

/* Document i's shard, NULL when it is not a record. */
const dd_shard *dd_input_shard(const dd_inputs *in, size_t i);

/* Document i's size as dd_input's (a hint), without its names. */
uint64_t dd_input_size(const dd_inputs *in, size_t i);

/* The bytes the list holds in memory for its documents: their records
 * there and the blocks of names kept in memory (not the bytes kept of a
 * stream). */
size_t dd_inputs_memory_bytes(const dd_inputs *in);

/* A file the inputs are made of, as listed without being read: a shard
 * (all its records), or one document. */
typedef struct dd_source {
    char *path;            /* as dd_inputs_collect names it */
    uint64_t size;         /* bytes on disk (compressed for a compressed shard) */
    struct timespec mtime; /* when it was last changed */
    bool shard;            /* a shard of records (else one document) */
    bool stream;           /* a stream (standard input, a FIFO, a device): size and mtime 0 */
} dd_source;

typedef struct dd_sources {
    dd_source *v;
    size_t n, cap;
} dd_sources;

/* Lists the files under paths[0..n) in the order dd_inputs_collect would
 * read them, from the walk of the folders and stat(2) alone: no shard is
 * opened. The same problems are reported (a missing path, an unreadable
 * folder), save those found only by reading a shard. Collecting the paths
 * of any run of these sources, named one by one, gives the documents that
 * dd_inputs_collect gives for them among all the others, with the same
 * paths and names (not the same output names, out_rel: clean -o collects
 * them all). */
int dd_inputs_list(dd_sources *list, char *const *paths, size_t n, const dd_records_spec *records);
void dd_sources_free(dd_sources *list);

/* How document d is named in messages and text reports, printable
 * (dd_printable): a file by its path; a record by "SHARD:LINE", followed by
 * " [ID]" when it has an id. Then, when line is not 0, the place of that
 * line (to last, when last > line) in it: "PATH:LINE" for a file,
 * "SHARD:LINE [ID] line N" ("lines N-M") for a record. The caller frees
 * it. */
char *dd_input_name(const dd_input *d, size_t line, size_t last);

/* How a text report starts a finding in document d at line (0: the
 * document as a whole), with the ": " that ends it: "PATH:LINE: " ("PATH: "
 * when line is 0) for a file, "SHARD:LINE: [ID] " for a record (its line in
 * the shard; the line of its text is for the message to say). Printable;
 * the caller frees it. */
char *dd_input_at(const dd_input *d, size_t line);

/* Reads the line of record d, as it is in its shard (its delimiter not
 * included), into buf (replacing its contents). False after "dedup: ...:
 * why" when it cannot be read. */
bool dd_record_line(const dd_input *d, sh_buf *buf);

/* The text of the record line[0..len) as r reads it (the string of its
 * --field; it must have its --id-field when one is given), into text
 * (replacing its contents, NUL-terminated). Returns NULL, or why the record
 * is malformed ("not JSON: ... at column 7", "no field 'text'", "field
 * 'text' is a number, not a string"), which the caller frees. */
char *dd_record_text(const dd_records_spec *r, const char *line, size_t len, sh_buf *text);

/* Reads bytes [off, off + len) of document d (a file, or the text of a
 * record) into buf, which has room for len bytes: pread(2) for a document.
 * Returns the number of bytes read, or -1 with errno set. Not for a stream
 * (whose bytes are kept). */
long dd_input_pread(const dd_input *d, char *buf, size_t len, uint64_t off);

/* Whether the real path real (no symbolic link in it) lies in one of the
 * trees the command line named: a directory named, or the directory of a
 * file named, as their real paths were when the inputs were collected. What
 * lies elsewhere was reached through a symbolic link, which whoever can
 * write in a named folder may have planted: clean --in-place does not write
 * there. */
bool dd_inputs_hold(const dd_inputs *in, const char *real);

/* Whether the real path a is b or lies inside it. */
bool dd_path_within(const char *a, const char *b);

/* Reads the whole document into buf (replacing its contents), at most max
 * bytes (a record: its text, the string of its --field): a longer document is refused ("longer than
 * --max-record"), a regular file before anything is read, a stream (standard input, a FIFO, a
 * device) once max bytes have come, so that memory stays bounded. A stream
 * is read once: later calls give the bytes of the first (d->stream). A
 * stream whose first DD_BINARY_PROBE bytes hold a NUL byte is binary
 * whatever follows, and is read no further (so /dev/zero is skipped at
 * once): buf then holds those bytes, and a later call, which would need
 * the rest, fails. On failure prints "dedup: ID: why" and returns false. */
bool dd_input_read(const dd_input *d, size_t max, sh_buf *buf);

/* Reads document d, a regular file, from fd (open on it, as
 * dd_replace_target_read opens it) as dd_input_read would from its path,
 * and closes fd. */
bool dd_input_read_fd(const dd_input *d, int fd, size_t max, sh_buf *buf);

/* A file is binary when its first DD_BINARY_PROBE bytes hold a NUL byte:
 * git's rule (and grep's, in spirit). dedup skips such files with a
 * warning; a NUL byte further on makes a file that is not text (see
 * dd_input_load). */
#define DD_BINARY_PROBE 8000
bool dd_input_is_binary(const char *text, size_t len);

/* Where a document stops being text: its first invalid UTF-8 sequence or
 * NUL byte. */
typedef struct dd_not_text {
    const char *why; /* "invalid UTF-8", or "NUL byte" (static strings) */
    size_t offset;   /* 0-based byte offset in the document */
    size_t line;     /* 1-based line of that byte */
    /* A record that is not one (not JSON, no text field...): why, as
     * "not JSON: ... at column 7" (then why is NULL); "" otherwise. */
    char malformed[224];
} dd_not_text;

/* Finds the first byte of text[0..len) that makes it not text; false when
 * the whole text is valid UTF-8 without a NUL byte. */
bool dd_find_not_text(const char *text, size_t len, dd_not_text *bad);

/* "ID:LINE: why at byte OFFSET", as every command says it: on stdout for
 * check's findings, after "dedup: " on stderr elsewhere; for a malformed
 * record "SHARD:LINE: why". The string is the caller's to free. */
char *dd_not_text_message(const dd_input *d, const dd_not_text *bad);

/* Reports bad on stderr: "dedup: ID:LINE: why at byte OFFSET[; FATE]"
 * ("dedup: warning: ..." when warning), FATE saying what becomes of the
 * file (NULL: nothing more is said). */
void dd_input_report_not_text(const dd_input *d, const dd_not_text *bad, bool warning,
                              const char *fate);

/* What dd_input_load found. */
typedef enum dd_load_status {
    DD_LOAD_TEXT,     /* valid text, cut into doc's units */
    DD_LOAD_BINARY,   /* a binary file, skipped with a warning: doc is empty */
    DD_LOAD_NOT_TEXT, /* invalid UTF-8, or a NUL byte past DD_BINARY_PROBE, or a
                         malformed record: *bad says where; nothing is reported
                         (the --on-error policy of the command decides), doc is
                         empty */
    DD_LOAD_FAILED,   /* not read, or not analysed: reported on stderr */
} dd_load_status;

/* Reads document d (dd_input_read: at most max bytes) into text, decides
 * whether it is text, and cuts it into units with a. The one place where
 * every command (scan, clean, check, index) reads and decodes a document.
 * text holds the bytes read unless the status is DD_LOAD_FAILED. A record's
 * text is its --field, a JSON string: valid UTF-8, where a NUL (\u0000) is
 * a character like any other control (as filter takes it), never binary. */
dd_load_status dd_input_load(const dd_input *d, size_t max, dd_analyzer *a, sh_buf *text,
                             dd_doc *doc, dd_not_text *bad);

#endif
