/* stats.h - the `stats` reports, over the per-worker protocol counters
 * (molt_counters, protocol.h) summed on read. */
#ifndef MOLT_STATS_H
#define MOLT_STATS_H

#include <stdint.h>

#include "protocol.h"
#include "util/buf.h"
#include "storage.h"
#include "transport.h"

/* Plain sums of counters, for reporting. */
typedef struct molt_counter_totals {
    uint64_t counter[MOLT_COUNTER_COUNT]; /* indexed by molt_counter */
    uint64_t total_connections;
    uint64_t rejected_connections;
    uint64_t idle_kicks;
} molt_counter_totals;

void counters_sum(const molt_counters *c, molt_counter_totals *into);
/* into -= base, field by field (counters and connection totals). */
void counters_subtract(molt_counter_totals *into, const molt_counter_totals *base);

/* Server-wide facts the report needs besides counters. */
typedef struct molt_server_facts {
    int64_t now;
    int64_t started;
    uint64_t curr_connections;
    int max_connections;
    int threads;
    int idle_timeout; /* seconds; 0: off (no idle_kicks line) */
    uint64_t log_watchers, log_watcher_sent, log_watcher_skipped; /* watch */
    const char *engine;
    const char *transport;          /* "tcp" or "tls" */
    molt_transport_stats transport_stats;
} molt_server_facts;

/* Append the `stats` reply (STAT lines and END) to out, the engine's own
 * figures (molt_storage_figures) after its common ones. Returns 0, or -1 if
 * the buffer limit refused. */
int stats_report(molt_buf *out, size_t limit, const molt_server_facts *facts,
                 const molt_counter_totals *totals,
                 const molt_storage_stats *engine, molt_storage *st);

struct molt_options;
/* `stats settings`: memcached's STAT lines for the effective settings plus
 * molt's own (storage_engine, admin_port, tls), then END. */
int stats_settings_report(molt_buf *out, size_t limit, const struct molt_options *o,
                          const char *engine);
/* `stats items`: per class holding items (the engine's molt_class_row),
 * `STAT items:<id>:number` and `:age` (seconds since the least recently
 * used item's last access), then END. */
int stats_items_report(molt_buf *out, size_t limit, molt_storage *st, int64_t now);
/* `stats slabs`: per class holding pages, memcached's chunk lines; then
 * active_slabs, total_malloced (engine memory in use) and END. */
int stats_slabs_report(molt_buf *out, size_t limit, molt_storage *st, int64_t now,
                       const molt_storage_stats *engine);
/* `stats sizes`: molt keeps no item size histogram, as memcached without
 * -o track_sizes: `STAT sizes_status disabled`, END. */
int stats_sizes_report(molt_buf *out, size_t limit);

#endif
