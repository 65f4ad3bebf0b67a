//! The engine state behind the lock and the semantics of each operation.
//! Everything here runs with the `Seg` mutex held.

use crate::hashtable::{
    hash_key, key_eq, match_slot, pack, slot_freq, tag_of, Bucket, HashTable, Loc, MAX_BUCKETS,
    TARGET_LOAD_10THS,
};
use crate::item::{self, Header, A_FETCHED, A_STALE, A_TIME, A_WON};
use crate::segment::Segments;
use crate::stats::{Counters, Gone};
use crate::ttl::{self, TtlBuckets};
use storage::{
    ArithOptions, ArithResult, DeleteOptions, Error, GetOptions, ItemInfo, Stats, StoreMode,
    StoreOptions,
};

/// Home buckets of a new engine's table.
const INITIAL_BUCKETS: usize = 4096;
/// A growth at most multiplies the bucket count by this (an early estimate
/// of the item size can be far off) ...
const MAX_GROWTH: usize = 8;
/// ... and at least by 3/2.
const MIN_GROWTH_NUM: usize = 3;

/// New-table buckets written per operation while a growth prepares it
/// (16 KiB).
const PREPARE_STEP: usize = 256;
/// Old-table home buckets moved per operation while a growth drains it.
const DRAIN_STEP: usize = 2;

/// Delayed flushes remembered at once (more are folded into the latest).
pub(crate) const MAX_PENDING: usize = 8;

/// A live item found by a lookup.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Found {
    pub loc: Loc,
    pub seg: u32,
    pub off: usize,
    pub hdr: Header,
}

/// Engine state.
pub(crate) struct Inner {
    pub segs: Segments,
    pub ttl: TtlBuckets,
    pub table: HashTable,
    pub seed: u64,
    pub item_size_max: usize,
    pub memory_limit: u64,
    /// The next cas handed out.
    pub cas_next: u64,
    /// Items with a cas below this are flushed.
    pub flush_cas: u64,
    /// Set when a flush watermark moved and whole segments may be sweepable.
    pub sweep_needed: bool,
    pub pending: Vec<i64>,
    pub pending_min: i64,
    /// Earliest time a TTL bucket's head segment may expire.
    pub next_expire: i64,
    /// [`Inner::tick`]'s one test: the earliest `now` at which housekeeping
    /// is due (`pending_min`, `next_expire`), or `i64::MIN` while a sweep or
    /// a growth is in progress or the time base is unset. Lowered wherever
    /// one of those is set, recomputed after housekeeping.
    pub due: i64,
    /// The `now` of the operation in progress.
    pub now: i64,
    /// `now` as an access-word time (see [`Inner::clock`]), computed when
    /// `now` moves rather than by every access.
    pub access_now: u32,
    /// Last-access times are stored as seconds after this (set from the
    /// first `now` seen, minus 2^28 s: about 8.5 years either side fit).
    pub time_base: i64,
    /// Bumped whenever items other than the one an operation works on may
    /// have moved or left the index (eviction, expiry, merge, rehash).
    pub epoch: u64,
    pub counters: Counters,
    /// Reused buffers (no allocation per operation).
    pub scratch: Vec<u8>,
    pub merge_buf: Vec<crate::eviction::MergeItem>,
    /// Slot values of the old table's bucket being moved (table growth).
    pub drain_buf: Vec<u64>,
    /// Told of each live item evicted (see [`crate::Seg::set_eviction_hook`]).
    pub evict_hook: Option<storage::EvictionHook>,
}

impl Inner {
    pub fn new(segs: Segments, seed: u64, item_size_max: usize, memory_limit: u64) -> Inner {
        let merge_buf = crate::eviction::merge_buffer(segs.seg_size);
        Inner {
            segs,
            ttl: TtlBuckets::new(),
            table: HashTable::new(INITIAL_BUCKETS),
            seed,
            item_size_max,
            memory_limit,
            cas_next: 1,
            flush_cas: 0,
            sweep_needed: false,
            pending: Vec::with_capacity(MAX_PENDING),
            pending_min: i64::MAX,
            next_expire: i64::MAX,
            due: i64::MIN,
            now: i64::MIN,
            access_now: 0,
            time_base: i64::MIN,
            epoch: 0,
            counters: Counters::default(),
            scratch: Vec::new(),
            merge_buf,
            drain_buf: Vec::new(),
            evict_hook: None,
        }
    }

    /// Housekeeping at the start of every operation: due flushes and
    /// proactive expiry of whole segments. One compare when idle.
    #[inline(always)]
    pub fn tick(&mut self, now: i64) {
        if now != self.now {
            self.now = now;
            self.access_now = self.clock(now);
        }
        if now >= self.due {
            self.housekeeping(now);
        }
    }

    /// What [`Inner::tick`] found due (every operation while a table
    /// growth is in progress).
    #[inline(never)]
    fn housekeeping(&mut self, now: i64) {
        if self.time_base == i64::MIN {
            self.time_base = now.saturating_sub(1 << 28).max(i64::MIN + 1);
            self.access_now = self.clock(now);
        }
        if now >= self.pending_min {
            self.flush_due(now);
        }
        if self.sweep_needed {
            self.flush_sweep();
        }
        if now >= self.next_expire {
            self.expire_heads(now);
        }
        if self.table.growing() {
            self.grow_step();
        }
        self.update_due();
    }

    /// Recompute [`Inner::due`] from what it stands for.
    fn update_due(&mut self) {
        self.due = if self.sweep_needed || self.table.growing() || self.time_base == i64::MIN {
            i64::MIN
        } else {
            self.pending_min.min(self.next_expire)
        };
    }

    /// An item expiring at `t` was written: its segment may expire then.
    #[inline]
    fn expires_at(&mut self, t: i64) {
        self.next_expire = self.next_expire.min(t);
        self.due = self.due.min(t);
    }

    // ---- lookups --------------------------------------------------------

