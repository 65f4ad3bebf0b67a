//! The key index: cache-line buckets, two candidate buckets per key.
//!
//! Each bucket is 64 bytes and holds up to [`SLOTS`] = 10 items:
//!
//! ```text
//! bytes  0..10  one tag per slot: the 8 high bits of the key hash (never 0;
//!               0 = empty slot), compared 8 at a time as one word
//! bytes 10..60  one 5-byte entry per slot (LE):
//!               bits  0..36  the item's address: segment << segment shift
//!                            | byte offset in the segment
//!               bits 36..40  access frequency (saturating, for merge eviction)
//! bytes 60..64  1-based index of an overflow bucket chained after this one
//!               (0 = none)
//! ```
//!
//! A key may live in either of two buckets chosen by its hash (`h1` from the
//! low 32 bits, `h2` from bits 24..56); an insert takes the less loaded one
//! (two choices keep bucket loads even). When both are full, an item of
//! either that has room in its own other home moves there and the new one
//! takes its slot (`Inner::rehome`: keys read back from the segments).
//! Only when none can does it stay in an overflow bucket chained after
//! `h1`. A lookup reads `h1`, then `h2`, then `h1`'s chain when it has
//! one. The bucket count need not be a power of two (a home is its 32 hash
//! bits scaled to it), so the engine sizes the table for the items its
//! memory will hold (see `Inner::grow`) at [`TARGET_LOAD_10THS`] of the
//! slots: ~6.6 bytes per item, where 8-byte slots chained from single home
//! buckets cost ~13.4.

/// Item slots per bucket.
pub(crate) const SLOTS: usize = 10;
/// Grow when items exceed this many tenths per home bucket (9.9 of the 10
/// slots: in the -m 1024 fill of 100-byte items, 3.2% of the home buckets
/// then had an overflow chain, rehoming notwithstanding).
const GROW_LOAD_10THS: usize = 99;
/// Items per home bucket, in tenths, a table is sized for (9.7 of the 10
/// slots): ~6.6 bytes per item in home buckets; after that fill and 1.3M
/// evictions, 0.8% of the home buckets had a chain (without rehoming, at
/// 9 per bucket: 10%, 5.8 MiB).
pub(crate) const TARGET_LOAD_10THS: usize = 97;
/// An insert takes `h1`, looked up first, while it holds fewer items than
/// this, and the less loaded home only then: ~80% of the items are found
/// in the first bucket read (two thirds when always taking the less
/// loaded), for 0.4% rather than 0.3% of inserts finding both homes full
/// at 90% of the slots filled (measured before rehoming).
const H1_FIRST: usize = 6;
/// Overflow buckets reserved with a table, per home bucket (x/16; ~1/30
/// were used at [`GROW_LOAD_10THS`]): one allocation (untouched pages cost
/// nothing), not a chain of doubling copies whose freed predecessors stay
/// resident in the allocator.
const OVER_RESERVE_16THS: usize = 3;
/// A bucket reference to an overflow bucket.
const OVER_FLAG: u32 = 1 << 31;
/// A bucket reference into the old table of a growth in progress.
const OLD_FLAG: u32 = 1 << 30;

/// Bits of an item address (segment and offset): 64 GiB of segments.
pub(crate) const ADDR_BITS: u32 = 36;
const ADDR_MASK: u64 = (1 << ADDR_BITS) - 1;
const FREQ_SHIFT: u32 = 36;
const FREQ_MASK: u64 = 0xf;
/// The tag's place in a slot value (above the 40-bit entry).
const TAG_SHIFT: u32 = 40;
const ENTRY_MASK: u64 = (1 << TAG_SHIFT) - 1;
/// Where the entries and the overflow link lie in a bucket.
const ENTRIES_AT: usize = SLOTS;
const LINK_AT: usize = 60;

/// Most home buckets (bucket references keep their top two bits for
/// overflow and the old table).
pub(crate) const MAX_BUCKETS: usize = 1 << 30;
/// Largest frequency value.
pub(crate) const FREQ_MAX: u8 = 15;

/// A 64-byte, cache-line-aligned bucket (see the module comment).
#[derive(Clone, Copy)]
#[repr(C, align(64))]
pub(crate) struct Bucket([u8; 64]);

impl Default for Bucket {
    fn default() -> Self {
        Bucket([0; 64])
    }
}

