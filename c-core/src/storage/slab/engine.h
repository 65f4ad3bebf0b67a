/* engine.h - the slab engine's state and the internal calls between its
 * parts: items.c (link/unlink/liveness/flush), lru.c (per-class LRU lists),
 * alloc.c (pages, slab classes, allocation with reclaim/evict/reassign),
 * num.c (decimal values for incr/decr) and slab.c (the storage.h ops). All of
 * these run under the engine mutex. */
#ifndef MOLT_SLAB_ENGINE_H
#define MOLT_SLAB_ENGINE_H

#include <pthread.h>
#include <stdint.h>

#include "storage.h"
#include "storage/slab/hash.h"
#include "storage/slab/item.h"

#define SLAB_MAX_CLASSES 255 /* class ids fit the item's u8 */
#define SLAB_MIN_DATA 48     /* key+value bytes of the smallest class */
#define SLAB_MIN_PAGE (1024u * 1024u)
#define SLAB_LRU_SCAN 5      /* tail items inspected for expired ones */
#define SLAB_MAX_PENDING 8   /* delayed flushes remembered at once */
#define SLAB_HASH_POWER 16

typedef struct slab_class {
    uint32_t size;         /* chunk bytes */
    uint32_t perpage;      /* chunks per page */
    slab_item *free_head;  /* doubly linked through prev/next */
    slab_item *lru_head;   /* most recently used */
    slab_item *lru_tail;
    uint8_t *carve_ptr;    /* next never-used chunk of the newest page */
    uint8_t *carve_end;
    uint8_t *carve_page;
    uint64_t pages;
    uint64_t items;        /* linked items of this class */
} slab_class;

typedef struct slab_page {
    uint8_t *mem;
    unsigned clsid;
} slab_page;

typedef struct slab_engine {
    pthread_mutex_t lock;
    slab_hash hash;

    slab_class classes[SLAB_MAX_CLASSES];
    unsigned nclasses;
    size_t page_size;
    uint32_t item_size_max;
    uint64_t memory_limit; /* as configured, for stats */
    molt_evict_sink on_evict; /* storage.h: each evicted item, or NULL */
    void *on_evict_ctx;
    size_t max_pages;
    slab_page *pages;
    size_t npages;
    size_t pages_cap;
    size_t reassign_cursor;

    uint64_t next_cas;  /* the next unique handed out */
    uint64_t flush_cas; /* items with cas below this are flushed */
    int64_t pending[SLAB_MAX_PENDING]; /* delayed flush times, unordered */
    unsigned npending;
    int64_t pending_min;

    uint64_t unlinks; /* bumps on every unlink: stale-pointer detector */
    uint64_t curr_items;
    uint64_t total_items;
    uint64_t bytes;
    uint64_t evictions;
    uint64_t expired;
} slab_engine;

/* items.c */
int slab_item_live(const slab_engine *e, const slab_item *it, int64_t now);
/* Convert exptime to the stored form; 0 when it is already past at `now`. */
int slab_exptime_norm(int64_t exptime, int64_t now, uint32_t *out);
void slab_item_link(slab_engine *e, slab_item *it, uint64_t hv);
void slab_item_unlink(slab_engine *e, slab_item *it, uint64_t hv);
/* Unlink an item whose hash is not at hand (eviction paths). */
void slab_item_unlink_nohv(slab_engine *e, slab_item *it);
void slab_item_replace(slab_engine *e, slab_item *old, slab_item *nw,
                       uint64_t hv);
/* The live item for key or NULL; a dead one found is reclaimed. */
slab_item *slab_item_find(slab_engine *e, const uint8_t *key, size_t nkey,
                          uint64_t hv, int64_t now);
/* Apply delayed flushes that are due at `now`. */
void slab_flush_due(slab_engine *e, int64_t now);
void slab_flush_schedule(slab_engine *e, int64_t at, int64_t now);

/* lru.c */
void slab_lru_link(slab_class *c, slab_item *it);
void slab_lru_unlink(slab_class *c, slab_item *it);
void slab_lru_bump(slab_class *c, slab_item *it);

/* alloc.c */
int slab_classes_init(slab_engine *e, double factor);
/* A chunk for an item of `total` bytes (<= page_size), or NULL. Never
 * reclaims `protect`. May unlink other items (see e->unlinks). */
slab_item *slab_alloc(slab_engine *e, size_t total, int64_t now,
                      const slab_item *protect);
/* Return an unlinked item's chunk to its class. */
void slab_free(slab_engine *e, slab_item *it);
void slab_pages_release(slab_engine *e);

/* num.c */
/* Parse a stored incr/decr value: optional leading whitespace, digits, then
 * only whitespace; 0 when not a decimal u64. */
int slab_parse_u64(const uint8_t *p, size_t n, uint64_t *out);

#endif
