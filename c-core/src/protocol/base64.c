/* base64.c - see base64.h. */
#include "protocol/base64.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t base64_encode(const uint8_t *src, size_t n, char *out) {
    size_t o = 0, i = 0;
    for (; n - i >= 3; i += 3) {
        uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 | src[i + 2];
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = alphabet[(v >> 6) & 63];
        out[o++] = alphabet[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)src[i] << 16;
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8;
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = alphabet[(v >> 6) & 63];
        out[o++] = '=';
    }
    return o;
}

/* The 6-bit value of c, 0 for the pad character, -1 outside the alphabet. */
static int sextet(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    if (c == '=') return 0;
    return -1;
}

size_t base64_decode(const char *src, size_t n, uint8_t *out, size_t out_cap) {
    size_t valid = 0;
    for (size_t i = 0; i < n; i++)
        if (sextet((unsigned char)src[i]) >= 0) valid++;
    if (valid == 0 || valid % 4 != 0 || valid / 4 * 3 > out_cap) return 0;
    /* Writing never overtakes reading: each group of four input characters
     * is consumed before its three output bytes are written. */
    size_t o = 0;
    int group[4], have = 0, pad = 0;
    for (size_t i = 0; i < n; i++) {
        int v = sextet((unsigned char)src[i]);
        if (v < 0) continue;
        if (src[i] == '=') pad++;
        group[have++] = v;
        if (have < 4) continue;
        have = 0;
        uint32_t w = (uint32_t)group[0] << 18 | (uint32_t)group[1] << 12 |
                     (uint32_t)group[2] << 6 | (uint32_t)group[3];
        out[o++] = (uint8_t)(w >> 16);
        out[o++] = (uint8_t)(w >> 8);
        out[o++] = (uint8_t)w;
        if (pad > 0) {
            if (pad > 2) return 0;
            o -= (size_t)pad;
            break;
        }
    }
    return o;
}
