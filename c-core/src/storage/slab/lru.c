/* lru.c - per-class LRU lists: doubly linked, most recent at the head. */
#include "storage/slab/engine.h"

#include <stddef.h>

void slab_lru_link(slab_class *c, slab_item *it) {
    it->prev = NULL;
    it->next = c->lru_head;
    if (c->lru_head != NULL) c->lru_head->prev = it;
    c->lru_head = it;
    if (c->lru_tail == NULL) c->lru_tail = it;
}

void slab_lru_unlink(slab_class *c, slab_item *it) {
    if (it->prev != NULL) it->prev->next = it->next;
    else c->lru_head = it->next;
    if (it->next != NULL) it->next->prev = it->prev;
    else c->lru_tail = it->prev;
    it->prev = it->next = NULL;
}

void slab_lru_bump(slab_class *c, slab_item *it) {
    if (c->lru_head == it) return;
    slab_lru_unlink(c, it);
    slab_lru_link(c, it);
}
