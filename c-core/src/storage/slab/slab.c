/* slab.c - the slab engine behind storage.h: argument checks, locking and
 * the semantics of each operation (memcached 1.6). Memory, items and the
 * hash table live in alloc.c, items.c, lru.c and hash.c. */
#include "storage/slab/slab.h"

#include <stdlib.h>
#include <string.h>

#include "storage/slab/engine.h"
#include "util/numparse.h"

#define DEFAULT_ITEM_MAX (1024u * 1024u)
#define LARGEST_ITEM_MAX (1024u * 1024u * 1024u)

static int bad_key(const uint8_t *key, size_t key_len) {
    return key == NULL || key_len == 0 || key_len > MOLT_KEY_MAX;
}

static void lock(slab_engine *e, int64_t now) {
    pthread_mutex_lock(&e->lock);
    slab_flush_due(e, now);
}

static void unlock(slab_engine *e) { pthread_mutex_unlock(&e->lock); }

/* ---- meta state of an item ---- */

static uint32_t atime_of(int64_t now) {
    if (now < 0) return 0;
    if (now > (int64_t)UINT32_MAX) return UINT32_MAX;
    return (uint32_t)now;
}

/* Fill the parts of a fresh version (not its key or value). */
static void item_init(slab_item *it, size_t key_len, size_t nbytes,
                      uint32_t flags, uint32_t exp, uint64_t cas, int64_t now,
                      uint8_t mflags) {
    it->nkey = (uint8_t)key_len;
    it->nbytes = (uint32_t)nbytes;
    it->flags = flags;
    it->exptime = exp;
    it->cas = cas;
    it->atime = atime_of(now);
    it->mflags = mflags;
}

/* A read or touch of a live item: recency, fetched, last access. */
static void item_accessed(slab_engine *e, slab_item *it, int64_t now) {
    it->mflags |= SLAB_META_FETCHED;
    it->atime = atime_of(now);
    slab_lru_bump(&e->classes[it->clsid], it);
}

/* The cas for a new version: the given one (meta E) or the next. */
static uint64_t cas_take(slab_engine *e, int has_given, uint64_t given) {
    return has_given ? given : e->next_cas++;
}

static const uint8_t empty_value[1];

/* ---- reads (the seam's get, gat and touch are meta gets) ---- */

/* Miss with N: create an empty item (won) and serve it. Under the lock. */
static molt_status vivify_get(slab_engine *e, const uint8_t *key,
                              size_t key_len, uint64_t hv, int64_t now,
                              const molt_meta_get_opts *o,
                              molt_value_sink sink, void *ctx) {
    uint32_t exp = 0;
    int keep = slab_exptime_norm(o->vivify_exptime, now, &exp);
    slab_item *it = NULL;
    if (keep) {
        it = slab_alloc(e, slab_item_total(key_len, 0), now, NULL);
        if (it == NULL) return MOLT_NO_MEMORY;
    }
    uint64_t cas = cas_take(e, o->has_new_cas, o->new_cas);
    e->total_items++;
    if (it != NULL) {
        /* This read is its first access unless it asked for no bump. */
        item_init(it, key_len, 0, 0, exp, cas, now,
                  SLAB_META_WON | (o->no_bump ? 0 : SLAB_META_FETCHED));
        memcpy(slab_item_key(it), key, key_len);
        slab_item_link(e, it, hv);
    }
    molt_item_info info = {0};
    info.cas = cas;
    info.exptime = keep ? (int64_t)exp : o->vivify_exptime;
    info.last_access = now;
    info.win = 1;
    sink(ctx, &info, empty_value, 0);
    return MOLT_OK;
}

