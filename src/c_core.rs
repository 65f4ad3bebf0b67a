//! The one place Rust calls C: the bindgen bindings of c-core's interface
//! headers, wrapped in a safe API. Everything else in the workspace (tests,
//! benches, main) uses this safe API.

use std::ffi::{CStr, CString, OsString};
use std::os::raw::{c_char, c_int, c_void};
use std::ptr::NonNull;

#[allow(
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    dead_code,
    clippy::all
)]
mod sys {
    include!(concat!(env!("OUT_DIR"), "/c_core_bindings.rs"));
}

/// Runs the C server's `molt_main` with these arguments (argv[0] included)
/// and returns its exit status.
pub fn run_c_main<I: IntoIterator<Item = OsString>>(args: I) -> i32 {
    use std::os::unix::ffi::OsStringExt;
    let owned: Vec<CString> = args
        .into_iter()
        .map(|a| {
            // An interior NUL cannot be passed through argv; C would have
            // seen the argument cut there, so cut it the same way.
            let mut bytes = a.into_vec();
            if let Some(nul) = bytes.iter().position(|&b| b == 0) {
                bytes.truncate(nul);
            }
            CString::new(bytes).expect("NUL removed above")
        })
        .collect();
    let mut argv: Vec<*mut c_char> = owned.iter().map(|s| s.as_ptr() as *mut c_char).collect();
    argv.push(std::ptr::null_mut());
    let argc = c_int::try_from(owned.len()).expect("argument count fits in int");
    // SAFETY: argv holds argc pointers to NUL-terminated strings that `owned`
    // keeps alive for the whole call, followed by a NULL, as C's main expects.
    // molt_main does not keep the pointers after it returns.
    unsafe { sys::molt_main(argc, argv.as_mut_ptr()) }
}

/// Result codes of storage.h, minus success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    NotFound,
    NotStored,
    Exists,
    TooLarge,
    NoMemory,
    NonNumeric,
    Invalid,
    Internal,
}

fn check(rc: sys::molt_status::Type) -> Result<(), Status> {
    use sys::molt_status as s;
    match rc {
        s::MOLT_OK => Ok(()),
        s::MOLT_NOT_FOUND => Err(Status::NotFound),
        s::MOLT_NOT_STORED => Err(Status::NotStored),
        s::MOLT_EXISTS => Err(Status::Exists),
        s::MOLT_TOO_LARGE => Err(Status::TooLarge),
        s::MOLT_NO_MEMORY => Err(Status::NoMemory),
        s::MOLT_NON_NUMERIC => Err(Status::NonNumeric),
        s::MOLT_INVALID => Err(Status::Invalid),
        _ => Err(Status::Internal),
    }
}

/// How a store combines with what is there (storage.h `molt_store_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreMode {
    Set,
    Add,
    Replace,
    Append,
    Prepend,
    /// Store only if the live item's cas equals this one.
    Cas(u64),
}

/// Engine parameters (storage.h `molt_storage_config`).
#[derive(Debug, Clone, Copy)]
pub struct StorageConfig {
    pub memory_limit: u64,
    pub item_size_max: u32,
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

/// A value read back, with its metadata (storage.h `molt_item_info`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub value: Vec<u8>,
    pub flags: u32,
    pub cas: u64,
    pub exptime: i64,
    /// Unix seconds of the access before this one (the store time if the
    /// item was never read).
    pub last_access: i64,
    /// Read at least once before this call (meta `h`).
    pub fetched: bool,
    /// Invalidated by a meta delete/store with I (meta `X`).
    pub stale: bool,
    /// This read won the right to recache (meta `W`).
    pub win: bool,
    /// A win was handed out earlier (meta `Z`).
    pub win_taken: bool,
}

