/*
 * keys.h - secret keys for keyed hashing (--key-file, dedup keygen).
 *
 * A key file holds 32 random bytes as 64 hexadecimal digits and a line end,
 * as `dedup keygen` writes it. Everything a run hashes (normalised words and
 * shingles, paragraph and document keys, MinHash permutations) is then
 * derived from the key with libsodium's generic hash (BLAKE2b), so that
 * someone who can add documents but does not know the key cannot compute
 * their hashes, and so cannot craft texts whose hashes collide with chosen
 * others. The key itself is never written anywhere; its fingerprint (a
 * BLAKE2b hash of it, from which it cannot be recovered) names it in
 * indexes and messages. Without libsodium (DD_HAVE_SODIUM undefined) every
 * function fails with a message saying the build lacks it.
 */
#ifndef DD_KEYS_H
#define DD_KEYS_H

#include "shingle.h"

#include <stdbool.h>

/* Hex digits of a fingerprint, and its terminating NUL. */
#define DD_KEY_FINGERPRINT_SIZE 33

/* Whether this build can hash with a key. */
bool dd_keys_available(void);

/* Reads the key file at path and sets *hash to the keyed hasher derived
 * from it and fingerprint to the key's fingerprint (32 hex digits).
 * False after a message naming the file when it cannot be read or is not a
 * key, or when the build lacks libsodium; *hash is then left as it was. */
bool dd_key_load(const char *path, sh_hasher *hash, char fingerprint[DD_KEY_FINGERPRINT_SIZE]);

/* Writes a new random key to path, which must not exist, with mode 0600,
 * and sets fingerprint. False after a message on failure (nothing is left
 * behind). */
bool dd_key_generate(const char *path, char fingerprint[DD_KEY_FINGERPRINT_SIZE]);

#endif
