/* storage.h - the storage seam.
 *
 * The protocol layer reaches item storage only through these functions. An
 * engine (the C slab engine; the Rust seg engine in the mixed build) fills a
 * molt_storage_ops table with the general (meta) operations only; the
 * classic commands (get, gat, touch, set/add/replace/append/prepend/cas,
 * incr/decr, delete) are expressed once, over those, by this seam
 * (c-core/src/storage/classic.c). A molt_storage handle pairs the table with
 * the engine's private state.
 *
 * Contract every engine keeps:
 *  - Time is passed in: `now` is unix time in seconds, supplied by the caller.
 *    Engines never read a clock, so tests move time without sleeping.
 *  - Expiry: `exptime` is absolute unix seconds; 0 means never. An item is
 *    live while exptime == 0 || now < exptime. The protocol layer converts
 *    memcached's relative/absolute/negative forms before calling.
 *  - No pointer into engine memory outlives a call: reads hand the value to a
 *    caller-supplied sink while the engine holds its lock.
 *  - Engines are thread safe; the core calls them from any worker thread.
 *  - Outputs are written only when the call returns MOLT_OK.
 *
 * Read by bindgen: no static inline code and no function-like macros here.
 */
#ifndef MOLT_STORAGE_H
#define MOLT_STORAGE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Result codes shared by both sides of the boundary; 0 is success. */
typedef enum molt_status {
    MOLT_OK = 0,
    MOLT_NOT_FOUND = 1,   /* no live item under that key */
    MOLT_NOT_STORED = 2,  /* add on existing key, replace/append/prepend on missing */
    MOLT_EXISTS = 3,      /* cas unique did not match */
    MOLT_TOO_LARGE = 4,   /* molt_item_size() over the item limit */
    MOLT_NO_MEMORY = 5,   /* could not make room under the memory limit */
    MOLT_NON_NUMERIC = 6, /* incr/decr on a value that is not a decimal u64 */
    MOLT_INVALID = 7,     /* bad argument: NULL pointer, empty or over-long key */
    MOLT_INTERNAL = 8     /* engine failure (e.g. a caught panic) */
} molt_status;

/* How a write combines with what is stored. */
typedef enum molt_store_mode {
    MOLT_STORE_SET = 0,     /* store unconditionally */
    MOLT_STORE_ADD = 1,     /* only if no live item */
    MOLT_STORE_REPLACE = 2, /* only if a live item exists */
    MOLT_STORE_APPEND = 3,  /* add data after the live item's value; keeps flags/exptime */
    MOLT_STORE_PREPEND = 4, /* add data before the live item's value; keeps flags/exptime */
    MOLT_STORE_CAS = 5      /* only if the live item's cas equals the given cas
                               (molt_storage_store only: engines see SET
                               with compare_cas) */
} molt_store_mode;

/* Longest key the protocol allows (memcached's KEY_MAX_LENGTH). */
#define MOLT_KEY_MAX 250

/* The item size limit (molt_storage_config.item_size_max) is counted the
 * way memcached 1.6 counts it, so that exactly the values memcached accepts
 * are accepted by every engine: a 48-byte header, an 8-byte cas, the key
 * and a NUL, the value and its CRLF, and 4 bytes for non-zero flags. Both
 * engines apply it to stores and to append/prepend results. */
size_t molt_item_size(size_t key_len, uint32_t flags, size_t value_len);

/* A live item an engine removed to make room (memcached's `watch
 * evictions`). The key is valid for the call only. */
typedef struct molt_evicted_item {
    const uint8_t *key;
    size_t key_len;
    int64_t exptime;     /* absolute unix seconds, 0 = never */
    int64_t last_access; /* unix seconds */
    uint32_t class_id;   /* as in molt_class_row.id */
    uint64_t value_len;
    uint8_t fetched;     /* read at least once since stored */
} molt_evicted_item;

/* Receives each evicted item, under the engine lock: it must not call the
 * engine. */
