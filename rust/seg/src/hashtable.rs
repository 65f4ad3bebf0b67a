//! The key index: a table of cache-line-sized buckets.
//!
//! Each bucket is 64 bytes = 8 `u64` slots. Slot 0 is bucket info: bits
//! 0..32 the 1-based index of an overflow bucket chained after this one (0 =
//! none), bits 32..64 in an overflow bucket the reference of the bucket
//! before it, so that an overflow bucket emptied by a removal is unlinked
//! and reused (without it, chains only ever grow under churn). Slots 1..=7
//! hold items, 0 meaning empty:
//!
//! ```text
//! bits  0..24  byte offset of the item in its segment
//! bits 24..48  segment id
//! bits 48..52  access frequency (saturating, for merge eviction)
//! bits 52..64  tag: 12 high bits of the key hash (never 0)
//! ```
//!
//! A lookup reads the home bucket (one cache line), compares tags and only
//! touches segment memory for the slots whose tag matches. A full bucket
//! chains overflow buckets. The bucket count need not be a power of two (the
//! home bucket is the low 32 hash bits scaled to it), so the engine can size
//! the table for the items its memory will hold (see `Inner::grow`) at about
//! [`TARGET_LOAD`] items per bucket, ~13.4 bytes per item with overflow
//! buckets, instead of doubling into the next power of two.

/// Item slots per bucket (slot 0 is bucket info).
pub(crate) const SLOTS: usize = 8;
/// Grow when items exceed this many per home bucket.
pub(crate) const GROW_LOAD: usize = 7;
/// Items per home bucket a table is sized for (6 of 7 slots: about one
/// bucket in four chains an overflow bucket). Per item, with the overflow
/// buckets (Poisson bucket loads): 13.4 bytes, against 14.5 at 5 per
/// bucket; denser still gains little (12.9 at 7), as each overflow bucket
/// holds only one or two items.
pub(crate) const TARGET_LOAD: usize = 6;
/// Overflow buckets reserved with a table, per home bucket (x/16; ~0.26
/// are used at [`TARGET_LOAD`]): one allocation, not a chain of doubling
/// copies whose freed predecessors stay resident in the allocator.
const OVER_RESERVE_16THS: usize = 5;
/// A bucket reference to an overflow bucket.
const OVER_FLAG: u32 = 1 << 31;
/// A bucket reference into the old table of a growth in progress.
const OLD_FLAG: u32 = 1 << 30;

const OFF_MASK: u64 = (1 << 24) - 1;
const SEG_SHIFT: u32 = 24;
const SEG_MASK: u64 = (1 << 24) - 1;
const FREQ_SHIFT: u32 = 48;
const FREQ_MASK: u64 = 0xf;
const TAG_SHIFT: u32 = 52;

/// Largest segment id a slot can hold.
pub(crate) const MAX_SEGMENTS: usize = (1 << 24) - 1;
/// Largest item offset a slot can hold (so the largest segment).
pub(crate) const MAX_OFFSET: usize = 1 << 24;
/// Most home buckets (bucket references keep their top two bits for
/// overflow and the old table).
pub(crate) const MAX_BUCKETS: usize = 1 << 30;
/// Largest frequency value.
pub(crate) const FREQ_MAX: u8 = 15;

/// A bucket's slots.
pub(crate) type Slots = [u64; SLOTS];

/// A 64-byte, cache-line-aligned bucket.
#[derive(Clone, Copy, Default)]
#[repr(C, align(64))]
pub(crate) struct Bucket(pub [u64; SLOTS]);

/// The position of a slot: bucket reference (high bit = overflow) and slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Loc {
    bucket: u32,
    slot: u8,
}

/// The tag of a hash (12 bits, never 0).
#[inline]
pub(crate) fn tag_of(hash: u64) -> u64 {
    (hash >> TAG_SHIFT).max(1)
}

/// Build a slot value.
#[inline]
pub(crate) fn pack(tag: u64, seg: u32, off: usize, freq: u8) -> u64 {
    debug_assert!(off < MAX_OFFSET && (seg as usize) <= MAX_SEGMENTS);
    (tag << TAG_SHIFT)
        | ((u64::from(freq) & FREQ_MASK) << FREQ_SHIFT)
        | (u64::from(seg) << SEG_SHIFT)
        | off as u64
}

