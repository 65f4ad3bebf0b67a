//! Capacity and single-threaded speed of the engine, in process.
//!
//! `cargo run --release --example measure`

use std::hint::black_box;
use std::time::Instant;

use seg::{Seg, SegConfig};
use storage::{Storage, StoreCommand};

const NOW: i64 = 1_800_000_000;

fn key(buf: &mut Vec<u8>, i: u64) {
    use std::io::Write;
    buf.clear();
    write!(buf, "key:{i:010}").unwrap();
}

fn capacity() {
    let s = Seg::new(SegConfig::default()).unwrap();
    let value = [b'v'; 100];
    let mut k = Vec::new();
    let n = 1_000_000u64;
    let t = Instant::now();
    for i in 0..n {
        key(&mut k, i);
        s.store(StoreCommand::Set, &k, &value, 0, 0, NOW).unwrap();
    }
    let fill = t.elapsed();
    let mut hits = 0u64;
    for i in 0..n {
        key(&mut k, i);
        if s.get(&k, NOW, |_, v| v.len()).is_ok() {
            hits += 1;
        }
    }
    let st = s.stats(NOW);
    println!(
        "capacity: 64 MiB, 1M x (14-byte key, 100-byte value): {hits} readable \
         ({:.1} bytes/item of segment memory), {} evictions, item bytes {}, \
         hash buckets {} ({} MiB), fill {:.0} ns/set",
        st.memory_used as f64 / hits as f64,
        st.evictions,
        st.bytes,
        st.hash_buckets,
        (st.hash_buckets * 64) >> 20,
        fill.as_nanos() as f64 / n as f64
    );
}

fn speed() {
    let s = Seg::new(SegConfig::default()).unwrap();
    let value = [b'x'; 64];
    let nkeys = 100_000u64;
    let keys: Vec<Vec<u8>> = (0..nkeys)
        .map(|i| {
            let mut k = Vec::new();
            key(&mut k, i);
            k
        })
        .collect();
    for k in &keys {
        s.store(StoreCommand::Set, k, &value, 0, 0, NOW).unwrap();
    }
    let rounds = 20u64;
    // A fixed pseudo-random order so the hash table is not walked in order.
    let order: Vec<usize> = (0..nkeys)
        .map(|i| (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) % nkeys) as usize)
        .collect();
    for _ in 0..3 {
        let t = Instant::now();
        for _ in 0..rounds {
            for &i in &order {
                black_box(
                    s.get(&keys[i], NOW, |info, v| info.cas as usize + v.len())
                        .unwrap(),
                );
            }
        }
        let get_ns = t.elapsed().as_nanos() as f64 / (rounds * nkeys) as f64;
        let t = Instant::now();
        for _ in 0..rounds {
            for &i in &order {
                black_box(
                    s.store(StoreCommand::Set, &keys[i], &value, 0, 0, NOW)
                        .unwrap(),
                );
            }
        }
        let set_ns = t.elapsed().as_nanos() as f64 / (rounds * nkeys) as f64;
        let t = Instant::now();
        for _ in 0..rounds {
            for &i in &order {
                black_box(s.get(b"missing-key", NOW, |_, v| v.len()).is_err());
                black_box(i);
            }
        }
        let miss_ns = t.elapsed().as_nanos() as f64 / (rounds * nkeys) as f64;
        println!(
            "speed (1 thread, 100k keys, 64-byte values): get hit {get_ns:.0} ns, \
             set (overwrite) {set_ns:.0} ns, get miss {miss_ns:.0} ns"
        );
    }
    let st = s.stats(NOW);
    println!(
        "  after: {} evictions, {} MiB used",
        st.evictions,
        st.memory_used >> 20
    );
}

fn threads() {
    let s = Seg::new(SegConfig::default()).unwrap();
    let value = [b'x'; 64];
    let n = 200_000u64;
    let t = Instant::now();
    std::thread::scope(|sc| {
        for th in 0..4u64 {
            let s = &s;
            sc.spawn(move || {
                let mut k = Vec::new();
                for i in 0..n {
                    key(&mut k, (th * n + i) % 100_000);
                    if i % 10 == 0 {
                        s.store(StoreCommand::Set, &k, &value, 0, 0, NOW).unwrap();
                    } else {
                        black_box(s.get(&k, NOW, |_, v| v.len()).ok());
                    }
                }
            });
        }
    });
    println!(
        "4 threads, 90% get / 10% set: {:.0} ns per op (wall / total ops)",
        t.elapsed().as_nanos() as f64 / (4 * n) as f64
    );
}

fn main() {
    capacity();
    speed();
    threads();
}
