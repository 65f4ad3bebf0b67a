/* protocol.h - the protocol seam: what the event loop calls with a
 * connection's input.
 *
 * A protocol implementation turns the bytes a client sent into replies: it
 * consumes complete requests from the input, executes them through storage.h
 * and appends the replies to an output buffer. It touches neither the socket
 * nor the server; all it may use arrives in a molt_protocol_ctx. As with
 * storage engines, implementations are chosen by name at run time
 * (molt_protocol_open: "c" in every binary, "rust" in the mixed one) and
 * must answer byte for byte
 * alike.
 *
 * The event loop's side of the contract, per connection:
 *  - Input: pass every unconsumed input byte, in arrival order. `consumed`
 *    says how many leading bytes are finished with: drop exactly those before
 *    the next call and append newly read bytes after the rest. A session may
 *    remember positions inside the unconsumed bytes (how far a partial line
 *    was searched, where a paused multi-get continues), so the host must not
 *    change them.
 *  - Output: replies are appended after out->end; the host writes
 *    [out->start, out->end) to the socket and advances out->start. An
 *    implementation only appends (molt_buf_reserve may compact the buffer,
 *    keeping its bytes); it may take back bytes it appended in the same
 *    call, never bytes that were queued before it.
 *  - The status says what to do next (see molt_protocol_status).
 *
 * The output buffer is a plain struct owned by the host, which allocates,
 * grows and frees its memory. An implementation appends by calling
 * molt_buf_reserve() (an exported C function, so a Rust implementation can
 * call it too), writing at data + end and advancing end; or in one step with
 * molt_buf_append(). When the limit refuses, the reply cannot be written and
 * the implementation ends with MOLT_PROTOCOL_CLOSE.
 *
 * Threads: a session is used by one thread at a time (its connection's
 * worker); ctx->counters are written only by that thread.
 *
 * Read by bindgen: no static inline code and no function-like macros here.
 */
#ifndef MOLT_PROTOCOL_H
#define MOLT_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#include "storage.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the output buffer -------------------------------------------------- */

/* Bytes [start, end) of data[0, cap) are queued; new bytes go after end. */
typedef struct molt_buf {
    char *data;
    size_t start; /* first byte not yet handed to the socket */
    size_t end;   /* one past the last byte */
    size_t cap;   /* bytes allocated at data */
} molt_buf;

/* Make room for at least `want` more bytes at data + end, compacting and
 * growing, so that the queued bytes stay within `limit`. Returns 0, or -1
 * when the limit or the allocator refuses (the buffer is then unchanged
 * apart from compaction). data may move: do not keep pointers into it. */
int molt_buf_reserve(molt_buf *b, size_t want, size_t limit);
/* Reserve and copy n bytes from p. Returns 0 or -1 as molt_buf_reserve. */
int molt_buf_append(molt_buf *b, const void *p, size_t n, size_t limit);
/* Free the memory molt_buf_reserve allocated and empty the buffer: the
 * host's last call on a buffer it owns (the C allocator allocated it, so C
 * frees it, also for a host written in Rust). */
void molt_buf_release(molt_buf *b);

/* ---- per-worker counters ------------------------------------------------ */

/* The protocol's counters, in the order `stats` reports them. */
typedef enum molt_counter {
    MOLT_COUNTER_CMD_GET = 0,
    MOLT_COUNTER_CMD_SET = 1,
    MOLT_COUNTER_CMD_FLUSH = 2,
    MOLT_COUNTER_CMD_TOUCH = 3,
    MOLT_COUNTER_CMD_META = 4,
    MOLT_COUNTER_GET_HITS = 5,
    MOLT_COUNTER_GET_MISSES = 6,
    MOLT_COUNTER_DELETE_MISSES = 7,
    MOLT_COUNTER_DELETE_HITS = 8,
    MOLT_COUNTER_INCR_MISSES = 9,
    MOLT_COUNTER_INCR_HITS = 10,
    MOLT_COUNTER_DECR_MISSES = 11,
    MOLT_COUNTER_DECR_HITS = 12,
    MOLT_COUNTER_CAS_MISSES = 13,
    MOLT_COUNTER_CAS_HITS = 14,
    MOLT_COUNTER_CAS_BADVAL = 15,
    MOLT_COUNTER_TOUCH_HITS = 16,
    MOLT_COUNTER_TOUCH_MISSES = 17,
    MOLT_COUNTER_STORE_TOO_LARGE = 18,
    MOLT_COUNTER_STORE_NO_MEMORY = 19,
    MOLT_COUNTER_BYTES_READ = 20,
    MOLT_COUNTER_BYTES_WRITTEN = 21,
    MOLT_COUNTER_COUNT = 22
} molt_counter;

