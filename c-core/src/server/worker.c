/* worker.c - a worker thread's event loop (see worker.h). */
#include "server/worker.h"

#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "server/conn.h"

#define EVENTS_PER_WAIT 256

static void set_clock(molt_worker *w, int64_t now) {
    w->now = now;
    w->protocol_ctx.now = now;
}

int worker_setup(molt_worker *w, molt_server *server) {
    memset(w, 0, sizeof(*w));
    w->server = server;
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (w->epfd < 0) return -1;
    w->notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->notify_fd < 0) {
        close(w->epfd);
        return -1;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->notify_fd, &ev) != 0 ||
        pthread_mutex_init(&w->queue_lock, NULL) != 0) {
        close(w->notify_fd);
        close(w->epfd);
        return -1;
    }
    if (pthread_mutex_init(&w->conns_lock, NULL) != 0) {
        pthread_mutex_destroy(&w->queue_lock);
        close(w->notify_fd);
        close(w->epfd);
        return -1;
    }
    w->protocol_ctx = (molt_protocol_ctx){
        .storage = server->storage,
        .counters = &w->counters,
        .limits = {
            .item_size_max = server->opts.item_size_max,
            .growth_factor = server->opts.growth_factor,
            .line_max = CONN_LINE_MAX,
            .out_high = CONN_WBUF_HIGH,
            .out_limit = (size_t)server->opts.item_size_max + CONN_WBUF_HIGH + CONN_WBUF_SLACK,
        },
        .host = &server->protocol_host,
    };
    set_clock(w, (int64_t)time(NULL));
    return 0;
}

void worker_teardown(molt_worker *w) {
    while (w->conns) conn_close(w->conns);
    for (size_t i = 0; i < w->queue_len; i++) {
        close(w->queue[i]);
        atomic_fetch_sub_explicit(&w->server->curr_conns, 1, memory_order_relaxed);
    }
    free(w->queue);
    pthread_mutex_destroy(&w->queue_lock);
    pthread_mutex_destroy(&w->conns_lock);
    close(w->notify_fd);
    close(w->epfd);
}

static void notify(molt_worker *w) {
    uint64_t one = 1;
    ssize_t n = write(w->notify_fd, &one, sizeof(one));
    (void)n; /* a full counter still wakes the worker */
}

int worker_give(molt_worker *w, int fd) {
    pthread_mutex_lock(&w->queue_lock);
    if (w->queue_len == w->queue_cap) {
        size_t cap = w->queue_cap ? w->queue_cap * 2 : 64;
        int *q = realloc(w->queue, cap * sizeof(*q));
        if (q == NULL) {
            pthread_mutex_unlock(&w->queue_lock);
            return -1;
        }
        w->queue = q;
        w->queue_cap = cap;
    }
    w->queue[w->queue_len++] = fd;
    pthread_mutex_unlock(&w->queue_lock);
    notify(w);
    return 0;
}

void worker_wake_watcher(molt_worker *w) {
    atomic_store_explicit(&w->watch_wake, 1, memory_order_release);
    notify(w);
}

/* The watchers among w's connections get a turn to take their lines. */
static void wake_watchers(molt_worker *w) {
    if (!atomic_exchange_explicit(&w->watch_wake, 0, memory_order_acquire)) return;
    for (molt_conn *c = w->conns; c; c = c->next)
        if (c->watching) worker_defer(w, c);
}

void worker_defer(molt_worker *w, molt_conn *c) {
    if (c->deferred) return;
    c->deferred = 1;
    c->ready_next = w->ready;
    w->ready = c;
}

static void adopt_queued(molt_worker *w) {
    uint64_t count;
    ssize_t n = read(w->notify_fd, &count, sizeof(count));
    (void)n;
    wake_watchers(w);
    int fds[64];
    for (;;) {
        size_t take = 0;
        pthread_mutex_lock(&w->queue_lock);
        take = w->queue_len < 64 ? w->queue_len : 64;
        /* An empty queue may still be NULL (nothing ever queued, e.g. the
         * wake-up of worker_stop): memcpy from NULL is undefined even for 0
         * bytes (UBSan: nonnull-attribute). */
        if (take > 0)
            memcpy(fds, w->queue + (w->queue_len - take), take * sizeof(int));
        w->queue_len -= take;
        pthread_mutex_unlock(&w->queue_lock);
        if (take == 0) break;
        for (size_t i = 0; i < take; i++) {
            molt_conn *c = conn_open(w, fds[i]);
            if (c == NULL)
                atomic_fetch_sub_explicit(&w->server->curr_conns, 1, memory_order_relaxed);
            else if (w->draining)
                conn_drain(c);
        }
    }
}

