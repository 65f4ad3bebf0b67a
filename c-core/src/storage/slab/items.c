/* items.c - item lifecycle: liveness (expiry and flush), linking into the
 * hash table and LRU, lookups with lazy reclaim, and the flush watermark.
 *
 * Flushes are kept in O(1) with the cas counter: every store takes a new,
 * larger cas, so "stored before the flush" is "cas < flush_cas". An immediate
 * flush sets flush_cas to the next cas to be handed out. A delayed flush at
 * `at` is remembered and turned into the same watermark by the first call
 * that sees now >= at: every item stored until then was stored while
 * now < at, and every item stored later gets a larger cas. The watermark only
 * grows, so no later flush can bring anything back. */
#include "storage/slab/engine.h"

#include <stddef.h>

int slab_item_live(const slab_engine *e, const slab_item *it, int64_t now) {
    if (it->cas < e->flush_cas) return 0;
    return it->exptime == 0 || now < (int64_t)it->exptime;
}

int slab_exptime_norm(int64_t exptime, int64_t now, uint32_t *out) {
    if (exptime == 0) {
        *out = 0;
        return 1;
    }
    if (!(now < exptime)) return 0;
    if (exptime < 1) *out = 1; /* only reachable with a negative clock */
    else if (exptime > (int64_t)UINT32_MAX) *out = UINT32_MAX;
    else *out = (uint32_t)exptime;
    return 1;
}

void slab_item_link(slab_engine *e, slab_item *it, uint64_t hv) {
    slab_class *c = &e->classes[it->clsid];
    it->iflags = SLAB_ITEM_LINKED;
    slab_hash_insert(&e->hash, it, hv);
    slab_lru_link(c, it);
    c->items++;
    e->curr_items++;
    e->bytes += slab_item_total(it->nkey, it->nbytes);
}

static void unlink_common(slab_engine *e, slab_item *it) {
    slab_class *c = &e->classes[it->clsid];
    slab_lru_unlink(c, it);
    it->iflags = 0;
    c->items--;
    e->curr_items--;
    e->bytes -= slab_item_total(it->nkey, it->nbytes);
    e->unlinks++;
}

void slab_item_unlink(slab_engine *e, slab_item *it, uint64_t hv) {
    slab_hash_remove(&e->hash, it, hv);
    unlink_common(e, it);
}

void slab_item_unlink_nohv(slab_engine *e, slab_item *it) {
    slab_item_unlink(e, it, slab_hash_key(&e->hash, slab_item_key(it), it->nkey));
}

void slab_item_replace(slab_engine *e, slab_item *old, slab_item *nw,
                       uint64_t hv) {
    slab_hash_replace(&e->hash, old, nw, hv);
    unlink_common(e, old);
    slab_class *c = &e->classes[nw->clsid];
    nw->iflags = SLAB_ITEM_LINKED;
    slab_lru_link(c, nw);
    c->items++;
    e->curr_items++;
    e->bytes += slab_item_total(nw->nkey, nw->nbytes);
}

slab_item *slab_item_find(slab_engine *e, const uint8_t *key, size_t nkey,
                          uint64_t hv, int64_t now) {
    slab_item *it = slab_hash_find(&e->hash, key, nkey, hv);
    if (it == NULL || slab_item_live(e, it, now)) return it;
    slab_item_unlink(e, it, hv);
    slab_free(e, it);
    e->expired++;
    return NULL;
}

void slab_flush_due(slab_engine *e, int64_t now) {
    if (e->npending == 0 || now < e->pending_min) return;
    e->flush_cas = e->next_cas;
    unsigned keep = 0;
    int64_t min = INT64_MAX;
    for (unsigned i = 0; i < e->npending; i++) {
        if (e->pending[i] <= now) continue;
        e->pending[keep++] = e->pending[i];
        if (e->pending[i] < min) min = e->pending[i];
    }
    e->npending = keep;
    e->pending_min = min;
}

void slab_flush_schedule(slab_engine *e, int64_t at, int64_t now) {
    slab_flush_due(e, now);
    if (at <= now) {
        e->flush_cas = e->next_cas;
        return;
    }
    for (unsigned i = 0; i < e->npending; i++)
        if (e->pending[i] == at) return;
    if (e->npending < SLAB_MAX_PENDING) {
        e->pending[e->npending++] = at;
    } else {
        /* Full: fold into the latest one, taking the later time. This can
         * only delay a flush, never undo one. */
        unsigned last = 0;
        for (unsigned i = 1; i < e->npending; i++)
            if (e->pending[i] > e->pending[last]) last = i;
        /* (An `at` below the latest is covered by the next later one.) */
        if (at > e->pending[last]) e->pending[last] = at;
    }
    e->pending_min = e->pending[0];
    for (unsigned i = 1; i < e->npending; i++)
        if (e->pending[i] < e->pending_min) e->pending_min = e->pending[i];
}