    /// The indexed item for `key` (live or not).
    #[inline(always)]
    pub fn find(&self, key: &[u8], hash: u64) -> Option<Found> {
        let (loc, seg, off) = self.find_slot(key, hash)?;
        Some(self.found_at(loc, seg, off))
    }

    /// [`Inner::find_slot`] in the two home buckets only (nearly every
    /// lookup); `Err(true)` when the key may still be further (the first
    /// home has an overflow chain, or a growth's old table is draining:
    /// see [`Inner::find_slot_rest`]).
    #[inline(always)]
    fn find_home(&self, key: &[u8], hash: u64) -> Result<(Loc, u32, usize), bool> {
        let tag = tag_of(hash);
        let (b1, r1) = self.table.home1(hash);
        if let Some(x) = self.scan(b1, r1, tag, key) {
            return Ok(x);
        }
        let (b2, r2) = self.table.home2(hash);
        match self.scan(b2, r2, tag, key) {
            Some(x) => Ok(x),
            None => Err(self.table.look_further(b1)),
        }
    }

    /// Where `key`'s indexed item is: its slot, segment and offset. The
    /// header is decoded by [`Inner::found_at`] once this has returned: a
    /// decoded header moved out through an `Option` is copied on the stack
    /// field by field (its bools are the `Option`'s niche), three plain
    /// integers stay in registers.
    #[inline(always)]
    fn find_slot(&self, key: &[u8], hash: u64) -> Option<(Loc, u32, usize)> {
        match self.find_home(key, hash) {
            Ok(x) => Some(x),
            Err(false) => None,
            Err(true) => self.find_slot_rest(key, hash),
        }
    }

    /// The slot of home bucket `b` (reference `r`) holding `key`.
    #[inline(always)]
    fn scan(&self, b: &Bucket, r: u32, tag: u64, key: &[u8]) -> Option<(Loc, u32, usize)> {
        // One match word, no gathering into a slot mask (see
        // `Bucket::matches`).
        let mut m = b.matches(tag);
        while m != 0 {
            let s = match_slot(m);
            let a = b.addr(s);
            if self.holds_key(a, key) {
                return Some((
                    HashTable::loc(r, s),
                    self.segs.seg_of(a),
                    self.segs.off_of(a),
                ));
            }
            m &= m - 1;
        }
        None
    }

    /// [`Inner::find_slot`] past the two homes (an overflow chain, or the
    /// old table of a growth): out of line.
    #[inline(never)]
    fn find_slot_rest(&self, key: &[u8], hash: u64) -> Option<(Loc, u32, usize)> {
        let (loc, v) = self.table.find_rest(hash, |v| self.holds_key(v, key))?;
        Some((loc, self.segs.seg_of(v), self.segs.off_of(v)))
    }

    /// Whether the index slot value or address `v` (its tag matched)
    /// points at `key`.
    #[inline(always)]
    fn holds_key(&self, v: u64, key: &[u8]) -> bool {
        let segs = &self.segs;
        let data = &segs.data[segs.seg_of(v) as usize][segs.off_of(v)..];
        if data[1] as usize != key.len() {
            return false;
        }
        let hl = item::header_len_from_ctrl(data[0]);
        key_eq(&data[hl..hl + key.len()], key)
    }

    /// The item at (seg, off), indexed at `loc`, with its header decoded.
    #[inline(always)]
    fn found_at(&self, loc: Loc, seg: u32, off: usize) -> Found {
        let data = &self.segs.data[seg as usize][off..];
        let hdr = item::read_header(data, self.segs.bases(seg));
        Found { loc, seg, off, hdr }
    }

    /// The live item for `key`; a dead one found is reclaimed (expired).
    #[inline(always)]
    pub fn find_live(&mut self, key: &[u8], hash: u64, now: i64) -> Option<Found> {
        let f = self.find(key, hash)?;
        if f.hdr.live(now, self.flush_cas) {
            return Some(f);
        }
        self.reclaim_expired(f.loc, f.seg, f.off);
        None
    }

    /// Drop an item found expired or flushed (out of the lookup's hot path).
    /// Its header is read again here: handing over the decoded one would
    /// make the lookup keep it in memory on the hot path too.
    #[cold]
    #[inline(never)]
    fn reclaim_expired(&mut self, loc: Loc, seg: u32, off: usize) {
        let f = self.found_at(loc, seg, off);
        self.unlink(&f);
        let flushed = f.hdr.cas < self.flush_cas;
        self.counters.reclaimed(Gone::Access, flushed);
    }

    /// Drop an indexed item: clear its slot, mark it dead, fix accounting.
    pub fn unlink(&mut self, f: &Found) {
        self.table.clear(f.loc);
        self.retire(f.seg, f.off, f.hdr.total());
    }

    /// Mark the item of `size` bytes at (seg, off), which no slot points at
    /// any more, dead and fix accounting. Three integers, not a `Found`: a
    /// reference would make an overwrite keep the whole decoded lookup in
    /// memory.
    #[inline]
    fn retire(&mut self, seg: u32, off: usize, size: usize) {
        item::mark_dead(&mut self.segs.data[seg as usize][off..]);
        let m = &mut self.segs.meta[seg as usize];
        m.live_items -= 1;
        m.live_bytes -= size;
        self.counters.curr_items -= 1;
        self.counters.bytes -= size as u64;
    }

    /// The value bytes of a found item.
    #[inline]
    pub fn value(&self, f: &Found) -> &[u8] {
        let (at, len) = f.hdr.value_at();
        let start = f.off + at;
        &self.segs.data[f.seg as usize][start..start + len]
    }

    // ---- access word ----------------------------------------------------

    /// The access word of a fresh version stored at `now` (the operation's
    /// own) carrying `bits`.
    #[inline]
    fn access_word(&self, bits: u32, now: i64) -> u32 {
        debug_assert_eq!(now, self.now);
        (bits & !A_TIME) | self.access_now
    }