#[inline]
pub(crate) fn slot_tag(v: u64) -> u64 {
    v >> TAG_SHIFT
}
#[inline]
pub(crate) fn slot_seg(v: u64) -> u32 {
    ((v >> SEG_SHIFT) & SEG_MASK) as u32
}
#[inline]
pub(crate) fn slot_off(v: u64) -> usize {
    (v & OFF_MASK) as usize
}
#[inline]
pub(crate) fn slot_freq(v: u64) -> u8 {
    ((v >> FREQ_SHIFT) & FREQ_MASK) as u8
}

#[inline(always)]
fn r64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

#[inline(always)]
fn r32(b: &[u8], at: usize) -> u64 {
    u64::from(u32::from_le_bytes(
        b[at..at + 4].try_into().expect("4 bytes"),
    ))
}

/// Whether two keys of the same length are equal: overlapping word loads,
/// as the hash reads them, rather than a call to memcmp (keys are short).
#[inline(always)]
pub(crate) fn key_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n >= 8 {
        let mut i = 0;
        while i + 8 < n {
            if r64(a, i) != r64(b, i) {
                return false;
            }
            i += 8;
        }
        r64(a, n - 8) == r64(b, n - 8)
    } else if n >= 4 {
        r32(a, 0) == r32(b, 0) && r32(a, n - 4) == r32(b, n - 4)
    } else {
        a == b
    }
}

/// Seeded, fast, non-cryptographic key hash (folded 64x64->128 multiplies,
/// in the manner of wyhash/foldhash): no per-byte loop and no memcpy.
#[inline(always)]
pub(crate) fn hash_key(seed: u64, key: &[u8]) -> u64 {
    const K1: u64 = 0x9e37_79b9_7f4a_7c15;
    const K2: u64 = 0xd6e8_feb8_6659_fd93;
    const K3: u64 = 0xa076_1d64_78bd_642f;
    #[inline(always)]
    fn fold(a: u64, b: u64) -> u64 {
        let p = u128::from(a).wrapping_mul(u128::from(b));
        (p as u64) ^ ((p >> 64) as u64)
    }
    let n = key.len();
    let mut h = seed ^ (n as u64).wrapping_mul(K1);
    let (a, b) = if n <= 16 {
        if n >= 8 {
            (r64(key, 0), r64(key, n - 8))
        } else if n >= 4 {
            (r32(key, 0), r32(key, n - 4))
        } else if n > 0 {
            let x =
                (u64::from(key[0]) << 16) | (u64::from(key[n / 2]) << 8) | u64::from(key[n - 1]);
            (x, 0)
        } else {
            (0, 0)
        }
    } else {
        let mut i = 0;
        while i + 16 < n {
            h = fold(r64(key, i) ^ K2, r64(key, i + 8) ^ h);
            i += 16;
        }
        (r64(key, n - 16), r64(key, n - 8))
    };
    h = fold(a ^ K2, b ^ h ^ K3);
    fold(h ^ K1, seed ^ K2)
}

/// One bucket array with its overflow buckets. Bucket references here are
/// local: the home index, or `OVER_FLAG | overflow index`.
pub(crate) struct Table {
    /// The home buckets (while a growth prepares the table, fewer than `n`:
    /// see [`Table::prepare`]).
    main: Vec<Bucket>,
    over: Vec<Bucket>,
    over_free: Vec<u32>,
    /// Number of home buckets.
    n: u64,
}

impl Table {
    fn new(n: usize) -> Table {
        let mut t = Table::preparing(n);
        t.prepare(n);
        t
    }

    /// A table of `n` home buckets with room reserved but none written yet
    /// (a large allocation maps pages without touching them).
    fn preparing(n: usize) -> Table {
        debug_assert!((1..=MAX_BUCKETS).contains(&n));
        Table {
            main: Vec::with_capacity(n),
            over: Vec::with_capacity(n * OVER_RESERVE_16THS / 16),
            over_free: Vec::new(),
            n: n as u64,
        }
    }

    /// The home bucket: the low 32 hash bits scaled to the bucket count (the
    /// tag is the high bits).
    #[inline(always)]
    fn home(&self, hash: u64) -> u32 {
        (((hash & 0xffff_ffff) * self.n) >> 32) as u32
    }

    #[inline(always)]
    pub fn bucket(&self, b: u32) -> &Slots {
        if b & OVER_FLAG == 0 {
            &self.main[b as usize].0
        } else {
            &self.over[(b & !OVER_FLAG) as usize].0
        }
    }

