/* slab.c - the slab engine behind storage.h: argument checks, locking and
 * the semantics of each operation (memcached 1.6). Memory, items and the
 * hash table live in alloc.c, items.c, lru.c and hash.c. */
#include "slab/slab.h"

#include <stdlib.h>
#include <string.h>

#include "slab/engine.h"

#define DEFAULT_ITEM_MAX (1024u * 1024u)
#define LARGEST_ITEM_MAX (1024u * 1024u * 1024u)
#define DEFAULT_FACTOR 1.25

static int bad_key(const uint8_t *key, size_t key_len) {
    return key == NULL || key_len == 0 || key_len > MOLT_KEY_MAX;
}

static void lock(slab_engine *e, int64_t now) {
    pthread_mutex_lock(&e->lock);
    slab_flush_due(e, now);
}

static void unlock(slab_engine *e) { pthread_mutex_unlock(&e->lock); }

static molt_status slab_get(void *self, const uint8_t *key, size_t key_len,
                            int64_t now, int touch, int64_t new_exptime,
                            molt_value_sink sink, void *ctx) {
    slab_engine *e = self;
    if (e == NULL || sink == NULL || bad_key(key, key_len)) return MOLT_INVALID;
    uint64_t hv = slab_hash_key(&e->hash, key, key_len);
    lock(e, now);
    slab_item *it = slab_item_find(e, key, key_len, hv, now);
    if (it == NULL) {
        unlock(e);
        return MOLT_NOT_FOUND;
    }
    int keep = 1;
    molt_item_info info = {it->flags, it->cas, (int64_t)it->exptime};
    if (touch) {
        uint32_t exp = 0;
        keep = slab_exptime_norm(new_exptime, now, &exp);
        it->exptime = exp;
        info.exptime = keep ? (int64_t)exp : new_exptime;
    }
    sink(ctx, &info, slab_item_value(it), it->nbytes);
    if (keep) {
        slab_lru_bump(&e->classes[it->clsid], it);
    } else { /* gat with a past time: served once, then gone */
        slab_item_unlink(e, it, hv);
        slab_free(e, it);
        e->expired++;
    }
    unlock(e);
    return MOLT_OK;
}

