/* protocol/store.c - the storage commands that carry a data block, classic
 * (set/add/replace/append/prepend/cas) and meta (ms): the size check when
 * the command line arrives, and the store once its data block is in. */
#include "protocol/session.h"

#include "protocol/counters.h"

int store_fits(proto_exec *x, const uint8_t *key, size_t key_len, uint32_t flags,
               size_t value_len, int drop_old) {
    const molt_protocol_ctx *ctx = x->ctx;
    if (molt_item_size(key_len, flags, value_len) <= ctx->limits.item_size_max) return 1;
    counter_add(ctx->counters, MOLT_COUNTER_STORE_TOO_LARGE, 1);
    proto_reply_line(&x->out, "SERVER_ERROR object too large for cache");
    /* memcached drops the old value so a failed store cannot leave stale
     * data readable. */
    if (drop_old) molt_storage_remove(ctx->storage, key, key_len, ctx->now);
    x->s->swallow = value_len + 2;
    return 0;
}

/* As memcached counts a store's outcome; cas_mode: a compare-and-swap. */
static void count_store(molt_counters *k, molt_status st, int cas_mode) {
    switch (st) {
    case MOLT_OK:
        if (cas_mode) counter_add(k, MOLT_COUNTER_CAS_HITS, 1);
        break;
    case MOLT_EXISTS:
        if (cas_mode) counter_add(k, MOLT_COUNTER_CAS_BADVAL, 1);
        break;
    case MOLT_NOT_FOUND:
        if (cas_mode) counter_add(k, MOLT_COUNTER_CAS_MISSES, 1);
        break;
    case MOLT_TOO_LARGE:
        counter_add(k, MOLT_COUNTER_STORE_TOO_LARGE, 1);
        break;
    case MOLT_NO_MEMORY:
        counter_add(k, MOLT_COUNTER_STORE_NO_MEMORY, 1);
        break;
    default:
        break;
    }
}

static proto_op op_of(molt_store_mode mode) {
    return mode == MOLT_STORE_APPEND || mode == MOLT_STORE_PREPEND ? PROTO_OP_APPEND
                                                                   : PROTO_OP_STORE;
}

/* ms: the meta store and its reply (code, then O/k/c). */
static void complete_meta_store(proto_exec *x, const char *data, size_t value_len) {
    const molt_protocol_ctx *ctx = x->ctx;
    const pending_store *p = &x->s->pending;
    const pending_meta *m = &p->meta;
    molt_meta_store_req req = {
        .mode = p->mode,
        .key = p->key,
        .key_len = p->key_len,
        .value = (const uint8_t *)data,
        .value_len = value_len,
        .flags = p->flags,
        .exptime = p->exptime,
        .has_compare_cas = m->has_compare_cas,
        .compare_cas = m->compare_cas,
        .has_new_cas = m->has_new_cas,
        .new_cas = m->new_cas,
        .invalidate = m->invalidate,
        .vivify = m->vivify,
        .vivify_exptime = m->vivify_exptime,
    };
    uint64_t cas = 0;
    molt_status st = molt_storage_meta_store(ctx->storage, &req, ctx->now, &cas);
    /* C turns set/replace into a cas, counted as one */
    int cas_mode = m->has_compare_cas && (p->mode == MOLT_STORE_SET || p->mode == MOLT_STORE_REPLACE);
    count_store(ctx->counters, st, cas_mode);
    if (x->watching & MOLT_WATCH_MUTATIONS)
        proto_watch_store(x, st, p->mode, cas_mode, p->key, p->key_len, p->flags, p->exptime,
                          value_len);
    if (st == MOLT_OK && m->quiet) return;
    /* memcached answers c0 when nothing was stored */
    meta_values values = {.known = META_KNOWN_CAS, .cas = st == MOLT_OK ? cas : 0};
    proto_reply_status(&x->out, st, op_of(p->mode), &m->echo, &values);
}

void store_complete(proto_exec *x, const char *data) {
    const molt_protocol_ctx *ctx = x->ctx;
    const pending_store *p = &x->s->pending;
    x->out.noreply = p->noreply;
    size_t value_len = p->data_len - 2;
    if (data[value_len] != '\r' || data[value_len + 1] != '\n') {
        /* sent even under ms q; classic noreply hides it */
        proto_reply_line(&x->out, "CLIENT_ERROR bad data chunk");
        return;
    }
    counter_add(ctx->counters, MOLT_COUNTER_CMD_SET, 1);
    if (p->meta.active) {
        complete_meta_store(x, data, value_len);
        return;
    }
    molt_status st = molt_storage_store(ctx->storage, p->mode, p->key, p->key_len,
                                        (const uint8_t *)data, value_len, p->flags,
                                        p->exptime, p->cas, ctx->now, NULL);
    count_store(ctx->counters, st, p->mode == MOLT_STORE_CAS);
    if (x->watching & MOLT_WATCH_MUTATIONS)
        proto_watch_store(x, st, p->mode, p->mode == MOLT_STORE_CAS, p->key, p->key_len,
                          p->flags, p->exptime, value_len);
    proto_reply_status(&x->out, st, op_of(p->mode), NULL, NULL);
}
