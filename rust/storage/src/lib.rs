//! The safe Rust model of molt's storage seam, `c-core/include/storage.h`:
//! one [`Storage`] trait and the value types it speaks (statuses, store
//! modes, item info, the meta options, stats). Every Rust engine implements
//! it directly (`rust/seg`), the safe wrapper of the C engines implements it
//! over storage.h (`molt::CStorage`), and `ffi/` converts between these
//! types and the bindgen C types. Tests, fuzzers and benches are written
//! once against the trait.
//!
//! As in storage.h, engines implement only the general (meta) operations;
//! the classic commands are provided methods expressed over them (the C
//! seam expresses them the same way in c-core/src/storage/classic.c).
//! Time is passed in (`now`, unix seconds); `exptime` is absolute, 0 =
//! never; an item is live while `exptime == 0 || now < exptime`. Values are
//! handed to a closure while the engine holds its lock, so no reference into
//! storage memory outlives a call.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

/// Longest key accepted (memcached's KEY_MAX_LENGTH, storage.h
/// `MOLT_KEY_MAX`).
pub const KEY_MAX: usize = 250;

/// The size an item counts against the item size limit (storage.h
/// `molt_item_size`): memcached 1.6's accounting (48-byte header, 8-byte
/// cas, key and NUL, value and CRLF, 4 bytes for non-zero flags), so that
/// exactly the values memcached accepts are accepted by every engine.
pub fn item_size(key_len: usize, flags: u32, value_len: usize) -> usize {
    48 + 8 + key_len + 1 + value_len + 2 + if flags != 0 { 4 } else { 0 }
}

/// Why an operation did not succeed (storage.h's non-OK `molt_status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// No live item under that key (also: cas on a missing key).
    NotFound,
    /// Add on an existing key, replace/append/prepend on a missing one.
    NotStored,
    /// The cas did not match.
    Exists,
    /// The value (or an append/prepend result) exceeds the item size limit.
    TooLarge,
    /// No room could be made under the memory limit.
    NoMemory,
    /// incr/decr on a value that is not a decimal u64.
    NonNumeric,
    /// Bad argument: empty or over-long key, bad configuration, unknown
    /// engine.
    Invalid,
    /// Engine failure (e.g. a panic caught at the FFI boundary).
    Internal,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for Error {}

/// How a write combines with what is stored (storage.h `molt_store_mode`
/// as engines see it: cas is `Set` with [`StoreOptions::compare_cas`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreMode {
    /// Store unconditionally.
    Set,
    /// Only if no live item exists.
    Add,
    /// Only if a live item exists.
    Replace,
    /// Add data after the live item's value; keeps its flags and exptime.
    Append,
    /// Add data before the live item's value; keeps its flags and exptime.
    Prepend,
}

/// A classic storage command: the five modes plus cas (storage.h
/// `molt_storage_store`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreCommand {
    /// set
    Set,
    /// add
    Add,
    /// replace
    Replace,
    /// append
    Append,
    /// prepend
    Prepend,
    /// cas: only if the live item's cas equals this one.
    Cas(u64),
}

impl StoreCommand {
    /// What an engine sees: the mode, and the cas to compare (a cas is a
    /// set with compare_cas).
    pub fn to_meta(self) -> (StoreMode, Option<u64>) {
        match self {
            StoreCommand::Set => (StoreMode::Set, None),
            StoreCommand::Add => (StoreMode::Add, None),
            StoreCommand::Replace => (StoreMode::Replace, None),
            StoreCommand::Append => (StoreMode::Append, None),
            StoreCommand::Prepend => (StoreMode::Prepend, None),
            StoreCommand::Cas(c) => (StoreMode::Set, Some(c)),
        }
    }
}

