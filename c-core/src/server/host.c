/* host.c - the molt_protocol_host table of a server (see host.h). */
#include "server/host.h"

#include <string.h>

#include "admin/server_stats.h"
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
        .engine = molt_storage_name(s->storage),
        .transport = molt_transport_name(s->transport),
    };
    molt_transport_stats_read(s->transport, &facts.transport_stats);
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

void server_host_init(molt_server *s) {
    s->protocol_host = (molt_protocol_host){
        .self = s,
        .stats = host_stats,
        .stats_group = host_stats_group,
        .stats_reset = host_stats_reset,
        .set_verbosity = host_set_verbosity,
        .refresh_certs = host_refresh_certs,
    };
}
