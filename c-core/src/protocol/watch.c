/* protocol/watch.c - memcached's `watch [kinds]`: the command, and the
 * events the other commands report to the host while someone watches
 * (protocol.h: molt_protocol_host.watching). */
#include "protocol/session.h"

#include "util/chunk_size.h"

/* memcached's tokenizer splits off at most 23 tokens */
#define WATCH_MAX_TOKENS 23

/* memcached's smallest slab chunk (its 48-byte item header plus 48 bytes)
 * and its most classes. */
#define MC_FIRST_CHUNK 96
#define MC_CLASSES_MAX 63

unsigned proto_mc_class(size_t item_size, double factor) {
    unsigned cls = 1;
    size_t chunk = MC_FIRST_CHUNK;
    while (item_size > chunk && cls < MC_CLASSES_MAX) {
        chunk = chunk_size_next(chunk, SIZE_MAX / 2, factor);
        if (chunk == 0) break;
        cls++;
    }
    return cls;
}

static const struct {
    const char *word;
    uint32_t event;
} watch_kinds[] = {
    {"fetchers", MOLT_WATCH_FETCHERS},   {"mutations", MOLT_WATCH_MUTATIONS},
    {"evictions", MOLT_WATCH_EVICTIONS}, {"rawcmds", MOLT_WATCH_OTHER},
    {"sysevents", MOLT_WATCH_OTHER},     {"connevents", MOLT_WATCH_OTHER},
    {"proxyreqs", MOLT_WATCH_OTHER},     {"proxyevents", MOLT_WATCH_OTHER},
    {"proxyuser", MOLT_WATCH_OTHER},
};

/* memcached's order: noreply, then the pipelining check, then the kinds;
 * so a bad kind is judged when the command runs (watch_events 0). */
const char *proto_parse_watch(proto_request *req, const char *line, size_t len) {
    proto_token t[WATCH_MAX_TOKENS];
    size_t n = proto_tokenize(line, len, t, WATCH_MAX_TOKENS);
    req->cmd = PROTO_CMD_WATCH;
    req->watch_events = 0;
    if (n > WATCH_MAX_TOKENS) return NULL;
    /* a last "noreply" silences the reply, OK included */
    if (n > 1 && proto_token_is(&t[n - 1], "noreply")) {
        req->noreply = 1;
        n--;
    }
    uint32_t events = n == 1 ? MOLT_WATCH_FETCHERS : 0;
    for (size_t i = 1; i < n; i++) {
        size_t k = 0, count = sizeof(watch_kinds) / sizeof(watch_kinds[0]);
        while (k < count && !proto_token_is(&t[i], watch_kinds[k].word)) k++;
        if (k == count) return NULL;
        events |= watch_kinds[k].event;
    }
    req->watch_events = events;
    return NULL;
}

void proto_run_watch(proto_exec *x, const proto_request *req) {
    const molt_protocol_host *host = x->ctx->host;
    /* memcached refuses when replies of this read are still queued */
    if (x->out.buf->end > x->out.buf->start) {
        proto_reply_line(&x->out, "ERROR cannot pipeline other commands before watch");
        return;
    }
    if (req->watch_events == 0) {
        proto_reply_line(&x->out, "ERROR");
        return;
    }
    if (host->watch(host->self, req->watch_events) != 0) {
        proto_reply_line(&x->out, "WATCHER_TOO_MANY log watchers");
        return;
    }
    PROTO_REPLY(&x->out, "OK\r\n");
    x->s->watching = 1;
    x->out.close = 1; /* ends the request loop; session.c keeps it open */
}

void proto_watch_fetch(const proto_exec *x, const uint8_t *key, size_t key_len, int found,
                       uint32_t flags, size_t value_len) {
    const molt_protocol_ctx *ctx = x->ctx;
    molt_watch_item it = {.key = key, .key_len = key_len, .status = found ? 1 : 0};
    if (found) {
        it.size = value_len;
        it.clsid = proto_mc_class(molt_item_size(key_len, flags, value_len),
                                  ctx->limits.growth_factor);
    }
    ctx->host->watch_log(ctx->host->self, MOLT_WATCH_FETCHERS, &it);
}

void proto_watch_get(const proto_exec *x, const uint8_t *key, size_t key_len, int found) {
    molt_item_info info = {0};
    size_t value_len = 0;
    /* Read again, without touching recency: the get's own sink stays free
     * of watch's cost. (Changed in between: the new version.) */
    if (found) found = proto_peek(x->ctx, key, key_len, &info, &value_len) == MOLT_OK;
    proto_watch_fetch(x, key, key_len, found, info.flags, value_len);
}

void proto_watch_store(const proto_exec *x, molt_status st, molt_store_mode mode, int cas,
                       const uint8_t *key, size_t key_len, uint32_t flags, int64_t exptime,
                       size_t value_len) {
    /* memcached's command and store-status numbering */
    static const uint32_t cmd_of[] = {
        [MOLT_STORE_SET] = 2, [MOLT_STORE_ADD] = 1, [MOLT_STORE_REPLACE] = 3,
        [MOLT_STORE_APPEND] = 4, [MOLT_STORE_PREPEND] = 5, [MOLT_STORE_CAS] = 6,
    };
    uint32_t status = st == MOLT_OK ? 1 : st == MOLT_EXISTS ? 2 : st == MOLT_NOT_FOUND ? 3 : 0;
    const molt_protocol_ctx *ctx = x->ctx;
    molt_watch_item it = {
        .key = key,
        .key_len = key_len,
        .status = status,
        .cmd = cas ? 6 : cmd_of[mode],
        .exptime = exptime,
        .clsid = proto_mc_class(molt_item_size(key_len, flags, value_len),
                                ctx->limits.growth_factor),
        .size = value_len,
    };
    ctx->host->watch_log(ctx->host->self, MOLT_WATCH_MUTATIONS, &it);
}
