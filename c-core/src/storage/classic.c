/* storage/classic.c - the classic commands (get, gat, touch, set/add/
 * replace/append/prepend/cas, incr/decr, delete) expressed once over the
 * engines' meta operations, so engines implement only those. */
#include "storage.h"

#include <stddef.h>

#include "storage/engines.h"

/* Classic reads never hand out the meta protocol's win token. */
static const molt_meta_get_opts get_opts = {.no_win = 1};
static const molt_meta_delete_opts delete_opts = {0};

molt_status molt_storage_get(molt_storage *st, const uint8_t *key,
                             size_t key_len, int64_t now, molt_value_sink sink,
                             void *ctx) {
    if (st == NULL) return MOLT_INVALID;
    return st->ops->meta_get(st->self, key, key_len, now, &get_opts, sink, ctx);
}

molt_status molt_storage_get_touch(molt_storage *st, const uint8_t *key,
                                   size_t key_len, int64_t exptime,
                                   int64_t now, molt_value_sink sink,
                                   void *ctx) {
    if (st == NULL) return MOLT_INVALID;
    molt_meta_get_opts o = {.touch = 1, .touch_exptime = exptime, .no_win = 1};
    return st->ops->meta_get(st->self, key, key_len, now, &o, sink, ctx);
}

static void discard_value(void *ctx, const molt_item_info *info,
                          const uint8_t *value, size_t value_len) {
    (void)ctx, (void)info, (void)value, (void)value_len;
}

/* touch is a gat whose value nobody reads: an access like any read. */
molt_status molt_storage_touch(molt_storage *st, const uint8_t *key,
                               size_t key_len, int64_t exptime, int64_t now) {
    return molt_storage_get_touch(st, key, key_len, exptime, now,
                                  discard_value, NULL);
}

molt_status molt_storage_store(molt_storage *st, molt_store_mode mode,
                               const uint8_t *key, size_t key_len,
                               const uint8_t *value, size_t value_len,
                               uint32_t flags, int64_t exptime, uint64_t cas,
                               int64_t now, uint64_t *cas_out) {
    if (st == NULL) return MOLT_INVALID;
    molt_meta_store_req req = {
        .mode = mode == MOLT_STORE_CAS ? MOLT_STORE_SET : mode,
        .key = key,
        .key_len = key_len,
        .value = value,
        .value_len = value_len,
        .flags = flags,
        .exptime = exptime,
        .has_compare_cas = mode == MOLT_STORE_CAS,
        .compare_cas = cas,
    };
    return st->ops->meta_store(st->self, &req, now, cas_out);
}

molt_status molt_storage_arith(molt_storage *st, const uint8_t *key,
                               size_t key_len, int incr, uint64_t delta,
                               int64_t now, uint64_t *value_out,
                               uint64_t *cas_out) {
    if (st == NULL) return MOLT_INVALID;
    molt_meta_arith_opts o = {.incr = incr, .delta = delta};
    molt_meta_arith_result r;
    molt_status rc = st->ops->meta_arith(st->self, key, key_len, now, &o, &r);
    if (rc == MOLT_OK) {
        if (value_out != NULL) *value_out = r.value;
        if (cas_out != NULL) *cas_out = r.cas;
    }
    return rc;
}

molt_status molt_storage_remove(molt_storage *st, const uint8_t *key,
                                size_t key_len, int64_t now) {
    if (st == NULL) return MOLT_INVALID;
    return st->ops->meta_delete(st->self, key, key_len, now, &delete_opts);
}
