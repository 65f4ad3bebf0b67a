/* storage_seg.c - the Rust segment engine (ffi/, rust/seg) as a storage.h
 * engine. Mixed build only: the C-only build has no Rust to call. The ffi
 * exports take `void *self` as the table's slots do, so the table points
 * at them directly; molt_seg_new is the registry's constructor. */
#include "molt_ffi.h"
#include "storage.h"
#include "storage/engines.h"

const molt_storage_ops molt_seg_ops = {
    .name = "seg",
    .meta_get = molt_seg_meta_get,
    .meta_store = molt_seg_meta_store,
    .meta_delete = molt_seg_meta_delete,
    .meta_arith = molt_seg_meta_arith,
    .flush = molt_seg_flush,
    .stats = molt_seg_stats,
    .classes = molt_seg_classes,
    .walk = molt_seg_walk,
    .figures = molt_seg_figures,
    .destroy = molt_seg_free,
    .restore = molt_seg_restore,
    .save = molt_seg_save,
};
