/* num.c - parsing the decimal u64 values incr/decr store (formatting is
 * util/numparse.c format_u64, shared with the protocol). */
#include "storage/slab/engine.h"

#include <stddef.h>

#include "util/numparse.h"

/* As memcached reads a stored value with safe_strtoull: the value is
 * followed by its CRLF there, so its end counts as white space, and
 * anything after the number's first white space (or a NUL) is ignored. */
int slab_parse_u64(const uint8_t *p, size_t n, uint64_t *out) {
    return parse_mc_u64((const char *)p, n, out);
}
