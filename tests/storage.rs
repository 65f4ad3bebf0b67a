//! The storage suite: one set of cases, written against the safe storage
//! trait (`storage::Storage`), run against every engine: the C slab engine
//! and seg through storage.h (the bindgen bindings; seg behind molt-ffi),
//! and seg directly through its Rust API. The C seam's classic commands
//! (c-core/src/storage/classic.c) and the trait's Rust expression of them
//! are both exercised. Time is moved by passing `now`, never by sleeping.

use molt::storage::{
    ArithOptions, ArithResult, ClassRow, DeleteOptions, Error, GetOptions, ItemInfo, Storage,
    StoreCommand, StoreMode, StoreOptions, WalkCursor, WalkItem,
};
use molt::{CStorage, StorageConfig};
use seg::{Seg, SegConfig};

/// Engines opened through storage.h.
const C_ENGINES: &[&str] = &["slab", "seg"];

const T0: i64 = 1_800_000_000;

fn c_engine(engine: &str, cfg: StorageConfig) -> CStorage {
    let s = CStorage::open(engine, &cfg).unwrap_or_else(|e| panic!("open {engine}: {e:?}"));
    assert_eq!(s.name(), engine);
    s
}

/// seg without the C seam, configured as molt-ffi configures it.
fn seg_engine(cfg: StorageConfig) -> Seg {
    Seg::new(SegConfig {
        memory_limit: cfg.memory_limit,
        item_size_max: cfg.item_size_max,
        ..SegConfig::default()
    })
    .expect("open seg")
}

/// Runs `body` once per engine, with `s` (a `&impl Storage`) opened from
/// `cfg` and `e` naming it. A macro, not a closure: the body is generic
/// over the engine type.
macro_rules! each_engine_with {
    ($cfg:expr, |$e:ident, $s:ident| $body:block) => {{
        let cfg: StorageConfig = $cfg;
        {
            let ($e, $s) = ("slab", &c_engine("slab", cfg));
            $body
        }
        {
            let ($e, $s) = ("seg via storage.h", &c_engine("seg", cfg));
            $body
        }
        {
            let ($e, $s) = ("seg", &seg_engine(cfg));
            $body
        }
    }};
}

/// `each_engine_with` the default configuration.
macro_rules! each_engine {
    (|$e:ident, $s:ident| $body:block) => {
        each_engine_with!(StorageConfig::default(), |$e, $s| $body)
    };
}

/// A value read back, with its metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Item {
    value: Vec<u8>,
    info: ItemInfo,
}

impl std::ops::Deref for Item {
    type Target = ItemInfo;
    fn deref(&self) -> &ItemInfo {
        &self.info
    }
}

fn item(info: &ItemInfo, value: &[u8]) -> Item {
    Item {
        value: value.to_vec(),
        info: *info,
    }
}

fn get(s: &impl Storage, key: &[u8], now: i64) -> Result<Item, Error> {
    s.get(key, now, item)
}

fn gat(s: &impl Storage, key: &[u8], exptime: i64, now: i64) -> Result<Item, Error> {
    s.get_touch(key, exptime, now, item)
}

fn set(s: &impl Storage, key: &[u8], value: &[u8], flags: u32, exptime: i64, now: i64) -> u64 {
    s.store(StoreCommand::Set, key, value, flags, exptime, now)
        .expect("set")
}

#[test]
fn engines_are_registered() {
    let names = molt::engines();
    for engine in C_ENGINES {
        assert!(
            names.iter().any(|n| n == engine),
            "{engine} missing from {names:?}"
        );
    }
    assert_eq!(
        CStorage::open("no-such-engine", &StorageConfig::default()).err(),
        Some(Error::Invalid)
    );
}

#[test]
fn set_then_get_returns_value_flags_and_cas() {
    each_engine!(|e, s| {
        let cas = set(s, b"k", b"hello", 4_294_967_295, 0, T0);
        assert!(cas > 0, "{e}");
        let item = get(s, b"k", T0).expect("hit");
        assert_eq!(item.value, b"hello", "{e}");
        assert_eq!(item.flags, 4_294_967_295, "{e}");
        assert_eq!(item.cas, cas, "{e}");
        assert_eq!(item.exptime, 0, "{e}");
        assert_eq!(get(s, b"other", T0), Err(Error::NotFound), "{e}");
    });
}

#[test]
fn values_are_binary_safe_and_may_be_empty() {
    each_engine!(|e, s| {
        let v = b"a\r\nb\0c\n\xff";
        set(s, b"bin", v, 0, 0, T0);
        assert_eq!(get(s, b"bin", T0).unwrap().value, v, "{e}");
        set(s, b"empty", b"", 0, 0, T0);
        assert_eq!(get(s, b"empty", T0).unwrap().value, b"", "{e}");
    });
}

#[test]
fn every_store_gives_a_new_cas() {
    each_engine!(|e, s| {
        let a = set(s, b"k", b"1", 0, 0, T0);
        let b = set(s, b"k", b"2", 0, 0, T0);
        let c = s.store(StoreCommand::Append, b"k", b"3", 0, 0, T0).unwrap();
        let (_, d) = s.arith(b"k", true, 1, T0).unwrap();
        let all = [a, b, c, d];
        for i in 0..all.len() {
            for j in i + 1..all.len() {
                assert_ne!(all[i], all[j], "{e}: {all:?}");
            }
        }
        assert_eq!(get(s, b"k", T0).unwrap().cas, d, "{e}");
    });
}

#[test]
fn add_and_replace_depend_on_presence() {
    each_engine!(|e, s| {
        assert_eq!(
            s.store(StoreCommand::Replace, b"k", b"x", 0, 0, T0),
            Err(Error::NotStored),
            "{e}"
        );
        s.store(StoreCommand::Add, b"k", b"first", 1, 0, T0)
            .expect("add");
        assert_eq!(
            s.store(StoreCommand::Add, b"k", b"second", 2, 0, T0),
            Err(Error::NotStored),
            "{e}"
        );
        assert_eq!(get(s, b"k", T0).unwrap().value, b"first", "{e}");
        s.store(StoreCommand::Replace, b"k", b"third", 3, 0, T0)
            .expect("replace");
        let item = get(s, b"k", T0).unwrap();
        assert_eq!(
            (item.value.as_slice(), item.flags),
            (&b"third"[..], 3),
            "{e}"
        );
    });
}

#[test]
fn add_succeeds_over_an_expired_item() {
    each_engine!(|e, s| {
        set(s, b"k", b"old", 0, T0 + 5, T0);
        s.store(StoreCommand::Add, b"k", b"new", 0, 0, T0 + 5)
            .expect("add over expired");
        assert_eq!(get(s, b"k", T0 + 5).unwrap().value, b"new", "{e}");
    });
}

