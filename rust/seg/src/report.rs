//! What the engine reports about its layout: per-class rows (`stats items`,
//! `stats slabs`) and the sliced walk over live items (`lru_crawler
//! metadump`). Segcache has no slab classes; its honest equivalent is the
//! TTL bucket, so a class here is a TTL bucket (id = bucket index + 1,
//! 1..=1025, 1025 the never-expiring bucket) and its "pages" are the
//! segments chained in it.

use crate::engine::Inner;
use crate::item::{self, A_FETCHED};
use crate::segment::{State, NONE};
use storage::{ClassRow, WalkCursor, WalkItem};

impl Inner {
    /// One row per TTL bucket holding segments, in bucket order.
    pub fn classes(&mut self, now: i64, f: &mut dyn FnMut(&ClassRow)) {
        self.tick(now);
        let seg_size = self.segs.seg_size as u64;
        for (b, chain) in self.ttl.chains.iter().enumerate() {
            if chain.head == NONE {
                continue;
            }
            let mut row = ClassRow {
                id: b as u32 + 1,
                chunk_size: seg_size,
                chunks_per_page: 1,
                oldest_access: self.segs.meta[chain.head as usize].create_at,
                ..ClassRow::default()
            };
            let mut id = chain.head;
            while id != NONE {
                let m = &self.segs.meta[id as usize];
                let segments = 1 + m.span.len() as u64;
                row.pages += segments;
                row.items += u64::from(m.live_items);
                id = m.next;
            }
            row.chunks = row.pages;
            row.used_chunks = row.pages;
            f(&row);
        }
    }

    /// Visit at most `max` live items from `cursor`: segments in id order,
    /// items in write order. The position is segment id << 32 | offset, and
    /// `check` the engine epoch + 1 when the slice stopped inside a
    /// segment. While the epoch is unchanged no item has moved and no
    /// segment was freed or merged, so the offset is still an item
    /// boundary and the walk resumes there; otherwise the segment is re-read
    /// from its start up to that offset, so an offset that a merge or reuse
    /// left inside an item is never decoded.
    pub fn walk(
        &mut self,
        now: i64,
        cursor: &mut WalkCursor,
        max: usize,
        f: &mut dyn FnMut(&WalkItem<'_>),
    ) {
        self.tick(now);
        let flush_cas = self.flush_cas;
        let mut id = (cursor.pos >> 32) as usize;
        let mut from = (cursor.pos & 0xffff_ffff) as usize;
        let trusted = cursor.check == self.epoch.wrapping_add(1);
        let mut seen = 0;
        while id < self.segs.meta.len() && seen < max {
            let m = &self.segs.meta[id];
            if m.state == State::Linked {
                let (end, class_id) = (m.write_off, u32::from(m.bucket) + 1);
                let base = self.segs.bases(id as u32);
                let data = &self.segs.data[id];
                let mut off = if trusted && from <= end { from } else { 0 };
                while off < end {
                    let h = item::read_header(&data[off..], base);
                    if off >= from && !h.dead && h.live(now, flush_cas) {
                        if seen == max {
                            break;
                        }
                        let k = off + h.key_at();
                        f(&WalkItem {
                            key: &data[k..k + h.klen as usize],
                            flags: h.flags,
                            class_id,
                            cas: h.cas,
                            exptime: i64::from(h.exptime),
                            last_access: self.time_base + i64::from(h.access & item::A_TIME),
                            size: storage::item_size(h.klen as usize, h.flags, h.vlen as usize)
                                as u64,
                            fetched: h.access & A_FETCHED != 0,
                        });
                        seen += 1;
                    }
                    off += h.total();
                }
                if off < end {
                    cursor.pos = ((id as u64) << 32) | off as u64;
                    cursor.check = self.epoch.wrapping_add(1);
                    return;
                }
            }
            id += 1;
            from = 0;
        }
        cursor.pos = (id as u64) << 32;
        cursor.check = 0;
        cursor.done = id >= self.segs.meta.len();
    }
}
