/* stats.c - summing counters and writing the `stats` reply. */
#include "admin/stats.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "util/options.h"

void counters_sum(const molt_counters *c, molt_counter_totals *into) {
    for (int i = 0; i < MOLT_COUNTER_COUNT; i++)
        into->counter[i] += molt_counters_get(c, (molt_counter)i);
}

void counters_subtract(molt_counter_totals *into, const molt_counter_totals *base) {
    for (int i = 0; i < MOLT_COUNTER_COUNT; i++) into->counter[i] -= base->counter[i];
    into->total_connections -= base->total_connections;
    into->rejected_connections -= base->rejected_connections;
    into->idle_kicks -= base->idle_kicks;
}

static int stat_line(molt_buf *out, size_t limit, const char *name,
                     const char *fmt_value) {
    char line[256];
    int n = snprintf(line, sizeof(line), "STAT %s %s\r\n", name, fmt_value);
    if (n < 0 || (size_t)n >= sizeof(line)) return -1;
    return molt_buf_append(out, line, (size_t)n, limit);
}

static int stat_u64(molt_buf *out, size_t limit, const char *name, uint64_t v) {
    char s[32];
    snprintf(s, sizeof(s), "%llu", (unsigned long long)v);
    return stat_line(out, limit, name, s);
}

static int stat_tv(molt_buf *out, size_t limit, const char *name,
                   const struct timeval *tv) {
    char s[48];
    snprintf(s, sizeof(s), "%ld.%06ld", (long)tv->tv_sec, (long)tv->tv_usec);
    return stat_line(out, limit, name, s);
}

typedef struct figure_lines {
    molt_buf *out;
    size_t limit;
    int rc;
} figure_lines;

static void figure_line(void *ctx, const molt_engine_figure *fig) {
    figure_lines *l = ctx;
    l->rc |= stat_u64(l->out, l->limit, fig->name, fig->value);
}

int stats_report(molt_buf *out, size_t limit, const molt_server_facts *f,
                 const molt_counter_totals *t, const molt_storage_stats *e,
                 molt_storage *st) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    unsigned hash_power = 0;
    while (hash_power < 63 && (1ULL << hash_power) < e->hash_buckets) hash_power++;
    int rc = 0;
    rc |= stat_u64(out, limit, "pid", (uint64_t)getpid());
    rc |= stat_u64(out, limit, "uptime", (uint64_t)(f->now - f->started));
    rc |= stat_u64(out, limit, "time", (uint64_t)f->now);
    rc |= stat_line(out, limit, "version", MOLT_VERSION_REPLY);
    rc |= stat_u64(out, limit, "pointer_size", 8 * sizeof(void *));
    rc |= stat_tv(out, limit, "rusage_user", &ru.ru_utime);
    rc |= stat_tv(out, limit, "rusage_system", &ru.ru_stime);
    rc |= stat_u64(out, limit, "max_connections", (uint64_t)f->max_connections);
    rc |= stat_u64(out, limit, "curr_connections", f->curr_connections);
    rc |= stat_u64(out, limit, "total_connections", t->total_connections);
    rc |= stat_u64(out, limit, "rejected_connections", t->rejected_connections);
    for (int i = 0; i < MOLT_COUNTER_COUNT; i++) {
        /* memcached lists idle_kicks, when the timeout is on, before
         * bytes_read */
        if (i == MOLT_COUNTER_BYTES_READ && f->idle_timeout > 0)
            rc |= stat_u64(out, limit, "idle_kicks", t->idle_kicks);
        rc |= stat_u64(out, limit, molt_counter_name((molt_counter)i), t->counter[i]);
    }
    rc |= stat_u64(out, limit, "limit_maxbytes", e->memory_limit);
    rc |= stat_u64(out, limit, "threads", (uint64_t)f->threads);
    rc |= stat_u64(out, limit, "hash_power_level", hash_power);
    rc |= stat_u64(out, limit, "hash_bytes", e->hash_buckets * sizeof(void *));
    rc |= stat_u64(out, limit, "bytes", e->bytes);
    rc |= stat_u64(out, limit, "curr_items", e->curr_items);
    rc |= stat_u64(out, limit, "total_items", e->total_items);
    rc |= stat_u64(out, limit, "evictions", e->evictions);
    rc |= stat_u64(out, limit, "reclaimed", e->expired);
    rc |= stat_u64(out, limit, "log_watcher_skipped", f->log_watcher_skipped);
    rc |= stat_u64(out, limit, "log_watcher_sent", f->log_watcher_sent);
    rc |= stat_u64(out, limit, "log_watchers", f->log_watchers);
    rc |= stat_line(out, limit, "storage_engine", f->engine);
    rc |= stat_u64(out, limit, "storage_memory_used", e->memory_used);
    figure_lines fl = {out, limit, 0};
    if (molt_storage_figures(st, f->now, figure_line, &fl) != MOLT_OK) fl.rc = -1;
    rc |= fl.rc;
    rc |= stat_line(out, limit, "transport", f->transport);
    if (strcmp(f->transport, "tcp") != 0) {
        const molt_transport_stats *ts = &f->transport_stats;
        rc |= stat_u64(out, limit, "tls_handshakes", ts->handshakes);
        rc |= stat_u64(out, limit, "tls_handshake_errors", ts->handshake_errors);
        rc |= stat_u64(out, limit, "tls_resumed_sessions", ts->resumed);
        rc |= stat_u64(out, limit, "tls_cert_reloads", ts->reloads);
        rc |= stat_u64(out, limit, "tls_cert_reload_errors", ts->reload_errors);
    }
    rc |= molt_buf_append(out, "END\r\n", 5, limit);
    return rc ? -1 : 0;
}

