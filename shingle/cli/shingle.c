/*
 * shingle - show what dedup compares: normalised text, words, shingle hashes.
 *
 * What xxhsum is to xxHash: a small tool over the library, for looking at why
 * two texts match or do not.
 */
#include "shingle.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum mode { MODE_NORMALIZE, MODE_TOKENS, MODE_SHINGLES, MODE_MINHASH, MODE_SIMHASH, MODE_PROFILE };

typedef struct options {
    enum mode mode;
    unsigned ngram;
    unsigned num_perm;
    uint64_t seed;
    bool with_text;
} options;

static const char usage_text[] =
    "Usage: shingle [MODE] [OPTIONS] [FILE...]\n"
    "\n"
    "Show what dedup compares. Reads each FILE (or standard input when there is\n"
    "none, or for -) as one document and prints:\n"
    "\n"
    "Modes:\n"
    "  -n, --normalize     the normalised text, one line per input line (default)\n"
    "  -t, --tokens        the words, one per line\n"
    "  -s, --shingles      the shingle hashes of the document, one per line\n"
    "                      (16 hex digits)\n"
    "  -m, --minhash       the MinHash signature of the document's distinct\n"
    "                      shingles, one value per line (8 hex digits)\n"
    "  -S, --simhash       the 64-bit SimHash of the document's distinct\n"
    "                      shingles (16 hex digits)\n"
    "  -p, --profile       the normaliser profile string, then exit\n"
    "\n"
    "Options:\n"
    "  -k, --ngram K       words per shingle (default 5; 1 to 64)\n"
    "      --num-perm N    MinHash values (default 128; 1 to 1024)\n"
    "      --seed N        hash seed (default 0)\n"
    "      --text          with --shingles, print a tab and the shingle's words\n"
    "                      after each hash\n"
    "  -h, --help          show this help and exit\n"
    "  -V, --version       show the version and the license and exit\n"
    "\n"
    "Exit status: 0 success, 2 usage or input error (such as invalid UTF-8).\n";

/* Reads all of f into *buf. Returns 0, or errno. */
static int read_all(FILE *f, sh_buf *buf)
{
    buf->len = 0;
    for (;;) {
        if (buf->cap - buf->len < 65536 + 1) {
            size_t cap = buf->cap ? buf->cap * 2 : 1 << 20;
            char *p = realloc(buf->data, cap);
            if (!p)
                return ENOMEM;
            buf->data = p;
            buf->cap = cap;
        }
        size_t n = fread(buf->data + buf->len, 1, buf->cap - buf->len - 1, f);
        buf->len += n;
        if (n == 0)
            break;
    }
    buf->data[buf->len] = '\0';
    return ferror(f) ? (errno ? errno : EIO) : 0;
}

typedef struct tools {
    sh_normalizer *norm;
    sh_tokenizer *tok;
    sh_buf out;
    sh_tokens words;
    uint64_t *hashes;
    size_t hashes_cap;
    sh_minhasher *minhasher;
} tools;

/* Prints one document in the chosen mode. Returns 0, or 2 after an error. */
static int print_document(tools *t, const options *o, const char *name, const char *text,
                          size_t len)
{
    size_t bad = sh_utf8_check(text, len);
    if (bad != len) {
        fprintf(stderr, "shingle: %s: invalid UTF-8 at byte %zu\n", name, bad);
        return 2;
    }
    sh_tokens_clear(&t->words);
    size_t line_start = 0;
    while (line_start < len) {
        const char *nl = memchr(text + line_start, '\n', len - line_start);
        size_t line_end = nl ? (size_t)(nl - text) : len;
        sh_status st = sh_words(t->norm, t->tok, text + line_start, line_end - line_start,
                                &t->out, &t->words);
        if (st != SH_OK) {
            fprintf(stderr, "shingle: %s: %s\n", name, sh_status_str(st));
            return 2;
        }
        if (o->mode == MODE_NORMALIZE) {
            fwrite(t->out.data, 1, t->out.len, stdout);
            putchar('\n');
        }
        line_start = line_end + 1;
    }
    if (o->mode == MODE_TOKENS) {
        for (size_t i = 0; i < t->words.n; i++) {
            fwrite(t->words.text.data + t->words.v[i].off, 1, t->words.v[i].len, stdout);
            putchar('\n');
        }
    } else if (o->mode != MODE_NORMALIZE) {
        size_t n = sh_shingle_count(t->words.n, o->ngram);
        if (n > t->hashes_cap) {
            uint64_t *h = realloc(t->hashes, n * sizeof *h);
            if (!h) {
                fprintf(stderr, "shingle: out of memory\n");
                return 2;
            }
            t->hashes = h;
            t->hashes_cap = n;
        }
        sh_hasher hash = sh_hasher_plain(o->seed);
        sh_shingles(&t->words, 0, t->words.n, o->ngram, &hash, t->hashes);
        if (o->mode == MODE_SIMHASH || o->mode == MODE_MINHASH) {
            n = sh_hashes_unique(t->hashes, n);
            if (o->mode == MODE_SIMHASH) {
                printf("%016" PRIx64 "\n", sh_simhash(t->hashes, n));
                return 0;
            }
            uint32_t *sig = malloc(o->num_perm * sizeof *sig);
            if (!sig) {
                fprintf(stderr, "shingle: out of memory\n");
                return 2;
            }
            sh_minhash(t->minhasher, t->hashes, n, sig);
            for (unsigned i = 0; i < o->num_perm; i++)
                printf("%08" PRIx32 "\n", sig[i]);
            free(sig);
            return 0;
        }
        size_t span = t->words.n < o->ngram ? t->words.n : o->ngram;
        for (size_t i = 0; i < n; i++) {
            printf("%016" PRIx64, t->hashes[i]);
            if (o->with_text) {
                const sh_token *a = &t->words.v[i], *b = &t->words.v[i + span - 1];
                putchar('\t');
                fwrite(t->words.text.data + a->off, 1, b->off + b->len - a->off, stdout);
            }
            putchar('\n');
        }
    }
    return 0;
}