typedef void (*molt_evict_sink)(void *ctx, const molt_evicted_item *item);

/* Engine construction parameters. */
typedef struct molt_storage_config {
    uint64_t memory_limit;  /* bytes the engine may use for items */
    uint32_t item_size_max; /* largest molt_item_size() accepted */
    double growth_factor;   /* slab class growth factor (slab only; 0 = default) */
    molt_evict_sink on_evict; /* NULL: evictions are not reported */
    void *on_evict_ctx;
} molt_storage_config;

/* What a read reports about an item besides its value. */
typedef struct molt_item_info {
    uint32_t flags;      /* client flags, opaque 32 bits */
    uint64_t cas;        /* unique of the current version */
    int64_t exptime;     /* absolute unix seconds, 0 = never */
    int64_t last_access; /* unix seconds of the access before this one (the
                            store time if never read) */
    uint8_t fetched;     /* read at least once before this call */
    uint8_t stale;       /* invalidated by a meta delete/store with I */
    uint8_t win;         /* this caller won the right to recache (meta W) */
    uint8_t win_taken;   /* a win was handed out earlier (meta Z) */
} molt_item_info;

/* ---- the meta protocol's extra semantics (memcached 1.6 mg/ms/md/ma) ----
 * "has_*" fields switch the matching value on. The win token: an item
 * hands out at most one win until it is stored again; a read wins when it
 * vivifies a missing item (N), when the item is stale, or when its
 * remaining TTL is below recache_ttl (R); later readers see win_taken. */

typedef struct molt_meta_get_opts {
    int touch;              /* T: set exptime to touch_exptime first */
    int64_t touch_exptime;
    int no_bump;            /* u: leave the item's recency untouched */
    int vivify;             /* N: on a miss create an empty item (flags 0,
                               exptime vivify_exptime) and win it */
    int64_t vivify_exptime;
    int recache;            /* R: win if 0 < remaining TTL < recache_ttl */
    int64_t recache_ttl;
    int has_new_cas;        /* E: cas given to an item this call creates */
    uint64_t new_cas;
    int no_win;             /* classic get/gat/touch: report the win state
                               but never hand out a win (stale items too) */
} molt_meta_get_opts;

typedef struct molt_meta_store_req {
    molt_store_mode mode;   /* SET, ADD, REPLACE, APPEND or PREPEND (cas is
                               SET with compare_cas; CAS is MOLT_INVALID) */
    const uint8_t *key;
    size_t key_len;
    const uint8_t *value;
    size_t value_len;
    uint32_t flags;
    int64_t exptime;
    int has_compare_cas;    /* C: only if the live item's cas equals it
                               (missing: MOLT_NOT_FOUND, other: MOLT_EXISTS) */
    uint64_t compare_cas;
    int has_new_cas;        /* E: the stored item gets this cas */
    uint64_t new_cas;
    int invalidate;         /* I: a compare_cas older than the item's cas
                               stores the value marked stale instead of
                               failing with MOLT_EXISTS */
    int vivify;             /* N: append/prepend to a missing key creates
                               it (exptime vivify_exptime) */
    int64_t vivify_exptime;
} molt_meta_store_req;

typedef struct molt_meta_delete_opts {
    int has_compare_cas;    /* C */
    uint64_t compare_cas;
    int has_new_cas;        /* E: with invalidate, the stale item's cas */
    uint64_t new_cas;
    int invalidate;         /* I: mark stale (new cas) instead of removing */
    int touch;              /* T: with invalidate, the stale item's exptime */
    int64_t touch_exptime;
    int clear_value;        /* x: keep the item, empty its value and flags */
} molt_meta_delete_opts;