/// What a read reports about an item besides its value (storage.h
/// `molt_item_info`, whose layout it has: the ffi crate lends it to C's
/// value sinks as is, checked there at compile time).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct ItemInfo {
    /// Client flags, opaque 32 bits.
    pub flags: u32,
    /// Unique of the current version.
    pub cas: u64,
    /// Absolute unix seconds, 0 = never.
    pub exptime: i64,
    /// Unix seconds of the access before this one (the store time if the
    /// item was never read).
    pub last_access: i64,
    /// Read at least once before this call (meta `h`).
    pub fetched: bool,
    /// Invalidated by a meta delete/store with I (meta `X`).
    pub stale: bool,
    /// This caller won the right to recache (meta `W`).
    pub win: bool,
    /// A win was handed out earlier (meta `Z`).
    pub win_taken: bool,
}

/// Options of a read (storage.h `molt_meta_get_opts`). The win token: a
/// version hands out at most one win until it is stored again; a read wins
/// when it vivifies a missing item, when the item is stale, or when its
/// remaining TTL is below `recache`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GetOptions {
    /// T: set the exptime to this first (a time already past serves the
    /// item once, then removes it).
    pub touch: Option<i64>,
    /// u: leave recency, fetched and last access untouched.
    pub no_bump: bool,
    /// N: on a miss create an empty item (flags 0, this exptime) and win it.
    pub vivify: Option<i64>,
    /// R: win if the remaining TTL is below this many seconds.
    pub recache: Option<i64>,
    /// E: the cas of an item this call creates.
    pub new_cas: Option<u64>,
    /// Classic get/gat/touch: report the win state but never take a win.
    pub no_win: bool,
}

/// Options of a write (storage.h `molt_meta_store_req` besides the item).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreOptions {
    /// C: only if the live item's cas equals this (missing: `NotFound` for
    /// set/replace, `NotStored` for append/prepend; ignored by add).
    pub compare_cas: Option<u64>,
    /// E: the stored item gets this cas.
    pub new_cas: Option<u64>,
    /// I: a `compare_cas` older than the item's cas stores the value marked
    /// stale (keeping the item's exptime and win state) instead of failing
    /// with `Exists`.
    pub invalidate: bool,
    /// N: append/prepend to a missing key creates it with this exptime.
    pub vivify: Option<i64>,
}

/// Options of a delete (storage.h `molt_meta_delete_opts`; a classic
/// delete uses none).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeleteOptions {
    /// C: only if the live item's cas equals this.
    pub compare_cas: Option<u64>,
    /// E: the cas the item keeps (invalidate, clear_value).
    pub new_cas: Option<u64>,
    /// I: mark the item stale with a new cas (its win cleared) instead of
    /// removing it.
    pub invalidate: bool,
    /// T: with invalidate or clear_value, the item's new exptime.
    pub touch: Option<i64>,
    /// x: keep the item (its exptime and, without E, its cas) but empty its
    /// value and flags.
    pub clear_value: bool,
}

/// Options of an incr/decr (storage.h `molt_meta_arith_opts` besides M and
/// D; a classic incr/decr uses none).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ArithOptions {
    /// C: only if the live item's cas equals this.
    pub compare_cas: Option<u64>,
    /// E: the resulting item gets this cas.
    pub new_cas: Option<u64>,
    /// N: a missing key is created holding `initial` with this exptime (no
    /// delta applied).
    pub vivify: Option<i64>,
    /// J: the value a vivified item starts with.
    pub initial: u64,
    /// T: also set the exptime of an existing item.
    pub touch: Option<i64>,
}

/// What an incr/decr leaves behind (storage.h `molt_meta_arith_result`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ArithResult {
    /// The new value.
    pub value: u64,
    /// The new cas.
    pub cas: u64,
    /// The item's exptime (absolute, 0 = never).
    pub exptime: i64,
}

/// Engine counters, gauges as of the call (storage.h
/// `molt_storage_stats`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Items in the index (live, or dead but not yet reclaimed).
    pub curr_items: u64,
    /// Successful stores since start.
    pub total_items: u64,
    /// Bytes held by items (headers, keys, values).
    pub bytes: u64,
    /// Live items removed to make room.
    pub evictions: u64,
    /// Expired or flushed items reclaimed.
    pub expired: u64,
    /// Item memory allocated from the system.
    pub memory_used: u64,
    /// The configured limit.
    pub memory_limit: u64,
    /// Current hash table size.
    pub hash_buckets: u64,
}

