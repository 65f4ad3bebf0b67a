/* item.h - the in-page layout of one slab item: a 56-byte header followed by
 * the key and then the value, stored inline in a chunk of its slab class. */
#ifndef MOLT_SLAB_ITEM_H
#define MOLT_SLAB_ITEM_H

#include <stddef.h>
#include <stdint.h>

/* iflags bits */
#define SLAB_ITEM_LINKED 0x01u /* in the hash table and its class LRU */
#define SLAB_ITEM_FREE 0x02u   /* on its class free list */

/* mflags bits: the meta protocol's state of this version (a new version
 * starts with none of them, except a stale store's) */
#define SLAB_META_FETCHED 0x01u /* read at least once since stored (mg h) */
#define SLAB_META_STALE 0x02u   /* invalidated by md/ms with I (mg X) */
#define SLAB_META_WON 0x04u     /* its one recache win was handed out (W/Z) */

typedef struct slab_item {
    struct slab_item *h_next; /* hash chain */
    struct slab_item *prev;   /* LRU (or free list) neighbours */
    struct slab_item *next;
    uint64_t cas;     /* unique of this version; also orders it against flushes */
    uint32_t exptime; /* absolute unix seconds, 0 = never */
    uint32_t flags;   /* client flags */
    uint32_t nbytes;  /* value length */
    uint32_t atime;   /* last access (store time until read), unix seconds */
    uint8_t nkey;     /* key length (1..250) */
    uint8_t clsid;    /* slab class */
    uint8_t iflags;   /* SLAB_ITEM_* */
    uint8_t mflags;   /* SLAB_META_* */
    /* 4 bytes of tail padding (the pointers align the header to 8) */
} slab_item;

_Static_assert(sizeof(slab_item) == 56, "slab item header must stay 56 bytes");

static inline uint8_t *slab_item_key(slab_item *it) {
    return (uint8_t *)(it + 1);
}

static inline uint8_t *slab_item_value(slab_item *it) {
    return (uint8_t *)(it + 1) + it->nkey;
}

/* Bytes an item with this key and value occupies (header + key + value). */
static inline size_t slab_item_total(size_t nkey, size_t nbytes) {
    return sizeof(slab_item) + nkey + nbytes;
}

#endif
