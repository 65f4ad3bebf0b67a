/* protocol/classic.c - running memcached 1.6's classic text commands (parsed
 * by parse.c). Replies and error strings match memcached byte for byte. */
#include <stdio.h>
#include <string.h>

#include "protocol/counters.h"
#include "protocol/session.h"
#include "util/numparse.h"
#include "util/version.h"

/* ---- retrieval ---------------------------------------------------------- */

typedef struct value_sink_ctx {
    proto_out *out;
    const char *key;
    size_t key_len;
    int with_cas;
    int failed;
} value_sink_ctx;

/* The storage read's sink: "VALUE <key> <flags> <bytes>[ <cas>]", the value,
 * CRLF, composed straight into the output while the engine holds its lock. */
static void write_value(void *ctx, const molt_item_info *info,
                        const uint8_t *value, size_t value_len) {
    value_sink_ctx *x = ctx;
    molt_buf *w = x->out->buf;
    char head[32 + MOLT_KEY_MAX + 3 * 20];
    size_t h = 0;
    memcpy(head, "VALUE ", 6);
    h = 6;
    memcpy(head + h, x->key, x->key_len);
    h += x->key_len;
    head[h++] = ' ';
    h += format_u64(head + h, info->flags);
    head[h++] = ' ';
    h += format_u64(head + h, value_len);
    if (x->with_cas) {
        head[h++] = ' ';
        h += format_u64(head + h, info->cas);
    }
    head[h++] = '\r';
    head[h++] = '\n';
    if (molt_buf_reserve(w, h + value_len + 2, x->out->limit) != 0) {
        x->failed = 1;
        return;
    }
    char *p = w->data + w->end;
    memcpy(p, head, h);
    memcpy(p + h, value, value_len);
    p[h + value_len] = '\r';
    p[h + value_len + 1] = '\n';
    w->end += h + value_len + 2;
}

/* A key too long: take back the values written since `mark` (bytes queued
 * before the command) and answer only the error. Returns 1 (done). */
static int refuse_keys(proto_exec *x, size_t mark) {
    x->out.buf->end = x->out.buf->start + mark;
    proto_reply_line(&x->out, "CLIENT_ERROR bad command line format");
    return 1;
}

/* get/gets/gat/gats, in one pass over the keys. A key over 250 bytes
 * answers only the error (the values already produced are taken back, as
 * memcached drops its stacked replies). Returns 0 when paused because
 * output backed up (s->get_resume says where to continue; the rest of the
 * line is validated before pausing, since what was produced may then be
 * sent), 1 when done. */
static int run_get(proto_exec *x, const proto_request *req, const char *line, size_t len) {
    const molt_protocol_ctx *ctx = x->ctx;
    proto_session *s = x->s;
    molt_buf *out = x->out.buf;
    int64_t now = ctx->now;
    int64_t exptime = req->touch ? proto_absolute_exptime(req->exptime, now) : 0;
    size_t pos = s->get_resume ? s->get_resume : req->keys, klen;
    size_t mark = out->end - out->start; /* relative: compaction keeps it valid */
    value_sink_ctx v = {.out = &x->out, .with_cas = req->with_cas};
    int served = 0;
    s->get_resume = 0;
    while (proto_next_key(line, len, &pos, &klen)) {
        if (klen > MOLT_KEY_MAX) return refuse_keys(x, mark);
        if (served > 0 && out->end - out->start >= ctx->limits.out_high) {
            if (!proto_keys_valid(line, len, pos)) return refuse_keys(x, mark);
            s->get_resume = pos;
            return 0;
        }
        v.key = line + pos;
        v.key_len = klen;
        molt_status st =
            req->touch ? molt_storage_get_touch(ctx->storage, (const uint8_t *)v.key, klen,
                                                exptime, now, write_value, &v)
                       : molt_storage_get(ctx->storage, (const uint8_t *)v.key, klen, now,
                                          write_value, &v);
        if (v.failed) {
            proto_reply_line(&x->out, "SERVER_ERROR out of memory writing get response");
            x->out.close = 1;
            return 1;
        }
        count_read(ctx->counters, req->touch, st == MOLT_OK);
        if (x->watching & MOLT_WATCH_FETCHERS)
            proto_watch_get(x, (const uint8_t *)v.key, klen, st == MOLT_OK);
        pos += klen;
        served++;
    }
    PROTO_REPLY(&x->out, "END\r\n");
    x->kept = out->end - out->start; /* memcached flushes after a get */
    return 1;
}

