/* num.c - parsing the decimal u64 values incr/decr store (formatting is
 * util/numparse.c format_u64, shared with the protocol). */
#include "storage/slab/engine.h"

#include <stddef.h>

static int is_space(uint8_t ch) {
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\v' || ch == '\f' ||
           ch == '\r';
}

int slab_parse_u64(const uint8_t *p, size_t n, uint64_t *out) {
    size_t i = 0;
    while (i < n && is_space(p[i])) i++;
    size_t start = i;
    uint64_t v = 0;
    for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
        uint64_t d = (uint64_t)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return 0; /* beyond u64 */
        v = v * 10 + d;
    }
    if (i == start) return 0; /* no digit */
    for (; i < n; i++)
        if (!is_space(p[i])) return 0;
    *out = v;
    return 1;
}
