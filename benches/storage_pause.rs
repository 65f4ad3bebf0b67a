//! The longest single operation while an engine fills, for slab and seg
//! through the storage.h seam the server calls: a fill of `-m 1024` with
//! 100-byte values crosses hash table growths in both engines (slab doubles
//! its chains at 1.5 items per bucket and drains the old array a few
//! buckets per write; seg resizes its bucket table as the items the memory
//! will hold become known). A growth that stops the world shows as one
//! operation far longer than the rest; an incremental one does not.
//!
//! Wall time on a shared machine is noisy, so this reports, per engine, the
//! slowest operations with where in the fill they fell and the table size
//! around them, the slowest operation of the 1,024 in which each growth
//! began, and the median; it asserts nothing.
//! `cargo bench --bench storage_pause` (FILL_KEYS to change the fill).

use molt::storage::{Storage, StoreCommand};
use molt::{CStorage, StorageConfig};
use std::time::Instant;

const NOW: i64 = 1_800_000_000;
const MEMORY: u64 = 1 << 30;
/// Slowest operations reported per engine.
const TOP: usize = 5;

fn key(i: u32, buf: &mut Vec<u8>) {
    use std::io::Write;
    buf.clear();
    write!(buf, "bench:key:{i:010}").expect("key");
}

fn fill(engine: &str, keys: u32) {
    let cfg = StorageConfig {
        memory_limit: MEMORY,
        ..StorageConfig::default()
    };
    let s = CStorage::open(engine, &cfg).expect("open");
    let v = [b'v'; 100];
    let mut k = Vec::with_capacity(32);
    // (nanoseconds, operation index, buckets after it)
    let mut top: Vec<(u64, u32, u64)> = Vec::with_capacity(TOP + 1);
    let mut times = Vec::with_capacity(keys as usize);
    let mut buckets = s.stats(NOW).hash_buckets;
    let mut growths = Vec::new();
    let start = Instant::now();
    for i in 0..keys {
        key(i, &mut k);
        let t0 = Instant::now();
        s.store(StoreCommand::Set, &k, &v, 0, 0, NOW).expect("set");
        let ns = t0.elapsed().as_nanos() as u64;
        times.push(ns as u32);
        if top.len() < TOP || ns > top[TOP - 1].0 {
            let b = s.stats(NOW).hash_buckets;
            top.push((ns, i, b));
            top.sort_by_key(|t| std::cmp::Reverse(t.0));
            top.truncate(TOP);
        }
        if i % 1024 == 0 {
            let b = s.stats(NOW).hash_buckets;
            if b != buckets {
                growths.push((i, buckets, b));
                buckets = b;
            }
        }
    }
    let total = start.elapsed();
    // The slowest operation of the 1,024 in which each growth began.
    let growth_max: Vec<u32> = growths
        .iter()
        .map(|&(i, _, _)| {
            let lo = (i as usize).saturating_sub(1024);
            times[lo..=i as usize].iter().copied().max().unwrap_or(0)
        })
        .collect();
    times.sort_unstable();
    let pct = |p: f64| times[((times.len() - 1) as f64 * p) as usize];
    println!(
        "{engine}: {keys} sets in {:.2} s; median {} ns, p99.99 {} ns, max {} ns",
        total.as_secs_f64(),
        pct(0.5),
        pct(0.9999),
        times[times.len() - 1]
    );
    for (ns, i, b) in &top {
        println!(
            "  {:>10.3} ms at set {i:>9} (hash buckets {b})",
            *ns as f64 / 1e6
        );
    }
    for ((i, from, to), max) in growths.into_iter().zip(growth_max) {
        println!(
            "  table {from} -> {to} buckets by set {i}: slowest set of the 1,024 there {:.3} ms",
            f64::from(max) / 1e6
        );
    }
}

fn main() {
    // `cargo bench` passes --bench; a filter argument is not supported.
    let keys: u32 = std::env::var("FILL_KEYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3_000_000);
    for engine in ["slab", "seg"] {
        fill(engine, keys);
    }
}
