/* storage/engines.h - the engines the registry in registry.c can open, and
 * the handle behind storage.h's molt_storage (shared by registry.c, which
 * dispatches the meta operations, and classic.c, which expresses the classic
 * commands over them). */
#ifndef MOLT_STORAGE_ENGINES_H
#define MOLT_STORAGE_ENGINES_H

#include "storage/slab/slab.h"
#include "storage.h"

#ifdef MOLT_WITH_SEG
/* Rust segment engine: molt_seg_new and the exports the table in
 * c-core/mixed/storage_seg.c points at (ffi/ -> rust/seg). */
#include "molt_ffi.h"
extern const molt_storage_ops molt_seg_ops;
#endif

#ifdef MOLT_FAULT_INJECT
/* The fault build's corrupting engine (faulty.c); never in molt-c/molt. */
molt_status molt_faulty_create(const molt_storage_config *cfg, void **self_out);
extern const molt_storage_ops molt_faulty_ops;
#endif

struct molt_storage {
    const molt_storage_ops *ops;
    void *self;
};

#endif
