/* storage/shadow.c - shadow mode (see shadow.h): a storage.h engine over
 * two engine handles. The primary's result is what the caller gets; the
 * shadow runs the same operation (writes: the primary's outcome) and the
 * results are compared and counted.
 *
 * Operations on one key run on both engines under one of SHADOW_STRIPES
 * locks chosen by the key's hash, so two clients writing the same key
 * cannot apply in one order on the primary and the other on the shadow
 * (which would be a false mismatch). The primary alone (no shadow) never
 * comes here: the server opens this only with --shadow-storage. */
#include "storage/shadow.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/engines.h"
#include "util/log.h"

#define SHADOW_STRIPES 4096u
/* Bits per engine in the evicted-key maps (2 MiB each). */
#define SHADOW_EVICTED_BITS (1u << 24)
/* -v logs this many mismatches; -vv logs every one, at most
 * SHADOW_LOG_PER_SECOND lines a second. */
#define SHADOW_LOG_FIRST 100u
#define SHADOW_LOG_PER_SECOND 100u

enum { PRIMARY = 0, SHADOW = 1 };

/* The counters, in the order `stats` lists them. */
typedef enum shadow_counter {
    SC_COMPARED,
    SC_MISMATCH_STATUS,
    SC_MISMATCH_VALUE,
    SC_MISMATCH_FLAGS,
    SC_MISMATCH_TTL,
    SC_EVICTION_EXPLAINED,
    SC_ERRORS,
    SC_COUNT
} shadow_counter;

static const struct {
    const char *name;
    const char *help;
} counter_defs[SC_COUNT] = {
    [SC_COMPARED] = {"shadow_compared", "Operations run on both engines and compared"},
    [SC_MISMATCH_STATUS] = {"shadow_mismatch_status",
                            "Compared operations whose status differed"},
    [SC_MISMATCH_VALUE] = {"shadow_mismatch_value",
                           "Compared operations whose value bytes (or incr/decr result) differed"},
    [SC_MISMATCH_FLAGS] = {"shadow_mismatch_flags", "Compared reads whose client flags differed"},
    [SC_MISMATCH_TTL] = {"shadow_mismatch_ttl",
                         "Compared operations whose remaining TTL differed by more than 1 s"},
    [SC_EVICTION_EXPLAINED] = {"shadow_eviction_explained",
                               "Hit on one engine, miss on the other, where the missing "
                               "engine evicted that key since both last wrote it"},
    [SC_ERRORS] = {"shadow_errors",
                   "Shadow operations that failed (internal error, no memory) or were "
                   "not comparable"},
};

typedef struct shadow_stripe {
    pthread_mutex_t lock;
} shadow_stripe;

typedef struct shadow_engine {
    molt_storage_ops ops; /* the shadow table, named after the primary */
    molt_storage *engine[2];
    molt_evict_sink forward_evict; /* the primary's caller's sink */
    void *forward_evict_ctx;
    _Atomic uint64_t counters[SC_COUNT];
    _Atomic uint64_t logged;
    _Atomic int64_t log_second;
    _Atomic uint64_t logged_this_second;
    /* Per engine, one bit per key hash: set when the engine evicts a key
     * with that hash, cleared when both engines apply a write to it. */
    _Atomic uint64_t *evicted[2];
    shadow_stripe stripes[SHADOW_STRIPES];
} shadow_engine;

/* One key of an operation: its hash and the stripe it locks. */
typedef struct shadow_key {
    uint64_t hash;
    shadow_stripe *stripe;
} shadow_key;

static void count(shadow_engine *sh, shadow_counter c) {
    atomic_fetch_add_explicit(&sh->counters[c], 1, memory_order_relaxed);
}

static uint64_t key_hash(const uint8_t *key, size_t len) {
    uint64_t h = 14695981039346656037ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++) h = (h ^ key[i]) * 1099511628211ull;
    return h;
}

static int key_ok(const uint8_t *key, size_t len) {
    return key != NULL && len > 0 && len <= MOLT_KEY_MAX;
}

static shadow_key key_of(shadow_engine *sh, const uint8_t *key, size_t len) {
    uint64_t h = key_hash(key, len);
    shadow_key k = {h, &sh->stripes[h % SHADOW_STRIPES]};
    return k;
}

/* The word and bit of the evicted-key maps for a hash (its high bits: the
 * low ones pick the stripe). */
