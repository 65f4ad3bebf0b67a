//! Segment-structured item storage for molt, after Segcache (Yang et al.,
//! "Segcache: a memory-efficient and scalable in-memory key-value cache for
//! small objects", NSDI'21, as implemented in Pelikan).
//!
//! Items are appended to fixed-size segments; segments are chained per TTL
//! bucket so that items expiring together are stored together and freed
//! together; a hash table of cache-line buckets with key tags indexes them;
//! memory is reclaimed by expiring whole segments first and by merge
//! eviction (keeping frequently read items) only when nothing is expired.
//!
//! The API mirrors molt's `storage.h`: time is passed in (`now`, unix
//! seconds), `exptime` is absolute (0 = never; an item is live while
//! `exptime == 0 || now < exptime`), every method takes `&self` and is
//! thread safe, and values are handed to a closure while the engine lock is
//! held, so no reference into storage memory outlives a call.
//!
//! ```
//! use seg::{Seg, SegConfig, StoreMode};
//! let s = Seg::new(SegConfig::default()).unwrap();
//! let cas = s.store(StoreMode::Set, b"k", b"v", 7, 0, 1_000).unwrap();
//! let (flags, v) = s.get(b"k", 1_000, None, |info, v| (info.flags, v.to_vec())).unwrap();
//! assert_eq!((flags, v.as_slice()), (7, &b"v"[..]));
//! assert_eq!(s.store(StoreMode::Cas(cas + 1), b"k", b"w", 0, 0, 1_000), Err(seg::SegError::Exists));
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod engine;
mod eviction;
mod hashtable;
mod item;
mod num;
mod segment;
mod stats;
mod ttl;

use std::hash::{BuildHasher, Hasher};
use std::sync::{Mutex, MutexGuard, PoisonError};

use engine::Inner;
pub use stats::SegStats;

/// Longest key accepted (memcached's KEY_MAX_LENGTH).
pub const KEY_MAX: usize = 250;
/// Default segment size.
pub const DEFAULT_SEGMENT_SIZE: u32 = 1 << 20;
/// Default and largest accepted `item_size_max`.
pub const DEFAULT_ITEM_SIZE_MAX: u32 = 1 << 20;
/// Largest accepted `item_size_max` (as the slab engine).
pub const LARGEST_ITEM_SIZE_MAX: u32 = 1 << 30;
/// Smallest segment the engine uses.
pub const MIN_SEGMENT_SIZE: u32 = 4096;
/// Largest segment (item offsets in the index are 24 bits).
pub const MAX_SEGMENT_SIZE: u32 = 1 << 24;
/// With a small memory limit the segment size is halved until there are at
/// least this many segments (or the minimum size is reached).
pub const MIN_SEGMENTS: u64 = 8;

/// The size an item counts against `item_size_max`: memcached 1.6's
/// accounting (48-byte header, 8-byte cas, key and NUL, value and CRLF, 4
/// bytes for non-zero flags), the rule storage.h sets for every engine so
/// that exactly the values memcached accepts are accepted.
pub fn memcached_item_size(key_len: usize, flags: u32, value_len: usize) -> usize {
    48 + 8 + key_len + 1 + value_len + 2 + if flags != 0 { 4 } else { 0 }
}

/// Engine construction parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegConfig {
    /// Bytes of segment memory the engine may use for items (the hash table
    /// is outside this budget, as memcached's is). At least one minimum
    /// segment (4 KiB).
    pub memory_limit: u64,
    /// Largest [`memcached_item_size`] accepted (0 = the 1 MiB default).
    pub item_size_max: u32,
    /// Segment size (0 = 1 MiB default); clamped to 4 KiB..=16 MiB and
    /// lowered for small memory limits (see [`MIN_SEGMENTS`]). An item
    /// larger than a segment is stored in a span of whole segments, so this
    /// need not exceed the largest item.
    pub segment_size: u32,
}

impl Default for SegConfig {
    fn default() -> Self {
        SegConfig {
            memory_limit: 64 << 20,
            item_size_max: DEFAULT_ITEM_SIZE_MAX,
            segment_size: DEFAULT_SEGMENT_SIZE,
        }
    }
}

/// How a write combines with what is stored.
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
    /// Only if the live item's cas equals this one.
    Cas(u64),
}

