/* net.h - opening listening sockets (data port and admin port). */
#ifndef MOLT_NET_H
#define MOLT_NET_H

#include <stddef.h>

/* A non-blocking listening TCP socket on addr:port, or -1 with a message in
 * err naming the socket: `what` is "" for the data port, "admin" for the
 * admin endpoint ("cannot listen on admin address 127.0.0.1:9000: ..."). */
int net_listen(const char *addr, int port, int backlog, const char *what, char *err,
               size_t err_len);

#endif