static size_t evicted_word(uint64_t h) { return (size_t)((h >> 32) % SHADOW_EVICTED_BITS) / 64; }
static uint64_t evicted_bit(uint64_t h) { return 1ull << ((h >> 32) % 64); }

/* ---- evictions ---- */

static void note_eviction(shadow_engine *sh, int role, const molt_evicted_item *item) {
    if (item == NULL || !key_ok(item->key, item->key_len)) return;
    uint64_t h = key_hash(item->key, item->key_len);
    atomic_fetch_or_explicit(&sh->evicted[role][evicted_word(h)], evicted_bit(h),
                             memory_order_relaxed);
}

static void primary_evicted(void *ctx, const molt_evicted_item *item) {
    shadow_engine *sh = ctx;
    note_eviction(sh, PRIMARY, item);
    if (sh->forward_evict) sh->forward_evict(sh->forward_evict_ctx, item);
}

static void shadow_evicted(void *ctx, const molt_evicted_item *item) {
    note_eviction(ctx, SHADOW, item);
}

/* Whether `role` evicted this key since both engines last wrote it. A
 * key whose hash shares a bit with an evicted one can pass for evicted (a
 * mismatch counted as explained), and a write of the other clears the bit
 * (an evicted key counted as a mismatch): each needs two of the keys in
 * flux to agree in 24 hash bits. */
static int evicted_since_write(shadow_engine *sh, uint64_t h, int role) {
    return (atomic_load_explicit(&sh->evicted[role][evicted_word(h)], memory_order_relaxed) &
            evicted_bit(h)) != 0;
}

/* Before a write: clear the key's bits, returning which were set (bit r:
 * engine r). Clearing first keeps an eviction that lands while the write
 * runs; a write that does not apply on both puts them back. */
static unsigned take_marks(shadow_engine *sh, uint64_t h) {
    unsigned had = 0;
    for (int r = 0; r < 2; r++) {
        uint64_t old = atomic_fetch_and_explicit(&sh->evicted[r][evicted_word(h)],
                                                 ~evicted_bit(h), memory_order_relaxed);
        if (old & evicted_bit(h)) had |= 1u << r;
    }
    return had;
}

/* After the operation: both engines applied it (the key is in step
 * again), or the taken bits go back. */
static void settle_marks(shadow_engine *sh, uint64_t h, unsigned had, molt_status p,
                         molt_status s) {
    if (p == MOLT_OK && s == MOLT_OK) return;
    for (int r = 0; r < 2; r++)
        if (had & (1u << r))
            atomic_fetch_or_explicit(&sh->evicted[r][evicted_word(h)], evicted_bit(h),
                                     memory_order_relaxed);
}

static int was_evicted(shadow_engine *sh, uint64_t h, unsigned had, int role) {
    return (had & (1u << role)) || evicted_since_write(sh, h, role);
}

/* ---- logging (bounded) ---- */

static void log_mismatch(shadow_engine *sh, const char *op, const uint8_t *key, size_t len,
                         shadow_counter kind, molt_status p, molt_status s, int64_t now) {
    if (!log_enabled(MOLT_LOG_INFO)) return;
    uint64_t n = atomic_fetch_add_explicit(&sh->logged, 1, memory_order_relaxed);
    if (n >= SHADOW_LOG_FIRST) {
        if (!log_enabled(MOLT_LOG_DEBUG)) return;
        int64_t second = atomic_load_explicit(&sh->log_second, memory_order_relaxed);
        if (second != now &&
            atomic_compare_exchange_strong_explicit(&sh->log_second, &second, now,
                                                    memory_order_relaxed,
                                                    memory_order_relaxed))
            atomic_store_explicit(&sh->logged_this_second, 0, memory_order_relaxed);
        if (atomic_fetch_add_explicit(&sh->logged_this_second, 1, memory_order_relaxed) >=
            SHADOW_LOG_PER_SECOND)
            return;
    }
    char shown[MOLT_KEY_MAX * 4 + 1];
    size_t w = 0;
    for (size_t i = 0; i < len && w + 5 <= sizeof(shown); i++) {
        uint8_t c = key[i];
        if (c > 0x20 && c < 0x7F && c != '\\') shown[w++] = (char)c;
        else w += (size_t)snprintf(shown + w, sizeof(shown) - w, "\\x%02x", c);
    }
    shown[w] = '\0';
    log_msg(n < SHADOW_LOG_FIRST ? MOLT_LOG_INFO : MOLT_LOG_DEBUG,
            "shadow mismatch #%llu: %s %s: %s (primary status %d, shadow status %d)",
            (unsigned long long)n + 1, op, shown, counter_defs[kind].name + 7, (int)p, (int)s);
}