    #[inline(always)]
    fn bucket_mut(&mut self, b: u32) -> &mut Slots {
        if b & OVER_FLAG == 0 {
            &mut self.main[b as usize].0
        } else {
            &mut self.over[(b & !OVER_FLAG) as usize].0
        }
    }

    /// Number of home buckets.
    fn len(&self) -> usize {
        self.n as usize
    }

    /// Write up to `k` more empty home buckets; true once all `n` are.
    fn prepare(&mut self, k: usize) -> bool {
        let add = k.min(self.len() - self.main.len());
        self.main
            .extend(std::iter::repeat_n(Bucket::default(), add));
        self.main.len() == self.len()
    }

    #[inline(always)]
    pub fn next(&self, b: u32) -> Option<u32> {
        let link = self.bucket(b)[0] as u32; // the low 32 bits
        (link != 0).then(|| OVER_FLAG | (link - 1))
    }

    /// See [`HashTable::clear`].
    #[inline]
    fn clear(&mut self, b: u32, slot: usize) {
        self.bucket_mut(b)[slot] = 0;
        let Some(mut last) = self.next(b) else {
            self.drop_if_empty(b);
            return;
        };
        while let Some(n) = self.next(last) {
            last = n;
        }
        let bk = &mut self.bucket_mut(last);
        if let Some(s) = (1..SLOTS).rev().find(|&s| bk[s] != 0) {
            let v = std::mem::take(&mut bk[s]);
            self.bucket_mut(b)[slot] = v;
        }
        self.drop_if_empty(last);
    }

    /// Unlink `b` if it is an overflow bucket with no item left.
    #[inline]
    fn drop_if_empty(&mut self, b: u32) {
        if b & OVER_FLAG != 0 && self.bucket(b)[1..].iter().all(|&v| v == 0) {
            self.unlink_overflow(b);
        }
    }

    /// Take the empty overflow bucket `b` out of its chain.
    #[cold]
    fn unlink_overflow(&mut self, b: u32) {
        let info = self.bucket(b)[0];
        let next = info & 0xffff_ffff;
        let prev = (info >> 32) as u32;
        let p = &mut self.bucket_mut(prev)[0];
        *p = (*p & !0xffff_ffff) | next;
        if next != 0 {
            let n = &mut self.over[(next - 1) as usize].0[0];
            *n = (*n & 0xffff_ffff) | (u64::from(prev) << 32);
        }
        self.bucket_mut(b)[0] = 0;
        self.over_free.push(b & !OVER_FLAG);
    }

    /// Insert a slot value into the chain of home bucket `b`; returns the
    /// bucket and slot it took.
    fn insert(&mut self, mut b: u32, v: u64) -> (u32, usize) {
        loop {
            if let Some(s) = (1..SLOTS).find(|&s| self.bucket(b)[s] == 0) {
                self.bucket_mut(b)[s] = v;
                return (b, s);
            }
            match self.next(b) {
                Some(n) => b = n,
                None => {
                    let idx = match self.over_free.pop() {
                        Some(i) => i,
                        None => {
                            self.over.push(Bucket::default());
                            (self.over.len() - 1) as u32
                        }
                    };
                    let info = &mut self.bucket_mut(b)[0];
                    *info = (*info & !0xffff_ffff) | u64::from(idx + 1);
                    self.over[idx as usize].0[0] = u64::from(b) << 32;
                    b = OVER_FLAG | idx;
                }
            }
        }
    }

    /// Every occupied slot value.
    #[cfg(test)]
    fn values(&self) -> impl Iterator<Item = u64> + '_ {
        self.main
            .iter()
            .map(|b| &b.0[..])
            .chain(self.over.iter().map(|b| &b.0[..]))
            .flat_map(|b| b[1..].iter().copied())
            .filter(|&v| v != 0)
    }

    /// Overflow buckets chained (not on the free list).
    fn overflow_in_use(&self) -> usize {
        self.over.len() - self.over_free.len()
    }
}

/// The previous table while its items move to the current one.
struct Draining {
    t: Table,
    /// Home buckets below this have moved.
    cursor: u32,
}