static molt_status slab_meta_get(void *self, const uint8_t *key,
                                 size_t key_len, int64_t now,
                                 const molt_meta_get_opts *o,
                                 molt_value_sink sink, void *ctx) {
    slab_engine *e = self;
    if (e == NULL || o == NULL || sink == NULL || bad_key(key, key_len))
        return MOLT_INVALID;
    uint64_t hv = slab_hash_key(&e->hash, key, key_len);
    lock(e, now);
    slab_item *it = slab_item_find(e, key, key_len, hv, now);
    if (it == NULL) {
        molt_status rc = MOLT_NOT_FOUND;
        if (o->vivify) rc = vivify_get(e, key, key_len, hv, now, o, sink, ctx);
        unlock(e);
        return rc;
    }
    int keep = 1;
    molt_item_info info = {0};
    info.flags = it->flags;
    info.cas = it->cas;
    info.exptime = (int64_t)it->exptime;
    info.last_access = (int64_t)it->atime;
    info.fetched = (it->mflags & SLAB_META_FETCHED) != 0;
    info.stale = (it->mflags & SLAB_META_STALE) != 0;
    info.win_taken = (it->mflags & SLAB_META_WON) != 0;
    if (o->touch) {
        uint32_t exp = 0;
        keep = slab_exptime_norm(o->touch_exptime, now, &exp);
        it->exptime = exp;
        info.exptime = keep ? (int64_t)exp : o->touch_exptime;
    }
    int recache = o->recache && info.exptime != 0 &&
                  info.exptime - now < o->recache_ttl;
    info.win = !o->no_win && !info.win_taken && (info.stale || recache);
    sink(ctx, &info, slab_item_value(it), it->nbytes);
    if (keep) {
        if (info.win) it->mflags |= SLAB_META_WON;
        if (!o->no_bump) item_accessed(e, it, now);
    } else { /* gat/touch with a past time: served once, then gone */
        slab_item_unlink(e, it, hv);
        slab_free(e, it);
        e->expired++;
    }
    unlock(e);
    return MOLT_OK;
}

/* ---- writes: set/add/replace/append/prepend (cas is set with compare_cas) */

