//! Behavioural tests: every case of molt's storage suite (tests/storage.rs)
//! against the Rust API, plus the Segcache-specific behaviours.

use super::*;

const T0: i64 = 1_800_000_000;

fn seg() -> Seg {
    Seg::new(SegConfig::default()).unwrap()
}

fn seg_with(memory_limit: u64) -> Seg {
    Seg::new(SegConfig {
        memory_limit,
        ..SegConfig::default()
    })
    .unwrap()
}

#[derive(Debug, PartialEq)]
struct Got {
    value: Vec<u8>,
    flags: u32,
    cas: u64,
    exptime: i64,
}

fn get(s: &Seg, key: &[u8], now: i64) -> Result<Got, SegError> {
    s.get(key, now, None, |i, v| Got {
        value: v.to_vec(),
        flags: i.flags,
        cas: i.cas,
        exptime: i.exptime,
    })
}

fn gat(s: &Seg, key: &[u8], exptime: i64, now: i64) -> Result<Got, SegError> {
    s.get(key, now, Some(exptime), |i, v| Got {
        value: v.to_vec(),
        flags: i.flags,
        cas: i.cas,
        exptime: i.exptime,
    })
}

fn set(s: &Seg, key: &[u8], value: &[u8], flags: u32, exptime: i64, now: i64) -> u64 {
    s.store(StoreMode::Set, key, value, flags, exptime, now)
        .expect("set")
}

// ---- the storage.h suite ------------------------------------------------

#[test]
fn set_then_get_returns_value_flags_and_cas() {
    let s = seg();
    let cas = set(&s, b"k", b"hello", u32::MAX, 0, T0);
    assert!(cas > 0);
    let g = get(&s, b"k", T0).unwrap();
    assert_eq!(
        g,
        Got {
            value: b"hello".to_vec(),
            flags: u32::MAX,
            cas,
            exptime: 0
        }
    );
    assert_eq!(get(&s, b"other", T0), Err(SegError::NotFound));
}

#[test]
fn values_are_binary_safe_and_may_be_empty() {
    let s = seg();
    let v = b"a\r\nb\0c\n\xff";
    set(&s, b"bin", v, 0, 0, T0);
    assert_eq!(get(&s, b"bin", T0).unwrap().value, v);
    set(&s, b"empty", b"", 0, 0, T0);
    assert_eq!(get(&s, b"empty", T0).unwrap().value, b"");
}

#[test]
fn every_store_gives_a_new_cas() {
    let s = seg();
    let a = set(&s, b"k", b"1", 0, 0, T0);
    let b = set(&s, b"k", b"2", 0, 0, T0);
    let c = s.store(StoreMode::Append, b"k", b"3", 0, 0, T0).unwrap();
    let (_, d) = s.arith(b"k", true, 1, T0).unwrap();
    let all = [a, b, c, d];
    for i in 0..all.len() {
        for j in i + 1..all.len() {
            assert_ne!(all[i], all[j], "{all:?}");
        }
    }
    assert_eq!(get(&s, b"k", T0).unwrap().cas, d);
    assert_eq!(get(&s, b"k", T0).unwrap().value, b"24");
}

#[test]
fn add_and_replace_depend_on_presence() {
    let s = seg();
    assert_eq!(
        s.store(StoreMode::Replace, b"k", b"x", 0, 0, T0),
        Err(SegError::NotStored)
    );
    s.store(StoreMode::Add, b"k", b"first", 1, 0, T0).unwrap();
    assert_eq!(
        s.store(StoreMode::Add, b"k", b"second", 2, 0, T0),
        Err(SegError::NotStored)
    );
    assert_eq!(get(&s, b"k", T0).unwrap().value, b"first");
    s.store(StoreMode::Replace, b"k", b"third", 3, 0, T0)
        .unwrap();
    let g = get(&s, b"k", T0).unwrap();
    assert_eq!((g.value.as_slice(), g.flags), (&b"third"[..], 3));
}

#[test]
fn add_succeeds_over_an_expired_item() {
    let s = seg();
    set(&s, b"k", b"old", 0, T0 + 5, T0);
    s.store(StoreMode::Add, b"k", b"new", 0, 0, T0 + 5).unwrap();
    assert_eq!(get(&s, b"k", T0 + 5).unwrap().value, b"new");
}

#[test]
fn append_and_prepend_keep_flags_and_expiry() {
    let s = seg();
    assert_eq!(
        s.store(StoreMode::Append, b"k", b"x", 0, 0, T0),
        Err(SegError::NotStored)
    );
    assert_eq!(
        s.store(StoreMode::Prepend, b"k", b"x", 0, 0, T0),
        Err(SegError::NotStored)
    );
    set(&s, b"k", b"mid", 7, T0 + 100, T0);
    s.store(StoreMode::Append, b"k", b"-end", 99, 0, T0)
        .unwrap();
    s.store(StoreMode::Prepend, b"k", b"start-", 98, 0, T0)
        .unwrap();
    let g = get(&s, b"k", T0).unwrap();
    assert_eq!(g.value, b"start-mid-end");
    assert_eq!(g.flags, 7);
    assert_eq!(g.exptime, T0 + 100);
    assert!(get(&s, b"k", T0 + 99).is_ok());
    assert_eq!(get(&s, b"k", T0 + 100), Err(SegError::NotFound));
}

#[test]
fn cas_succeeds_only_with_the_current_unique() {
    let s = seg();
    assert_eq!(
        s.store(StoreMode::Cas(1), b"k", b"v", 0, 0, T0),
        Err(SegError::NotFound)
    );
    let c1 = set(&s, b"k", b"v1", 0, 0, T0);
    let c2 = s.store(StoreMode::Cas(c1), b"k", b"v2", 5, 0, T0).unwrap();
    assert_ne!(c1, c2);
    assert_eq!(
        s.store(StoreMode::Cas(c1), b"k", b"v3", 0, 0, T0),
        Err(SegError::Exists)
    );
    let g = get(&s, b"k", T0).unwrap();
    assert_eq!((g.value.as_slice(), g.flags, g.cas), (&b"v2"[..], 5, c2));
    // touch keeps the unique, also when it relocates the item
    s.touch(b"k", T0 + 50, T0).unwrap();
    assert_eq!(get(&s, b"k", T0).unwrap().cas, c2);
    s.store(StoreMode::Cas(c2), b"k", b"v4", 0, 0, T0)
        .expect("cas after touch");
}

