/* server.h - state shared by the listener and the workers. */
#ifndef MOLT_SERVER_H
#define MOLT_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "protocol.h"
#include "storage.h"
#include "transport.h"
#include "server/watch.h"
#include "util/options.h"

struct molt_worker;

#define SERVER_STOP_NOW 1
#define SERVER_STOP_GRACEFUL 2

typedef struct molt_server {
    molt_options opts;
    molt_storage *storage;
    molt_transport *transport;
    molt_protocol *protocol;
    molt_protocol_host protocol_host; /* see server/host.c */
    molt_watch watch;                 /* `watch` streams (server/watch.c) */
    int64_t started; /* unix seconds at start-up */
    int listen_fd;   /* set before the workers start */
    int tls_port;    /* the transport is not plain TCP */
    /* The shutdown command: host.c sets stop_mode and wakes the listener
     * through stop_fd (an eventfd); -1 when there is none. */
    int stop_fd;
    _Atomic int stop_mode; /* 0 running, SERVER_STOP_NOW or _GRACEFUL */
    struct molt_worker *workers;
    int nworkers;
    /* Touched once per connection, never per request. */
    _Atomic uint64_t curr_conns;
    _Atomic uint64_t total_conns;
    _Atomic uint64_t rejected_conns;
    _Atomic uint64_t idle_kicks; /* connections closed by -o idle_timeout */
    /* `stats reset` records the totals it saw; reports subtract them, so no
     * worker's counters are ever written by another thread. */
    pthread_mutex_t stats_lock;
    struct molt_stats_baseline *stats_baseline;
} molt_server;

#endif
