/* conns.h - `stats conns`: every open connection of every worker. */
#ifndef MOLT_CONNS_H
#define MOLT_CONNS_H

#include "server/server.h"

/* Appends memcached's lines for the listening socket and each connection
 * (`STAT <fd>:addr`, `:listen_addr`, `:state`, `:secs_since_last_cmd`),
 * then END. Called on a worker thread; each worker's list is read under
 * its conns_lock. Returns 0, or -1 when the buffer limit refused. */
int server_conns_report(molt_server *s, int64_t now, molt_buf *out, size_t limit);

#endif