#[test]
fn append_and_prepend_keep_flags_and_expiry() {
    each_engine!(|e, s| {
        assert_eq!(
            s.store(StoreCommand::Append, b"k", b"x", 0, 0, T0),
            Err(Error::NotStored),
            "{e}"
        );
        assert_eq!(
            s.store(StoreCommand::Prepend, b"k", b"x", 0, 0, T0),
            Err(Error::NotStored),
            "{e}"
        );
        set(s, b"k", b"mid", 7, T0 + 100, T0);
        s.store(StoreCommand::Append, b"k", b"-end", 99, 0, T0)
            .unwrap();
        s.store(StoreCommand::Prepend, b"k", b"start-", 98, 0, T0)
            .unwrap();
        let item = get(s, b"k", T0).unwrap();
        assert_eq!(item.value, b"start-mid-end", "{e}");
        assert_eq!(item.flags, 7, "{e}");
        assert_eq!(item.exptime, T0 + 100, "{e}");
        assert_eq!(get(s, b"k", T0 + 100), Err(Error::NotFound), "{e}");
    });
}

#[test]
fn cas_succeeds_only_with_the_current_unique() {
    each_engine!(|e, s| {
        assert_eq!(
            s.store(StoreCommand::Cas(1), b"k", b"v", 0, 0, T0),
            Err(Error::NotFound),
            "{e}"
        );
        let c1 = set(s, b"k", b"v1", 0, 0, T0);
        let c2 = s
            .store(StoreCommand::Cas(c1), b"k", b"v2", 5, 0, T0)
            .expect("cas hit");
        assert_ne!(c1, c2, "{e}");
        assert_eq!(
            s.store(StoreCommand::Cas(c1), b"k", b"v3", 0, 0, T0),
            Err(Error::Exists),
            "{e}"
        );
        let item = get(s, b"k", T0).unwrap();
        assert_eq!(
            (item.value.as_slice(), item.flags, item.cas),
            (&b"v2"[..], 5, c2),
            "{e}"
        );
        // touch does not change the unique, so a cas after it still wins
        s.touch(b"k", T0 + 50, T0).unwrap();
        s.store(StoreCommand::Cas(c2), b"k", b"v4", 0, 0, T0)
            .expect("cas after touch");
    });
}