/* One worker's counters. A single writer (the worker's thread) adds with
 * relaxed atomic loads and stores; other threads read them for reports with
 * relaxed atomic loads. Access them only through these functions (or, in
 * Rust, as atomics), never as plain memory. */
typedef struct molt_counters {
    uint64_t value[MOLT_COUNTER_COUNT];
} molt_counters;

/* Add n to one counter (the single writer only). */
void molt_counters_add(molt_counters *c, molt_counter which, uint64_t n);
/* Read one counter; any thread. */
uint64_t molt_counters_get(const molt_counters *c, molt_counter which);
/* The counter's `stats` name ("cmd_get", ...); NULL when out of range. */
const char *molt_counter_name(molt_counter which);

/* ---- what processing may use ------------------------------------------- */

typedef struct molt_protocol_limits {
    size_t item_size_max;  /* largest molt_item_size() a store may announce */
    double growth_factor;  /* slab chunk growth factor (me's cls=) */
    size_t line_max;       /* a line longer than this closes the connection */
    size_t out_high;       /* no new request starts while this much output
                              is queued: the call pauses */
    size_t out_limit;      /* the most the output buffer may hold */
} molt_protocol_limits;

/* What `refresh_certs` found. */
typedef enum molt_certs_result {
    MOLT_CERTS_RELOADED = 0,
    MOLT_CERTS_NO_TLS = 1, /* the server does not speak TLS */
    MOLT_CERTS_FAILED = 2  /* refused, old certificates kept; err says why */
} molt_certs_result;

/* `watch`: memcached's log streams. The event kinds a watcher asks for
 * (bits); MOLT_WATCH_OTHER stands for the kinds memcached has and molt
 * accepts without producing lines (rawcmds, sysevents, connevents, proxy*). */
typedef enum molt_watch_event {
    MOLT_WATCH_FETCHERS = 1,  /* type=item_get */
    MOLT_WATCH_MUTATIONS = 2, /* type=item_store */
    MOLT_WATCH_EVICTIONS = 4, /* type=eviction */
    MOLT_WATCH_OTHER = 8
} molt_watch_event;

/* One event, as the protocol reports it (the host adds ts, gid, cfd). */
typedef struct molt_watch_item {
    const uint8_t *key;
    size_t key_len;
    /* fetchers: 0 not_found, 1 found; mutations: memcached's store status,
     * 0 not_stored, 1 stored, 2 exists, 3 not_found */
    uint32_t status;
    /* mutations: memcached's command, 1 add, 2 set, 3 replace, 4 append,
     * 5 prepend, 6 cas */
    uint32_t cmd;
    int64_t exptime;  /* mutations: absolute unix seconds, 0 = never */
    uint32_t clsid;   /* memcached's slab class of the item (0 on a miss) */
    uint64_t size;    /* value bytes (0 on a miss) */
} molt_watch_item;

/* What belongs to the server rather than to a connection. Report functions
 * append to out (within limit) and return 0, or -1 when the limit refused. */
typedef struct molt_protocol_host {
    void *self;
    /* `stats`: every STAT line, then END. */
    int (*stats)(void *self, int64_t now, molt_buf *out, size_t limit);
    /* `stats <group>` (group[0..group_len), not NUL-terminated): the
     * group's report; -2 for a group the server does not know (nothing
     * appended). */
    int (*stats_group)(void *self, const char *group, size_t group_len,
                       int64_t now, molt_buf *out, size_t limit);
    /* `stats reset`. */
    void (*stats_reset)(void *self, int64_t now);
    /* `verbosity <level>`: the log level, as given. */
    void (*set_verbosity)(void *self, uint32_t level);
    /* `refresh_certs`: reload the TLS certificates for new connections; on
     * MOLT_CERTS_FAILED a NUL-terminated message is left in err. */
    molt_certs_result (*refresh_certs)(void *self, char *err, size_t err_len);
    /* `shutdown`: whether the server allows it (memcached's -A); 0 or 1. */
    int (*shutdown_enabled)(void *self);
    /* `shutdown [graceful]` when enabled: the server stops accepting and
     * exits with status 0; graceful (1) lets its connections answer what
     * they already sent first, 0 closes them at once. Returns at once; the
     * asking connection closes itself without a reply. */
    void (*shutdown)(void *self, int graceful);
    /* The molt_watch_event bits some watcher wants; 0 while nobody watches.
     * The server changes it at any time: read it with a relaxed atomic load
     * (the one cost of watch on the request path), and build an event only
     * when its bit is set. */
    const uint32_t *watching;
    /* `watch <events>`: the calling connection becomes a watcher of
     * `events` (its further input is ignored; log lines follow its reply).
     * 0, or -1 when the server has no room for another watcher. */
    int (*watch)(void *self, uint32_t events);
    /* Report one event of kind `event` (a single bit). */
    void (*watch_log)(void *self, uint32_t event, const molt_watch_item *item);
} molt_protocol_host;

