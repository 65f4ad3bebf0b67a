/* storage/registry.c - engine registry and the dispatch of the engines'
 * own operations behind storage.h (the classic commands: classic.c). */
#include "storage.h"

#include <stdlib.h>
#include <string.h>

#include "storage/engines.h"

typedef struct engine_entry {
    const char *name;
    molt_status (*create)(const molt_storage_config *cfg, void **self_out);
    const molt_storage_ops *ops;
} engine_entry;

static const engine_entry engines[] = {
    {"slab", molt_slab_create, &molt_slab_ops},
#ifdef MOLT_WITH_SEG
    {"seg", molt_seg_new, &molt_seg_ops},
#endif
#ifdef MOLT_FAULT_INJECT
    {"faulty-slab", molt_faulty_create, &molt_faulty_ops},
#endif
};

static const char *const engine_names[] = {
    "slab",
#ifdef MOLT_WITH_SEG
    "seg",
#endif
#ifdef MOLT_FAULT_INJECT
    "faulty-slab",
#endif
    NULL,
};

/* Engines written in Rust: a C-only build knows their names, to say why it
 * cannot open them. */
static const char *const rust_engine_names[] = {"seg", NULL};

int molt_storage_engine_needs_rust(const char *name) {
    if (name == NULL) return 0;
    for (const char *const *e = engine_names; *e; e++)
        if (strcmp(*e, name) == 0) return 0;
    for (const char *const *e = rust_engine_names; *e; e++)
        if (strcmp(*e, name) == 0) return 1;
    return 0;
}

size_t molt_item_size(size_t key_len, uint32_t flags, size_t value_len) {
    return 48 + 8 + key_len + 1 + value_len + 2 + (flags != 0 ? 4 : 0);
}

const char *const *molt_storage_engines(void) { return engine_names; }

molt_status molt_storage_open(const char *name, const molt_storage_config *cfg,
                              molt_storage **out) {
    if (name == NULL || cfg == NULL || out == NULL) return MOLT_INVALID;
    for (size_t i = 0; i < sizeof(engines) / sizeof(engines[0]); i++) {
        if (strcmp(engines[i].name, name) != 0) continue;
        molt_storage *st = malloc(sizeof(*st));
        if (st == NULL) return MOLT_NO_MEMORY;
        molt_status rc = engines[i].create(cfg, &st->self);
        if (rc != MOLT_OK) {
            free(st);
            return rc;
        }
        st->ops = engines[i].ops;
        *out = st;
        return MOLT_OK;
    }
    return MOLT_INVALID;
}

void molt_storage_free(molt_storage *st) {
    if (st == NULL) return;
    st->ops->destroy(st->self);
    free(st);
}

const char *molt_storage_name(const molt_storage *st) {
    return st ? st->ops->name : NULL;
}

molt_status molt_storage_flush(molt_storage *st, int64_t at, int64_t now) {
    if (st == NULL) return MOLT_INVALID;
    return st->ops->flush(st->self, at, now);
}

void molt_storage_stats_read(molt_storage *st, int64_t now,
                             molt_storage_stats *out) {
    if (st == NULL || out == NULL) return;
    memset(out, 0, sizeof(*out));
    (void)st->ops->stats(st->self, now, out); /* out stays zeroed on failure */
}

molt_status molt_storage_classes(molt_storage *st, int64_t now,
                                 molt_class_sink sink, void *ctx) {
    if (st == NULL || sink == NULL) return MOLT_INVALID;
    return st->ops->classes(st->self, now, sink, ctx);
}

molt_status molt_storage_walk(molt_storage *st, int64_t now,
                              molt_walk_cursor *cursor, size_t max,
                              molt_walk_sink sink, void *ctx) {
    if (st == NULL || cursor == NULL || sink == NULL) return MOLT_INVALID;
    return st->ops->walk(st->self, now, cursor, max, sink, ctx);
}

molt_status molt_storage_figures(molt_storage *st, int64_t now,
                                 molt_figure_sink sink, void *ctx) {
    if (st == NULL || sink == NULL) return MOLT_INVALID;
    if (st->ops->figures == NULL) return MOLT_OK;
    return st->ops->figures(st->self, now, sink, ctx);
}

molt_status molt_storage_restore(molt_storage *st, const char *path, int64_t now,
                                 char *note, size_t note_len) {
    if (note && note_len) note[0] = '\0';
    if (st == NULL || path == NULL || st->ops->restore == NULL) return MOLT_INVALID;
    return st->ops->restore(st->self, path, now, note, note_len);
}

molt_status molt_storage_save(molt_storage *st, const char *path, int64_t now,
                              char *note, size_t note_len) {
    if (note && note_len) note[0] = '\0';
    if (st == NULL || path == NULL || st->ops->save == NULL) return MOLT_INVALID;
    return st->ops->save(st->self, path, now, note, note_len);
}

molt_status molt_storage_meta_get(molt_storage *st, const uint8_t *key,
                                  size_t key_len, int64_t now,
                                  const molt_meta_get_opts *opts,
                                  molt_value_sink sink, void *ctx) {
    if (st == NULL || opts == NULL || sink == NULL) return MOLT_INVALID;
    return st->ops->meta_get(st->self, key, key_len, now, opts, sink, ctx);
}

molt_status molt_storage_meta_store(molt_storage *st,
                                    const molt_meta_store_req *req,
                                    int64_t now, uint64_t *cas_out) {
    if (st == NULL || req == NULL) return MOLT_INVALID;
    return st->ops->meta_store(st->self, req, now, cas_out);
}

molt_status molt_storage_meta_delete(molt_storage *st, const uint8_t *key,
                                     size_t key_len, int64_t now,
                                     const molt_meta_delete_opts *opts) {
    if (st == NULL || opts == NULL) return MOLT_INVALID;
    return st->ops->meta_delete(st->self, key, key_len, now, opts);
}

molt_status molt_storage_meta_arith(molt_storage *st, const uint8_t *key,
                                    size_t key_len, int64_t now,
                                    const molt_meta_arith_opts *opts,
                                    molt_meta_arith_result *out) {
    if (st == NULL || opts == NULL || out == NULL) return MOLT_INVALID;
    return st->ops->meta_arith(st->self, key, key_len, now, opts, out);
}