#[test]
fn incr_wraps_and_decr_floors_at_zero() {
    each_engine!(|e, s| {
        assert_eq!(s.arith(b"n", true, 1, T0), Err(Error::NotFound), "{e}");
        set(s, b"n", b"18446744073709551615", 3, 0, T0);
        assert_eq!(s.arith(b"n", true, 1, T0).unwrap().0, 0, "{e}");
        assert_eq!(s.arith(b"n", true, 41, T0).unwrap().0, 41, "{e}");
        assert_eq!(s.arith(b"n", false, 100, T0).unwrap().0, 0, "{e}");
        set(s, b"n", b"10", 3, 0, T0);
        assert_eq!(s.arith(b"n", false, 1, T0).unwrap().0, 9, "{e}");
        let item = get(s, b"n", T0).unwrap();
        // memcached's rule: a shorter number is padded to the old length
        assert_eq!(item.value, b"9 ", "{e}: value padded in place");
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
    each_engine!(|e, s| {
        for bad in [&b"abc"[..], b"", b"12a", b"-1", b"18446744073709551616"] {
            set(s, b"n", bad, 0, 0, T0);
            assert_eq!(
                s.arith(b"n", true, 1, T0),
                Err(Error::NonNumeric),
                "{e}: {bad:?}"
            );
            assert_eq!(get(s, b"n", T0).unwrap().value, bad, "{e}: value untouched");
        }
    });
}

#[test]
fn incr_reads_values_as_memcached_does() {
    // safe_strtoull over the stored value: white space, a sign, and
    // anything after the number's first white space or NUL ignored.
    each_engine!(|e, s| {
        for (v, want) in [
            (&b"+5"[..], 6),
            (b"-0", 1),
            (b" 5 x", 6),
            (b"5\0x", 6),
            (b"17\n77", 18),
        ] {
            set(s, b"n", v, 0, 0, T0);
            assert_eq!(
                s.arith(b"n", true, 1, T0).map(|(v, _)| v),
                Ok(want),
                "{e}: {v:?}"
            );
        }
    });
}

#[test]
fn delete_removes_live_items_only() {
    each_engine!(|e, s| {
        assert_eq!(s.remove(b"k", T0), Err(Error::NotFound), "{e}");
        set(s, b"k", b"v", 0, 0, T0);
        s.remove(b"k", T0).unwrap();
        assert_eq!(get(s, b"k", T0), Err(Error::NotFound), "{e}");
        set(s, b"x", b"v", 0, T0 + 1, T0);
        assert_eq!(s.remove(b"x", T0 + 1), Err(Error::NotFound), "{e}: expired");
    });
}

#[test]
fn items_expire_exactly_at_their_exptime() {
    each_engine!(|e, s| {
        set(s, b"k", b"v", 0, T0 + 10, T0);
        assert!(get(s, b"k", T0 + 9).is_ok(), "{e}");
        assert_eq!(get(s, b"k", T0 + 10), Err(Error::NotFound), "{e}");
        set(s, b"past", b"v", 0, T0 - 1, T0);
        assert_eq!(get(s, b"past", T0), Err(Error::NotFound), "{e}");
    });
}

#[test]
fn touch_and_gat_move_expiry() {
    each_engine!(|e, s| {
        assert_eq!(s.touch(b"k", 0, T0), Err(Error::NotFound), "{e}");
        assert_eq!(gat(s, b"k", 0, T0), Err(Error::NotFound), "{e}");
        set(s, b"k", b"v", 0, T0 + 10, T0);
        s.touch(b"k", T0 + 100, T0).unwrap();
        assert!(get(s, b"k", T0 + 50).is_ok(), "{e}: touch extended");
        let item = gat(s, b"k", T0 + 60, T0 + 50).unwrap();
        assert_eq!(item.value, b"v", "{e}");
        assert_eq!(item.exptime, T0 + 60, "{e}: gat reports the new exptime");
        assert_eq!(
            get(s, b"k", T0 + 60),
            Err(Error::NotFound),
            "{e}: gat shortened"
        );
        set(s, b"p", b"v", 0, T0 + 10, T0);
        s.touch(b"p", 0, T0).unwrap();
        assert!(get(s, b"p", T0 + 1_000_000).is_ok(), "{e}: touch 0 = never");
    });
}

#[test]
fn immediate_flush_spares_later_writes() {
    each_engine!(|e, s| {
        set(s, b"a", b"1", 0, 0, T0);
        set(s, b"b", b"2", 0, 0, T0);
        s.flush(T0, T0).unwrap();
        assert_eq!(get(s, b"a", T0), Err(Error::NotFound), "{e}");
        assert_eq!(get(s, b"b", T0), Err(Error::NotFound), "{e}");
        set(s, b"c", b"3", 0, 0, T0);
        assert_eq!(
            get(s, b"c", T0).unwrap().value,
            b"3",
            "{e}: same-second write survives"
        );
        s.store(StoreCommand::Add, b"a", b"again", 0, 0, T0)
            .expect("add after flush");
    });
}

#[test]
fn delayed_flush_applies_before_a_store_at_its_time() {
    each_engine!(|e, s| {
        set(s, b"a", b"1", 0, 0, T0);
        s.flush(T0 + 10, T0).unwrap();
        s.flush(T0 + 20, T0).unwrap();
        set(s, b"c", b"3", 0, 0, T0 + 10); // first call at the flush time
        assert!(get(s, b"c", T0 + 10).is_ok(), "{e}");
        assert_eq!(get(s, b"a", T0 + 10), Err(Error::NotFound), "{e}");
        assert_eq!(
            get(s, b"c", T0 + 20),
            Err(Error::NotFound),
            "{e}: second flush"
        );
    });
}

#[test]
fn delayed_flush_takes_effect_at_its_time() {
    each_engine!(|e, s| {
        set(s, b"a", b"1", 0, 0, T0);
        s.flush(T0 + 10, T0).unwrap();
        assert!(get(s, b"a", T0 + 9).is_ok(), "{e}: not yet");
        set(s, b"b", b"2", 0, 0, T0 + 5);
        assert_eq!(get(s, b"a", T0 + 10), Err(Error::NotFound), "{e}");
        assert_eq!(
            get(s, b"b", T0 + 10),
            Err(Error::NotFound),
            "{e}: written before the flush time"
        );
        set(s, b"c", b"3", 0, 0, T0 + 11);
        assert!(get(s, b"c", T0 + 12).is_ok(), "{e}: written after");
    });
}

#[test]
fn invalid_keys_and_oversized_values_are_refused() {
    each_engine_with!(
        StorageConfig {
            item_size_max: 2048,
            ..StorageConfig::default()
        },
        |engine, s| {
            let long = vec![b'k'; 251];
            assert_eq!(
                s.store(StoreCommand::Set, &long, b"v", 0, 0, T0),
                Err(Error::Invalid),
                "{engine}"
            );
            assert_eq!(
                s.store(StoreCommand::Set, b"", b"v", 0, 0, T0),
                Err(Error::Invalid),
                "{engine}"
            );
            assert_eq!(get(s, &long, T0), Err(Error::Invalid), "{engine}");
            let max_key = vec![b'k'; 250];
            set(s, &max_key, b"v", 0, 0, T0);
            assert!(get(s, &max_key, T0).is_ok(), "{engine}");
            assert_eq!(
                s.store(StoreCommand::Set, b"big", &vec![b'x'; 2049], 0, 0, T0),
                Err(Error::TooLarge),
                "{engine}"
            );
            set(s, b"fits", &vec![b'x'; 1500], 0, 0, T0);
            assert_eq!(
                s.store(StoreCommand::Append, b"fits", &vec![b'y'; 1000], 0, 0, T0),
                Err(Error::TooLarge),
                "{engine}: append past the limit"
            );
            assert_eq!(get(s, b"fits", T0).unwrap().value.len(), 1500, "{engine}");
        }
    );
}

#[test]
fn stats_count_items_and_bytes() {
    each_engine!(|e, s| {
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
    each_engine!(|e, s| {
        let n = 300_000u32;
        let first = s.stats(T0).hash_buckets;
        for i in 0..n {
            set(s, format!("key:{i}").as_bytes(), &i.to_le_bytes(), i, 0, T0);
        }
        for i in (0..n).step_by(7) {
            let item = get(s, format!("key:{i}").as_bytes(), T0).expect("hit");
            assert_eq!(item.value, i.to_le_bytes(), "{e}");
        }
        let st = s.stats(T0);
        assert_eq!(st.curr_items, u64::from(n), "{e}");
        // (Engines count buckets their own way: slab chains items from
        // 8-byte buckets, seg holds 10 in each 64-byte one.)
        assert!(
            st.hash_buckets > first,
            "{e}: table grew from {first}: {st:?}"
        );
    });
}

#[test]
fn memory_pressure_evicts_old_items_and_keeps_recent_ones() {
    let limit = 2u64 << 20;
    each_engine_with!(
        StorageConfig {
            memory_limit: limit,
            ..StorageConfig::default()
        },
        |engine, s| {
            let value = [b'v'; 100];
            let n = 100_000u32;
            for i in 0..n {
                s.store(
                    StoreCommand::Set,
                    format!("k{i}").as_bytes(),
                    &value,
                    0,
                    0,
                    T0,
                )
                .unwrap_or_else(|err| panic!("{engine}: set {i}: {err:?}"));
            }
            let st = s.stats(T0);
            assert!(st.memory_used <= limit, "{engine}: {st:?}");
            assert!(st.evictions > 0, "{engine}: {st:?}");
            for i in n - 100..n {
                assert!(
                    get(s, format!("k{i}").as_bytes(), T0).is_ok(),
                    "{engine}: recent k{i}"
                );
            }
            // A different size class still gets memory once the first took it all.
            let big = vec![b'b'; 50_000];
            s.store(StoreCommand::Set, b"big", &big, 0, 0, T0)
                .expect("reassigned page");
            assert_eq!(get(s, b"big", T0).unwrap().value.len(), 50_000, "{engine}");
        }
    );
}

#[test]
fn expired_items_are_reclaimed_before_live_ones_are_evicted() {
    each_engine_with!(
        StorageConfig {
            memory_limit: 2 << 20,
            ..StorageConfig::default()
        },
        |engine, s| {
            let value = [b'v'; 100];
            for i in 0..40_000u32 {
                set(s, format!("short{i}").as_bytes(), &value, 0, T0 + 5, T0);
            }
            let before = s.stats(T0);
            let later = T0 + 10;
            for i in 0..5_000u32 {
                set(s, format!("live{i}").as_bytes(), &value, 0, 0, later);
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
                    get(s, format!("live{i}").as_bytes(), later).is_ok(),
                    "{engine}: live{i}"
                );
            }
        }
    );
}

#[test]
fn concurrent_writers_never_produce_torn_values() {
    each_engine!(|e, s| {
        std::thread::scope(|scope| {
            for t in 0..4u8 {
                scope.spawn(move || {
                    for i in 0..20_000u32 {
                        let key = format!("shared{}", i % 64);
                        // A value is one byte repeated: any mix of two
                        // writers' values would show two different bytes.
                        let len = 10 + (i as usize * 37 + t as usize) % 3000;
                        let v = vec![b'a' + t; len];
                        s.store(StoreCommand::Set, key.as_bytes(), &v, u32::from(t), 0, T0)
                            .unwrap();
                        if let Ok(item) = get(s, key.as_bytes(), T0) {
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

// ---- the meta protocol's semantics (mg/ms/md/ma) ----------------------------

fn mg(s: &impl Storage, key: &[u8], now: i64, o: GetOptions) -> Result<Item, Error> {
    s.meta_get(key, now, &o, item)
}

/// A meta incr/decr as the protocol states it: M and D beside the options.
#[derive(Clone, Copy)]
struct MetaArithOptions {
    incr: bool,
    delta: u64,
    compare_cas: Option<u64>,
    new_cas: Option<u64>,
    vivify: Option<i64>,
    initial: u64,
    touch: Option<i64>,
}

impl Default for MetaArithOptions {
    fn default() -> Self {
        MetaArithOptions {
            incr: true,
            delta: 1,
            compare_cas: None,
            new_cas: None,
            vivify: None,
            initial: 0,
            touch: None,
        }
    }
}

fn ma(s: &impl Storage, key: &[u8], now: i64, o: &MetaArithOptions) -> Result<ArithResult, Error> {
    let opts = ArithOptions {
        compare_cas: o.compare_cas,
        new_cas: o.new_cas,
        vivify: o.vivify,
        initial: o.initial,
        touch: o.touch,
    };
    s.meta_arith(key, o.incr, o.delta, now, &opts)
}

fn no_bump() -> GetOptions {
    GetOptions {
        no_bump: true,
        ..GetOptions::default()
    }
}

#[test]
fn reads_report_fetched_and_last_access() {
    each_engine!(|e, s| {
        set(s, b"k", b"v", 0, 0, T0);
        let first = get(s, b"k", T0 + 5).unwrap();
        assert!(!first.fetched, "{e}: not read before");
        assert_eq!(first.last_access, T0, "{e}: store time until read");
        assert!(!first.stale && !first.win && !first.win_taken, "{e}");
        let second = get(s, b"k", T0 + 9).unwrap();
        assert!(second.fetched, "{e}");
        assert_eq!(second.last_access, T0 + 5, "{e}: the previous access");
        let third = mg(s, b"k", T0 + 20, GetOptions::default()).unwrap();
        assert_eq!((third.fetched, third.last_access), (true, T0 + 9), "{e}");
        // u: reported, but leaves the access state alone
        let quiet = mg(s, b"k", T0 + 30, no_bump()).unwrap();
        assert_eq!(quiet.last_access, T0 + 20, "{e}");
        assert_eq!(get(s, b"k", T0 + 31).unwrap().last_access, T0 + 20, "{e}");
        // a new version starts afresh
        set(s, b"k", b"w", 0, 0, T0 + 40);
        let fresh = get(s, b"k", T0 + 41).unwrap();
        assert_eq!((fresh.fetched, fresh.last_access), (false, T0 + 40), "{e}");

        set(s, b"never", b"v", 0, 0, T0);
        mg(s, b"never", T0 + 1, no_bump()).unwrap();
        let n = mg(s, b"never", T0 + 2, no_bump()).unwrap();
        assert_eq!(
            (n.fetched, n.last_access),
            (false, T0),
            "{e}: u sets no fetched"
        );

        // touch and gat are accesses too
        set(s, b"t", b"v", 0, 0, T0);
        s.touch(b"t", T0 + 100, T0 + 3).unwrap();
        let t = get(s, b"t", T0 + 4).unwrap();
        assert_eq!((t.fetched, t.last_access), (true, T0 + 3), "{e}");
        gat(s, b"t", T0 + 200, T0 + 6).unwrap();
        assert_eq!(get(s, b"t", T0 + 7).unwrap().last_access, T0 + 6, "{e}");
        // arith writes a new version
        set(s, b"n", b"1", 0, 0, T0);
        get(s, b"n", T0 + 1).unwrap();
        s.arith(b"n", true, 1, T0 + 2).unwrap();
        let n = get(s, b"n", T0 + 3).unwrap();
        assert_eq!((n.fetched, n.last_access), (false, T0 + 2), "{e}");
    });
}

#[test]
fn meta_get_touch_sets_exptime_and_keeps_cas() {
    each_engine!(|e, s| {
        let cas = set(s, b"k", b"v", 0, T0 + 10, T0);
        let touch = |t| GetOptions {
            touch: Some(t),
            ..GetOptions::default()
        };
        let item = mg(s, b"k", T0, touch(T0 + 100)).unwrap();
        assert_eq!((item.exptime, item.cas), (T0 + 100, cas), "{e}");
        assert_eq!(get(s, b"k", T0 + 50).unwrap().exptime, T0 + 100, "{e}");
        assert_eq!(mg(s, b"k", T0 + 50, touch(0)).unwrap().exptime, 0, "{e}");
        assert!(get(s, b"k", T0 + 1_000_000).is_ok(), "{e}: 0 = never");
        // with u: the exptime moves, the access state does not
        let quiet = GetOptions {
            touch: Some(T0 + 300),
            no_bump: true,
            ..GetOptions::default()
        };
        let before = get(s, b"k", T0 + 60).unwrap();
        mg(s, b"k", T0 + 70, quiet).unwrap();
        let after = mg(s, b"k", T0 + 80, no_bump()).unwrap();
        assert_eq!(after.exptime, T0 + 300, "{e}");
        assert_eq!(after.last_access, T0 + 60, "{e}: {before:?}");
        // a past time serves once, then the item is gone
        let gone = mg(s, b"k", T0 + 90, touch(T0 + 1)).unwrap();
        assert_eq!(gone.value, b"v", "{e}");
        assert_eq!(get(s, b"k", T0 + 90), Err(Error::NotFound), "{e}");
    });
}

#[test]
fn no_bump_reads_are_evicted_before_normal_reads() {
    each_engine_with!(
        StorageConfig {
            memory_limit: 2 << 20,
            ..StorageConfig::default()
        },
        |engine, s| {
            let value = [b'v'; 100];
            // "normal" is stored first, so by store order it would go first.
            set(s, b"normal00", &value, 0, 0, T0);
            set(s, b"nobump00", &value, 0, 0, T0);
            get(s, b"normal00", T0).unwrap();
            mg(s, b"nobump00", T0, no_bump()).unwrap();
            let mut evicted_at = None;
            for i in 0..200_000u32 {
                set(s, format!("f{i:07}").as_bytes(), &value, 0, 0, T0);
                if mg(s, b"nobump00", T0, no_bump()).is_err() {
                    evicted_at = Some(i);
                    break;
                }
            }
            assert!(evicted_at.is_some(), "{engine}: memory pressure evicts");
            assert!(
                mg(s, b"normal00", T0, no_bump()).is_ok(),
                "{engine}: the normally read item outlives the u-read one ({evicted_at:?})"
            );
        }
    );
}

#[test]
fn vivify_on_miss_creates_an_empty_item_and_one_winner() {
    each_engine!(|e, s| {
        let viv = GetOptions {
            vivify: Some(T0 + 30),
            ..GetOptions::default()
        };
        let first = mg(s, b"v", T0, viv).unwrap();
        assert_eq!(first.value, b"", "{e}");
        assert_eq!((first.flags, first.exptime), (0, T0 + 30), "{e}");
        assert!(
            first.win && !first.win_taken && !first.fetched,
            "{e}: {first:?}"
        );
        assert_eq!(first.last_access, T0, "{e}");
        assert!(first.cas > 0, "{e}");
        let second = mg(s, b"v", T0 + 1, viv).unwrap();
        assert!(!second.win && second.win_taken, "{e}: {second:?}");
        assert!(second.fetched, "{e}: the vivifying read was an access");
        assert_eq!(second.cas, first.cas, "{e}: not created again");
        let third = get(s, b"v", T0 + 2).unwrap();
        assert!(
            !third.win && third.win_taken,
            "{e}: classic reads see Z too"
        );
        // stored again: the win state is cleared
        set(s, b"v", b"filled", 0, T0 + 30, T0 + 3);
        let filled = mg(s, b"v", T0 + 4, viv).unwrap();
        assert!(!filled.win && !filled.win_taken, "{e}: {filled:?}");
        assert_eq!(filled.value, b"filled", "{e}");
        // E gives the created item its cas
        let with_cas = GetOptions {
            vivify: Some(0),
            new_cas: Some(777),
            ..GetOptions::default()
        };
        let made = mg(s, b"v2", T0, with_cas).unwrap();
        assert_eq!((made.cas, made.exptime), (777, 0), "{e}");
        assert_eq!(get(s, b"v2", T0).unwrap().cas, 777, "{e}");
        assert_eq!(
            mg(s, b"none", T0, GetOptions::default()),
            Err(Error::NotFound),
            "{e}"
        );
        assert_eq!(
            get(s, b"none", T0),
            Err(Error::NotFound),
            "{e}: nothing made"
        );
    });
}

#[test]
fn recache_wins_once_when_the_ttl_runs_low() {
    each_engine!(|e, s| {
        let r30 = GetOptions {
            recache: Some(30),
            ..GetOptions::default()
        };
        set(s, b"k", b"v", 0, T0 + 100, T0);
        assert!(!mg(s, b"k", T0, r30).unwrap().win, "{e}: 100 s left");
        assert!(!mg(s, b"k", T0 + 70, r30).unwrap().win, "{e}: 30 s left");
        let won = mg(s, b"k", T0 + 75, r30).unwrap();
        assert!(won.win && !won.win_taken, "{e}: 25 s left: {won:?}");
        let later = mg(s, b"k", T0 + 76, r30).unwrap();
        assert!(!later.win && later.win_taken, "{e}: {later:?}");
        // a new version may be won again
        set(s, b"k", b"v2", 0, T0 + 100, T0 + 80);
        assert!(mg(s, b"k", T0 + 80, r30).unwrap().win, "{e}");
        // no expiry, no recache win
        set(s, b"forever", b"v", 0, 0, T0);
        let big = GetOptions {
            recache: Some(1 << 40),
            ..GetOptions::default()
        };
        assert!(!mg(s, b"forever", T0, big).unwrap().win, "{e}");
        // T applies before R
        set(s, b"t", b"v", 0, T0 + 1000, T0);
        let touch_low = GetOptions {
            touch: Some(T0 + 10),
            recache: Some(30),
            ..GetOptions::default()
        };
        assert!(mg(s, b"t", T0, touch_low).unwrap().win, "{e}");
    });
}

#[test]
fn meta_delete_invalidate_keeps_a_stale_readable_item() {
    each_engine!(|e, s| {
        let c1 = set(s, b"k", b"hi", 3, T0 + 100, T0);
        let inval = DeleteOptions {
            invalidate: true,
            touch: Some(T0 + 30),
            ..DeleteOptions::default()
        };
        s.meta_delete(b"k", T0, &inval).unwrap();
        let first = mg(s, b"k", T0 + 1, GetOptions::default()).unwrap();
        assert_eq!(
            (first.value.as_slice(), first.flags),
            (&b"hi"[..], 3),
            "{e}"
        );
        assert!(
            first.stale && first.win && !first.win_taken,
            "{e}: {first:?}"
        );
        assert!(first.cas != c1, "{e}: invalidation takes a new cas");
        assert_eq!(first.exptime, T0 + 30, "{e}: T");
        let second = mg(s, b"k", T0 + 2, GetOptions::default()).unwrap();
        assert!(
            second.stale && !second.win && second.win_taken,
            "{e}: {second:?}"
        );
        assert_eq!(second.cas, first.cas, "{e}");
        // invalidating again hands out a new win
        s.meta_delete(
            b"k",
            T0 + 3,
            &DeleteOptions {
                invalidate: true,
                new_cas: Some(999),
                ..DeleteOptions::default()
            },
        )
        .unwrap();
        let again = get(s, b"k", T0 + 4).unwrap();
        assert_eq!((again.cas, again.exptime), (999, T0 + 30), "{e}: E; T kept");
        assert!(again.stale && !again.win_taken, "{e}: {again:?}");
        assert!(
            mg(s, b"k", T0 + 5, GetOptions::default()).unwrap().win,
            "{e}"
        );
        // a fresh store clears stale
        set(s, b"k", b"new", 0, 0, T0 + 6);
        let fresh = mg(s, b"k", T0 + 7, GetOptions::default()).unwrap();
        assert!(
            !fresh.stale && !fresh.win && !fresh.win_taken,
            "{e}: {fresh:?}"
        );
        // invalidate with a past T removes the item
        s.meta_delete(
            b"k",
            T0 + 8,
            &DeleteOptions {
                invalidate: true,
                touch: Some(T0 + 1),
                ..DeleteOptions::default()
            },
        )
        .unwrap();
        assert_eq!(get(s, b"k", T0 + 8), Err(Error::NotFound), "{e}");
        // a plain meta delete removes
        set(s, b"d", b"v", 0, 0, T0);
        s.meta_delete(b"d", T0, &DeleteOptions::default()).unwrap();
        assert_eq!(get(s, b"d", T0), Err(Error::NotFound), "{e}");
    });
}

#[test]
fn meta_store_with_an_older_cas_and_invalidate_stores_stale() {
    each_engine!(|e, s| {
        let c1 = set(s, b"k", b"v1", 0, T0 + 100, T0);
        let c2 = set(s, b"k", b"v2", 0, T0 + 100, T0);
        assert!(c1 < c2, "{e}");
        let opts = |c| StoreOptions {
            compare_cas: Some(c),
            invalidate: true,
            ..StoreOptions::default()
        };
        // older compare_cas: stored (HD), but stale, keeping the exptime
        let c3 = s
            .meta_store(StoreMode::Set, b"k", b"old", 0, T0 + 500, T0 + 1, &opts(c1))
            .expect("stale store");
        let item = mg(s, b"k", T0 + 1, GetOptions::default()).unwrap();
        assert_eq!(item.value, b"old", "{e}");
        assert_eq!((item.cas, item.exptime), (c3, T0 + 100), "{e}");
        assert!(item.stale && item.win, "{e}: {item:?}");
        // a stale store keeps the win state: the next one sees Z
        s.meta_store(StoreMode::Set, b"k", b"older", 0, 0, T0 + 2, &opts(c1))
            .unwrap();
        let z = mg(s, b"k", T0 + 2, GetOptions::default()).unwrap();
        assert!(z.stale && !z.win && z.win_taken, "{e}: {z:?}");
        // a newer mismatch is refused
        assert_eq!(
            s.meta_store(StoreMode::Set, b"k", b"x", 0, 0, T0 + 3, &opts(z.cas + 100)),
            Err(Error::Exists),
            "{e}"
        );
        // without invalidate an older cas is refused
        let plain = StoreOptions {
            compare_cas: Some(c1),
            ..StoreOptions::default()
        };
        assert_eq!(
            s.meta_store(StoreMode::Set, b"k", b"x", 0, 0, T0 + 3, &plain),
            Err(Error::Exists),
            "{e}"
        );
        // an equal cas is a normal store: not stale, its own exptime
        s.meta_store(
            StoreMode::Set,
            b"k",
            b"cur",
            0,
            T0 + 900,
            T0 + 4,
            &opts(z.cas),
        )
        .unwrap();
        let cur = get(s, b"k", T0 + 4).unwrap();
        assert_eq!(cur.value, b"cur", "{e}");
        assert!(!cur.stale && !cur.win_taken, "{e}: {cur:?}");
        assert_eq!(cur.exptime, T0 + 900, "{e}");
    });
}

#[test]
fn compare_cas_guards_delete_arith_and_store() {
    each_engine!(|e, s| {
        let cmp = |c| StoreOptions {
            compare_cas: Some(c),
            ..StoreOptions::default()
        };
        let del = |c| DeleteOptions {
            compare_cas: Some(c),
            ..DeleteOptions::default()
        };
        let ari = |c| MetaArithOptions {
            compare_cas: Some(c),
            ..MetaArithOptions::default()
        };
        // missing
        assert_eq!(
            s.meta_delete(b"n", T0, &del(1)),
            Err(Error::NotFound),
            "{e}"
        );
        assert_eq!(ma(s, b"n", T0, &ari(1)), Err(Error::NotFound), "{e}");
        for mode in [StoreMode::Set, StoreMode::Replace] {
            assert_eq!(
                s.meta_store(mode, b"n", b"1", 0, 0, T0, &cmp(1)),
                Err(Error::NotFound),
                "{e}: {mode:?}"
            );
        }
        for mode in [StoreMode::Append, StoreMode::Prepend] {
            assert_eq!(
                s.meta_store(mode, b"n", b"1", 0, 0, T0, &cmp(1)),
                Err(Error::NotStored),
                "{e}: {mode:?}"
            );
        }
        // mismatch
        let c = set(s, b"n", b"5", 0, 0, T0);
        assert_eq!(
            s.meta_delete(b"n", T0, &del(c + 1)),
            Err(Error::Exists),
            "{e}"
        );
        assert_eq!(ma(s, b"n", T0, &ari(c + 1)), Err(Error::Exists), "{e}");
        for mode in [
            StoreMode::Set,
            StoreMode::Replace,
            StoreMode::Append,
            StoreMode::Prepend,
        ] {
            assert_eq!(
                s.meta_store(mode, b"n", b"1", 0, 0, T0, &cmp(c + 1)),
                Err(Error::Exists),
                "{e}: {mode:?}"
            );
        }
        assert_eq!(get(s, b"n", T0).unwrap().value, b"5", "{e}: untouched");
        // add ignores the cas (as memcached): refused because present
        assert_eq!(
            s.meta_store(StoreMode::Add, b"n", b"1", 0, 0, T0, &cmp(c)),
            Err(Error::NotStored),
            "{e}"
        );
        // match
        let c2 = s
            .meta_store(StoreMode::Append, b"n", b"0", 0, 0, T0, &cmp(c))
            .unwrap();
        let r = ma(s, b"n", T0, &ari(c2)).unwrap();
        assert_eq!(r.value, 51, "{e}");
        s.meta_delete(b"n", T0, &del(r.cas)).unwrap();
        assert_eq!(get(s, b"n", T0), Err(Error::NotFound), "{e}");
    });
}

#[test]
fn new_cas_is_given_to_what_a_meta_call_writes() {
    each_engine!(|e, s| {
        let e_cas = |c| StoreOptions {
            new_cas: Some(c),
            ..StoreOptions::default()
        };
        assert_eq!(
            s.meta_store(StoreMode::Set, b"k", b"1", 0, 0, T0, &e_cas(5000)),
            Ok(5000),
            "{e}"
        );
        assert_eq!(get(s, b"k", T0).unwrap().cas, 5000, "{e}");
        assert_eq!(
            s.meta_store(StoreMode::Append, b"k", b"0", 0, 0, T0, &e_cas(5500)),
            Ok(5500),
            "{e}"
        );
        let r = ma(
            s,
            b"k",
            T0,
            &MetaArithOptions {
                new_cas: Some(6000),
                ..MetaArithOptions::default()
            },
        )
        .unwrap();
        assert_eq!((r.value, r.cas), (11, 6000), "{e}");
        let v = ma(
            s,
            b"viv",
            T0,
            &MetaArithOptions {
                new_cas: Some(7000),
                vivify: Some(0),
                ..MetaArithOptions::default()
            },
        )
        .unwrap();
        assert_eq!(v.cas, 7000, "{e}");
        s.meta_delete(
            b"k",
            T0,
            &DeleteOptions {
                invalidate: true,
                new_cas: Some(8000),
                ..DeleteOptions::default()
            },
        )
        .unwrap();
        assert_eq!(get(s, b"k", T0).unwrap().cas, 8000, "{e}");
        // the classic cas works against it
        s.store(StoreCommand::Cas(8000), b"k", b"x", 0, 0, T0)
            .expect("cas after E");
        // the counter still hands out fresh values afterwards
        let next = set(s, b"other", b"v", 0, 0, T0);
        assert!(
            ![5000, 5500, 6000, 7000, 8000].contains(&next),
            "{e}: {next}"
        );
    });
}

#[test]
fn clear_value_keeps_an_empty_item() {
    each_engine!(|e, s| {
        let c = set(s, b"k", b"abc", 5, T0 + 100, T0);
        get(s, b"k", T0).unwrap();
        let x = DeleteOptions {
            clear_value: true,
            ..DeleteOptions::default()
        };
        s.meta_delete(b"k", T0 + 1, &x).unwrap();
        let item = get(s, b"k", T0 + 2).unwrap();
        assert_eq!(item.value, b"", "{e}");
        assert_eq!(
            (item.flags, item.cas, item.exptime),
            (0, c, T0 + 100),
            "{e}"
        );
        assert!(!item.fetched, "{e}: a new version");
        // with E, and with I (stale, new cas)
        s.meta_delete(
            b"k",
            T0 + 3,
            &DeleteOptions {
                new_cas: Some(4242),
                ..x
            },
        )
        .unwrap();
        assert_eq!(get(s, b"k", T0 + 3).unwrap().cas, 4242, "{e}");
        set(s, b"s", b"abc", 1, 0, T0);
        s.meta_delete(
            b"s",
            T0,
            &DeleteOptions {
                invalidate: true,
                ..x
            },
        )
        .unwrap();
        let st = mg(s, b"s", T0, GetOptions::default()).unwrap();
        assert_eq!(st.value, b"", "{e}");
        assert!(st.stale && st.win, "{e}: {st:?}");
        assert_eq!(
            s.meta_delete(b"missing", T0, &x),
            Err(Error::NotFound),
            "{e}"
        );
    });
}

#[test]
fn meta_arith_vivifies_with_the_initial_value() {
    each_engine!(|e, s| {
        let viv = MetaArithOptions {
            vivify: Some(0),
            initial: 13,
            delta: 5,
            ..MetaArithOptions::default()
        };
        let r = ma(s, b"c", T0, &viv).unwrap();
        assert_eq!((r.value, r.exptime), (13, 0), "{e}: no delta on creation");
        let item = get(s, b"c", T0).unwrap();
        assert_eq!(
            (item.value.as_slice(), item.flags, item.cas),
            (&b"13"[..], 0, r.cas),
            "{e}"
        );
        let r2 = ma(s, b"c", T0, &viv).unwrap();
        assert_eq!(r2.value, 18, "{e}: present: the delta applies");
        let down = MetaArithOptions {
            incr: false,
            vivify: Some(T0 + 60),
            initial: 7,
            delta: 3,
            ..MetaArithOptions::default()
        };
        let d = ma(s, b"d", T0, &down).unwrap();
        assert_eq!((d.value, d.exptime), (7, T0 + 60), "{e}");
        assert_eq!(ma(s, b"d", T0, &down).unwrap().value, 4, "{e}");
        assert_eq!(get(s, b"d", T0 + 60), Err(Error::NotFound), "{e}: N's TTL");
        assert_eq!(
            ma(s, b"none", T0, &MetaArithOptions::default()),
            Err(Error::NotFound),
            "{e}"
        );
    });
}

#[test]
fn meta_arith_touch_sets_the_exptime() {
    each_engine!(|e, s| {
        set(s, b"n", b"10", 4, T0 + 1000, T0);
        let plain = ma(s, b"n", T0, &MetaArithOptions::default()).unwrap();
        assert_eq!((plain.value, plain.exptime), (11, T0 + 1000), "{e}");
        let t = MetaArithOptions {
            touch: Some(T0 + 50),
            ..MetaArithOptions::default()
        };
        let r = ma(s, b"n", T0, &t).unwrap();
        assert_eq!((r.value, r.exptime), (12, T0 + 50), "{e}");
        assert!(r.cas != plain.cas, "{e}");
        let item = get(s, b"n", T0 + 49).unwrap();
        assert_eq!((item.value.as_slice(), item.flags), (&b"12"[..], 4), "{e}");
        assert_eq!(item.exptime, T0 + 50, "{e}");
        assert_eq!(get(s, b"n", T0 + 50), Err(Error::NotFound), "{e}");
        set(s, b"m", b"abc", 0, 0, T0);
        assert_eq!(ma(s, b"m", T0, &t), Err(Error::NonNumeric), "{e}");
    });
}

#[test]
fn append_and_prepend_vivify_a_missing_key() {
    each_engine!(|e, s| {
        let viv = StoreOptions {
            vivify: Some(T0 + 60),
            ..StoreOptions::default()
        };
        s.meta_store(StoreMode::Append, b"a", b"ab", 9, 0, T0, &viv)
            .unwrap();
        let item = get(s, b"a", T0).unwrap();
        assert_eq!(item.value, b"ab", "{e}");
        assert_eq!((item.flags, item.exptime), (9, T0 + 60), "{e}");
        // present: an ordinary append, keeping flags and exptime
        s.meta_store(StoreMode::Append, b"a", b"cd", 1, T0 + 999, T0, &viv)
            .unwrap();
        let item = get(s, b"a", T0).unwrap();
        assert_eq!(
            (item.value.as_slice(), item.flags),
            (&b"abcd"[..], 9),
            "{e}"
        );
        assert_eq!(item.exptime, T0 + 60, "{e}");
        s.meta_store(StoreMode::Prepend, b"p", b"xy", 0, 0, T0, &viv)
            .unwrap();
        assert_eq!(get(s, b"p", T0).unwrap().value, b"xy", "{e}");
        assert_eq!(
            s.meta_store(
                StoreMode::Prepend,
                b"q",
                b"xy",
                0,
                0,
                T0,
                &StoreOptions::default()
            ),
            Err(Error::NotStored),
            "{e}"
        );
    });
}

#[test]
fn meta_calls_refuse_bad_keys() {
    each_engine!(|e, s| {
        let long = vec![b'k'; 251];
        for key in [&b""[..], &long] {
            assert_eq!(
                mg(s, key, T0, GetOptions::default()),
                Err(Error::Invalid),
                "{e}"
            );
            assert_eq!(
                s.meta_store(
                    StoreMode::Set,
                    key,
                    b"v",
                    0,
                    0,
                    T0,
                    &StoreOptions::default()
                ),
                Err(Error::Invalid),
                "{e}"
            );
            assert_eq!(
                s.meta_delete(key, T0, &DeleteOptions::default()),
                Err(Error::Invalid),
                "{e}"
            );
            assert_eq!(
                ma(s, key, T0, &MetaArithOptions::default()),
                Err(Error::Invalid),
                "{e}"
            );
        }
    });
}

// ---- the layout reports: classes and walk -------------------------------

/// Every class row, in order.
fn class_rows(s: &impl Storage, now: i64) -> Vec<ClassRow> {
    let mut rows = Vec::new();
    s.classes(now, &mut |r| rows.push(*r)).unwrap();
    rows
}

/// A walked item, owned: its key, and the rest of what the walk reported.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Walked {
    key: Vec<u8>,
    item: WalkItem<'static>,
}

impl std::ops::Deref for Walked {
    type Target = WalkItem<'static>;
    fn deref(&self) -> &WalkItem<'static> {
        &self.item
    }
}

/// The whole walk in slices of `max`; also the number of slices taken.
fn walk_all(s: &impl Storage, now: i64, max: usize) -> (Vec<Walked>, usize) {
    let mut cursor = WalkCursor::default();
    let mut out = Vec::new();
    let mut slices = 0;
    while !cursor.done {
        let before = out.len();
        s.walk(now, &mut cursor, max, &mut |w| {
            out.push(Walked {
                key: w.key.to_vec(),
                item: WalkItem { key: &[], ..*w },
            })
        })
        .unwrap();
        assert!(
            out.len() - before <= max,
            "a slice visits at most max items"
        );
        slices += 1;
        assert!(slices < 100_000, "the walk ends");
    }
    (out, slices)
}

#[test]
fn an_empty_engine_reports_no_items() {
    each_engine!(|e, s| {
        assert!(class_rows(s, T0).iter().all(|r| r.items == 0), "{e}");
        let (items, _) = walk_all(s, T0, 10);
        assert!(items.is_empty(), "{e}");
    });
}

#[test]
fn classes_count_the_items_they_hold() {
    each_engine!(|e, s| {
        for i in 0..50u32 {
            set(s, format!("k{i}").as_bytes(), b"v", 0, 0, T0);
        }
        set(s, b"big", &vec![b'x'; 20_000], 0, 0, T0);
        set(s, b"ttl", b"v", 0, T0 + 100, T0);
        let rows = class_rows(s, T0 + 5);
        assert_eq!(rows.iter().map(|r| r.items).sum::<u64>(), 52, "{e}");
        assert!(rows.len() >= 2, "{e}: {rows:?}");
        assert!(
            rows.windows(2).all(|w| w[0].id < w[1].id),
            "{e}: in id order"
        );
        for r in &rows {
            assert!(r.id >= 1 && r.pages >= 1 && r.chunk_size > 0, "{e}: {r:?}");
            assert_eq!(r.chunks, r.pages * r.chunks_per_page, "{e}: {r:?}");
            assert_eq!(
                r.used_chunks + r.free_chunks + r.free_chunks_end,
                r.chunks,
                "{e}: {r:?}"
            );
            if r.items > 0 {
                assert!(r.oldest_access > 0 && r.oldest_access <= T0, "{e}: {r:?}");
            }
        }
    });
}

#[test]
fn a_walk_in_slices_visits_every_live_item_once() {
    each_engine!(|e, s| {
        let mut want = std::collections::BTreeSet::new();
        for i in 0..300u32 {
            let key = format!("key:{i}");
            let value = vec![b'v'; (i as usize * 37) % 3000];
            set(s, key.as_bytes(), &value, i, 0, T0);
            want.insert(key.into_bytes());
        }
        set(s, b"gone", b"v", 0, T0 + 2, T0);
        set(s, b"deleted", b"v", 0, 0, T0);
        s.remove(b"deleted", T0).unwrap();
        get(s, b"key:7", T0 + 1).unwrap();
        for max in [1, 7, 64, 1000] {
            let (items, slices) = walk_all(s, T0 + 3, max);
            let keys: Vec<Vec<u8>> = items.iter().map(|w| w.key.clone()).collect();
            let set_of: std::collections::BTreeSet<Vec<u8>> = keys.iter().cloned().collect();
            assert_eq!(keys.len(), set_of.len(), "{e}: max {max}: no repeats");
            assert_eq!(set_of, want, "{e}: max {max}");
            assert!(slices >= 300 / max, "{e}: max {max}: {slices} slices");
        }
        let (items, _) = walk_all(s, T0 + 3, 64);
        let rows = class_rows(s, T0 + 3);
        for w in &items {
            let i: u32 = std::str::from_utf8(&w.key[4..]).unwrap().parse().unwrap();
            let vlen = (i as usize * 37) % 3000;
            assert_eq!(w.flags, i, "{e}");
            assert_eq!(w.exptime, 0, "{e}");
            assert_eq!(
                w.size,
                molt::storage::item_size(w.key.len(), i, vlen) as u64,
                "{e}"
            );
            assert_eq!(w.fetched, i == 7, "{e}: {w:?}");
            let la = if i == 7 { T0 + 1 } else { T0 };
            assert_eq!(w.last_access, la, "{e}: {w:?}");
            assert!(rows.iter().any(|r| r.id == w.class_id), "{e}: {w:?}");
            assert_eq!(get(s, &w.key, T0 + 3).unwrap().cas, w.cas, "{e}");
        }
    });
}

#[test]
fn a_walk_survives_writes_between_slices() {
    each_engine!(|e, s| {
        for i in 0..200u32 {
            set(s, format!("a{i}").as_bytes(), b"value", 0, 0, T0);
        }
        let mut cursor = WalkCursor::default();
        let mut seen = std::collections::BTreeSet::new();
        let mut n = 0u32;
        while !cursor.done {
            s.walk(T0, &mut cursor, 5, &mut |w| {
                seen.insert(w.key.to_vec());
            })
            .unwrap();
            // Rewrite, delete and add keys while the walk is under way.
            set(
                s,
                format!("a{}", n % 200).as_bytes(),
                b"other value",
                0,
                0,
                T0,
            );
            let _ = s.remove(format!("a{}", (n + 100) % 200).as_bytes(), T0);
            set(s, format!("new{n}").as_bytes(), b"v", 0, 0, T0);
            n += 1;
            assert!(n < 10_000, "{e}: the walk ends");
        }
        for k in &seen {
            assert!(k.starts_with(b"a") || k.starts_with(b"new"), "{e}: {k:?}");
        }
        // Keys never touched during the walk are all seen.
        for i in 0..200u32 {
            let touched = i < n.min(200) || (i + 100) % 200 < n.min(200);
            if !touched {
                assert!(seen.contains(format!("a{i}").as_bytes()), "{e}: a{i}");
            }
        }
    });
}

#[test]
fn a_walk_survives_eviction_between_slices() {
    let cfg = StorageConfig {
        memory_limit: 2 << 20,
        ..StorageConfig::default()
    };
    each_engine_with!(cfg, |e, s| {
        let value = vec![b'v'; 300];
        for i in 0..5_000u32 {
            set(s, format!("old{i}").as_bytes(), &value, 0, 0, T0);
        }
        let mut cursor = WalkCursor::default();
        let (mut visited, mut n) = (0u64, 0u32);
        while !cursor.done {
            s.walk(T0, &mut cursor, 3, &mut |w| {
                assert!(
                    w.key.starts_with(b"old") || w.key.starts_with(b"new"),
                    "{e}: {:?}",
                    w.key
                );
                visited += 1;
            })
            .unwrap();
            // Enough new items to evict (and, in seg, merge or free
            // segments) between slices.
            for j in 0..20 {
                set(s, format!("new{n}-{j}").as_bytes(), &value, 0, 0, T0);
            }
            n += 1;
            assert!(n < 100_000, "{e}: the walk ends");
        }
        assert!(visited > 0, "{e}");
    });
}
