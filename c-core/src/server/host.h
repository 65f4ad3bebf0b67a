/* host.h - the server's side of protocol.h: what a protocol implementation
 * asks of the server (stats reports, the log level, certificate reloads). */
#ifndef MOLT_HOST_H
#define MOLT_HOST_H

#include "server/server.h"

/* Fill s->protocol_host, with s as its self. */
void server_host_init(molt_server *s);

#endif
