/* alloc.c - memory: pages, slab classes and chunk allocation.
 *
 * Pages of page_size bytes are malloc'd lazily, at most max_pages of them.
 * A page belongs to one class and is cut into that class's chunks lazily
 * (the carve pointer), so an assigned page is not touched until used.
 * Allocation order for a class: free list -> carve -> new page -> reclaim a
 * dead item near the LRU tail -> evict the LRU tail -> take a page from the
 * class holding the most pages (its items are unlinked) -> fail. */
#include "storage/slab/engine.h"

#include <stdlib.h>
#include <string.h>

#include "util/chunk_size.h"

static size_t align8(size_t n) { return (n + 7) & ~(size_t)7; }

static void add_class(slab_engine *e, size_t size) {
    slab_class *c = &e->classes[e->nclasses++];
    memset(c, 0, sizeof(*c));
    c->size = (uint32_t)size;
    c->perpage = (uint32_t)(e->page_size / size);
}

int slab_classes_init(slab_engine *e, double factor) {
    size_t half = e->page_size / 2;
    size_t size = align8(sizeof(slab_item) + SLAB_MIN_DATA);
    e->nclasses = 0;
    while (size <= half && e->nclasses < SLAB_MAX_CLASSES - 1) {
        add_class(e, size);
        size = chunk_size_next(size, half, factor);
        if (size == 0) break;
    }
    add_class(e, e->page_size);
    return 0;
}