static int stat_str(molt_buf *out, size_t limit, const char *name, const char *v) {
    return stat_line(out, limit, name, v[0] ? v : "NULL");
}

int stats_settings_report(molt_buf *out, size_t limit, const molt_options *o,
                          const char *engine) {
    char f[32];
    int rc = 0;
    rc |= stat_u64(out, limit, "maxbytes", o->memory_mb * 1024 * 1024);
    rc |= stat_u64(out, limit, "maxconns", (uint64_t)o->max_conns);
    rc |= stat_u64(out, limit, "tcpport", (uint64_t)o->port);
    rc |= stat_u64(out, limit, "udpport", 0);
    rc |= stat_str(out, limit, "inter", o->listen);
    rc |= stat_u64(out, limit, "verbosity", (uint64_t)o->verbose);
    rc |= stat_line(out, limit, "evictions", "on");
    rc |= stat_line(out, limit, "domain_socket", "NULL");
    rc |= stat_line(out, limit, "shutdown_command", o->enable_shutdown ? "yes" : "no");
    snprintf(f, sizeof(f), "%.2f", o->growth_factor);
    rc |= stat_line(out, limit, "growth_factor", f);
    rc |= stat_u64(out, limit, "num_threads", (uint64_t)o->threads);
    rc |= stat_line(out, limit, "cas_enabled", "yes");
    rc |= stat_u64(out, limit, "tcp_backlog", 1024);
    rc |= stat_line(out, limit, "binding_protocol", "ascii");
    rc |= stat_line(out, limit, "auth_enabled_sasl", "no");
    rc |= stat_u64(out, limit, "item_size_max", o->item_size_max);
    rc |= stat_line(out, limit, "maxconns_fast", "yes");
    rc |= stat_line(out, limit, "flush_enabled", "yes");
    rc |= stat_u64(out, limit, "idle_timeout", (uint64_t)o->idle_timeout);
    rc |= stat_line(out, limit, "storage_engine", engine);
    /* molt's own: shadow mode's engine and its memory (maxbytes is the
     * primary's, as memcached users read -m) */
    rc |= stat_str(out, limit, "shadow_storage_engine", o->shadow_storage);
    rc |= stat_u64(out, limit, "shadow_maxbytes",
                   o->shadow_storage[0] ? options_shadow_memory_mb(o) * 1024 * 1024 : 0);
    /* molt's own (memcached has only binding_protocol): which protocol.h
     * implementation answers, c or rust */
    rc |= stat_str(out, limit, "protocol", o->protocol);
    rc |= stat_u64(out, limit, "admin_port", (uint64_t)o->admin_port);
    rc |= stat_str(out, limit, "admin_listen", o->admin_port ? o->admin_listen : "");
    rc |= stat_line(out, limit, "tls", o->tls_requested ? "yes" : "no");
    rc |= molt_buf_append(out, "END\r\n", 5, limit);
    return rc ? -1 : 0;
}

/* The lines of one class row go out while the engine holds its lock. */
typedef struct class_report {
    molt_buf *out;
    size_t limit;
    int64_t now;
    int items; /* stats items, else stats slabs */
    uint64_t active;
    int rc;
} class_report;

static int stat_class(class_report *r, uint32_t id, const char *name, uint64_t v) {
    char n[64];
    snprintf(n, sizeof(n), "%s%u:%s", r->items ? "items:" : "", (unsigned)id, name);
    return stat_u64(r->out, r->limit, n, v);
}

static void class_row(void *ctx, const molt_class_row *row) {
    class_report *r = ctx;
    if (r->items) {
        if (row->items == 0) return;
        int64_t age = row->oldest_access > 0 && r->now > row->oldest_access
                          ? r->now - row->oldest_access
                          : 0;
        r->rc |= stat_class(r, row->id, "number", row->items);
        r->rc |= stat_class(r, row->id, "age", (uint64_t)age);
        return;
    }
    r->active++;
    r->rc |= stat_class(r, row->id, "chunk_size", row->chunk_size);
    r->rc |= stat_class(r, row->id, "chunks_per_page", row->chunks_per_page);
    r->rc |= stat_class(r, row->id, "total_pages", row->pages);
    r->rc |= stat_class(r, row->id, "total_chunks", row->chunks);
    r->rc |= stat_class(r, row->id, "used_chunks", row->used_chunks);
    r->rc |= stat_class(r, row->id, "free_chunks", row->free_chunks);
    r->rc |= stat_class(r, row->id, "free_chunks_end", row->free_chunks_end);
}

int stats_items_report(molt_buf *out, size_t limit, molt_storage *st, int64_t now) {
    class_report r = {.out = out, .limit = limit, .now = now, .items = 1};
    if (molt_storage_classes(st, now, class_row, &r) != MOLT_OK) r.rc = -1;
    r.rc |= molt_buf_append(out, "END\r\n", 5, limit);
    return r.rc ? -1 : 0;
}

int stats_slabs_report(molt_buf *out, size_t limit, molt_storage *st, int64_t now,
                       const molt_storage_stats *e) {
    class_report r = {.out = out, .limit = limit, .now = now};
    if (molt_storage_classes(st, now, class_row, &r) != MOLT_OK) r.rc = -1;
    r.rc |= stat_u64(out, limit, "active_slabs", r.active);
    r.rc |= stat_u64(out, limit, "total_malloced", e->memory_used);
    r.rc |= molt_buf_append(out, "END\r\n", 5, limit);
    return r.rc ? -1 : 0;
}

int stats_sizes_report(molt_buf *out, size_t limit) {
    int rc = stat_line(out, limit, "sizes_status", "disabled");
    rc |= molt_buf_append(out, "END\r\n", 5, limit);
    return rc ? -1 : 0;
}