static molt_status slab_meta_store(void *self, const molt_meta_store_req *req,
                                   int64_t now, uint64_t *cas_out) {
    slab_engine *e = self;
    if (e == NULL || req == NULL) return MOLT_INVALID;
    const uint8_t *key = req->key, *value = req->value;
    size_t key_len = req->key_len, value_len = req->value_len;
    if (bad_key(key, key_len) || (value == NULL && value_len > 0) ||
        (unsigned)req->mode > MOLT_STORE_PREPEND)
        return MOLT_INVALID;
    uint32_t flags = req->flags;
    if (molt_item_size(key_len, flags, value_len) > e->item_size_max)
        return MOLT_TOO_LARGE;
    molt_store_mode mode = req->mode;
    int64_t exptime = req->exptime;
    uint64_t hv = slab_hash_key(&e->hash, key, key_len);
    molt_status rc = MOLT_OK;
    lock(e, now);
    slab_item *old = slab_item_find(e, key, key_len, hv, now);
    size_t nbytes = value_len;
    uint32_t exp = 0;
    int keep_exp = 0; /* exp is taken from the old item as is */
    int combine = 0;  /* append/prepend to the old value */
    uint8_t carry = 0; /* meta bits the new version keeps (a stale store) */
    switch (mode) {
    case MOLT_STORE_SET:
    case MOLT_STORE_REPLACE:
        if (req->has_compare_cas) {
            if (old == NULL) {
                rc = MOLT_NOT_FOUND;
            } else if (old->cas != req->compare_cas) {
                if (req->invalidate && req->compare_cas < old->cas) {
                    /* An older writer under invalidation: stored, but
                     * stale, keeping the exptime and the win state. */
                    keep_exp = 1;
                    exp = old->exptime;
                    carry = SLAB_META_STALE | (old->mflags & SLAB_META_WON);
                } else {
                    rc = MOLT_EXISTS;
                }
            }
        } else if (mode == MOLT_STORE_REPLACE && old == NULL) {
            rc = MOLT_NOT_STORED;
        }
        break;
    case MOLT_STORE_ADD:
        if (old != NULL) {
            slab_lru_bump(&e->classes[old->clsid], old);
            rc = MOLT_NOT_STORED;
        }
        break;
    case MOLT_STORE_APPEND:
    case MOLT_STORE_PREPEND:
        if (old == NULL) {
            if (req->vivify) exptime = req->vivify_exptime;
            else rc = MOLT_NOT_STORED;
        } else if (req->has_compare_cas && old->cas != req->compare_cas) {
            rc = MOLT_EXISTS;
        } else if (molt_item_size(key_len, old->flags,
                                  (size_t)old->nbytes + value_len) >
                   e->item_size_max) {
            rc = MOLT_TOO_LARGE; /* the result, counted as memcached does */
        } else {
            combine = 1;
            keep_exp = 1;
            nbytes = old->nbytes + value_len;
            flags = old->flags;
            exp = old->exptime;
        }
        break;
    default: /* refused above */
        break;
    }
    if (rc != MOLT_OK) goto out;
    uint64_t new_cas;
    if (!keep_exp && !slab_exptime_norm(exptime, now, &exp)) {
        /* Already expired: the store only removes the old item. */
        new_cas = cas_take(e, req->has_new_cas, req->new_cas);
        e->total_items++;
        if (old != NULL) {
            slab_item_unlink(e, old, hv);
            slab_free(e, old);
        }
        goto ok;
    }
    uint64_t unlinks = e->unlinks;
    slab_item *it = slab_alloc(e, slab_item_total(key_len, nbytes), now,
                               combine ? old : NULL);
    if (it == NULL) {
        rc = MOLT_NO_MEMORY;
        goto out;
    }
    if (!combine && unlinks != e->unlinks) /* making room may have taken old */
        old = slab_hash_find(&e->hash, key, key_len, hv);
    new_cas = cas_take(e, req->has_new_cas, req->new_cas);
    item_init(it, key_len, nbytes, flags, exp, new_cas, now, carry);
    memcpy(slab_item_key(it), key, key_len);
    uint8_t *dst = slab_item_value(it);
    if (combine && mode == MOLT_STORE_APPEND) {
        memcpy(dst, slab_item_value(old), old->nbytes);
        if (value_len) memcpy(dst + old->nbytes, value, value_len);
    } else if (combine) {
        if (value_len) memcpy(dst, value, value_len);
        memcpy(dst + value_len, slab_item_value(old), old->nbytes);
    } else if (value_len) {
        memcpy(dst, value, value_len);
    }
    if (old != NULL) {
        slab_item_replace(e, old, it, hv);
        slab_free(e, old);
    } else {
        slab_item_link(e, it, hv);
    }
    e->total_items++;
ok:
    if (cas_out != NULL) *cas_out = new_cas;
out:
    unlock(e);
    return rc;
}

/* ---- incr/decr ---- */

