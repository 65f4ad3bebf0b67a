/* worker.h - a worker thread: one epoll loop owning its connections. */
#ifndef MOLT_WORKER_H
#define MOLT_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

/* Graceful shutdown: the longest a worker spends draining connections, and
 * how long it waits when none of them makes progress. */
#define WORKER_DRAIN_MS 5000
#define WORKER_DRAIN_QUIET_MS 250

#include "admin/latency.h"
#include "protocol.h"
#include "server/server.h"

struct molt_conn;

typedef struct molt_worker {
    molt_server *server;
    int epfd;
    int notify_fd; /* eventfd: new connections queued, or stop */
    pthread_t thread;
    pthread_mutex_t queue_lock;
    int *queue; /* accepted sockets waiting to be adopted */
    size_t queue_len, queue_cap;
    _Atomic int stop;
    int64_t now; /* unix seconds, refreshed every loop turn */
    molt_counters counters;
    /* What this worker's connections run the protocol with (its now
     * follows the worker's). */
    molt_protocol_ctx protocol_ctx;
    molt_latency latency;  /* request batches, see conn.c */
    uint64_t wake_ns;      /* monotonic ns when epoll_wait last returned */
    int draining;          /* shutting down: answer what was read, then close */
    struct molt_conn *conns; /* every open connection, for shutdown and
                                `stats conns`: changed under conns_lock */
    pthread_mutex_t conns_lock;
    struct molt_conn *ready; /* connections with work left over */
    int handshaking;         /* connections still in their handshake */
    int64_t handshake_sweep; /* last second the handshake deadline ran */
    int64_t idle_sweep;      /* last second the idle timeout ran */
    _Atomic int watch_wake;  /* a watcher of this worker has lines */
} molt_worker;

/* setup/teardown: teardown closes every connection the worker owns. */
int worker_setup(molt_worker *w, molt_server *server);
void worker_teardown(molt_worker *w);
int worker_start(molt_worker *w);
/* Ask the worker to exit its loop, then join it. */
void worker_stop(molt_worker *w);
/* worker_stop in two halves, so all workers drain at once: ask the worker
 * to stop accepting work, answer what its connections already sent, flush
 * and close them (at most WORKER_DRAIN_MS), then exit its loop; then join. */
void worker_stop_begin(molt_worker *w);
void worker_join(molt_worker *w);
/* Hand an accepted socket to the worker (called by the listener). Returns
 * 0, or -1 if it could not be queued (the caller closes the socket). */
int worker_give(molt_worker *w, int fd);

/* A watcher connection of w has log lines: wake w to send them (any
 * thread). */
void worker_wake_watcher(molt_worker *w);

/* Mark a connection for another turn without waiting for epoll. */
void worker_defer(molt_worker *w, struct molt_conn *c);

#endif
