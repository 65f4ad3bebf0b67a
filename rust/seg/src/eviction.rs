//! Making room: segment allocation, proactive expiry, flush sweeps, merge
//! eviction and the FIFO fallback.
//!
//! Order when a new segment is needed:
//! 1. the free list;
//! 2. reclaim every segment with nothing live in it (expired by its TTL
//!    bucket time, below the flush watermark, or all items deleted or
//!    overwritten) — expired items always go before live ones;
//! 3. merge eviction: the oldest run of 2..=4 sealed segments at the head of
//!    a TTL bucket is compacted into its first segment, keeping the most
//!    frequently read live items (a 4-bit counter in the hash slot) and
//!    evicting the rest; when none of the run's items has been read since
//!    it was written, only the head segment is evicted (plain FIFO);
//! 4. FIFO fallback: evict the oldest segment.

use crate::engine::Inner;
use crate::hashtable::{hash_key, pack, slot_freq, slot_tag, Loc, FREQ_MAX};
use crate::item;
use crate::item::Bases;
use crate::segment::{State, NONE};
use crate::stats::Gone;
use crate::ttl::{NEVER, NUM_BUCKETS};
use storage::Error;

/// Segments merged at most at once.
pub(crate) const MERGE_N: usize = 4;

/// One item of a merge run, gathered in the first pass: where it lies
/// and its slot. Its size and liveness are read again from its header in
/// the second pass, keeping an entry at 16 bytes (a run of four 1 MiB
/// segments of 125-byte items gathers ~33,500 of them).
#[derive(Clone, Copy, Debug)]
pub(crate) struct MergeItem {
    /// Its segment's index in the run (bits 24..) and its offset there.
    at: u32,
    loc: Loc,
    freq: u8,
}

/// Bits of [`MergeItem::at`] holding the offset (segments are at most
/// 16 MiB).
const AT_OFF_BITS: u32 = 24;

/// The merge buffer, reserved once for the largest run (every item of
/// [`MERGE_N`] segments at the smallest item size): a buffer grown by
/// doubling would leave its freed predecessors resident in the allocator,
/// ~1.5 MiB with 1 MiB segments.
pub(crate) fn merge_buffer(seg_size: usize) -> Vec<MergeItem> {
    Vec::with_capacity(MERGE_N * seg_size / item::MIN_ITEM)
}

