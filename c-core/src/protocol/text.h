/* protocol/text.h - memcached's text protocol over a connection's buffers. */
#ifndef MOLT_PROTO_TEXT_H
#define MOLT_PROTO_TEXT_H

#include "server/conn.h"

/* Parse and execute every complete request in c->rbuf, appending replies to
 * c->wbuf. Stops early (c->input_stalled = 1) when output backs up, and on
 * quit or a fatal error (c->close_after_write = 1). */
void proto_process(molt_conn *c);

/* memcached's exptime rules -> storage.h's absolute exptime (0 = never). */
int64_t proto_absolute_exptime(int64_t exptime, int64_t now);

#endif
