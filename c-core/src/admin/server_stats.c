/* server_stats.c - see server_stats.h. */
#include "admin/server_stats.h"

#include <stdlib.h>
#include <string.h>

#include "server/conns.h"
#include "server/worker.h"

struct molt_stats_baseline {
    molt_counter_totals totals;
    uint64_t total_items;
    uint64_t evictions;
    uint64_t expired;
};

int server_stats_setup(molt_server *s) {
    s->stats_baseline = calloc(1, sizeof(*s->stats_baseline));
    if (s->stats_baseline == NULL) return -1;
    if (pthread_mutex_init(&s->stats_lock, NULL) != 0) {
        free(s->stats_baseline);
        s->stats_baseline = NULL;
        return -1;
    }
    return 0;
}

void server_stats_teardown(molt_server *s) {
    if (s->stats_baseline == NULL) return;
    pthread_mutex_destroy(&s->stats_lock);
    free(s->stats_baseline);
    s->stats_baseline = NULL;
}

void server_stats_read_raw(molt_server *s, int64_t now, molt_counter_totals *t,
                     molt_storage_stats *e) {
    memset(t, 0, sizeof(*t));
    for (int i = 0; i < s->nworkers; i++) counters_sum(&s->workers[i].counters, t);
    t->total_connections = atomic_load_explicit(&s->total_conns, memory_order_relaxed);
    t->rejected_connections = atomic_load_explicit(&s->rejected_conns, memory_order_relaxed);
    t->idle_kicks = atomic_load_explicit(&s->idle_kicks, memory_order_relaxed);
    molt_storage_stats_read(s->storage, now, e);
}

void server_stats_read(molt_server *s, int64_t now, molt_counter_totals *t,
                       molt_storage_stats *e) {
    server_stats_read_raw(s, now, t, e);
    pthread_mutex_lock(&s->stats_lock);
    const struct molt_stats_baseline *b = s->stats_baseline;
    counters_subtract(t, &b->totals);
    e->total_items -= b->total_items;
    e->evictions -= b->evictions;
    e->expired -= b->expired;
    pthread_mutex_unlock(&s->stats_lock);
}

void server_stats_reset(molt_server *s, int64_t now) {
    molt_counter_totals t;
    molt_storage_stats e;
    server_stats_read_raw(s, now, &t, &e);
    pthread_mutex_lock(&s->stats_lock);
    struct molt_stats_baseline *b = s->stats_baseline;
    b->totals = t;
    b->total_items = e.total_items;
    b->evictions = e.evictions;
    b->expired = e.expired;
    pthread_mutex_unlock(&s->stats_lock);
}

static int name_is(const char *name, size_t len, const char *lit) {
    return strlen(lit) == len && memcmp(name, lit, len) == 0;
}

int server_stats_subreport(molt_server *s, const char *name, size_t name_len, int64_t now,
                           molt_buf *out, size_t limit) {
    if (name_is(name, name_len, "settings"))
        return stats_settings_report(out, limit, &s->opts, molt_storage_name(s->storage));
    if (name_is(name, name_len, "sizes")) return stats_sizes_report(out, limit);
    if (name_is(name, name_len, "conns")) return server_conns_report(s, now, out, limit);
    if (name_is(name, name_len, "items")) return stats_items_report(out, limit, s->storage, now);
    if (!name_is(name, name_len, "slabs")) return -2;
    molt_storage_stats e;
    molt_storage_stats_read(s->storage, now, &e);
    return stats_slabs_report(out, limit, s->storage, now, &e);
}