#[test]
fn incr_wraps_and_decr_floors_at_zero() {
    let s = seg();
    assert_eq!(s.arith(b"n", true, 1, T0), Err(SegError::NotFound));
    set(&s, b"n", b"18446744073709551615", 3, 0, T0);
    assert_eq!(s.arith(b"n", true, 1, T0).unwrap().0, 0);
    assert_eq!(s.arith(b"n", true, 41, T0).unwrap().0, 41);
    assert_eq!(s.arith(b"n", false, 100, T0).unwrap().0, 0);
    set(&s, b"n", b"10", 3, 0, T0);
    assert_eq!(s.arith(b"n", false, 1, T0).unwrap().0, 9);
    let g = get(&s, b"n", T0).unwrap();
    assert_eq!(g.value, b"9");
    assert_eq!(g.flags, 3);
    assert_eq!(s.arith(b"n", true, u64::MAX, T0).unwrap().0, 8);
    set(&s, b"w", b"  7 \r\n", 0, T0 + 9, T0);
    let (v, cas) = s.arith(b"w", true, 1, T0).unwrap();
    let g = get(&s, b"w", T0).unwrap();
    assert_eq!(
        (v, g.value.as_slice(), g.cas, g.exptime),
        (8, &b"8"[..], cas, T0 + 9)
    );
}

#[test]
fn incr_rejects_non_numeric_values() {
    let s = seg();
    for bad in [
        &b"abc"[..],
        b"",
        b"12a",
        b"-1",
        b"18446744073709551616",
        b" ",
        b"1 2",
    ] {
        set(&s, b"n", bad, 0, 0, T0);
        assert_eq!(
            s.arith(b"n", true, 1, T0),
            Err(SegError::NonNumeric),
            "{bad:?}"
        );
        assert_eq!(get(&s, b"n", T0).unwrap().value, bad);
    }
}

#[test]
fn delete_removes_live_items_only() {
    let s = seg();
    assert_eq!(s.remove(b"k", T0), Err(SegError::NotFound));
    set(&s, b"k", b"v", 0, 0, T0);
    s.remove(b"k", T0).unwrap();
    assert_eq!(get(&s, b"k", T0), Err(SegError::NotFound));
    set(&s, b"x", b"v", 0, T0 + 1, T0);
    assert_eq!(s.remove(b"x", T0 + 1), Err(SegError::NotFound));
}

#[test]
fn items_expire_exactly_at_their_exptime() {
    let s = seg();
    set(&s, b"k", b"v", 0, T0 + 10, T0);
    assert!(get(&s, b"k", T0 + 9).is_ok());
    assert_eq!(get(&s, b"k", T0 + 10), Err(SegError::NotFound));
    set(&s, b"past", b"v", 0, T0 - 1, T0);
    assert_eq!(get(&s, b"past", T0), Err(SegError::NotFound));
    // a store with a past exptime removes the old version
    set(&s, b"gone", b"v", 0, 0, T0);
    set(&s, b"gone", b"v", 0, T0, T0);
    assert_eq!(get(&s, b"gone", T0), Err(SegError::NotFound));
}

#[test]
fn touch_and_gat_move_expiry() {
    let s = seg();
    assert_eq!(s.touch(b"k", 0, T0), Err(SegError::NotFound));
    assert_eq!(gat(&s, b"k", 0, T0), Err(SegError::NotFound));
    set(&s, b"k", b"v", 0, T0 + 10, T0);
    s.touch(b"k", T0 + 100, T0).unwrap();
    assert!(get(&s, b"k", T0 + 50).is_ok(), "touch extended");
    let g = gat(&s, b"k", T0 + 60, T0 + 50).unwrap();
    assert_eq!(g.value, b"v");
    assert_eq!(g.exptime, T0 + 60);
    assert!(get(&s, b"k", T0 + 59).is_ok());
    assert_eq!(
        get(&s, b"k", T0 + 60),
        Err(SegError::NotFound),
        "gat shortened"
    );
    set(&s, b"p", b"v", 0, T0 + 10, T0);
    s.touch(b"p", 0, T0).unwrap();
    assert_eq!(get(&s, b"p", T0).unwrap().exptime, 0);
    assert!(get(&s, b"p", T0 + 1_000_000).is_ok(), "touch 0 = never");
    // gat with a past time serves once, then the item is gone
    set(&s, b"q", b"v", 0, 0, T0);
    let g = gat(&s, b"q", T0 - 1, T0).unwrap();
    assert_eq!((g.value.as_slice(), g.exptime), (&b"v"[..], T0 - 1));
    assert_eq!(get(&s, b"q", T0), Err(SegError::NotFound));
    // touch with a past time removes
    set(&s, b"r", b"v", 0, 0, T0);
    s.touch(b"r", T0, T0).unwrap();
    assert_eq!(get(&s, b"r", T0), Err(SegError::NotFound));
}

#[test]
fn immediate_flush_spares_later_writes() {
    let s = seg();
    set(&s, b"a", b"1", 0, 0, T0);
    set(&s, b"b", b"2", 0, 0, T0);
    s.flush(T0, T0).unwrap();
    assert_eq!(get(&s, b"a", T0), Err(SegError::NotFound));
    assert_eq!(get(&s, b"b", T0), Err(SegError::NotFound));
    set(&s, b"c", b"3", 0, 0, T0);
    assert_eq!(get(&s, b"c", T0).unwrap().value, b"3");
    s.store(StoreMode::Add, b"a", b"again", 0, 0, T0).unwrap();
    assert_eq!(s.stats(T0).curr_items, 2);
}

