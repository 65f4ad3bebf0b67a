//! Single-threaded get-hit and set loops for profiling, with the same access
//! pattern as molt's criterion bench (stride 7919 over 100k keys, 64-byte
//! values) and keys kept in one flat array.
//!
//! `NKEYS=1000 cargo run --release --example getloop [ops]`
use seg::{Seg, SegConfig};
use std::hint::black_box;
use storage::{Storage, StoreCommand};

fn main() {
    let ops: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000_000);
    let nk: usize = std::env::var("NKEYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let s = Seg::new(SegConfig::default()).unwrap();
    let mut flat = vec![[0u8; 32]; nk];
    let mut lens = vec![0usize; nk];
    for i in 0..nk {
        let k = format!("bench:key:{i:08}");
        flat[i][..k.len()].copy_from_slice(k.as_bytes());
        lens[i] = k.len();
        s.store(StoreCommand::Set, &flat[i][..lens[i]], &[b'v'; 64], 0, 0, 1)
            .unwrap();
    }
    let mut i = 0usize;
    let get_ops = if std::env::var_os("SETONLY").is_some() {
        0
    } else {
        ops
    };
    let t = std::time::Instant::now();
    for _ in 0..get_ops {
        i = (i + 7919) % nk;
        black_box(s.get(&flat[i][..lens[i]], 1, |_, v| v.len()).unwrap());
    }
    let get = t.elapsed().as_nanos() as f64 / get_ops.max(1) as f64;
    let v = [b'w'; 64];
    let t = std::time::Instant::now();
    for _ in 0..ops {
        i = (i + 7919) % nk;
        black_box(
            s.store(StoreCommand::Set, &flat[i][..lens[i]], &v, 0, 0, 1)
                .unwrap(),
        );
    }
    let set = t.elapsed().as_nanos() as f64 / ops as f64;
    println!("seg get hit: {get:.1} ns/op  set 64B: {set:.1} ns/op");
}