static molt_status slab_meta_arith(void *self, const uint8_t *key,
                                   size_t key_len, int64_t now,
                                   const molt_meta_arith_opts *o,
                                   molt_meta_arith_result *out) {
    slab_engine *e = self;
    if (e == NULL || o == NULL || out == NULL || bad_key(key, key_len))
        return MOLT_INVALID;
    uint64_t hv = slab_hash_key(&e->hash, key, key_len);
    molt_status rc = MOLT_OK;
    lock(e, now);
    slab_item *old = slab_item_find(e, key, key_len, hv, now);
    uint64_t v;
    char digits[20];
    size_t n;
    uint32_t exp = 0;
    molt_meta_arith_result res;
    if (old == NULL) {
        if (!o->vivify) {
            rc = MOLT_NOT_FOUND;
            goto out;
        }
        /* Created holding `initial`; no delta applied. */
        n = format_u64(digits, o->initial);
        int keep = slab_exptime_norm(o->vivify_exptime, now, &exp);
        slab_item *it = NULL;
        if (keep) {
            it = slab_alloc(e, slab_item_total(key_len, n), now, NULL);
            if (it == NULL) {
                rc = MOLT_NO_MEMORY;
                goto out;
            }
        }
        res.value = o->initial;
        res.cas = cas_take(e, o->has_new_cas, o->new_cas);
        res.exptime = keep ? (int64_t)exp : o->vivify_exptime;
        e->total_items++;
        if (it != NULL) {
            item_init(it, key_len, n, 0, exp, res.cas, now, 0);
            memcpy(slab_item_key(it), key, key_len);
            memcpy(slab_item_value(it), digits, n);
            slab_item_link(e, it, hv);
        }
        goto done;
    }
    /* memcached refuses an empty value before it compares the cas */
    if (old->nbytes == 0) {
        rc = MOLT_NON_NUMERIC;
        goto out;
    }
    if (o->has_compare_cas && old->cas != o->compare_cas) {
        rc = MOLT_EXISTS;
        goto out;
    }
    if (!slab_parse_u64(slab_item_value(old), old->nbytes, &v)) {
        rc = MOLT_NON_NUMERIC;
        goto out;
    }
    if (o->incr) v += o->delta; /* wraps at 2^64 */
    else v = v < o->delta ? 0 : v - o->delta;
    n = format_u64(digits, v);
    exp = old->exptime;
    int keep = 1;
    if (o->touch) keep = slab_exptime_norm(o->touch_exptime, now, &exp);
    res.value = v;
    res.exptime = keep ? (int64_t)exp : o->touch_exptime;
    if (!keep) { /* touched into the past: the result is reported, then gone */
        res.cas = cas_take(e, o->has_new_cas, o->new_cas);
        slab_item_unlink(e, old, hv);
        slab_free(e, old);
        e->expired++;
        goto done;
    }
    slab_item *it = old;
    /* memcached rewrites a shorter number in place, padded with spaces to
     * the old length ("10" decremented reads "9 ") */
    size_t len = n < old->nbytes ? old->nbytes : n;
    if (len != old->nbytes) {
        it = slab_alloc(e, slab_item_total(key_len, len), now, old);
        if (it == NULL) {
            rc = MOLT_NO_MEMORY;
            goto out;
        }
        memcpy(slab_item_key(it), key, key_len);
    }
    /* A new version: fresh meta state, in place when the length allows. */
    res.cas = cas_take(e, o->has_new_cas, o->new_cas);
    item_init(it, key_len, len, old->flags, exp, res.cas, now, 0);
    memcpy(slab_item_value(it), digits, n);
    memset(slab_item_value(it) + n, ' ', len - n);
    if (it != old) {
        slab_item_replace(e, old, it, hv);
        slab_free(e, old);
    } else {
        slab_lru_bump(&e->classes[it->clsid], it);
    }
done:
    *out = res;
out:
    unlock(e);
    return rc;
}

/* ---- delete, invalidate (mark stale), clear value ---- */

