//! `rust/seg` as a storage.h engine: these exports take the engine as
//! `void *self`, exactly as `molt_storage_ops` declares its slots, so the
//! table in c-core/mixed/storage_seg.c points at them directly (no C
//! trampolines). Only the general (meta) operations are here; the seam
//! expresses the classic commands over them in C.

use crate::convert::{arith_opts, c_item_info, status, status_of, store_mode};
use crate::guard::{arg, boundary};
use crate::sys::{
    molt_class_row, molt_class_sink, molt_engine_figure, molt_evict_sink, molt_evicted_item,
    molt_figure_sink, molt_item_info, molt_meta_arith_opts, molt_meta_arith_result,
    molt_meta_delete_opts, molt_meta_get_opts, molt_meta_store_req, molt_status,
    molt_storage_config, molt_storage_stats, molt_value_sink, molt_walk_cursor, molt_walk_item,
    molt_walk_sink,
};
use seg::{Seg, SegConfig};
use std::ffi::{CStr, OsStr};
use std::mem::MaybeUninit;
use std::os::raw::{c_char, c_void};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use storage::{ArithOptions, ArithResult, Error, GetOptions, Storage, StoreOptions};

/// The engine behind a `void *self` handle.
fn engine(seg: *mut c_void) -> *const Seg {
    seg.cast::<Seg>().cast_const()
}

/// Creates an engine from `cfg` (storage.h's engine constructor); on
/// MOLT_OK `*out` holds the handle, to be released with `molt_seg_free`.
///
/// # Safety
/// `cfg` NULL or a valid config; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn molt_seg_new(
    cfg: *const molt_storage_config,
    out: *mut *mut c_void,
) -> molt_status {
    boundary(|| {
        let cfg = arg!(ref cfg);
        let out = arg!(out out);
        let config = SegConfig {
            memory_limit: cfg.memory_limit,
            item_size_max: cfg.item_size_max,
            ..SegConfig::default()
        };
        match Seg::new(config) {
            Ok(seg) => {
                if cfg.on_evict.is_some() {
                    seg.set_eviction_hook(eviction_hook(cfg.on_evict, cfg.on_evict_ctx));
                }
                out.write(Box::into_raw(Box::new(seg)).cast());
                molt_status::MOLT_OK
            }
            Err(e) => status_of(e),
        }
    })
}

/// storage.h's eviction sink as the engine's hook. The C context pointer
/// travels as an address: the caller of molt_seg_new keeps it valid (and
/// usable from any thread) for the engine's life (storage.h).
fn eviction_hook(sink: molt_evict_sink, ctx: *mut c_void) -> storage::EvictionHook {
    let ctx = ctx as usize;
    Box::new(move |e: &storage::Evicted<'_>| {
        let item = molt_evicted_item {
            key: e.key.as_ptr(),
            key_len: e.key.len(),
            exptime: e.exptime,
            last_access: e.last_access,
            class_id: e.class_id,
            value_len: e.value_len,
            fetched: u8::from(e.fetched),
        };
        if let Some(f) = sink {
            // SAFETY: f is the C sink given with ctx in the engine's config,
            // which promises both outlive the engine; `item` and the key it
            // points at are valid for the call, which does not keep them.
            unsafe { f(ctx as *mut c_void, &item) };
        }
    })
}

/// Releases an engine (storage.h `destroy`); NULL is a no-op.
///
/// # Safety
/// `seg` NULL or a handle from `molt_seg_new` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn molt_seg_free(seg: *mut c_void) {
    boundary(|| {
        if !seg.is_null() {
            // SAFETY: a live handle from molt_seg_new (a Box<Seg>), freed
            // once, by the contract above.
            drop(unsafe { Box::from_raw(seg.cast::<Seg>()) });
        }
    })
}

/// Hands one read's info and value to the caller's sink.
fn deliver(
    sink: unsafe extern "C" fn(*mut c_void, *const molt_item_info, *const u8, usize),
    ctx: *mut c_void,
    info: &storage::ItemInfo,
    value: &[u8],
) {
    // SAFETY: sink and ctx are the caller's callback and its context, which
    // storage.h lets the engine call during the read; info (a
    // molt_item_info by layout, see convert::c_item_info) and value are
    // valid for the duration of the call, as storage.h promises the sink,
    // and the sink only reads them.
    unsafe { sink(ctx, c_item_info(info), value.as_ptr(), value.len()) };
}

