/* base64.h - standard base64 (RFC 4648 alphabet, '=' padding) for the meta
 * protocol's binary keys (the `b` flag). */
#ifndef MOLT_BASE64_H
#define MOLT_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Bytes base64_encode writes for n input bytes. */
#define BASE64_ENCODED_LEN(n) ((((n) + 2) / 3) * 4)

/* Encode n bytes of src into out (BASE64_ENCODED_LEN(n) bytes, no NUL).
 * Returns the length written. */
size_t base64_encode(const uint8_t *src, size_t n, char *out);

/* Decode src (n characters) into out (room for out_cap bytes). Returns the
 * decoded length, or 0 when the input is not valid base64.
 *
 * Lenient the way memcached 1.6 is, so that exactly the keys memcached
 * accepts are accepted: characters outside the alphabet are skipped; the
 * remaining ones must be a non-zero multiple of four; decoding stops after
 * the first group that holds padding ('=' anywhere in it counts, at most
 * two); unused low bits of the last group are ignored. out may alias src. */
size_t base64_decode(const char *src, size_t n, uint8_t *out, size_t out_cap);

#endif
