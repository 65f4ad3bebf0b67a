/* admin/http.h - the HTTP admin endpoint: GET /metrics (Prometheus text), GET
 * /health. One thread with its own poll loop, a handful of clients at a
 * time, each with a deadline, so neither a slow HTTP client nor a scrape
 * ever blocks the data path. HTTP/1.1, one request per connection
 * (Connection: close). */
#ifndef MOLT_ADMIN_H
#define MOLT_ADMIN_H

#include <stddef.h>

#include "server/server.h"

typedef struct molt_admin molt_admin;

/* Listen on addr:port and start the thread. The server's workers must be
 * running (metrics read them) until admin_stop returns. Returns 0, or -1
 * with a one-line message in err. */
int admin_start(molt_server *s, const char *addr, int port, molt_admin **out,
                char *err, size_t err_len);
/* Stop the thread, close every admin socket, free. NULL is a no-op. */
void admin_stop(molt_admin *a);

#endif
