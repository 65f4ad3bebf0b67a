//! Engine counters (the snapshot handed to callers is storage::Stats) and
//! the engine's own figures (segments, merges, evictions and expirations by
//! cause, hash table load), which storage.h passes on as named figures.

use std::ffi::CStr;

/// Running counters kept under the engine lock.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Counters {
    pub curr_items: u64,
    pub total_items: u64,
    pub bytes: u64,
    /// Live items removed for room (= evicted_merge + evicted_segment).
    pub evictions: u64,
    /// Items reclaimed dead (= the expired_* causes + flushed).
    pub expired: u64,
    /// Live items a merge left behind (the least read of its run).
    pub evicted_merge: u64,
    /// Live items evicted with a whole segment (FIFO: a merge run nobody
    /// read, or the oldest segment as the last resort).
    pub evicted_segment: u64,
    /// Expired items reclaimed with their whole segment (TTL bucket expiry,
    /// or a segment found holding nothing live).
    pub expired_segment: u64,
    /// Expired items dropped by a merge.
    pub expired_merge: u64,
    /// Expired items found by an operation on their key (or touched into
    /// the past).
    pub expired_access: u64,
    /// Items reclaimed because a flush invalidated them.
    pub flushed: u64,
    /// Merge compactions (runs of segments folded into one).
    pub merges: u64,
    /// Segments freed holding live items (FIFO eviction).
    pub segments_evicted: u64,
    /// Segments freed with nothing live left in them.
    pub segments_expired: u64,
    /// Items, and segments holding them, restored from a memory file at
    /// start (warm restart).
    pub restored_items: u64,
    pub restored_segments: u64,
    /// Segments of the memory file dropped for failing their checksum.
    pub restore_dropped_segments: u64,
}

/// Why a dead item left the index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Gone {
    /// With its whole segment.
    Segment,
    /// Dropped by a merge.
    Merge,
    /// Found by an operation on its key.
    Access,
}

impl Counters {
    /// Count one dead item reclaimed for `cause`; `flushed` when it was
    /// below the flush watermark (a cause of its own).
    #[inline]
    pub fn reclaimed(&mut self, cause: Gone, flushed: bool) {
        self.expired += 1;
        let c = match (flushed, cause) {
            (true, _) => &mut self.flushed,
            (false, Gone::Segment) => &mut self.expired_segment,
            (false, Gone::Merge) => &mut self.expired_merge,
            (false, Gone::Access) => &mut self.expired_access,
        };
        *c += 1;
    }
}

/// One of the engine's own figures, named for `stats` (`STAT <name>`) and
/// /metrics (`molt_<name>`, counters with `_total`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Figure {
    /// e.g. `seg_merges`.
    pub name: &'static CStr,
    /// One line for /metrics.
    pub help: &'static CStr,
    /// A counter (only grows) rather than a gauge.
    pub counter: bool,
    /// The value as of the call.
    pub value: u64,
}
