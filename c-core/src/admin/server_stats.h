/* server_stats.h - server-wide statistics: worker counters summed, engine
 * stats, and `stats reset` as a baseline subtracted on read. */
#ifndef MOLT_SERVER_STATS_H
#define MOLT_SERVER_STATS_H

#include "server/server.h"
#include "admin/stats.h"

int server_stats_setup(molt_server *s);
void server_stats_teardown(molt_server *s);
/* Totals since start-up or the last reset. */
void server_stats_read(molt_server *s, int64_t now, molt_counter_totals *totals,
                       molt_storage_stats *engine);
void server_stats_reset(molt_server *s, int64_t now);
/* Totals since start-up, ignoring `stats reset` (for /metrics, whose
 * counters must never go down). */
void server_stats_read_raw(molt_server *s, int64_t now, molt_counter_totals *totals,
                           molt_storage_stats *engine);
/* `stats <name>` for name = settings, items, slabs, sizes, conns: appends the report to
 * out. Returns 0, -1 when the buffer limit refused, or -2 for a name it
 * does not know (the caller answers ERROR, as memcached does). */
int server_stats_subreport(molt_server *s, const char *name, size_t name_len, int64_t now,
                           molt_buf *out, size_t limit);

#endif