/* Smallest class whose chunks hold `total` bytes. */
static unsigned class_for(const slab_engine *e, size_t total) {
    unsigned lo = 0, hi = e->nclasses - 1;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (e->classes[mid].size >= total) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

/* ---- free lists (doubly linked through prev/next) ---- */

static void free_push(slab_class *c, slab_item *it) {
    it->iflags = SLAB_ITEM_FREE;
    it->prev = NULL;
    it->next = c->free_head;
    if (c->free_head != NULL) c->free_head->prev = it;
    c->free_head = it;
}

static void free_remove(slab_class *c, slab_item *it) {
    if (it->prev != NULL) it->prev->next = it->next;
    else c->free_head = it->next;
    if (it->next != NULL) it->next->prev = it->prev;
    it->prev = it->next = NULL;
    it->iflags = 0;
}

void slab_free(slab_engine *e, slab_item *it) {
    free_push(&e->classes[it->clsid], it);
}

/* ---- pages ---- */

static void set_carve(slab_class *c, uint8_t *mem) {
    c->carve_page = mem;
    c->carve_ptr = mem;
    c->carve_end = mem + (size_t)c->perpage * c->size;
}

static slab_item *carve(slab_class *c) {
    if (c->carve_ptr == NULL) return NULL;
    slab_item *it = (slab_item *)c->carve_ptr;
    c->carve_ptr += c->size;
    if (c->carve_ptr + c->size > c->carve_end)
        c->carve_ptr = c->carve_end = c->carve_page = NULL;
    return it;
}

static int page_new(slab_engine *e, unsigned id) {
    if (e->npages >= e->max_pages) return 0;
    if (e->npages == e->pages_cap) {
        size_t cap = e->pages_cap ? e->pages_cap * 2 : 16;
        slab_page *np = realloc(e->pages, cap * sizeof(*np));
        if (np == NULL) return 0;
        e->pages = np;
        e->pages_cap = cap;
    }
    uint8_t *mem = malloc(e->page_size);
    if (mem == NULL) return 0;
    e->pages[e->npages].mem = mem;
    e->pages[e->npages].clsid = id;
    e->npages++;
    e->classes[id].pages++;
    set_carve(&e->classes[id], mem);
    return 1;
}

void slab_pages_release(slab_engine *e) {
    for (size_t i = 0; i < e->npages; i++) free(e->pages[i].mem);
    free(e->pages);
    e->pages = NULL;
    e->npages = e->pages_cap = 0;
}

/* ---- reclaim and evict within the class ---- */

/* A live item is removed to make room: counted, and reported (storage.h). */
static void note_eviction(slab_engine *e, slab_item *it) {
    e->evictions++;
    if (e->on_evict == NULL) return;
    molt_evicted_item ev = {
        .key = slab_item_key(it),
        .key_len = it->nkey,
        .exptime = it->exptime,
        .last_access = it->atime,
        .class_id = (uint32_t)it->clsid + 1,
        .value_len = it->nbytes,
        .fetched = (it->mflags & SLAB_META_FETCHED) != 0,
    };
    e->on_evict(e->on_evict_ctx, &ev);
}

static slab_item *take_from_lru(slab_engine *e, slab_class *c, int64_t now,
                                const slab_item *protect) {
    slab_item *it = c->lru_tail;
    for (int n = 0; it != NULL && n < SLAB_LRU_SCAN; n++, it = it->prev) {
        if (it != protect && !slab_item_live(e, it, now)) {
            slab_item_unlink_nohv(e, it);
            e->expired++;
            return it;
        }
    }
    it = c->lru_tail;
    if (it == protect && it != NULL) it = it->prev;
    if (it == NULL) return NULL;
    if (slab_item_live(e, it, now)) note_eviction(e, it);
    else e->expired++;
    slab_item_unlink_nohv(e, it);
    return it;
}

/* ---- page reassignment ---- */

static int page_holds(const slab_engine *e, const slab_page *p,
                      const slab_item *it) {
    const uint8_t *a = (const uint8_t *)it;
    return it != NULL && a >= p->mem && a < p->mem + e->page_size;
}

/* Empty page `p` of its class: unlink its items, drop its free chunks. */
static void page_empty(slab_engine *e, slab_page *p, int64_t now) {
    slab_class *c = &e->classes[p->clsid];
    size_t chunks = c->perpage;
    if (c->carve_page == p->mem) {
        chunks = (size_t)(c->carve_ptr - p->mem) / c->size;
        c->carve_ptr = c->carve_end = c->carve_page = NULL;
    }
    for (size_t i = 0; i < chunks; i++) {
        slab_item *it = (slab_item *)(p->mem + i * c->size);
        if (it->iflags & SLAB_ITEM_LINKED) {
            if (slab_item_live(e, it, now)) note_eviction(e, it);
            else e->expired++;
            slab_item_unlink_nohv(e, it);
        } else if (it->iflags & SLAB_ITEM_FREE) {
            free_remove(c, it);
        }
    }
    c->pages--;
}

static int page_reassign(slab_engine *e, unsigned id, int64_t now,
                         const slab_item *protect) {
    unsigned donor = SLAB_MAX_CLASSES;
    for (unsigned i = 0; i < e->nclasses; i++) {
        if (i == id || e->classes[i].pages == 0) continue;
        if (donor == SLAB_MAX_CLASSES ||
            e->classes[i].pages > e->classes[donor].pages)
            donor = i;
    }
    if (donor == SLAB_MAX_CLASSES) return 0;
    /* A page of the donor, else of any other class, that does not hold the
     * item the caller still reads. Start at a rotating cursor. */
    slab_page *pick = NULL;
    for (int pass = 0; pass < 2 && pick == NULL; pass++) {
        for (size_t k = 0; k < e->npages; k++) {
            size_t i = (e->reassign_cursor + k) % e->npages;
            slab_page *p = &e->pages[i];
            if (p->clsid == id || page_holds(e, p, protect)) continue;
            if (pass == 0 && p->clsid != donor) continue;
            pick = p;
            e->reassign_cursor = i + 1;
            break;
        }
    }
    if (pick == NULL) return 0;
    page_empty(e, pick, now);
    pick->clsid = id;
    e->classes[id].pages++;
    set_carve(&e->classes[id], pick->mem);
    return 1;
}

slab_item *slab_alloc(slab_engine *e, size_t total, int64_t now,
                      const slab_item *protect) {
    if (total > e->page_size) return NULL;
    unsigned id = class_for(e, total);
    slab_class *c = &e->classes[id];
    slab_item *it = c->free_head;
    if (it != NULL) free_remove(c, it);
    if (it == NULL) it = carve(c);
    if (it == NULL && page_new(e, id)) it = carve(c);
    if (it == NULL) it = take_from_lru(e, c, now, protect);
    if (it == NULL && page_reassign(e, id, now, protect)) it = carve(c);
    if (it == NULL) return NULL;
    it->h_next = it->prev = it->next = NULL;
    it->clsid = (uint8_t)id;
    it->iflags = 0;
    return it;
}
