//! The storage suite: drives storage.h through the bindgen bindings (the
//! safe `molt::Storage` wrapper), so it runs unchanged against every engine
//! in ENGINES. Time is moved by passing `now`, never by sleeping.

use molt::{Status, Storage, StorageConfig, StoreMode};

/// Engines under test; a new engine is one more name here.
const ENGINES: &[&str] = &["slab", "seg"];

const T0: i64 = 1_800_000_000;

fn open(engine: &str, cfg: StorageConfig) -> Storage {
    Storage::open(engine, &cfg).unwrap_or_else(|e| panic!("open {engine}: {e:?}"))
}

fn each_engine(test: impl Fn(&str, &Storage)) {
    for engine in ENGINES {
        let s = open(engine, StorageConfig::default());
        assert_eq!(s.name(), *engine);
        test(engine, &s);
    }
}

fn set(s: &Storage, key: &[u8], value: &[u8], flags: u32, exptime: i64, now: i64) -> u64 {
    s.store(StoreMode::Set, key, value, flags, exptime, now)
        .expect("set")
}

#[test]
fn engines_are_registered() {
    let names = molt::engines();
    for engine in ENGINES {
        assert!(
            names.iter().any(|n| n == engine),
            "{engine} missing from {names:?}"
        );
    }
    assert_eq!(
        Storage::open("no-such-engine", &StorageConfig::default()).err(),
        Some(Status::Invalid)
    );
}

#[test]
fn set_then_get_returns_value_flags_and_cas() {
    each_engine(|e, s| {
        let cas = set(s, b"k", b"hello", 4_294_967_295, 0, T0);
        assert!(cas > 0, "{e}");
        let item = s.get(b"k", T0).expect("hit");
        assert_eq!(item.value, b"hello", "{e}");
        assert_eq!(item.flags, 4_294_967_295, "{e}");
        assert_eq!(item.cas, cas, "{e}");
        assert_eq!(item.exptime, 0, "{e}");
        assert_eq!(s.get(b"other", T0), Err(Status::NotFound), "{e}");
    });
}

#[test]
fn values_are_binary_safe_and_may_be_empty() {
    each_engine(|e, s| {
        let v = b"a\r\nb\0c\n\xff";
        set(s, b"bin", v, 0, 0, T0);
        assert_eq!(s.get(b"bin", T0).unwrap().value, v, "{e}");
        set(s, b"empty", b"", 0, 0, T0);
        assert_eq!(s.get(b"empty", T0).unwrap().value, b"", "{e}");
    });
}

#[test]
fn every_store_gives_a_new_cas() {
    each_engine(|e, s| {
        let a = set(s, b"k", b"1", 0, 0, T0);
        let b = set(s, b"k", b"2", 0, 0, T0);
        let c = s.store(StoreMode::Append, b"k", b"3", 0, 0, T0).unwrap();
        let (_, d) = s.arith(b"k", true, 1, T0).unwrap();
        let all = [a, b, c, d];
        for i in 0..all.len() {
            for j in i + 1..all.len() {
                assert_ne!(all[i], all[j], "{e}: {all:?}");
            }
        }
        assert_eq!(s.get(b"k", T0).unwrap().cas, d, "{e}");
    });
}

#[test]
fn add_and_replace_depend_on_presence() {
    each_engine(|e, s| {
        assert_eq!(
            s.store(StoreMode::Replace, b"k", b"x", 0, 0, T0),
            Err(Status::NotStored),
            "{e}"
        );
        s.store(StoreMode::Add, b"k", b"first", 1, 0, T0)
            .expect("add");
        assert_eq!(
            s.store(StoreMode::Add, b"k", b"second", 2, 0, T0),
            Err(Status::NotStored),
            "{e}"
        );
        assert_eq!(s.get(b"k", T0).unwrap().value, b"first", "{e}");
        s.store(StoreMode::Replace, b"k", b"third", 3, 0, T0)
            .expect("replace");
        let item = s.get(b"k", T0).unwrap();
        assert_eq!(
            (item.value.as_slice(), item.flags),
            (&b"third"[..], 3),
            "{e}"
        );
    });
}

#[test]
fn add_succeeds_over_an_expired_item() {
    each_engine(|e, s| {
        set(s, b"k", b"old", 0, T0 + 5, T0);
        s.store(StoreMode::Add, b"k", b"new", 0, 0, T0 + 5)
            .expect("add over expired");
        assert_eq!(s.get(b"k", T0 + 5).unwrap().value, b"new", "{e}");
    });
}