impl Inner {
    /// Reserve room for an item in bucket `b`; returns (segment, offset,
    /// header length). May free, merge or evict segments (bumping `epoch`).
    /// The common case, room left in the bucket's tail segment, inline;
    /// the rest out of line.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub(crate) fn reserve(
        &mut self,
        b: usize,
        klen: usize,
        vlen: usize,
        flags: u32,
        exptime: u32,
        cas: u64,
        access: u32,
    ) -> Result<(u32, usize, u8), Error> {
        let seg_size = self.segs.seg_size;
        let tail = self.ttl.chains[b].tail;
        if tail != NONE {
            let m = &mut self.segs.meta[tail as usize];
            if !m.is_span() {
                let base = Bases {
                    cas: m.base_cas,
                    access: m.access_base,
                };
                let ctrl = item::header_control(vlen, flags, exptime, cas, access, base);
                let end = m.write_off + item::header_len_from_ctrl(ctrl) + klen + vlen;
                if end <= seg_size {
                    let off = m.write_off;
                    m.write_off = end;
                    return Ok((tail, off, ctrl));
                }
            }
        }
        self.reserve_segment(b, klen, vlen, flags, exptime, cas, access)
    }

    /// [`Inner::reserve`] in a new segment (or span) at the tail of bucket
    /// `b`.
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    fn reserve_segment(
        &mut self,
        b: usize,
        klen: usize,
        vlen: usize,
        flags: u32,
        exptime: u32,
        cas: u64,
        access: u32,
    ) -> Result<(u32, usize, u8), Error> {
        let seg_size = self.segs.seg_size;
        let base = Bases {
            cas: self.cas_next,
            access: self.access_now,
        };
        let ctrl = item::header_control(vlen, flags, exptime, cas, access, base);
        let size = item::header_len_from_ctrl(ctrl) + klen + vlen;
        let k = size.div_ceil(seg_size);
        if k > self.segs.count() {
            return Err(Error::TooLarge);
        }
        let id = self.take_free()?;
        if k > 1 {
            // A span: borrow k - 1 more ids and give their memory to the head.
            self.segs.meta[id as usize].state = State::Reserved;
            let mut span = Vec::with_capacity(k - 1);
            while span.len() < k - 1 {
                match self.take_free() {
                    Ok(x) => {
                        self.segs.meta[x as usize].state = State::Reserved;
                        span.push(x);
                    }
                    Err(e) => {
                        for x in span {
                            self.segs.meta[x as usize].state = State::Free;
                            self.segs.free.push(x);
                        }
                        self.segs.meta[id as usize].state = State::Free;
                        self.segs.free.push(id);
                        return Err(e);
                    }
                }
            }
            for &x in &span {
                // Shrinking never fails.
                let _ = self.segs.resize(x, 0);
                self.segs.meta[x as usize].state = State::Borrowed;
            }
            self.segs.meta[id as usize].span = span;
            if let Err(e) = self.segs.resize(id, k * seg_size) {
                self.segs.release(id);
                return Err(e);
            }
        }
        let now = self.now;
        let m = &mut self.segs.meta[id as usize];
        let span = std::mem::take(&mut m.span);
        m.open(b as u16, base.cas, now, base.access, b == NEVER);
        m.span = span;
        m.write_off = size;
        self.ttl.push_back(&mut self.segs.meta, b, id);
        Ok((id, 0, ctrl))
    }

    /// A free segment id with a buffer of segment size, making room if needed.
    fn take_free(&mut self) -> Result<u32, Error> {
        let id = match self.segs.free.pop() {
            Some(id) => id,
            None => {
                if !self.reclaim_dead() && !self.merge_evict() && !self.fifo_evict() {
                    return Err(Error::NoMemory);
                }
                self.segs.free.pop().ok_or(Error::NoMemory)?
            }
        };
        if let Err(e) = self.segs.resize(id, self.segs.seg_size) {
            self.segs.free.push(id);
            return Err(e);
        }
        Ok(id)
    }

    /// Free a linked segment, dropping its indexed items from the table.
    /// Items still live count as evictions when `evict`, else as expired.
    pub(crate) fn free_segment(&mut self, id: u32, evict: bool) {
        let now = self.now;
        let flush_cas = self.flush_cas;
        let base = self.segs.bases(id);
        let end = self.segs.meta[id as usize].write_off;
        let mut evicted = false;
        if self.segs.meta[id as usize].live_items > 0 {
            let data = &self.segs.data[id as usize];
            let mut off = 0;
            while off < end {
                let h = item::read_header(&data[off..], base);
                if !h.dead {
                    let kstart = off + h.key_at();
                    let hash = hash_key(self.seed, &data[kstart..kstart + h.klen as usize]);
                    let addr = self.segs.addr(id, off);
                    let loc = self.table.find_exact(hash, addr).expect("indexed item");
                    self.table.clear(loc);
                    if evict && h.live(now, flush_cas) {
                        self.counters.evictions += 1;
                        self.counters.evicted_segment += 1;
                        evicted = true;
                        if let Some(hook) = &self.evict_hook {
                            hook(&storage::Evicted {
                                key: &data[kstart..kstart + h.klen as usize],
                                exptime: i64::from(h.exptime),
                                last_access: self.time_base + i64::from(h.access & item::A_TIME),
                                class_id: u32::from(self.segs.meta[id as usize].bucket) + 1,
                                value_len: u64::from(h.vlen),
                                fetched: h.access & item::A_FETCHED != 0,
                            });
                        }
                    } else {
                        self.counters.reclaimed(Gone::Segment, h.cas < flush_cas);
                    }
                    self.counters.curr_items -= 1;
                    self.counters.bytes -= h.total() as u64;
                }
                off += h.total();
            }
        }
        if evicted {
            self.counters.segments_evicted += 1;
        } else {
            self.counters.segments_expired += 1;
        }
        self.ttl.unlink(&mut self.segs.meta, id);
        self.segs.release(id);
        self.epoch += 1;
    }

    /// Proactive expiry: free the head segments of TTL buckets whose time has
    /// passed. Runs when `now` reaches `next_expire`; cost ~ bucket count.
    pub(crate) fn expire_heads(&mut self, now: i64) {
        let mut next = i64::MAX;
        for b in 0..NEVER {
            loop {
                let h = self.ttl.chains[b].head;
                if h == NONE {
                    break;
                }
                let exp = self.segs.meta[h as usize].expire_at;
                if exp <= now {
                    self.free_segment(h, false);
                } else {
                    next = next.min(exp);
                    break;
                }
            }
        }
        self.next_expire = next;
    }

    /// After a flush: free every segment whose newest item is below the
    /// watermark. Cost ~ segment count, not item count.
    pub(crate) fn flush_sweep(&mut self) {
        self.sweep_needed = false;
        for id in 0..self.segs.count() as u32 {
            let m = &self.segs.meta[id as usize];
            if m.state == State::Linked && m.max_cas < self.flush_cas {
                self.free_segment(id, false);
            }
        }
    }

    /// Free every segment holding nothing live. True if any was freed.
    fn reclaim_dead(&mut self) -> bool {
        let now = self.now;
        let mut any = false;
        for id in 0..self.segs.count() as u32 {
            let m = &self.segs.meta[id as usize];
            if m.state == State::Linked
                && (m.live_items == 0 || m.expire_at <= now || m.max_cas < self.flush_cas)
            {
                self.free_segment(id, false);
                any = true;
            }
        }
        any
    }

    /// Merge eviction on the TTL bucket whose head segment is oldest among
    /// those with at least two sealed segments. True if a segment was freed.
    fn merge_evict(&mut self) -> bool {
        let mut best: Option<(i64, usize)> = None;
        for b in 0..NUM_BUCKETS {
            let c = self.ttl.chains[b];
            if c.head == NONE || c.head == c.tail {
                continue;
            }
            let h = &self.segs.meta[c.head as usize];
            let second = h.next;
            if h.is_span() || second == c.tail || self.segs.meta[second as usize].is_span() {
                continue;
            }
            if best.is_none_or(|(t, _)| h.create_at < t) {
                best = Some((h.create_at, b));
            }
        }
        let Some((_, b)) = best else { return false };
        let c = self.ttl.chains[b];
        let mut run = [NONE; MERGE_N];
        let mut n = 0;
        let mut s = c.head;
        while s != NONE && s != c.tail && n < MERGE_N && !self.segs.meta[s as usize].is_span() {
            run[n] = s;
            n += 1;
            s = self.segs.meta[s as usize].next;
        }
        self.merge_run(&run[..n]);
        true
    }

    /// Compact `run` (consecutive segments of one bucket, oldest first) into
    /// `run[0]`, keeping the most frequently read live items that fit.
    fn merge_run(&mut self, run: &[u32]) {
        let now = self.now;
        let flush_cas = self.flush_cas;
        let seg_size = self.segs.seg_size;
        let mut items = std::mem::take(&mut self.merge_buf);
        items.clear();
        // Pass 1: every indexed item of the run with its slot and frequency.
        let mut hist = [0usize; FREQ_MAX as usize + 1];
        let mut live_total = 0;
        for (i, &id) in run.iter().enumerate() {
            let base = self.segs.bases(id);
            let end = self.segs.meta[id as usize].write_off;
            let data = &self.segs.data[id as usize];
            let mut off = 0;
            while off < end {
                let h = item::read_header(&data[off..], base);
                if !h.dead {
                    let kstart = off + h.key_at();
                    let hash = hash_key(self.seed, &data[kstart..kstart + h.klen as usize]);
                    let addr = self.segs.addr(id, off);
                    let loc = self.table.find_exact(hash, addr).expect("indexed item");
                    let freq = slot_freq(self.table.get(loc));
                    if h.live(now, flush_cas) {
                        hist[freq as usize] += h.total();
                        live_total += h.total();
                    }
                    items.push(MergeItem {
                        at: ((i as u32) << AT_OFF_BITS) | off as u32,
                        loc,
                        freq,
                    });
                }
                off += h.total();
            }
        }
        // The lowest frequency kept: everything when it all fits, else the
        // hottest items, and never the ones not read since written.
        let mut cutoff = 0;
        let mut kept = live_total;
        while kept > seg_size && cutoff <= FREQ_MAX as usize {
            kept -= hist[cutoff];
            cutoff += 1;
        }
        if cutoff > 0 && kept == 0 {
            // Nothing read since written: plain FIFO on the head only.
            self.merge_buf = items;
            self.free_segment(run[0], true);
            return;
        }
        let cutoff = cutoff as u8;
        self.counters.merges += 1;
        // Pass 2: compact into run[0].
        let dest = run[0];
        let dest_base = self.segs.bases(dest);
        let never = self.segs.meta[dest as usize].bucket as usize == NEVER;
        {
            let m = &mut self.segs.meta[dest as usize];
            m.live_items = 0;
            m.live_bytes = 0;
            m.max_cas = 0;
            m.expire_at = if never { i64::MAX } else { i64::MIN };
        }
        let mut w = 0;
        let mut scratch = std::mem::take(&mut self.scratch);
        for it in &items {
            let seg = run[(it.at >> AT_OFF_BITS) as usize];
            let off = (it.at & ((1 << AT_OFF_BITS) - 1)) as usize;
            // Read again: unchanged since pass 1 (a slide down this segment
            // writes only below the items still to come).
            let h = item::read_header(&self.segs.data[seg as usize][off..], self.segs.bases(seg));
            let size = h.total();
            let live = h.live(now, flush_cas);
            let keep = live && it.freq >= cutoff;
            let (klen, vlen, hl) = (h.klen as usize, h.vlen as usize, h.hlen as usize);
            let new_hl = item::header_len(vlen, h.flags, h.exptime, h.cas, h.access, dest_base);
            let new_size = new_hl + klen + vlen;
            if !keep || w + new_size > seg_size {
                // The run's other slots are still to be visited: move none.
                self.table.clear_in_place(it.loc);
                if live {
                    self.counters.evictions += 1;
                    self.counters.evicted_merge += 1;
                    if let Some(hook) = &self.evict_hook {
                        let data = &self.segs.data[seg as usize];
                        hook(&storage::Evicted {
                            key: &data[off + hl..off + hl + klen],
                            exptime: i64::from(h.exptime),
                            last_access: self.time_base + i64::from(h.access & item::A_TIME),
                            class_id: u32::from(self.segs.meta[seg as usize].bucket) + 1,
                            value_len: vlen as u64,
                            fetched: h.access & item::A_FETCHED != 0,
                        });
                    }
                } else {
                    self.counters.reclaimed(Gone::Merge, h.cas < flush_cas);
                }
                self.counters.curr_items -= 1;
                self.counters.bytes -= size as u64;
                continue;
            }
            let kv = klen + vlen;
            if seg == dest {
                // Same base, same header: slide down within the segment.
                debug_assert!(w <= off && new_size == size);
                let d = &mut self.segs.data[dest as usize];
                item::write_header_exact(
                    &mut d[w..],
                    klen,
                    vlen,
                    h.flags,
                    h.exptime,
                    h.cas,
                    h.access,
                    dest_base,
                );
                d.copy_within(off + hl..off + hl + kv, w + new_hl);
            } else {
                scratch.clear();
                scratch.extend_from_slice(&self.segs.data[seg as usize][off + hl..off + hl + kv]);
                let d = &mut self.segs.data[dest as usize];
                item::write_header_exact(
                    &mut d[w..],
                    klen,
                    vlen,
                    h.flags,
                    h.exptime,
                    h.cas,
                    h.access,
                    dest_base,
                );
                d[w + new_hl..w + new_hl + kv].copy_from_slice(&scratch);
            }
            let v = self.table.get(it.loc);
            let addr = self.segs.addr(dest, w);
            self.table.set(it.loc, pack(slot_tag(v), addr, it.freq / 2));
            self.segs.meta[dest as usize].add_item(new_size, h.cas, h.exptime);
            self.counters.bytes = self.counters.bytes + new_size as u64 - size as u64;
            w += new_size;
        }
        self.scratch = scratch;
        self.merge_buf = items;
        self.segs.meta[dest as usize].write_off = w;
        for &id in &run[1..] {
            self.ttl.unlink(&mut self.segs.meta, id);
            self.segs.release(id);
        }
        if self.segs.meta[dest as usize].live_items == 0 {
            self.ttl.unlink(&mut self.segs.meta, dest);
            self.segs.release(dest);
        }
        self.epoch += 1;
    }

    /// Evict the oldest linked segment, preferring ones not being written.
    fn fifo_evict(&mut self) -> bool {
        let mut best: Option<((bool, i64), u32)> = None;
        for id in 0..self.segs.count() as u32 {
            let m = &self.segs.meta[id as usize];
            if m.state != State::Linked {
                continue;
            }
            let is_tail = self.ttl.chains[m.bucket as usize].tail == id;
            let key = (is_tail, m.create_at);
            if best.is_none_or(|(k, _)| key < k) {
                best = Some((key, id));
            }
        }
        match best {
            Some((_, id)) => {
                self.free_segment(id, true);
                true
            }
            None => false,
        }
    }
}