static int64_t wall_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    return (int64_t)ts.tv_sec;
}

/* One loop turn. Returns the number of events and deferred turns run. */
static int worker_turn(molt_worker *w, int timeout_ms) {
    struct epoll_event events[EVENTS_PER_WAIT];
    /* While handshakes are pending, wake at least once a second to expire
     * the stalled ones. */
    int idle_timeout = w->server->opts.idle_timeout;
    if ((w->handshaking > 0 || idle_timeout > 0) && (timeout_ms < 0 || timeout_ms > 1000))
        timeout_ms = 1000;
    int n = epoll_wait(w->epfd, events, EVENTS_PER_WAIT, w->ready ? 0 : timeout_ms);
    set_clock(w, wall_seconds());
    w->wake_ns = latency_now_ns();
    for (int i = 0; i < n; i++) {
        if (events[i].data.ptr == NULL) adopt_queued(w);
        else conn_on_events(events[i].data.ptr, events[i].events);
    }
    int done = n > 0 ? n : 0;
    molt_conn *list = w->ready;
    w->ready = NULL;
    while (list) {
        molt_conn *c = list;
        list = c->ready_next;
        c->deferred = 0;
        conn_on_events(c, 0);
        done++;
    }
    if (w->handshaking > 0 && w->now != w->handshake_sweep) {
        w->handshake_sweep = w->now;
        for (molt_conn *c = w->conns, *next; c; c = next) {
            next = c->next;
            conn_expire_handshake(c, w->now);
        }
    }
    if (idle_timeout > 0 && w->now != w->idle_sweep && !w->draining) {
        w->idle_sweep = w->now;
        uint64_t kicked = 0;
        for (molt_conn *c = w->conns, *next; c; c = next) {
            next = c->next;
            kicked += (uint64_t)conn_expire_idle(c, w->now, idle_timeout);
        }
        if (kicked > 0)
            atomic_fetch_add_explicit(&w->server->idle_kicks, kicked, memory_order_relaxed);
    }
    return done;
}

/* Graceful shutdown: every connection answers what it already sent, flushes
 * and closes (conn_drain); stop at the deadline or when nothing moved for
 * WORKER_DRAIN_QUIET_MS. worker_teardown closes whatever is left. */
static void worker_drain(molt_worker *w) {
    w->draining = 1;
    uint64_t deadline = latency_now_ns() + (uint64_t)WORKER_DRAIN_MS * 1000000ULL;
    adopt_queued(w);
    for (molt_conn *c = w->conns, *next; c; c = next) {
        next = c->next;
        conn_drain(c);
    }
    while (w->conns) {
        uint64_t now = latency_now_ns();
        if (now >= deadline) break;
        uint64_t left_ms = (deadline - now) / 1000000ULL + 1;
        int wait_ms = left_ms < WORKER_DRAIN_QUIET_MS ? (int)left_ms : WORKER_DRAIN_QUIET_MS;
        if (worker_turn(w, wait_ms) == 0 && w->ready == NULL) break;
    }
}

static void *worker_main(void *arg) {
    molt_worker *w = arg;
    while (!atomic_load_explicit(&w->stop, memory_order_acquire)) worker_turn(w, -1);
    /* `shutdown` (not graceful) closes connections without draining them,
     * as memcached's does; worker_teardown closes them. */
    if (atomic_load_explicit(&w->server->stop_mode, memory_order_acquire) != SERVER_STOP_NOW)
        worker_drain(w);
    return NULL;
}

int worker_start(molt_worker *w) {
    return pthread_create(&w->thread, NULL, worker_main, w) == 0 ? 0 : -1;
}

void worker_stop_begin(molt_worker *w) {
    atomic_store_explicit(&w->stop, 1, memory_order_release);
    notify(w);
}

void worker_join(molt_worker *w) { pthread_join(w->thread, NULL); }

void worker_stop(molt_worker *w) {
    worker_stop_begin(w);
    worker_join(w);
}
