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
//! The engine implements the safe model of molt's storage seam, the
//! [`storage::Storage`] trait (whose types it speaks): time is passed in
//! (`now`, unix seconds), `exptime` is absolute (0 = never; an item is live
//! while `exptime == 0 || now < exptime`), every method takes `&self` and is
//! thread safe, and values are handed to a closure while the engine lock is
//! held, so no reference into storage memory outlives a call.
//!
//! ```
//! use seg::{Seg, SegConfig};
//! use storage::{Error, Storage, StoreCommand};
//! let s = Seg::new(SegConfig::default()).unwrap();
//! let cas = s.store(StoreCommand::Set, b"k", b"v", 7, 0, 1_000).unwrap();
//! let (flags, v) = s.get(b"k", 1_000, |info, v| (info.flags, v.to_vec())).unwrap();
//! assert_eq!((flags, v.as_slice()), (7, &b"v"[..]));
//! assert_eq!(s.store(StoreCommand::Cas(cas + 1), b"k", b"w", 0, 0, 1_000), Err(Error::Exists));
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod engine;
mod eviction;
mod figures;
mod hashtable;
mod item;
mod num;
mod persist;
mod report;
mod segment;
mod stats;
mod ttl;

use std::hash::{BuildHasher, Hasher};
// parking_lot's mutex: no poison flag to check on every lock and unlock
// (a panic under the lock cannot corrupt memory in safe Rust; the engine
// keeps serving after one either way).
use parking_lot::{Mutex, MutexGuard};

use engine::Inner;
pub use persist::{PersistError, Restored, Saved, FORMAT_VERSION};
pub use stats::Figure;
use storage::{
    ArithOptions, ArithResult, ClassFn, DeleteOptions, Error, GetOptions, ItemInfo, Stats, Storage,
    StoreMode, StoreOptions, WalkCursor, WalkFn, KEY_MAX,
};

/// Default segment size.
pub const DEFAULT_SEGMENT_SIZE: u32 = 1 << 20;
/// Default and largest accepted `item_size_max`.
pub const DEFAULT_ITEM_SIZE_MAX: u32 = 1 << 20;
/// Largest accepted `item_size_max` (as the slab engine).
pub const LARGEST_ITEM_SIZE_MAX: u32 = 1 << 30;
/// Smallest segment the engine uses.
pub const MIN_SEGMENT_SIZE: u32 = 4096;
/// Largest segment.
pub const MAX_SEGMENT_SIZE: u32 = 1 << 24;
/// Most segment memory used, whatever the limit: the index addresses items
/// with 36 bits (64 GiB).
pub const MAX_SEGMENT_MEMORY: u64 = 1 << hashtable::ADDR_BITS;
/// With a small memory limit the segment size is halved until there are at
/// least this many segments (or the minimum size is reached).
pub const MIN_SEGMENTS: u64 = 8;
/// Below this many segments the size is also halved, down to
/// [`FINE_SEGMENT_SIZE`]: memory is reclaimed a segment at a time, so about
/// one segment is always empty or part written (1.2% of `-m 64` with 1 MiB
/// segments, 0.3% with 256 KiB ones).
pub const FINE_SEGMENTS: u64 = 256;
/// The smallest segment [`FINE_SEGMENTS`] halves to (an item up to this
/// size still fits one segment).
pub const FINE_SEGMENT_SIZE: u32 = 256 << 10;

/// Engine construction parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegConfig {
    /// Bytes of segment memory the engine may use for items (the hash table
    /// is outside this budget, as memcached's is). At least one minimum
    /// segment (4 KiB).
    pub memory_limit: u64,
    /// Largest [`storage::item_size`] accepted (0 = the 1 MiB default).
    pub item_size_max: u32,
    /// Segment size (0 = 1 MiB default); clamped to 4 KiB..=16 MiB, rounded
    /// down to a power of two and lowered for small memory limits (see [`FINE_SEGMENTS`] and
    /// [`MIN_SEGMENTS`]). An item
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

/// A segment-structured cache engine. All methods take `&self` and may be
/// called from any thread; one short critical section per operation.
pub struct Seg {
    inner: Mutex<Inner>,
}

#[inline]
fn check_key(key: &[u8]) -> Result<(), Error> {
    if key.is_empty() || key.len() > KEY_MAX {
        Err(Error::Invalid)
    } else {
        Ok(())
    }
}

impl Seg {
    /// Have `hook` told of every live item evicted from now on (memcached's
    /// `watch evictions`); it runs under the engine's lock.
    pub fn set_eviction_hook(&self, hook: storage::EvictionHook) {
        self.lock().evict_hook = Some(hook);
    }