/// The key index. It grows without a pause, in two phases driven by the
/// engine a step per operation: the larger table is written a few hundred
/// empty buckets at a time ([`HashTable::prepare_step`]; allocating is free,
/// writing 100 MB at once is not), then it becomes the current table and
/// the old one is drained a few home buckets at a time
/// ([`HashTable::drain_next`]; the engine reads the keys back to hash
/// them). Until then a key whose old home bucket has not moved yet is
/// looked up, inserted and removed in the old table. Bucket references
/// carry [`OLD_FLAG`] when they are in the old table.
pub(crate) struct HashTable {
    cur: Table,
    old: Option<Box<Draining>>,
    /// The next table while it is being written.
    next: Option<Box<Table>>,
    /// Occupied slots (both tables).
    pub items: usize,
}

impl HashTable {
    /// A table of `n` home buckets (1..=[`MAX_BUCKETS`]).
    pub fn new(n: usize) -> HashTable {
        HashTable {
            cur: Table::new(n),
            old: None,
            next: None,
            items: 0,
        }
    }

    /// Number of home buckets (of the current table).
    pub fn buckets(&self) -> usize {
        self.cur.len()
    }

    /// Overflow buckets chained (not on the free list), both tables.
    pub fn overflow_in_use(&self) -> usize {
        self.cur.overflow_in_use() + self.old.as_ref().map_or(0, |o| o.t.overflow_in_use())
    }

    /// Whether the load calls for a larger table (never while growing).
    #[inline]
    pub fn wants_growth(&self) -> bool {
        self.items > self.cur.len() * GROW_LOAD && self.cur.len() < MAX_BUCKETS && !self.growing()
    }

    /// Whether a growth is in progress (preparing or draining).
    #[inline(always)]
    pub fn growing(&self) -> bool {
        self.old.is_some() || self.next.is_some()
    }

    /// Whether the next table is still being written.
    pub fn preparing(&self) -> bool {
        self.next.is_some()
    }

    /// Whether an old table is still being drained.
    #[cfg(test)]
    pub fn draining(&self) -> bool {
        self.old.is_some()
    }

    /// Start a growth to `n` home buckets (see the type's comment).
    pub fn begin_growth(&mut self, n: usize) {
        debug_assert!(!self.growing());
        self.next = Some(Box::new(Table::preparing(n)));
    }

    /// Write up to `k` more buckets of the next table; once it is complete
    /// it becomes the current table and the current one the old one, to be
    /// drained. Returns true when that switch happened (every `Loc` held is
    /// stale then).
    pub fn prepare_step(&mut self, k: usize) -> bool {
        let Some(t) = self.next.as_mut() else {
            return false;
        };
        if !t.prepare(k) {
            return false;
        }
        let t = self.next.take().expect("preparing");
        let old = std::mem::replace(&mut self.cur, *t);
        self.old = Some(Box::new(Draining { t: old, cursor: 0 }));
        true
    }

    /// Move the old table's next home bucket (with its overflow chain) out:
    /// its slot values go to `out` (cleared first), to be re-inserted with
    /// [`HashTable::insert_moved`]. The old table is dropped after its last
    /// bucket. False when nothing is being drained. Every `Loc` held into
    /// the old table may be stale afterwards.
    pub fn drain_next(&mut self, out: &mut Vec<u64>) -> bool {
        out.clear();
        let Some(o) = self.old.as_mut() else {
            return false;
        };
        let mut b = Some(o.cursor);
        while let Some(x) = b {
            let next = o.t.next(x);
            let bk = o.t.bucket_mut(x);
            out.extend(bk[1..].iter().copied().filter(|&v| v != 0));
            *bk = [0; SLOTS];
            b = next;
        }
        o.cursor += 1;
        if u64::from(o.cursor) >= o.t.n {
            self.old = None;
        }
        true
    }

    /// Insert a value drained from the old table into the current one.
    pub fn insert_moved(&mut self, hash: u64, v: u64) {
        let h = self.cur.home(hash);
        self.cur.insert(h, v);
    }

    /// Where `hash`'s chain starts: the table holding it, the home bucket
    /// there, and the flag its bucket references carry (for `Loc`s). For
    /// walking a chain without choosing the table at every bucket.
    #[inline(always)]
    pub fn locate(&self, hash: u64) -> (&Table, u32, u32) {
        if let Some(o) = &self.old {
            let h = o.t.home(hash);
            if h >= o.cursor {
                return (&o.t, h, OLD_FLAG);
            }
        }
        (&self.cur, self.cur.home(hash), 0)
    }

