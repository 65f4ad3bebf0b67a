/* uri.c - percent-encoding of keys (see uri.h). */
#include "util/uri.h"

static int unreserved(uint8_t c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

size_t uri_encode(char *p, const uint8_t *key, size_t n) {
    static const char hex[] = "0123456789ABCDEF";
    size_t h = 0;
    for (size_t i = 0; i < n; i++) {
        if (unreserved(key[i])) {
            p[h++] = (char)key[i];
        } else {
            p[h++] = '%';
            p[h++] = hex[key[i] >> 4];
            p[h++] = hex[key[i] & 15];
        }
    }
    return h;
}