/* ---- comparing ---- */

/* What a read handed its sink: enough to compare without a copy. */
typedef struct read_capture {
    molt_value_sink sink; /* the caller's (primary only) */
    void *ctx;
    int seen;
    uint32_t flags;
    int64_t exptime;
    size_t len;
    uint64_t digest;
} read_capture;

/* A 64-bit digest of the value, 8 bytes a step. Equal values always agree;
 * different ones collide with negligible odds (a missed mismatch, never a
 * false one). */
static uint64_t value_digest(const uint8_t *v, size_t len) {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ len;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, v + i, 8);
        h = (h ^ w) * 0xFF51AFD7ED558CCDull;
        h ^= h >> 29;
    }
    uint64_t tail = 0;
    if (i < len) memcpy(&tail, v + i, len - i);
    h = (h ^ tail) * 0xC4CEB9FE1A85EC53ull;
    return h ^ (h >> 32);
}

static void capture_value(void *ctx, const molt_item_info *info, const uint8_t *value,
                          size_t value_len) {
    read_capture *c = ctx;
    if (c->sink) c->sink(c->ctx, info, value, value_len);
    c->seen = 1;
    c->flags = info ? info->flags : 0;
    c->exptime = info ? info->exptime : 0;
    c->len = value_len;
    c->digest = value_len && value ? value_digest(value, value_len) : 0;
}

static int ttl_differs(int64_t a, int64_t b) {
    if (a == 0 || b == 0) return a != b;
    return a > b ? a - b > 1 : b - a > 1;
}

/* The shadow could not do it: internal error or memory, unless the
 * primary failed alike. */
static int shadow_failed(molt_status p, molt_status s) {
    return s != p && (s == MOLT_INTERNAL || s == MOLT_NO_MEMORY || p == MOLT_INTERNAL ||
                      p == MOLT_NO_MEMORY);
}

/* Different statuses where exactly one engine lacked the key: explained
 * when that engine evicted the key since both last wrote it; anything
 * else is a status mismatch. */
static shadow_counter status_kind(shadow_engine *sh, uint64_t h, unsigned had, int p_missing,
                                  int s_missing) {
    if (s_missing && !p_missing && was_evicted(sh, h, had, SHADOW)) return SC_EVICTION_EXPLAINED;
    if (p_missing && !s_missing && was_evicted(sh, h, had, PRIMARY))
        return SC_EVICTION_EXPLAINED;
    return SC_MISMATCH_STATUS;
}

/* Whether a status says the key was missing: NOT_STORED for replace,
 * append and prepend, OK for an add (it stored because nothing was
 * there). */
static int key_missing(molt_status rc, int is_add) {
    if (is_add) return rc == MOLT_OK;
    return rc == MOLT_NOT_FOUND || rc == MOLT_NOT_STORED;
}

/* Count one comparison; kind SC_COUNT means they agreed. */
static void record(shadow_engine *sh, shadow_counter kind, const char *op, const uint8_t *key,
                   size_t len, molt_status p, molt_status s, int64_t now) {
    count(sh, SC_COMPARED);
    if (kind == SC_COUNT) return;
    count(sh, kind);
    if (kind != SC_EVICTION_EXPLAINED) log_mismatch(sh, op, key, len, kind, p, s, now);
}

static shadow_counter compare_statuses(shadow_engine *sh, uint64_t h, unsigned had,
                                       molt_status p, molt_status s, int is_add) {
    if (shadow_failed(p, s)) return SC_ERRORS;
    if (p != s) return status_kind(sh, h, had, key_missing(p, is_add), key_missing(s, is_add));
    return SC_COUNT;
}

/* ---- the operations ---- */

