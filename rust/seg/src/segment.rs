//! Segments: fixed-size, append-only item logs carved from one memory budget.
//!
//! Segment memory is allocated lazily (on first use) and kept for reuse, so
//! `memory_used` is a high-water mark that never exceeds the configured
//! limit. An item larger than one segment takes a *span*: its head segment's
//! buffer grows to `k * segment_size` and the `k - 1` other segment ids it
//! borrows give up theirs, keeping the total within the budget.

use crate::hashtable::{slot_addr, ADDR_BITS};
use crate::item::Bases;
use storage::Error;

/// "No segment" in chain links.
pub(crate) const NONE: u32 = u32::MAX;

/// Where a segment is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    /// On the free list.
    Free,
    /// In a TTL bucket's chain, holding items.
    Linked,
    /// Taken off the free list while a span is being assembled.
    Reserved,
    /// Lent to a span head; has no memory of its own.
    Borrowed,
}

/// Per-segment bookkeeping.
#[derive(Debug)]
pub(crate) struct SegMeta {
    pub state: State,
    pub bucket: u16,
    pub prev: u32,
    pub next: u32,
    /// Bytes written (items are appended at this offset).
    pub write_off: usize,
    pub live_items: u32,
    pub live_bytes: usize,
    /// Cas deltas in item headers are relative to this.
    pub base_cas: u64,
    /// Largest cas of any item written here (for flush sweeps).
    pub max_cas: u64,
    /// No item here is live at or after this time (i64::MAX = never).
    pub expire_at: i64,
    pub create_at: i64,
    /// Short access words in item headers count seconds from this
    /// access-word time (`create_at`'s; see `item`).
    pub access_base: u32,
    /// Ids borrowed by a span head (empty for ordinary segments).
    pub span: Vec<u32>,
}

impl SegMeta {
    fn new() -> SegMeta {
        SegMeta {
            state: State::Free,
            bucket: 0,
            prev: NONE,
            next: NONE,
            write_off: 0,
            live_items: 0,
            live_bytes: 0,
            base_cas: 0,
            max_cas: 0,
            expire_at: i64::MIN,
            create_at: 0,
            access_base: 0,
            span: Vec::new(),
        }
    }

    /// Reset to an empty segment about to be linked.
    pub fn open(&mut self, bucket: u16, base_cas: u64, now: i64, access_now: u32, never: bool) {
        self.state = State::Linked;
        self.bucket = bucket;
        self.prev = NONE;
        self.next = NONE;
        self.write_off = 0;
        self.live_items = 0;
        self.live_bytes = 0;
        self.base_cas = base_cas;
        self.max_cas = 0;
        self.expire_at = if never { i64::MAX } else { i64::MIN };
        self.create_at = now;
        self.access_base = access_now;
    }

    /// Account for one more item written here.
    #[inline]
    pub fn add_item(&mut self, size: usize, cas: u64, exptime: u32) {
        self.live_items += 1;
        self.live_bytes += size;
        self.max_cas = self.max_cas.max(cas);
        if exptime != 0 {
            self.expire_at = self.expire_at.max(i64::from(exptime));
        }
    }

    /// Whether this is a multi-segment span.
    #[inline]
    pub fn is_span(&self) -> bool {
        !self.span.is_empty()
    }
}

/// The segment pool.
pub(crate) struct Segments {
    pub meta: Vec<SegMeta>,
    pub data: Vec<Box<[u8]>>,
    pub free: Vec<u32>,
    pub seg_size: usize,
    /// log2 of `seg_size`: an item's address in the index is
    /// `segment << shift | offset`.
    pub shift: u32,
    /// `seg_size - 1`: an address's offset bits.
    pub off_mask: u64,
    pub memory_used: u64,
}

impl Segments {
    /// `count` segments of `seg_size` bytes, a power of two, at most
    /// 2^[`ADDR_BITS`] bytes in all.
    pub fn new(count: usize, seg_size: usize) -> Segments {
        debug_assert!(seg_size.is_power_of_two());
        debug_assert!((count as u64) << seg_size.trailing_zeros() <= 1 << ADDR_BITS);
        Segments {
            meta: (0..count).map(|_| SegMeta::new()).collect(),
            data: (0..count).map(|_| Box::default()).collect(),
            // Popped from the end: segment 0 first.
            free: (0..count as u32).rev().collect(),
            seg_size,
            shift: seg_size.trailing_zeros(),
            off_mask: seg_size as u64 - 1,
            memory_used: 0,
        }
    }

    /// The index address of the item at `off` in segment `seg`.
    #[inline(always)]
    pub fn addr(&self, seg: u32, off: usize) -> u64 {
        (u64::from(seg) << self.shift) | off as u64
    }

    /// What the item headers in segment `id` are relative to.
    #[inline(always)]
    pub fn bases(&self, id: u32) -> Bases {
        let m = &self.meta[id as usize];
        Bases {
            cas: m.base_cas,
            access: m.access_base,
        }
    }

    /// The segment of an index slot value (or address).
    #[inline(always)]
    pub fn seg_of(&self, v: u64) -> u32 {
        (slot_addr(v) >> self.shift) as u32
    }

    /// The offset in its segment of an index slot value (or address).
    #[inline(always)]
    pub fn off_of(&self, v: u64) -> usize {
        (v & self.off_mask) as usize
    }

    /// Number of segments in the budget.
    pub fn count(&self) -> usize {
        self.meta.len()
    }

    /// Give segment `id` a zeroed buffer of exactly `len` bytes.
    pub fn resize(&mut self, id: u32, len: usize) -> Result<(), Error> {
        // (Result kept so a fallible allocator can be slotted in.)
        let cur = &mut self.data[id as usize];
        if cur.len() == len {
            return Ok(());
        }
        self.memory_used -= cur.len() as u64;
        *cur = Box::default();
        if len > 0 {
            // calloc-backed: large buffers come as untouched zero pages, so
            // no memset and no memory committed before items are written.
            // (std has no stable fallible zeroed allocation; an allocation
            // failure aborts like any other in Rust.)
            *cur = vec![0u8; len].into_boxed_slice();
        }
        self.memory_used += len as u64;
        Ok(())
    }

    /// Return a segment (and a span's borrowed ids) to the free list.
    pub fn release(&mut self, id: u32) {
        let span = std::mem::take(&mut self.meta[id as usize].span);
        for &b in &span {
            self.meta[b as usize].state = State::Free;
            self.free.push(b);
        }
        if !span.is_empty() {
            // The head goes back to an ordinary size when reused.
            let _ = self.resize(id, 0);
        }
        let m = &mut self.meta[id as usize];
        m.state = State::Free;
        m.prev = NONE;
        m.next = NONE;
        m.write_off = 0;
        m.live_items = 0;
        m.live_bytes = 0;
        m.span = span;
        m.span.clear();
        self.free.push(id);
    }
}
