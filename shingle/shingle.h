/*
 * shingle.h - normalise text, cut it into words and word shingles, hash them.
 *
 * The library under dedup. It does no I/O, keeps no global state and never
 * exits: every function returns its errors. Objects made by a *_new function
 * are freed by the matching *_free and are used by one thread at a time;
 * threads that work in parallel each make their own.
 *
 * Memory: buffers passed in are owned by the caller. Functions that produce
 * text or arrays write into caller-owned growable structures (sh_buf,
 * sh_tokens) and may realloc their storage; the caller frees them with
 * sh_buf_free / sh_tokens_free. Nothing returned points into library-owned
 * memory unless the comment says so.
 *
 * Text is UTF-8. Functions that read text check it and return
 * SH_ERR_BAD_UTF8 for invalid input; sh_utf8_check finds the offset.
 */
#ifndef SHINGLE_H
#define SHINGLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SH_VERSION "0.1.0"

typedef enum sh_status {
    SH_OK = 0,
    SH_ERR_NOMEM,       /* an allocation failed */
    SH_ERR_INVALID_ARG, /* an argument is out of range (see the function) */
    SH_ERR_BAD_UTF8,    /* the input text is not valid UTF-8 */
    SH_ERR_ICU,         /* ICU reported an error (data missing, ...) */
    SH_ERR_TOO_LONG     /* a text is longer than the library can index (2^31 bytes) */
} sh_status;

/* A short English description of a status. Static storage; never NULL. */
const char *sh_status_str(sh_status st);

/* ------------------------------------------------------------------ buffers */

/* A growable byte string owned by the caller. Zero-initialise it before first
 * use ("sh_buf b = {0};"). Library functions that fill one replace its
 * contents, keep data NUL-terminated, and may move data. */
typedef struct sh_buf {
    char *data;
    size_t len;
    size_t cap;
} sh_buf;

/* Frees b->data and zeroes *b. Safe on a zeroed buffer. */
void sh_buf_free(sh_buf *b);
/* Makes room for extra more bytes (and a NUL) in b. SH_ERR_NOMEM on failure,
 * b unchanged. */
sh_status sh_buf_reserve(sh_buf *b, size_t extra);
/* Appends s[0..n) to b and NUL-terminates it. SH_ERR_NOMEM on failure, b
 * unchanged. */
sh_status sh_buf_append(sh_buf *b, const char *s, size_t n);

/* Returns the offset of the first byte of s[0..len) that does not start or
 * continue a valid UTF-8 sequence (overlong forms, surrogates, code points
 * above U+10FFFF and truncated sequences are invalid), or len when all of s
 * is valid. */
size_t sh_utf8_check(const char *s, size_t len);

/* --------------------------------------------------------------- normaliser */

/* One flag per step, applied in this order. */
typedef struct sh_norm_options {
    bool nfkc_casefold;  /* Unicode NFKC with case folding (NFKC_Casefold) */
    bool drop_marks;     /* drop nonspacing marks: harakat, superscript alef,
                            Latin accents (after canonical decomposition) */
    bool drop_format;    /* drop tatweel U+0640 and format controls (Cf) */
    bool fold_arabic;    /* أ إ آ ٱ -> ا, ى -> ي, ة -> ه, ی -> ي, ک -> ك */
    bool fold_digits;    /* decimal digits of any script -> ASCII by value */
    bool punct_to_space; /* punctuation, symbols, controls -> word separator */
    bool collapse_space; /* runs of separators -> one space, none at the ends */
} sh_norm_options;

/* Fills *o with the default profile: every step on. */
void sh_norm_options_default(sh_norm_options *o);

typedef struct sh_normalizer sh_normalizer;

/* Makes a normaliser for options o (NULL: the defaults). Returns NULL and sets
 * *st (when st is not NULL) on failure: SH_ERR_NOMEM or SH_ERR_ICU. */
sh_normalizer *sh_normalizer_new(const sh_norm_options *o, sh_status *st);
void sh_normalizer_free(sh_normalizer *n);

/* A string naming the profile, the library version and the ICU and Unicode
 * versions, e.g. "sh-norm/1 nfkc_cf+marks+format+arabic+digits+punct+space
 * icu/72.1 unicode/15.0". Two normalisers with the same profile string give
 * the same output for the same input. Owned by n; valid until n is freed. */
const char *sh_normalizer_profile(const sh_normalizer *n);

/* Normalises text[0..len) into out (replacing its contents). With the default
 * profile the output is lower-case words separated by single spaces, with no
 * space at either end; it is empty when the text has no words.
 * Errors: SH_ERR_BAD_UTF8 (out is then empty), SH_ERR_NOMEM, SH_ERR_ICU. */
