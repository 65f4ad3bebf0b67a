/* conn.c - connection lifecycle and I/O (see conn.h). The event loop is
 * level-triggered: interest is narrowed while output backs up, so a client
 * that does not read its replies cannot make the server buffer without
 * bound or spin. */
#include "server/conn.h"

#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "server/watch.h"
#include "server/worker.h"
#include "util/log.h"

/* Read at most this many times per turn, so one busy client cannot starve
 * the others on its worker. */
#define READS_PER_TURN 4
/* Rounds of parse-then-write per turn before yielding to other clients. */
#define ROUNDS_PER_TURN 16
/* A watcher's output holds at most this much of its log at a time. */
#define WATCH_OUT_MAX (64 * 1024)

/* The connection being run on this worker thread (stats conns names it
 * conn_parse_cmd, as memcached names the one asking). */
static _Thread_local molt_conn *current;

molt_conn *conn_current(void) { return current; }

static void set_interest(molt_conn *c, uint32_t want) {
    if (want == c->interest) return;
    struct epoll_event ev = {.events = want, .data.ptr = c};
    epoll_ctl(c->worker->epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->interest = want;
}

molt_conn *conn_open(molt_worker *w, int fd) {
    molt_server *s = w->server;
    molt_conn *c = calloc(1, sizeof(*c));
    if (c == NULL) goto fail_fd;
    c->fd = fd;
    c->worker = w;
    /* A data block of the largest item plus its command line must fit. */
    c->rbuf_limit = (size_t)s->opts.item_size_max + CONN_LINE_MAX + 2;
    if (molt_buf_init(&c->rbuf, CONN_BUF_INITIAL) != 0) goto fail_conn;
    if (molt_buf_init(&c->wbuf, CONN_BUF_INITIAL) != 0) goto fail_rbuf;
    if (molt_protocol_session_new(s->protocol, &c->session) != MOLT_OK) goto fail_wbuf;
    if (molt_transport_attach(s->transport, fd, &c->tc) != MOLT_IO_OK) goto fail_session;
    c->handshaking = 1;
    w->handshaking++;
    c->opened_at = w->now;
    atomic_init(&c->last_cmd, w->now);
    c->peer_len = sizeof(c->peer);
    if (getpeername(fd, (struct sockaddr *)&c->peer, &c->peer_len) != 0) c->peer_len = 0;
    c->interest = EPOLLIN;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        molt_transport_detach(c->tc); /* closes fd */
        molt_protocol_session_free(c->session);
        molt_buf_release(&c->wbuf);
        molt_buf_release(&c->rbuf);
        free(c);
        return NULL;
    }
    pthread_mutex_lock(&w->conns_lock);
    c->next = w->conns;
    if (w->conns) w->conns->prev = c;
    w->conns = c;
    pthread_mutex_unlock(&w->conns_lock);
    if (log_enabled(MOLT_LOG_DEBUG)) log_msg(MOLT_LOG_DEBUG, "connection fd %d opened", fd);
    return c;
fail_session:
    molt_protocol_session_free(c->session);
fail_wbuf:
    molt_buf_release(&c->wbuf);
fail_rbuf:
    molt_buf_release(&c->rbuf);
fail_conn:
    free(c);
fail_fd:
    close(fd);
    return NULL;
}

void conn_close(molt_conn *c) {
    molt_worker *w = c->worker;
    if (c->handshaking) w->handshaking--;
    if (c->deferred) {
        molt_conn **pp = &w->ready;
        while (*pp && *pp != c) pp = &(*pp)->ready_next;
        if (*pp) *pp = c->ready_next;
    }
    if (c->watching) watch_remove(&w->server->watch, c);
    pthread_mutex_lock(&w->conns_lock);
    if (c->prev) c->prev->next = c->next;
    else w->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    pthread_mutex_unlock(&w->conns_lock);
    if (current == c) current = NULL;
    epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    molt_transport_detach(c->tc); /* closes the socket */
    molt_protocol_session_free(c->session);
    molt_buf_release(&c->rbuf);
    molt_buf_release(&c->wbuf);
    atomic_fetch_sub_explicit(&w->server->curr_conns, 1, memory_order_relaxed);
    if (log_enabled(MOLT_LOG_DEBUG)) log_msg(MOLT_LOG_DEBUG, "connection fd %d closed", c->fd);
    free(c);
}

