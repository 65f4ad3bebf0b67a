/* protocol/meta.c - running memcached 1.6's meta commands (parsed by
 * meta_parse.c).
 *
 *   mg <key> <flag>*            VA <size> <flag>* / HD <flag>* / EN
 *   ms <key> <datalen> <flag>*  HD / NS / EX / NF  (then a data block)
 *   md <key> <flag>*            HD / NF / EX
 *   ma <key> <flag>*            HD / VA <size> / NF / NS / EX
 *   mn                          MN
 *   me <key> [b]                ME <key> exp=.. la=.. cas=.. fetch=.. cls=.. size=..
 *
 * Replies, limits and counters follow memcached 1.6.18: q suppresses only
 * the "nominal" reply (EN for mg, HD for ms/md/ma and ma's VA) while errors,
 * NF, NS and EX are always sent. Return flags are echoed in request order;
 * mg appends Z (win already handed out), X (stale) and W (this request won)
 * in that order. Beyond 1.6.18 (later memcached versions have them): E
 * (explicit new cas) on every command, x on md, and N on ms append/prepend
 * (vivify).
 *
 * Deliberate differences from 1.6.18, each harmless for a client:
 *  - memcached applies T/N while it walks the flags, so "mg k t T30" reports
 *    the TTL from before the touch and "mg k R30 T10" tests R against the
 *    old TTL; here the flags that change the item (T, N) act before those
 *    that read it (t, R), whatever the order (what protocol.txt describes).
 *  - memcached checks an over-long opaque only while writing the reply,
 *    after a touch/vivify/arith already happened; here every check comes
 *    before the command acts.
 *  - memcached remembers that a key was stored with b and then base64-
 *    encodes it in k/me replies even for requests without b; here the
 *    request decides (same answers whenever a key is always used with b).
 *  - ma vivifying a missing key counts as an incr/decr hit here and its HD
 *    is hidden by q (the storage seam does not say whether it created the
 *    item); memcached counts nothing and answers HD even under q. */
#include <string.h>

#include "protocol/base64.h"
#include "protocol/counters.h"
#include "protocol/session.h"
#include "util/numparse.h"

static meta_echo echo_of(const meta_request *m) {
    meta_echo e = {
        .flags = m->ret,
        .nflags = m->nret,
        .opaque = m->opaque,
        .opaque_len = m->opaque_len,
        .key = m->key,
        .key_len = m->key_len,
        .key_binary = m->key_binary,
    };
    return e;
}

static int64_t abs_exptime(int32_t ttl, int64_t now) {
    return proto_absolute_exptime(ttl, now);
}

/* t's value: remaining seconds, -1 for an item that never expires. */
static int64_t ttl_left(int64_t exptime, int64_t now) {
    if (exptime == 0) return -1;
    return exptime > now ? exptime - now : 0;
}

/* ---- mg ----------------------------------------------------------------- */

typedef struct mg_ctx {
    proto_out *out;
    const meta_request *m;
    int64_t now;
    int failed;
    uint32_t flags; /* of the value read, for watch */
    size_t value_len;
} mg_ctx;

/* The read's sink: the reply line, then the value when v asked for it. */
static void mg_sink(void *ctx, const molt_item_info *info, const uint8_t *value,
                    size_t value_len) {
    mg_ctx *x = ctx;
    const meta_request *m = x->m;
    x->flags = info->flags;
    x->value_len = value_len;
    meta_echo echo = echo_of(m);
    meta_values values = {
        .known = META_KNOWN_SIZE | META_KNOWN_TTL | META_KNOWN_CAS | META_KNOWN_FLAGS |
                 META_KNOWN_IDLE | META_KNOWN_FETCHED,
        .size = value_len,
        .ttl = ttl_left(info->exptime, x->now),
        .cas = info->cas,
        .client_flags = info->flags,
        .idle = info->last_access < x->now ? (uint64_t)(x->now - info->last_access) : 0,
        .fetched = info->fetched,
    };
    char head[META_LINE_MAX];
    size_t h = meta_put_head(head, m->value, value_len);
    h += meta_put_echo(head + h, &echo, &values);
    if (info->win_taken) h += put_lit(head + h, " Z");
    if (info->stale) h += put_lit(head + h, " X");
    if (info->win) h += put_lit(head + h, " W");
    head[h++] = '\r';
    head[h++] = '\n';
    molt_buf *w = x->out->buf;
    size_t total = h + (m->value ? value_len + 2 : 0);
    if (molt_buf_reserve(w, total, x->out->limit) != 0) {
        x->failed = 1;
        return;
    }
    char *p = w->data + w->end;
    memcpy(p, head, h);
    if (m->value) {
        memcpy(p + h, value, value_len);
        p[h + value_len] = '\r';
        p[h + value_len + 1] = '\n';
    }
    w->end += total;
}