#[test]
fn delayed_flush_takes_effect_at_its_time() {
    let s = seg();
    set(&s, b"a", b"1", 0, 0, T0);
    s.flush(T0 + 10, T0).unwrap();
    assert!(get(&s, b"a", T0 + 9).is_ok());
    set(&s, b"b", b"2", 0, 0, T0 + 5);
    assert_eq!(get(&s, b"a", T0 + 10), Err(SegError::NotFound));
    assert_eq!(get(&s, b"b", T0 + 10), Err(SegError::NotFound));
    set(&s, b"c", b"3", 0, 0, T0 + 11);
    assert!(get(&s, b"c", T0 + 12).is_ok());
}

#[test]
fn delayed_flush_applies_before_a_store_at_its_time() {
    let s = seg();
    set(&s, b"a", b"1", 0, 0, T0);
    s.flush(T0 + 10, T0).unwrap();
    s.flush(T0 + 20, T0).unwrap();
    set(&s, b"c", b"3", 0, 0, T0 + 10); // first call at the flush time
    assert!(get(&s, b"c", T0 + 10).is_ok());
    assert_eq!(get(&s, b"a", T0 + 10), Err(SegError::NotFound));
    assert_eq!(
        get(&s, b"c", T0 + 20),
        Err(SegError::NotFound),
        "second flush"
    );
}

#[test]
fn flush_is_by_segment_not_by_item() {
    let s = seg();
    for i in 0..50_000u32 {
        set(&s, format!("k{i}").as_bytes(), &[b'x'; 100], 0, 0, T0);
    }
    s.flush(T0, T0).unwrap();
    let st = s.stats(T0);
    // Whole segments were reclaimed by the sweep; none of the items is live.
    assert_eq!(st.curr_items, 0, "{st:?}");
    assert_eq!(st.expired, 50_000);
    assert_eq!(get(&s, b"k1", T0), Err(SegError::NotFound));
}

#[test]
fn invalid_keys_and_oversized_values_are_refused() {
    let s = Seg::new(SegConfig {
        item_size_max: 2048,
        ..SegConfig::default()
    })
    .unwrap();
    let long = vec![b'k'; 251];
    assert_eq!(
        s.store(StoreMode::Set, &long, b"v", 0, 0, T0),
        Err(SegError::Invalid)
    );
    assert_eq!(
        s.store(StoreMode::Set, b"", b"v", 0, 0, T0),
        Err(SegError::Invalid)
    );
    assert_eq!(get(&s, &long, T0), Err(SegError::Invalid));
    assert_eq!(s.remove(b"", T0), Err(SegError::Invalid));
    assert_eq!(s.touch(&long, 0, T0), Err(SegError::Invalid));
    assert_eq!(s.arith(b"", true, 1, T0), Err(SegError::Invalid));
    let max_key = vec![b'k'; 250];
    set(&s, &max_key, b"v", 0, 0, T0);
    assert!(get(&s, &max_key, T0).is_ok());
    assert_eq!(
        s.store(StoreMode::Set, b"big", &[b'x'; 2049], 0, 0, T0),
        Err(SegError::TooLarge)
    );
    // memcached's accounting: 48 + 8 + key + 1 + value + 2 (+4 with flags)
    let at_limit = 2048 - (48 + 8 + 5 + 1 + 2);
    set(&s, b"exact", &vec![b'x'; at_limit], 0, 0, T0);
    assert_eq!(
        s.store(StoreMode::Set, b"exact", &vec![b'x'; at_limit], 1, 0, T0),
        Err(SegError::TooLarge),
        "non-zero flags count 4 bytes"
    );
    assert_eq!(
        s.store(
            StoreMode::Set,
            b"exact",
            &vec![b'x'; at_limit + 1],
            0,
            0,
            T0
        ),
        Err(SegError::TooLarge)
    );
    set(&s, b"fits", &[b'x'; 1500], 0, 0, T0);
    assert_eq!(
        s.store(StoreMode::Append, b"fits", &[b'y'; 1000], 0, 0, T0),
        Err(SegError::TooLarge)
    );
    // room left for "fits" (4-byte key, flags 0) under the 2048 limit
    let room = 2048 - crate::memcached_item_size(4, 0, 1500);
    assert_eq!(
        s.store(StoreMode::Prepend, b"fits", &vec![b'y'; room + 1], 0, 0, T0),
        Err(SegError::TooLarge)
    );
    s.store(StoreMode::Prepend, b"fits", &vec![b'y'; room], 0, 0, T0)
        .unwrap();
    assert_eq!(get(&s, b"fits", T0).unwrap().value.len(), 1500 + room);
}

#[test]
fn bad_configs_are_invalid() {
    let bad = |cfg| Seg::new(cfg).err();
    let d = SegConfig::default();
    assert_eq!(
        bad(SegConfig {
            memory_limit: 100,
            ..d
        }),
        Some(SegError::Invalid)
    );
    assert_eq!(
        bad(SegConfig {
            item_size_max: (1 << 30) + 1,
            ..d
        }),
        Some(SegError::Invalid)
    );
    let s = Seg::new(SegConfig {
        item_size_max: 0,
        segment_size: 0,
        ..d
    })
    .unwrap();
    assert_eq!(s.segment_size(), 1 << 20);
    assert_eq!(seg_with(2 << 20).segment_size(), 256 << 10);
}

#[test]
fn stats_count_items_and_bytes() {
    let s = seg();
    let before = s.stats(T0);
    assert_eq!(before.curr_items, 0);
    assert_eq!(before.memory_limit, 64 << 20);
    assert_eq!(before.memory_used, 0, "segments are allocated lazily");
    set(&s, b"a", b"12345", 0, 0, T0);
    set(&s, b"b", b"12345", 0, 0, T0);
    set(&s, b"a", b"123", 0, 0, T0);
    let st = s.stats(T0);
    assert_eq!(st.curr_items, 2);
    assert_eq!(st.total_items, 3);
    assert!(st.bytes >= 2 * (1 + 3), "{st:?}");
    assert_eq!(st.memory_used, 1 << 20);
    s.remove(b"a", T0).unwrap();
    assert_eq!(s.stats(T0).curr_items, 1);
}

