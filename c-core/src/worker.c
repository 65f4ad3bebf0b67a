/* worker.c - a worker thread's event loop (see worker.h). */
#include "worker.h"

#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"

#define EVENTS_PER_WAIT 256

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
    w->now = (int64_t)time(NULL);
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
    int fds[64];
    for (;;) {
        size_t take = 0;
        pthread_mutex_lock(&w->queue_lock);
        take = w->queue_len < 64 ? w->queue_len : 64;
        memcpy(fds, w->queue + (w->queue_len - take), take * sizeof(int));
        w->queue_len -= take;
        pthread_mutex_unlock(&w->queue_lock);
        if (take == 0) break;
        for (size_t i = 0; i < take; i++) {
            if (conn_open(w, fds[i]) == NULL)
                atomic_fetch_sub_explicit(&w->server->curr_conns, 1, memory_order_relaxed);
        }
    }
}

static int64_t wall_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    return (int64_t)ts.tv_sec;
}

static void *worker_main(void *arg) {
    molt_worker *w = arg;
    struct epoll_event events[EVENTS_PER_WAIT];
    while (!atomic_load_explicit(&w->stop, memory_order_acquire)) {
        int n = epoll_wait(w->epfd, events, EVENTS_PER_WAIT, w->ready ? 0 : -1);
        w->now = wall_seconds();
        for (int i = 0; i < n; i++) {
            if (events[i].data.ptr == NULL) adopt_queued(w);
            else conn_on_events(events[i].data.ptr, events[i].events);
        }
        molt_conn *list = w->ready;
        w->ready = NULL;
        while (list) {
            molt_conn *c = list;
            list = c->ready_next;
            c->deferred = 0;
            conn_on_events(c, 0);
        }
    }
    return NULL;
}

int worker_start(molt_worker *w) {
    return pthread_create(&w->thread, NULL, worker_main, w) == 0 ? 0 : -1;
}

void worker_stop(molt_worker *w) {
    atomic_store_explicit(&w->stop, 1, memory_order_release);
    notify(w);
    pthread_join(w->thread, NULL);
}