typedef struct molt_meta_arith_opts {
    int incr;               /* M: incr (non-zero) or decr */
    uint64_t delta;         /* D */
    int has_compare_cas;    /* C */
    uint64_t compare_cas;
    int has_new_cas;        /* E */
    uint64_t new_cas;
    int vivify;             /* N: a missing key is created holding `initial`
                               (exptime vivify_exptime); no delta applied */
    int64_t vivify_exptime;
    uint64_t initial;       /* J */
    int touch;              /* T: also set exptime */
    int64_t touch_exptime;
} molt_meta_arith_opts;

/* What a meta arith leaves behind. */
typedef struct molt_meta_arith_result {
    uint64_t value;
    uint64_t cas;
    int64_t exptime;
} molt_meta_arith_result;

/* Engine counters; gauges are as of the call. */
typedef struct molt_storage_stats {
    uint64_t curr_items;   /* live and not-yet-reclaimed items */
    uint64_t total_items;  /* successful stores since start */
    uint64_t bytes;        /* bytes held by items (headers, keys, values) */
    uint64_t evictions;    /* live items removed to make room */
    uint64_t expired;      /* expired or flushed items reclaimed */
    uint64_t memory_used;  /* bytes of item memory allocated from the system */
    uint64_t memory_limit; /* the configured limit */
    uint64_t hash_buckets; /* current hash table size */
} molt_storage_stats;

/* Receives a value during a read, while the engine holds its lock. The
 * pointer is valid only for the duration of the call. */
typedef void (*molt_value_sink)(void *ctx, const molt_item_info *info,
                                const uint8_t *value, size_t value_len);

/* One row of an engine's per-class report (`stats items`, `stats slabs`).
 * The slab engine has a row per slab class that ever held a page; the seg
 * engine a row per TTL bucket that holds segments (see the README's stats
 * section for what each field means there). */
typedef struct molt_class_row {
    uint32_t id;              /* class id, from 1 */
    uint64_t chunk_size;      /* slab: chunk bytes; seg: segment bytes */
    uint64_t chunks_per_page; /* slab: chunks per page; seg: 1 */
    uint64_t pages;           /* pages (segments) the class holds */
    uint64_t chunks;          /* chunks the pages hold (seg: segments) */
    uint64_t used_chunks;     /* chunks holding an item (seg: segments in use) */
    uint64_t free_chunks;     /* chunks on the free list or never carved */
    uint64_t free_chunks_end; /* never-carved chunks of the newest page */
    uint64_t items;           /* items linked in the class */
    int64_t oldest_access;    /* last access of the class's least recently
                                 used item (unix seconds); 0 when empty */
} molt_class_row;

/* Receives one class row, under the engine lock. */
typedef void (*molt_class_sink)(void *ctx, const molt_class_row *row);

/* Where a walk over the items continues. Zero it to start; the engine
 * sets `done` when every item has been visited. Items stored, moved or
 * removed between slices may be visited once, twice or not at all (as
 * memcached's LRU crawler), never any other item. */
typedef struct molt_walk_cursor {
    uint64_t pos;   /* engine-defined position */
    uint64_t check; /* engine-defined: whether pos can be trusted as is */
    int done;
} molt_walk_cursor;

/* One live item as a walk visits it. The key is valid for the call only. */
typedef struct molt_walk_item {
    const uint8_t *key;
    size_t key_len;
    uint32_t flags;
    uint32_t class_id;   /* as in molt_class_row.id */
    uint64_t cas;
    int64_t exptime;     /* absolute unix seconds, 0 = never */
    int64_t last_access; /* unix seconds */
    uint64_t size;       /* molt_item_size() of the item (memcached's count) */
    uint8_t fetched;     /* read at least once since stored */
} molt_walk_item;

/* Receives one item during a walk, under the engine lock. */
typedef void (*molt_walk_sink)(void *ctx, const molt_walk_item *item);

/* One figure an engine reports about itself beyond molt_storage_stats (seg:
 * segments used and free, merges, evictions and expirations by cause, hash
 * table load). `stats` prints it as `STAT <name> <value>`, /metrics as
 * molt_<name> (a counter with _total). The strings are the engine's, valid
 * for the duration of the call. */