#[test]
fn append_and_prepend_keep_flags_and_expiry() {
    each_engine(|e, s| {
        assert_eq!(
            s.store(StoreMode::Append, b"k", b"x", 0, 0, T0),
            Err(Status::NotStored),
            "{e}"
        );
        assert_eq!(
            s.store(StoreMode::Prepend, b"k", b"x", 0, 0, T0),
            Err(Status::NotStored),
            "{e}"
        );
        set(s, b"k", b"mid", 7, T0 + 100, T0);
        s.store(StoreMode::Append, b"k", b"-end", 99, 0, T0)
            .unwrap();
        s.store(StoreMode::Prepend, b"k", b"start-", 98, 0, T0)
            .unwrap();
        let item = s.get(b"k", T0).unwrap();
        assert_eq!(item.value, b"start-mid-end", "{e}");
        assert_eq!(item.flags, 7, "{e}");
        assert_eq!(item.exptime, T0 + 100, "{e}");
        assert_eq!(s.get(b"k", T0 + 100), Err(Status::NotFound), "{e}");
    });
}

#[test]
fn cas_succeeds_only_with_the_current_unique() {
    each_engine(|e, s| {
        assert_eq!(
            s.store(StoreMode::Cas(1), b"k", b"v", 0, 0, T0),
            Err(Status::NotFound),
            "{e}"
        );
        let c1 = set(s, b"k", b"v1", 0, 0, T0);
        let c2 = s
            .store(StoreMode::Cas(c1), b"k", b"v2", 5, 0, T0)
            .expect("cas hit");
        assert_ne!(c1, c2, "{e}");
        assert_eq!(
            s.store(StoreMode::Cas(c1), b"k", b"v3", 0, 0, T0),
            Err(Status::Exists),
            "{e}"
        );
        let item = s.get(b"k", T0).unwrap();
        assert_eq!(
            (item.value.as_slice(), item.flags, item.cas),
            (&b"v2"[..], 5, c2),
            "{e}"
        );
        // touch does not change the unique, so a cas after it still wins
        s.touch(b"k", T0 + 50, T0).unwrap();
        s.store(StoreMode::Cas(c2), b"k", b"v4", 0, 0, T0)
            .expect("cas after touch");
    });
}

#[test]
fn incr_wraps_and_decr_floors_at_zero() {
    each_engine(|e, s| {
        assert_eq!(s.arith(b"n", true, 1, T0), Err(Status::NotFound), "{e}");
        set(s, b"n", b"18446744073709551615", 3, 0, T0);
        assert_eq!(s.arith(b"n", true, 1, T0).unwrap().0, 0, "{e}");
        assert_eq!(s.arith(b"n", true, 41, T0).unwrap().0, 41, "{e}");
        assert_eq!(s.arith(b"n", false, 100, T0).unwrap().0, 0, "{e}");
        set(s, b"n", b"10", 3, 0, T0);
        assert_eq!(s.arith(b"n", false, 1, T0).unwrap().0, 9, "{e}");
        let item = s.get(b"n", T0).unwrap();
        assert_eq!(item.value, b"9", "{e}: value is the exact decimal");
        assert_eq!(item.flags, 3, "{e}: flags kept");
        assert_eq!(
            s.arith(b"n", true, u64::MAX, T0).unwrap().0,
            8,
            "{e}: wraps"
        );
    });
}

#[test]
fn incr_rejects_non_numeric_values() {
    each_engine(|e, s| {
        for bad in [&b"abc"[..], b"", b"12a", b"-1", b"18446744073709551616"] {
            set(s, b"n", bad, 0, 0, T0);
            assert_eq!(
                s.arith(b"n", true, 1, T0),
                Err(Status::NonNumeric),
                "{e}: {bad:?}"
            );
            assert_eq!(s.get(b"n", T0).unwrap().value, bad, "{e}: value untouched");
        }
    });
}

#[test]
fn delete_removes_live_items_only() {
    each_engine(|e, s| {
        assert_eq!(s.remove(b"k", T0), Err(Status::NotFound), "{e}");
        set(s, b"k", b"v", 0, 0, T0);
        s.remove(b"k", T0).unwrap();
        assert_eq!(s.get(b"k", T0), Err(Status::NotFound), "{e}");
        set(s, b"x", b"v", 0, T0 + 1, T0);
        assert_eq!(
            s.remove(b"x", T0 + 1),
            Err(Status::NotFound),
            "{e}: expired"
        );
    });
}

#[test]
fn items_expire_exactly_at_their_exptime() {
    each_engine(|e, s| {
        set(s, b"k", b"v", 0, T0 + 10, T0);
        assert!(s.get(b"k", T0 + 9).is_ok(), "{e}");
        assert_eq!(s.get(b"k", T0 + 10), Err(Status::NotFound), "{e}");
        set(s, b"past", b"v", 0, T0 - 1, T0);
        assert_eq!(s.get(b"past", T0), Err(Status::NotFound), "{e}");
    });
}