/// The position of a slot: bucket reference (flags: overflow, old table)
/// and slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Loc {
    bucket: u32,
    slot: u8,
}

/// A slot value as the engine handles it: `tag << 40 | entry` (0 = empty).
/// The tag of a hash (8 bits, never 0).
#[inline(always)]
pub(crate) fn tag_of(hash: u64) -> u64 {
    (hash >> 56).max(1)
}

/// Build a slot value from a tag, an item address (see
/// `Segments::addr`) and a frequency.
#[inline(always)]
pub(crate) fn pack(tag: u64, addr: u64, freq: u8) -> u64 {
    debug_assert!(addr <= ADDR_MASK && tag != 0 && tag < 256);
    (tag << TAG_SHIFT) | ((u64::from(freq) & FREQ_MASK) << FREQ_SHIFT) | addr
}

#[inline(always)]
pub(crate) fn slot_tag(v: u64) -> u64 {
    v >> TAG_SHIFT
}
#[inline(always)]
pub(crate) fn slot_addr(v: u64) -> u64 {
    v & ADDR_MASK
}
#[inline(always)]
pub(crate) fn slot_freq(v: u64) -> u8 {
    ((v >> FREQ_SHIFT) & FREQ_MASK) as u8
}

/// Bytes equal to 0 in `x`: 0x80 in each such byte, 0 elsewhere (exact,
/// no borrow between bytes).
#[inline(always)]
fn zero_bytes(x: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    !(((x & LOW7).wrapping_add(LOW7)) | x | LOW7)
}