typedef struct molt_engine_figure {
    const char *name; /* e.g. "seg_merges": lower case, digits, '_' */
    const char *help; /* one line for /metrics */
    int counter;      /* 1: only grows; 0: a gauge */
    uint64_t value;
} molt_engine_figure;

/* Receives one figure, under the engine lock. */
typedef void (*molt_figure_sink)(void *ctx, const molt_engine_figure *figure);

/* The table an engine implements. `self` is the engine's private state.
 * Every operation checks its own arguments (MOLT_INVALID for a NULL pointer
 * or a bad key) and locks what it needs. */
typedef struct molt_storage_ops {
    const char *name;
    /* Read a live item (see molt_meta_get_opts); the value goes to sink. */
    molt_status (*meta_get)(void *self, const uint8_t *key, size_t key_len,
                            int64_t now, const molt_meta_get_opts *opts,
                            molt_value_sink sink, void *ctx);
    /* Write as req says; on success *cas_out (if not NULL) holds the new
     * item's cas. The item size limit applies to the value and to an
     * append/prepend result (MOLT_TOO_LARGE). */
    molt_status (*meta_store)(void *self, const molt_meta_store_req *req,
                              int64_t now, uint64_t *cas_out);
    /* Delete, invalidate or empty a live item. */
    molt_status (*meta_delete)(void *self, const uint8_t *key, size_t key_len,
                               int64_t now, const molt_meta_delete_opts *opts);
    /* incr wraps at 2^64; decr floors at 0. The stored value becomes the
     * decimal result; flags kept. */
    molt_status (*meta_arith)(void *self, const uint8_t *key, size_t key_len,
                              int64_t now, const molt_meta_arith_opts *opts,
                              molt_meta_arith_result *out);
    /* Invalidate every item stored before `at` once now >= at (at <= now:
     * immediately). */
    molt_status (*flush)(void *self, int64_t at, int64_t now);
    /* Fills out, or returns MOLT_INVALID / MOLT_INTERNAL leaving it as is. */
    molt_status (*stats)(void *self, int64_t now, molt_storage_stats *out);
    /* One row per class, in id order, to sink (under the engine lock). */
    molt_status (*classes)(void *self, int64_t now, molt_class_sink sink,
                           void *ctx);
    /* Visit at most `max` live items from *cursor, in one critical
     * section, then leave the cursor where the next slice starts. */
    molt_status (*walk)(void *self, int64_t now, molt_walk_cursor *cursor,
                        size_t max, molt_walk_sink sink, void *ctx);
    /* The engine's own figures, in a fixed order, to sink (under the engine
     * lock). NULL: the engine has none beyond molt_storage_stats. */
    molt_status (*figures)(void *self, int64_t now, molt_figure_sink sink,
                           void *ctx);
    void (*destroy)(void *self);
    /* Warm restart (memcached's -e memory file). restore: at start, before
     * any other operation, load what a graceful stop saved in `path`, then
     * mark the file in use, so that a stop without a save leaves it
     * refused. A missing file restores nothing (MOLT_OK); an incompatible,
     * unclean or damaged one nothing or only what passes its checksums
     * (MOLT_NOT_STORED: worth a warning); the start goes on. save: at a
     * graceful stop, after the last operation. Both put one log line in
     * note (NUL-terminated, cut to note_len) and return MOLT_INTERNAL when
     * the file cannot be written. NULL: the engine keeps nothing across a
     * restart. */
    molt_status (*restore)(void *self, const char *path, int64_t now,
                           char *note, size_t note_len);
    molt_status (*save)(void *self, const char *path, int64_t now,
                        char *note, size_t note_len);
} molt_storage_ops;

/* An engine instance: its table and its state. */
typedef struct molt_storage molt_storage;

/* Names of the engines compiled into this binary, NULL-terminated. */
const char *const *molt_storage_engines(void);