/* ---- storage commands: the line now, the data block later -------------- */

static void run_store(proto_exec *x, const proto_request *req) {
    const uint8_t *key = (const uint8_t *)req->key.p;
    if (!store_fits(x, key, req->key.n, req->flags, req->value_len,
                    req->mode == MOLT_STORE_SET))
        return;
    pending_store *p = &x->s->pending;
    p->mode = req->mode;
    memcpy(p->key, key, req->key.n);
    p->key_len = req->key.n;
    p->flags = req->flags;
    p->exptime = proto_absolute_exptime(req->exptime, x->ctx->now);
    p->cas = req->cas;
    p->data_len = req->value_len + 2;
    p->noreply = x->out.noreply;
    p->meta.active = 0;
    x->s->want_data = 1;
}

/* ---- other commands ----------------------------------------------------- */

static void run_arith(proto_exec *x, const proto_request *req) {
    const molt_protocol_ctx *ctx = x->ctx;
    uint64_t value;
    molt_status st = molt_storage_arith(ctx->storage, (const uint8_t *)req->key.p,
                                        req->key.n, req->incr, req->delta, ctx->now,
                                        &value, NULL);
    count_arith(ctx->counters, st, req->incr);
    if (st != MOLT_OK) {
        proto_reply_status(&x->out, st, PROTO_OP_ARITH, NULL, NULL);
        return;
    }
    char num[24];
    size_t len = format_u64(num, value);
    num[len++] = '\r';
    num[len++] = '\n';
    proto_reply(&x->out, num, len);
}

/* delete and touch: any outcome but success is NOT_FOUND, as memcached
 * answers; counted as a hit or a miss. */
static void answer_found(proto_exec *x, molt_status st, molt_counter hit,
                         molt_counter miss, const char *found) {
    counter_add(x->ctx->counters, st == MOLT_OK ? hit : miss, 1);
    proto_reply_line(&x->out, st == MOLT_OK ? found : "NOT_FOUND");
}

static void run_delete(proto_exec *x, const proto_request *req) {
    const molt_protocol_ctx *ctx = x->ctx;
    molt_status st =
        molt_storage_remove(ctx->storage, (const uint8_t *)req->key.p, req->key.n, ctx->now);
    answer_found(x, st, MOLT_COUNTER_DELETE_HITS, MOLT_COUNTER_DELETE_MISSES, "DELETED");
}

static void run_touch(proto_exec *x, const proto_request *req) {
    const molt_protocol_ctx *ctx = x->ctx;
    counter_add(ctx->counters, MOLT_COUNTER_CMD_TOUCH, 1);
    molt_status st = molt_storage_touch(ctx->storage, (const uint8_t *)req->key.p,
                                        req->key.n,
                                        proto_absolute_exptime(req->exptime, ctx->now),
                                        ctx->now);
    answer_found(x, st, MOLT_COUNTER_TOUCH_HITS, MOLT_COUNTER_TOUCH_MISSES, "TOUCHED");
}

static void run_flush(proto_exec *x, const proto_request *req) {
    const molt_protocol_ctx *ctx = x->ctx;
    counter_add(ctx->counters, MOLT_COUNTER_CMD_FLUSH, 1);
    int64_t at = req->exptime > 0 ? proto_absolute_exptime(req->exptime, ctx->now) : ctx->now;
    molt_storage_flush(ctx->storage, at, ctx->now);
    PROTO_REPLY(&x->out, "OK\r\n");
}