static molt_status slab_meta_delete(void *self, const uint8_t *key,
                                    size_t key_len, int64_t now,
                                    const molt_meta_delete_opts *o) {
    slab_engine *e = self;
    if (e == NULL || o == NULL || bad_key(key, key_len)) return MOLT_INVALID;
    uint64_t hv = slab_hash_key(&e->hash, key, key_len);
    molt_status rc = MOLT_OK;
    lock(e, now);
    slab_item *it = slab_item_find(e, key, key_len, hv, now);
    if (it == NULL) {
        rc = MOLT_NOT_FOUND;
        goto out;
    }
    if (o->has_compare_cas && it->cas != o->compare_cas) {
        rc = MOLT_EXISTS;
        goto out;
    }
    uint32_t exp = it->exptime;
    if (!(o->invalidate || o->clear_value) ||
        (o->touch && !slab_exptime_norm(o->touch_exptime, now, &exp))) {
        slab_item_unlink(e, it, hv);
        slab_free(e, it);
        if (o->invalidate || o->clear_value) e->expired++; /* touched away */
        goto out;
    }
    if (o->clear_value) {
        /* A new, empty version: fresh meta state, the same cas (or E). */
        slab_item *nw = slab_alloc(e, slab_item_total(key_len, 0), now, it);
        if (nw == NULL) {
            rc = MOLT_NO_MEMORY;
            goto out;
        }
        item_init(nw, key_len, 0, 0, exp,
                  o->has_new_cas ? o->new_cas : it->cas, now, 0);
        memcpy(slab_item_key(nw), key, key_len);
        slab_item_replace(e, it, nw, hv);
        slab_free(e, it);
        it = nw;
    }
    it->exptime = exp;
    if (o->invalidate) { /* stale with a new cas; the next reader may win */
        it->mflags = (uint8_t)((it->mflags | SLAB_META_STALE) & ~SLAB_META_WON);
        it->cas = cas_take(e, o->has_new_cas, o->new_cas);
    }
out:
    unlock(e);
    return rc;
}

static molt_status slab_flush(void *self, int64_t at, int64_t now) {
    slab_engine *e = self;
    if (e == NULL) return MOLT_INVALID;
    lock(e, now);
    slab_flush_schedule(e, at, now);
    unlock(e);
    return MOLT_OK;
}

static molt_status slab_stats(void *self, int64_t now,
                              molt_storage_stats *out) {
    slab_engine *e = self;
    if (e == NULL || out == NULL) return MOLT_INVALID;
    lock(e, now);
    out->curr_items = e->curr_items;
    out->total_items = e->total_items;
    out->bytes = e->bytes;
    out->evictions = e->evictions;
    out->expired = e->expired;
    out->memory_used = (uint64_t)e->npages * e->page_size;
    out->memory_limit = e->memory_limit;
    out->hash_buckets = slab_hash_buckets(&e->hash);
    unlock(e);
    return MOLT_OK;
}

static molt_status slab_classes(void *self, int64_t now, molt_class_sink sink,
                                void *ctx) {
    slab_engine *e = self;
    if (e == NULL || sink == NULL) return MOLT_INVALID;
    lock(e, now);
    for (unsigned i = 0; i < e->nclasses; i++) {
        const slab_class *c = &e->classes[i];
        if (c->pages == 0) continue;
        uint64_t chunks = c->pages * c->perpage;
        uint64_t end = c->carve_page ? (uint64_t)(c->carve_end - c->carve_ptr) / c->size : 0;
        molt_class_row row = {
            .id = i + 1,
            .chunk_size = c->size,
            .chunks_per_page = c->perpage,
            .pages = c->pages,
            .chunks = chunks,
            .used_chunks = c->items,
            .free_chunks = chunks - c->items - end,
            .free_chunks_end = end,
            .items = c->items,
            .oldest_access = c->lru_tail ? (int64_t)c->lru_tail->atime : 0,
        };
        sink(ctx, &row);
    }
    unlock(e);
    return MOLT_OK;
}

/* Chunks of page p that were ever carved (the rest hold no item header). */
static size_t page_carved(const slab_engine *e, const slab_page *p) {
    const slab_class *c = &e->classes[p->clsid];
    if (c->carve_page == p->mem) return (size_t)(c->carve_ptr - p->mem) / c->size;
    return c->perpage;
}

/* The cursor is page index << 32 | chunk index within the page. A slice
 * also ends after SLAB_WALK_SCAN chunks, so a sparse cache is walked in
 * short critical sections too. */
