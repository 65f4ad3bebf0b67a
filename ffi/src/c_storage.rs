//! C engines (storage.h) as the safe storage trait: `CStorage` implements
//! `storage::Storage` over a `molt_storage` handle. It is the one wrapper
//! of the C storage seam in Rust: the root crate's suites open engines with
//! it (owning the handle), and the Rust protocol (protocol.rs) borrows the
//! handle a host passes in its context.

use crate::convert::{c_arith_opts, c_names, c_opt, check};
use crate::sys;
use std::any::Any;
use std::ffi::{CStr, CString};
use std::mem::ManuallyDrop;
use std::os::raw::{c_int, c_void};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::ptr::NonNull;
use storage::{
    ArithOptions, ArithResult, ClassFn, ClassRow, DeleteOptions, Error, GetOptions, ItemInfo,
    Stats, Storage, StoreCommand, StoreMode, StoreOptions, WalkCursor, WalkFn, WalkItem,
};

/// Engine parameters (storage.h `molt_storage_config`).
#[derive(Debug, Clone, Copy)]
pub struct StorageConfig {
    pub memory_limit: u64,
    pub item_size_max: u32,
    /// Slab class growth factor (slab only; 0 = default).
    pub growth_factor: f64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            memory_limit: 64 << 20,
            item_size_max: 1 << 20,
            growth_factor: 0.0,
        }
    }
}

/// Names of the storage engines compiled into this binary.
pub fn engines() -> Vec<String> {
    // SAFETY: molt_storage_engines returns a static, NULL-terminated array
    // of static NUL-terminated strings.
    unsafe { c_names(sys::molt_storage_engines()) }
}

/// A storage engine opened through storage.h (the C slab engine, or seg
/// through the C seam and molt-ffi). Dropping it frees the engine.
pub struct CStorage {
    raw: NonNull<sys::molt_storage>,
}

// SAFETY: storage.h requires every engine to be thread safe (the core calls
// it from any worker thread), and the handle is not tied to a thread.
unsafe impl Send for CStorage {}
// SAFETY: as above; all methods take &self and the engine locks internally.
unsafe impl Sync for CStorage {}

/// One read in flight: the caller's closure, then its result (or the panic
/// it raised, carried over the C frames and resumed after them).
struct Read<F, R> {
    f: Option<F>,
    out: Option<R>,
    panic: Option<Box<dyn Any + Send>>,
}

/// The storage.h value sink: runs the closure in the `Read` behind ctx.
extern "C" fn read_sink<F, R>(
    ctx: *mut c_void,
    info: *const sys::molt_item_info,
    value: *const u8,
    value_len: usize,
) where
    F: FnOnce(&ItemInfo, &[u8]) -> R,
{
    // SAFETY: ctx is the &mut Read<F, R> that CStorage::read passed with
    // this very instantiation of the sink, alive and unaliased for the call.
    let read = unsafe { &mut *ctx.cast::<Read<F, R>>() };
    // SAFETY: storage.h hands the sink an info and value_len bytes at value
    // (NULL only when empty), valid for the duration of the call.
    let (info, value) = unsafe {
        let bytes = if value_len == 0 {
            &[][..]
        } else {
            std::slice::from_raw_parts(value, value_len)
        };
        (info.as_ref(), bytes)
    };
    let (Some(f), Some(info)) = (read.f.take(), info) else {
        return;
    };
    // A panic must not unwind through the C engine's frames (it holds a
    // lock); it is resumed once the engine has returned.
    match catch_unwind(AssertUnwindSafe(|| f(&info.into(), value))) {
        Ok(r) => read.out = Some(r),
        Err(p) => read.panic = Some(p),
    }
}

/// The closure a report or walk hands rows to, and a panic it raised (a
/// panic must not unwind through the C engine's frames: it holds a lock).
struct Visit<'a, T: ?Sized> {
    f: &'a mut T,
    panic: Option<Box<dyn Any + Send>>,
}

impl<T: ?Sized> Visit<'_, T> {
    fn call(&mut self, run: impl FnOnce(&mut T)) {
        if self.panic.is_some() {
            return;
        }
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| run(self.f))) {
            self.panic = Some(p);
        }
    }

    fn finish(self, rc: sys::molt_status) -> Result<(), Error> {
        if let Some(p) = self.panic {
            resume_unwind(p);
        }
        check(rc)
    }
}