/* Non-zero when `name` is an engine this binary lacks because it is built
 * without Rust (the C-only molt-c). */
int molt_storage_engine_needs_rust(const char *name);

/* Open engine `name` ("slab", ...). Returns MOLT_INVALID for an unknown
 * name or bad config, MOLT_NO_MEMORY when allocation fails. */
molt_status molt_storage_open(const char *name, const molt_storage_config *cfg,
                              molt_storage **out);
/* Close and free; NULL is a no-op. */
void molt_storage_free(molt_storage *st);
const char *molt_storage_name(const molt_storage *st);

/* The classic commands, over the meta operations. get, gat and touch are
 * reads that never win; touch and gat count as an access. store with
 * MOLT_STORE_CAS is SET with compare_cas = cas (missing: MOLT_NOT_FOUND);
 * append/prepend keep the item's flags and exptime. */
molt_status molt_storage_get(molt_storage *st, const uint8_t *key,
                             size_t key_len, int64_t now, molt_value_sink sink,
                             void *ctx);
molt_status molt_storage_get_touch(molt_storage *st, const uint8_t *key,
                                   size_t key_len, int64_t exptime,
                                   int64_t now, molt_value_sink sink,
                                   void *ctx);
molt_status molt_storage_store(molt_storage *st, molt_store_mode mode,
                               const uint8_t *key, size_t key_len,
                               const uint8_t *value, size_t value_len,
                               uint32_t flags, int64_t exptime, uint64_t cas,
                               int64_t now, uint64_t *cas_out);
molt_status molt_storage_arith(molt_storage *st, const uint8_t *key,
                               size_t key_len, int incr, uint64_t delta,
                               int64_t now, uint64_t *value_out,
                               uint64_t *cas_out);
molt_status molt_storage_remove(molt_storage *st, const uint8_t *key,
                                size_t key_len, int64_t now);
molt_status molt_storage_touch(molt_storage *st, const uint8_t *key,
                               size_t key_len, int64_t exptime, int64_t now);
molt_status molt_storage_flush(molt_storage *st, int64_t at, int64_t now);
void molt_storage_stats_read(molt_storage *st, int64_t now,
                             molt_storage_stats *out);
molt_status molt_storage_classes(molt_storage *st, int64_t now,
                                 molt_class_sink sink, void *ctx);
molt_status molt_storage_walk(molt_storage *st, int64_t now,
                              molt_walk_cursor *cursor, size_t max,
                              molt_walk_sink sink, void *ctx);
/* The engine's own figures to sink; MOLT_OK with none for an engine that
 * has no figures slot. */
molt_status molt_storage_figures(molt_storage *st, int64_t now,
                                 molt_figure_sink sink, void *ctx);
/* The engine's restore and save (see molt_storage_ops); MOLT_INVALID for
 * an engine without them, with note empty. */
molt_status molt_storage_restore(molt_storage *st, const char *path, int64_t now,
                                 char *note, size_t note_len);
molt_status molt_storage_save(molt_storage *st, const char *path, int64_t now,
                              char *note, size_t note_len);

molt_status molt_storage_meta_get(molt_storage *st, const uint8_t *key,
                                  size_t key_len, int64_t now,
                                  const molt_meta_get_opts *opts,
                                  molt_value_sink sink, void *ctx);
molt_status molt_storage_meta_store(molt_storage *st,
                                    const molt_meta_store_req *req,
                                    int64_t now, uint64_t *cas_out);
molt_status molt_storage_meta_delete(molt_storage *st, const uint8_t *key,
                                     size_t key_len, int64_t now,
                                     const molt_meta_delete_opts *opts);
molt_status molt_storage_meta_arith(molt_storage *st, const uint8_t *key,
                                    size_t key_len, int64_t now,
                                    const molt_meta_arith_opts *opts,
                                    molt_meta_arith_result *out);

#ifdef __cplusplus
}
#endif
#endif