    /// The home bucket of `hash`: in the old table while its bucket there
    /// has not moved yet.
    #[inline(always)]
    pub fn home(&self, hash: u64) -> u32 {
        if let Some(o) = &self.old {
            let h = o.t.home(hash);
            if h >= o.cursor {
                return h | OLD_FLAG;
            }
        }
        self.cur.home(hash)
    }

    #[inline(always)]
    fn table(&self, b: u32) -> &Table {
        // The flag first: it is in a register, the old table behind a load.
        if b & OLD_FLAG != 0 {
            if let Some(o) = &self.old {
                return &o.t;
            }
        }
        &self.cur
    }

    #[inline(always)]
    fn table_mut(&mut self, b: u32) -> &mut Table {
        if b & OLD_FLAG != 0 {
            if let Some(o) = &mut self.old {
                return &mut o.t;
            }
        }
        &mut self.cur
    }

    #[inline(always)]
    pub fn bucket(&self, b: u32) -> &Slots {
        self.table(b).bucket(b & !OLD_FLAG)
    }

    #[inline(always)]
    fn bucket_mut(&mut self, b: u32) -> &mut Slots {
        self.table_mut(b).bucket_mut(b & !OLD_FLAG)
    }

    #[inline]
    pub fn loc(bucket: u32, slot: usize) -> Loc {
        Loc {
            bucket,
            slot: slot as u8,
        }
    }

    #[inline(always)]
    pub fn get(&self, loc: Loc) -> u64 {
        self.bucket(loc.bucket)[loc.slot as usize]
    }

    #[inline(always)]
    pub fn set(&mut self, loc: Loc, v: u64) {
        self.bucket_mut(loc.bucket)[loc.slot as usize] = v;
    }

    /// Empty a slot, keeping the chain short: the last item of the chain's
    /// last bucket moves into the freed slot (so any other `Loc` held in
    /// this chain is stale afterwards), and an overflow bucket left empty is
    /// unlinked and kept for reuse. Without this, items left in overflow
    /// buckets as home slots free up make chains only ever grow under churn
    /// (a third of the buckets had one at `-m 64` after 1M writes).
    #[inline]
    pub fn clear(&mut self, loc: Loc) {
        debug_assert!(self.get(loc) != 0);
        self.items -= 1;
        let b = loc.bucket;
        self.table_mut(b).clear(b & !OLD_FLAG, loc.slot as usize);
    }

    /// Empty a slot without moving any other (other `Loc`s stay valid; an
    /// overflow bucket left empty is still unlinked).
    #[inline]
    pub fn clear_in_place(&mut self, loc: Loc) {
        debug_assert!(self.get(loc) != 0);
        self.set(loc, 0);
        self.items -= 1;
        let b = loc.bucket;
        self.table_mut(b).drop_if_empty(b & !OLD_FLAG);
    }

    /// Raise the frequency counter of a slot (saturating).
    #[inline(always)]
    pub fn bump(&mut self, loc: Loc) {
        // One bucket resolution for the read and the write.
        let v = &mut self.bucket_mut(loc.bucket)[loc.slot as usize];
        if slot_freq(*v) < FREQ_MAX {
            *v += 1 << FREQ_SHIFT;
        }
    }

    /// Point the slot at `loc` at a new version of its item (same key, so
    /// same tag) at (seg, off), keeping the larger of its frequency and
    /// `freq`. One bucket resolution for the read and the write.
    #[inline(always)]
    pub fn repoint(&mut self, loc: Loc, seg: u32, off: usize, freq: u8) {
        let v = &mut self.bucket_mut(loc.bucket)[loc.slot as usize];
        *v = pack(slot_tag(*v), seg, off, slot_freq(*v).max(freq));
    }

    /// Insert a slot value into the chain of `hash`'s home bucket.
    pub fn insert(&mut self, hash: u64, v: u64) -> Loc {
        let h = self.home(hash);
        let (b, s) = self.table_mut(h).insert(h & !OLD_FLAG, v);
        self.items += 1;
        Self::loc(b | (h & OLD_FLAG), s)
    }

