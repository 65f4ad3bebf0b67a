/* slab.h - the C slab engine: memcached-style slab classes, per-class LRU. */
#ifndef MOLT_SLAB_H
#define MOLT_SLAB_H

#include "storage.h"

/* Build an engine from cfg; *self_out is passed to molt_slab_ops. */
molt_status molt_slab_create(const molt_storage_config *cfg, void **self_out);

extern const molt_storage_ops molt_slab_ops;

#endif
