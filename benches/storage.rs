//! Criterion: storage engines called through the same storage.h path (the
//! safe wrapper over the bindgen bindings), one group per operation so the
//! engines stand side by side.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use molt::{Storage, StorageConfig, StoreMode};
use std::hint::black_box;

const ENGINES: &[&str] = &["slab", "seg"];
const NOW: i64 = 1_800_000_000;
const KEYS: u32 = 100_000;

fn key(i: u32) -> Vec<u8> {
    format!("bench:key:{i:08}").into_bytes()
}

fn loaded(engine: &str, value_len: usize) -> Storage {
    let s = Storage::open(engine, &StorageConfig::default()).expect("open");
    let v = vec![b'v'; value_len];
    for i in 0..KEYS {
        s.store(StoreMode::Set, &key(i), &v, 0, 0, NOW)
            .expect("preload");
    }
    s
}

fn get_hit(c: &mut Criterion) {
    let mut g = c.benchmark_group("get_hit");
    for engine in ENGINES {
        let s = loaded(engine, 64);
        let keys: Vec<_> = (0..KEYS).map(key).collect();
        let mut i = 0usize;
        g.bench_function(*engine, |b| {
            b.iter(|| {
                i = (i + 7919) % keys.len();
                black_box(s.get(&keys[i], NOW).is_ok())
            })
        });
    }
    g.finish();
}

fn get_miss(c: &mut Criterion) {
    let mut g = c.benchmark_group("get_miss");
    for engine in ENGINES {
        let s = loaded(engine, 64);
        let keys: Vec<_> = (KEYS..2 * KEYS).map(key).collect();
        let mut i = 0usize;
        g.bench_function(*engine, |b| {
            b.iter(|| {
                i = (i + 7919) % keys.len();
                black_box(s.get(&keys[i], NOW).is_err())
            })
        });
    }
    g.finish();
}

fn set_64(c: &mut Criterion) {
    let mut g = c.benchmark_group("set_64B");
    for engine in ENGINES {
        let s = loaded(engine, 64);
        let keys: Vec<_> = (0..KEYS).map(key).collect();
        let v = [b'w'; 64];
        let mut i = 0usize;
        g.bench_function(*engine, |b| {
            b.iter(|| {
                i = (i + 7919) % keys.len();
                black_box(s.store(StoreMode::Set, &keys[i], &v, 0, 0, NOW).is_ok())
            })
        });
    }
    g.finish();
}

fn open_close(c: &mut Criterion) {
    let mut g = c.benchmark_group("open_close");
    for engine in ENGINES {
        g.bench_function(*engine, |b| {
            b.iter_batched(
                StorageConfig::default,
                |cfg| drop(black_box(Storage::open(engine, &cfg).expect("open"))),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, get_hit, get_miss, set_64, open_close);
criterion_main!(benches);
