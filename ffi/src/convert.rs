//! Between the bindgen C types of storage.h (`sys`) and the one safe model
//! of the seam (the `storage` crate), in both directions: the exports in
//! seg.rs take C values to the safe model, and the root crate's safe
//! wrapper of the C engines takes the safe model to C values and back.

use crate::sys::{
    molt_class_row, molt_item_info, molt_meta_arith_opts, molt_meta_arith_result,
    molt_meta_delete_opts, molt_meta_get_opts, molt_meta_store_req, molt_status,
    molt_storage_stats, molt_store_mode, molt_walk_cursor, molt_walk_item,
};
use std::os::raw::c_int;
use storage::{
    ArithOptions, ArithResult, ClassRow, DeleteOptions, Error, GetOptions, ItemInfo, Stats,
    StoreMode, StoreOptions, WalkCursor, WalkItem,
};

/// The strings of a static, NULL-terminated array of C strings (the
/// registries' name lists).
///
/// # Safety
/// `p` points at such an array, whose strings are NUL-terminated.
pub unsafe fn c_names(mut p: *const *const std::os::raw::c_char) -> Vec<String> {
    let mut names = Vec::new();
    // SAFETY: the caller's promise; read up to the NULL.
    unsafe {
        while !(*p).is_null() {
            names.push(std::ffi::CStr::from_ptr(*p).to_string_lossy().into_owned());
            p = p.add(1);
        }
    }
    names
}

/// storage.h's (switch, value) pair as an Option.
fn opt<T>(on: c_int, v: T) -> Option<T> {
    (on != 0).then_some(v)
}

/// An Option as storage.h's (switch, value) pair.
pub fn c_opt<T: Default>(v: Option<T>) -> (c_int, T) {
    match v {
        Some(x) => (1, x),
        None => (0, T::default()),
    }
}

/// The status of an error.
pub fn status_of(e: Error) -> molt_status {
    match e {
        Error::NotFound => molt_status::MOLT_NOT_FOUND,
        Error::NotStored => molt_status::MOLT_NOT_STORED,
        Error::Exists => molt_status::MOLT_EXISTS,
        Error::TooLarge => molt_status::MOLT_TOO_LARGE,
        Error::NoMemory => molt_status::MOLT_NO_MEMORY,
        Error::NonNumeric => molt_status::MOLT_NON_NUMERIC,
        Error::Invalid => molt_status::MOLT_INVALID,
        Error::Internal => molt_status::MOLT_INTERNAL,
    }
}

/// The status of a result whose value, if any, was already delivered.
pub fn status<T>(r: Result<T, Error>) -> molt_status {
    r.map_or_else(status_of, |_| molt_status::MOLT_OK)
}

/// A status as a result (an unknown code is `Internal`).
pub fn check(rc: molt_status) -> Result<(), Error> {
    Err(match rc {
        molt_status::MOLT_OK => return Ok(()),
        molt_status::MOLT_NOT_FOUND => Error::NotFound,
        molt_status::MOLT_NOT_STORED => Error::NotStored,
        molt_status::MOLT_EXISTS => Error::Exists,
        molt_status::MOLT_TOO_LARGE => Error::TooLarge,
        molt_status::MOLT_NO_MEMORY => Error::NoMemory,
        molt_status::MOLT_NON_NUMERIC => Error::NonNumeric,
        molt_status::MOLT_INVALID => Error::Invalid,
        _ => Error::Internal,
    })
}

/// An engine's store mode; MOLT_STORE_CAS (the classic command, which the
/// seam turns into SET with compare_cas) and unknown values are None.
pub fn store_mode(m: molt_store_mode) -> Option<StoreMode> {
    Some(match m {
        molt_store_mode::MOLT_STORE_SET => StoreMode::Set,
        molt_store_mode::MOLT_STORE_ADD => StoreMode::Add,
        molt_store_mode::MOLT_STORE_REPLACE => StoreMode::Replace,
        molt_store_mode::MOLT_STORE_APPEND => StoreMode::Append,
        molt_store_mode::MOLT_STORE_PREPEND => StoreMode::Prepend,
        _ => return None,
    })
}