static molt_status shadow_meta_get(void *self, const uint8_t *key, size_t key_len, int64_t now,
                                   const molt_meta_get_opts *opts, molt_value_sink sink,
                                   void *ctx) {
    shadow_engine *sh = self;
    molt_storage *p = sh->engine[PRIMARY], *s = sh->engine[SHADOW];
    if (opts == NULL || sink == NULL || !key_ok(key, key_len))
        return p->ops->meta_get(p->self, key, key_len, now, opts, sink, ctx);
    shadow_key k = key_of(sh, key, key_len);
    shadow_stripe *st = k.stripe;
    read_capture pc = {sink, ctx, 0, 0, 0, 0, 0}, sc = {NULL, NULL, 0, 0, 0, 0, 0};
    pthread_mutex_lock(&st->lock);
    /* a vivifying or touching read is a write */
    unsigned had = opts->vivify || opts->touch ? take_marks(sh, k.hash) : 0;
    molt_status pr = p->ops->meta_get(p->self, key, key_len, now, opts, capture_value, &pc);
    molt_status sr = s->ops->meta_get(s->self, key, key_len, now, opts, capture_value, &sc);
    shadow_counter kind = compare_statuses(sh, k.hash, had, pr, sr, 0);
    if (kind == SC_COUNT && pr == MOLT_OK) {
        if (pc.len != sc.len || pc.digest != sc.digest) kind = SC_MISMATCH_VALUE;
        else if (pc.flags != sc.flags) kind = SC_MISMATCH_FLAGS;
        else if (ttl_differs(pc.exptime, sc.exptime)) kind = SC_MISMATCH_TTL;
    }
    settle_marks(sh, k.hash, had, pr, sr);
    pthread_mutex_unlock(&st->lock);
    record(sh, kind, "get", key, key_len, pr, sr, now);
    return pr;
}

static molt_status shadow_meta_store(void *self, const molt_meta_store_req *req, int64_t now,
                                     uint64_t *cas_out) {
    shadow_engine *sh = self;
    molt_storage *p = sh->engine[PRIMARY], *s = sh->engine[SHADOW];
    if (req == NULL || !key_ok(req->key, req->key_len))
        return p->ops->meta_store(p->self, req, now, cas_out);
    shadow_key k = key_of(sh, req->key, req->key_len);
    shadow_stripe *st = k.stripe;
    pthread_mutex_lock(&st->lock);
    unsigned had = take_marks(sh, k.hash);
    molt_status pr = p->ops->meta_store(p->self, req, now, cas_out);
    molt_status sr = pr;
    shadow_counter kind = SC_COUNT;
    int compared = 1, is_add = req->mode == MOLT_STORE_ADD;
    if (!req->has_compare_cas) {
        sr = s->ops->meta_store(s->self, req, now, NULL);
        kind = compare_statuses(sh, k.hash, had, pr, sr, is_add);
    } else if (pr == MOLT_OK) {
        /* cas numbers are each engine's own: mirror the primary's
         * acceptance as the same write without the comparison */
        molt_meta_store_req mirror = *req;
        mirror.has_compare_cas = 0;
        mirror.invalidate = 0;
        sr = s->ops->meta_store(s->self, &mirror, now, NULL);
        kind = compare_statuses(sh, k.hash, had, pr, sr, is_add);
    } else {
        compared = 0; /* refused by the primary: not applied to the shadow */
    }
    settle_marks(sh, k.hash, had, pr, sr);
    pthread_mutex_unlock(&st->lock);
    if (compared) record(sh, kind, "store", req->key, req->key_len, pr, sr, now);
    return pr;
}

static molt_status shadow_meta_delete(void *self, const uint8_t *key, size_t key_len,
                                      int64_t now, const molt_meta_delete_opts *opts) {
    shadow_engine *sh = self;
    molt_storage *p = sh->engine[PRIMARY], *s = sh->engine[SHADOW];
    if (opts == NULL || !key_ok(key, key_len))
        return p->ops->meta_delete(p->self, key, key_len, now, opts);
    shadow_key k = key_of(sh, key, key_len);
    shadow_stripe *st = k.stripe;
    pthread_mutex_lock(&st->lock);
    unsigned had = take_marks(sh, k.hash);
    molt_status pr = p->ops->meta_delete(p->self, key, key_len, now, opts);
    molt_status sr = pr;
    shadow_counter kind = SC_COUNT;
    int compared = pr == MOLT_OK || !opts->has_compare_cas;
    if (compared) {
        molt_meta_delete_opts mirror = *opts;
        mirror.has_compare_cas = 0;
        sr = s->ops->meta_delete(s->self, key, key_len, now, &mirror);
        kind = compare_statuses(sh, k.hash, had, pr, sr, 0);
    }
    settle_marks(sh, k.hash, had, pr, sr);
    pthread_mutex_unlock(&st->lock);
    if (compared) record(sh, kind, "delete", key, key_len, pr, sr, now);
    return pr;
}