extern "C" fn class_sink(ctx: *mut c_void, row: *const sys::molt_class_row) {
    // SAFETY: ctx is the &mut Visit<ClassFn> that CStorage::classes passed,
    // alive and unaliased for the call; storage.h hands the sink a row
    // valid for the duration of the call.
    let (visit, row) = unsafe { (&mut *ctx.cast::<Visit<ClassFn<'_>>>(), row.as_ref()) };
    if let Some(row) = row {
        let row = ClassRow::from(*row);
        visit.call(|f| f(&row));
    }
}

extern "C" fn walk_sink(ctx: *mut c_void, item: *const sys::molt_walk_item) {
    // SAFETY: ctx is the &mut Visit<WalkFn> that CStorage::walk passed,
    // alive and unaliased for the call; storage.h hands the sink an item
    // whose key (key_len bytes) is valid for the duration of the call.
    let (visit, item) = unsafe { (&mut *ctx.cast::<Visit<WalkFn<'_>>>(), item.as_ref()) };
    let Some(i) = item else { return };
    let key = if i.key_len == 0 || i.key.is_null() {
        &[][..]
    } else {
        // SAFETY: as above: key_len bytes at key, valid for this call.
        unsafe { std::slice::from_raw_parts(i.key, i.key_len) }
    };
    let w = WalkItem {
        key,
        flags: i.flags,
        class_id: i.class_id,
        cas: i.cas,
        exptime: i.exptime,
        last_access: i.last_access,
        size: i.size,
        fetched: i.fetched != 0,
    };
    visit.call(|f| f(&w));
}

impl CStorage {
    /// Opens engine `name` ("slab", "seg").
    pub fn open(name: &str, cfg: &StorageConfig) -> Result<CStorage, Error> {
        let cname = CString::new(name).map_err(|_| Error::Invalid)?;
        let ccfg = sys::molt_storage_config {
            memory_limit: cfg.memory_limit,
            item_size_max: cfg.item_size_max,
            growth_factor: cfg.growth_factor,
            on_evict: None,
            on_evict_ctx: std::ptr::null_mut(),
        };
        let mut out: *mut sys::molt_storage = std::ptr::null_mut();
        // SAFETY: cname and ccfg are valid for the call; out is a valid
        // place for the engine to write the new handle on success.
        check(unsafe { sys::molt_storage_open(cname.as_ptr(), &ccfg, &mut out) })?;
        NonNull::new(out)
            .map(|raw| CStorage { raw })
            .ok_or(Error::Internal)
    }

    /// A handle someone else owns (a protocol.h context's storage), as a
    /// `Storage` that never frees it.
    ///
    /// # Safety
    /// `raw` is a live handle from `molt_storage_open` that outlives every
    /// use of the result.
    pub unsafe fn borrowed(raw: NonNull<sys::molt_storage>) -> ManuallyDrop<CStorage> {
        ManuallyDrop::new(CStorage { raw })
    }

    /// The handle, for passing to other C seams (a protocol.h context);
    /// it stays owned by this value.
    pub fn as_raw(&self) -> NonNull<sys::molt_storage> {
        self.raw
    }

    /// The engine's name.
    pub fn name(&self) -> String {
        // SAFETY: the handle is live; the name is a static C string.
        unsafe { CStr::from_ptr(sys::molt_storage_name(self.raw.as_ptr())) }
            .to_string_lossy()
            .into_owned()
    }

    /// A read through one of storage.h's reading calls: `call` gets the
    /// sink and its context and makes the call.
    fn read<R, F>(
        &self,
        f: F,
        call: impl FnOnce(sys::molt_value_sink, *mut c_void) -> sys::molt_status,
    ) -> Result<R, Error>
    where
        F: FnOnce(&ItemInfo, &[u8]) -> R,
    {
        let mut read = Read {
            f: Some(f),
            out: None,
            panic: None,
        };
        let rc = call(
            Some(read_sink::<F, R>),
            (&mut read as *mut Read<F, R>).cast(),
        );
        if let Some(p) = read.panic {
            resume_unwind(p);
        }
        check(rc)?;
        read.out.ok_or(Error::Internal)
    }
}

/// The classic commands go through storage.h's own classic calls
/// (c-core/src/storage/classic.c), the ones the C protocol uses, rather
/// than the trait's Rust expression of them: the suite then tests the C
/// seam as the server runs it.
impl Storage for CStorage {
    fn meta_get<R>(
        &self,
        key: &[u8],
        now: i64,
        opts: &GetOptions,
        f: impl FnOnce(&ItemInfo, &[u8]) -> R,
    ) -> Result<R, Error> {
        let o = sys::molt_meta_get_opts::from(opts);
        self.read(f, |sink, ctx| {
            // SAFETY: the handle is live; key is valid for its length and o
            // for the call; sink and ctx come from CStorage::read.
            unsafe {
                sys::molt_storage_meta_get(
                    self.raw.as_ptr(),
                    key.as_ptr(),
                    key.len(),
                    now,
                    &o,
                    sink,
                    ctx,
                )
            }
        })
    }

    fn meta_store(
        &self,
        mode: StoreMode,
        key: &[u8],
        value: &[u8],
        flags: u32,
        exptime: i64,
        now: i64,
        opts: &StoreOptions,
    ) -> Result<u64, Error> {
        let (has_compare_cas, compare_cas) = c_opt(opts.compare_cas);
        let (has_new_cas, new_cas) = c_opt(opts.new_cas);
        let (vivify, vivify_exptime) = c_opt(opts.vivify);
        let req = sys::molt_meta_store_req {
            mode: mode.into(),
            key: key.as_ptr(),
            key_len: key.len(),
            value: value.as_ptr(),
            value_len: value.len(),
            flags,
            exptime,
            has_compare_cas,
            compare_cas,
            has_new_cas,
            new_cas,
            invalidate: c_int::from(opts.invalidate),
            vivify,
            vivify_exptime,
        };
        let mut cas = 0u64;
        // SAFETY: the handle is live; req and the key and value it points
        // at are valid for the call; cas is a valid place for one u64.
        check(unsafe { sys::molt_storage_meta_store(self.raw.as_ptr(), &req, now, &mut cas) })?;
        Ok(cas)
    }

    fn meta_delete(&self, key: &[u8], now: i64, opts: &DeleteOptions) -> Result<(), Error> {
        let o = sys::molt_meta_delete_opts::from(opts);
        // SAFETY: the handle is live; key is valid for its length; o is a
        // valid options struct for the call.
        check(unsafe {
            sys::molt_storage_meta_delete(self.raw.as_ptr(), key.as_ptr(), key.len(), now, &o)
        })
    }

    fn meta_arith(
        &self,
        key: &[u8],
        incr: bool,
        delta: u64,
        now: i64,
        opts: &ArithOptions,
    ) -> Result<ArithResult, Error> {
        let o = c_arith_opts(incr, delta, opts);
        let mut out = sys::molt_meta_arith_result::from(ArithResult::default());
        // SAFETY: the handle is live; key is valid for its length; o is a
        // valid options struct and out a valid place for the result.
        check(unsafe {
            sys::molt_storage_meta_arith(
                self.raw.as_ptr(),
                key.as_ptr(),
                key.len(),
                now,
                &o,
                &mut out,
            )
        })?;
        Ok(out.into())
    }

    fn flush(&self, at: i64, now: i64) -> Result<(), Error> {
        // SAFETY: the handle is live.
        check(unsafe { sys::molt_storage_flush(self.raw.as_ptr(), at, now) })
    }

    fn stats(&self, now: i64) -> Stats {
        let mut s = sys::molt_storage_stats::from(Stats::default());
        // SAFETY: the handle is live; s is a valid place for the stats.
        unsafe { sys::molt_storage_stats_read(self.raw.as_ptr(), now, &mut s) };
        s.into()
    }

    fn classes(&self, now: i64, f: &mut ClassFn<'_>) -> Result<(), Error> {
        let mut visit: Visit<ClassFn<'_>> = Visit { f, panic: None };
        let ctx = (&mut visit as *mut Visit<ClassFn<'_>>).cast::<c_void>();
        // SAFETY: the handle is live; class_sink reads ctx as the Visit it
        // is, which outlives the call.
        let rc =
            unsafe { sys::molt_storage_classes(self.raw.as_ptr(), now, Some(class_sink), ctx) };
        visit.finish(rc)
    }

    fn walk(
        &self,
        now: i64,
        c: &mut WalkCursor,
        max: usize,
        f: &mut WalkFn<'_>,
    ) -> Result<(), Error> {
        let mut visit: Visit<WalkFn<'_>> = Visit { f, panic: None };
        let ctx = (&mut visit as *mut Visit<WalkFn<'_>>).cast::<c_void>();
        let mut at = sys::molt_walk_cursor::from(*c);
        // SAFETY: the handle is live; at is a valid cursor for the call;
        // walk_sink reads ctx as the Visit it is, which outlives the call.
        let rc = unsafe {
            sys::molt_storage_walk(self.raw.as_ptr(), now, &mut at, max, Some(walk_sink), ctx)
        };
        visit.finish(rc)?;
        *c = WalkCursor::from(&at);
        Ok(())
    }

    fn get<R>(
        &self,
        key: &[u8],
        now: i64,
        f: impl FnOnce(&ItemInfo, &[u8]) -> R,
    ) -> Result<R, Error> {
        self.read(f, |sink, ctx| {
            // SAFETY: the handle is live; key is valid for its length; sink
            // and ctx come from CStorage::read.
            unsafe {
                sys::molt_storage_get(self.raw.as_ptr(), key.as_ptr(), key.len(), now, sink, ctx)
            }
        })
    }

    fn get_touch<R>(
        &self,
        key: &[u8],
        exptime: i64,
        now: i64,
        f: impl FnOnce(&ItemInfo, &[u8]) -> R,
    ) -> Result<R, Error> {
        self.read(f, |sink, ctx| {
            // SAFETY: as in get.
            unsafe {
                sys::molt_storage_get_touch(
                    self.raw.as_ptr(),
                    key.as_ptr(),
                    key.len(),
                    exptime,
                    now,
                    sink,
                    ctx,
                )
            }
        })
    }

    fn touch(&self, key: &[u8], exptime: i64, now: i64) -> Result<(), Error> {
        // SAFETY: the handle is live; key is valid for its length.
        check(unsafe {
            sys::molt_storage_touch(self.raw.as_ptr(), key.as_ptr(), key.len(), exptime, now)
        })
    }

    fn store(
        &self,
        cmd: StoreCommand,
        key: &[u8],
        value: &[u8],
        flags: u32,
        exptime: i64,
        now: i64,
    ) -> Result<u64, Error> {
        let (mode, cas) = match cmd.to_meta() {
            (mode, None) => (mode.into(), 0),
            (_, Some(c)) => (sys::molt_store_mode::MOLT_STORE_CAS, c),
        };
        let mut cas_out = 0u64;
        // SAFETY: the handle is live; key and value are valid for their
        // lengths; cas_out is a valid place for one u64.
        check(unsafe {
            sys::molt_storage_store(
                self.raw.as_ptr(),
                mode,
                key.as_ptr(),
                key.len(),
                value.as_ptr(),
                value.len(),
                flags,
                exptime,
                cas,
                now,
                &mut cas_out,
            )
        })?;
        Ok(cas_out)
    }

    fn arith(&self, key: &[u8], incr: bool, delta: u64, now: i64) -> Result<(u64, u64), Error> {
        let (mut value, mut cas) = (0u64, 0u64);
        // SAFETY: the handle is live; key is valid for its length; the two
        // outputs are valid places for one u64 each.
        check(unsafe {
            sys::molt_storage_arith(
                self.raw.as_ptr(),
                key.as_ptr(),
                key.len(),
                c_int::from(incr),
                delta,
                now,
                &mut value,
                &mut cas,
            )
        })?;
        Ok((value, cas))
    }

    fn remove(&self, key: &[u8], now: i64) -> Result<(), Error> {
        // SAFETY: the handle is live; key is valid for its length.
        check(unsafe { sys::molt_storage_remove(self.raw.as_ptr(), key.as_ptr(), key.len(), now) })
    }
}

impl Drop for CStorage {
    fn drop(&mut self) {
        // SAFETY: the handle came from molt_storage_open and is freed once.
        unsafe { sys::molt_storage_free(self.raw.as_ptr()) }
    }
}