impl From<StoreMode> for molt_store_mode {
    fn from(m: StoreMode) -> Self {
        match m {
            StoreMode::Set => molt_store_mode::MOLT_STORE_SET,
            StoreMode::Add => molt_store_mode::MOLT_STORE_ADD,
            StoreMode::Replace => molt_store_mode::MOLT_STORE_REPLACE,
            StoreMode::Append => molt_store_mode::MOLT_STORE_APPEND,
            StoreMode::Prepend => molt_store_mode::MOLT_STORE_PREPEND,
        }
    }
}

/// `ItemInfo` has `molt_item_info`'s layout (repr(C), the same fields in
/// the same order; a bool is a byte holding 0 or 1, as the C fields hold),
/// so a read's info goes to a C sink without a copy.
const _: () = {
    use std::mem::{align_of, offset_of, size_of};
    assert!(size_of::<ItemInfo>() == size_of::<molt_item_info>());
    assert!(align_of::<ItemInfo>() == align_of::<molt_item_info>());
    assert!(offset_of!(ItemInfo, flags) == offset_of!(molt_item_info, flags));
    assert!(offset_of!(ItemInfo, cas) == offset_of!(molt_item_info, cas));
    assert!(offset_of!(ItemInfo, exptime) == offset_of!(molt_item_info, exptime));
    assert!(offset_of!(ItemInfo, last_access) == offset_of!(molt_item_info, last_access));
    assert!(offset_of!(ItemInfo, fetched) == offset_of!(molt_item_info, fetched));
    assert!(offset_of!(ItemInfo, stale) == offset_of!(molt_item_info, stale));
    assert!(offset_of!(ItemInfo, win) == offset_of!(molt_item_info, win));
    assert!(offset_of!(ItemInfo, win_taken) == offset_of!(molt_item_info, win_taken));
};

/// A read's info as the C struct, in place (see the layout check above).
#[inline(always)]
pub fn c_item_info(i: &ItemInfo) -> *const molt_item_info {
    std::ptr::from_ref(i).cast()
}

impl From<&ItemInfo> for molt_item_info {
    fn from(i: &ItemInfo) -> Self {
        molt_item_info {
            flags: i.flags,
            cas: i.cas,
            exptime: i.exptime,
            last_access: i.last_access,
            fetched: u8::from(i.fetched),
            stale: u8::from(i.stale),
            win: u8::from(i.win),
            win_taken: u8::from(i.win_taken),
        }
    }
}

impl From<&molt_item_info> for ItemInfo {
    fn from(i: &molt_item_info) -> Self {
        ItemInfo {
            flags: i.flags,
            cas: i.cas,
            exptime: i.exptime,
            last_access: i.last_access,
            fetched: i.fetched != 0,
            stale: i.stale != 0,
            win: i.win != 0,
            win_taken: i.win_taken != 0,
        }
    }
}

impl From<&molt_meta_get_opts> for GetOptions {
    fn from(o: &molt_meta_get_opts) -> Self {
        GetOptions {
            touch: opt(o.touch, o.touch_exptime),
            no_bump: o.no_bump != 0,
            vivify: opt(o.vivify, o.vivify_exptime),
            recache: opt(o.recache, o.recache_ttl),
            new_cas: opt(o.has_new_cas, o.new_cas),
            no_win: o.no_win != 0,
        }
    }
}

impl From<&GetOptions> for molt_meta_get_opts {
    fn from(o: &GetOptions) -> Self {
        let (touch, touch_exptime) = c_opt(o.touch);
        let (vivify, vivify_exptime) = c_opt(o.vivify);
        let (recache, recache_ttl) = c_opt(o.recache);
        let (has_new_cas, new_cas) = c_opt(o.new_cas);
        molt_meta_get_opts {
            touch,
            touch_exptime,
            no_bump: c_int::from(o.no_bump),
            vivify,
            vivify_exptime,
            recache,
            recache_ttl,
            has_new_cas,
            new_cas,
            no_win: c_int::from(o.no_win),
        }
    }
}

/// The options of a meta store request (its item is read by the caller).
impl From<&molt_meta_store_req> for StoreOptions {
    fn from(r: &molt_meta_store_req) -> Self {
        StoreOptions {
            compare_cas: opt(r.has_compare_cas, r.compare_cas),
            new_cas: opt(r.has_new_cas, r.new_cas),
            invalidate: r.invalidate != 0,
            vivify: opt(r.vivify, r.vivify_exptime),
        }
    }
}

