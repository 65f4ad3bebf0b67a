/* uri.h - keys percent-encoded as memcached prints them (lru_crawler
 * metadump, watch lines). */
#ifndef MOLT_URI_H
#define MOLT_URI_H

#include <stddef.h>
#include <stdint.h>

/* Longest encoding of a key of n bytes. */
#define URI_ENCODED_MAX(n) (3 * (n))

/* Write key[0..n) to p percent-encoded (RFC 3986 unreserved characters
 * kept); p must hold URI_ENCODED_MAX(n) bytes. Returns the bytes written. */
size_t uri_encode(char *p, const uint8_t *key, size_t n);

#endif
