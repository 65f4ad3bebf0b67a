//! `rust/seg` behind storage.h: the `molt_seg_*` exports that
//! c-core/mixed/storage_seg.c puts in a `molt_storage_ops` table.

use crate::guard::{guarded, guarded_void};
use crate::seam_types::*;
use seg::{
    ArithOptions, DeleteOptions, GetOptions, ItemInfo, Seg, SegConfig, SegError, StoreMode,
    StoreOptions,
};
use std::os::raw::{c_int, c_void};

/// Opaque to C (`struct molt_seg`): a segment-storage engine.
pub struct MoltSeg {
    inner: Seg,
}

fn status_of(e: SegError) -> molt_status {
    match e {
        SegError::NotFound => MOLT_NOT_FOUND,
        SegError::NotStored => MOLT_NOT_STORED,
        SegError::Exists => MOLT_EXISTS,
        SegError::TooLarge => MOLT_TOO_LARGE,
        SegError::NoMemory => MOLT_NO_MEMORY,
        SegError::NonNumeric => MOLT_NON_NUMERIC,
        SegError::Invalid => MOLT_INVALID,
    }
}

fn result_of(r: Result<(), SegError>) -> molt_status {
    r.map_or_else(status_of, |()| MOLT_OK)
}

/// The bytes at `p`, or None for a NULL pointer with a non-zero length.
///
/// # Safety
/// When non-NULL, `p` must be valid for reads of `len` bytes for 'a.
unsafe fn bytes<'a>(p: *const u8, len: usize) -> Option<&'a [u8]> {
    if len == 0 {
        Some(&[])
    } else if p.is_null() {
        None
    } else {
        // SAFETY: non-NULL and, by the caller's contract, valid for len bytes.
        Some(unsafe { std::slice::from_raw_parts(p, len) })
    }
}

/// The engine behind a handle, or None for NULL.
///
/// # Safety
/// When non-NULL, `seg` must come from `molt_seg_new` and not be freed.
unsafe fn engine<'a>(seg: *const MoltSeg) -> Option<&'a Seg> {
    // SAFETY: by the caller's contract a non-NULL handle is a live MoltSeg.
    unsafe { seg.as_ref() }.map(|s| &s.inner)
}

/// Writes `v` through `out` when `out` is not NULL.
///
/// # Safety
/// When non-NULL, `out` must be valid for a write of one T.
unsafe fn put<T>(out: *mut T, v: T) {
    if !out.is_null() {
        // SAFETY: non-NULL and, by the caller's contract, writable.
        unsafe { out.write(v) };
    }
}

/// Creates an engine from `cfg`; on MOLT_OK `*out` holds the handle, to be
/// released with `molt_seg_free`.
///
/// # Safety
/// `cfg` must point to a valid config and `out` to writable memory, or be
/// NULL (MOLT_INVALID).
#[no_mangle]
pub unsafe extern "C" fn molt_seg_new(
    cfg: *const molt_storage_config,
    out: *mut *mut MoltSeg,
) -> molt_status {
    if cfg.is_null() || out.is_null() {
        return MOLT_INVALID;
    }
    guarded(|| {
        // SAFETY: checked non-NULL above; the caller passes a valid config.
        let cfg = unsafe { &*cfg };
        let config = SegConfig {
            memory_limit: cfg.memory_limit,
            item_size_max: cfg.item_size_max,
            ..SegConfig::default()
        };
        match Seg::new(config) {
            Ok(inner) => {
                let handle = Box::into_raw(Box::new(MoltSeg { inner }));
                // SAFETY: out is non-NULL and writable (checked above).
                unsafe { out.write(handle) };
                MOLT_OK
            }
            Err(e) => status_of(e),
        }
    })
}

/// Releases an engine; NULL is a no-op.
///
/// # Safety
/// `seg` must be NULL or a handle from `molt_seg_new` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn molt_seg_free(seg: *mut MoltSeg) {
    if seg.is_null() {
        return;
    }
    guarded_void(|| {
        // SAFETY: a live handle from molt_seg_new, owned by Box, freed once.
        drop(unsafe { Box::from_raw(seg) });
    });
}

/// storage.h `get`: hands a live item's value to `sink` (while the engine
/// lock is held); with `touch` non-zero sets its exptime first.
///
/// # Safety
/// `seg` a live handle; `key` valid for `key_len` bytes; `sink` callable
/// with `ctx`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn molt_seg_get(
    seg: *mut MoltSeg,
    key: *const u8,
    key_len: usize,
    now: i64,
    touch: c_int,
    new_exptime: i64,
    sink: molt_value_sink,
    ctx: *mut c_void,
) -> molt_status {
    // SAFETY: the caller's contract for seg and key.
    let (Some(s), Some(key), Some(sink)) =
        // SAFETY: as above: this export's # Safety contract covers the pointer.
        (unsafe { engine(seg) }, unsafe { bytes(key, key_len) }, sink)
    else {
        return MOLT_INVALID;
    };
    guarded(|| {
        let touch = (touch != 0).then_some(new_exptime);
        let r = s.get(key, now, touch, |info, value| {
            // SAFETY: sink is the caller's callback and ctx its context.
            unsafe { deliver(sink, ctx, info, value) }
        });
        result_of(r)
    })
}