static void meta_get(proto_exec *x, const meta_request *m) {
    const molt_protocol_ctx *ctx = x->ctx;
    int64_t now = ctx->now;
    molt_meta_get_opts g = {
        .touch = m->touch,
        .touch_exptime = m->touch ? abs_exptime(m->touch_ttl, now) : 0,
        .no_bump = m->no_update,
        .vivify = m->vivify,
        .vivify_exptime = m->vivify ? abs_exptime(m->vivify_ttl, now) : 0,
        .recache = m->recache,
        .has_new_cas = m->has_new_cas,
        .new_cas = m->new_cas,
    };
    if (m->recache) {
        int64_t at = abs_exptime(m->recache_ttl, now);
        g.recache_ttl = at > now ? at - now : 0;
    }
    mg_ctx sink = {.out = &x->out, .m = m, .now = now};
    molt_status st =
        molt_storage_meta_get(ctx->storage, m->key, m->key_len, now, &g, mg_sink, &sink);
    if (sink.failed) {
        proto_reply_line(&x->out, "SERVER_ERROR out of memory writing get response");
        x->out.close = 1;
        return;
    }
    if (x->watching & MOLT_WATCH_FETCHERS)
        proto_watch_fetch(x, m->key, m->key_len, st == MOLT_OK, sink.flags, sink.value_len);
    /* As memcached: a hit with T counts as a touch, else as a get (a
     * vivified miss counts as a hit); a miss is a get miss. */
    if (st == MOLT_OK) {
        count_read(ctx->counters, m->touch, 1);
        return;
    }
    if (st != MOLT_NOT_FOUND && st != MOLT_NO_MEMORY) {
        proto_reply_line(&x->out, "SERVER_ERROR storage failure");
        return;
    }
    count_read(ctx->counters, 0, 0);
    meta_echo echo = echo_of(m);
    if (!m->quiet) meta_reply_code(&x->out, "EN", &echo, NULL);
}

/* ---- ms: the line now, the data block later (store.c) ------------------ */

static void meta_set(proto_exec *x, const meta_request *m) {
    /* memcached drops the old value of a too-large ms whatever the mode */
    if (!store_fits(x, m->key, m->key_len, m->client_flags, m->data_len - 2, 1)) return;
    int64_t now = x->ctx->now;
    pending_store *p = &x->s->pending;
    pending_meta *pm = &p->meta;
    p->mode = m->store_mode;
    memcpy(p->key, m->key, m->key_len);
    p->key_len = m->key_len;
    p->flags = m->client_flags;
    p->exptime = m->touch ? abs_exptime(m->touch_ttl, now) : 0;
    p->cas = 0;
    p->data_len = m->data_len;
    p->noreply = 0;
    memset(pm, 0, sizeof(*pm));
    pm->active = 1;
    pm->quiet = m->quiet;
    /* As memcached: C turns set/replace into a cas (I then lets an older
     * cas, but not 0, store a stale value), append/prepend check it unless
     * it is 0 (memcached's "no cas"), add ignores it. */
    int appends = m->store_mode == MOLT_STORE_APPEND || m->store_mode == MOLT_STORE_PREPEND;
    if (m->has_cas && m->store_mode != MOLT_STORE_ADD && !(appends && m->cas == 0)) {
        pm->has_compare_cas = 1;
        pm->compare_cas = m->cas;
        pm->invalidate = m->invalidate && m->cas != 0 &&
                         (m->store_mode == MOLT_STORE_SET || m->store_mode == MOLT_STORE_REPLACE);
    }
    pm->has_new_cas = m->has_new_cas;
    pm->new_cas = m->new_cas;
    pm->vivify = m->vivify;
    pm->vivify_exptime = m->vivify ? abs_exptime(m->vivify_ttl, now) : 0;
    /* the line is gone when the block arrives: keep what the reply echoes */
    pm->echo = echo_of(m);
    pm->echo.flags = memcpy(pm->ret, m->ret, m->nret);
    pm->echo.opaque = m->opaque ? memcpy(pm->opaque, m->opaque, m->opaque_len) : NULL;
    pm->echo.key = p->key;
    x->s->want_data = 1;
}