impl From<&molt_meta_delete_opts> for DeleteOptions {
    fn from(o: &molt_meta_delete_opts) -> Self {
        DeleteOptions {
            compare_cas: opt(o.has_compare_cas, o.compare_cas),
            new_cas: opt(o.has_new_cas, o.new_cas),
            invalidate: o.invalidate != 0,
            touch: opt(o.touch, o.touch_exptime),
            clear_value: o.clear_value != 0,
        }
    }
}

impl From<&DeleteOptions> for molt_meta_delete_opts {
    fn from(o: &DeleteOptions) -> Self {
        let (has_compare_cas, compare_cas) = c_opt(o.compare_cas);
        let (has_new_cas, new_cas) = c_opt(o.new_cas);
        let (touch, touch_exptime) = c_opt(o.touch);
        molt_meta_delete_opts {
            has_compare_cas,
            compare_cas,
            has_new_cas,
            new_cas,
            invalidate: c_int::from(o.invalidate),
            touch,
            touch_exptime,
            clear_value: c_int::from(o.clear_value),
        }
    }
}

/// A meta arithmetic's C options as (incr, delta, the other options).
pub fn arith_opts(o: &molt_meta_arith_opts) -> (bool, u64, ArithOptions) {
    let opts = ArithOptions {
        compare_cas: opt(o.has_compare_cas, o.compare_cas),
        new_cas: opt(o.has_new_cas, o.new_cas),
        vivify: opt(o.vivify, o.vivify_exptime),
        initial: o.initial,
        touch: opt(o.touch, o.touch_exptime),
    };
    (o.incr != 0, o.delta, opts)
}

/// The C options of a meta arithmetic.
pub fn c_arith_opts(incr: bool, delta: u64, o: &ArithOptions) -> molt_meta_arith_opts {
    let (has_compare_cas, compare_cas) = c_opt(o.compare_cas);
    let (has_new_cas, new_cas) = c_opt(o.new_cas);
    let (vivify, vivify_exptime) = c_opt(o.vivify);
    let (touch, touch_exptime) = c_opt(o.touch);
    molt_meta_arith_opts {
        incr: c_int::from(incr),
        delta,
        has_compare_cas,
        compare_cas,
        has_new_cas,
        new_cas,
        vivify,
        vivify_exptime,
        initial: o.initial,
        touch,
        touch_exptime,
    }
}

/// `From` both ways between a C struct and the safe struct with the same
/// fields.
macro_rules! same_fields {
    ($c:ty, $safe:ty, $($f:ident),+) => {
        impl From<$safe> for $c {
            fn from(v: $safe) -> Self {
                Self { $($f: v.$f),+ }
            }
        }
        impl From<$c> for $safe {
            fn from(v: $c) -> Self {
                Self { $($f: v.$f),+ }
            }
        }
    };
}

same_fields!(molt_meta_arith_result, ArithResult, value, cas, exptime);
same_fields!(
    molt_storage_stats,
    Stats,
    curr_items,
    total_items,
    bytes,
    evictions,
    expired,
    memory_used,
    memory_limit,
    hash_buckets
);
same_fields!(
    molt_class_row,
    ClassRow,
    id,
    chunk_size,
    chunks_per_page,
    pages,
    chunks,
    used_chunks,
    free_chunks,
    free_chunks_end,
    items,
    oldest_access
);

impl From<&molt_walk_cursor> for WalkCursor {
    fn from(c: &molt_walk_cursor) -> Self {
        WalkCursor {
            pos: c.pos,
            check: c.check,
            done: c.done != 0,
        }
    }
}

impl From<WalkCursor> for molt_walk_cursor {
    fn from(c: WalkCursor) -> Self {
        molt_walk_cursor {
            pos: c.pos,
            check: c.check,
            done: c_int::from(c.done),
        }
    }
}

/// A walk's item as C sees it; the key pointer borrows from `w`.
impl From<&WalkItem<'_>> for molt_walk_item {
    fn from(w: &WalkItem<'_>) -> Self {
        molt_walk_item {
            key: w.key.as_ptr(),
            key_len: w.key.len(),
            flags: w.flags,
            class_id: w.class_id,
            cas: w.cas,
            exptime: w.exptime,
            last_access: w.last_access,
            size: w.size,
            fetched: u8::from(w.fetched),
        }
    }
}
