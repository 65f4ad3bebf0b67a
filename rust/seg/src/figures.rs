//! The engine's own figures (storage.h `figures`): what only a segment
//! engine has to say about itself, beside the seam's common counters.

use crate::engine::Inner;
use crate::hashtable::SLOTS;
use crate::segment::State;
use crate::stats::Figure;

impl Inner {
    /// Every figure, in a fixed order, to `f`.
    pub fn figures(&mut self, now: i64, f: &mut dyn FnMut(&Figure)) {
        self.tick(now);
        let used = self
            .segs
            .meta
            .iter()
            .filter(|m| matches!(m.state, State::Linked | State::Borrowed))
            .count() as u64;
        let c = self.counters;
        let t = &self.table;
        let overflow = t.overflow_in_use() as u64;
        let gauge = |name, help, value| Figure {
            name,
            help,
            counter: false,
            value,
        };
        let counter = |name, help, value| Figure {
            name,
            help,
            counter: true,
            value,
        };
        for fig in [
            gauge(
                c"seg_segments",
                c"Segments the memory limit is divided into.",
                self.segs.count() as u64,
            ),
            gauge(
                c"seg_segments_used",
                c"Segments holding items (or lent to a multi-segment item).",
                used,
            ),
            gauge(
                c"seg_segments_free",
                c"Segments on the free list.",
                self.segs.free.len() as u64,
            ),
            gauge(
                c"seg_segment_bytes",
                c"Bytes per segment.",
                self.segs.seg_size as u64,
            ),
            counter(
                c"seg_merges",
                c"Merge evictions: runs of segments compacted into one.",
                c.merges,
            ),
            counter(
                c"seg_segments_evicted",
                c"Segments freed while holding live items (FIFO eviction).",
                c.segments_evicted,
            ),
            counter(
                c"seg_segments_expired",
                c"Segments freed with nothing live in them (TTL, flush, or all overwritten).",
                c.segments_expired,
            ),
            counter(
                c"seg_evicted_merge",
                c"Live items a merge left behind (the least read of its run).",
                c.evicted_merge,
            ),
            counter(
                c"seg_evicted_segment",
                c"Live items evicted with their whole segment.",
                c.evicted_segment,
            ),
            counter(
                c"seg_expired_segment",
                c"Expired items reclaimed with their whole segment.",
                c.expired_segment,
            ),
            counter(
                c"seg_expired_merge",
                c"Expired items dropped by a merge.",
                c.expired_merge,
            ),
            counter(
                c"seg_expired_access",
                c"Expired items found by an operation on their key.",
                c.expired_access,
            ),
            counter(
                c"seg_flushed",
                c"Items reclaimed because a flush invalidated them.",
                c.flushed,
            ),
            gauge(
                c"seg_hash_items",
                c"Items in the hash table.",
                t.items as u64,
            ),
            gauge(
                c"seg_hash_slots",
                c"Item slots in the hash table (home and overflow buckets).",
                (t.buckets() as u64 + overflow) * SLOTS as u64,
            ),
            gauge(
                c"seg_hash_overflow_buckets",
                c"Overflow buckets chained to full home buckets.",
                overflow,
            ),
            gauge(
                c"seg_restored_items",
                c"Items restored from the memory file at start (warm restart).",
                c.restored_items,
            ),
            gauge(
                c"seg_restored_segments",
                c"Segments restored from the memory file at start.",
                c.restored_segments,
            ),
            gauge(
                c"seg_restore_dropped_segments",
                c"Segments of the memory file dropped at start for failing their checksum.",
                c.restore_dropped_segments,
            ),
        ] {
            f(&fig);
        }
    }
}
