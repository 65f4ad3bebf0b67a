/* buf.h - the growable byte buffer of protocol.h (molt_buf), and what only
 * its owner does with it: create, consume and trim (release is in
 * protocol.h, for hosts written in Rust too). */
#ifndef MOLT_BUF_H
#define MOLT_BUF_H

#include <stddef.h>

#include "protocol.h"

int molt_buf_init(molt_buf *b, size_t initial);
size_t molt_buf_len(const molt_buf *b);
void molt_buf_consume(molt_buf *b, size_t n);
/* Shrink back to `initial` when empty and grown past `keep`. */
void molt_buf_trim(molt_buf *b, size_t initial, size_t keep);

#endif
