/* server.h - state shared by the listener and the workers. */
#ifndef MOLT_SERVER_H
#define MOLT_SERVER_H

#include <stdatomic.h>
#include <stdint.h>

#include "options.h"
#include "storage.h"
#include "transport.h"

struct molt_worker;

typedef struct molt_server {
    molt_options opts;
    molt_storage *storage;
    molt_transport *transport;
    int64_t started; /* unix seconds at start-up */
    struct molt_worker *workers;
    int nworkers;
    /* Touched once per connection, never per request. */
    _Atomic uint64_t curr_conns;
    _Atomic uint64_t total_conns;
    _Atomic uint64_t rejected_conns;
} molt_server;

#endif
