/* buf.h - a growable byte buffer with a read cursor, capped in size. */
#ifndef MOLT_BUF_H
#define MOLT_BUF_H

#include <stddef.h>

typedef struct molt_buf {
    char *data;
    size_t start; /* first unconsumed byte */
    size_t end;   /* one past the last byte */
    size_t cap;   /* allocated size */
} molt_buf;

int buf_init(molt_buf *b, size_t initial);
void buf_release(molt_buf *b);
size_t buf_len(const molt_buf *b);
/* Make room for at least `want` more bytes at the end, compacting first and
 * growing (doubling) up to `limit` total. Returns 0, or -1 when the limit or
 * malloc refuses. */
int buf_reserve(molt_buf *b, size_t want, size_t limit);
/* Append; grows up to limit. Returns 0 or -1. */
int buf_append(molt_buf *b, const void *p, size_t n, size_t limit);
void buf_consume(molt_buf *b, size_t n);
/* Shrink back to `initial` when empty and grown past `keep`. */
void buf_trim(molt_buf *b, size_t initial, size_t keep);

#endif