/// The options of a classic read (get, gets: what `molt_storage_get`
/// passes). Reads with exactly these are compiled with the options known,
/// so none is tested at run time.
const CLASSIC_GET: GetOptions = GetOptions {
    touch: None,
    no_bump: false,
    vivify: None,
    recache: None,
    new_cas: None,
    no_win: true,
};

/// Whether C options are [`CLASSIC_GET`].
#[inline(always)]
fn is_classic_get(o: &molt_meta_get_opts) -> bool {
    (o.touch | o.vivify | o.recache | o.has_new_cas | o.no_bump) == 0 && o.no_win != 0
}

/// A read with any other options (meta get's flags, gat, touch): out of
/// line, so the classic read keeps its registers.
#[inline(never)]
fn meta_get_with(
    s: &Seg,
    key: &[u8],
    now: i64,
    opts: &molt_meta_get_opts,
    sink: unsafe extern "C" fn(*mut c_void, *const molt_item_info, *const u8, usize),
    ctx: *mut c_void,
) -> molt_status {
    status(s.meta_get(key, now, &opts.into(), |info, value| {
        deliver(sink, ctx, info, value)
    }))
}

/// A write's options; a classic write's (none of them, or only the cas
/// compare) without converting each optional field.
#[inline(always)]
fn store_options(r: &molt_meta_store_req) -> StoreOptions {
    if (r.has_new_cas | r.invalidate | r.vivify) == 0 {
        StoreOptions {
            compare_cas: (r.has_compare_cas != 0).then_some(r.compare_cas),
            ..StoreOptions::default()
        }
    } else {
        r.into()
    }
}

/// storage.h `meta_get`: the item (or, with vivify, the new empty one)
/// goes to `sink` while the engine holds its lock.
///
/// # Safety
/// `seg` a live handle; `key` valid for `key_len` bytes; `opts` valid;
/// `sink` callable with `ctx`.
#[no_mangle]
pub unsafe extern "C" fn molt_seg_meta_get(
    seg: *mut c_void,
    key: *const u8,
    key_len: usize,
    now: i64,
    opts: *const molt_meta_get_opts,
    sink: molt_value_sink,
    ctx: *mut c_void,
) -> molt_status {
    boundary(|| {
        let (s, key) = (arg!(ref engine(seg)), arg!(bytes key, key_len));
        let (opts, sink) = (arg!(ref opts), arg!(some sink));
        if !is_classic_get(opts) {
            return meta_get_with(s, key, now, opts, sink, ctx);
        }
        status(s.meta_get(key, now, &CLASSIC_GET, |info, value| {
            deliver(sink, ctx, info, value)
        }))
    })
}

/// storage.h `meta_store`; on MOLT_OK `*cas_out` (if not NULL) is the new
/// cas. MOLT_STORE_CAS is not an engine mode (MOLT_INVALID).
///
/// # Safety
/// `seg` a live handle; `req` valid, its key and value valid for their
/// lengths; `cas_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn molt_seg_meta_store(
    seg: *mut c_void,
    req: *const molt_meta_store_req,
    now: i64,
    cas_out: *mut u64,
) -> molt_status {
    boundary(|| {
        let (s, r) = (arg!(ref engine(seg)), arg!(ref req));
        let (key, value) = (
            arg!(bytes r.key, r.key_len),
            arg!(bytes r.value, r.value_len),
        );
        let Some(mode) = store_mode(r.mode) else {
            return molt_status::MOLT_INVALID;
        };
        match s.meta_store(mode, key, value, r.flags, r.exptime, now, &store_options(r)) {
            Ok(cas) => {
                if let Some(out) = arg!(opt_out cas_out) {
                    out.write(cas);
                }
                molt_status::MOLT_OK
            }
            Err(e) => status_of(e),
        }
    })
}

/// storage.h `meta_delete`: delete, invalidate (mark stale) or empty an
/// item.
///
/// # Safety
/// `seg` a live handle; `key` valid for `key_len` bytes; `opts` valid.
#[no_mangle]
pub unsafe extern "C" fn molt_seg_meta_delete(
    seg: *mut c_void,
    key: *const u8,
    key_len: usize,
    now: i64,
    opts: *const molt_meta_delete_opts,
) -> molt_status {
    boundary(|| {
        let (s, key, opts) = (
            arg!(ref engine(seg)),
            arg!(bytes key, key_len),
            arg!(ref opts),
        );
        status(s.meta_delete(key, now, &opts.into()))
    })
}