/// Options of a meta get (storage.h `molt_meta_get_opts`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MetaGetOptions {
    /// T: set the exptime to this first.
    pub touch: Option<i64>,
    /// u: leave recency, fetched and last access untouched.
    pub no_bump: bool,
    /// N: on a miss create an empty item with this exptime and win it.
    pub vivify: Option<i64>,
    /// R: win if the remaining TTL is below this many seconds.
    pub recache: Option<i64>,
    /// E: the cas of an item this call creates.
    pub new_cas: Option<u64>,
}

/// Options of a meta set (the rest of storage.h `molt_meta_store_req`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MetaStoreOptions {
    /// C: only if the live item's cas equals this.
    pub compare_cas: Option<u64>,
    /// E: the stored item gets this cas.
    pub new_cas: Option<u64>,
    /// I: an older compare_cas stores the value marked stale.
    pub invalidate: bool,
    /// N: append/prepend to a missing key creates it with this exptime.
    pub vivify: Option<i64>,
}

/// Options of a meta delete (storage.h `molt_meta_delete_opts`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MetaDeleteOptions {
    /// C: only if the live item's cas equals this.
    pub compare_cas: Option<u64>,
    /// E: the cas the kept item gets.
    pub new_cas: Option<u64>,
    /// I: mark stale (new cas) instead of removing.
    pub invalidate: bool,
    /// T: with invalidate (or clear_value), the item's new exptime.
    pub touch: Option<i64>,
    /// x: keep the item, empty its value and flags.
    pub clear_value: bool,
}

/// Options of a meta arithmetic (storage.h `molt_meta_arith_opts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetaArithOptions {
    /// M: incr (true) or decr.
    pub incr: bool,
    /// D
    pub delta: u64,
    /// C: only if the live item's cas equals this.
    pub compare_cas: Option<u64>,
    /// E: the resulting item gets this cas.
    pub new_cas: Option<u64>,
    /// N: a missing key is created holding `initial` with this exptime.
    pub vivify: Option<i64>,
    /// J
    pub initial: u64,
    /// T: also set the exptime.
    pub touch: Option<i64>,
}

impl Default for MetaArithOptions {
    fn default() -> Self {
        MetaArithOptions {
            incr: true,
            delta: 1,
            compare_cas: None,
            new_cas: None,
            vivify: None,
            initial: 0,
            touch: None,
        }
    }
}

/// What a meta arithmetic leaves behind (storage.h `molt_meta_arith_result`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetaArithResult {
    pub value: u64,
    pub cas: u64,
    pub exptime: i64,
}

/// storage.h's (switch, value) pair for an optional value.
fn c_opt<T: Default>(v: Option<T>) -> (c_int, T) {
    match v {
        Some(x) => (1, x),
        None => (0, T::default()),
    }
}

/// Engine counters (storage.h `molt_storage_stats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StorageStats {
    pub curr_items: u64,
    pub total_items: u64,
    pub bytes: u64,
    pub evictions: u64,
    pub expired: u64,
    pub memory_used: u64,
    pub memory_limit: u64,
    pub hash_buckets: u64,
}

/// Names of the storage engines compiled into this binary.
pub fn engines() -> Vec<String> {
    let mut names = Vec::new();
    // SAFETY: molt_storage_engines returns a static, NULL-terminated array
    // of static NUL-terminated strings; we only read up to the NULL.
    unsafe {
        let mut p = sys::molt_storage_engines();
        while !(*p).is_null() {
            names.push(CStr::from_ptr(*p).to_string_lossy().into_owned());
            p = p.add(1);
        }
    }
    names
}

/// A storage engine opened through storage.h. Dropping it frees the engine.
pub struct Storage {
    raw: NonNull<sys::molt_storage>,
}

// SAFETY: storage.h requires every engine to be thread safe (the core calls
// it from any worker thread), and the handle is not tied to a thread.
unsafe impl Send for Storage {}
// SAFETY: as above; all methods take &self and the engine locks internally.
unsafe impl Sync for Storage {}