#define SLAB_WALK_SCAN 16384
static molt_status slab_walk(void *self, int64_t now, molt_walk_cursor *cur,
                             size_t max, molt_walk_sink sink, void *ctx) {
    slab_engine *e = self;
    if (e == NULL || cur == NULL || sink == NULL) return MOLT_INVALID;
    lock(e, now);
    size_t page = (size_t)(cur->pos >> 32), chunk = (size_t)(cur->pos & 0xffffffffu);
    size_t seen = 0, budget = SLAB_WALK_SCAN; /* chunks looked at */
    for (; page < e->npages && seen < max && budget > 0; page++, chunk = 0) {
        const slab_page *p = &e->pages[page];
        const slab_class *c = &e->classes[p->clsid];
        size_t carved = page_carved(e, p);
        for (; chunk < carved && seen < max && budget > 0; chunk++, budget--) {
            slab_item *it = (slab_item *)(p->mem + chunk * c->size);
            if (!(it->iflags & SLAB_ITEM_LINKED) || !slab_item_live(e, it, now)) continue;
            molt_walk_item w = {
                .key = slab_item_key(it),
                .key_len = it->nkey,
                .flags = it->flags,
                .class_id = (uint32_t)it->clsid + 1,
                .cas = it->cas,
                .exptime = it->exptime,
                .last_access = it->atime,
                .size = molt_item_size(it->nkey, it->flags, it->nbytes),
                .fetched = (it->mflags & SLAB_META_FETCHED) != 0,
            };
            sink(ctx, &w);
            seen++;
        }
        if (chunk < carved) break; /* the slice ended inside this page */
    }
    cur->done = page >= e->npages;
    cur->pos = ((uint64_t)page << 32) | chunk;
    unlock(e);
    return MOLT_OK;
}

static void slab_destroy(void *self) {
    slab_engine *e = self;
    if (e == NULL) return;
    slab_pages_release(e);
    slab_hash_free(&e->hash);
    pthread_mutex_destroy(&e->lock);
    free(e);
}

molt_status molt_slab_create(const molt_storage_config *cfg, void **self_out) {
    if (cfg == NULL || self_out == NULL) return MOLT_INVALID;
    uint32_t item_max = cfg->item_size_max ? cfg->item_size_max : DEFAULT_ITEM_MAX;
    if (item_max > LARGEST_ITEM_MAX) return MOLT_INVALID;

    slab_engine *e = calloc(1, sizeof(*e));
    if (e == NULL) return MOLT_NO_MEMORY;
    /* molt_item_size() counts more than our header + key + value, so an
     * accepted item always fits a chunk of align8(item_max) bytes. */
    size_t largest = ((size_t)item_max + 7) & ~(size_t)7;
    e->page_size = largest > SLAB_MIN_PAGE ? largest : SLAB_MIN_PAGE;
    e->item_size_max = item_max;
    e->memory_limit = cfg->memory_limit;
    e->on_evict = cfg->on_evict;
    e->on_evict_ctx = cfg->on_evict_ctx;
    uint64_t max_pages = cfg->memory_limit / e->page_size;
    if (max_pages > SIZE_MAX / e->page_size) max_pages = SIZE_MAX / e->page_size;
    e->max_pages = max_pages ? (size_t)max_pages : 1;
    e->next_cas = 1;
    /* chunk_size_next() takes 0, < 1.01 and NaN as the default factor */
    slab_classes_init(e, cfg->growth_factor);
    if (slab_hash_init(&e->hash, SLAB_HASH_POWER,
                       (uint64_t)(uintptr_t)e ^ 0x9e3779b97f4a7c15ull) != 0) {
        free(e);
        return MOLT_NO_MEMORY;
    }
    if (pthread_mutex_init(&e->lock, NULL) != 0) {
        slab_hash_free(&e->hash);
        free(e);
        return MOLT_INTERNAL;
    }
    *self_out = e;
    return MOLT_OK;
}

const molt_storage_ops molt_slab_ops = {
    .name = "slab",
    .meta_get = slab_meta_get,
    .meta_store = slab_meta_store,
    .meta_delete = slab_meta_delete,
    .meta_arith = slab_meta_arith,
    .flush = slab_flush,
    .stats = slab_stats,
    .classes = slab_classes,
    .walk = slab_walk,
    .destroy = slab_destroy,
};