static molt_status slab_store(void *self, molt_store_mode mode,
                              const uint8_t *key, size_t key_len,
                              const uint8_t *value, size_t value_len,
                              uint32_t flags, int64_t exptime, uint64_t cas,
                              int64_t now, uint64_t *cas_out) {
    slab_engine *e = self;
    if (e == NULL || bad_key(key, key_len) || (value == NULL && value_len > 0) ||
        (unsigned)mode > MOLT_STORE_CAS)
        return MOLT_INVALID;
    if (molt_item_size(key_len, flags, value_len) > e->item_size_max)
        return MOLT_TOO_LARGE;
    int append = mode == MOLT_STORE_APPEND || mode == MOLT_STORE_PREPEND;
    uint64_t hv = slab_hash_key(&e->hash, key, key_len);
    molt_status rc = MOLT_OK;
    lock(e, now);
    slab_item *old = slab_item_find(e, key, key_len, hv, now);
    size_t nbytes = value_len;
    uint32_t exp = 0;
    int keep = 1;
    switch (mode) {
    case MOLT_STORE_SET:
        break;
    case MOLT_STORE_ADD:
        if (old != NULL) {
            slab_lru_bump(&e->classes[old->clsid], old);
            rc = MOLT_NOT_STORED;
        }
        break;
    case MOLT_STORE_REPLACE:
        if (old == NULL) rc = MOLT_NOT_STORED;
        break;
    case MOLT_STORE_CAS:
        if (old == NULL) rc = MOLT_NOT_FOUND;
        else if (old->cas != cas) rc = MOLT_EXISTS;
        break;
    case MOLT_STORE_APPEND:
    case MOLT_STORE_PREPEND:
        if (old == NULL) rc = MOLT_NOT_STORED;
        else if (molt_item_size(key_len, old->flags,
                                (size_t)old->nbytes + value_len) >
                 e->item_size_max)
            rc = MOLT_TOO_LARGE; /* the result, counted as memcached does */
        else {
            nbytes = old->nbytes + value_len;
            flags = old->flags;
            exp = old->exptime;
        }
        break;
    }
    if (rc != MOLT_OK) goto out;
    if (!append) keep = slab_exptime_norm(exptime, now, &exp);
    uint64_t new_cas = e->next_cas;
    if (!keep) { /* already expired: the store only removes the old item */
        e->next_cas++;
        e->total_items++;
        if (old != NULL) {
            slab_item_unlink(e, old, hv);
            slab_free(e, old);
        }
        goto ok;
    }
    uint64_t unlinks = e->unlinks;
    slab_item *it = slab_alloc(e, slab_item_total(key_len, nbytes), now,
                               append ? old : NULL);
    if (it == NULL) {
        rc = MOLT_NO_MEMORY;
        goto out;
    }
    if (!append && unlinks != e->unlinks) /* making room may have taken old */
        old = slab_hash_find(&e->hash, key, key_len, hv);
    it->nkey = (uint8_t)key_len;
    it->nbytes = (uint32_t)nbytes;
    it->flags = flags;
    it->exptime = exp;
    it->cas = e->next_cas++;
    memcpy(slab_item_key(it), key, key_len);
    uint8_t *dst = slab_item_value(it);
    if (mode == MOLT_STORE_APPEND) {
        memcpy(dst, slab_item_value(old), old->nbytes);
        if (value_len) memcpy(dst + old->nbytes, value, value_len);
    } else if (mode == MOLT_STORE_PREPEND) {
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

static molt_status slab_arith(void *self, const uint8_t *key, size_t key_len,
                              int incr, uint64_t delta, int64_t now,
                              uint64_t *value_out, uint64_t *cas_out) {
    slab_engine *e = self;
    if (e == NULL || bad_key(key, key_len)) return MOLT_INVALID;
    uint64_t hv = slab_hash_key(&e->hash, key, key_len);
    molt_status rc = MOLT_OK;
    lock(e, now);
    slab_item *old = slab_item_find(e, key, key_len, hv, now);
    uint64_t v;
    if (old == NULL) {
        rc = MOLT_NOT_FOUND;
        goto out;
    }
    if (!slab_parse_u64(slab_item_value(old), old->nbytes, &v)) {
        rc = MOLT_NON_NUMERIC;
        goto out;
    }
    if (incr) v += delta; /* wraps at 2^64 */
    else v = v < delta ? 0 : v - delta;
    uint8_t digits[20];
    size_t n = slab_format_u64(v, digits);
    slab_item *it = old;
    if (n != old->nbytes) {
        it = slab_alloc(e, slab_item_total(key_len, n), now, old);
        if (it == NULL) {
            rc = MOLT_NO_MEMORY;
            goto out;
        }
        it->nkey = (uint8_t)key_len;
        it->nbytes = (uint32_t)n;
        it->flags = old->flags;
        it->exptime = old->exptime;
        memcpy(slab_item_key(it), key, key_len);
    }
    memcpy(slab_item_value(it), digits, n);
    it->cas = e->next_cas++;
    if (it != old) {
        slab_item_replace(e, old, it, hv);
        slab_free(e, old);
    } else {
        slab_lru_bump(&e->classes[it->clsid], it);
    }
    if (value_out != NULL) *value_out = v;
    if (cas_out != NULL) *cas_out = it->cas;
out:
    unlock(e);
    return rc;
}

static molt_status slab_remove(void *self, const uint8_t *key, size_t key_len,
                               int64_t now) {
    slab_engine *e = self;
    if (e == NULL || bad_key(key, key_len)) return MOLT_INVALID;
    uint64_t hv = slab_hash_key(&e->hash, key, key_len);
    lock(e, now);
    slab_item *it = slab_item_find(e, key, key_len, hv, now);
    if (it != NULL) {
        slab_item_unlink(e, it, hv);
        slab_free(e, it);
    }
    unlock(e);
    return it != NULL ? MOLT_OK : MOLT_NOT_FOUND;
}

static molt_status slab_touch(void *self, const uint8_t *key, size_t key_len,
                              int64_t exptime, int64_t now) {
    slab_engine *e = self;
    if (e == NULL || bad_key(key, key_len)) return MOLT_INVALID;
    uint64_t hv = slab_hash_key(&e->hash, key, key_len);
    lock(e, now);
    slab_item *it = slab_item_find(e, key, key_len, hv, now);
    if (it != NULL) {
        uint32_t exp;
        if (slab_exptime_norm(exptime, now, &exp)) {
            it->exptime = exp;
            slab_lru_bump(&e->classes[it->clsid], it);
        } else {
            slab_item_unlink(e, it, hv);
            slab_free(e, it);
            e->expired++;
        }
    }
    unlock(e);
    return it != NULL ? MOLT_OK : MOLT_NOT_FOUND;
}

static molt_status slab_flush(void *self, int64_t at, int64_t now) {
    slab_engine *e = self;
    if (e == NULL) return MOLT_INVALID;
    lock(e, now);
    slab_flush_schedule(e, at, now);
    unlock(e);
    return MOLT_OK;
}

static void slab_stats(void *self, int64_t now, molt_storage_stats *out) {
    slab_engine *e = self;
    if (e == NULL || out == NULL) return;
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
    double factor = cfg->growth_factor;
    if (!(factor >= 1.01)) factor = DEFAULT_FACTOR; /* 0, < 1.01, NaN */

    slab_engine *e = calloc(1, sizeof(*e));
    if (e == NULL) return MOLT_NO_MEMORY;
    /* molt_item_size() counts more than our header + key + value, so an
     * accepted item always fits a chunk of align8(item_max) bytes. */
    size_t largest = ((size_t)item_max + 7) & ~(size_t)7;
    e->page_size = largest > SLAB_MIN_PAGE ? largest : SLAB_MIN_PAGE;
    e->item_size_max = item_max;
    e->memory_limit = cfg->memory_limit;
    uint64_t max_pages = cfg->memory_limit / e->page_size;
    if (max_pages > SIZE_MAX / e->page_size) max_pages = SIZE_MAX / e->page_size;
    e->max_pages = max_pages ? (size_t)max_pages : 1;
    e->next_cas = 1;
    slab_classes_init(e, factor);
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
    .get = slab_get,
    .store = slab_store,
    .arith = slab_arith,
    .remove = slab_remove,
    .touch = slab_touch,
    .flush = slab_flush,
    .stats = slab_stats,
    .destroy = slab_destroy,
};
