/* numparse.h - memcached-compatible parsing of protocol numbers, and fast
 * decimal formatting. */
#ifndef MOLT_NUMPARSE_H
#define MOLT_NUMPARSE_H

#include <stddef.h>
#include <stdint.h>

/* Each returns 1 and writes *out on success, 0 on a malformed number. Input
 * is a token of length n (not NUL-terminated). */
int parse_u64(const char *s, size_t n, uint64_t *out);
int parse_u32(const char *s, size_t n, uint32_t *out);
int parse_i64(const char *s, size_t n, int64_t *out);
int parse_i32(const char *s, size_t n, int32_t *out);
/* memcached's safe_strtoull: an optional sign, a negative value wraps, but
 * a '-' whose result looks negative as a signed number is refused; so "-0"
 * is 0 and "-1" an error. */
int parse_u64_wrapping(const char *s, size_t n, uint64_t *out);

/* memcached's safe_strtoul / safe_strtol / safe_strtoull over a token, as
 * they behave on a 64-bit long: leading white space, an optional sign, at
 * least one digit, then the token's end, white space or a NUL (the rest is
 * ignored); a value out of the 64-bit range is refused; the unsigned forms
 * refuse a '-' whose result looks negative as a signed number ("-0" is 0);
 * the 32-bit forms then truncate ("4294967297" is 1 as flags). */
int parse_mc_u32(const char *s, size_t n, uint32_t *out);
int parse_mc_i32(const char *s, size_t n, int32_t *out);
int parse_mc_u64(const char *s, size_t n, uint64_t *out);

/* Write v in decimal to out (at least 20 bytes); returns the length. */
size_t format_u64(char *out, uint64_t v);

#endif