/* Everything one call may use. The host owns it; every pointer is required
 * and must outlive the call. Implementations keep no state of their own
 * beyond their sessions. */
typedef struct molt_protocol_ctx {
    molt_storage *storage;
    int64_t now; /* unix seconds */
    molt_counters *counters;
    molt_protocol_limits limits;
    const molt_protocol_host *host;
} molt_protocol_ctx;

/* ---- processing --------------------------------------------------------- */

typedef enum molt_protocol_status {
    /* Every complete request is done; call again once more input arrived.
     * progress.need > 0: a data block still lacks that many bytes beyond
     * the unconsumed input (make the read buffer hold them). */
    MOLT_PROTOCOL_MORE = 0,
    /* Stopped with requests left in the input because output is backed up
     * (out_high), e.g. a large multi-get waiting for the socket: write the
     * output, then call again with the same unconsumed input. */
    MOLT_PROTOCOL_PAUSED = 1,
    /* Write the output, then close the connection (quit, a fatal error, an
     * over-long line, a bad argument to process). Do not call again. */
    MOLT_PROTOCOL_CLOSE = 2
} molt_protocol_status;

/* Filled by every process call, whatever its status. */
typedef struct molt_protocol_progress {
    size_t consumed; /* leading input bytes finished with */
    size_t need;     /* see MOLT_PROTOCOL_MORE; 0 for the other statuses */
} molt_protocol_progress;

/* What an implementation registers. `session` is its per-connection state. */
typedef struct molt_protocol_ops {
    const char *name;
    /* A fresh session; NULL when out of memory. */
    void *(*session_new)(void);
    /* Release a session; NULL is a no-op. */
    void (*session_free)(void *session);
    /* Consume complete requests from in[0..in_len) and append their
     * replies to out (see the contract at the top). */
    molt_protocol_status (*process)(void *session, const molt_protocol_ctx *ctx,
                                    const char *in, size_t in_len, molt_buf *out,
                                    molt_protocol_progress *progress);
} molt_protocol_ops;

/* An opened implementation, and one connection's session of it. */
typedef struct molt_protocol molt_protocol;
typedef struct molt_protocol_session molt_protocol_session;

/* Names of the implementations in this binary, NULL-terminated. */
const char *const *molt_protocol_names(void);
/* 1 when `name` is an implementation written in Rust that this binary
 * lacks (molt-c: "rust"), so the caller can say it needs the mixed build. */
int molt_protocol_needs_rust(const char *name);
/* Open implementation `name` ("c"; "rust" in the mixed binary). MOLT_INVALID for an unknown name or a
 * NULL argument, MOLT_NO_MEMORY when allocation fails. */
molt_status molt_protocol_open(const char *name, molt_protocol **out);
/* Release; NULL is a no-op. Sessions must be freed first. */
void molt_protocol_free(molt_protocol *p);
const char *molt_protocol_name(const molt_protocol *p);

/* A new connection's session: MOLT_OK, MOLT_INVALID, or MOLT_NO_MEMORY. */
molt_status molt_protocol_session_new(molt_protocol *p, molt_protocol_session **out);
/* Release; NULL is a no-op. */
void molt_protocol_session_free(molt_protocol_session *s);
/* See molt_protocol_ops.process. A NULL session, ctx, out or progress, or
 * NULL input with in_len > 0, answers MOLT_PROTOCOL_CLOSE. */
molt_protocol_status molt_protocol_process(molt_protocol_session *s,
                                           const molt_protocol_ctx *ctx,
                                           const char *in, size_t in_len,
                                           molt_buf *out,
                                           molt_protocol_progress *progress);

#ifdef __cplusplus
}
#endif
#endif