    /// `now` as an access-word time: seconds after the time base, clamped.
    fn clock(&self, now: i64) -> u32 {
        now.saturating_sub(self.time_base)
            .clamp(0, i64::from(A_TIME)) as u32
    }

    /// The last-access time recorded in an access word.
    #[inline]
    fn access_time(&self, access: u32) -> i64 {
        self.time_base + i64::from(access & A_TIME)
    }

    /// Record a read or touch of `f` at `now` (recency, fetched, last
    /// access), also setting `extra` bits (with `bump` false only those),
    /// and lend its value: one walk to the item's bytes for both.
    /// `Err(access word)` when the item's short access word cannot hold
    /// `now` (its segment is over 2.3 hours old): the item must move, see
    /// [`Inner::read_moved`].
    #[inline(always)]
    fn read_value(
        &mut self,
        f: &Found,
        now: i64,
        extra: u32,
        bump: bool,
        home: bool,
    ) -> Result<&[u8], u32> {
        let old = f.hdr.access;
        let mut acc = old | extra;
        if bump {
            acc = self.access_word(acc | A_FETCHED, now);
            if home {
                self.table.bump_home(f.loc);
            } else {
                self.table.bump(f.loc);
            }
        }
        let item = &mut self.segs.data[f.seg as usize][f.off..];
        if acc != old && !item::set_access(item, acc, f.hdr.access_base) {
            return Err(acc);
        }
        let (at, len) = f.hdr.value_at();
        Ok(&item[at..at + len])
    }

    /// A read whose access word does not fit its item where it lies: the
    /// item is copied forward (same cas, flags, exptime; the new access
    /// word) into its TTL bucket's tail segment, as a touch past its
    /// segment's expiry copies it, and the value served from the copy
    /// taken first. Should there be no room at all, the item keeps its
    /// place and the latest time its word can hold.
    /// The item is named by (loc, seg, off) and its header read again
    /// here: a decoded header handed over would be kept in memory on the
    /// read's hot path too.
    #[allow(clippy::too_many_arguments)]
    #[cold]
    #[inline(never)]
    fn read_moved<R>(
        &mut self,
        key: &[u8],
        hash: u64,
        loc: Loc,
        seg: u32,
        off: usize,
        access: u32,
        info: &ItemInfo,
        serve: impl FnOnce(&ItemInfo, &[u8]) -> R,
    ) -> R {
        let f = self.found_at(loc, seg, off);
        let mut value = std::mem::take(&mut self.scratch);
        value.clear();
        value.extend_from_slice(self.value(&f));
        let freq = slot_freq(self.table.get(f.loc));
        let (flags, exp, cas) = (f.hdr.flags, f.hdr.exptime, f.hdr.cas);
        let epoch = self.epoch;
        let r = self.write_item(
            key,
            hash,
            &value,
            &[],
            flags,
            exp,
            cas,
            access,
            Some(f),
            freq,
        );
        if r.is_err() && self.epoch == epoch {
            let base = self.segs.meta[f.seg as usize].access_base;
            let latest = (access & !A_TIME) | (base + item::SHORT_TIME).min(A_TIME);
            let item = &mut self.segs.data[f.seg as usize][f.off..];
            item::set_access(item, latest, base);
        }
        let out = serve(info, &value);
        self.scratch = value;
        out
    }

    // ---- writes ---------------------------------------------------------

    /// [`Inner::write_item_inline`] out of line, for the paths other than a
    /// plain store (append/prepend, rewrites, vivify, incr that cannot stay
    /// in place): one copy of the code for all of them.
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    fn write_item(
        &mut self,
        key: &[u8],
        hash: u64,
        a: &[u8],
        b: &[u8],
        flags: u32,
        exptime: u32,
        cas: u64,
        access: u32,
        hint: Option<Found>,
        freq: u8,
    ) -> Result<(), Error> {
        self.write_item_inline(key, hash, a, b, flags, exptime, cas, access, hint, freq)
    }

