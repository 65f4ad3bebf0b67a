/* metrics.h - the server's statistics in the Prometheus text exposition
 * format (version 0.0.4), for the admin endpoint's GET /metrics. */
#ifndef MOLT_METRICS_H
#define MOLT_METRICS_H

#include <stddef.h>

#include "util/buf.h"
#include "server/server.h"

/* Append every metric to out (grown up to limit). Counters are the raw
 * totals since start-up: `stats reset` does not touch them, as Prometheus
 * counters must only go up. Reads each worker's counters and latency
 * histogram (relaxed loads) and the engine's stats. Returns 0, or -1 when
 * the buffer limit refused. */
int metrics_render(molt_server *s, molt_buf *out, size_t limit);

#endif
