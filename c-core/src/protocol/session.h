/* protocol/session.h - the C protocol's per-connection state, and what the
 * command files (classic.c, meta.c, store.c) share while one request runs.
 * session.c frames the input (lines, data blocks) and calls them. */
#ifndef MOLT_PROTO_SESSION_H
#define MOLT_PROTO_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "protocol.h"
#include "protocol/compose.h"
#include "protocol/request.h"

/* What a meta set (ms) needs besides the classic fields: the meta storage
 * options and how to build its reply, copied out of the line, which is
 * consumed before the data block arrives. */
typedef struct pending_meta {
    int active;     /* the pending store is an ms, not set/add/... */
    int quiet;      /* q: suppress HD */
    int has_compare_cas, invalidate, has_new_cas, vivify;
    uint64_t compare_cas, new_cas;
    int64_t vivify_exptime;
    meta_echo echo; /* points at ret, opaque and the pending key */
    char ret[META_RET_MAX];
    char opaque[META_OPAQUE_MAX];
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

/* One connection's state between calls. Offsets count from the start of
 * the unconsumed input, which the host keeps in place (protocol.h). */
typedef struct proto_session {
    size_t scanned;    /* bytes of the current line already searched for '\n' */
    size_t get_resume; /* offset in the current line of the next key of a
                          multi-get paused for output; 0: none */
    size_t swallow;    /* bytes of a refused data block still to discard */
    int want_data;     /* pending holds a command awaiting its data block */
    pending_store pending;
    int dumping;       /* a metadump paused for output; dump says where */
    int watching;      /* after `watch`: input is ignored (memcached) */
    molt_walk_cursor dump;
} proto_session;

/* One request being run. */
typedef struct proto_exec {
    proto_out out;
    const molt_protocol_ctx *ctx;
    proto_session *s;
    size_t kept; /* output (from out.buf->start) memcached would have sent
                    already: what a hang-up keeps (see session.c) */
    uint32_t watching; /* the watch kinds wanted, read once per call */
} proto_exec;

/* classic.c: run a parsed classic request (not PROTO_CMD_META). Returns 0
 * when it paused for output and must run again on the same line later. */
int classic_run(proto_exec *x, const proto_request *req, const char *line, size_t len);

/* crawler.c: run lru_crawler metadump; 0 when it paused for output (the
 * session's cursor says where it continues), 1 when done. */
int metadump_run(proto_exec *x, const proto_request *req);

/* Drop the replies queued since memcached's last flush (a get that
 * answered END, mn, the start of this read), then close: its hang-ups on
 * an HTTP request line or an over-long line lose them with the connection. */
void proto_hang_up(proto_exec *x);

/* memcached hangs up on a line over MC_READ_BUFFER (request.h) unless
 * this says it is a get or gets (after at most 100 spaces). */
int proto_long_line_allowed(const char *line, size_t len);

/* watch.c: run `watch` (the connection becomes a log stream), and the
 * events of the other commands: x->watching (read once per process call)
 * says which kinds someone wants; report only those. */
void proto_run_watch(proto_exec *x, const proto_request *req);
void proto_watch_fetch(const proto_exec *x, const uint8_t *key, size_t key_len, int found,
                       uint32_t flags, size_t value_len);
/* A get's key: found or not (a hit is read again for its flags and
 * size, so the get's own path pays nothing for watch). */
void proto_watch_get(const proto_exec *x, const uint8_t *key, size_t key_len, int found);
/* cas: a compare-and-swap store (cas, or ms C on set/replace). */
void proto_watch_store(const proto_exec *x, molt_status st, molt_store_mode mode, int cas,
                       const uint8_t *key, size_t key_len, uint32_t flags, int64_t exptime,
                       size_t value_len);
/* memcached's slab class of an item of molt_item_size() bytes at growth
 * factor `factor` (me's cls=, watch's clsid=). */
unsigned proto_mc_class(size_t item_size, double factor);

/* meta.c: an item's info and value length, recency untouched (me, and
 * watch's second read); the value is not copied. */
molt_status proto_peek(const molt_protocol_ctx *ctx, const uint8_t *key, size_t key_len,
                       molt_item_info *info, size_t *value_len);

/* meta.c: parse and run one meta command line. */
void meta_run(proto_exec *x, const char *line, size_t len);

/* store.c: storage commands, classic and ms. The command fills s->pending
 * and sets s->want_data; session.c calls store_complete with the block.
 *
 * 1 when an item of this key, flags and value length may be stored; else 0
 * after refusing it as memcached does: counted, answered, the key's old
 * value dropped when drop_old, the data block set to be discarded. */
int store_fits(proto_exec *x, const uint8_t *key, size_t key_len, uint32_t flags,
               size_t value_len, int drop_old);
/* The data block of s->pending has fully arrived at `data`. */
void store_complete(proto_exec *x, const char *data);

#endif
