/* hash.c - chained hash table with incremental (per-operation) rehashing.
 *
 * Growth doubles the bucket array when items exceed 1.5 x buckets. The old
 * array is kept and drained a few buckets per insert/remove; lookups pick the
 * old bucket while it has not been migrated yet. One growth finishes long
 * before the next one could be due (it needs N/2 mutations to drain N old
 * buckets, the next growth needs another 1.5N inserts). */
#include "storage/slab/hash.h"

#include <stdlib.h>
#include <string.h>

#include "storage/slab/hashfn.h"

#define MIGRATE_STEP 4u   /* old buckets moved per mutation */
#define MAX_POWER 40u     /* never grow beyond 2^40 buckets */

static uint64_t grow_threshold(uint64_t nbuckets) {
    return nbuckets + nbuckets / 2;
}

int slab_hash_init(slab_hash *t, unsigned power, uint64_t seed) {
    memset(t, 0, sizeof(*t));
    uint64_t n = (uint64_t)1 << power;
    t->buckets = calloc((size_t)n, sizeof(*t->buckets));
    if (t->buckets == NULL) return -1;
    t->mask = n - 1;
    t->grow_at = grow_threshold(n);
    t->seed = seed;
    return 0;
}

void slab_hash_free(slab_hash *t) {
    free(t->buckets);
    free(t->old);
    memset(t, 0, sizeof(*t));
}

uint64_t slab_hash_key(const slab_hash *t, const uint8_t *key, size_t nkey) {
    return slab_hashfn(key, nkey, t->seed);
}

static inline slab_item **bucket_of(const slab_hash *t, uint64_t hv) {
    if (t->old != NULL && (hv & t->old_mask) >= t->migrate)
        return &t->old[hv & t->old_mask];
    return &t->buckets[hv & t->mask];
}

static void migrate_some(slab_hash *t) {
    for (unsigned n = 0; n < MIGRATE_STEP && t->old != NULL; n++) {
        slab_item *it = t->old[t->migrate];
        while (it != NULL) {
            slab_item *next = it->h_next;
            uint64_t hv = slab_hashfn(slab_item_key(it), it->nkey, t->seed);
            slab_item **b = &t->buckets[hv & t->mask];
            it->h_next = *b;
            *b = it;
            it = next;
        }
        t->old[t->migrate] = NULL;
        if (++t->migrate > t->old_mask) {
            free(t->old);
            t->old = NULL;
            t->old_mask = 0;
            t->migrate = 0;
        }
    }
}

static void maybe_grow(slab_hash *t) {
    if (t->old != NULL || t->count <= t->grow_at) return;
    uint64_t n = t->mask + 1;
    if (n >= ((uint64_t)1 << MAX_POWER) || n * 2 > SIZE_MAX / sizeof(slab_item *)) {
        t->grow_at = UINT64_MAX;
        return;
    }
    slab_item **nb = calloc((size_t)(n * 2), sizeof(*nb));
    if (nb == NULL) {
        /* Keep working with longer chains; retry after more growth. */
        t->grow_at = t->count * 2;
        return;
    }
    t->old = t->buckets;
    t->old_mask = t->mask;
    t->migrate = 0;
    t->buckets = nb;
    t->mask = n * 2 - 1;
    t->grow_at = grow_threshold(n * 2);
}

slab_item *slab_hash_find(const slab_hash *t, const uint8_t *key, size_t nkey,
                          uint64_t hv) {
    for (slab_item *it = *bucket_of(t, hv); it != NULL; it = it->h_next) {
        if (it->nkey == nkey && memcmp(slab_item_key(it), key, nkey) == 0)
            return it;
    }
    return NULL;
}

void slab_hash_insert(slab_hash *t, slab_item *it, uint64_t hv) {
    migrate_some(t);
    slab_item **b = bucket_of(t, hv);
    it->h_next = *b;
    *b = it;
    t->count++;
    maybe_grow(t);
}

/* The link that points at `it`, or NULL. */
static slab_item **link_of(slab_hash *t, slab_item *it, uint64_t hv) {
    slab_item **pp = bucket_of(t, hv);
    while (*pp != NULL && *pp != it) pp = &(*pp)->h_next;
    return *pp == it ? pp : NULL;
}

void slab_hash_remove(slab_hash *t, slab_item *it, uint64_t hv) {
    migrate_some(t);
    slab_item **pp = link_of(t, it, hv);
    if (pp == NULL) return;
    *pp = it->h_next;
    it->h_next = NULL;
    t->count--;
}

void slab_hash_replace(slab_hash *t, slab_item *old, slab_item *nw,
                       uint64_t hv) {
    slab_item **pp = link_of(t, old, hv);
    if (pp == NULL) {
        slab_hash_insert(t, nw, hv);
        return;
    }
    nw->h_next = old->h_next;
    *pp = nw;
    old->h_next = NULL;
}

uint64_t slab_hash_buckets(const slab_hash *t) { return t->mask + 1; }
