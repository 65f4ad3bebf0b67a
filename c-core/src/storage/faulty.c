/* storage/faulty.c - "faulty-slab": the slab engine with one read in
 * MOLT_FAULT_EVERY handed out one byte short, so shadow mode can be shown
 * to catch a corrupting engine (tests/shadow.rs). Compiled only into the
 * fault build (make fault: -DMOLT_FAULT_INJECT), never into molt-c or
 * molt. */
#ifdef MOLT_FAULT_INJECT
#include <stdatomic.h>
#include <stdlib.h>

#include "storage/engines.h"

#define MOLT_FAULT_EVERY 1000u

typedef struct faulty_engine {
    void *slab;
    _Atomic uint64_t hits;     /* values handed out */
    _Atomic uint64_t injected; /* of those, handed out short */
} faulty_engine;

molt_status molt_faulty_create(const molt_storage_config *cfg, void **self_out) {
    faulty_engine *f = calloc(1, sizeof(*f));
    if (f == NULL) return MOLT_NO_MEMORY;
    molt_status rc = molt_slab_create(cfg, &f->slab);
    if (rc != MOLT_OK) {
        free(f);
        return rc;
    }
    *self_out = f;
    return MOLT_OK;
}

typedef struct faulty_read {
    faulty_engine *f;
    molt_value_sink sink;
    void *ctx;
} faulty_read;

static void faulty_value(void *ctx, const molt_item_info *info, const uint8_t *value,
                         size_t value_len) {
    faulty_read *r = ctx;
    uint64_t n = atomic_fetch_add_explicit(&r->f->hits, 1, memory_order_relaxed) + 1;
    if (n % MOLT_FAULT_EVERY == 0 && value_len > 0) {
        atomic_fetch_add_explicit(&r->f->injected, 1, memory_order_relaxed);
        value_len--;
    }
    r->sink(r->ctx, info, value, value_len);
}

static molt_status faulty_meta_get(void *self, const uint8_t *key, size_t key_len, int64_t now,
                                   const molt_meta_get_opts *opts, molt_value_sink sink,
                                   void *ctx) {
    faulty_engine *f = self;
    faulty_read r = {f, sink, ctx};
    return molt_slab_ops.meta_get(f->slab, key, key_len, now, opts, faulty_value, &r);
}

static molt_status faulty_meta_store(void *self, const molt_meta_store_req *req, int64_t now,
                                     uint64_t *cas_out) {
    return molt_slab_ops.meta_store(((faulty_engine *)self)->slab, req, now, cas_out);
}

static molt_status faulty_meta_delete(void *self, const uint8_t *key, size_t key_len,
                                      int64_t now, const molt_meta_delete_opts *opts) {
    return molt_slab_ops.meta_delete(((faulty_engine *)self)->slab, key, key_len, now, opts);
}

static molt_status faulty_meta_arith(void *self, const uint8_t *key, size_t key_len,
                                     int64_t now, const molt_meta_arith_opts *opts,
                                     molt_meta_arith_result *out) {
    return molt_slab_ops.meta_arith(((faulty_engine *)self)->slab, key, key_len, now, opts,
                                    out);
}

static molt_status faulty_flush(void *self, int64_t at, int64_t now) {
    return molt_slab_ops.flush(((faulty_engine *)self)->slab, at, now);
}

static molt_status faulty_stats(void *self, int64_t now, molt_storage_stats *out) {
    return molt_slab_ops.stats(((faulty_engine *)self)->slab, now, out);
}

static molt_status faulty_classes(void *self, int64_t now, molt_class_sink sink, void *ctx) {
    return molt_slab_ops.classes(((faulty_engine *)self)->slab, now, sink, ctx);
}

static molt_status faulty_walk(void *self, int64_t now, molt_walk_cursor *cursor, size_t max,
                               molt_walk_sink sink, void *ctx) {
    return molt_slab_ops.walk(((faulty_engine *)self)->slab, now, cursor, max, sink, ctx);
}

static molt_status faulty_figures(void *self, int64_t now, molt_figure_sink sink, void *ctx) {
    faulty_engine *f = self;
    (void)now;
    molt_engine_figure hits = {"fault_hits", "Values the faulty engine handed out", 1,
                               atomic_load_explicit(&f->hits, memory_order_relaxed)};
    molt_engine_figure injected = {"fault_injected", "Values handed out one byte short", 1,
                                   atomic_load_explicit(&f->injected, memory_order_relaxed)};
    sink(ctx, &hits);
    sink(ctx, &injected);
    return MOLT_OK;
}

static void faulty_destroy(void *self) {
    faulty_engine *f = self;
    molt_slab_ops.destroy(f->slab);
    free(f);
}

const molt_storage_ops molt_faulty_ops = {
    .name = "faulty-slab",
    .meta_get = faulty_meta_get,
    .meta_store = faulty_meta_store,
    .meta_delete = faulty_meta_delete,
    .meta_arith = faulty_meta_arith,
    .flush = faulty_flush,
    .stats = faulty_stats,
    .classes = faulty_classes,
    .walk = faulty_walk,
    .figures = faulty_figures,
    .destroy = faulty_destroy,
};
#else
/* ISO C wants a translation unit to declare something. */
typedef int molt_faulty_not_built;
#endif