static molt_status shadow_meta_arith(void *self, const uint8_t *key, size_t key_len,
                                     int64_t now, const molt_meta_arith_opts *opts,
                                     molt_meta_arith_result *out) {
    shadow_engine *sh = self;
    molt_storage *p = sh->engine[PRIMARY], *s = sh->engine[SHADOW];
    if (opts == NULL || out == NULL || !key_ok(key, key_len))
        return p->ops->meta_arith(p->self, key, key_len, now, opts, out);
    shadow_key k = key_of(sh, key, key_len);
    shadow_stripe *st = k.stripe;
    pthread_mutex_lock(&st->lock);
    unsigned had = take_marks(sh, k.hash);
    molt_status pr = p->ops->meta_arith(p->self, key, key_len, now, opts, out);
    molt_status sr = pr;
    shadow_counter kind = SC_COUNT;
    int compared = pr == MOLT_OK || !opts->has_compare_cas;
    if (compared) {
        molt_meta_arith_opts mirror = *opts;
        mirror.has_compare_cas = 0;
        molt_meta_arith_result sout = {0, 0, 0};
        sr = s->ops->meta_arith(s->self, key, key_len, now, &mirror, &sout);
        kind = compare_statuses(sh, k.hash, had, pr, sr, 0);
        if (kind == SC_COUNT && pr == MOLT_OK) {
            if (out->value != sout.value) kind = SC_MISMATCH_VALUE;
            else if (ttl_differs(out->exptime, sout.exptime)) kind = SC_MISMATCH_TTL;
        }
    }
    settle_marks(sh, k.hash, had, pr, sr);
    pthread_mutex_unlock(&st->lock);
    if (compared) record(sh, kind, "arith", key, key_len, pr, sr, now);
    return pr;
}

static molt_status shadow_flush(void *self, int64_t at, int64_t now) {
    shadow_engine *sh = self;
    molt_storage *p = sh->engine[PRIMARY], *s = sh->engine[SHADOW];
    molt_status pr = p->ops->flush(p->self, at, now);
    if (s->ops->flush(s->self, at, now) != pr) count(sh, SC_ERRORS);
    return pr;
}

/* stats, classes and walk are the primary's: what `stats`, `stats items`
 * and metadump show is what the clients are served from. */
static molt_status shadow_stats(void *self, int64_t now, molt_storage_stats *out) {
    molt_storage *p = ((shadow_engine *)self)->engine[PRIMARY];
    return p->ops->stats(p->self, now, out);
}

static molt_status shadow_classes(void *self, int64_t now, molt_class_sink sink, void *ctx) {
    molt_storage *p = ((shadow_engine *)self)->engine[PRIMARY];
    return p->ops->classes(p->self, now, sink, ctx);
}

static molt_status shadow_walk(void *self, int64_t now, molt_walk_cursor *cursor, size_t max,
                               molt_walk_sink sink, void *ctx) {
    molt_storage *p = ((shadow_engine *)self)->engine[PRIMARY];
    return p->ops->walk(p->self, now, cursor, max, sink, ctx);
}

/* The shadow engine's own figures, renamed shadow_<name>. */
typedef struct prefixed_sink {
    molt_figure_sink sink;
    void *ctx;
} prefixed_sink;

static void prefixed_figure(void *ctx, const molt_engine_figure *fig) {
    prefixed_sink *ps = ctx;
    char name[96];
    int n = snprintf(name, sizeof(name), "shadow_%s", fig->name);
    if (n < 0 || (size_t)n >= sizeof(name)) return;
    molt_engine_figure renamed = *fig;
    renamed.name = name;
    ps->sink(ps->ctx, &renamed);
}

static void figure(molt_figure_sink sink, void *ctx, const char *name, const char *help,
                   int counter, uint64_t value) {
    molt_engine_figure f = {name, help, counter, value};
    sink(ctx, &f);
}