/* Discard input until the peer closes: closing a socket with unread input
 * sends RST, which can destroy replies still in flight to the peer. */
static void linger_read(molt_conn *c) {
    for (int i = 0; i < 64; i++) {
        size_t n = 0;
        molt_io_status st =
            molt_transport_read(c->tc, (unsigned char *)c->rbuf.data, c->rbuf.cap, &n);
        if (st == MOLT_IO_OK && n > 0) continue;
        if (st == MOLT_IO_WANT_READ || st == MOLT_IO_WANT_WRITE) return;
        conn_close(c); /* EOF or error */
        return;
    }
}

/* Draining and everything answered: shut the write side (the peer sees EOF
 * after the last reply), then wait for the peer to close. */
static void linger(molt_conn *c) {
    c->lingering = 1;
    molt_buf_consume(&c->rbuf, molt_buf_len(&c->rbuf));
    molt_transport_shutdown_write(c->tc);
    set_interest(c, EPOLLIN);
    linger_read(c);
}

/* Pull what the transport has into rbuf. Returns -1 on a fatal error. */
static int read_input(molt_conn *c) {
    for (int i = 0; i < READS_PER_TURN; i++) {
        if (molt_buf_reserve(&c->rbuf, CONN_BUF_INITIAL, c->rbuf_limit) != 0 &&
            c->rbuf.cap == c->rbuf.end)
            return 0; /* full: the protocol decides (line too long) */
        size_t room = c->rbuf.cap - c->rbuf.end;
        size_t n = 0;
        molt_io_status st = molt_transport_read(
            c->tc, (unsigned char *)c->rbuf.data + c->rbuf.end, room, &n);
        if (st == MOLT_IO_OK) {
            c->rbuf.end += n;
            molt_counters_add(&c->worker->counters, MOLT_COUNTER_BYTES_READ, n);
            if (n < room && molt_transport_pending(c->tc) == 0) return 0;
            continue;
        }
        if (st == MOLT_IO_WANT_READ || st == MOLT_IO_WANT_WRITE) return 0;
        if (st == MOLT_IO_EOF) {
            c->peer_closed = 1;
            return 0;
        }
        return -1;
    }
    return 0;
}

/* Send what wbuf holds. Returns -1 on a fatal error, else 0; *blocked says
 * whether the socket refused more. */
static int flush_output(molt_conn *c, int *blocked) {
    *blocked = 0;
    while (molt_buf_len(&c->wbuf) > 0) {
        size_t n = 0;
        molt_io_status st = molt_transport_write(
            c->tc, (const unsigned char *)c->wbuf.data + c->wbuf.start,
            molt_buf_len(&c->wbuf), &n);
        if (st == MOLT_IO_OK) {
            molt_buf_consume(&c->wbuf, n);
            molt_counters_add(&c->worker->counters, MOLT_COUNTER_BYTES_WRITTEN, n);
            continue;
        }
        if (st == MOLT_IO_WANT_WRITE || st == MOLT_IO_WANT_READ) {
            *blocked = 1;
            return 0;
        }
        return -1;
    }
    molt_io_status st = molt_transport_flush(c->tc);
    if (st == MOLT_IO_WANT_WRITE) *blocked = 1;
    else if (st != MOLT_IO_OK) return -1;
    return 0;
}

/* Hand the unconsumed input to the protocol and act on its answer. */
static void run_protocol(molt_conn *c) {
    molt_protocol_progress progress;
    molt_protocol_status st = molt_protocol_process(
        c->session, &c->worker->protocol_ctx, c->rbuf.data + c->rbuf.start,
        molt_buf_len(&c->rbuf), &c->wbuf, &progress);
    molt_buf_consume(&c->rbuf, progress.consumed);
    c->paused = st == MOLT_PROTOCOL_PAUSED;
    c->awaiting_block = st == MOLT_PROTOCOL_MORE && progress.need > 0;
    if (st == MOLT_PROTOCOL_CLOSE) {
        c->close_after_write = 1;
    } else if (progress.need > 0 &&
               molt_buf_reserve(&c->rbuf, progress.need, c->rbuf_limit) != 0) {
        /* Make the whole data block fit so the next reads complete it; a
         * block that cannot fit can never be answered. */
        c->close_after_write = 1;
    }
}

