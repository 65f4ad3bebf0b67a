/* metrics.c - see metrics.h. */
#include "admin/metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "admin/latency.h"
#include "admin/server_stats.h"
#include "server/worker.h"

typedef struct out {
    molt_buf *buf;
    size_t limit;
    int rc;
} out;

__attribute__((format(printf, 2, 3))) static void emit(out *o, const char *fmt, ...) {
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(line)) {
        o->rc = -1;
        return;
    }
    if (molt_buf_append(o->buf, line, (size_t)n, o->limit) != 0) o->rc = -1;
}

static void head(out *o, const char *name, const char *type, const char *help) {
    emit(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void value(out *o, const char *name, const char *labels, uint64_t v) {
    emit(o, "%s%s %llu\n", name, labels, (unsigned long long)v);
}

static void one(out *o, const char *name, const char *type, const char *help,
                const char *labels, uint64_t v) {
    head(o, name, type, help);
    value(o, name, labels, v);
}

/* A duration in ns as seconds, exactly (ns are integers). */
static void seconds(char *s, size_t n, uint64_t ns) {
    snprintf(s, n, "%llu.%09llu", (unsigned long long)(ns / 1000000000ULL),
             (unsigned long long)(ns % 1000000000ULL));
    /* trim trailing zeros, keep one digit after the point */
    size_t len = 0;
    while (s[len]) len++;
    while (len > 2 && s[len - 1] == '0' && s[len - 2] != '.') s[--len] = '\0';
}

static void latency_histogram(out *o, const molt_latency_totals *t) {
    const char *name = "molt_request_duration_seconds";
    head(o, name, "histogram",
         "Time from a worker waking up with a connection's input to handing the "
         "replies to the socket, one observation per read batch (a batch is one "
         "request unless the client pipelines).");
    uint64_t cum = 0;
    char le[48];
    for (int i = 0; i < LATENCY_BUCKETS - 1; i++) {
        cum += t->bucket[i];
        /* Export the octave edges (powers of two in ns) only. */
        if (i != 0 && (i - 1) % LATENCY_SUB != LATENCY_SUB - 1) continue;
        seconds(le, sizeof(le), latency_bucket_upper_ns(i));
        emit(o, "%s_bucket{le=\"%s\"} %llu\n", name, le, (unsigned long long)cum);
    }
    emit(o, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)t->count);
    char sum[48];
    seconds(sum, sizeof(sum), t->sum_ns);
    emit(o, "%s_sum %s\n", name, sum);
    emit(o, "%s_count %llu\n", name, (unsigned long long)t->count);
}

/* The commands counted as hits and misses, and their counters. */
static const struct {
    const char *command;
    molt_counter hits, misses;
} hit_miss[] = {
    {"get", MOLT_COUNTER_GET_HITS, MOLT_COUNTER_GET_MISSES},
    {"delete", MOLT_COUNTER_DELETE_HITS, MOLT_COUNTER_DELETE_MISSES},
    {"incr", MOLT_COUNTER_INCR_HITS, MOLT_COUNTER_INCR_MISSES},
    {"decr", MOLT_COUNTER_DECR_HITS, MOLT_COUNTER_DECR_MISSES},
    {"cas", MOLT_COUNTER_CAS_HITS, MOLT_COUNTER_CAS_MISSES},
    {"touch", MOLT_COUNTER_TOUCH_HITS, MOLT_COUNTER_TOUCH_MISSES},
};

/* A counter family with one value per command: the hits, or the misses. */
static void by_command(out *o, const molt_counter_totals *t, const char *name,
                       const char *help, int misses) {
    head(o, name, "counter", help);
    for (size_t i = 0; i < sizeof(hit_miss) / sizeof(hit_miss[0]); i++) {
        char labels[48];
        snprintf(labels, sizeof(labels), "{command=\"%s\"}", hit_miss[i].command);
        value(o, name, labels, t->counter[misses ? hit_miss[i].misses : hit_miss[i].hits]);
    }
}

typedef struct engine_figures {
    out *o;
    const char *labels;
} engine_figures;

/* One engine figure as a metric: molt_<name>, counters with _total. */
static void figure_metric(void *ctx, const molt_engine_figure *fig) {
    engine_figures *f = ctx;
    char name[128];
    int n = snprintf(name, sizeof(name), "molt_%s%s", fig->name, fig->counter ? "_total" : "");
    if (n < 0 || (size_t)n >= sizeof(name)) {
        f->o->rc = -1;
        return;
    }
    one(f->o, name, fig->counter ? "counter" : "gauge", fig->help, f->labels, fig->value);
}

/* One summed protocol counter (molt_counter without its prefix). */
#define COUNT(name) t.counter[MOLT_COUNTER_##name]

int metrics_render(molt_server *s, molt_buf *buf, size_t limit) {
    out o = {buf, limit, 0};
    int64_t now = (int64_t)time(NULL);
    molt_counter_totals t;
    molt_storage_stats e;
    server_stats_read_raw(s, now, &t, &e);
    molt_latency_totals lat = {0};
    for (int i = 0; i < s->nworkers; i++) latency_sum(&s->workers[i].latency, &lat);
    const char *engine = molt_storage_name(s->storage);
    char el[64];
    snprintf(el, sizeof(el), "{engine=\"%s\"}", engine);

    head(&o, "molt_info", "gauge", "Version, storage engine and transport of this server.");
    emit(&o, "molt_info{version=\"%s\",engine=\"%s\",transport=\"%s\"} 1\n", MOLT_VERSION,
         engine, molt_transport_name(s->transport));
    one(&o, "molt_uptime_seconds", "gauge", "Seconds since start-up.", "",
        (uint64_t)(now - s->started));
    one(&o, "molt_threads", "gauge", "Worker threads.", "", (uint64_t)s->nworkers);

    head(&o, "molt_commands_total", "counter",
         "Commands by type, counted like memcached's stats: get counts keys "
         "(get/gets/gat/gats), set counts every storage command (set, add, "
         "replace, append, prepend, cas).");
    value(&o, "molt_commands_total", "{command=\"get\"}", COUNT(CMD_GET));
    value(&o, "molt_commands_total", "{command=\"set\"}", COUNT(CMD_SET));
    value(&o, "molt_commands_total", "{command=\"delete\"}",
          COUNT(DELETE_HITS) + COUNT(DELETE_MISSES));
    value(&o, "molt_commands_total", "{command=\"incr\"}", COUNT(INCR_HITS) + COUNT(INCR_MISSES));
    value(&o, "molt_commands_total", "{command=\"decr\"}", COUNT(DECR_HITS) + COUNT(DECR_MISSES));
    value(&o, "molt_commands_total", "{command=\"cas\"}",
          COUNT(CAS_HITS) + COUNT(CAS_MISSES) + COUNT(CAS_BADVAL));
    value(&o, "molt_commands_total", "{command=\"touch\"}", COUNT(CMD_TOUCH));
    value(&o, "molt_commands_total", "{command=\"flush\"}", COUNT(CMD_FLUSH));

    by_command(&o, &t, "molt_hits_total", "Commands that found their key, by command.", 0);
    by_command(&o, &t, "molt_misses_total",
               "Commands that did not find their key, by command.", 1);
    one(&o, "molt_cas_badval_total", "counter", "cas commands refused: the item had changed.",
        "", COUNT(CAS_BADVAL));
    head(&o, "molt_store_rejected_total", "counter", "Storage commands refused, by reason.");
    value(&o, "molt_store_rejected_total", "{reason=\"too_large\"}", COUNT(STORE_TOO_LARGE));
    value(&o, "molt_store_rejected_total", "{reason=\"no_memory\"}", COUNT(STORE_NO_MEMORY));
    one(&o, "molt_read_bytes_total", "counter", "Bytes read from clients.", "",
        COUNT(BYTES_READ));
    one(&o, "molt_written_bytes_total", "counter", "Bytes written to clients.", "",
        COUNT(BYTES_WRITTEN));

    one(&o, "molt_connections", "gauge", "Open client connections.", "",
        atomic_load_explicit(&s->curr_conns, memory_order_relaxed));
    one(&o, "molt_connections_total", "counter", "Client connections accepted.", "",
        t.total_connections);
    one(&o, "molt_connections_rejected_total", "counter",
        "Client connections refused over the connection limit.", "", t.rejected_connections);
    one(&o, "molt_connections_max", "gauge", "The connection limit.", "",
        (uint64_t)s->opts.max_conns);

    one(&o, "molt_items", "gauge", "Items held by the storage engine.", el, e.curr_items);
    one(&o, "molt_items_stored_total", "counter", "Successful stores.", el, e.total_items);
    one(&o, "molt_item_bytes", "gauge", "Bytes held by items (headers, keys, values).", el,
        e.bytes);
    one(&o, "molt_evictions_total", "counter", "Live items removed to make room.", el,
        e.evictions);
    one(&o, "molt_expired_total", "counter",
        "Expired or flushed items reclaimed (memcached's reclaimed).", el, e.expired);
    one(&o, "molt_memory_limit_bytes", "gauge", "Item memory limit.", el, e.memory_limit);
    one(&o, "molt_memory_used_bytes", "gauge", "Item memory allocated from the system.", el,
        e.memory_used);
    one(&o, "molt_hash_buckets", "gauge", "Size of the engine's hash table.", el,
        e.hash_buckets);
    engine_figures ef = {&o, el};
    if (molt_storage_figures(s->storage, now, figure_metric, &ef) != MOLT_OK) o.rc = -1;

    latency_histogram(&o, &lat);
    return o.rc;
}