sh_status sh_normalize(sh_normalizer *n, const char *text, size_t len, sh_buf *out);

/* ---------------------------------------------------------------- tokeniser */

/* A word: bytes [off, off+len) of sh_tokens.text. */
typedef struct sh_token {
    uint32_t off;
    uint32_t len;
} sh_token;

/* Words and the text they point into. text holds the words separated by
 * single spaces, so the words i..j are the contiguous bytes from v[i].off to
 * v[j].off + v[j].len. Zero-initialise before first use. */
typedef struct sh_tokens {
    sh_token *v;
    size_t n;
    size_t cap;
    sh_buf text;
} sh_tokens;

/* Empties t, keeping its storage. */
void sh_tokens_clear(sh_tokens *t);
/* Frees t's storage and zeroes *t. */
void sh_tokens_free(sh_tokens *t);

typedef struct sh_tokenizer sh_tokenizer;

/* Makes a tokeniser. NULL and *st set on failure (SH_ERR_NOMEM, SH_ERR_ICU). */
sh_tokenizer *sh_tokenizer_new(sh_status *st);
void sh_tokenizer_free(sh_tokenizer *t);

/* Appends the words of norm[0..len), normalised text, to out. Words are
 * found by ICU's word break rules, keeping words (letters, numbers, kana,
 * ideographs) and skipping spaces and punctuation; scripts written without
 * spaces (Thai, Lao, Khmer, Myanmar, Chinese, Japanese) are segmented with
 * ICU's dictionaries. Text in scripts that separate words with spaces takes a
 * fast path that gives the same words. Errors: SH_ERR_BAD_UTF8, SH_ERR_NOMEM,
 * SH_ERR_ICU, SH_ERR_TOO_LONG (out->text would pass 2^31 bytes). */
sh_status sh_tokenize(sh_tokenizer *t, const char *norm, size_t len, sh_tokens *out);

/* Normalises text[0..len) with n and appends its words to out: the same
 * words as sh_normalize into scratch followed by sh_tokenize of scratch,
 * which is what it does when the text needs ICU's word rules. Text whose
 * normalised form is letters and digits of scripts written with spaces
 * (known from the normaliser's tables as it writes) is split at its spaces
 * instead, without looking at each code point again. scratch holds the
 * normalised text afterwards. Errors: those of sh_normalize and sh_tokenize. */
sh_status sh_words(sh_normalizer *n, sh_tokenizer *t, const char *text, size_t len,
                   sh_buf *scratch, sh_tokens *out);

/* ------------------------------------------------------- shingles and keys */

/* A 128-bit key: XXH3-128 of a normalised text. */
typedef struct sh_key {
    uint64_t lo;
    uint64_t hi;
} sh_key;

/* How text is hashed. Plain: XXH3 with a 64-bit seed, the same hashes on
 * every machine for the same seed. Keyed: XXH3 with a secret of
 * SH_HASH_SECRET_SIZE bytes that the caller derived from a key it keeps
 * (with a cryptographic hash: the bytes must look random), so that hashes
 * cannot be computed, nor texts crafted to collide, without the key. XXH3 is
 * not a cryptographic function: its secret protects against attackers who
 * cannot see the hashes, which is the point here. seed also seeds MinHash's
 * permutations (sh_minhasher_new), so a keyed hasher carries a seed derived
 * from the key as well. The struct is plain data: copy it freely. */
#define SH_HASH_SECRET_SIZE 192

typedef struct sh_hasher {
    uint64_t seed;
    bool keyed; /* hash with secret instead of seed */
    unsigned char secret[SH_HASH_SECRET_SIZE];
} sh_hasher;

/* A plain hasher with the given seed. */
sh_hasher sh_hasher_plain(uint64_t seed);

/* A keyed hasher: secret (SH_HASH_SECRET_SIZE random-looking bytes, copied)
 * for text, seed for the MinHash permutations. */
sh_hasher sh_hasher_keyed(const unsigned char *secret, uint64_t seed);

/* The exact key of s[0..len) under h. Equal texts give equal keys. */
sh_key sh_key_of(const char *s, size_t len, const sh_hasher *h);

static inline bool sh_key_equal(sh_key a, sh_key b) { return a.lo == b.lo && a.hi == b.hi; }

/* The number of shingles sh_shingles writes for count words: 0 for none,
 * 1 when 0 < count < k, count - k + 1 otherwise. */
size_t sh_shingle_count(size_t count, unsigned k);

