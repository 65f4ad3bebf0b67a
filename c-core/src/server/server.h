/* server.h - state shared by the listener and the workers. */
#ifndef MOLT_SERVER_H
#define MOLT_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "protocol.h"
#include "storage.h"
#include "transport.h"
#include "util/options.h"

struct molt_worker;

typedef struct molt_server {
    molt_options opts;
    molt_storage *storage;
    molt_transport *transport;
    molt_protocol *protocol;
    molt_protocol_host protocol_host; /* see server/host.c */
    int64_t started; /* unix seconds at start-up */
    int listen_fd;   /* set before the workers start */
    struct molt_worker *workers;
    int nworkers;
    /* Touched once per connection, never per request. */
    _Atomic uint64_t curr_conns;
    _Atomic uint64_t total_conns;
    _Atomic uint64_t rejected_conns;
    /* `stats reset` records the totals it saw; reports subtract them, so no
     * worker's counters are ever written by another thread. */
    pthread_mutex_t stats_lock;
    struct molt_stats_baseline *stats_baseline;
} molt_server;

#endif
