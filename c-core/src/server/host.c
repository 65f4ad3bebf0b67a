/* host.c - the molt_protocol_host table of a server (see host.h). */
#include "server/host.h"

#include <string.h>
#include <unistd.h>

#include "admin/server_stats.h"
#include "server/conn.h"
#include "admin/stats.h"
#include "util/log.h"

static int host_stats(void *self, int64_t now, molt_buf *out, size_t limit) {
    molt_server *s = self;
    molt_counter_totals totals;
    molt_storage_stats engine;
    server_stats_read(s, now, &totals, &engine);
    molt_server_facts facts = {
        .now = now,
        .started = s->started,
        .curr_connections = atomic_load_explicit(&s->curr_conns, memory_order_relaxed),
        .max_connections = s->opts.max_conns,
        .threads = s->nworkers,
        .idle_timeout = s->opts.idle_timeout,
        .engine = molt_storage_name(s->storage),
        .transport = molt_transport_name(s->transport),
    };
    molt_transport_stats_read(s->transport, &facts.transport_stats);
    watch_stats(&s->watch, &facts.log_watchers, &facts.log_watcher_sent,
                &facts.log_watcher_skipped);
    return stats_report(out, limit, &facts, &totals, &engine, s->storage);
}

static int host_stats_group(void *self, const char *group, size_t group_len, int64_t now,
                            molt_buf *out, size_t limit) {
    return server_stats_subreport(self, group, group_len, now, out, limit);
}

static void host_stats_reset(void *self, int64_t now) { server_stats_reset(self, now); }

static void host_set_verbosity(void *self, uint32_t level) {
    (void)self;
    log_setup((int)(level > 2 ? 2 : level)); /* as -v / -vv */
}

/* New connections get the reloaded certificates; open ones keep theirs. */
static molt_certs_result host_refresh_certs(void *self, char *err, size_t err_len) {
    molt_server *s = self;
    if (strcmp(molt_transport_name(s->transport), "tls") != 0) return MOLT_CERTS_NO_TLS;
    return molt_transport_reload(s->transport, err, err_len) == 0 ? MOLT_CERTS_RELOADED
                                                                  : MOLT_CERTS_FAILED;
}

static int host_shutdown_enabled(void *self) {
    const molt_server *s = self;
    return s->opts.enable_shutdown && s->stop_fd >= 0;
}

static void host_shutdown(void *self, int graceful) {
    molt_server *s = self;
    if (!host_shutdown_enabled(s)) return;
    int mode = graceful ? SERVER_STOP_GRACEFUL : SERVER_STOP_NOW;
    int none = 0; /* the first request decides */
    atomic_compare_exchange_strong_explicit(&s->stop_mode, &none, mode, memory_order_release,
                                            memory_order_relaxed);
    uint64_t one = 1;
    ssize_t n = write(s->stop_fd, &one, sizeof(one));
    (void)n; /* a full counter still wakes the listener */
}

/* `watch`: the connection running the command becomes a watcher. */
static int host_watch(void *self, uint32_t events) {
    molt_server *s = self;
    molt_conn *c = conn_current();
    if (c == NULL || watch_add(&s->watch, c, c->worker, events) != 0) return -1;
    c->watching = 1;
    return 0;
}

static void host_watch_log(void *self, uint32_t event, const molt_watch_item *item) {
    molt_server *s = self;
    molt_conn *c = conn_current();
    watch_log(&s->watch, event, item, c ? c->fd : -1);
}

void server_host_init(molt_server *s) {
    s->protocol_host = (molt_protocol_host){
        .self = s,
        .stats = host_stats,
        .stats_group = host_stats_group,
        .stats_reset = host_stats_reset,
        .set_verbosity = host_set_verbosity,
        .refresh_certs = host_refresh_certs,
        .shutdown_enabled = host_shutdown_enabled,
        .shutdown = host_shutdown,
        .watching = &s->watch.events,
        .watch = host_watch,
        .watch_log = host_watch_log,
    };
}
