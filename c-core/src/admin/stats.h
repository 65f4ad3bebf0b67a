/* stats.h - per-worker protocol counters and the `stats` report.
 *
 * Each worker owns one molt_counters and is its only writer; `stats` sums
 * all workers on read. Relaxed atomics make the cross-thread read defined
 * without a locked instruction on the hot path. */
#ifndef MOLT_STATS_H
#define MOLT_STATS_H

#include <stdatomic.h>
#include <stdint.h>

#include "server/buf.h"
#include "storage.h"
#include "transport.h"

#define MOLT_COUNTERS(X) \
    X(cmd_get)           \
    X(cmd_set)           \
    X(cmd_flush)         \
    X(cmd_touch)         \
    X(cmd_meta)          \
    X(get_hits)          \
    X(get_misses)        \
    X(delete_misses)     \
    X(delete_hits)       \
    X(incr_misses)       \
    X(incr_hits)         \
    X(decr_misses)       \
    X(decr_hits)         \
    X(cas_misses)        \
    X(cas_hits)          \
    X(cas_badval)        \
    X(touch_hits)        \
    X(touch_misses)      \
    X(store_too_large)   \
    X(store_no_memory)   \
    X(bytes_read)        \
    X(bytes_written)

typedef struct molt_counters {
#define X(name) _Atomic uint64_t name;
    MOLT_COUNTERS(X)
#undef X
} molt_counters;

/* Single-writer increment: a relaxed load and store, no lock prefix. */
static inline void counter_add(_Atomic uint64_t *c, uint64_t n) {
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

/* Plain sums of counters, for reporting. */
typedef struct molt_counter_totals {
#define X(name) uint64_t name;
    MOLT_COUNTERS(X)
#undef X
    uint64_t total_connections;
    uint64_t rejected_connections;
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
    const char *engine;
    const char *transport;          /* "tcp" or "tls" */
    molt_transport_stats transport_stats;
} molt_server_facts;

/* Append the `stats` reply (STAT lines and END) to out. Returns 0, or -1 if
 * the buffer limit refused. */
int stats_report(molt_buf *out, size_t limit, const molt_server_facts *facts,
                 const molt_counter_totals *totals,
                 const molt_storage_stats *engine);

struct molt_options;
/* `stats settings`: memcached's STAT lines for the effective settings plus
 * molt's own (storage_engine, admin_port, tls), then END. */
int stats_settings_report(molt_buf *out, size_t limit, const struct molt_options *o,
                          const char *engine);
/* `stats items`: the storage seam has no per-class statistics, so only
 * END (what memcached answers with no items). */
int stats_items_report(molt_buf *out, size_t limit, const molt_storage_stats *engine);
/* `stats slabs`: no per-class lines for the same reason; only the total
 * (total_malloced, the engine's memory_used) and END. */
int stats_slabs_report(molt_buf *out, size_t limit, const molt_storage_stats *engine);

#endif