/* ---- md ----------------------------------------------------------------- */

static void meta_delete(proto_exec *x, const meta_request *m) {
    const molt_protocol_ctx *ctx = x->ctx;
    int64_t now = ctx->now;
    molt_meta_delete_opts d = {
        .has_compare_cas = m->has_cas,
        .compare_cas = m->cas,
        .has_new_cas = m->has_new_cas,
        .new_cas = m->new_cas,
        .invalidate = m->invalidate,
        /* memcached reads T only when marking stale */
        .touch = m->invalidate && m->touch,
        .touch_exptime = m->invalidate && m->touch ? abs_exptime(m->touch_ttl, now) : 0,
        .clear_value = m->clear_value,
    };
    molt_status st = molt_storage_meta_delete(ctx->storage, m->key, m->key_len, now, &d);
    /* a stale mark or a cleared value is not a delete hit; EX is a miss */
    if (st == MOLT_OK && !m->invalidate && !m->clear_value)
        counter_add(ctx->counters, MOLT_COUNTER_DELETE_HITS, 1);
    else if (st == MOLT_NOT_FOUND || st == MOLT_EXISTS)
        counter_add(ctx->counters, MOLT_COUNTER_DELETE_MISSES, 1);
    if (st == MOLT_OK && m->quiet) return;
    meta_echo echo = echo_of(m);
    proto_reply_status(&x->out, st, PROTO_OP_DELETE, &echo, NULL);
}

/* ---- ma ----------------------------------------------------------------- */

static void meta_arith(proto_exec *x, const meta_request *m) {
    const molt_protocol_ctx *ctx = x->ctx;
    int64_t now = ctx->now;
    molt_meta_arith_opts a = {
        .incr = m->incr,
        .delta = m->delta,
        /* memcached's arithmetic takes cas 0 as "no compare" */
        .has_compare_cas = m->has_cas && m->cas != 0,
        .compare_cas = m->cas,
        .has_new_cas = m->has_new_cas,
        .new_cas = m->new_cas,
        .vivify = m->vivify,
        .vivify_exptime = m->vivify ? abs_exptime(m->vivify_ttl, now) : 0,
        .initial = m->initial,
        .touch = m->touch,
        .touch_exptime = m->touch ? abs_exptime(m->touch_ttl, now) : 0,
    };
    molt_meta_arith_result r = {0};
    molt_status st = molt_storage_meta_arith(ctx->storage, m->key, m->key_len, now, &a, &r);
    count_arith(ctx->counters, st, m->incr);
    meta_echo echo = echo_of(m);
    if (st != MOLT_OK) {
        proto_reply_status(&x->out, st, PROTO_OP_ARITH, &echo, NULL);
        return;
    }
    if (m->quiet) return;
    char num[24];
    size_t nlen = format_u64(num, r.value);
    meta_values values = {
        .known = META_KNOWN_CAS | META_KNOWN_TTL,
        .cas = r.cas,
        .ttl = ttl_left(r.exptime, now),
    };
    char line[META_LINE_MAX];
    size_t h = meta_put_head(line, m->value, nlen);
    h += meta_put_echo(line + h, &echo, &values);
    line[h++] = '\r';
    line[h++] = '\n';
    if (m->value) {
        memcpy(line + h, num, nlen);
        h += nlen;
        line[h++] = '\r';
        line[h++] = '\n';
    }
    proto_reply(&x->out, line, h);
}