void conn_on_events(molt_conn *c, uint32_t events) {
    if (c->lingering) {
        linger_read(c);
        return;
    }
    if (c->handshaking) {
        molt_io_status st = molt_transport_handshake(c->tc);
        if (st == MOLT_IO_WANT_READ || st == MOLT_IO_WANT_WRITE) {
            set_interest(c, st == MOLT_IO_WANT_READ ? EPOLLIN : EPOLLOUT);
            return;
        }
        if (st != MOLT_IO_OK) {
            conn_close(c);
            return;
        }
        c->handshaking = 0;
        c->worker->handshaking--;
        events |= EPOLLIN;
    }
    /* Input may also wait inside the transport (decrypted TLS data): no
     * socket event will announce it, so ask. */
    if (((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) || molt_transport_pending(c->tc) > 0) &&
        !c->paused && !c->peer_closed) {
        if (read_input(c) != 0) {
            conn_close(c);
            return;
        }
    }
    int blocked = 0;
    size_t unparsed = molt_buf_len(&c->rbuf);
    /* a watcher's log lines, at most WATCH_OUT_MAX queued at a time */
    int watch_left = c->watching && !c->close_after_write &&
                     watch_take(&c->worker->server->watch, c, &c->wbuf, WATCH_OUT_MAX);
    current = c;
    for (int round = 0; round < ROUNDS_PER_TURN; round++) {
        if (!c->close_after_write) run_protocol(c);
        if (flush_output(c, &blocked) != 0) {
            conn_close(c);
            return;
        }
        if (blocked || !c->paused) break;
    }
    /* Latency, per read batch: from the worker waking up to the replies of
     * what this turn parsed being handed to the socket. */
    if (molt_buf_len(&c->rbuf) < unparsed) {
        latency_record(&c->worker->latency, latency_now_ns() - c->worker->wake_ns);
        atomic_store_explicit(&c->last_cmd, c->worker->now, memory_order_relaxed);
    }
    /* Close once replies are out: after quit or a fatal error, or when the
     * peer has closed and nothing it sent can still be answered. */
    if (!blocked && (c->close_after_write || (c->peer_closed && !c->paused))) {
        if (c->draining) linger(c);
        else conn_close(c);
        return;
    }
    if (!blocked && molt_buf_len(&c->rbuf) == 0) {
        molt_buf_trim(&c->rbuf, CONN_BUF_INITIAL, CONN_BUF_KEEP);
        molt_buf_trim(&c->wbuf, CONN_BUF_INITIAL, CONN_BUF_KEEP);
    }
    uint32_t want = 0;
    if (blocked) want |= EPOLLOUT;
    if (!c->paused && !c->close_after_write && !c->peer_closed)
        want |= EPOLLIN;
    set_interest(c, want);
    /* Work left that no socket event will announce: parsing paused for
     * fairness, or plaintext buffered inside the transport. */
    if (!blocked && (c->paused || watch_left ||
                     (want & EPOLLIN && molt_transport_pending(c->tc) > 0)))
        worker_defer(c->worker, c);
}

void conn_expire_handshake(molt_conn *c, int64_t now) {
    if (!c->handshaking || now - c->opened_at < CONN_HANDSHAKE_TIMEOUT_S) return;
    molt_transport_note_handshake_timeout(c->worker->server->transport);
    conn_close(c);
}

int conn_expire_idle(molt_conn *c, int64_t now, int64_t timeout) {
    if (c->handshaking || c->draining || c->lingering || c->awaiting_block || c->paused ||
        c->watching ||
        c->close_after_write || molt_buf_len(&c->wbuf) > 0)
        return 0;
    if (now - atomic_load_explicit(&c->last_cmd, memory_order_relaxed) <= timeout) return 0;
    if (log_enabled(MOLT_LOG_DEBUG))
        log_msg(MOLT_LOG_DEBUG, "connection fd %d idle for over %lld s: closed", c->fd,
                (long long)timeout);
    conn_close(c);
    return 1;
}

void conn_drain(molt_conn *c) {
    c->draining = 1;
    if (c->handshaking) {
        conn_close(c);
        return;
    }
    if (!c->peer_closed && !c->paused && read_input(c) != 0) {
        conn_close(c);
        return;
    }
    c->peer_closed = 1;
    conn_on_events(c, 0);
}
