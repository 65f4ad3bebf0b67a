//! Engine counters (the snapshot handed to callers is storage::Stats).

/// Running counters kept under the engine lock.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Counters {
    pub curr_items: u64,
    pub total_items: u64,
    pub bytes: u64,
    pub evictions: u64,
    pub expired: u64,
}