/* ---- me ----------------------------------------------------------------- */

typedef struct peek_ctx {
    molt_item_info *info;
    size_t *value_len;
} peek_ctx;

static void peek_sink(void *ctx, const molt_item_info *info, const uint8_t *value,
                      size_t value_len) {
    (void)value;
    peek_ctx *p = ctx;
    *p->info = *info;
    *p->value_len = value_len;
}

molt_status proto_peek(const molt_protocol_ctx *ctx, const uint8_t *key, size_t key_len,
                       molt_item_info *info, size_t *value_len) {
    molt_meta_get_opts g = {.no_bump = 1};
    peek_ctx p = {info, value_len};
    return molt_storage_meta_get(ctx->storage, key, key_len, ctx->now, &g, peek_sink, &p);
}

static void meta_debug(proto_exec *x, const meta_request *m) {
    const molt_protocol_ctx *ctx = x->ctx;
    int64_t now = ctx->now;
    molt_item_info info_read = {0};
    size_t value_len = 0;
    molt_status st = proto_peek(ctx, m->key, m->key_len, &info_read, &value_len);
    counter_add(ctx->counters, MOLT_COUNTER_CMD_META, 1);
    if (st != MOLT_OK) {
        proto_reply_line(&x->out, "EN");
        return;
    }
    char line[META_LINE_MAX];
    size_t h = put_lit(line, "ME ");
    if (m->key_binary) {
        h += base64_encode(m->key, m->key_len, line + h);
    } else {
        memcpy(line + h, m->key, m->key_len);
        h += m->key_len;
    }
    const molt_item_info *info = &info_read;
    size_t size = molt_item_size(m->key_len, info->flags, value_len);
    /* exp as memcached prints it: now - exptime (negative while live),
     * -1 for an item without expiry */
    h += put_lit(line + h, " exp=");
    h += put_i64(line + h, info->exptime == 0 ? -1 : now - info->exptime);
    h += put_lit(line + h, " la=");
    h += put_i64(line + h, now > info->last_access ? now - info->last_access : 0);
    h += put_lit(line + h, " cas=");
    h += format_u64(line + h, info->cas);
    h += put_lit(line + h, info->fetched ? " fetch=yes" : " fetch=no");
    h += put_lit(line + h, " cls=");
    h += format_u64(line + h, proto_mc_class(size, ctx->limits.growth_factor));
    h += put_lit(line + h, " size=");
    h += format_u64(line + h, size);
    line[h++] = '\r';
    line[h++] = '\n';
    proto_reply(&x->out, line, h);
}

/* ---- entry -------------------------------------------------------------- */

void meta_run(proto_exec *x, const char *line, size_t len) {
    if (len > MC_READ_BUFFER) { /* a line memcached never sees whole */
        proto_hang_up(x);
        return;
    }
    meta_request m;
    meta_parse(line, len, &m);
    x->out.noreply = 0; /* meta errors are always sent; q is per reply */
    if (m.err != NULL) {
        proto_reply_line(&x->out, m.err);
        x->s->swallow = m.swallow;
        return;
    }
    switch (m.cmd) {
    case 'g': meta_get(x, &m); break;
    case 's': meta_set(x, &m); break;
    case 'd': meta_delete(x, &m); break;
    case 'a': meta_arith(x, &m); break;
    case 'e': meta_debug(x, &m); break;
    default: /* mn (unknown ones are errors); memcached flushes after it */
        PROTO_REPLY(&x->out, "MN\r\n");
        x->kept = x->out.buf->end - x->out.buf->start;
        break;
    }
}