    /// Write a new version of `key` (value = `a` then `b`) and point the
    /// index at it, replacing whatever version is indexed then. `hint` is
    /// the version found before, valid while `epoch` is unchanged. Inlined
    /// into the plain store: no call with a dozen arguments, and the
    /// lookup's result stays in registers.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn write_item_inline(
        &mut self,
        key: &[u8],
        hash: u64,
        a: &[u8],
        b: &[u8],
        flags: u32,
        exptime: u32,
        cas: u64,
        access: u32,
        hint: Option<Found>,
        freq: u8,
    ) -> Result<(), Error> {
        let epoch = self.epoch;
        let vlen = a.len() + b.len();
        let bucket = ttl::bucket_index(exptime, self.now);
        let (seg, off, ctrl) =
            self.reserve(bucket, key.len(), vlen, flags, exptime, cas, access)?;
        let hlen = item::header_len_from_ctrl(ctrl);
        let old = if self.epoch == epoch {
            hint
        } else {
            self.find(key, hash)
        };
        // The index and the accounting first, the bytes last: nothing of
        // the lookup is live across the value's copy (a memcpy call).
        let size = hlen + key.len() + vlen;
        let m = &mut self.segs.meta[seg as usize];
        m.add_item(size, cas, exptime);
        let base = item::Bases {
            cas: m.base_cas,
            access: m.access_base,
        };
        if exptime != 0 {
            self.expires_at(i64::from(exptime));
        }
        match old {
            Some(o) => {
                // The new version takes the old one's slot.
                self.table.repoint(o.loc, self.segs.addr(seg, off), freq);
                self.retire(o.seg, o.off, o.hdr.total());
            }
            None => {
                let v = pack(tag_of(hash), self.segs.addr(seg, off), freq);
                let loc = self.table.insert(hash, v);
                if HashTable::overflowed(loc) {
                    self.rehome(hash, loc);
                }
                if self.table.wants_growth() {
                    self.grow();
                }
            }
        }
        self.counters.curr_items += 1;
        self.counters.bytes += size as u64;
        let buf = &mut self.segs.data[seg as usize][off..];
        let h = item::write_header_ctrl(
            buf,
            ctrl,
            key.len(),
            vlen,
            flags,
            exptime,
            cas,
            access,
            base,
        );
        debug_assert_eq!(h, hlen);
        let mut p = h;
        item::copy_key(&mut buf[p..], key);
        p += key.len();
        buf[p..p + a.len()].copy_from_slice(a);
        p += a.len();
        if !b.is_empty() {
            // (Only append/prepend have a second part: no memcpy call else.)
            buf[p..p + b.len()].copy_from_slice(b);
        }
        Ok(())
    }

    /// Rewrite `f` as a new version with the same key and value (copied
    /// through the scratch buffer) but other metadata, or with an empty
    /// value when `empty`. Keeps the slot's frequency.
    #[allow(clippy::too_many_arguments)]
    fn rewrite(
        &mut self,
        key: &[u8],
        hash: u64,
        f: Found,
        empty: bool,
        flags: u32,
        exptime: u32,
        cas: u64,
        access: u32,
    ) -> Result<(), Error> {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        if !empty {
            scratch.extend_from_slice(self.value(&f));
        }
        let freq = slot_freq(self.table.get(f.loc));
        let r = self.write_item(
            key,
            hash,
            &scratch,
            &[],
            flags,
            exptime,
            cas,
            access,
            Some(f),
            freq,
        );
        self.scratch = scratch;
        r
    }

    /// Make `v` (its digits padded with spaces to the item's value length),
    /// `exptime`, `cas` and `access` the new version of `f` where it lies,
    /// as memcached's incr does, when the digits fit and the header keeps
    /// its length: the same cas encoding, and an exptime unchanged or
    /// rewritable within the segment's expiry. Returns whether it was done
    /// (else nothing changed). The slot and its frequency stay; the old
    /// version's bytes are gone.
    #[inline(always)]
    fn replace_in_place(&mut self, f: &Found, v: u64, exptime: u32, cas: u64, access: u32) -> bool {
        let (at, vlen) = f.hdr.value_at();
        let n = crate::num::digit_count(v);
        let m = &self.segs.meta[f.seg as usize];
        let retime = exptime != f.hdr.exptime;
        if n > vlen
            || (retime && !(f.hdr.has_exp && exptime != 0 && i64::from(exptime) <= m.expire_at))
        {
            return false;
        }
        let (base, access_base) = (m.base_cas, m.access_base);
        let item = &mut self.segs.data[f.seg as usize][f.off..];
        if !item::access_fits_item(item, access, access_base)
            || !item::set_cas(item, &f.hdr, cas, base)
        {
            return false;
        }
        item::put_access(item, access, access_base);
        if retime {
            item::set_exptime(item, &f.hdr, exptime);
        }
        crate::num::write_padded(v, n, &mut item[at..at + vlen]);
        if retime {
            self.expires_at(i64::from(exptime));
        }
        let m = &mut self.segs.meta[f.seg as usize];
        m.max_cas = m.max_cas.max(cas);
        true
    }

    /// The cas for a new version: `given` (meta E) or the next one.
    #[inline]
    fn cas_for(&self, given: Option<u64>) -> u64 {
        given.unwrap_or(self.cas_next)
    }

    /// Account for a cas handed out by `cas_for`.
    #[inline]
    fn took_cas(&mut self, given: Option<u64>) {
        if given.is_none() {
            self.cas_next += 1;
        }
    }

    /// Inlined into its caller (the ffi export, or `Seg`): one frame
    /// instead of two, ~40 Ir less per set.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub fn store(
        &mut self,
        mode: StoreMode,
        key: &[u8],
        value: &[u8],
        flags: u32,
        exptime: i64,
        now: i64,
        opts: &StoreOptions,
    ) -> Result<u64, Error> {
        let hash = hash_key(self.seed, key);
        self.tick(now);
        let compare = opts.compare_cas;
        let old = self.find_live(key, hash, now);
        let mut flags = flags;
        let mut exptime = exptime;
        // Some: the stored exptime is taken from the old item as is.
        let mut keep_exp: Option<u32> = None;
        // Access bits the new version carries over (a stale store).
        let mut carry = 0u32;
        let mut combine = false;
        match mode {
            StoreMode::Set | StoreMode::Replace => match (compare, old) {
                (Some(_), None) => return Err(Error::NotFound),
                (Some(c), Some(o)) if o.hdr.cas != c => {
                    if !(opts.invalidate && c < o.hdr.cas) {
                        return Err(Error::Exists);
                    }
                    // An older writer under invalidation: stored, but stale,
                    // keeping the exptime and the win state.
                    keep_exp = Some(o.hdr.exptime);
                    carry = A_STALE | (o.hdr.access & A_WON);
                }
                (None, None) if mode == StoreMode::Replace => return Err(Error::NotStored),
                _ => {}
            },
            StoreMode::Add => {
                if let Some(o) = old {
                    self.table.bump(o.loc);
                    return Err(Error::NotStored);
                }
            }
            StoreMode::Append | StoreMode::Prepend => match old {
                None => match opts.vivify {
                    Some(v) => exptime = v,
                    None => return Err(Error::NotStored),
                },
                Some(o) => {
                    if compare.is_some_and(|c| c != o.hdr.cas) {
                        return Err(Error::Exists);
                    }
                    let combined = o.hdr.vlen as usize + value.len();
                    if storage::item_size(key.len(), o.hdr.flags, combined) > self.item_size_max {
                        return Err(Error::TooLarge);
                    }
                    flags = o.hdr.flags;
                    keep_exp = Some(o.hdr.exptime);
                    combine = true;
                }
            },
        }
        let cas = self.cas_for(opts.new_cas);
        let exp = match keep_exp.or_else(|| item::norm_exptime(exptime, now)) {
            Some(e) => e,
            None => {
                // Already expired: the store only removes the old item.
                if let Some(o) = old {
                    self.unlink(&o);
                }
                self.counters.total_items += 1;
                self.took_cas(opts.new_cas);
                return Ok(cas);
            }
        };
        let access = self.access_word(carry, now);
        match old {
            Some(o) if combine => {
                let append = mode == StoreMode::Append;
                self.write_combined(key, hash, o, value, append, flags, exp, cas, access)?;
            }
            _ => self.write_item_inline(key, hash, value, &[], flags, exp, cas, access, old, 0)?,
        }
        self.took_cas(opts.new_cas);
        self.counters.total_items += 1;
        Ok(cas)
    }

    /// Append (or prepend) `value` to the value of `o` as a new version.
    /// Out of line: the plain store keeps its registers.
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    fn write_combined(
        &mut self,
        key: &[u8],
        hash: u64,
        o: Found,
        value: &[u8],
        append: bool,
        flags: u32,
        exp: u32,
        cas: u64,
        access: u32,
    ) -> Result<(), Error> {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        scratch.extend_from_slice(self.value(&o));
        let (a, b) = if append {
            (&scratch[..], value)
        } else {
            (value, &scratch[..])
        };
        let r = self.write_item(key, hash, a, b, flags, exp, cas, access, Some(o), 0);
        self.scratch = scratch;
        r
    }

    /// A classic incr/decr (none of the meta options): [`Inner::arith`]
    /// compiled with the options known, so none is tested at run time.
    #[inline(never)]
    pub fn arith_classic(
        &mut self,
        key: &[u8],
        incr: bool,
        delta: u64,
        now: i64,
    ) -> Result<ArithResult, Error> {
        self.arith_inline(key, incr, delta, now, &ArithOptions::default())
    }

    /// An incr/decr with any options.
    #[inline(never)]
    pub fn arith(
        &mut self,
        key: &[u8],
        incr: bool,
        delta: u64,
        now: i64,
        opts: &ArithOptions,
    ) -> Result<ArithResult, Error> {
        self.arith_inline(key, incr, delta, now, opts)
    }

    #[inline(always)]
    fn arith_inline(
        &mut self,
        key: &[u8],
        incr: bool,
        delta: u64,
        now: i64,
        opts: &ArithOptions,
    ) -> Result<ArithResult, Error> {
        let hash = hash_key(self.seed, key);
        self.tick(now);
        // find_live spelt out: the header is decoded after the Option (see
        // find_slot).
        let o = match self.find_slot(key, hash) {
            Some((loc, seg, off)) => self.found_at(loc, seg, off),
            None => return self.arith_miss(key, hash, now, opts),
        };
        if !o.hdr.live(now, self.flush_cas) {
            self.reclaim_expired(o.loc, o.seg, o.off);
            return self.arith_miss(key, hash, now, opts);
        }
        // memcached refuses an empty value before it compares the cas
        if o.hdr.vlen == 0 {
            return Err(Error::NonNumeric);
        }
        if opts.compare_cas.is_some_and(|c| c != o.hdr.cas) {
            return Err(Error::Exists);
        }
        let v = crate::num::parse_u64(self.value(&o)).ok_or(Error::NonNumeric)?;
        let v = if incr {
            v.wrapping_add(delta)
        } else {
            v.saturating_sub(delta)
        };
        let cas = self.cas_for(opts.new_cas);
        let exp = match opts.touch {
            None => Some(o.hdr.exptime),
            Some(t) => item::norm_exptime(t, now),
        };
        let reported = exp.map_or_else(|| opts.touch.unwrap_or(0), i64::from);
        match exp {
            Some(exp) => {
                let access = self.access_word(0, now);
                if !self.replace_in_place(&o, v, exp, cas, access) {
                    self.arith_rewrite(key, hash, (o.loc, o.seg, o.off), v, exp, cas, access)?;
                }
            }
            // Touched into the past: the result is reported, then gone.
            None => self.drop_touched(o),
        }
        self.took_cas(opts.new_cas);
        Ok(ArithResult {
            value: v,
            cas,
            exptime: reported,
        })
    }

    /// An arith with no live item: `NotFound`, or with N a new one.
    #[inline(always)]
    fn arith_miss(
        &mut self,
        key: &[u8],
        hash: u64,
        now: i64,
        opts: &ArithOptions,
    ) -> Result<ArithResult, Error> {
        let vexp = opts.vivify.ok_or(Error::NotFound)?;
        self.arith_vivify(key, hash, now, vexp, opts)
    }

    /// An arith's new version where it cannot be written in place (a
    /// longer number, another cas width, a retime past the segment): `v`'s
    /// digits, padded with spaces to the old value's length (memcached's
    /// rule for a shorter number), as a new item. Out of line: the in-place
    /// path is the common one. The old item's header is decoded again
    /// here: handed over decoded, the hot path would have to decode (and
    /// keep) the fields only this needs (flags, access word).
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    fn arith_rewrite(
        &mut self,
        key: &[u8],
        hash: u64,
        (loc, seg, off): (Loc, u32, usize),
        v: u64,
        exp: u32,
        cas: u64,
        access: u32,
    ) -> Result<(), Error> {
        let o = self.found_at(loc, seg, off);
        let len = crate::num::digit_count(v).max(o.hdr.vlen as usize);
        let mut padded = std::mem::take(&mut self.scratch);
        padded.clear();
        padded.resize(len, b' ');
        crate::num::write_padded(v, crate::num::digit_count(v), &mut padded);
        let flags = o.hdr.flags;
        let r = self.write_item(key, hash, &padded, &[], flags, exp, cas, access, Some(o), 0);
        self.scratch = padded;
        r
    }

    /// An arith's miss with N: the item is created holding `initial` (no
    /// delta applied). Out of line, so the hit path keeps its registers.
    #[inline(never)]
    fn arith_vivify(
        &mut self,
        key: &[u8],
        hash: u64,
        now: i64,
        vexp: i64,
        opts: &ArithOptions,
    ) -> Result<ArithResult, Error> {
        let mut digits = [0u8; 20];
        let d = crate::num::format_u64(opts.initial, &mut digits);
        let cas = self.cas_for(opts.new_cas);
        let norm = item::norm_exptime(vexp, now);
        if let Some(exp) = norm {
            let access = self.access_word(0, now);
            self.write_item(key, hash, d, &[], 0, exp, cas, access, None, 0)?;
        }
        self.took_cas(opts.new_cas);
        self.counters.total_items += 1;
        Ok(ArithResult {
            value: opts.initial,
            cas,
            exptime: norm.map_or(vexp, i64::from),
        })
    }

    /// Remove an item an operation touched into the past, after serving it
    /// (out of line: rare).
    #[cold]
    #[inline(never)]
    fn drop_touched(&mut self, f: Found) {
        self.unlink(&f);
        self.counters.reclaimed(Gone::Access, false);
    }

    pub fn delete(&mut self, key: &[u8], now: i64, opts: &DeleteOptions) -> Result<(), Error> {
        let hash = hash_key(self.seed, key);
        self.tick(now);
        let f = self.find_live(key, hash, now).ok_or(Error::NotFound)?;
        if opts.compare_cas.is_some_and(|c| c != f.hdr.cas) {
            return Err(Error::Exists);
        }
        if !opts.invalidate && !opts.clear_value {
            self.unlink(&f);
            return Ok(());
        }
        let exp = match opts.touch {
            None => f.hdr.exptime,
            Some(t) => match item::norm_exptime(t, now) {
                Some(e) => e,
                None => {
                    self.drop_touched(f);
                    return Ok(());
                }
            },
        };
        let (flags, mut access, mut cas) = if opts.clear_value {
            // A new, empty version: fresh access state, the same cas.
            (
                0,
                self.access_word(0, now),
                opts.new_cas.unwrap_or(f.hdr.cas),
            )
        } else {
            (f.hdr.flags, f.hdr.access, f.hdr.cas)
        };
        if opts.invalidate {
            // Stale with a new cas; the next reader may win again.
            access = (access | A_STALE) & !A_WON;
            cas = self.cas_for(opts.new_cas);
            self.took_cas(opts.new_cas);
        }
        self.rewrite(key, hash, f, opts.clear_value, flags, exp, cas, access)
    }

    /// Give a live item a new exptime (already normalised, not past). Done in
    /// place when its segment outlives the new time; otherwise the item is
    /// copied (same cas) into the segment chain of its new TTL bucket.
    /// Returns the item's location afterwards.
    #[inline(never)]
    fn retime(&mut self, key: &[u8], hash: u64, f: Found, exp: u32) -> Result<Found, Error> {
        let seg_exp = self.segs.meta[f.seg as usize].expire_at;
        if f.hdr.has_exp && exp != 0 && i64::from(exp) <= seg_exp {
            let buf = &mut self.segs.data[f.seg as usize][f.off..];
            item::set_exptime(buf, &f.hdr, exp);
            self.expires_at(i64::from(exp));
            let mut f = f;
            f.hdr.exptime = exp;
            return Ok(f);
        }
        let (flags, cas, access) = (f.hdr.flags, f.hdr.cas, f.hdr.access);
        self.rewrite(key, hash, f, false, flags, exp, cas, access)?;
        Ok(self.find(key, hash).expect("just written"))
    }

    /// A read; classic reads (`no_win`) report the win state but never
    /// take the win. The plain read (no touch) stays in this function; a
    /// touch (gat, mg T) goes to [`Inner::get_touched`], out of line, so the
    /// hot path keeps its registers.
    /// Inlined into its caller (the ffi export, or `Seg`): one frame
    /// instead of two (hits -4 Ir, misses +4).
    #[inline(always)]
    pub fn get<R>(
        &mut self,
        key: &[u8],
        now: i64,
        opts: &GetOptions,
        f: impl FnOnce(&ItemInfo, &[u8]) -> R,
    ) -> Result<R, Error> {
        let hash = hash_key(self.seed, key);
        self.tick(now);
        // find_live spelt out: the header is decoded after the Option (see
        // find_slot), and a lookup past the home buckets is out of line
        // (no result merged from two paths through the stack).
        let found = match self.find_home(key, hash) {
            Ok((loc, seg, off)) => self.found_at(loc, seg, off),
            Err(false) => return self.get_miss(key, hash, now, opts, f),
            Err(true) => return self.get_further(key, hash, now, opts, f),
        };
        self.get_found(key, hash, now, opts, found, true, f)
    }

    /// [`Inner::get`] of a key not in its home buckets: in an overflow
    /// chain or a growth's old table, or a miss.
    #[inline(never)]
    fn get_further<R>(
        &mut self,
        key: &[u8],
        hash: u64,
        now: i64,
        opts: &GetOptions,
        f: impl FnOnce(&ItemInfo, &[u8]) -> R,
    ) -> Result<R, Error> {
        match self.find_slot_rest(key, hash) {
            Some((loc, seg, off)) => {
                let found = self.found_at(loc, seg, off);
                self.get_found(key, hash, now, opts, found, false, f)
            }
            None => self.get_miss(key, hash, now, opts, f),
        }
    }

    /// [`Inner::get`] of the indexed item `found` (`home`: in a home bucket
    /// of the current table, whose frequency is bumped without a table or
    /// overflow choice).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn get_found<R>(
        &mut self,
        key: &[u8],
        hash: u64,
        now: i64,
        opts: &GetOptions,
        found: Found,
        home: bool,
        f: impl FnOnce(&ItemInfo, &[u8]) -> R,
    ) -> Result<R, Error> {
        if !found.hdr.live(now, self.flush_cas) {
            self.reclaim_expired(found.loc, found.seg, found.off);
            return self.get_miss(key, hash, now, opts, f);
        }
        if let Some(t) = opts.touch {
            return self.get_touched(key, hash, now, t, found, opts, f);
        }
        let (info, extra) = self.read_info(&found, i64::from(found.hdr.exptime), now, opts);
        // The access is recorded before the caller's callback, not after:
        // nothing of the lookup is live across that call (no spills), and
        // the callback sees only `info` and the value, which it leaves alone.
        match self.read_value(&found, now, extra, !opts.no_bump, home) {
            Ok(value) => Ok(f(&info, value)),
            Err(acc) => {
                let (loc, seg, off) = (found.loc, found.seg, found.off);
                Ok(self.read_moved(key, hash, loc, seg, off, acc, &info, f))
            }
        }
    }

    /// [`Inner::get`] of a key with no live item: `NotFound`, or with
    /// vivify an empty item created and handed to `f`.
    #[inline(always)]
    fn get_miss<R>(
        &mut self,
        key: &[u8],
        hash: u64,
        now: i64,
        opts: &GetOptions,
        f: impl FnOnce(&ItemInfo, &[u8]) -> R,
    ) -> Result<R, Error> {
        let vexp = opts.vivify.ok_or(Error::NotFound)?;
        self.vivify(key, hash, now, vexp, opts, f)
    }

    /// [`Inner::get`] with a touch to `t`: the item is retimed first, or
    /// (a past time) served once and then removed.
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    fn get_touched<R>(
        &mut self,
        key: &[u8],
        hash: u64,
        now: i64,
        t: i64,
        found: Found,
        opts: &GetOptions,
        f: impl FnOnce(&ItemInfo, &[u8]) -> R,
    ) -> Result<R, Error> {
        let Some(exp) = item::norm_exptime(t, now) else {
            // gat with a past time: served once, then gone.
            let (info, _) = self.read_info(&found, t, now, opts);
            let r = f(&info, self.value(&found));
            self.drop_touched(found);
            return Ok(r);
        };
        let found = self.retime(key, hash, found, exp)?;
        let (info, extra) = self.read_info(&found, i64::from(exp), now, opts);
        match self.read_value(&found, now, extra, !opts.no_bump, false) {
            Ok(value) => Ok(f(&info, value)),
            Err(acc) => {
                let (loc, seg, off) = (found.loc, found.seg, found.off);
                Ok(self.read_moved(key, hash, loc, seg, off, acc, &info, f))
            }
        }
    }

    /// What a read of `found` reports (`exptime` as reported), and the
    /// access bits it sets (the win, when it takes one).
    #[inline(always)]
    fn read_info(
        &self,
        found: &Found,
        exptime: i64,
        now: i64,
        opts: &GetOptions,
    ) -> (ItemInfo, u32) {
        let acc = found.hdr.access;
        let win_taken = acc & A_WON != 0;
        let stale = acc & A_STALE != 0;
        let recache = opts
            .recache
            .is_some_and(|r| exptime != 0 && exptime - now < r);
        let win = !opts.no_win && !win_taken && (stale || recache);
        let info = ItemInfo {
            flags: found.hdr.flags,
            cas: found.hdr.cas,
            exptime,
            last_access: self.access_time(acc),
            fetched: acc & A_FETCHED != 0,
            stale,
            win,
            win_taken,
        };
        (info, if win { A_WON } else { 0 })
    }

    /// A meta get's miss with N: create an empty item and hand it, won, to
    /// `f`. An exptime already past creates nothing but still answers.
    #[inline(never)]
    fn vivify<R>(
        &mut self,
        key: &[u8],
        hash: u64,
        now: i64,
        vexp: i64,
        opts: &GetOptions,
        f: impl FnOnce(&ItemInfo, &[u8]) -> R,
    ) -> Result<R, Error> {
        let cas = self.cas_for(opts.new_cas);
        let norm = item::norm_exptime(vexp, now);
        if let Some(exp) = norm {
            // This read is the first access unless it asked for no bump.
            let bits = A_WON | if opts.no_bump { 0 } else { A_FETCHED };
            let access = self.access_word(bits, now);
            let freq = u8::from(!opts.no_bump);
            self.write_item(key, hash, &[], &[], 0, exp, cas, access, None, freq)?;
        }
        self.took_cas(opts.new_cas);
        self.counters.total_items += 1;
        let info = ItemInfo {
            flags: 0,
            cas,
            exptime: norm.map_or(vexp, i64::from),
            last_access: now,
            fetched: false,
            stale: false,
            win: true,
            win_taken: false,
        };
        Ok(f(&info, &[]))
    }

    // ---- flush ----------------------------------------------------------

    pub fn flush(&mut self, at: i64, now: i64) {
        self.tick(now);
        if at <= now {
            self.flush_cas = self.cas_next;
            self.flush_sweep();
            return;
        }
        if self.pending.contains(&at) {
            return;
        }
        if self.pending.len() < MAX_PENDING {
            self.pending.push(at);
        } else {
            // Full: fold into the latest one, taking the later time. This can
            // only delay a flush, never undo one.
            let last = self.pending.iter_mut().max().expect("non-empty");
            if at > *last {
                *last = at;
            }
        }
        self.pending_min = self.pending.iter().copied().min().unwrap_or(i64::MAX);
        self.update_due();
    }

    /// Turn delayed flushes whose time has come into the cas watermark:
    /// everything stored until now was stored before their time.
    fn flush_due(&mut self, now: i64) {
        self.flush_cas = self.cas_next;
        self.pending.retain(|&t| t > now);
        self.pending_min = self.pending.iter().copied().min().unwrap_or(i64::MAX);
        self.sweep_needed = true;
    }

    // ---- table growth ---------------------------------------------------

    /// Take a just-inserted index entry out of its overflow bucket when an
    /// item of its full homes can move to its own other home (keys are read
    /// back from the segments to find it): without this, eviction churn
    /// left 10% of the home buckets with a chain at -m 1024.
    #[cold]
    #[inline(never)]
    fn rehome(&mut self, hash: u64, loc: Loc) {
        let (segs, seed) = (&self.segs, self.seed);
        let moved = self
            .table
            .rehome(hash, loc, |v| indexed_key_hash(segs, seed, v));
        if moved {
            self.epoch += 1;
        }
    }

    /// Start resizing the hash table for the items the memory limit will
    /// hold at the average item size seen so far (at [`TARGET_LOAD_10THS`]
    /// per bucket, 1.5x to 8x the current size). The new table is written and
    /// the old one's items moved a little per operation
    /// ([`Inner::grow_step`]), so no operation pays for the whole table.
    /// With steady item sizes the table grows a few times while the cache
    /// fills, the last time well before it is full, and then fits: ~7.3
    /// bytes per item rather than up to twice that with doubling.
    fn grow(&mut self) {
        let want = self.table_buckets_for(self.table.items as u64, self.counters.bytes);
        let cur = self.table.buckets();
        let lo = cur * MIN_GROWTH_NUM / 2;
        let n = want.clamp(lo, cur * MAX_GROWTH).min(MAX_BUCKETS);
        self.table.begin_growth(n);
        self.due = i64::MIN;
        self.epoch += 1;
    }

    /// Home buckets for the items the segments will hold at the average
    /// size of `items` items of `bytes` in all, at [`TARGET_LOAD_10THS`]
    /// per bucket (at least [`INITIAL_BUCKETS`], at most [`MAX_BUCKETS`]).
    pub(crate) fn table_buckets_for(&self, items: u64, bytes: u64) -> usize {
        let memory = (self.segs.count() * self.segs.seg_size) as u64;
        let fit = u128::from(items) * u128::from(memory) / u128::from(bytes.max(1));
        let want = u64::try_from(fit)
            .unwrap_or(u64::MAX)
            .max(items)
            .saturating_mul(10)
            / TARGET_LOAD_10THS as u64;
        usize::try_from(want)
            .unwrap_or(usize::MAX)
            .clamp(INITIAL_BUCKETS, MAX_BUCKETS)
    }

    /// One step of a growth: write [`PREPARE_STEP`] buckets of the new
    /// table, or once it is complete move [`DRAIN_STEP`] home buckets of
    /// the old table into it, rehashing their keys read back from the
    /// segments. A growth by at least 1.5x is due again only after 4.95x
    /// the old bucket count in inserts (9.9 per bucket), while it takes
    /// at most ~0.53x in operations, so a growth always finishes first.
    #[cold]
    #[inline(never)]
    fn grow_step(&mut self) {
        if self.table.preparing() {
            if self.table.prepare_step(PREPARE_STEP) {
                self.epoch += 1;
            }
            return;
        }
        let mut moved = std::mem::take(&mut self.drain_buf);
        for _ in 0..DRAIN_STEP {
            if !self.table.drain_next(&mut moved) {
                break;
            }
            for &v in &moved {
                let hash = indexed_key_hash(&self.segs, self.seed, v);
                self.table.insert_moved(hash, v);
            }
        }
        self.drain_buf = moved;
    }

    pub fn stats(&mut self, now: i64) -> Stats {
        self.tick(now);
        let c = &self.counters;
        Stats {
            curr_items: c.curr_items,
            total_items: c.total_items,
            bytes: c.bytes,
            evictions: c.evictions,
            expired: c.expired,
            memory_used: self.segs.memory_used,
            memory_limit: self.memory_limit,
            hash_buckets: self.table.buckets() as u64,
        }
    }
}