/// storage.h `meta_arith`: on MOLT_OK `*out` holds the value, cas and
/// exptime left behind.
///
/// # Safety
/// `seg` a live handle; `key` valid for `key_len` bytes; `opts` valid;
/// `out` writable.
#[no_mangle]
pub unsafe extern "C" fn molt_seg_meta_arith(
    seg: *mut c_void,
    key: *const u8,
    key_len: usize,
    now: i64,
    opts: *const molt_meta_arith_opts,
    out: *mut molt_meta_arith_result,
) -> molt_status {
    boundary(|| {
        let (s, key, opts) = (
            arg!(ref engine(seg)),
            arg!(bytes key, key_len),
            arg!(ref opts),
        );
        let out = arg!(out out);
        if !is_classic_arith(opts) {
            return meta_arith_with(s, key, now, opts, out);
        }
        let r = s.meta_arith(key, opts.incr != 0, opts.delta, now, &CLASSIC_ARITH);
        arith_status(r, out)
    })
}

/// The options of a classic incr/decr (what `molt_storage_arith` passes;
/// `initial` only matters with vivify). Compiled with the options known,
/// as [`CLASSIC_GET`].
const CLASSIC_ARITH: ArithOptions = ArithOptions {
    compare_cas: None,
    new_cas: None,
    vivify: None,
    initial: 0,
    touch: None,
};

/// Whether C options are [`CLASSIC_ARITH`]'s.
#[inline(always)]
fn is_classic_arith(o: &molt_meta_arith_opts) -> bool {
    (o.has_compare_cas | o.has_new_cas | o.vivify | o.touch) == 0
}

/// An incr/decr with meta options: out of line, as [`meta_get_with`].
#[inline(never)]
fn meta_arith_with(
    s: &Seg,
    key: &[u8],
    now: i64,
    opts: &molt_meta_arith_opts,
    out: &mut MaybeUninit<molt_meta_arith_result>,
) -> molt_status {
    let (incr, delta, opts) = arith_opts(opts);
    arith_status(s.meta_arith(key, incr, delta, now, &opts), out)
}

/// An arithmetic's status, its result written to `out` on success.
#[inline(always)]
fn arith_status(
    r: Result<ArithResult, Error>,
    out: &mut MaybeUninit<molt_meta_arith_result>,
) -> molt_status {
    match r {
        Ok(r) => {
            out.write(r.into());
            molt_status::MOLT_OK
        }
        Err(e) => status_of(e),
    }
}

/// storage.h `flush`.
///
/// # Safety
/// `seg` a live handle.
#[no_mangle]
pub unsafe extern "C" fn molt_seg_flush(seg: *mut c_void, at: i64, now: i64) -> molt_status {
    boundary(|| status(arg!(ref engine(seg)).flush(at, now)))
}

/// storage.h `stats`: fills `*out` on MOLT_OK.
///
/// # Safety
/// `seg` a live handle; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn molt_seg_stats(
    seg: *mut c_void,
    now: i64,
    out: *mut molt_storage_stats,
) -> molt_status {
    boundary(|| {
        let (s, out) = (arg!(ref engine(seg)), arg!(out out));
        out.write(s.stats(now).into());
        molt_status::MOLT_OK
    })
}

/// storage.h `classes`: one row per TTL bucket holding segments, to `sink`
/// while the engine holds its lock.
///
/// # Safety
/// `seg` a live handle; `sink` callable with `ctx`.
#[no_mangle]
pub unsafe extern "C" fn molt_seg_classes(
    seg: *mut c_void,
    now: i64,
    sink: molt_class_sink,
    ctx: *mut c_void,
) -> molt_status {
    boundary(|| {
        let (s, sink) = (arg!(ref engine(seg)), arg!(some sink));
        status(s.classes(now, &mut |row| {
            let row = molt_class_row::from(*row);
            // SAFETY: sink and ctx are the caller's callback and context,
            // which storage.h lets the engine call during the report; row
            // is valid for the duration of the call.
            unsafe { sink(ctx, &row) };
        }))
    })
}

