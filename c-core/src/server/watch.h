/* watch.h - memcached's `watch` log streams: the watchers of a server and
 * the bounded buffer of lines each has not been sent yet. Owned by the
 * server (set up before the workers start, torn down after they stop).
 *
 * A request's event is formatted once and appended, under one lock, to the
 * buffer of every watcher that wants its kind; the watcher's worker is woken
 * (its eventfd) to move the lines into the connection's output. A buffer
 * that is full drops lines and counts them; the next line that fits is
 * preceded by memcached's `skipped=N`. While nobody watches, `events` is 0
 * and the protocol builds no event at all. */
#ifndef MOLT_WATCH_H
#define MOLT_WATCH_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol.h"

/* memcached's limit of watchers, and its watcher_logbuf_size. */
#define WATCH_MAX 20
#define WATCH_BUF_BYTES (256 * 1024)

struct molt_conn;
struct molt_worker;

typedef struct molt_watcher {
    struct molt_conn *conn; /* NULL: free slot */
    struct molt_worker *worker;
    uint32_t events;
    char *buf; /* lines not yet moved to the connection */
    size_t len;
    uint64_t skipped; /* lines dropped since the last one that fit */
    int woken;        /* its worker was told and has not taken yet */
} molt_watcher;

typedef struct molt_watch {
    pthread_mutex_t lock;
    uint32_t events; /* union of the watchers' events (atomic accesses) */
    uint64_t gid;    /* memcached's global id of a log line */
    molt_watcher w[WATCH_MAX];
    uint64_t sent, skipped; /* lines, for stats */
    int count;
} molt_watch;

int watch_setup(molt_watch *wt);
void watch_teardown(molt_watch *wt);
/* Connection c of worker wk watches `events`. 0, or -1 when WATCH_MAX
 * watchers exist or memory ran out. */
int watch_add(molt_watch *wt, struct molt_conn *c, struct molt_worker *wk, uint32_t events);
/* c stops watching (it is closing). */
void watch_remove(molt_watch *wt, struct molt_conn *c);
/* One event from connection fd cfd (see protocol.h). */
void watch_log(molt_watch *wt, uint32_t event, const molt_watch_item *item, int cfd);
/* storage.h's molt_evict_sink (ctx: the molt_watch): an eviction line,
 * when someone watches evictions. Runs under the engine's lock. */
void watch_evicted(void *ctx, const molt_evicted_item *item);
/* Move the lines c's buffer holds into out, leaving out at most `max`
 * bytes queued. Returns 1 when lines are left for a later call. */
int watch_take(molt_watch *wt, struct molt_conn *c, molt_buf *out, size_t max);
/* The stats figures. */
void watch_stats(molt_watch *wt, uint64_t *watchers, uint64_t *sent, uint64_t *skipped);

#endif
