/* numparse.c - protocol numbers (see numparse.h). Like memcached's
 * safe_strto* helpers: digits only after an optional sign, no overflow. */
#include "util/numparse.h"

#include <limits.h>

int parse_u64(const char *s, size_t n, uint64_t *out) {
    if (n == 0 || n > 20) return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned char)s[i] - '0';
        if (d > 9) return 0;
        if (v > (UINT64_MAX - d) / 10) return 0;
        v = v * 10 + d;
    }
    *out = v;
    return 1;
}

int parse_u32(const char *s, size_t n, uint32_t *out) {
    uint64_t v;
    if (!parse_u64(s, n, &v) || v > UINT32_MAX) return 0;
    *out = (uint32_t)v;
    return 1;
}

/* Step over a leading sign; 1 when it was '-'. */
static int take_sign(const char **s, size_t *n) {
    if (*n == 0 || ((*s)[0] != '-' && (*s)[0] != '+')) return 0;
    int neg = (*s)[0] == '-';
    (*s)++;
    (*n)--;
    return neg;
}

int parse_u64_wrapping(const char *s, size_t n, uint64_t *out) {
    int neg = take_sign(&s, &n);
    uint64_t v;
    if (!parse_u64(s, n, &v)) return 0;
    if (neg) {
        v = (uint64_t)0 - v;
        if (v > (uint64_t)INT64_MAX) return 0;
    }
    *out = v;
    return 1;
}

int parse_i64(const char *s, size_t n, int64_t *out) {
    int neg = take_sign(&s, &n);
    uint64_t v;
    if (!parse_u64(s, n, &v)) return 0;
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1) return 0;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > INT64_MAX) return 0;
        *out = (int64_t)v;
    }
    return 1;
}

int parse_i32(const char *s, size_t n, int32_t *out) {
    int64_t v;
    if (!parse_i64(s, n, &v) || v < INT32_MIN || v > INT32_MAX) return 0;
    *out = (int32_t)v;
    return 1;
}

static int mc_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/* strtoul's scan in base 10: *neg for a '-', *mag the digits' value (mod
 * nothing: more than UINT64_MAX is a failure, as ERANGE). 0 on a
 * malformed token. */
static int mc_scan(const char *s, size_t n, int *neg, uint64_t *mag) {
    size_t i = 0;
    while (i < n && mc_space(s[i])) i++;
    *neg = 0;
    if (i < n && (s[i] == '-' || s[i] == '+')) *neg = s[i++] == '-';
    size_t first = i;
    uint64_t v = 0;
    for (; i < n; i++) {
        unsigned d = (unsigned char)s[i] - '0';
        if (d > 9) break;
        if (v > (UINT64_MAX - d) / 10) return 0;
        v = v * 10 + d;
    }
    if (i == first || (i < n && s[i] != '\0' && !mc_space(s[i]))) return 0;
    *mag = v;
    return 1;
}

/* The common case, 1..9 plain digits: no sign, no overflow possible. */
static int mc_short(const char *s, size_t n, uint32_t *out) {
    if (n - 1 > 8) return 0;
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned char)s[i] - '0';
        if (d > 9) return 0;
        v = v * 10 + d;
    }
    *out = v;
    return 1;
}

/* mc_short when it applies, else the full scan. */
static int mc_number(const char *s, size_t n, int *neg, uint64_t *mag) {
    uint32_t small;
    if (!mc_short(s, n, &small)) return mc_scan(s, n, neg, mag);
    *neg = 0;
    *mag = small;
    return 1;
}

int parse_mc_u64(const char *s, size_t n, uint64_t *out) {
    int neg;
    uint64_t v;
    if (!mc_number(s, n, &neg, &v)) return 0;
    if (neg) {
        v = (uint64_t)0 - v;
        if (v > (uint64_t)INT64_MAX) return 0;
    }
    *out = v;
    return 1;
}

int parse_mc_u32(const char *s, size_t n, uint32_t *out) {
    uint64_t v;
    if (!parse_mc_u64(s, n, &v)) return 0;
    *out = (uint32_t)v;
    return 1;
}

int parse_mc_i32(const char *s, size_t n, int32_t *out) {
    int neg;
    uint64_t v;
    if (!mc_number(s, n, &neg, &v) || v > (uint64_t)INT64_MAX + (uint64_t)neg) return 0;
    uint64_t bits = neg ? (uint64_t)0 - v : v;
    *out = (int32_t)(uint32_t)bits;
    return 1;
}

size_t format_u64(char *out, uint64_t v) {
    if (v < 10) { /* flags are mostly 0: skip the general loop */
        out[0] = (char)('0' + v);
        return 1;
    }
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
    return n;
}