/// Copies the value handed to the sink into the `Option<Item>` behind ctx.
extern "C" fn copy_item_sink(
    ctx: *mut c_void,
    info: *const sys::molt_item_info,
    value: *const u8,
    value_len: usize,
) {
    if ctx.is_null() || info.is_null() || (value.is_null() && value_len != 0) {
        return;
    }
    // SAFETY: ctx is the &mut Option<Item> passed by Storage::read below and
    // outlives the call; info and value are valid for the duration of the
    // call per storage.h, and value_len bytes are readable at value.
    unsafe {
        let slot = &mut *(ctx as *mut Option<Item>);
        let info = &*info;
        let bytes = if value_len == 0 {
            Vec::new()
        } else {
            std::slice::from_raw_parts(value, value_len).to_vec()
        };
        *slot = Some(Item {
            value: bytes,
            flags: info.flags,
            cas: info.cas,
            exptime: info.exptime,
            last_access: info.last_access,
            fetched: info.fetched != 0,
            stale: info.stale != 0,
            win: info.win != 0,
            win_taken: info.win_taken != 0,
        });
    }
}

impl Storage {
    /// Opens engine `name` ("slab", ...).
    pub fn open(name: &str, cfg: &StorageConfig) -> Result<Storage, Status> {
        let cname = CString::new(name).map_err(|_| Status::Invalid)?;
        let ccfg = sys::molt_storage_config {
            memory_limit: cfg.memory_limit,
            item_size_max: cfg.item_size_max,
            growth_factor: cfg.growth_factor,
        };
        let mut out: *mut sys::molt_storage = std::ptr::null_mut();
        // SAFETY: cname and ccfg are valid for the call; out is a valid
        // place for the engine to write the new handle on success.
        check(unsafe { sys::molt_storage_open(cname.as_ptr(), &ccfg, &mut out) })?;
        NonNull::new(out)
            .map(|raw| Storage { raw })
            .ok_or(Status::Internal)
    }

    /// The engine's name.
    pub fn name(&self) -> String {
        // SAFETY: the handle is live; the name is a static C string.
        unsafe { CStr::from_ptr(sys::molt_storage_name(self.raw.as_ptr())) }
            .to_string_lossy()
            .into_owned()
    }

    fn read(&self, key: &[u8], touch: Option<i64>, now: i64) -> Result<Item, Status> {
        let mut slot: Option<Item> = None;
        let ctx = &mut slot as *mut Option<Item> as *mut c_void;
        // SAFETY: the handle is live; key is valid for key.len() bytes; the
        // sink only touches ctx, which points at `slot` for the whole call.
        let rc = unsafe {
            match touch {
                None => sys::molt_storage_get(
                    self.raw.as_ptr(),
                    key.as_ptr(),
                    key.len(),
                    now,
                    Some(copy_item_sink),
                    ctx,
                ),
                Some(exptime) => sys::molt_storage_get_touch(
                    self.raw.as_ptr(),
                    key.as_ptr(),
                    key.len(),
                    exptime,
                    now,
                    Some(copy_item_sink),
                    ctx,
                ),
            }
        };
        check(rc)?;
        slot.ok_or(Status::Internal)
    }

    /// Reads a live item.
    pub fn get(&self, key: &[u8], now: i64) -> Result<Item, Status> {
        self.read(key, None, now)
    }

    /// Reads a live item and sets its exptime (gat).
    pub fn get_touch(&self, key: &[u8], exptime: i64, now: i64) -> Result<Item, Status> {
        self.read(key, Some(exptime), now)
    }

