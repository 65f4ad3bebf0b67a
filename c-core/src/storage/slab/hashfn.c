/* hashfn.c - a fast 64-bit hash for keys (wyhash-style 64x64->128 mixing). */
#include "storage/slab/hashfn.h"

#include <string.h>

#define P0 0xa0761d6478bd642full
#define P1 0xe7037ed1a0b428dbull
#define P2 0x8ebc6af09c88c6e3ull
#define P3 0x589965cc75374cc3ull

/* Multiply a and b to 128 bits and fold the halves together. */
static inline uint64_t mix(uint64_t a, uint64_t b) {
#ifdef __SIZEOF_INT128__
    unsigned __int128 r = (unsigned __int128)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
#else
    uint64_t ha = a >> 32, hb = b >> 32, la = (uint32_t)a, lb = (uint32_t)b;
    uint64_t rh = ha * hb, rm0 = ha * lb, rm1 = hb * la, rl = la * lb;
    uint64_t t = rl + (rm0 << 32);
    uint64_t c = t < rl;
    uint64_t lo = t + (rm1 << 32);
    c += lo < t;
    uint64_t hi = rh + (rm0 >> 32) + (rm1 >> 32) + c;
    return lo ^ hi;
#endif
}

static inline uint64_t r8(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint64_t r4(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* 1..3 bytes: first, middle and last byte. */
static inline uint64_t r3(const uint8_t *p, size_t k) {
    return ((uint64_t)p[0] << 16) | ((uint64_t)p[k >> 1] << 8) | p[k - 1];
}

uint64_t slab_hashfn(const void *key, size_t len, uint64_t seed) {
    const uint8_t *p = key;
    uint64_t a, b;
    seed ^= mix(seed ^ P0, P1);
    if (len <= 16) {
        if (len >= 4) {
            size_t off = (len >> 3) << 2;
            a = (r4(p) << 32) | r4(p + off);
            b = (r4(p + len - 4) << 32) | r4(p + len - 4 - off);
        } else if (len > 0) {
            a = r3(p, len);
            b = 0;
        } else {
            a = b = 0;
        }
    } else {
        size_t i = len;
        if (i > 48) {
            uint64_t s1 = seed, s2 = seed;
            do {
                seed = mix(r8(p) ^ P1, r8(p + 8) ^ seed);
                s1 = mix(r8(p + 16) ^ P2, r8(p + 24) ^ s1);
                s2 = mix(r8(p + 32) ^ P3, r8(p + 40) ^ s2);
                p += 48;
                i -= 48;
            } while (i > 48);
            seed ^= s1 ^ s2;
        }
        while (i > 16) {
            seed = mix(r8(p) ^ P1, r8(p + 8) ^ seed);
            i -= 16;
            p += 16;
        }
        a = r8(p + i - 16);
        b = r8(p + i - 8);
    }
    a ^= P1;
    b ^= seed;
#ifdef __SIZEOF_INT128__
    {
        unsigned __int128 r = (unsigned __int128)a * b;
        a = (uint64_t)r;
        b = (uint64_t)(r >> 64);
    }
#else
    {
        uint64_t m = mix(a, b);
        a = a * b;
        b = m ^ a;
    }
#endif
    return mix(a ^ P0 ^ (uint64_t)len, b ^ P1);
}
