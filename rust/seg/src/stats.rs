//! Engine counters and the snapshot handed to callers.

/// A snapshot of the engine's counters; gauges are as of the call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SegStats {
    /// Items in the index (live, or dead but not yet reclaimed).
    pub curr_items: u64,
    /// Successful stores since start.
    pub total_items: u64,
    /// Bytes held by indexed items (headers, keys, values).
    pub bytes: u64,
    /// Live items removed to make room.
    pub evictions: u64,
    /// Expired or flushed items reclaimed.
    pub expired: u64,
    /// Segment memory allocated (never above `memory_limit`).
    pub memory_used: u64,
    /// The configured limit.
    pub memory_limit: u64,
    /// Home buckets in the hash table.
    pub hash_buckets: u64,
}

/// Running counters kept under the engine lock.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Counters {
    pub curr_items: u64,
    pub total_items: u64,
    pub bytes: u64,
    pub evictions: u64,
    pub expired: u64,
}