static int parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
    char *end;
    errno = 0;
    if (!*s || *s == '-')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    options o = {MODE_NORMALIZE, 5, 128, 0, false};
    enum { OPT_SEED = 256, OPT_TEXT, OPT_NUM_PERM };
    static const struct option longopts[] = {
        {"normalize", no_argument, NULL, 'n'},
        {"tokens", no_argument, NULL, 't'},
        {"shingles", no_argument, NULL, 's'},
        {"minhash", no_argument, NULL, 'm'},
        {"simhash", no_argument, NULL, 'S'},
        {"num-perm", required_argument, NULL, OPT_NUM_PERM},
        {"profile", no_argument, NULL, 'p'},
        {"ngram", required_argument, NULL, 'k'},
        {"seed", required_argument, NULL, OPT_SEED},
        {"text", no_argument, NULL, OPT_TEXT},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int c;
    unsigned long long v;
    while ((c = getopt_long(argc, argv, "ntsmSpk:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 'n': o.mode = MODE_NORMALIZE; break;
        case 't': o.mode = MODE_TOKENS; break;
        case 's': o.mode = MODE_SHINGLES; break;
        case 'p': o.mode = MODE_PROFILE; break;
        case 'm': o.mode = MODE_MINHASH; break;
        case 'S': o.mode = MODE_SIMHASH; break;
        case OPT_NUM_PERM:
            if (parse_uint(optarg, SH_MINHASH_MAX_PERM, &v) || v < 1) {
                fprintf(stderr, "shingle: --num-perm: '%s' is not a number from 1 to 1024\n",
                        optarg);
                return 2;
            }
            o.num_perm = (unsigned)v;
            break;
        case 'k':
            if (parse_uint(optarg, 64, &v) || v < 1) {
                fprintf(stderr, "shingle: --ngram: '%s' is not a number from 1 to 64\n", optarg);
                return 2;
            }
            o.ngram = (unsigned)v;
            break;
        case OPT_SEED:
            if (parse_uint(optarg, UINT64_MAX, &v)) {
                fprintf(stderr, "shingle: --seed: '%s' is not a non-negative integer\n", optarg);
                return 2;
            }
            o.seed = v;
            break;
        case OPT_TEXT: o.with_text = true; break;
        case 'h': fputs(usage_text, stdout); return 0;
        case 'V': printf("shingle %s\nLicense: MIT\n", SH_VERSION); return 0;
        default: fputs("Try 'shingle --help'.\n", stderr); return 2;
        }
    }

    tools t = {0};
    sh_status st;
    t.norm = sh_normalizer_new(NULL, &st);
    if (t.norm)
        t.tok = sh_tokenizer_new(&st);
    if (t.tok)
        t.minhasher = sh_minhasher_new(o.num_perm, o.seed, &st);
    if (!t.norm || !t.tok || !t.minhasher) {
        fprintf(stderr, "shingle: cannot start: %s\n", sh_status_str(st));
        return 2;
    }
    int status = 0;
    if (o.mode == MODE_PROFILE) {
        printf("%s\n", sh_normalizer_profile(t.norm));
    } else {
        sh_buf in = {0};
        int nfiles = argc - optind;
        for (int i = 0; i < (nfiles ? nfiles : 1); i++) {
            const char *path = nfiles ? argv[optind + i] : "-";
            bool is_stdin = strcmp(path, "-") == 0;
            FILE *f = is_stdin ? stdin : fopen(path, "rb");
            if (!f) {
                fprintf(stderr, "shingle: %s: %s\n", path, strerror(errno));
                status = 2;
                continue;
            }
            int err = read_all(f, &in);
            if (!is_stdin)
                fclose(f);
            if (err) {
                fprintf(stderr, "shingle: %s: %s\n", path, strerror(err));
                status = 2;
                continue;
            }
            if (print_document(&t, &o, is_stdin ? "(stdin)" : path, in.data, in.len))
                status = 2;
        }
        sh_buf_free(&in);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "shingle: write error: %s\n", strerror(errno));
        status = 2;
    }
    sh_buf_free(&t.out);
    sh_tokens_free(&t.words);
    free(t.hashes);
    sh_minhasher_free(t.minhasher);
    sh_tokenizer_free(t.tok);
    sh_normalizer_free(t.norm);
    return status;
}
