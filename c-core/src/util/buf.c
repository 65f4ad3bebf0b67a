/* buf.c - the growable byte buffer (see util/buf.h and protocol.h). */
#include "util/buf.h"

#include <stdlib.h>
#include <string.h>

int molt_buf_init(molt_buf *b, size_t initial) {
    b->data = malloc(initial);
    b->start = b->end = 0;
    b->cap = b->data ? initial : 0;
    return b->data ? 0 : -1;
}

void molt_buf_release(molt_buf *b) {
    free(b->data);
    b->data = NULL;
    b->start = b->end = b->cap = 0;
}

size_t molt_buf_len(const molt_buf *b) { return b->end - b->start; }

int molt_buf_reserve(molt_buf *b, size_t want, size_t limit) {
    if (b->cap - b->end >= want) return 0;
    size_t used = b->end - b->start;
    if (b->start > 0) {
        memmove(b->data, b->data + b->start, used);
        b->start = 0;
        b->end = used;
        if (b->cap - b->end >= want) return 0;
    }
    size_t need = used + want;
    if (need > limit) return -1;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < need) cap *= 2;
    if (cap > limit) cap = limit;
    char *p = realloc(b->data, cap);
    if (p == NULL) return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

int molt_buf_append(molt_buf *b, const void *p, size_t n, size_t limit) {
    if (molt_buf_reserve(b, n, limit) != 0) return -1;
    memcpy(b->data + b->end, p, n);
    b->end += n;
    return 0;
}

void molt_buf_consume(molt_buf *b, size_t n) {
    b->start += n;
    if (b->start >= b->end) b->start = b->end = 0;
}

void molt_buf_trim(molt_buf *b, size_t initial, size_t keep) {
    if (b->start != b->end || b->cap <= keep) return;
    char *p = realloc(b->data, initial);
    if (p == NULL) return;
    b->data = p;
    b->cap = initial;
    b->start = b->end = 0;
}