#[test]
fn touch_and_gat_move_expiry() {
    each_engine(|e, s| {
        assert_eq!(s.touch(b"k", 0, T0), Err(Status::NotFound), "{e}");
        assert_eq!(s.get_touch(b"k", 0, T0), Err(Status::NotFound), "{e}");
        set(s, b"k", b"v", 0, T0 + 10, T0);
        s.touch(b"k", T0 + 100, T0).unwrap();
        assert!(s.get(b"k", T0 + 50).is_ok(), "{e}: touch extended");
        let item = s.get_touch(b"k", T0 + 60, T0 + 50).unwrap();
        assert_eq!(item.value, b"v", "{e}");
        assert_eq!(item.exptime, T0 + 60, "{e}: gat reports the new exptime");
        assert_eq!(
            s.get(b"k", T0 + 60),
            Err(Status::NotFound),
            "{e}: gat shortened"
        );
        set(s, b"p", b"v", 0, T0 + 10, T0);
        s.touch(b"p", 0, T0).unwrap();
        assert!(s.get(b"p", T0 + 1_000_000).is_ok(), "{e}: touch 0 = never");
    });
}

#[test]
fn immediate_flush_spares_later_writes() {
    each_engine(|e, s| {
        set(s, b"a", b"1", 0, 0, T0);
        set(s, b"b", b"2", 0, 0, T0);
        s.flush(T0, T0).unwrap();
        assert_eq!(s.get(b"a", T0), Err(Status::NotFound), "{e}");
        assert_eq!(s.get(b"b", T0), Err(Status::NotFound), "{e}");
        set(s, b"c", b"3", 0, 0, T0);
        assert_eq!(
            s.get(b"c", T0).unwrap().value,
            b"3",
            "{e}: same-second write survives"
        );
        s.store(StoreMode::Add, b"a", b"again", 0, 0, T0)
            .expect("add after flush");
    });
}

#[test]
fn delayed_flush_takes_effect_at_its_time() {
    each_engine(|e, s| {
        set(s, b"a", b"1", 0, 0, T0);
        s.flush(T0 + 10, T0).unwrap();
        assert!(s.get(b"a", T0 + 9).is_ok(), "{e}: not yet");
        set(s, b"b", b"2", 0, 0, T0 + 5);
        assert_eq!(s.get(b"a", T0 + 10), Err(Status::NotFound), "{e}");
        assert_eq!(
            s.get(b"b", T0 + 10),
            Err(Status::NotFound),
            "{e}: written before the flush time"
        );
        set(s, b"c", b"3", 0, 0, T0 + 11);
        assert!(s.get(b"c", T0 + 12).is_ok(), "{e}: written after");
    });
}

#[test]
fn invalid_keys_and_oversized_values_are_refused() {
    for engine in ENGINES {
        let cfg = StorageConfig {
            item_size_max: 2048,
            ..StorageConfig::default()
        };
        let s = open(engine, cfg);
        let long = vec![b'k'; 251];
        assert_eq!(
            s.store(StoreMode::Set, &long, b"v", 0, 0, T0),
            Err(Status::Invalid),
            "{engine}"
        );
        assert_eq!(
            s.store(StoreMode::Set, b"", b"v", 0, 0, T0),
            Err(Status::Invalid),
            "{engine}"
        );
        assert_eq!(s.get(&long, T0), Err(Status::Invalid), "{engine}");
        let max_key = vec![b'k'; 250];
        set(&s, &max_key, b"v", 0, 0, T0);
        assert!(s.get(&max_key, T0).is_ok(), "{engine}");
        assert_eq!(
            s.store(StoreMode::Set, b"big", &vec![b'x'; 2049], 0, 0, T0),
            Err(Status::TooLarge),
            "{engine}"
        );
        set(&s, b"fits", &vec![b'x'; 1500], 0, 0, T0);
        assert_eq!(
            s.store(StoreMode::Append, b"fits", &vec![b'y'; 1000], 0, 0, T0),
            Err(Status::TooLarge),
            "{engine}: append past the limit"
        );
        assert_eq!(s.get(b"fits", T0).unwrap().value.len(), 1500, "{engine}");
    }
}