#[test]
fn the_hash_table_grows_and_keeps_every_key() {
    let s = seg();
    let n = 300_000u32;
    for i in 0..n {
        set(
            &s,
            format!("key:{i}").as_bytes(),
            &i.to_le_bytes(),
            i,
            0,
            T0,
        );
    }
    for i in (0..n).step_by(7) {
        let g = get(&s, format!("key:{i}").as_bytes(), T0).expect("hit");
        assert_eq!((g.value.as_slice(), g.flags), (&i.to_le_bytes()[..], i));
    }
    let st = s.stats(T0);
    assert_eq!(st.curr_items, u64::from(n));
    assert!(st.hash_buckets > 65_536, "{st:?}");
    assert_eq!(st.evictions, 0);
}

#[test]
fn memory_pressure_evicts_old_items_and_keeps_recent_ones() {
    let limit = 2u64 << 20;
    let s = seg_with(limit);
    let value = [b'v'; 100];
    let n = 100_000u32;
    for i in 0..n {
        s.store(StoreMode::Set, format!("k{i}").as_bytes(), &value, 0, 0, T0)
            .unwrap_or_else(|e| panic!("set {i}: {e:?}"));
    }
    let st = s.stats(T0);
    assert!(st.memory_used <= limit, "{st:?}");
    s.check();
    assert!(st.evictions > 0, "{st:?}");
    for i in n - 100..n {
        assert!(
            get(&s, format!("k{i}").as_bytes(), T0).is_ok(),
            "recent k{i}"
        );
    }
    let big = vec![b'b'; 50_000];
    s.store(StoreMode::Set, b"big", &big, 0, 0, T0).unwrap();
    assert_eq!(get(&s, b"big", T0).unwrap().value.len(), 50_000);
    assert!(s.stats(T0).memory_used <= limit);
    s.check();
}

#[test]
fn items_larger_than_a_segment_take_a_span() {
    let limit = 2u64 << 20; // 256 KiB segments
    let s = seg_with(limit);
    for i in 0..20_000u32 {
        set(&s, format!("k{i}").as_bytes(), &[b'v'; 100], 0, 0, T0);
    }
    // the largest value a 4-byte key with flags may have under a 1 MiB limit
    let largest = (1 << 20) - crate::memcached_item_size(4, 9, 0);
    let big: Vec<u8> = (0..largest as u32).map(|i| (i % 251) as u8).collect();
    set(&s, b"huge", &big, 9, 0, T0);
    let g = get(&s, b"huge", T0).unwrap();
    assert_eq!((g.value == big, g.flags), (true, 9));
    assert!(s.stats(T0).memory_used <= limit);
    s.store(StoreMode::Append, b"huge", b"", 0, 0, T0).unwrap();
    assert_eq!(get(&s, b"huge", T0).unwrap().value.len(), big.len());
    // spans are freed and reused like segments
    for i in 0..50_000u32 {
        set(&s, format!("j{i}").as_bytes(), &[b'w'; 100], 0, 0, T0);
    }
    assert!(get(&s, b"j49999", T0).is_ok());
    set(&s, b"huge2", &big, 0, 0, T0);
    assert!(get(&s, b"huge2", T0).is_ok());
    let st = s.stats(T0);
    assert!(st.memory_used <= limit, "{st:?}");
    // an item larger than all memory can never fit
    let s = Seg::new(SegConfig {
        memory_limit: 256 << 10,
        item_size_max: 1 << 20,
        segment_size: 0,
    })
    .unwrap();
    assert_eq!(
        s.store(StoreMode::Set, b"x", &big, 0, 0, T0),
        Err(SegError::TooLarge)
    );
}

#[test]
fn expired_items_are_reclaimed_before_live_ones_are_evicted() {
    let s = seg_with(2 << 20);
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
    assert_eq!(after.evictions, before.evictions, "{after:?}");
    assert!(after.expired > before.expired, "{after:?}");
    for i in 0..5_000u32 {
        assert!(
            get(&s, format!("live{i}").as_bytes(), later).is_ok(),
            "live{i}"
        );
    }
}

#[test]
fn expired_segments_go_before_live_ones_without_a_clock_tick() {
    // Segments expire while memory is full: the allocator's reclaim pass
    // takes them (not the live never-expiring items) even when the TTL
    // bucket heads were not due at the last tick.
    let s = seg_with(2 << 20);
    for i in 0..2_000u32 {
        set(&s, format!("keep{i}").as_bytes(), &[b'k'; 100], 0, 0, T0);
    }
    for round in 0..20u32 {
        let now = T0 + i64::from(round) * 100;
        for i in 0..8_000u32 {
            set(
                &s,
                format!("t{round}:{i}").as_bytes(),
                &[b't'; 100],
                0,
                now + 50,
                now,
            );
        }
    }
    let st = s.stats(T0 + 2000);
    assert!(st.expired > 0, "{st:?}");
    for i in 0..2_000u32 {
        assert!(
            get(&s, format!("keep{i}").as_bytes(), T0 + 2000).is_ok(),
            "keep{i}: {st:?}"
        );
    }
}

#[test]
fn ttl_bucket_segments_expire_whole() {
    let s = seg();
    for i in 0..20_000u32 {
        set(&s, format!("a{i}").as_bytes(), &[b'a'; 100], 0, T0 + 60, T0);
        set(
            &s,
            format!("b{i}").as_bytes(),
            &[b'b'; 100],
            0,
            T0 + 3600,
            T0,
        );
    }
    let st = s.stats(T0);
    assert_eq!(st.curr_items, 40_000);
    // At T0 + 60 the 60 s bucket's segments are freed proactively.
    let st = s.stats(T0 + 60);
    assert_eq!(st.curr_items, 20_000, "{st:?}");
    assert_eq!(st.expired, 20_000);
    assert_eq!(get(&s, b"a5", T0 + 60), Err(SegError::NotFound));
    assert!(get(&s, b"b5", T0 + 60).is_ok());
    let st = s.stats(T0 + 3600);
    assert_eq!(
        (st.curr_items, st.expired, st.bytes),
        (0, 40_000, 0),
        "{st:?}"
    );
    s.check();
}