/// storage.h's view of a read's item info.
fn c_info(info: &ItemInfo) -> molt_item_info {
    molt_item_info {
        flags: info.flags,
        cas: info.cas,
        exptime: info.exptime,
        last_access: info.last_access,
        fetched: u8::from(info.fetched),
        stale: u8::from(info.stale),
        win: u8::from(info.win),
        win_taken: u8::from(info.win_taken),
    }
}

/// Hands one read's info and value to the caller's sink.
///
/// # Safety
/// `sink` must be safe to call with `ctx` and the pointers storage.h
/// promises (valid for the duration of the call).
unsafe fn deliver(
    sink: unsafe extern "C" fn(*mut c_void, *const molt_item_info, *const u8, usize),
    ctx: *mut c_void,
    info: &ItemInfo,
    value: &[u8],
) {
    let info = c_info(info);
    // SAFETY: sink is the caller's callback (see the contract above); info
    // and value are valid for the duration of the call, as storage.h says.
    unsafe { sink(ctx, &info, value.as_ptr(), value.len()) };
}

/// An optional value behind a storage.h `has_*` switch.
fn opt<T>(on: c_int, v: T) -> Option<T> {
    (on != 0).then_some(v)
}

/// storage.h `meta_get`: a read with the meta protocol's options; the
/// item (or, with vivify, the new empty one) goes to `sink`.
///
/// # Safety
/// `seg` a live handle; `key` valid for `key_len` bytes; `opts` NULL or a
/// valid options struct; `sink` callable with `ctx`.
#[no_mangle]
pub unsafe extern "C" fn molt_seg_meta_get(
    seg: *mut MoltSeg,
    key: *const u8,
    key_len: usize,
    now: i64,
    opts: *const molt_meta_get_opts,
    sink: molt_value_sink,
    ctx: *mut c_void,
) -> molt_status {
    // SAFETY: the caller's contract for seg, key and opts.
    let (Some(s), Some(key), Some(o), Some(sink)) = (
        // SAFETY: as above: this export's # Safety contract covers the pointer.
        unsafe { engine(seg) },
        // SAFETY: as above: this export's # Safety contract covers the pointer.
        unsafe { bytes(key, key_len) },
        // SAFETY: as above: this export's # Safety contract covers the pointer.
        unsafe { opts.as_ref() },
        sink,
    ) else {
        return MOLT_INVALID;
    };
    guarded(|| {
        let opts = GetOptions {
            touch: opt(o.touch, o.touch_exptime),
            no_bump: o.no_bump != 0,
            vivify: opt(o.vivify, o.vivify_exptime),
            recache: opt(o.recache, o.recache_ttl),
            new_cas: opt(o.has_new_cas, o.new_cas),
        };
        let r = s.meta_get(key, now, &opts, |info, value| {
            // SAFETY: sink is the caller's callback and ctx its context.
            unsafe { deliver(sink, ctx, info, value) }
        });
        result_of(r)
    })
}

/// storage.h `meta_store`; on MOLT_OK `*cas_out` (if not NULL) is the new
/// cas.
///
/// # Safety
/// `seg` a live handle; `req` a valid request whose key and value are
/// valid for their lengths; `cas_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn molt_seg_meta_store(
    seg: *mut MoltSeg,
    req: *const molt_meta_store_req,
    now: i64,
    cas_out: *mut u64,
) -> molt_status {
    // SAFETY: the caller's contract for seg and req.
    let (Some(s), Some(r)) = (unsafe { engine(seg) }, unsafe { req.as_ref() }) else {
        return MOLT_INVALID;
    };
    // SAFETY: the caller's contract for the request's key and value.
    let (Some(key), Some(value)) = (unsafe { bytes(r.key, r.key_len) }, unsafe {
        bytes(r.value, r.value_len)
    }) else {
        return MOLT_INVALID;
    };
    let mode = match r.mode {
        MOLT_STORE_SET => StoreMode::Set,
        MOLT_STORE_ADD => StoreMode::Add,
        MOLT_STORE_REPLACE => StoreMode::Replace,
        MOLT_STORE_APPEND => StoreMode::Append,
        MOLT_STORE_PREPEND => StoreMode::Prepend,
        // CAS is SET with the compare_cas given.
        MOLT_STORE_CAS => StoreMode::Cas(r.compare_cas),
        _ => return MOLT_INVALID,
    };
    let opts = StoreOptions {
        compare_cas: opt(r.has_compare_cas, r.compare_cas),
        new_cas: opt(r.has_new_cas, r.new_cas),
        invalidate: r.invalidate != 0,
        vivify: opt(r.vivify, r.vivify_exptime),
    };
    guarded(
        || match s.meta_store(mode, key, value, r.flags, r.exptime, now, &opts) {
            Ok(new_cas) => {
                // SAFETY: cas_out is NULL or writable, by the caller's contract.
                unsafe { put(cas_out, new_cas) };
                MOLT_OK
            }
            Err(e) => status_of(e),
        },
    )
}

