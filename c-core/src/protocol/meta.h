/* protocol/meta.h - memcached 1.6's meta commands (mg, ms, md, ma, mn, me),
 * reached from the text protocol's dispatcher. Replies, error strings,
 * limits and counters follow memcached 1.6.18 (see meta.c for the
 * deliberate differences). */
#ifndef MOLT_PROTO_META_H
#define MOLT_PROTO_META_H

#include <stddef.h>

#include "server/conn.h"

/* Execute one meta command line (line[0..len), without its line ending,
 * whose command word is two characters starting with 'm'). An ms leaves
 * c->pending (meta.active set) and c->want_data for its data block, or
 * c->swallow when the block must be discarded. */
void proto_meta_dispatch(molt_conn *c, const char *line, size_t len);

/* The data block of a pending ms (c->pending.meta.active) has fully
 * arrived at `data` (c->pending.data_len bytes, CRLF included). */
void proto_meta_complete_store(molt_conn *c, const char *data);

#endif