/// storage.h `walk`: at most `max` live items from `*cursor` to `sink`
/// while the engine holds its lock; `*cursor` advanced on MOLT_OK.
///
/// # Safety
/// `seg` a live handle; `cursor` valid and writable; `sink` callable with
/// `ctx`.
#[no_mangle]
pub unsafe extern "C" fn molt_seg_walk(
    seg: *mut c_void,
    now: i64,
    cursor: *mut molt_walk_cursor,
    max: usize,
    sink: molt_walk_sink,
    ctx: *mut c_void,
) -> molt_status {
    boundary(|| {
        let (s, c, sink) = (arg!(ref engine(seg)), arg!(mut cursor), arg!(some sink));
        let mut at = storage::WalkCursor::from(&*c);
        let rc = s.walk(now, &mut at, max, &mut |item| {
            let item = molt_walk_item::from(item);
            // SAFETY: as for the class sink above; item and the key it
            // points at are valid for the duration of the call.
            unsafe { sink(ctx, &item) };
        });
        if rc.is_ok() {
            *c = at.into();
        }
        status(rc)
    })
}

/// storage.h `figures`: the engine's own figures (segments, merges,
/// evictions and expirations by cause, hash table load) to `sink` while the
/// engine holds its lock.
///
/// # Safety
/// `seg` a live handle; `sink` callable with `ctx`.
#[no_mangle]
pub unsafe extern "C" fn molt_seg_figures(
    seg: *mut c_void,
    now: i64,
    sink: molt_figure_sink,
    ctx: *mut c_void,
) -> molt_status {
    boundary(|| {
        let (s, sink) = (arg!(ref engine(seg)), arg!(some sink));
        s.figures(now, &mut |f| {
            let fig = molt_engine_figure {
                name: f.name.as_ptr(),
                help: f.help.as_ptr(),
                counter: std::os::raw::c_int::from(f.counter),
                value: f.value,
            };
            // SAFETY: sink and ctx are the caller's callback and context,
            // which storage.h lets the engine call during the report; fig
            // and the static strings it points at outlive the call.
            unsafe { sink(ctx, &fig) };
        });
        molt_status::MOLT_OK
    })
}

/// A log line into the caller's `note` buffer: NUL-terminated, cut to fit.
fn write_note(note: Option<&mut [MaybeUninit<c_char>]>, text: &str) {
    let Some(buf) = note else { return };
    let n = text.len().min(buf.len() - 1);
    for (dst, &b) in buf.iter_mut().zip(&text.as_bytes()[..n]) {
        dst.write(b as c_char);
    }
    buf[n].write(0);
}

/// A restore's or save's status, its log line (or error) to `note`.
fn noted<T: std::fmt::Display>(
    r: Result<T, seg::PersistError>,
    note: Option<&mut [MaybeUninit<c_char>]>,
) -> molt_status {
    match r {
        Ok(done) => {
            write_note(note, &done.to_string());
            molt_status::MOLT_OK
        }
        Err(e) => {
            write_note(note, &e.to_string());
            molt_status::MOLT_INTERNAL
        }
    }
}

/// A C path as a `Path` (bytes as given: Unix paths need not be UTF-8).
fn c_path(path: &CStr) -> &Path {
    Path::new(OsStr::from_bytes(path.to_bytes()))
}

/// storage.h `restore`: warm restart from the memory file `path` (see
/// `seg::Seg::restore`); the log line goes to `note`. MOLT_NOT_STORED when
/// a file was there but refused or partly dropped.
///
/// # Safety
/// `seg` a live handle; `path` a NUL-terminated string; `note` NULL or
/// writable for `note_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn molt_seg_restore(
    seg: *mut c_void,
    path: *const c_char,
    now: i64,
    note: *mut c_char,
    note_len: usize,
) -> molt_status {
    boundary(|| {
        let (s, path) = (arg!(ref engine(seg)), arg!(str path));
        let note = arg!(opt_buf note, note_len);
        let r = s.restore(c_path(path), now);
        let whole = r.as_ref().is_ok_and(|r| r.clean());
        match noted(r, note) {
            molt_status::MOLT_OK if !whole => molt_status::MOLT_NOT_STORED,
            st => st,
        }
    })
}

/// storage.h `save`: at a graceful stop, every segment holding items to
/// the memory file `path`; the log line goes to `note`.
///
/// # Safety
/// As [`molt_seg_restore`].
#[no_mangle]
pub unsafe extern "C" fn molt_seg_save(
    seg: *mut c_void,
    path: *const c_char,
    now: i64,
    note: *mut c_char,
    note_len: usize,
) -> molt_status {
    boundary(|| {
        let (s, path) = (arg!(ref engine(seg)), arg!(str path));
        let note = arg!(opt_buf note, note_len);
        noted(s.save(c_path(path), now), note)
    })
}