/// storage.h `meta_delete`: delete, invalidate (mark stale) or empty an
/// item.
///
/// # Safety
/// `seg` a live handle; `key` valid for `key_len` bytes; `opts` NULL or a
/// valid options struct.
#[no_mangle]
pub unsafe extern "C" fn molt_seg_meta_delete(
    seg: *mut MoltSeg,
    key: *const u8,
    key_len: usize,
    now: i64,
    opts: *const molt_meta_delete_opts,
) -> molt_status {
    // SAFETY: the caller's contract for seg, key and opts.
    let (Some(s), Some(key), Some(o)) = (
        // SAFETY: as above: this export's # Safety contract covers the pointer.
        unsafe { engine(seg) },
        // SAFETY: as above: this export's # Safety contract covers the pointer.
        unsafe { bytes(key, key_len) },
        // SAFETY: as above: this export's # Safety contract covers the pointer.
        unsafe { opts.as_ref() },
    ) else {
        return MOLT_INVALID;
    };
    let opts = DeleteOptions {
        compare_cas: opt(o.has_compare_cas, o.compare_cas),
        new_cas: opt(o.has_new_cas, o.new_cas),
        invalidate: o.invalidate != 0,
        touch: opt(o.touch, o.touch_exptime),
        clear_value: o.clear_value != 0,
    };
    guarded(|| result_of(s.meta_delete(key, now, &opts)))
}

/// storage.h `meta_arith`: incr/decr with the meta protocol's options; on
/// MOLT_OK `*out` holds the value, cas and exptime left behind.
///
/// # Safety
/// `seg` a live handle; `key` valid for `key_len` bytes; `opts` NULL or a
/// valid options struct; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn molt_seg_meta_arith(
    seg: *mut MoltSeg,
    key: *const u8,
    key_len: usize,
    now: i64,
    opts: *const molt_meta_arith_opts,
    out: *mut molt_meta_arith_result,
) -> molt_status {
    // SAFETY: the caller's contract for seg, key and opts.
    let (Some(s), Some(key), Some(o)) = (
        // SAFETY: as above: this export's # Safety contract covers the pointer.
        unsafe { engine(seg) },
        // SAFETY: as above: this export's # Safety contract covers the pointer.
        unsafe { bytes(key, key_len) },
        // SAFETY: as above: this export's # Safety contract covers the pointer.
        unsafe { opts.as_ref() },
    ) else {
        return MOLT_INVALID;
    };
    if out.is_null() {
        return MOLT_INVALID;
    }
    let opts = ArithOptions {
        compare_cas: opt(o.has_compare_cas, o.compare_cas),
        new_cas: opt(o.has_new_cas, o.new_cas),
        vivify: opt(o.vivify, o.vivify_exptime),
        initial: o.initial,
        touch: opt(o.touch, o.touch_exptime),
    };
    guarded(
        || match s.meta_arith(key, o.incr != 0, o.delta, now, &opts) {
            Ok(r) => {
                let res = molt_meta_arith_result {
                    value: r.value,
                    cas: r.cas,
                    exptime: r.exptime,
                };
                // SAFETY: out is non-NULL (checked above) and writable.
                unsafe { out.write(res) };
                MOLT_OK
            }
            Err(e) => status_of(e),
        },
    )
}