#[test]
fn stats_count_items_and_bytes() {
    each_engine(|e, s| {
        let before = s.stats(T0);
        assert_eq!(before.curr_items, 0, "{e}");
        assert_eq!(before.memory_limit, 64 << 20, "{e}");
        set(s, b"a", b"12345", 0, 0, T0);
        set(s, b"b", b"12345", 0, 0, T0);
        set(s, b"a", b"123", 0, 0, T0);
        let st = s.stats(T0);
        assert_eq!(st.curr_items, 2, "{e}");
        assert_eq!(st.total_items, 3, "{e}");
        assert!(st.bytes >= 2 * (1 + 3), "{e}: {st:?}");
        s.remove(b"a", T0).unwrap();
        assert_eq!(s.stats(T0).curr_items, 1, "{e}");
    });
}

#[test]
fn the_hash_table_grows_and_keeps_every_key() {
    each_engine(|e, s| {
        let n = 300_000u32;
        for i in 0..n {
            set(s, format!("key:{i}").as_bytes(), &i.to_le_bytes(), i, 0, T0);
        }
        for i in (0..n).step_by(7) {
            let item = s.get(format!("key:{i}").as_bytes(), T0).expect("hit");
            assert_eq!(item.value, i.to_le_bytes(), "{e}");
        }
        let st = s.stats(T0);
        assert_eq!(st.curr_items, u64::from(n), "{e}");
        assert!(st.hash_buckets > 65_536, "{e}: table grew: {st:?}");
    });
}

#[test]
fn memory_pressure_evicts_old_items_and_keeps_recent_ones() {
    for engine in ENGINES {
        let limit = 2u64 << 20;
        let s = open(
            engine,
            StorageConfig {
                memory_limit: limit,
                ..StorageConfig::default()
            },
        );
        let value = [b'v'; 100];
        let n = 100_000u32;
        for i in 0..n {
            s.store(StoreMode::Set, format!("k{i}").as_bytes(), &value, 0, 0, T0)
                .unwrap_or_else(|err| panic!("{engine}: set {i}: {err:?}"));
        }
        let st = s.stats(T0);
        assert!(st.memory_used <= limit, "{engine}: {st:?}");
        assert!(st.evictions > 0, "{engine}: {st:?}");
        for i in n - 100..n {
            assert!(
                s.get(format!("k{i}").as_bytes(), T0).is_ok(),
                "{engine}: recent k{i}"
            );
        }
        // A different size class still gets memory once the first took it all.
        let big = vec![b'b'; 50_000];
        s.store(StoreMode::Set, b"big", &big, 0, 0, T0)
            .expect("reassigned page");
        assert_eq!(s.get(b"big", T0).unwrap().value.len(), 50_000, "{engine}");
    }
}

#[test]
fn expired_items_are_reclaimed_before_live_ones_are_evicted() {
    for engine in ENGINES {
        let s = open(
            engine,
            StorageConfig {
                memory_limit: 2 << 20,
                ..StorageConfig::default()
            },
        );
        let value = [b'v'; 100];
        for i in 0..40_000u32 {
            s.store(
                StoreMode::Set,
                format!("short{i}").as_bytes(),
                &value,
                0,
                T0 + 5,
                T0,
            )
            .unwrap();
        }
        let before = s.stats(T0);
        let later = T0 + 10;
        for i in 0..5_000u32 {
            s.store(
                StoreMode::Set,
                format!("live{i}").as_bytes(),
                &value,
                0,
                0,
                later,
            )
            .unwrap();
        }
        let after = s.stats(later);
        assert_eq!(
            after.evictions, before.evictions,
            "{engine}: no live item evicted: {after:?}"
        );
        assert!(
            after.expired > before.expired,
            "{engine}: expired reclaimed: {after:?}"
        );
        for i in 0..5_000u32 {
            assert!(
                s.get(format!("live{i}").as_bytes(), later).is_ok(),
                "{engine}: live{i}"
            );
        }
    }
}

#[test]
fn concurrent_writers_never_produce_torn_values() {
    each_engine(|e, s| {
        std::thread::scope(|scope| {
            for t in 0..4u8 {
                scope.spawn(move || {
                    for i in 0..20_000u32 {
                        let key = format!("shared{}", i % 64);
                        // A value is one byte repeated: any mix of two
                        // writers' values would show two different bytes.
                        let len = 10 + (i as usize * 37 + t as usize) % 3000;
                        let v = vec![b'a' + t; len];
                        s.store(StoreMode::Set, key.as_bytes(), &v, u32::from(t), 0, T0)
                            .unwrap();
                        if let Ok(item) = s.get(key.as_bytes(), T0) {
                            let first = item.value[0];
                            assert!(item.value.iter().all(|&b| b == first), "{e}: torn value");
                            assert_eq!(
                                u32::from(first - b'a'),
                                item.flags,
                                "{e}: flags match value"
                            );
                        }
                        let _ = s.arith(b"counter", true, 1, T0);
                    }
                });
            }
        });
    });
}