/// One row of an engine's per-class report (storage.h `molt_class_row`):
/// a slab class in the slab engine, a TTL bucket in the seg engine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClassRow {
    /// Class id, from 1.
    pub id: u32,
    /// Chunk bytes (seg: segment bytes).
    pub chunk_size: u64,
    /// Chunks per page (seg: 1).
    pub chunks_per_page: u64,
    /// Pages (seg: segments) the class holds.
    pub pages: u64,
    /// Chunks those pages hold.
    pub chunks: u64,
    /// Chunks holding an item.
    pub used_chunks: u64,
    /// Chunks free (on the free list or never carved).
    pub free_chunks: u64,
    /// Never-carved chunks of the newest page.
    pub free_chunks_end: u64,
    /// Items linked in the class.
    pub items: u64,
    /// Last access of the least recently used item (seg: creation of the
    /// oldest segment), unix seconds; 0 when empty.
    pub oldest_access: i64,
}

/// Where a walk over the items continues (storage.h `molt_walk_cursor`):
/// `WalkCursor::default()` starts, `done` is set once every item was seen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WalkCursor {
    /// Engine-defined position.
    pub pos: u64,
    /// Engine-defined: whether `pos` can be trusted as is.
    pub check: u64,
    /// Every item has been visited.
    pub done: bool,
}

/// One live item as a walk visits it (storage.h `molt_walk_item`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WalkItem<'a> {
    /// The key.
    pub key: &'a [u8],
    /// Client flags.
    pub flags: u32,
    /// Its class, as in [`ClassRow::id`].
    pub class_id: u32,
    /// Unique of the current version.
    pub cas: u64,
    /// Absolute unix seconds, 0 = never.
    pub exptime: i64,
    /// Last access, unix seconds.
    pub last_access: i64,
    /// [`item_size`] of the item (memcached's count).
    pub size: u64,
    /// Read at least once since stored.
    pub fetched: bool,
}

/// A live item an engine removed to make room (storage.h
/// `molt_evicted_item`; memcached's `watch evictions`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Evicted<'a> {
    /// The key.
    pub key: &'a [u8],
    /// Absolute unix seconds, 0 = never.
    pub exptime: i64,
    /// Last access, unix seconds.
    pub last_access: i64,
    /// Its class, as in [`ClassRow::id`].
    pub class_id: u32,
    /// Value bytes.
    pub value_len: u64,
    /// Read at least once since stored.
    pub fetched: bool,
}

/// Receives each evicted item, under the engine's lock (it must not call
/// the engine).
pub type EvictionHook = Box<dyn for<'k> Fn(&Evicted<'k>) + Send + Sync>;