    /// Stores according to `mode`; returns the new cas.
    #[allow(clippy::too_many_arguments)]
    pub fn store(
        &self,
        mode: StoreMode,
        key: &[u8],
        value: &[u8],
        flags: u32,
        exptime: i64,
        now: i64,
    ) -> Result<u64, Status> {
        use sys::molt_store_mode as m;
        let (cmode, cas) = match mode {
            StoreMode::Set => (m::MOLT_STORE_SET, 0),
            StoreMode::Add => (m::MOLT_STORE_ADD, 0),
            StoreMode::Replace => (m::MOLT_STORE_REPLACE, 0),
            StoreMode::Append => (m::MOLT_STORE_APPEND, 0),
            StoreMode::Prepend => (m::MOLT_STORE_PREPEND, 0),
            StoreMode::Cas(c) => (m::MOLT_STORE_CAS, c),
        };
        let mut cas_out = 0u64;
        // SAFETY: the handle is live; key and value are valid for their
        // lengths; cas_out is a valid place for one u64.
        check(unsafe {
            sys::molt_storage_store(
                self.raw.as_ptr(),
                cmode,
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

    /// incr (`incr == true`) or decr; returns (new value, new cas).
    pub fn arith(
        &self,
        key: &[u8],
        incr: bool,
        delta: u64,
        now: i64,
    ) -> Result<(u64, u64), Status> {
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

    /// Deletes a live item.
    pub fn remove(&self, key: &[u8], now: i64) -> Result<(), Status> {
        // SAFETY: the handle is live; key is valid for its length.
        check(unsafe { sys::molt_storage_remove(self.raw.as_ptr(), key.as_ptr(), key.len(), now) })
    }

    /// Sets a live item's exptime.
    pub fn touch(&self, key: &[u8], exptime: i64, now: i64) -> Result<(), Status> {
        // SAFETY: the handle is live; key is valid for its length.
        check(unsafe {
            sys::molt_storage_touch(self.raw.as_ptr(), key.as_ptr(), key.len(), exptime, now)
        })
    }

    /// A meta get (mg): reads with the meta options; a vivified miss
    /// returns the new empty item with `win` set.
    pub fn meta_get(&self, key: &[u8], now: i64, opts: &MetaGetOptions) -> Result<Item, Status> {
        let (touch, touch_exptime) = c_opt(opts.touch);
        let (vivify, vivify_exptime) = c_opt(opts.vivify);
        let (recache, recache_ttl) = c_opt(opts.recache);
        let (has_new_cas, new_cas) = c_opt(opts.new_cas);
        let o = sys::molt_meta_get_opts {
            touch,
            touch_exptime,
            no_bump: c_int::from(opts.no_bump),
            vivify,
            vivify_exptime,
            recache,
            recache_ttl,
            has_new_cas,
            new_cas,
        };
        let mut slot: Option<Item> = None;
        let ctx = &mut slot as *mut Option<Item> as *mut c_void;
        // SAFETY: the handle is live; key is valid for key.len() bytes; o is
        // a valid options struct for the call; the sink only touches ctx,
        // which points at `slot` for the whole call.
        check(unsafe {
            sys::molt_storage_meta_get(
                self.raw.as_ptr(),
                key.as_ptr(),
                key.len(),
                now,
                &o,
                Some(copy_item_sink),
                ctx,
            )
        })?;
        slot.ok_or(Status::Internal)
    }

    /// A meta set (ms): `mode` Set/Add/Replace/Append/Prepend (`Cas(c)` is
    /// Set with `compare_cas = c`); returns the new cas.
    #[allow(clippy::too_many_arguments)]
    pub fn meta_store(
        &self,
        mode: StoreMode,
        key: &[u8],
        value: &[u8],
        flags: u32,
        exptime: i64,
        now: i64,
        opts: &MetaStoreOptions,
    ) -> Result<u64, Status> {
        use sys::molt_store_mode as m;
        let (cmode, compare) = match mode {
            StoreMode::Set => (m::MOLT_STORE_SET, opts.compare_cas),
            StoreMode::Add => (m::MOLT_STORE_ADD, opts.compare_cas),
            StoreMode::Replace => (m::MOLT_STORE_REPLACE, opts.compare_cas),
            StoreMode::Append => (m::MOLT_STORE_APPEND, opts.compare_cas),
            StoreMode::Prepend => (m::MOLT_STORE_PREPEND, opts.compare_cas),
            StoreMode::Cas(c) => (m::MOLT_STORE_SET, Some(c)),
        };
        let (has_compare_cas, compare_cas) = c_opt(compare);
        let (has_new_cas, new_cas) = c_opt(opts.new_cas);
        let (vivify, vivify_exptime) = c_opt(opts.vivify);
        let req = sys::molt_meta_store_req {
            mode: cmode,
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
        let mut cas_out = 0u64;
        // SAFETY: the handle is live; req and the key and value it points
        // at are valid for the call; cas_out is a valid place for one u64.
        check(unsafe { sys::molt_storage_meta_store(self.raw.as_ptr(), &req, now, &mut cas_out) })?;
        Ok(cas_out)
    }

    /// A meta delete (md): delete, invalidate or empty a live item.
    pub fn meta_delete(
        &self,
        key: &[u8],
        now: i64,
        opts: &MetaDeleteOptions,
    ) -> Result<(), Status> {
        let (has_compare_cas, compare_cas) = c_opt(opts.compare_cas);
        let (has_new_cas, new_cas) = c_opt(opts.new_cas);
        let (touch, touch_exptime) = c_opt(opts.touch);
        let o = sys::molt_meta_delete_opts {
            has_compare_cas,
            compare_cas,
            has_new_cas,
            new_cas,
            invalidate: c_int::from(opts.invalidate),
            touch,
            touch_exptime,
            clear_value: c_int::from(opts.clear_value),
        };
        // SAFETY: the handle is live; key is valid for its length; o is a
        // valid options struct for the call.
        check(unsafe {
            sys::molt_storage_meta_delete(self.raw.as_ptr(), key.as_ptr(), key.len(), now, &o)
        })
    }

    /// A meta arithmetic (ma).
    pub fn meta_arith(
        &self,
        key: &[u8],
        now: i64,
        opts: &MetaArithOptions,
    ) -> Result<MetaArithResult, Status> {
        let (has_compare_cas, compare_cas) = c_opt(opts.compare_cas);
        let (has_new_cas, new_cas) = c_opt(opts.new_cas);
        let (vivify, vivify_exptime) = c_opt(opts.vivify);
        let (touch, touch_exptime) = c_opt(opts.touch);
        let o = sys::molt_meta_arith_opts {
            incr: c_int::from(opts.incr),
            delta: opts.delta,
            has_compare_cas,
            compare_cas,
            has_new_cas,
            new_cas,
            vivify,
            vivify_exptime,
            initial: opts.initial,
            touch,
            touch_exptime,
        };
        let mut out = sys::molt_meta_arith_result {
            value: 0,
            cas: 0,
            exptime: 0,
        };
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
        Ok(MetaArithResult {
            value: out.value,
            cas: out.cas,
            exptime: out.exptime,
        })
    }

    /// Invalidates everything stored before `at` once `now >= at`.
    pub fn flush(&self, at: i64, now: i64) -> Result<(), Status> {
        // SAFETY: the handle is live.
        check(unsafe { sys::molt_storage_flush(self.raw.as_ptr(), at, now) })
    }

    /// Engine counters as of `now`.
    pub fn stats(&self, now: i64) -> StorageStats {
        let mut s = sys::molt_storage_stats {
            curr_items: 0,
            total_items: 0,
            bytes: 0,
            evictions: 0,
            expired: 0,
            memory_used: 0,
            memory_limit: 0,
            hash_buckets: 0,
        };
        // SAFETY: the handle is live; s is a valid place for the stats.
        unsafe { sys::molt_storage_stats_read(self.raw.as_ptr(), now, &mut s) };
        StorageStats {
            curr_items: s.curr_items,
            total_items: s.total_items,
            bytes: s.bytes,
            evictions: s.evictions,
            expired: s.expired,
            memory_used: s.memory_used,
            memory_limit: s.memory_limit,
            hash_buckets: s.hash_buckets,
        }
    }
}

impl Drop for Storage {
    fn drop(&mut self) {
        // SAFETY: the handle came from molt_storage_open and is freed once.
        unsafe { sys::molt_storage_free(self.raw.as_ptr()) }
    }
}
