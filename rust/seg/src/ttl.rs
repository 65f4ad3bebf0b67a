//! TTL buckets: segments are grouped by the relative TTL of their items, so
//! every segment holds items that expire at about the same time and can be
//! dropped whole when that time passes.
//!
//! As in the Segcache paper, 1024 buckets widen with the TTL:
//!
//! | TTL (s)            | width (s) | buckets   |
//! |--------------------|-----------|-----------|
//! | 0 .. 2048          | 8         | 0..256    |
//! | 2048 .. 32768      | 128       | 256..496  |
//! | 32768 .. 524288    | 2048      | 512..752  |
//! | 524288 .. 8388608  | 32768     | 768..1008 |
//! | longer             | -         | 1023      |
//!
//! plus bucket 1024 for items that never expire.

use crate::segment::{SegMeta, NONE};

/// Number of TTL buckets including the never-expire one.
pub(crate) const NUM_BUCKETS: usize = 1025;
/// The bucket of items with exptime 0.
pub(crate) const NEVER: usize = 1024;

/// The bucket for an item with stored exptime `exptime` written at `now`
/// (inlined: most stores never expire).
#[inline(always)]
pub(crate) fn bucket_index(exptime: u32, now: i64) -> usize {
    if exptime == 0 {
        return NEVER;
    }
    bucket_of_ttl(exptime, now)
}

/// [`bucket_index`] of an item that expires.
fn bucket_of_ttl(exptime: u32, now: i64) -> usize {
    let ttl = (i64::from(exptime) - now).max(0) as u64;
    if ttl < 1 << 11 {
        (ttl >> 3) as usize
    } else if ttl < 1 << 15 {
        256 + (ttl >> 7) as usize - 16
    } else if ttl < 1 << 19 {
        512 + (ttl >> 11) as usize - 16
    } else if ttl < 1 << 23 {
        768 + (ttl >> 15) as usize - 16
    } else {
        1023
    }
}

/// A bucket's segments, oldest first; the tail is the one being written.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Chain {
    pub head: u32,
    pub tail: u32,
}

/// All buckets' chains.
pub(crate) struct TtlBuckets {
    pub chains: Vec<Chain>,
}

impl TtlBuckets {
    pub fn new() -> TtlBuckets {
        TtlBuckets {
            chains: vec![
                Chain {
                    head: NONE,
                    tail: NONE
                };
                NUM_BUCKETS
            ],
        }
    }

    /// Append segment `id` to bucket `b`.
    pub fn push_back(&mut self, meta: &mut [SegMeta], b: usize, id: u32) {
        let c = &mut self.chains[b];
        meta[id as usize].prev = c.tail;
        meta[id as usize].next = NONE;
        if c.tail == NONE {
            c.head = id;
        } else {
            meta[c.tail as usize].next = id;
        }
        c.tail = id;
    }

    /// Remove segment `id` from its bucket's chain.
    pub fn unlink(&mut self, meta: &mut [SegMeta], id: u32) {
        let (b, prev, next) = {
            let m = &meta[id as usize];
            (m.bucket as usize, m.prev, m.next)
        };
        let c = &mut self.chains[b];
        if prev == NONE {
            c.head = next;
        } else {
            meta[prev as usize].next = next;
        }
        if next == NONE {
            c.tail = prev;
        } else {
            meta[next as usize].prev = prev;
        }
        meta[id as usize].prev = NONE;
        meta[id as usize].next = NONE;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_widen_with_ttl() {
        let now = 1000;
        assert_eq!(bucket_index(0, now), NEVER);
        assert_eq!(bucket_index(1001, now), 0);
        assert_eq!(bucket_index(1008, now), 1);
        assert_eq!(bucket_index(1000 + 2047, now), 255);
        assert_eq!(bucket_index(1000 + 2048, now), 256);
        assert_eq!(bucket_index(1000 + 32767, now), 495);
        assert_eq!(bucket_index(1000 + 32768, now), 512);
        assert_eq!(bucket_index(1000 + 524_287, now), 751);
        assert_eq!(bucket_index(1000 + 524_288, now), 768);
        assert_eq!(bucket_index(1000 + 8_388_607, now), 1007);
        assert_eq!(bucket_index(u32::MAX, now), 1023);
    }
}