/// What [`Storage::classes`] hands each row to.
pub type ClassFn<'a> = dyn FnMut(&ClassRow) + 'a;
/// What [`Storage::walk`] hands each item to.
pub type WalkFn<'a> = dyn for<'k> FnMut(&WalkItem<'k>) + 'a;

/// A storage engine: the operations of storage.h's `molt_storage_ops`.
/// Engines are thread safe (every method takes `&self`) and check their
/// own arguments (`Invalid` for an empty or over-long key).
pub trait Storage: Send + Sync {
    /// Read a live item and hand its info and value to `f` while the engine
    /// is locked (keep `f` short); see [`GetOptions`]. A vivified miss hands
    /// `f` the new empty item with `win` set.
    fn meta_get<R>(
        &self,
        key: &[u8],
        now: i64,
        opts: &GetOptions,
        f: impl FnOnce(&ItemInfo, &[u8]) -> R,
    ) -> Result<R, Error>;

    /// Write according to `mode` and `opts`; returns the new item's cas.
    /// Append and prepend keep the stored flags and exptime (ignoring the
    /// arguments). A `Set`/`Add`/`Replace` whose `exptime` is already past
    /// at `now` succeeds (taking a cas) but only removes the old item.
    #[allow(clippy::too_many_arguments)]
    fn meta_store(
        &self,
        mode: StoreMode,
        key: &[u8],
        value: &[u8],
        flags: u32,
        exptime: i64,
        now: i64,
        opts: &StoreOptions,
    ) -> Result<u64, Error>;

    /// Delete, invalidate or empty a live item (see [`DeleteOptions`]).
    fn meta_delete(&self, key: &[u8], now: i64, opts: &DeleteOptions) -> Result<(), Error>;

    /// incr (`incr = true`, wrapping at 2^64) or decr (flooring at 0) a
    /// decimal u64 value read as memcached reads it (safe_strtoull):
    /// optional leading whitespace and sign, at least one digit, then the
    /// end, whitespace or a NUL, fitting u64, a '-' only where the result
    /// stays non-negative as an i64 (otherwise `NonNumeric`). The
    /// stored value becomes the exact decimal; flags are kept.
    fn meta_arith(
        &self,
        key: &[u8],
        incr: bool,
        delta: u64,
        now: i64,
        opts: &ArithOptions,
    ) -> Result<ArithResult, Error>;

    /// Invalidate every item stored before `at` once `now >= at`
    /// (`at <= now`: immediately; items stored afterwards, even in the same
    /// second, survive).
    fn flush(&self, at: i64, now: i64) -> Result<(), Error>;

    /// Counters as of `now`.
    fn stats(&self, now: i64) -> Stats;

    /// One row per class, in id order, to `f` (under the engine lock).
    fn classes(&self, now: i64, f: &mut ClassFn<'_>) -> Result<(), Error>;

    /// Visit at most `max` live items from `cursor` in one critical
    /// section, leaving the cursor where the next slice starts. Items
    /// stored, moved or removed between slices may be visited once, twice
    /// or not at all (as memcached's LRU crawler); no other item is.
    fn walk(
        &self,
        now: i64,
        c: &mut WalkCursor,
        max: usize,
        f: &mut WalkFn<'_>,
    ) -> Result<(), Error>;

    // ---- the classic commands, over the meta operations ----------------

    /// get: a read that never wins.
    fn get<R>(
        &self,
        key: &[u8],
        now: i64,
        f: impl FnOnce(&ItemInfo, &[u8]) -> R,
    ) -> Result<R, Error> {
        self.meta_get(key, now, &CLASSIC_GET, f)
    }

    /// gat: a get that sets the exptime first (a time already past serves
    /// the item once, reports that time, and removes it).
    fn get_touch<R>(
        &self,
        key: &[u8],
        exptime: i64,
        now: i64,
        f: impl FnOnce(&ItemInfo, &[u8]) -> R,
    ) -> Result<R, Error> {
        let opts = GetOptions {
            touch: Some(exptime),
            ..CLASSIC_GET
        };
        self.meta_get(key, now, &opts, f)
    }

    /// touch: a gat whose value nobody reads (an access, keeping the cas).
    fn touch(&self, key: &[u8], exptime: i64, now: i64) -> Result<(), Error> {
        self.get_touch(key, exptime, now, |_, _| ())
    }

    /// set/add/replace/append/prepend/cas; returns the new cas. Cas on a
    /// missing key is `NotFound`.
    fn store(
        &self,
        cmd: StoreCommand,
        key: &[u8],
        value: &[u8],
        flags: u32,
        exptime: i64,
        now: i64,
    ) -> Result<u64, Error> {
        let (mode, compare_cas) = cmd.to_meta();
        let opts = StoreOptions {
            compare_cas,
            ..StoreOptions::default()
        };
        self.meta_store(mode, key, value, flags, exptime, now, &opts)
    }

    /// incr/decr; returns (new value, new cas).
    fn arith(&self, key: &[u8], incr: bool, delta: u64, now: i64) -> Result<(u64, u64), Error> {
        let r = self.meta_arith(key, incr, delta, now, &ArithOptions::default())?;
        Ok((r.value, r.cas))
    }

    /// delete.
    fn remove(&self, key: &[u8], now: i64) -> Result<(), Error> {
        self.meta_delete(key, now, &DeleteOptions::default())
    }
}

/// The options of a classic read.
const CLASSIC_GET: GetOptions = GetOptions {
    touch: None,
    no_bump: false,
    vivify: None,
    recache: None,
    new_cas: None,
    no_win: true,
};