    /// The slot holding exactly (seg, off) in `hash`'s chain.
    pub fn find_exact(&self, hash: u64, seg: u32, off: usize) -> Option<Loc> {
        let tag = tag_of(hash);
        let (t, mut b, flag) = self.locate(hash);
        loop {
            let bk = t.bucket(b);
            // Indexed: the iterator form does not unroll (~40 Ir more per
            // lookup through the seam).
            #[allow(clippy::needless_range_loop)]
            for s in 1..SLOTS {
                let v = bk[s];
                if v != 0 && slot_tag(v) == tag && slot_seg(v) == seg && slot_off(v) == off {
                    return Some(Self::loc(b | flag, s));
                }
            }
            b = t.next(b)?;
        }
    }

    /// Every occupied slot value (both tables).
    #[cfg(test)]
    pub fn values(&self) -> impl Iterator<Item = u64> + '_ {
        self.cur
            .values()
            .chain(self.old.iter().flat_map(|o| o.t.values()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_fields_roundtrip() {
        let v = pack(0xabc, 123_456, 1_000_000, 9);
        assert_eq!(slot_tag(v), 0xabc);
        assert_eq!(slot_seg(v), 123_456);
        assert_eq!(slot_off(v), 1_000_000);
        assert_eq!(slot_freq(v), 9);
        assert_eq!(tag_of(0), 1, "tag never 0");
    }

    #[test]
    fn overflow_chains_hold_any_number_of_slots() {
        let mut t = HashTable::new(2);
        let mut locs = Vec::new();
        for i in 0..100u32 {
            let h = 2u64 | (u64::from(i) << 52); // all in bucket 0 of 2
            locs.push((h, t.insert(h, pack(tag_of(h), i, 8, 0))));
        }
        assert_eq!(t.items, 100);
        for (i, &(h, loc)) in locs.iter().enumerate() {
            assert_eq!(t.find_exact(h, i as u32, 8), Some(loc));
        }
        let take = |t: &mut HashTable, i: usize| {
            let (h, _) = locs[i];
            let loc = t.find_exact(h, i as u32, 8).expect("present");
            t.clear(loc);
            assert_eq!(t.find_exact(h, i as u32, 8), None);
        };
        take(&mut t, 3);
        assert_eq!(t.values().count(), 99);
        // Removals pull the chain's last item forward: 85 items keep the home
        // bucket and 12 overflow buckets (7 + 11 * 7 + 1); 2 are freed.
        for i in 7..21 {
            take(&mut t, i);
        }
        assert_eq!(
            (t.items, t.cur.over.len(), t.cur.over_free.len()),
            (85, 14, 2)
        );
        for i in (0..100).filter(|&i| i != 3 && !(7..21).contains(&i)) {
            assert!(
                t.find_exact(locs[i].0, i as u32, 8).is_some(),
                "{i} still chained"
            );
        }
        for i in 0..14u32 {
            let h = 2u64 | (u64::from(i) << 52);
            t.insert(h, pack(tag_of(h), 1000 + i, 8, 0));
        }
        assert_eq!(t.cur.over.len(), 14, "freed buckets reused");
        for i in 0..14u32 {
            let h = 2u64 | (u64::from(i) << 52);
            assert!(t.find_exact(h, 1000 + i, 8).is_some());
        }
        // clear_in_place moves nothing; an emptied overflow bucket still goes.
        let last = locs[99].0;
        let l99 = t.find_exact(last, 99, 8).unwrap();
        let l98 = t.find_exact(locs[98].0, 98, 8).unwrap();
        t.clear_in_place(l98);
        assert_eq!(t.find_exact(last, 99, 8), Some(l99));
        assert_eq!(t.values().count(), t.items);
    }

    #[test]
    fn key_eq_compares_every_byte() {
        for n in 1..=40usize {
            let a: Vec<u8> = (0..n as u8).collect();
            assert!(key_eq(&a, &a.clone()));
            for i in 0..n {
                let mut b = a.clone();
                b[i] ^= 0x80;
                assert!(!key_eq(&a, &b), "n {n} byte {i}");
            }
            assert!(!key_eq(&a, &a[..n - 1]));
        }
    }

    #[test]
    fn hash_spreads_similar_keys() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..10_000 {
            let h = hash_key(7, format!("key:{i:010}").as_bytes());
            seen.insert(h & 0xfff);
        }
        // 10k keys into 4096 bins: about 4096 * (1 - e^-2.44) = 3740 distinct.
        assert!(seen.len() > 3650, "{}", seen.len());
        assert_ne!(hash_key(1, b"abc"), hash_key(2, b"abc"));
        assert_ne!(hash_key(1, b""), hash_key(1, b"\0"));
    }
}