#[cfg(test)]
impl Inner {
    /// Cross-check every counter and index entry against the segments.
    pub fn check_invariants(&self) {
        use crate::segment::State;
        let mut live_items = 0u64;
        let mut live_bytes = 0u64;
        let mut used = 0u64;
        for (id, m) in self.segs.meta.iter().enumerate() {
            used += self.segs.data[id].len() as u64;
            if m.state != State::Linked {
                assert!(
                    m.state == State::Free || m.state == State::Borrowed,
                    "{id}: {m:?}"
                );
                continue;
            }
            let data = &self.segs.data[id];
            let (mut off, mut n, mut bytes) = (0, 0u32, 0usize);
            while off < m.write_off {
                let h = item::read_header(&data[off..], self.segs.bases(id as u32));
                if !h.dead {
                    n += 1;
                    bytes += h.total();
                    let key = &data[off + h.key_at()..off + h.key_at() + h.klen as usize];
                    let f = self.find(key, hash_key(self.seed, key)).expect("indexed");
                    assert_eq!(
                        (f.seg, f.off),
                        (id as u32, off),
                        "index points at live copy"
                    );
                    assert!(h.cas <= m.max_cas);
                    if h.exptime != 0 {
                        assert!(i64::from(h.exptime) <= m.expire_at, "{id}: {h:?} {m:?}");
                    }
                }
                off += h.total();
            }
            assert_eq!(off, m.write_off);
            assert_eq!((n, bytes), (m.live_items, m.live_bytes), "segment {id}");
            live_items += u64::from(n);
            live_bytes += bytes as u64;
        }
        assert_eq!(self.table.items as u64, live_items);
        assert_eq!(self.counters.curr_items, live_items);
        assert_eq!(self.counters.bytes, live_bytes);
        assert_eq!(self.segs.memory_used, used);
        assert!(used <= self.memory_limit);
        for v in self.table.values() {
            let m = &self.segs.meta[self.segs.seg_of(v) as usize];
            assert_eq!(m.state, State::Linked);
            assert!(self.segs.off_of(v) < m.write_off);
        }
    }
}

/// The hash of the key of the item slot value `v` points at (read back
/// from its segment: the index keeps only 8 bits of it).
#[inline]
fn indexed_key_hash(segs: &Segments, seed: u64, v: u64) -> u64 {
    let data = &segs.data[segs.seg_of(v) as usize][segs.off_of(v)..];
    let hl = item::header_len_from_ctrl(data[0]);
    hash_key(seed, &data[hl..hl + data[1] as usize])
}
