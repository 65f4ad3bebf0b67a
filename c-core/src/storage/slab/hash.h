/* hash.h - the slab engine's key -> item table: power-of-two buckets of
 * chained items, grown x2 with incremental rehashing. Not locked: the engine
 * calls it under its own mutex. */
#ifndef MOLT_SLAB_HASH_H
#define MOLT_SLAB_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "storage/slab/item.h"

typedef struct slab_hash {
    slab_item **buckets; /* current table */
    uint64_t mask;       /* buckets - 1 */
    slab_item **old;     /* table being drained while growing, else NULL */
    uint64_t old_mask;
    uint64_t migrate;    /* old buckets below this index are already moved */
    uint64_t count;      /* items in the table */
    uint64_t grow_at;    /* count that starts the next growth */
    uint64_t seed;
} slab_hash;

/* 0 on success, -1 when the bucket array cannot be allocated. */
int slab_hash_init(slab_hash *t, unsigned power, uint64_t seed);
void slab_hash_free(slab_hash *t);

uint64_t slab_hash_key(const slab_hash *t, const uint8_t *key, size_t nkey);
slab_item *slab_hash_find(const slab_hash *t, const uint8_t *key, size_t nkey,
                          uint64_t hv);
/* The key must not be present. */
void slab_hash_insert(slab_hash *t, slab_item *it, uint64_t hv);
/* `it` must be present. */
void slab_hash_remove(slab_hash *t, slab_item *it, uint64_t hv);
/* Put `nw` in `old`'s place; both carry the same key. */
void slab_hash_replace(slab_hash *t, slab_item *old, slab_item *nw,
                       uint64_t hv);
uint64_t slab_hash_buckets(const slab_hash *t);

#endif