#[test]
fn merge_eviction_keeps_hot_items() {
    let s = seg_with(2 << 20);
    let hot: Vec<String> = (0..500).map(|i| format!("hot{i}")).collect();
    for k in &hot {
        set(&s, k.as_bytes(), &[b'h'; 100], 0, 0, T0);
    }
    for i in 0..200_000u32 {
        set(&s, format!("cold{i}").as_bytes(), &[b'c'; 100], 0, 0, T0);
        if i % 2_000 == 0 {
            for k in &hot {
                assert!(get(&s, k.as_bytes(), T0).is_ok(), "{k} lost at {i}");
            }
        }
    }
    for k in &hot {
        assert_eq!(get(&s, k.as_bytes(), T0).unwrap().value, [b'h'; 100], "{k}");
    }
    let st = s.stats(T0);
    assert!(st.evictions > 150_000, "{st:?}");
    assert_eq!(get(&s, b"cold0", T0), Err(SegError::NotFound));
    s.check();
}

/// The full info of a read (meta options).
fn mget(s: &Seg, key: &[u8], now: i64, o: GetOptions) -> Result<(ItemInfo, Vec<u8>), SegError> {
    s.meta_get(key, now, &o, |i, v| (*i, v.to_vec()))
}

fn info(s: &Seg, key: &[u8], now: i64) -> ItemInfo {
    s.get(key, now, None, |i, _| *i).expect("hit")
}

#[test]
fn meta_access_state_survives_merges_and_retimes() {
    // Hot items read once (fetched), one invalidated (stale, win taken):
    // merge eviction compacts them and touch copies them to another TTL
    // bucket; the access word must travel with them.
    let s = seg_with(2 << 20);
    set(&s, b"stale", &[b's'; 100], 0, 0, T0);
    s.meta_delete(
        b"stale",
        T0,
        &DeleteOptions {
            invalidate: true,
            ..DeleteOptions::default()
        },
    )
    .unwrap();
    let (w, _) = mget(&s, b"stale", T0 + 1, GetOptions::default()).unwrap();
    assert!(w.win && w.stale);
    let hot: Vec<String> = (0..200).map(|i| format!("hot{i}")).collect();
    for k in &hot {
        set(&s, k.as_bytes(), &[b'h'; 100], 0, 0, T0);
        get(&s, k.as_bytes(), T0 + 2).unwrap();
    }
    for i in 0..100_000u32 {
        set(
            &s,
            format!("cold{i}").as_bytes(),
            &[b'c'; 100],
            0,
            0,
            T0 + 3,
        );
        if i % 5_000 == 0 {
            for k in &hot {
                s.meta_get(k.as_bytes(), T0 + 3, &GetOptions::default(), |_, _| ())
                    .unwrap();
            }
            mget(&s, b"stale", T0 + 3, GetOptions::default()).unwrap();
        }
    }
    assert!(s.stats(T0).evictions > 50_000);
    let st = info(&s, b"stale", T0 + 4);
    assert!(st.stale && st.win_taken && !st.win && st.fetched, "{st:?}");
    assert_eq!(st.last_access, T0 + 3);
    let h = info(&s, b"hot7", T0 + 4);
    assert!(h.fetched && !h.stale, "{h:?}");
    assert_eq!(h.last_access, T0 + 3);
    // a retime into another bucket copies the item, access word included
    s.touch(b"stale", T0 + 500, T0 + 5).unwrap();
    let st = info(&s, b"stale", T0 + 6);
    assert!(st.stale && st.win_taken, "{st:?}");
    assert_eq!((st.exptime, st.last_access), (T0 + 500, T0 + 5));
    s.check();
}

#[test]
fn last_access_times_span_years_either_side_of_the_first_call() {
    let s = seg();
    set(&s, b"k", b"v", 0, 0, T0);
    let year = 365 * 24 * 3600;
    get(&s, b"k", T0 + 8 * year).unwrap();
    assert_eq!(info(&s, b"k", T0 + 8 * year + 1).last_access, T0 + 8 * year);
    get(&s, b"k", T0 - 8 * year).unwrap();
    assert_eq!(info(&s, b"k", T0).last_access, T0 - 8 * year);
    s.check();
}

#[test]
fn meta_get_wins_vivify_recache_and_stale() {
    let s = seg();
    let viv = GetOptions {
        vivify: Some(T0 + 30),
        ..GetOptions::default()
    };
    let (a, v) = mget(&s, b"v", T0, viv).unwrap();
    assert!(v.is_empty() && a.win && !a.win_taken && !a.fetched);
    assert_eq!((a.exptime, a.last_access, a.flags), (T0 + 30, T0, 0));
    let (b, _) = mget(&s, b"v", T0 + 1, viv).unwrap();
    assert!(!b.win && b.win_taken && b.fetched);
    assert_eq!((b.cas, b.last_access), (a.cas, T0));
    // classic reads report but never win
    set(&s, b"r", b"v", 0, T0 + 100, T0);
    s.meta_delete(
        b"r",
        T0,
        &DeleteOptions {
            invalidate: true,
            ..DeleteOptions::default()
        },
    )
    .unwrap();
    let c = info(&s, b"r", T0);
    assert!(c.stale && !c.win && !c.win_taken);
    let r = GetOptions {
        recache: Some(30),
        ..GetOptions::default()
    };
    assert!(mget(&s, b"r", T0, r).unwrap().0.win, "stale wins");
    set(&s, b"r", b"v", 0, T0 + 100, T0);
    assert!(!mget(&s, b"r", T0 + 70, r).unwrap().0.win);
    assert!(mget(&s, b"r", T0 + 71, r).unwrap().0.win);
    assert!(mget(&s, b"r", T0 + 72, r).unwrap().0.win_taken);
    s.check();
}

