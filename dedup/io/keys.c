/*
 * keys.c - see keys.h.
 *
 * Derivation: with K the 32-byte key, every derived value is BLAKE2b keyed
 * by K (crypto_generichash) of a label:
 *   "dedup/v1/xxh3-secret/0", "/1", "/2"  64 bytes each: XXH3's secret
 *   "dedup/v1/minhash-seed"               16 bytes, the first 8 (little-
 *                                         endian): the MinHash seed
 *   "dedup/v1/fingerprint"                16 bytes, in hex: the fingerprint
 * Changing a label changes every hash, so they are part of the index format.
 */
#include "io/keys.h"

#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef DD_HAVE_SODIUM
#include <sodium.h>
#endif

#define KEY_BYTES 32
/* Longer files are not key files; reading stops there. */
#define KEY_FILE_MAX 256

#ifndef DD_HAVE_SODIUM

bool dd_keys_available(void) { return false; }

static bool no_sodium(const char *path)
{
    dd_error("%s: this dedup was built without libsodium, so it cannot hash with a key "
             "(install libsodium-dev and rebuild)",
             path);
    return false;
}

bool dd_key_load(const char *path, sh_hasher *hash, char fingerprint[DD_KEY_FINGERPRINT_SIZE])
{
    (void)hash;
    (void)fingerprint;
    return no_sodium(path);
}

bool dd_key_generate(const char *path, char fingerprint[DD_KEY_FINGERPRINT_SIZE])
{
    (void)fingerprint;
    return no_sodium(path);
}

#else

bool dd_keys_available(void) { return true; }

static bool start_sodium(void)
{
    if (sodium_init() < 0) {
        dd_error("cannot start libsodium");
        return false;
    }
    return true;
}

/* out[0..len) = BLAKE2b keyed by key of label; 16 <= len <= 64. */
static void derive(const unsigned char key[KEY_BYTES], const char *label, unsigned char *out,
                   size_t len)
{
    crypto_generichash(out, len, (const unsigned char *)label, strlen(label), key, KEY_BYTES);
}

static void fingerprint_of(const unsigned char key[KEY_BYTES],
                           char fingerprint[DD_KEY_FINGERPRINT_SIZE])
{
    unsigned char fp[(DD_KEY_FINGERPRINT_SIZE - 1) / 2];
    derive(key, "dedup/v1/fingerprint", fp, sizeof fp);
    sodium_bin2hex(fingerprint, DD_KEY_FINGERPRINT_SIZE, fp, sizeof fp);
}

/* Reads path into key: 64 hex digits, then nothing but an optional line
 * end. False after a message. */
static bool read_key(const char *path, unsigned char key[KEY_BYTES])
{
    char text[KEY_FILE_MAX + 1];
    FILE *f = fopen(path, "rb");
    if (!f) {
        dd_error("%s: %s", path, strerror(errno));
        return false;
    }
    size_t n = fread(text, 1, sizeof text, f);
    bool read_error = ferror(f);
    fclose(f);
    if (read_error) {
        dd_error("%s: cannot read the key file", path);
        return false;
    }
    size_t digits = n;
    if (digits > 0 && text[digits - 1] == '\n')
        digits--;
    if (digits > 0 && text[digits - 1] == '\r')
        digits--;
    size_t bin_len = 0;
    const char *end = NULL;
    bool ok = digits == 2 * KEY_BYTES &&
              sodium_hex2bin(key, KEY_BYTES, text, digits, NULL, &bin_len, &end) == 0 &&
              bin_len == KEY_BYTES && end == text + digits;
    sodium_memzero(text, sizeof text);
    if (!ok) {
        dd_error("%s: not a dedup key (64 hexadecimal digits, as dedup keygen writes)", path);
        return false;
    }
    return true;
}

bool dd_key_load(const char *path, sh_hasher *hash, char fingerprint[DD_KEY_FINGERPRINT_SIZE])
{
    unsigned char key[KEY_BYTES];
    if (!start_sodium() || !read_key(path, key))
        return false;
    unsigned char secret[SH_HASH_SECRET_SIZE];
    for (int i = 0; i < SH_HASH_SECRET_SIZE / 64; i++) {
        char label[64];
        snprintf(label, sizeof label, "dedup/v1/xxh3-secret/%d", i);
        derive(key, label, secret + 64 * i, 64);
    }
    unsigned char seed_bytes[16];
    derive(key, "dedup/v1/minhash-seed", seed_bytes, sizeof seed_bytes);
    uint64_t seed = 0;
    for (int i = 7; i >= 0; i--)
        seed = seed << 8 | seed_bytes[i];
    *hash = sh_hasher_keyed(secret, seed);
    fingerprint_of(key, fingerprint);
    sodium_memzero(secret, sizeof secret);
    sodium_memzero(key, sizeof key);
    return true;
}

bool dd_key_generate(const char *path, char fingerprint[DD_KEY_FINGERPRINT_SIZE])
{
    if (!start_sodium())
        return false;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            dd_error("%s: already exists; not overwriting it (a key in use cannot be replaced "
                     "without rebuilding the indexes made with it)",
                     path);
        else
            dd_error("%s: %s", path, strerror(errno));
        return false;
    }
    unsigned char key[KEY_BYTES];
    char hex[2 * KEY_BYTES + 2];
    randombytes_buf(key, sizeof key);
    sodium_bin2hex(hex, sizeof hex, key, sizeof key);
    hex[2 * KEY_BYTES] = '\n';
    /* fchmod: the mode given to open was masked by the umask, which can only
     * have removed bits; this makes the mode exactly 0600 whatever it was. */
    bool ok = fchmod(fd, 0600) == 0 && write(fd, hex, 2 * KEY_BYTES + 1) == 2 * KEY_BYTES + 1 &&
              fsync(fd) == 0;
    int saved = errno;
    ok = close(fd) == 0 && ok;
    if (ok)
        fingerprint_of(key, fingerprint);
    sodium_memzero(key, sizeof key);
    sodium_memzero(hex, sizeof hex);
    if (!ok) {
        dd_error("%s: %s", path, strerror(saved ? saved : errno));
        unlink(path);
    }
    return ok;
}

#endif
