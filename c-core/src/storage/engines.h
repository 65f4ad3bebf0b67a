/* storage/engines.h - the engines the registry in registry.c can open. */
#ifndef MOLT_STORAGE_ENGINES_H
#define MOLT_STORAGE_ENGINES_H

#include "storage/slab/slab.h"
#include "storage.h"

#ifdef MOLT_WITH_SEG
/* Rust segment engine (c-core/mixed/storage_seg.c -> ffi -> rust/seg). */
molt_status molt_seg_create(const molt_storage_config *cfg, void **self_out);
extern const molt_storage_ops molt_seg_ops;
#endif

#endif