#[test]
fn meta_store_delete_and_arith_options() {
    let s = seg();
    let c1 = set(&s, b"k", b"v1", 0, T0 + 100, T0);
    let c2 = set(&s, b"k", b"v2", 0, T0 + 100, T0);
    let inval = |c| StoreOptions {
        compare_cas: Some(c),
        invalidate: true,
        ..StoreOptions::default()
    };
    let c3 = s
        .meta_store(StoreMode::Set, b"k", b"old", 0, 0, T0, &inval(c1))
        .unwrap();
    let i = info(&s, b"k", T0);
    assert!(i.stale && i.cas == c3 && i.exptime == T0 + 100, "{i:?}");
    assert_eq!(
        s.meta_store(StoreMode::Set, b"k", b"x", 0, 0, T0, &inval(c3 + 1)),
        Err(SegError::Exists)
    );
    assert!(c2 < c3);
    // compare_cas on a missing key
    let cmp = StoreOptions {
        compare_cas: Some(1),
        ..StoreOptions::default()
    };
    assert_eq!(
        s.meta_store(StoreMode::Replace, b"m", b"x", 0, 0, T0, &cmp),
        Err(SegError::NotFound)
    );
    assert_eq!(
        s.meta_store(StoreMode::Append, b"m", b"x", 0, 0, T0, &cmp),
        Err(SegError::NotStored)
    );
    // append vivify with E
    let viv = StoreOptions {
        vivify: Some(0),
        new_cas: Some(4000),
        ..StoreOptions::default()
    };
    assert_eq!(
        s.meta_store(StoreMode::Append, b"m", b"ab", 3, 0, T0, &viv),
        Ok(4000)
    );
    assert_eq!(get(&s, b"m", T0).unwrap().flags, 3);
    // clear value keeps the cas and exptime
    set(&s, b"x", b"abc", 7, T0 + 50, T0);
    let cx = info(&s, b"x", T0).cas;
    s.meta_delete(
        b"x",
        T0,
        &DeleteOptions {
            clear_value: true,
            ..DeleteOptions::default()
        },
    )
    .unwrap();
    assert_eq!(
        get(&s, b"x", T0).unwrap(),
        Got {
            value: vec![],
            flags: 0,
            cas: cx,
            exptime: T0 + 50
        }
    );
    // arith: vivify with J (no delta), compare, touch, E
    let a = ArithOptions {
        vivify: Some(0),
        initial: 13,
        ..ArithOptions::default()
    };
    let r = s.meta_arith(b"n", true, 5, T0, &a).unwrap();
    assert_eq!((r.value, r.exptime), (13, 0));
    assert_eq!(
        s.meta_arith(
            b"n",
            true,
            5,
            T0,
            &ArithOptions {
                compare_cas: Some(r.cas + 1),
                ..ArithOptions::default()
            }
        ),
        Err(SegError::Exists)
    );
    let t = s
        .meta_arith(
            b"n",
            false,
            3,
            T0,
            &ArithOptions {
                compare_cas: Some(r.cas),
                touch: Some(T0 + 9),
                new_cas: Some(5000),
                ..ArithOptions::default()
            },
        )
        .unwrap();
    assert_eq!(
        t,
        ArithResult {
            value: 10,
            cas: 5000,
            exptime: T0 + 9
        }
    );
    assert_eq!(get(&s, b"n", T0 + 9), Err(SegError::NotFound));
    s.check();
}

#[test]
fn no_bump_reads_leave_items_to_eviction() {
    let s = seg_with(2 << 20);
    set(&s, b"normal00", &[b'v'; 100], 0, 0, T0);
    set(&s, b"nobump00", &[b'v'; 100], 0, 0, T0);
    get(&s, b"normal00", T0).unwrap();
    let quiet = GetOptions {
        no_bump: true,
        ..GetOptions::default()
    };
    mget(&s, b"nobump00", T0, quiet).unwrap();
    let mut gone = false;
    for i in 0..100_000u32 {
        set(&s, format!("f{i:07}").as_bytes(), &[b'v'; 100], 0, 0, T0);
        if mget(&s, b"nobump00", T0, quiet).is_err() {
            gone = true;
            break;
        }
    }
    assert!(gone);
    assert!(mget(&s, b"normal00", T0, quiet).is_ok());
    s.check();
}

#[test]
fn overwritten_items_are_compacted_not_evicted() {
    // 100 keys rewritten over and over: segments fill with dead versions,
    // which are reclaimed without evicting any live item.
    let s = seg_with(2 << 20);
    for round in 0..2_000u32 {
        for k in 0..100u32 {
            let v = format!("{round}:{k}");
            set(&s, format!("key{k}").as_bytes(), v.as_bytes(), k, 0, T0);
        }
    }
    let st = s.stats(T0);
    assert_eq!((st.curr_items, st.evictions), (100, 0), "{st:?}");
    for k in 0..100u32 {
        assert_eq!(
            get(&s, format!("key{k}").as_bytes(), T0).unwrap().value,
            format!("1999:{k}").as_bytes()
        );
    }
}

#[test]
fn memory_used_never_exceeds_the_limit() {
    for limit in [4096u64, 64 << 10, 1 << 20, 3_000_000] {
        let s = seg_with(limit);
        for i in 0..20_000u32 {
            let len = (i as usize * 7919) % 3000;
            let r = s.store(
                StoreMode::Set,
                format!("k{i}").as_bytes(),
                &vec![b'x'; len],
                0,
                0,
                T0,
            );
            assert!(
                r.is_ok() || r == Err(SegError::TooLarge),
                "{limit} {i} {r:?}"
            );
            assert!(s.stats(T0).memory_used <= limit);
        }
    }
}

