/* storage_seg.c - the Rust segment engine (ffi/, rust/seg) as a storage.h
 * engine. Mixed build only: the C-only build has no Rust to call. */
#include "molt_ffi.h"
#include "storage.h"
#include "storage/engines.h"

static molt_status seg_get(void *self, const uint8_t *key, size_t key_len,
                           int64_t now, int touch, int64_t new_exptime,
                           molt_value_sink sink, void *ctx) {
    return molt_seg_get(self, key, key_len, now, touch, new_exptime, sink, ctx);
}

static molt_status seg_store(void *self, molt_store_mode mode, const uint8_t *key,
                             size_t key_len, const uint8_t *value,
                             size_t value_len, uint32_t flags, int64_t exptime,
                             uint64_t cas, int64_t now, uint64_t *cas_out) {
    return molt_seg_store(self, mode, key, key_len, value, value_len, flags,
                          exptime, cas, now, cas_out);
}

static molt_status seg_arith(void *self, const uint8_t *key, size_t key_len,
                             int incr, uint64_t delta, int64_t now,
                             uint64_t *value_out, uint64_t *cas_out) {
    return molt_seg_arith(self, key, key_len, incr, delta, now, value_out, cas_out);
}

static molt_status seg_remove(void *self, const uint8_t *key, size_t key_len,
                              int64_t now) {
    return molt_seg_remove(self, key, key_len, now);
}

static molt_status seg_touch(void *self, const uint8_t *key, size_t key_len,
                             int64_t exptime, int64_t now) {
    return molt_seg_touch(self, key, key_len, exptime, now);
}

static molt_status seg_flush(void *self, int64_t at, int64_t now) {
    return molt_seg_flush(self, at, now);
}

static void seg_stats(void *self, int64_t now, molt_storage_stats *out) {
    (void)molt_seg_stats(self, now, out); /* out stays zeroed on failure */
}

static molt_status seg_meta_get(void *self, const uint8_t *key, size_t key_len,
                                int64_t now, const molt_meta_get_opts *opts,
                                molt_value_sink sink, void *ctx) {
    return molt_seg_meta_get(self, key, key_len, now, opts, sink, ctx);
}

static molt_status seg_meta_store(void *self, const molt_meta_store_req *req,
                                  int64_t now, uint64_t *cas_out) {
    return molt_seg_meta_store(self, req, now, cas_out);
}

static molt_status seg_meta_delete(void *self, const uint8_t *key,
                                   size_t key_len, int64_t now,
                                   const molt_meta_delete_opts *opts) {
    return molt_seg_meta_delete(self, key, key_len, now, opts);
}

static molt_status seg_meta_arith(void *self, const uint8_t *key,
                                  size_t key_len, int64_t now,
                                  const molt_meta_arith_opts *opts,
                                  molt_meta_arith_result *out) {
    return molt_seg_meta_arith(self, key, key_len, now, opts, out);
}

static void seg_destroy(void *self) { molt_seg_free(self); }

const molt_storage_ops molt_seg_ops = {
    .name = "seg",
    .get = seg_get,
    .store = seg_store,
    .arith = seg_arith,
    .remove = seg_remove,
    .touch = seg_touch,
    .flush = seg_flush,
    .stats = seg_stats,
    .meta_get = seg_meta_get,
    .meta_store = seg_meta_store,
    .meta_delete = seg_meta_delete,
    .meta_arith = seg_meta_arith,
    .destroy = seg_destroy,
};

molt_status molt_seg_create(const molt_storage_config *cfg, void **self_out) {
    molt_seg *seg = NULL;
    molt_status st = molt_seg_new(cfg, &seg);
    if (st == MOLT_OK) *self_out = seg;
    return st;
}