/// Why an operation did not succeed (storage.h's non-OK results).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SegError {
    /// No live item under that key.
    NotFound,
    /// Add on an existing key, replace/append/prepend on a missing one.
    NotStored,
    /// The cas did not match.
    Exists,
    /// The value (or an append/prepend result) exceeds `item_size_max`, or
    /// the item could never fit in memory.
    TooLarge,
    /// No room could be made under the memory limit.
    NoMemory,
    /// incr/decr on a value that is not a decimal u64.
    NonNumeric,
    /// Bad argument: empty or over-long key, bad configuration.
    Invalid,
}

impl std::fmt::Display for SegError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for SegError {}

/// What a read reports about an item besides its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

/// Options of a read (meta get; the classic get uses only `touch`). The
/// win token: a version hands out at most one win until it is stored
/// again; a read wins when it vivifies a missing item, when the item is
/// stale, or when its remaining TTL is below `recache`.
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
}

/// Options of a write (meta set).
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

/// Options of a delete (meta delete; the classic delete uses none).
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

/// Options of an incr/decr (meta arithmetic; the classic one uses none).
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

/// What an incr/decr leaves behind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArithResult {
    /// The new value.
    pub value: u64,
    /// The new cas.
    pub cas: u64,
    /// The item's exptime (absolute, 0 = never).
    pub exptime: i64,
}

/// A segment-structured cache engine. All methods take `&self` and may be
/// called from any thread; one short critical section per operation.
pub struct Seg {
    inner: Mutex<Inner>,
}

#[inline]
fn check_key(key: &[u8]) -> Result<(), SegError> {
    if key.is_empty() || key.len() > KEY_MAX {
        Err(SegError::Invalid)
    } else {
        Ok(())
    }
}

impl Seg {
    /// Build an engine. `Invalid` for a memory limit below one minimum
    /// segment or an `item_size_max` above [`LARGEST_ITEM_SIZE_MAX`].
    pub fn new(cfg: SegConfig) -> Result<Seg, SegError> {
        let item_max = if cfg.item_size_max == 0 {
            DEFAULT_ITEM_SIZE_MAX
        } else {
            cfg.item_size_max
        };
        if item_max > LARGEST_ITEM_SIZE_MAX || cfg.memory_limit < u64::from(MIN_SEGMENT_SIZE) {
            return Err(SegError::Invalid);
        }
        let mut seg_size = if cfg.segment_size == 0 {
            DEFAULT_SEGMENT_SIZE
        } else {
            cfg.segment_size
        }
        .clamp(MIN_SEGMENT_SIZE, MAX_SEGMENT_SIZE) as u64;
        while seg_size > u64::from(MIN_SEGMENT_SIZE) && cfg.memory_limit / seg_size < MIN_SEGMENTS {
            seg_size /= 2;
        }
        while cfg.memory_limit / seg_size > hashtable::MAX_SEGMENTS as u64
            && seg_size < u64::from(MAX_SEGMENT_SIZE)
        {
            seg_size *= 2;
        }
        let count = (cfg.memory_limit / seg_size).min(hashtable::MAX_SEGMENTS as u64) as usize;
        let segs = segment::Segments::new(count, seg_size as usize);
        // A per-instance hash seed from std's randomly keyed hasher.
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(0x6d6f_6c74);
        let seed = h.finish();
        Ok(Seg {
            inner: Mutex::new(Inner::new(segs, seed, item_max as usize, cfg.memory_limit)),
        })
    }

    #[inline]
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic under the lock cannot corrupt memory in safe Rust; keep serving.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The segment size in use (after clamping to the memory limit).
    pub fn segment_size(&self) -> usize {
        self.lock().segs.seg_size
    }

    /// Read a live item and hand its info and value to `f` while the engine
    /// is locked (keep `f` short). With `touch = Some(t)` the item's exptime
    /// becomes `t` first (gat); a `t` already past serves the item once,
    /// reports `exptime = t`, and removes it.
    pub fn get<R>(
        &self,
        key: &[u8],
        now: i64,
        touch: Option<i64>,
        f: impl FnOnce(&ItemInfo, &[u8]) -> R,
    ) -> Result<R, SegError> {
        check_key(key)?;
        let opts = GetOptions {
            touch,
            ..GetOptions::default()
        };
        self.lock().get(key, now, &opts, false, f)
    }

