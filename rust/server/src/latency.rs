//! Request latency histograms (c-core/src/admin/latency.c): per worker,
//! one observation per read batch, from the worker waking up to the
//! replies being handed to the socket. Log-linear buckets: below 1 us, then
//! 4 per octave up to 2^34 ns, then overflow. Single writer (the worker),
//! read by the admin endpoint.

use std::sync::atomic::{AtomicU64, Ordering};

const MIN_SHIFT: u32 = 10;
const MAX_SHIFT: u32 = 34;
const SUB: usize = 4;
pub const BUCKETS: usize = 1 + (MAX_SHIFT - MIN_SHIFT) as usize * SUB + 1;

pub struct Latency {
    bucket: [AtomicU64; BUCKETS],
    sum_ns: AtomicU64,
}

/// Sums over workers.
#[derive(Clone)]
pub struct Totals {
    pub bucket: [u64; BUCKETS],
    pub count: u64,
    pub sum_ns: u64,
}

fn add(c: &AtomicU64, n: u64) {
    c.store(c.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
}

pub fn bucket_of(ns: u64) -> usize {
    if ns < 1 << MIN_SHIFT {
        return 0;
    }
    let msb = 63 - ns.leading_zeros();
    if msb >= MAX_SHIFT {
        return BUCKETS - 1;
    }
    let sub = ((ns >> (msb - 2)) as usize) & (SUB - 1);
    1 + (msb - MIN_SHIFT) as usize * SUB + sub
}

/// The largest latency bucket `i` holds, in ns.
pub fn bucket_upper_ns(i: usize) -> u64 {
    if i == 0 {
        return 1 << MIN_SHIFT;
    }
    if i >= BUCKETS - 1 {
        return u64::MAX;
    }
    let msb = MIN_SHIFT as usize + (i - 1) / SUB;
    let sub = ((i - 1) % SUB) as u64;
    (SUB as u64 + sub + 1) << (msb - 2)
}

impl Latency {
    pub fn new() -> Latency {
        Latency {
            bucket: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_ns: AtomicU64::new(0),
        }
    }

    pub fn record(&self, ns: u64) {
        add(&self.bucket[bucket_of(ns)], 1);
        add(&self.sum_ns, ns);
    }

    pub fn sum_into(&self, t: &mut Totals) {
        for (i, b) in self.bucket.iter().enumerate() {
            let n = b.load(Ordering::Relaxed);
            t.bucket[i] += n;
            t.count += n;
        }
        t.sum_ns += self.sum_ns.load(Ordering::Relaxed);
    }
}

impl Totals {
    pub fn new() -> Totals {
        Totals {
            bucket: [0; BUCKETS],
            count: 0,
            sum_ns: 0,
        }
    }
}

/// Export only octave edges.
pub fn exported(i: usize) -> bool {
    i == 0 || (i - 1) % SUB == SUB - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_hold_their_values() {
        for ns in [0, 1023, 1024, 1500, 4096, 1_000_000, 1 << 33, u64::MAX] {
            // bucket i holds [upper(i - 1), upper(i))
            let i = bucket_of(ns);
            assert!(ns < bucket_upper_ns(i) || i == BUCKETS - 1, "{ns} in {i}");
            if i > 0 {
                assert!(ns >= bucket_upper_ns(i - 1), "{ns} above {}", i - 1);
            }
        }
    }
}