/// The 0x80 bits of [`zero_bytes`] gathered into bits 0..8 (byte i -> bit
/// i; the partial products never overlap, so nothing carries).
#[inline(always)]
fn byte_mask(z: u64) -> u32 {
    ((z >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u32
}

impl Bucket {
    /// The slots whose tag is `tag` (bit i = slot i); `tag` 0: the empty
    /// slots.
    #[inline(always)]
    pub fn with_tag(&self, tag: u64) -> u32 {
        let all = tag.wrapping_mul(0x0101_0101_0101_0101);
        let lo = zero_bytes(r64(&self.0, 0) ^ all);
        // Tags 8 and 9; the entry bytes above them are masked off.
        let hi = zero_bytes(r64(&self.0, 8) ^ all) & 0x8080;
        byte_mask(lo) | byte_mask(hi) << 8
    }

    /// The slots whose tag is `tag` as one word walked with
    /// [`match_slot`]: slot s < 8 as bit 8s + 7, slot 8 as bit 0 and slot 9
    /// as bit 8 (no gathering of the match bits into a slot mask).
    #[inline(always)]
    pub fn matches(&self, tag: u64) -> u64 {
        let all = tag.wrapping_mul(0x0101_0101_0101_0101);
        let lo = zero_bytes(r64(&self.0, 0) ^ all);
        // Tags 8 and 9; the entry bytes above them are masked off.
        let hi = zero_bytes(r64(&self.0, 8) ^ all) & 0x8080;
        lo | hi >> 7
    }

    /// Occupied slots.
    #[inline(always)]
    fn load(&self) -> u32 {
        SLOTS as u32 - self.with_tag(0).count_ones()
    }

    /// The slot value of slot `s` (0 when empty: an emptied entry is zeroed).
    #[inline(always)]
    pub fn get(&self, s: usize) -> u64 {
        let at = ENTRIES_AT + 5 * s;
        (u64::from(self.0[s]) << TAG_SHIFT) | (r64(&self.0, at) & ENTRY_MASK)
    }

    /// The item address in slot `s` (its tag matched: not empty).
    #[inline(always)]
    pub fn addr(&self, s: usize) -> u64 {
        r64(&self.0, ENTRIES_AT + 5 * s) & ADDR_MASK
    }

    /// Write slot `s` (a slot value, or 0 to empty it).
    #[inline(always)]
    fn put(&mut self, s: usize, v: u64) {
        self.0[s] = (v >> TAG_SHIFT) as u8;
        let at = ENTRIES_AT + 5 * s;
        // A 5-byte field as one 8-byte read-modify-write (the bytes above
        // it belong to the next slot or the link, and are kept).
        let w = (r64(&self.0, at) & !ENTRY_MASK) | (v & ENTRY_MASK);
        self.0[at..at + 8].copy_from_slice(&w.to_le_bytes());
    }

    /// The overflow link (1-based, 0 = none).
    #[inline(always)]
    pub fn link(&self) -> u32 {
        u32::from_le_bytes(self.0[LINK_AT..].try_into().expect("4 bytes"))
    }

    #[inline(always)]
    fn set_link(&mut self, link: u32) {
        self.0[LINK_AT..].copy_from_slice(&link.to_le_bytes());
    }

    /// The first slot of `mask` holding a value for which `is_key` holds.
    #[inline(always)]
    fn find(&self, mut mask: u32, is_key: &mut impl FnMut(u64) -> bool) -> Option<(usize, u64)> {
        while mask != 0 {
            let s = mask.trailing_zeros() as usize;
            let v = self.get(s);
            if is_key(v) {
                return Some((s, v));
            }
            mask &= mask - 1;
        }
        None
    }
}

/// The slot a [`Bucket::matches`] bit stands for, by bit position: bit
/// 8s + 7 is slot s, bits 0 and 8 are slots 8 and 9 (no other bit is set).
const SLOT_OF_BIT: [u8; 64] = {
    let mut t = [0u8; 64];
    let mut s = 0;
    while s < 8 {
        t[8 * s + 7] = s as u8;
        s += 1;
    }
    t[0] = 8;
    t[8] = 9;
    t
};

/// The slot of the lowest match of a non-zero [`Bucket::matches`] word.
#[inline(always)]
pub(crate) fn match_slot(m: u64) -> usize {
    SLOT_OF_BIT[(m.trailing_zeros() & 63) as usize] as usize
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
    let x = |i: usize| r64(a, i) ^ r64(b, i);
    if n > 32 {
        let mut i = 0;
        while i + 8 < n {
            if x(i) != 0 {
                return false;
            }
            i += 8;
        }
        x(n - 8) == 0
    } else if n > 16 {
        // Typical keys: four overlapping words, no loop.
        (x(0) | x(8) | x(n - 16) | x(n - 8)) == 0
    } else if n >= 8 {
        (x(0) | x(n - 8)) == 0
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
        if n <= 32 {
            // The loop below run once (typical keys): no loop, no index
            // checks, the same hash.
            h = fold(r64(key, 0) ^ K2, r64(key, 8) ^ h);
        } else {
            let mut i = 0;
            while i + 16 < n {
                h = fold(r64(key, i) ^ K2, r64(key, i + 8) ^ h);
                i += 16;
            }
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
    /// The bucket each overflow bucket is chained after (to unlink it once
    /// empty).
    over_prev: Vec<u32>,
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
        let over = n * OVER_RESERVE_16THS / 16;
        Table {
            main: Vec::with_capacity(n),
            over: Vec::with_capacity(over),
            over_prev: Vec::with_capacity(over),
            over_free: Vec::new(),
            n: n as u64,
        }
    }

    /// The two home buckets of `hash`: its low 32 bits and its bits 24..56
    /// scaled to the bucket count (the tag is the top 8 bits).
    #[inline(always)]
    fn homes(&self, hash: u64) -> (u32, u32) {
        // (HashTable::home1 and home2 spell these out.)
        let h1 = ((hash & 0xffff_ffff) * self.n) >> 32;
        let h2 = (((hash >> 24) & 0xffff_ffff) * self.n) >> 32;
        (h1 as u32, h2 as u32)
    }

    #[inline(always)]
    fn bucket(&self, b: u32) -> &Bucket {
        if b & OVER_FLAG == 0 {
            &self.main[b as usize]
        } else {
            &self.over[(b & !OVER_FLAG) as usize]
        }
    }

    #[inline(always)]
    fn bucket_mut(&mut self, b: u32) -> &mut Bucket {
        if b & OVER_FLAG == 0 {
            &mut self.main[b as usize]
        } else {
            &mut self.over[(b & !OVER_FLAG) as usize]
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

    /// The overflow bucket chained after `b`.
    #[inline(always)]
    fn next(&self, b: u32) -> Option<u32> {
        let link = self.bucket(b).link();
        (link != 0).then(|| OVER_FLAG | (link - 1))
    }

    /// The slot of `hash`'s item for which `is_key` holds: in `h1`, `h2`,
    /// then `h1`'s overflow chain. Local bucket references.
    #[inline(always)]
    fn find(&self, hash: u64, is_key: &mut impl FnMut(u64) -> bool) -> Option<(u32, usize, u64)> {
        let tag = tag_of(hash);
        let (h1, h2) = self.homes(hash);
        let b1 = &self.main[h1 as usize];
        if let Some((s, v)) = b1.find(b1.with_tag(tag), is_key) {
            return Some((h1, s, v));
        }
        let b2 = &self.main[h2 as usize];
        if let Some((s, v)) = b2.find(b2.with_tag(tag), is_key) {
            return Some((h2, s, v));
        }
        if b1.link() == 0 {
            return None;
        }
        self.find_chained(h1, tag, is_key)
    }

    /// [`Table::find`] in the overflow chain of `h1` (rare: out of line).
    #[inline(never)]
    fn find_chained(
        &self,
        h1: u32,
        tag: u64,
        is_key: &mut impl FnMut(u64) -> bool,
    ) -> Option<(u32, usize, u64)> {
        let mut b = self.next(h1);
        while let Some(x) = b {
            let bk = self.bucket(x);
            if let Some((s, v)) = bk.find(bk.with_tag(tag), is_key) {
                return Some((x, s, v));
            }
            b = self.next(x);
        }
        None
    }

    /// Empty slot `slot` of bucket `b`, keeping overflow chains dense: the
    /// last item of the chain after `b` (items of the chain all have `b`'s
    /// chain's head as their `h1`, so any bucket of it may hold them) moves
    /// into the freed slot, and an overflow bucket left empty is unlinked.
    #[inline]
    fn clear(&mut self, b: u32, slot: usize) {
        self.bucket_mut(b).put(slot, 0);
        let Some(mut last) = self.next(b) else {
            self.drop_if_empty(b);
            return;
        };
        while let Some(n) = self.next(last) {
            last = n;
        }
        let bk = self.bucket_mut(last);
        let occupied = !bk.with_tag(0) & ((1 << SLOTS) - 1);
        if occupied != 0 {
            let s = 31 - occupied.leading_zeros() as usize;
            let v = bk.get(s);
            bk.put(s, 0);
            self.bucket_mut(b).put(slot, v);
        }
        self.drop_if_empty(last);
    }

    /// Unlink `b` if it is an overflow bucket with no item left.
    #[inline]
    fn drop_if_empty(&mut self, b: u32) {
        if b & OVER_FLAG != 0 && self.bucket(b).load() == 0 {
            self.unlink_overflow(b);
        }
    }

    /// Take the empty overflow bucket `b` out of its chain.
    #[cold]
    fn unlink_overflow(&mut self, b: u32) {
        let i = (b & !OVER_FLAG) as usize;
        let next = self.bucket(b).link();
        let prev = self.over_prev[i];
        self.bucket_mut(prev).set_link(next);
        if next != 0 {
            self.over_prev[(next - 1) as usize] = prev;
        }
        self.bucket_mut(b).set_link(0);
        self.over_free.push(i as u32);
    }

    /// Insert a slot value for `hash`: into `h1` while it holds fewer than
    /// [`H1_FIRST`] items, else into the less loaded of its two buckets, or
    /// when both are full into `h1`'s overflow chain. Returns the bucket
    /// and slot it took.
    #[inline]
    fn insert(&mut self, hash: u64, v: u64) -> (u32, usize) {
        let (h1, h2) = self.homes(hash);
        let (e1, e2) = (
            self.main[h1 as usize].with_tag(0),
            self.main[h2 as usize].with_tag(0),
        );
        // More empty slots = less loaded; h1 on a tie (looked up first).
        let (n1, n2) = (e1.count_ones(), e2.count_ones());
        let b = if n1 > (SLOTS - H1_FIRST) as u32 || n1 >= n2 {
            (e1 != 0).then_some((h1, e1))
        } else {
            Some((h2, e2))
        };
        match b {
            Some((b, empty)) => {
                let s = empty.trailing_zeros() as usize;
                self.main[b as usize].put(s, v);
                (b, s)
            }
            None => self.insert_chained(h1, v),
        }
    }

    /// [`Table::insert`] into the overflow chain of `b` (both homes full).
    #[cold]
    #[inline(never)]
    fn insert_chained(&mut self, mut b: u32, v: u64) -> (u32, usize) {
        loop {
            match self.next(b) {
                Some(n) => {
                    b = n;
                    let empty = self.bucket(b).with_tag(0);
                    if empty != 0 {
                        let s = empty.trailing_zeros() as usize;
                        self.bucket_mut(b).put(s, v);
                        return (b, s);
                    }
                }
                None => {
                    let idx = match self.over_free.pop() {
                        Some(i) => i,
                        None => {
                            self.over.push(Bucket::default());
                            self.over_prev.push(0);
                            (self.over.len() - 1) as u32
                        }
                    };
                    self.bucket_mut(b).set_link(idx + 1);
                    self.over_prev[idx as usize] = b;
                    let n = OVER_FLAG | idx;
                    self.bucket_mut(n).put(0, v);
                    return (n, 0);
                }
            }
        }
    }

    /// Move the value just chained at overflow slot (`b`, `s`) for `hash`
    /// (both its homes full) into a home slot, by moving one item of those
    /// homes to its other home when that has room (`rehash` gives a slot
    /// value's key hash). Returns the value's new position, or `None` when
    /// no item of either home can move. Under eviction churn most inserts
    /// that find both homes full can be placed so: an overflow bucket costs
    /// 64 bytes for an item or two.
    #[cold]
    #[inline(never)]
    fn rehome(
        &mut self,
        hash: u64,
        (b, s): (u32, usize),
        rehash: &mut dyn FnMut(u64) -> u64,
    ) -> Option<(u32, usize)> {
        let (h1, h2) = self.homes(hash);
        for home in [h1, h2] {
            for hs in 0..SLOTS {
                let v = self.main[home as usize].get(hs);
                if v == 0 {
                    continue;
                }
                let (a1, a2) = self.homes(rehash(v));
                let alt = if a1 == home { a2 } else { a1 };
                let empty = self.main[alt as usize].with_tag(0);
                if alt == home || empty == 0 {
                    continue;
                }
                self.main[alt as usize].put(empty.trailing_zeros() as usize, v);
                let moved = self.bucket(b).get(s);
                self.main[home as usize].put(hs, moved);
                self.clear(b, s);
                return Some((home, hs));
            }
        }
        None
    }

    /// Every occupied slot value.
    #[cfg(test)]
    fn values(&self) -> impl Iterator<Item = u64> + '_ {
        self.main
            .iter()
            .chain(self.over.iter())
            .flat_map(|b| (0..SLOTS).map(move |s| b.get(s)))
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
/// writing 100 MB at once is not), then it becomes the current table, where
/// new keys go, and the old one is drained a few home buckets at a time
/// ([`HashTable::drain_next`]; the engine reads the keys back to hash
/// them). Until then a lookup that misses in the current table looks in
/// the old one (a key is in exactly one of them). Bucket references carry
/// [`OLD_FLAG`] when they are in the old table.
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
        self.items * 10 > self.cur.len() * GROW_LOAD_10THS
            && self.cur.len() < MAX_BUCKETS
            && !self.growing()
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
            out.extend((0..SLOTS).map(|s| bk.get(s)).filter(|&v| v != 0));
            *bk = Bucket::default();
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
        self.cur.insert(hash, v);
    }

    /// The slot of `hash`'s item for which `is_key` holds (given each
    /// candidate slot value: same tag), with its value.
    #[inline(always)]
    pub fn find(&self, hash: u64, mut is_key: impl FnMut(u64) -> bool) -> Option<(Loc, u64)> {
        if let Some((b, s, v)) = self.cur.find(hash, &mut is_key) {
            return Some((Self::loc(b, s), v));
        }
        let o = self.old.as_ref()?;
        Self::find_old(&o.t, hash, &mut is_key)
    }

    /// The first home bucket of `hash` in the current table, with its
    /// reference: a lookup's hot path scans it and then [`HashTable::home2`]
    /// itself (the key comparison inlined, not behind a closure call), then
    /// calls [`HashTable::find_rest`] if [`HashTable::look_further`] says so.
    #[inline(always)]
    pub fn home1(&self, hash: u64) -> (&Bucket, u32) {
        let h = ((hash & 0xffff_ffff) * self.cur.n) >> 32;
        (&self.cur.main[h as usize], h as u32)
    }

    /// The second home bucket of `hash` (see [`HashTable::home1`]).
    #[inline(always)]
    pub fn home2(&self, hash: u64) -> (&Bucket, u32) {
        let h = (((hash >> 24) & 0xffff_ffff) * self.cur.n) >> 32;
        (&self.cur.main[h as usize], h as u32)
    }

    /// Whether a lookup that missed in both homes (`first` = `h1`) must
    /// look further: `h1` has an overflow chain, or a growth's old table
    /// is still draining.
    #[inline(always)]
    pub fn look_further(&self, first: &Bucket) -> bool {
        first.link() != 0 || self.old.is_some()
    }

    /// [`HashTable::find`] past the current table's two homes: `h1`'s
    /// overflow chain, then the old table of a growth.
    pub fn find_rest(&self, hash: u64, mut is_key: impl FnMut(u64) -> bool) -> Option<(Loc, u64)> {
        let (h1, _) = self.cur.homes(hash);
        if let Some((b, s, v)) = self.cur.find_chained(h1, tag_of(hash), &mut is_key) {
            return Some((Self::loc(b, s), v));
        }
        let o = self.old.as_ref()?;
        Self::find_old(&o.t, hash, &mut is_key)
    }

    /// [`HashTable::find`] in the old table of a growth (out of line).
    #[inline(never)]
    fn find_old(t: &Table, hash: u64, is_key: &mut impl FnMut(u64) -> bool) -> Option<(Loc, u64)> {
        let (b, s, v) = t.find(hash, is_key)?;
        Some((Self::loc(b | OLD_FLAG, s), v))
    }

    #[inline(always)]
    fn table_mut(&mut self, b: u32) -> &mut Table {
        // The flag first: it is in a register, the old table behind a load.
        if b & OLD_FLAG != 0 {
            if let Some(o) = &mut self.old {
                return &mut o.t;
            }
        }
        &mut self.cur
    }

    #[inline(always)]
    fn table(&self, b: u32) -> &Table {
        if b & OLD_FLAG != 0 {
            if let Some(o) = &self.old {
                return &o.t;
            }
        }
        &self.cur
    }

    #[inline(always)]
    fn bucket_mut(&mut self, b: u32) -> &mut Bucket {
        self.table_mut(b).bucket_mut(b & !OLD_FLAG)
    }

    #[inline(always)]
    pub fn loc(bucket: u32, slot: usize) -> Loc {
        Loc {
            bucket,
            slot: slot as u8,
        }
    }

    #[inline(always)]
    pub fn get(&self, loc: Loc) -> u64 {
        self.table(loc.bucket)
            .bucket(loc.bucket & !OLD_FLAG)
            .get(loc.slot as usize)
    }

    #[inline(always)]
    pub fn set(&mut self, loc: Loc, v: u64) {
        self.bucket_mut(loc.bucket).put(loc.slot as usize, v);
    }

    /// Empty a slot, keeping the chain short: the last item of the chain's
    /// last bucket moves into the freed slot (so any other `Loc` held in
    /// this chain is stale afterwards), and an overflow bucket left empty is
    /// unlinked and kept for reuse. Without this, items left in overflow
    /// buckets as home slots free up make chains only ever grow under churn.
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
        // The frequency is the high nibble of the entry's fifth byte.
        let at = ENTRIES_AT + 5 * loc.slot as usize + 4;
        let b = &mut self.bucket_mut(loc.bucket).0[at];
        if *b >> 4 < FREQ_MAX {
            *b += 0x10;
        }
    }

    /// [`HashTable::bump`] of a slot in a home bucket of the current table
    /// (as [`HashTable::home1`] and [`HashTable::home2`] give): no table
    /// or overflow choice on a read's hot path.
    #[inline(always)]
    pub fn bump_home(&mut self, loc: Loc) {
        debug_assert_eq!(loc.bucket & (OLD_FLAG | OVER_FLAG), 0);
        let at = ENTRIES_AT + 5 * loc.slot as usize + 4;
        let b = &mut self.cur.main[loc.bucket as usize].0[at];
        if *b >> 4 < FREQ_MAX {
            *b += 0x10;
        }
    }

    /// Point the slot at `loc` at a new version of its item (same key, so
    /// same tag) at `addr`, keeping the larger of its frequency and `freq`.
    /// One bucket resolution for the read and the write.
    #[inline(always)]
    pub fn repoint(&mut self, loc: Loc, addr: u64, freq: u8) {
        let bk = self.bucket_mut(loc.bucket);
        let s = loc.slot as usize;
        let v = bk.get(s);
        bk.put(s, pack(slot_tag(v), addr, slot_freq(v).max(freq)));
    }

    /// Insert a slot value for `hash` (into the current table).
    #[inline]
    pub fn insert(&mut self, hash: u64, v: u64) -> Loc {
        let (b, s) = self.cur.insert(hash, v);
        self.items += 1;
        Self::loc(b, s)
    }

    /// Whether `loc` (as [`HashTable::insert`] gave it) is in an overflow
    /// bucket: both homes were full.
    #[inline(always)]
    pub fn overflowed(loc: Loc) -> bool {
        loc.bucket & OVER_FLAG != 0
    }

    /// Move the value [`HashTable::insert`] put in overflow slot `loc` for
    /// `hash` into one of its homes if an item there can move to its other
    /// home (see `Table::rehome`); true when it did (other `Loc`s into the
    /// current table may be stale then).
    pub fn rehome(&mut self, hash: u64, loc: Loc, mut rehash: impl FnMut(u64) -> u64) -> bool {
        debug_assert!(Self::overflowed(loc) && loc.bucket & OLD_FLAG == 0);
        self.cur
            .rehome(hash, (loc.bucket, loc.slot as usize), &mut rehash)
            .is_some()
    }

    /// The slot holding exactly `addr` for `hash`.
    pub fn find_exact(&self, hash: u64, addr: u64) -> Option<Loc> {
        self.find(hash, |v| slot_addr(v) == addr)
            .map(|(loc, _)| loc)
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
        let v = pack(0xab, (12_345 << 20) | 1_000_000, 9);
        assert_eq!(slot_tag(v), 0xab);
        assert_eq!(slot_addr(v), (12_345 << 20) | 1_000_000);
        assert_eq!(slot_freq(v), 9);
        assert_eq!(tag_of(0), 1, "tag never 0");
        let mut b = Bucket::default();
        b.set_link(0xdead_beef);
        let w = pack(0xff, ADDR_MASK, 15);
        for s in 0..SLOTS {
            b.put(s, w - s as u64);
        }
        for s in 0..SLOTS {
            assert_eq!(b.get(s), w - s as u64, "slot {s}");
        }
        assert_eq!(b.link(), 0xdead_beef, "entries leave the link alone");
        b.put(9, 0);
        b.put(0, 0);
        assert_eq!((b.load(), b.with_tag(0)), (8, 0b10_0000_0001));
        assert_eq!(b.with_tag(0xff), 0b01_1111_1110);
    }

    #[test]
    fn tags_are_matched_in_every_slot() {
        let mut b = Bucket::default();
        for s in 0..SLOTS {
            b.put(s, pack(s as u64 + 1, s as u64, 0));
        }
        for s in 0..SLOTS {
            assert_eq!(b.with_tag(s as u64 + 1), 1 << s);
            let m = b.matches(s as u64 + 1);
            assert_eq!(m.count_ones(), 1);
            assert_eq!(match_slot(m), s);
        }
        assert_eq!(b.matches(0x80), 0);
        assert_eq!(b.with_tag(0x80), 0);
        assert_eq!(b.with_tag(0), 0);
    }

    /// A hash whose two homes in a table of 2 buckets are both bucket 0,
    /// with tag `t`.
    fn crowded(t: u64) -> u64 {
        (t << 56) | 2
    }

    /// A hash with homes `h1`, `h2` in a table of 4 buckets, tag `t`.
    fn homed(h1: u64, h2: u64, t: u64) -> u64 {
        (t << 56) | (h2 << 54) | (h1 << 30)
    }

    #[test]
    fn an_insert_into_full_homes_moves_an_item_to_its_other_home() {
        use std::collections::HashMap;
        let mut t = HashTable::new(4);
        let mut hash_of = HashMap::new();
        let add = |t: &mut HashTable, map: &mut HashMap<u64, u64>, h: u64, i: u64| {
            let v = pack(tag_of(h), i, 0);
            map.insert(v, h);
            (v, t.insert(h, v))
        };
        // Bucket 0: one item that may also live in bucket 2, then nine
        // whose only home is bucket 0.
        let (mover, _) = add(&mut t, &mut hash_of, homed(0, 2, 7), 100);
        for i in 0..9 {
            add(&mut t, &mut hash_of, homed(0, 0, 1 + i), i);
        }
        let (x, loc) = add(&mut t, &mut hash_of, homed(0, 0, 50), 50);
        assert!(HashTable::overflowed(loc), "both homes full: chained");
        assert!(t.rehome(homed(0, 0, 50), loc, |v| hash_of[&v]));
        assert_eq!(t.overflow_in_use(), 0, "the chain is gone");
        let at = t.find_exact(homed(0, 0, 50), 50).expect("indexed");
        assert!(!HashTable::overflowed(at) && t.get(at) == x);
        let at = t.find_exact(homed(0, 2, 7), 100).expect("moved, indexed");
        assert_eq!((at.bucket, t.get(at)), (2, mover));
        // Nothing left in bucket 0 can move: the next one stays chained.
        let (_, loc) = add(&mut t, &mut hash_of, homed(0, 0, 60), 60);
        assert!(!t.rehome(homed(0, 0, 60), loc, |v| hash_of[&v]));
        assert_eq!(t.find_exact(homed(0, 0, 60), 60), Some(loc));
        assert_eq!(
            (t.items, t.values().count(), t.overflow_in_use()),
            (12, 12, 1)
        );
    }

    #[test]
    fn overflow_chains_hold_any_number_of_slots() {
        let mut t = HashTable::new(2);
        let mut locs = Vec::new();
        for i in 0..100u64 {
            let h = crowded(1 + i % 200);
            locs.push((h, t.insert(h, pack(tag_of(h), i, 0))));
        }
        assert_eq!(t.items, 100);
        for (i, &(h, loc)) in locs.iter().enumerate() {
            assert_eq!(t.find_exact(h, i as u64), Some(loc));
        }
        let take = |t: &mut HashTable, i: usize| {
            let (h, _) = locs[i];
            let loc = t.find_exact(h, i as u64).expect("present");
            t.clear(loc);
            assert_eq!(t.find_exact(h, i as u64), None);
        };
        take(&mut t, 3);
        assert_eq!(t.values().count(), 99);
        // Removals pull the chain's last item forward: 85 items keep the home
        // bucket and 8 overflow buckets (10 + 7 * 10 + 5); 1 is freed.
        for i in 7..21 {
            take(&mut t, i);
        }
        assert_eq!(
            (t.items, t.cur.over.len(), t.cur.over_free.len()),
            (85, 9, 1)
        );
        for i in (0..100).filter(|&i| i != 3 && !(7..21).contains(&i)) {
            assert!(
                t.find_exact(locs[i].0, i as u64).is_some(),
                "{i} still chained"
            );
        }
        for i in 0..15u64 {
            let h = crowded(1 + i);
            t.insert(h, pack(tag_of(h), 1000 + i, 0));
        }
        assert_eq!(t.cur.over.len(), 9, "freed buckets reused");
        for i in 0..15u64 {
            let h = crowded(1 + i);
            assert!(t.find_exact(h, 1000 + i).is_some());
        }
        // clear_in_place moves nothing; an emptied overflow bucket still goes.
        let last = locs[99].0;
        let l99 = t.find_exact(last, 99).unwrap();
        let l98 = t.find_exact(locs[98].0, 98).unwrap();
        t.clear_in_place(l98);
        assert_eq!(t.find_exact(last, 99), Some(l99));
        assert_eq!(t.values().count(), t.items);
    }

    #[test]
    fn two_choices_fill_nine_tenths_of_the_slots_with_few_overflows() {
        let n = 10_000;
        let mut t = HashTable::new(n);
        let mut h = 0x1234_5678_9abc_def0u64;
        for i in 0..n * 9 {
            h = hash_key(h, &(i as u64).to_le_bytes());
            t.insert(h, pack(tag_of(h), i as u64, 0));
        }
        // ~0.3% of 90,000 inserts find both homes full (one overflow
        // bucket each, mostly).
        let over = t.overflow_in_use();
        assert!(over * 200 < n * 9, "{over} overflow buckets");
        assert!(!t.wants_growth());
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
