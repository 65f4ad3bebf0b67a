/* conn.h - one client connection: buffers, I/O through transport.h, and the
 * request state the protocol layer keeps between reads. */
#ifndef MOLT_CONN_H
#define MOLT_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "server/buf.h"
#include "storage.h"
#include "transport.h"

struct molt_worker;

#define CONN_BUF_INITIAL (16 * 1024)
/* Buffers above this size are released back to CONN_BUF_INITIAL when idle. */
#define CONN_BUF_KEEP (256 * 1024)
/* Longest command line accepted (a multi-get of thousands of keys fits). */
#define CONN_LINE_MAX (1024 * 1024)
/* A handshake (TLS) not finished within this many seconds is dropped, so a
 * client that stalls mid-handshake cannot hold a connection slot. */
#define CONN_HANDSHAKE_TIMEOUT_S 10
/* Stop parsing new requests while this much output waits to be sent. */
#define CONN_WBUF_HIGH (1024 * 1024)

/* Longest meta opaque token (O flag, the O included), as memcached. */
#define MOLT_META_OPAQUE_MAX 32
/* Most return flags a meta set can echo (O, k, c; each at most once). */
#define MOLT_META_RET_MAX 4

/* What a meta set (ms) needs besides the classic fields: the meta storage
 * options and how to build its reply (see protocol/meta.c). */
typedef struct pending_meta {
    int active;       /* the pending store is an ms, not set/add/... */
    int quiet;        /* q: suppress HD */
    int key_binary;   /* b: k echoes the key base64-encoded */
    int has_compare_cas, invalidate, has_new_cas, vivify;
    uint64_t compare_cas, new_cas;
    int64_t vivify_exptime;
    char ret[MOLT_META_RET_MAX]; /* return flags in request order */
    uint8_t nret;
    uint8_t opaque_len;
    char opaque[MOLT_META_OPAQUE_MAX];
} pending_meta;

/* A storage command waiting for its data block. */
typedef struct pending_store {
    molt_store_mode mode;
    uint8_t key[MOLT_KEY_MAX];
    size_t key_len;
    uint32_t flags;
    int64_t exptime; /* absolute */
    uint64_t cas;
    size_t data_len; /* value bytes + 2 for CRLF */
    int noreply;
    pending_meta meta; /* meta.active: an ms */
} pending_store;

typedef struct molt_conn {
    int fd;
    molt_transport_conn *tc;
    struct molt_worker *worker;
    molt_buf rbuf;
    molt_buf wbuf;
    size_t rbuf_limit;
    size_t wbuf_limit;
    size_t scanned;       /* bytes of rbuf already searched for '\n' */
    size_t get_resume;    /* offset of the next key of a get paused mid-line */
    size_t swallow;       /* bytes of a refused data block still to discard */
    int want_data;        /* pending holds a command awaiting its data */
    int noreply;          /* the current command suppresses its replies */
    pending_store pending;
    int handshaking;
    int close_after_write; /* quit, or a fatal protocol error */
    int peer_closed;
    int input_stalled;    /* stopped parsing because output backed up */
    uint32_t interest;    /* epoll events currently registered */
    int deferred;         /* on the worker's ready list */
    int64_t opened_at;    /* unix seconds, for the handshake timeout */
    int draining;         /* server shutdown: no more reads, answer, close */
    int lingering;        /* replies sent and write side shut: discarding
                             input until the peer closes (no RST) */
    struct molt_conn *prev, *next;  /* worker's list of connections */
    struct molt_conn *ready_next;   /* worker's ready list */
} molt_conn;

/* Create a connection for an accepted, non-blocking socket. NULL on error
 * (the socket is closed). */
molt_conn *conn_open(struct molt_worker *w, int fd);
/* Handle readiness events (EPOLLIN/EPOLLOUT bits), or a deferred turn when
 * events == 0. May close and free c. */
void conn_on_events(molt_conn *c, uint32_t events);
/* Close the socket and free everything. */
void conn_close(molt_conn *c);
/* Close c if its handshake has run past the deadline (now, seconds). */
void conn_expire_handshake(molt_conn *c, int64_t now);
/* Graceful shutdown: read what the socket already holds, stop reading,
 * answer every complete request, flush, shut the write side and close once
 * the peer has seen everything. May close and free c. */
void conn_drain(molt_conn *c);

#endif