static molt_status shadow_figures(void *self, int64_t now, molt_figure_sink sink, void *ctx) {
    shadow_engine *sh = self;
    molt_status rc = molt_storage_figures(sh->engine[PRIMARY], now, sink, ctx);
    if (rc != MOLT_OK) return rc;
    for (int c = 0; c < SC_COUNT; c++)
        figure(sink, ctx, counter_defs[c].name, counter_defs[c].help, 1,
               atomic_load_explicit(&sh->counters[c], memory_order_relaxed));
    molt_storage_stats ss;
    molt_storage_stats_read(sh->engine[SHADOW], now, &ss);
    figure(sink, ctx, "shadow_curr_items", "Items the shadow engine holds", 0, ss.curr_items);
    figure(sink, ctx, "shadow_bytes", "Bytes the shadow engine's items hold", 0, ss.bytes);
    figure(sink, ctx, "shadow_evictions", "Live items the shadow engine evicted", 1,
           ss.evictions);
    figure(sink, ctx, "shadow_memory_used", "Item memory the shadow engine allocated", 0,
           ss.memory_used);
    figure(sink, ctx, "shadow_memory_limit", "The shadow engine's memory limit", 0,
           ss.memory_limit);
    prefixed_sink ps = {sink, ctx};
    return molt_storage_figures(sh->engine[SHADOW], now, prefixed_figure, &ps);
}

static void shadow_destroy(void *self) {
    shadow_engine *sh = self;
    molt_storage_free(sh->engine[PRIMARY]);
    molt_storage_free(sh->engine[SHADOW]);
    for (unsigned i = 0; i < SHADOW_STRIPES; i++) pthread_mutex_destroy(&sh->stripes[i].lock);
    free(sh->evicted[PRIMARY]);
    free(sh->evicted[SHADOW]);
    free(sh);
}

static const molt_storage_ops shadow_ops = {
    .name = "shadow",
    .meta_get = shadow_meta_get,
    .meta_store = shadow_meta_store,
    .meta_delete = shadow_meta_delete,
    .meta_arith = shadow_meta_arith,
    .flush = shadow_flush,
    .stats = shadow_stats,
    .classes = shadow_classes,
    .walk = shadow_walk,
    .figures = shadow_figures,
    .destroy = shadow_destroy,
};

molt_status molt_shadow_open(const char *primary, const molt_storage_config *primary_cfg,
                             const char *shadow, const molt_storage_config *shadow_cfg,
                             molt_storage **out, const char **failed) {
    if (failed) *failed = NULL;
    if (primary == NULL || shadow == NULL || primary_cfg == NULL || shadow_cfg == NULL ||
        out == NULL)
        return MOLT_INVALID;
    shadow_engine *sh = calloc(1, sizeof(*sh));
    molt_storage *handle = malloc(sizeof(*handle));
    if (sh == NULL || handle == NULL) {
        free(sh);
        free(handle);
        return MOLT_NO_MEMORY;
    }
    for (unsigned i = 0; i < SHADOW_STRIPES; i++) pthread_mutex_init(&sh->stripes[i].lock, NULL);
    for (int r = 0; r < 2; r++) {
        sh->evicted[r] = calloc(SHADOW_EVICTED_BITS / 64, sizeof(*sh->evicted[r]));
        if (sh->evicted[r] == NULL) {
            shadow_destroy(sh);
            free(handle);
            return MOLT_NO_MEMORY;
        }
    }
    sh->forward_evict = primary_cfg->on_evict;
    sh->forward_evict_ctx = primary_cfg->on_evict_ctx;
    molt_storage_config pcfg = *primary_cfg, scfg = *shadow_cfg;
    pcfg.on_evict = primary_evicted;
    pcfg.on_evict_ctx = sh;
    scfg.on_evict = shadow_evicted;
    scfg.on_evict_ctx = sh;
    molt_status rc = molt_storage_open(primary, &pcfg, &sh->engine[PRIMARY]);
    if (rc != MOLT_OK) {
        if (failed) *failed = primary;
    } else if ((rc = molt_storage_open(shadow, &scfg, &sh->engine[SHADOW])) != MOLT_OK) {
        if (failed) *failed = shadow;
    }
    if (rc != MOLT_OK) {
        shadow_destroy(sh); /* frees whichever engine opened */
        free(handle);
        return rc;
    }
    sh->ops = shadow_ops;
    sh->ops.name = molt_storage_name(sh->engine[PRIMARY]);
    handle->ops = &sh->ops;
    handle->self = sh;
    *out = handle;
    return MOLT_OK;
}