#[test]
fn concurrent_writers_never_produce_torn_values() {
    let s = seg();
    std::thread::scope(|scope| {
        for t in 0..4u8 {
            let s = &s;
            scope.spawn(move || {
                for i in 0..20_000u32 {
                    let key = format!("shared{}", i % 64);
                    let len = 10 + (i as usize * 37 + t as usize) % 3000;
                    let v = vec![b'a' + t; len];
                    s.store(StoreMode::Set, key.as_bytes(), &v, u32::from(t), 0, T0)
                        .unwrap();
                    if let Ok(g) = get(s, key.as_bytes(), T0) {
                        let first = g.value[0];
                        assert!(g.value.iter().all(|&b| b == first), "torn value");
                        assert_eq!(u32::from(first - b'a'), g.flags);
                    }
                    let _ = s.arith(b"counter", true, 1, T0);
                }
            });
        }
    });
    assert_eq!(get(&s, b"counter", T0), Err(SegError::NotFound));
}

#[test]
fn four_thread_stress_under_memory_pressure() {
    let s = seg_with(4 << 20);
    s.store(StoreMode::Set, b"counter", b"0", 0, 0, T0).unwrap();
    std::thread::scope(|scope| {
        for t in 0..4u32 {
            let s = &s;
            scope.spawn(move || {
                let mut incrs = 0u64;
                for i in 0..50_000u32 {
                    let now = T0 + i64::from(i / 5_000);
                    let key = format!("t{t}:{}", i % 5_000);
                    let v = vec![b'a' + (i % 26) as u8; (i as usize * 13) % 700];
                    let exp = if i % 3 == 0 { now + 2 } else { 0 };
                    match i % 7 {
                        0 => {
                            let _ = s.store(StoreMode::Append, key.as_bytes(), b"z", 0, 0, now);
                        }
                        1 => {
                            let _ = s.touch(key.as_bytes(), now + 30, now);
                        }
                        2 => {
                            let _ = s.remove(key.as_bytes(), now);
                        }
                        3 => {
                            let _ = s.get(key.as_bytes(), now, Some(now + 5), |_, v| v.len());
                        }
                        _ => {
                            s.store(StoreMode::Set, key.as_bytes(), &v, t, exp, now)
                                .unwrap();
                        }
                    }
                    if i % 100 == 0 && s.arith(b"counter", true, 1, now).is_ok() {
                        incrs += 1;
                    }
                    if i == 25_000 && t == 0 {
                        s.flush(now, now).unwrap();
                    }
                    let st = s.stats(now);
                    assert!(st.memory_used <= 4 << 20);
                }
                incrs
            });
        }
    });
    // The counter may have been flushed or evicted: only check consistency.
    if let Ok(g) = get(&s, b"counter", T0 + 10) {
        assert!(crate::num::parse_u64(&g.value).is_some());
    }
    let st = s.stats(T0 + 100);
    assert!(st.memory_used <= 4 << 20, "{st:?}");
    s.check();
}

// ---- randomized: invariants and a model ----------------------------------

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// storage.h semantics, the obvious way.
#[derive(Default)]
struct Model {
    items: std::collections::HashMap<Vec<u8>, (Vec<u8>, u32, i64, u64)>,
    next_cas: u64,
    pending: Vec<i64>,
}

impl Model {
    fn tick(&mut self, now: i64) {
        if self.pending.iter().any(|&t| t <= now) {
            self.items.clear();
            self.pending.retain(|&t| t > now);
        }
        self.items.retain(|_, v| v.2 == 0 || now < v.2);
    }
    fn cas(&mut self) -> u64 {
        self.next_cas += 1;
        self.next_cas
    }
}