/* stats, stats reset, stats <group>: the reports are the server's. */
static void run_stats(proto_exec *x, const proto_request *req) {
    const molt_protocol_ctx *ctx = x->ctx;
    const molt_protocol_host *host = ctx->host;
    int rc;
    if (req->group.n == 0) {
        rc = host->stats(host->self, ctx->now, x->out.buf, x->out.limit);
    } else if (proto_token_is(&req->group, "reset")) {
        host->stats_reset(host->self, ctx->now);
        PROTO_REPLY(&x->out, "RESET\r\n");
        return;
    } else {
        rc = host->stats_group(host->self, req->group.p, req->group.n, ctx->now,
                               x->out.buf, x->out.limit);
    }
    if (rc == -2) PROTO_REPLY(&x->out, "ERROR\r\n"); /* a group it does not know */
    else if (rc != 0) x->out.close = 1;
}

/* memcached's refresh_certs: reload the TLS certificates for new
 * connections (open ones keep theirs); as SIGHUP does. */
static void run_refresh_certs(proto_exec *x) {
    const molt_protocol_host *host = x->ctx->host;
    char err[256] = "";
    switch (host->refresh_certs(host->self, err, sizeof(err))) {
    case MOLT_CERTS_RELOADED:
        PROTO_REPLY(&x->out, "OK\r\n");
        break;
    case MOLT_CERTS_NO_TLS:
        proto_reply_line(&x->out, "CLIENT_ERROR TLS is not enabled");
        break;
    case MOLT_CERTS_FAILED: {
        char line[320];
        snprintf(line, sizeof(line), "SERVER_ERROR %s", err);
        proto_reply_line(&x->out, line);
        break;
    }
    }
}

/* memcached's shutdown (allowed with -A): the connection closes without a
 * reply, and the server stops. Like memcached, replies queued in the same
 * read are lost (proto_hang_up keeps what memcached would have flushed). */
static void run_shutdown(proto_exec *x, const proto_request *req) {
    const molt_protocol_host *host = x->ctx->host;
    if (!host->shutdown_enabled(host->self)) {
        proto_reply_line(&x->out, "ERROR: shutdown not enabled");
    } else if (req->shutdown_mode < 0) {
        proto_reply_line(&x->out, "CLIENT_ERROR invalid shutdown mode");
    } else {
        host->shutdown(host->self, req->shutdown_mode);
        proto_hang_up(x);
    }
}

int classic_run(proto_exec *x, const proto_request *req, const char *line, size_t len) {
    x->out.noreply = req->noreply;
    switch (req->cmd) {
    case PROTO_CMD_GET:
        return run_get(x, req, line, len);
    case PROTO_CMD_STORE:
        run_store(x, req);
        break;
    case PROTO_CMD_ARITH:
        run_arith(x, req);
        break;
    case PROTO_CMD_DELETE:
        run_delete(x, req);
        break;
    case PROTO_CMD_TOUCH:
        run_touch(x, req);
        break;
    case PROTO_CMD_FLUSH:
        run_flush(x, req);
        break;
    case PROTO_CMD_VERSION:
        PROTO_REPLY(&x->out, "VERSION " MOLT_VERSION_REPLY "\r\n");
        break;
    case PROTO_CMD_VERBOSITY:
        x->ctx->host->set_verbosity(x->ctx->host->self, req->level);
        PROTO_REPLY(&x->out, "OK\r\n");
        break;
    case PROTO_CMD_QUIT:
        x->out.close = 1;
        break;
    case PROTO_CMD_STATS:
        run_stats(x, req);
        break;
    case PROTO_CMD_REFRESH_CERTS:
        run_refresh_certs(x);
        break;
    case PROTO_CMD_SHUTDOWN:
        run_shutdown(x, req);
        break;
    case PROTO_CMD_WATCH:
        proto_run_watch(x, req);
        break;
    case PROTO_CMD_METADUMP:
        return metadump_run(x, req);
    case PROTO_CMD_META:
        meta_run(x, line, len);
        break;
    case PROTO_CMD_ERROR:
        if ((req->error == proto_msg_unknown && proto_http_request_line(line, len)) ||
            (len > MC_READ_BUFFER && !proto_long_line_allowed(line, len))) {
            proto_hang_up(x);
            break;
        }
        proto_reply_line(&x->out, req->error);
        break;
    }
    return 1;
}