/* Writes the 64-bit XXH3 hashes (under h) of the word k-grams of words
 * first..first+count-1 of t into out, which must hold sh_shingle_count(count,
 * k) values; a k-gram is hashed as its words joined by single spaces. Fewer
 * than k words make one shingle of all of them. Returns the number written.
 * k must be at least 1 and the words must lie in t (else 0 is returned). */
size_t sh_shingles(const sh_tokens *t, size_t first, size_t count, unsigned k,
                   const sh_hasher *h, uint64_t *out);

/* ----------------------------------------------------------- signatures */

/* MinHash: num_perm values per set of shingle hashes, such that the
 * fraction of equal values of two signatures estimates the Jaccard index of
 * the two sets, unbiased, with standard error about sqrt(J(1-J)/num_perm).
 * Two schemes make them; signatures of different schemes, sizes or seeds
 * are not comparable.
 *
 * SH_MINHASH_CLASSIC: value i is the minimum over the set of
 * h_i(x) = (a_i * x + b_i) mod 2^32, x the top 32 bits of a hash and a_i
 * odd: num_perm random permutations of the 32-bit values whose parameters
 * come from the seed. Costs num_perm operations per hash.
 *
 * SH_MINHASH_OPH (the default): one permutation hashing with optimal
 * densification (Shrivastava 2017). One seeded bijection of the 64-bit
 * hashes; its top bits put each hash in one of num_perm bins, its low 32
 * bits are the value, and value i is the least value in bin i. A bin that
 * no hash of the set reaches copies the value of the first non-empty bin in
 * its own seeded random order of the bins, the same for every set, which
 * keeps the estimate unbiased. Its spread is that of num_perm permutations
 * or less for sets of num_perm hashes or more, and up to 1.3 times it for
 * sets of under num_perm / 2 (tests/unit/test_signature.c measures both).
 * Costs a few operations per hash, plus a search of two priority tables
 * of 4 num_perm^2 bytes each (kept in the minhasher: 128 KiB in all at 128
 * values, 8 MiB at 1024) when bins are empty: much cheaper than the classic scheme for sets larger
 * than num_perm, about the same for small ones. */
typedef struct sh_minhasher sh_minhasher;

#define SH_MINHASH_MAX_PERM 1024

typedef enum sh_minhash_scheme { SH_MINHASH_CLASSIC = 0, SH_MINHASH_OPH = 1 } sh_minhash_scheme;

#define SH_MINHASH_DEFAULT SH_MINHASH_OPH

/* Makes a MinHash family of num_perm values (1..SH_MINHASH_MAX_PERM) with
 * scheme. NULL and *st set on failure (SH_ERR_INVALID_ARG for a size or
 * scheme out of range, SH_ERR_NOMEM). */
sh_minhasher *sh_minhasher_new_scheme(unsigned num_perm, uint64_t seed, sh_minhash_scheme scheme,
                                      sh_status *st);
/* sh_minhasher_new_scheme with SH_MINHASH_DEFAULT. */
sh_minhasher *sh_minhasher_new(unsigned num_perm, uint64_t seed, sh_status *st);
void sh_minhasher_free(sh_minhasher *m);
unsigned sh_minhasher_num_perm(const sh_minhasher *m);
sh_minhash_scheme sh_minhasher_scheme(const sh_minhasher *m);

/* A short name of a scheme and its version, for recording with stored
 * signatures: "minhash/k1" (classic), "minhash/oph1". Static storage. A new
 * name is given whenever a scheme's values change. */
const char *sh_minhash_scheme_name(sh_minhash_scheme scheme);

/* Writes the signature of hashes[0..n) to sig (num_perm values). Repeated
 * hashes and their order do not change it; the same set, size, seed and
 * scheme always give the same signature. An empty set gives every value
 * UINT32_MAX. */
void sh_minhash(const sh_minhasher *m, const uint64_t *hashes, size_t n, uint32_t *sig);

/* The share of positions where a and b (k values each) agree. */
double sh_minhash_jaccard(const uint32_t *a, const uint32_t *b, unsigned k);

/* SimHash (Charikar): bit j is set when more than half of hashes[0..n) have
 * bit j set. Near-identical sets give fingerprints a few bits apart. An empty
 * set gives 0. */
uint64_t sh_simhash(const uint64_t *hashes, size_t n);

/* Number of differing bits. */
static inline unsigned sh_hamming(uint64_t a, uint64_t b)
{
    return (unsigned)__builtin_popcountll(a ^ b);
}

/* Removes repeated values from hashes[0..n), keeping the first of each in
 * order. Returns the number left. (Without memory for its table it sorts
 * them instead: the same set, in ascending order.) */
size_t sh_hashes_unique(uint64_t *hashes, size_t n);

#endif /* SHINGLE_H */