#[test]
fn random_operations_match_a_model_while_memory_is_ample() {
    for seed in 1..=6u64 {
        let s = seg();
        let mut m = Model::default();
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let mut now = T0;
        for step in 0..20_000 {
            if rng.below(50) == 0 {
                now += rng.below(20) as i64;
            }
            m.tick(now);
            let key = format!("k{}", rng.below(200)).into_bytes();
            let vlen = rng.below(4) as usize * rng.below(300) as usize;
            let value = vec![b'a' + rng.below(26) as u8; vlen];
            let flags = if rng.below(2) == 0 {
                0
            } else {
                rng.next() as u32
            };
            let exptime = match rng.below(4) {
                0 => now + rng.below(40) as i64 - 5,
                1 => now + rng.below(5000) as i64,
                _ => 0,
            };
            let cur = m.items.get(&key).cloned();
            match rng.below(12) {
                0..=2 => {
                    let mode = match rng.below(5) {
                        0 => StoreMode::Add,
                        1 => StoreMode::Replace,
                        2 => StoreMode::Cas(cur.as_ref().map_or(1, |c| c.3 + rng.below(2))),
                        _ => StoreMode::Set,
                    };
                    let want = match (mode, &cur) {
                        (StoreMode::Add, Some(_)) | (StoreMode::Replace, None) => {
                            Err(SegError::NotStored)
                        }
                        (StoreMode::Cas(_), None) => Err(SegError::NotFound),
                        (StoreMode::Cas(c), Some(o)) if o.3 != c => Err(SegError::Exists),
                        _ => {
                            let cas = m.cas();
                            if exptime != 0 && exptime <= now {
                                m.items.remove(&key);
                            } else {
                                m.items
                                    .insert(key.clone(), (value.clone(), flags, exptime, cas));
                            }
                            Ok(cas)
                        }
                    };
                    assert_eq!(
                        s.store(mode, &key, &value, flags, exptime, now),
                        want,
                        "{seed}/{step}"
                    );
                }
                3 => {
                    let append = rng.below(2) == 0;
                    let mode = if append {
                        StoreMode::Append
                    } else {
                        StoreMode::Prepend
                    };
                    let want = match &cur {
                        None => Err(SegError::NotStored),
                        Some(o) => {
                            let v = if append {
                                [o.0.as_slice(), &value].concat()
                            } else {
                                [value.as_slice(), &o.0].concat()
                            };
                            let cas = m.cas();
                            m.items.insert(key.clone(), (v, o.1, o.2, cas));
                            Ok(cas)
                        }
                    };
                    let want = match want {
                        Ok(_) if m.items[&key].0.len() > 1 << 20 => unreachable!(),
                        w => w,
                    };
                    assert_eq!(
                        s.store(mode, &key, &value, flags, exptime, now),
                        want,
                        "{seed}/{step}"
                    );
                }
                4 => {
                    let incr = rng.below(2) == 0;
                    let delta = rng.below(1000);
                    if rng.below(3) == 0 {
                        let n = rng.below(100).to_string().into_bytes();
                        let cas = m.cas();
                        m.items.insert(key.clone(), (n.clone(), flags, 0, cas));
                        s.store(StoreMode::Set, &key, &n, flags, 0, now).unwrap();
                    }
                    let cur = m.items.get(&key).cloned();
                    let want = match cur {
                        None => Err(SegError::NotFound),
                        Some(o) => match std::str::from_utf8(&o.0)
                            .ok()
                            .and_then(|t| t.parse::<u64>().ok())
                        {
                            None => Err(SegError::NonNumeric),
                            Some(v) => {
                                let v = if incr {
                                    v.wrapping_add(delta)
                                } else {
                                    v.saturating_sub(delta)
                                };
                                let cas = m.cas();
                                m.items.insert(
                                    key.clone(),
                                    (v.to_string().into_bytes(), o.1, o.2, cas),
                                );
                                Ok((v, cas))
                            }
                        },
                    };
                    assert_eq!(s.arith(&key, incr, delta, now), want, "{seed}/{step}");
                }
                5 => {
                    let want = m.items.remove(&key).map(|_| ()).ok_or(SegError::NotFound);
                    assert_eq!(s.remove(&key, now), want, "{seed}/{step}");
                }
                6 => {
                    let want = match m.items.get_mut(&key) {
                        None => Err(SegError::NotFound),
                        Some(o) => {
                            o.2 = exptime;
                            Ok(())
                        }
                    };
                    if exptime != 0 && exptime <= now {
                        m.items.remove(&key);
                    }
                    assert_eq!(s.touch(&key, exptime, now), want, "{seed}/{step}");
                }
                7 => {
                    if rng.below(40) == 0 {
                        let at = now + rng.below(3) as i64 * rng.below(30) as i64;
                        if at <= now {
                            m.items.clear();
                        } else {
                            m.pending.push(at);
                        }
                        s.flush(at, now).unwrap();
                    }
                }
                _ => {
                    let touch = (rng.below(4) == 0).then_some(exptime);
                    let want = match (m.items.get_mut(&key), touch) {
                        (None, _) => Err(SegError::NotFound),
                        (Some(o), None) => Ok(Got {
                            value: o.0.clone(),
                            flags: o.1,
                            cas: o.3,
                            exptime: o.2,
                        }),
                        (Some(o), Some(t)) => {
                            o.2 = t;
                            Ok(Got {
                                value: o.0.clone(),
                                flags: o.1,
                                cas: o.3,
                                exptime: t,
                            })
                        }
                    };
                    if let Some(t) = touch {
                        if t != 0 && t <= now {
                            m.items.remove(&key);
                        }
                    }
                    let got = s.get(&key, now, touch, |i, v| Got {
                        value: v.to_vec(),
                        flags: i.flags,
                        cas: i.cas,
                        exptime: i.exptime,
                    });
                    assert_eq!(got, want, "{seed}/{step}");
                }
            }
            if step % 1000 == 0 {
                s.check();
            }
        }
        s.check();
        let st = s.stats(now);
        assert_eq!(st.evictions, 0);
        m.tick(now);
        for (k, v) in &m.items {
            assert_eq!(get(&s, k, now).unwrap().value, v.0);
        }
    }
}

#[test]
fn random_operations_keep_invariants_under_pressure() {
    for (seed, limit) in [
        (1u64, 256u64 << 10),
        (2, 1 << 20),
        (3, 2 << 20),
        (4, 64 << 10),
    ] {
        let s = seg_with(limit);
        let mut rng = Rng(seed.wrapping_mul(0x2545_f491_4f6c_dd1d));
        let mut now = T0;
        for step in 0..60_000 {
            if rng.below(200) == 0 {
                now += rng.below(30) as i64;
            }
            let key = format!("key{}", rng.below(20_000)).into_bytes();
            let len = match rng.below(50) {
                0 => rng.below(300_000) as usize,
                _ => rng.below(400) as usize,
            };
            let exptime = match rng.below(3) {
                0 => now + rng.below(100) as i64,
                _ => 0,
            };
            let r = match rng.below(10) {
                0 => s
                    .store(StoreMode::Append, &key, b"xy", 0, 0, now)
                    .map(|_| ()),
                1 => s.touch(&key, exptime, now),
                2 => s.remove(&key, now),
                3 => s.get(&key, now, None, |_, v| v.len()).map(|_| ()),
                4 => s.get(&key, now, Some(exptime), |_, v| v.len()).map(|_| ()),
                5 if rng.below(100) == 0 => s.flush(now + rng.below(5) as i64, now),
                _ => s
                    .store(StoreMode::Set, &key, &vec![b'v'; len], 1, exptime, now)
                    .map(|_| ()),
            };
            assert!(
                matches!(
                    r,
                    Ok(()) | Err(SegError::NotFound | SegError::NotStored | SegError::TooLarge)
                ),
                "{seed}/{step}: {r:?}"
            );
            if step % 5_000 == 0 {
                s.check();
            }
            // hot keys are read a lot
            for h in 0..3 {
                let _ = s.get(format!("key{h}").as_bytes(), now, None, |_, v| v.len());
            }
        }
        s.check();
        assert!(s.stats(now).memory_used <= limit);
    }
}