/// storage.h `store`; on MOLT_OK `*cas_out` (if not NULL) is the new cas.
///
/// # Safety
/// `seg` a live handle; `key`/`value` valid for their lengths; `cas_out`
/// NULL or writable.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn molt_seg_store(
    seg: *mut MoltSeg,
    mode: molt_store_mode,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
    flags: u32,
    exptime: i64,
    cas: u64,
    now: i64,
    cas_out: *mut u64,
) -> molt_status {
    // SAFETY: the caller's contract for seg, key and value.
    let (Some(s), Some(key), Some(value)) = (
        // SAFETY: as above: this export's # Safety contract covers the pointer.
        unsafe { engine(seg) },
        // SAFETY: as above: this export's # Safety contract covers the pointer.
        unsafe { bytes(key, key_len) },
        // SAFETY: as above: this export's # Safety contract covers the pointer.
        unsafe { bytes(value, value_len) },
    ) else {
        return MOLT_INVALID;
    };
    let mode = match mode {
        MOLT_STORE_SET => StoreMode::Set,
        MOLT_STORE_ADD => StoreMode::Add,
        MOLT_STORE_REPLACE => StoreMode::Replace,
        MOLT_STORE_APPEND => StoreMode::Append,
        MOLT_STORE_PREPEND => StoreMode::Prepend,
        MOLT_STORE_CAS => StoreMode::Cas(cas),
        _ => return MOLT_INVALID,
    };
    guarded(|| match s.store(mode, key, value, flags, exptime, now) {
        Ok(new_cas) => {
            // SAFETY: cas_out is NULL or writable, by the caller's contract.
            unsafe { put(cas_out, new_cas) };
            MOLT_OK
        }
        Err(e) => status_of(e),
    })
}

/// storage.h `arith`: incr (non-zero) or decr; outputs optional.
///
/// # Safety
/// `seg` a live handle; `key` valid for `key_len`; outputs NULL or writable.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn molt_seg_arith(
    seg: *mut MoltSeg,
    key: *const u8,
    key_len: usize,
    incr: c_int,
    delta: u64,
    now: i64,
    value_out: *mut u64,
    cas_out: *mut u64,
) -> molt_status {
    // SAFETY: the caller's contract for seg and key.
    let (Some(s), Some(key)) = (unsafe { engine(seg) }, unsafe { bytes(key, key_len) }) else {
        return MOLT_INVALID;
    };
    guarded(|| match s.arith(key, incr != 0, delta, now) {
        Ok((value, cas)) => {
            // SAFETY: outputs are NULL or writable, by the caller's contract.
            unsafe {
                put(value_out, value);
                put(cas_out, cas);
            }
            MOLT_OK
        }
        Err(e) => status_of(e),
    })
}

/// storage.h `remove`.
///
/// # Safety
/// `seg` a live handle; `key` valid for `key_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn molt_seg_remove(
    seg: *mut MoltSeg,
    key: *const u8,
    key_len: usize,
    now: i64,
) -> molt_status {
    // SAFETY: the caller's contract for seg and key.
    let (Some(s), Some(key)) = (unsafe { engine(seg) }, unsafe { bytes(key, key_len) }) else {
        return MOLT_INVALID;
    };
    guarded(|| result_of(s.remove(key, now)))
}

/// storage.h `touch`.
///
/// # Safety
/// `seg` a live handle; `key` valid for `key_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn molt_seg_touch(
    seg: *mut MoltSeg,
    key: *const u8,
    key_len: usize,
    exptime: i64,
    now: i64,
) -> molt_status {
    // SAFETY: the caller's contract for seg and key.
    let (Some(s), Some(key)) = (unsafe { engine(seg) }, unsafe { bytes(key, key_len) }) else {
        return MOLT_INVALID;
    };
    guarded(|| result_of(s.touch(key, exptime, now)))
}

/// storage.h `flush`.
///
/// # Safety
/// `seg` a live handle.
#[no_mangle]
pub unsafe extern "C" fn molt_seg_flush(seg: *mut MoltSeg, at: i64, now: i64) -> molt_status {
    // SAFETY: the caller's contract for seg.
    let Some(s) = (unsafe { engine(seg) }) else {
        return MOLT_INVALID;
    };
    guarded(|| result_of(s.flush(at, now)))
}

/// storage.h `stats`: fills `*out` on MOLT_OK.
///
/// # Safety
/// `seg` a live handle; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn molt_seg_stats(
    seg: *mut MoltSeg,
    now: i64,
    out: *mut molt_storage_stats,
) -> molt_status {
    // SAFETY: the caller's contract for seg.
    let Some(s) = (unsafe { engine(seg) }) else {
        return MOLT_INVALID;
    };
    if out.is_null() {
        return MOLT_INVALID;
    }
    guarded(|| {
        let st = s.stats(now);
        let stats = molt_storage_stats {
            curr_items: st.curr_items,
            total_items: st.total_items,
            bytes: st.bytes,
            evictions: st.evictions,
            expired: st.expired,
            memory_used: st.memory_used,
            memory_limit: st.memory_limit,
            hash_buckets: st.hash_buckets,
        };
        // SAFETY: out is non-NULL (checked above) and writable.
        unsafe { out.write(stats) };
        MOLT_OK
    })
}