    /// Read with the meta protocol's options (see [`GetOptions`]). A
    /// vivified miss hands `f` the new empty item with `win` set. (Plain
    /// [`Seg::get`] reports the stale and win-taken state but never wins.)
    pub fn meta_get<R>(
        &self,
        key: &[u8],
        now: i64,
        opts: &GetOptions,
        f: impl FnOnce(&ItemInfo, &[u8]) -> R,
    ) -> Result<R, SegError> {
        check_key(key)?;
        self.lock().get(key, now, opts, true, f)
    }

    /// Write according to `mode`; returns the new item's cas. Append and
    /// prepend keep the stored flags and exptime (ignoring the arguments).
    /// A `Set`/`Add`/`Replace`/`Cas` whose `exptime` is already past at
    /// `now` succeeds (taking a cas) but only removes the old item.
    pub fn store(
        &self,
        mode: StoreMode,
        key: &[u8],
        value: &[u8],
        flags: u32,
        exptime: i64,
        now: i64,
    ) -> Result<u64, SegError> {
        self.meta_store(
            mode,
            key,
            value,
            flags,
            exptime,
            now,
            &StoreOptions::default(),
        )
    }

    /// Write with the meta protocol's options (see [`StoreOptions`]);
    /// `StoreMode::Cas(c)` is `Set` with `compare_cas = Some(c)`.
    #[allow(clippy::too_many_arguments)]
    pub fn meta_store(
        &self,
        mode: StoreMode,
        key: &[u8],
        value: &[u8],
        flags: u32,
        exptime: i64,
        now: i64,
        opts: &StoreOptions,
    ) -> Result<u64, SegError> {
        check_key(key)?;
        let inner = &mut *self.lock();
        if memcached_item_size(key.len(), flags, value.len()) > inner.item_size_max {
            return Err(SegError::TooLarge);
        }
        inner.store(mode, key, value, flags, exptime, now, opts)
    }

    /// incr (`incr = true`, wrapping at 2^64) or decr (flooring at 0) a
    /// decimal u64 value; returns (new value, new cas). The value must be
    /// optional leading whitespace, at least one digit, then only
    /// whitespace, and fit in u64; otherwise `NonNumeric`.
    pub fn arith(
        &self,
        key: &[u8],
        incr: bool,
        delta: u64,
        now: i64,
    ) -> Result<(u64, u64), SegError> {
        let r = self.meta_arith(key, incr, delta, now, &ArithOptions::default())?;
        Ok((r.value, r.cas))
    }

    /// incr/decr with the meta protocol's options (see [`ArithOptions`]).
    pub fn meta_arith(
        &self,
        key: &[u8],
        incr: bool,
        delta: u64,
        now: i64,
        opts: &ArithOptions,
    ) -> Result<ArithResult, SegError> {
        check_key(key)?;
        self.lock().arith(key, incr, delta, now, opts)
    }

    /// Delete a live item.
    pub fn remove(&self, key: &[u8], now: i64) -> Result<(), SegError> {
        self.meta_delete(key, now, &DeleteOptions::default())
    }

    /// Delete, invalidate or empty a live item (see [`DeleteOptions`]).
    pub fn meta_delete(&self, key: &[u8], now: i64, opts: &DeleteOptions) -> Result<(), SegError> {
        check_key(key)?;
        self.lock().delete(key, now, opts)
    }

    /// Set a live item's exptime, keeping its cas (an access: it counts as
    /// a read for recency, fetched and last access). A time already past
    /// removes the item (and still returns `Ok`).
    pub fn touch(&self, key: &[u8], exptime: i64, now: i64) -> Result<(), SegError> {
        check_key(key)?;
        self.lock().touch(key, exptime, now)
    }

    /// Invalidate every item stored before `at` once `now >= at`
    /// (`at <= now`: immediately; items stored afterwards, even in the same
    /// second, survive). O(segments), not O(items).
    pub fn flush(&self, at: i64, now: i64) -> Result<(), SegError> {
        self.lock().flush(at, now);
        Ok(())
    }

    /// Counters as of `now`.
    pub fn stats(&self, now: i64) -> SegStats {
        self.lock().stats(now)
    }
}

#[cfg(test)]
impl Seg {
    fn check(&self) {
        self.lock().check_invariants();
    }
}

#[cfg(test)]
mod tests;