    /// Build an engine. `Invalid` for a memory limit below one minimum
    /// segment or an `item_size_max` above [`LARGEST_ITEM_SIZE_MAX`].
    pub fn new(cfg: SegConfig) -> Result<Seg, Error> {
        let item_max = if cfg.item_size_max == 0 {
            DEFAULT_ITEM_SIZE_MAX
        } else {
            cfg.item_size_max
        };
        if item_max > LARGEST_ITEM_SIZE_MAX || cfg.memory_limit < u64::from(MIN_SEGMENT_SIZE) {
            return Err(Error::Invalid);
        }
        // A power of two: the index addresses an item as segment << shift
        // | offset.
        let asked = if cfg.segment_size == 0 {
            DEFAULT_SEGMENT_SIZE
        } else {
            cfg.segment_size
        }
        .clamp(MIN_SEGMENT_SIZE, MAX_SEGMENT_SIZE);
        let mut seg_size = u64::from(1u32 << (31 - asked.leading_zeros()));
        while seg_size > u64::from(FINE_SEGMENT_SIZE) && cfg.memory_limit / seg_size < FINE_SEGMENTS
        {
            seg_size /= 2;
        }
        while seg_size > u64::from(MIN_SEGMENT_SIZE) && cfg.memory_limit / seg_size < MIN_SEGMENTS {
            seg_size /= 2;
        }
        // Segment memory beyond what the index addresses is not used.
        let count = (cfg.memory_limit.min(MAX_SEGMENT_MEMORY) / seg_size) as usize;
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
        self.inner.lock()
    }

    /// The engine's own figures (segments used and free, merges, evictions
    /// and expirations by cause, hash table load), in a fixed order, to `f`
    /// while the engine holds its lock.
    pub fn figures(&self, now: i64, f: &mut dyn FnMut(&Figure)) {
        self.lock().figures(now, f);
    }

    /// The segment size in use (after clamping to the memory limit).
    pub fn segment_size(&self) -> usize {
        self.lock().segs.seg_size
    }

    /// Warm restart, at start: load into this new engine what a graceful
    /// stop saved in `path` ([`Seg::save`]), then mark the file in use so
    /// that a stop without a save leaves it refused. A missing file, or
    /// one of another format, memory limit or segment size, or not saved
    /// by a graceful stop, restores nothing; a damaged one only what passes
    /// its checksums; the report says which (its `Display` is the log
    /// line). `Err` when the file cannot be written: do not run with it.
    pub fn restore(&self, path: &std::path::Path, now: i64) -> Result<Restored, PersistError> {
        self.lock().restore(path, now)
    }

    /// Warm restart, at a graceful stop (after the last operation): write
    /// every segment holding items to `path` for the next start.
    pub fn save(&self, path: &std::path::Path, now: i64) -> Result<Saved, PersistError> {
        self.lock().save(path, now)
    }
}

impl Storage for Seg {
    #[inline]
    fn meta_get<R>(
        &self,
        key: &[u8],
        now: i64,
        opts: &GetOptions,
        f: impl FnOnce(&ItemInfo, &[u8]) -> R,
    ) -> Result<R, Error> {
        check_key(key)?;
        self.lock().get(key, now, opts, f)
    }

    #[inline]
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
        check_key(key)?;
        let inner = &mut *self.lock();
        if storage::item_size(key.len(), flags, value.len()) > inner.item_size_max {
            return Err(Error::TooLarge);
        }
        inner.store(mode, key, value, flags, exptime, now, opts)
    }

    #[inline]
    fn meta_delete(&self, key: &[u8], now: i64, opts: &DeleteOptions) -> Result<(), Error> {
        check_key(key)?;
        self.lock().delete(key, now, opts)
    }

    /// Inlined into its caller (the ffi export), where a classic
    /// incr/decr's options are known at compile time.
    #[inline(always)]
    fn meta_arith(
        &self,
        key: &[u8],
        incr: bool,
        delta: u64,
        now: i64,
        opts: &ArithOptions,
    ) -> Result<ArithResult, Error> {
        check_key(key)?;
        let classic = opts.compare_cas.is_none()
            && opts.new_cas.is_none()
            && opts.vivify.is_none()
            && opts.touch.is_none();
        if classic {
            self.lock().arith_classic(key, incr, delta, now)
        } else {
            self.lock().arith(key, incr, delta, now, opts)
        }
    }

    /// O(segments), not O(items): whole segments below the flush
    /// watermark are freed at once.
    fn flush(&self, at: i64, now: i64) -> Result<(), Error> {
        self.lock().flush(at, now);
        Ok(())
    }

    fn stats(&self, now: i64) -> Stats {
        self.lock().stats(now)
    }

    /// One row per TTL bucket holding segments (see report.rs).
    fn classes(&self, now: i64, f: &mut ClassFn<'_>) -> Result<(), Error> {
        self.lock().classes(now, f);
        Ok(())
    }

    /// Segment by segment (see report.rs).
    fn walk(
        &self,
        now: i64,
        c: &mut WalkCursor,
        max: usize,
        f: &mut WalkFn<'_>,
    ) -> Result<(), Error> {
        self.lock().walk(now, c, max, f);
        Ok(())
    }
}

#[cfg(test)]
impl Seg {
    fn check(&self) {
        self.lock().check_invariants();
    }
}

#[cfg(test)]
mod persist_tests;
#[cfg(test)]
mod tests;
