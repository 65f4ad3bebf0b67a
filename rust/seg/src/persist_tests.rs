//! The memory file (persist.rs): a round trip restores every live item
//! exactly; a damaged, cut, foreign or unclean file never yields a value
//! that was not stored.

use super::*;
use crate::persist::{HEADER_LEN, RECORD_LEN};
use std::path::{Path, PathBuf};
use storage::{DeleteOptions, StoreCommand};

const T0: i64 = 1_800_000_000;

/// A file path under the temp dir, removed (with its `.tmp`) on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(tag: &str) -> TempFile {
        let p = std::env::temp_dir().join(format!("molt-seg-persist-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_file(&p);
        TempFile(p)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        let mut tmp = self.0.clone().into_os_string();
        tmp.push(".tmp");
        let _ = std::fs::remove_file(tmp);
    }
}

fn engine(mb: u64) -> Seg {
    Seg::new(SegConfig {
        memory_limit: mb << 20,
        ..SegConfig::default()
    })
    .unwrap()
}

#[derive(Clone, Debug, PartialEq)]
struct Got {
    value: Vec<u8>,
    flags: u32,
    cas: u64,
    exptime: i64,
}

fn read(s: &Seg, key: &[u8], now: i64) -> Result<Got, Error> {
    s.get(key, now, |i, v| Got {
        value: v.to_vec(),
        flags: i.flags,
        cas: i.cas,
        exptime: i.exptime,
    })
}

/// Keys with what they must read back as.
type Live = Vec<(Vec<u8>, Got)>;
/// Keys that must not be found.
type Gone = Vec<Vec<u8>>;

fn key(i: usize) -> Vec<u8> {
    format!("key:{i:08}").into_bytes()
}

/// Items of all kinds at T0: no expiry, a long TTL, a TTL over by T0 + 10
/// (i % 3), flags, deletes (i % 10 == 0), overwrites (i % 10 == 1), some
/// read, and one item larger than a segment (a span). Returns what must
/// be readable at T0 + 10, and the keys that must not be.
fn fill(s: &Seg, n: usize) -> (Live, Gone) {
    let mut live = Vec::new();
    let mut gone = Vec::new();
    for i in 0..n {
        let k = key(i);
        let value = format!("value-{i}-{}", "x".repeat(i % 200)).into_bytes();
        let exptime = match i % 3 {
            0 => 0,
            1 => T0 + 3600,
            _ => T0 + 5,
        };
        let flags = (i as u32).wrapping_mul(7);
        s.store(StoreCommand::Set, &k, &value, flags, exptime, T0)
            .unwrap();
        if i % 10 == 0 {
            s.meta_delete(&k, T0, &DeleteOptions::default()).unwrap();
            gone.push(k);
            continue;
        }
        let value = if i % 10 == 1 {
            let v = format!("second-{i}").into_bytes();
            s.store(StoreCommand::Set, &k, &v, flags, exptime, T0)
                .unwrap();
            v
        } else {
            value
        };
        if i % 7 == 0 {
            read(s, &k, T0).unwrap();
        }
        if exptime == T0 + 5 {
            gone.push(k);
            continue;
        }
        let got = read(s, &k, T0).unwrap();
        assert_eq!(got.value, value);
        live.push((k, got));
    }
    let big = vec![b'B'; 600 << 10];
    s.store(StoreCommand::Set, b"big", &big, 9, 0, T0).unwrap();
    live.push((b"big".to_vec(), read(s, b"big", T0).unwrap()));
    (live, gone)
}

/// Every key reads back exactly as stored, or not at all; how many read.
fn never_wrong(s: &Seg, live: &[(Vec<u8>, Got)], gone: &[Vec<u8>], now: i64) -> usize {
    for k in gone {
        assert_eq!(read(s, k, now), Err(Error::NotFound), "{k:?}");
    }
    live.iter()
        .filter(|(k, want)| match read(s, k, now) {
            Ok(got) => {
                assert_eq!(&got, want, "{k:?}");
                true
            }
            Err(e) => {
                assert_eq!(e, Error::NotFound, "{k:?}");
                false
            }
        })
        .count()
}

fn figure(s: &Seg, name: &str, now: i64) -> u64 {
    let mut v = None;
    s.figures(now, &mut |f| {
        if f.name.to_str().unwrap() == name {
            v = Some(f.value);
        }
    });
    v.unwrap()
}

/// A saved file of a 16 MiB engine (64 segments of 256 KiB) and what it
/// holds: the short-TTL bucket's segments first, then the hour's, then
/// those of items that never expire.
fn saved(tag: &str) -> (TempFile, Live, Gone) {
    let f = TempFile::new(tag);
    let s = engine(16);
    let (live, gone) = fill(&s, 20_000);
    let saved = s.save(f.path(), T0 + 1).unwrap();
    assert_eq!(saved.items, s.stats(T0 + 1).curr_items);
    (f, live, gone)
}

#[test]
fn a_round_trip_restores_every_live_item_exactly() {
    let (f, live, gone) = saved("roundtrip");
    let s = engine(16);
    let r = s.restore(f.path(), T0 + 10).unwrap();
    assert_eq!(r.cold, None, "{r}");
    assert_eq!((r.dropped_segments, &r.stopped_early), (0, &None), "{r}");
    assert_eq!(r.items, live.len() as u64, "{r}");
    assert!(r.expired_items > 0, "the short-TTL items expired: {r}");
    s.check();
    assert_eq!(never_wrong(&s, &live, &gone, T0 + 10), live.len());
    assert_eq!(s.stats(T0 + 10).curr_items, live.len() as u64);
    assert_eq!(figure(&s, "seg_restored_items", T0 + 10), live.len() as u64);
    // New cas values continue above every restored one.
    let max = live.iter().map(|(_, g)| g.cas).max().unwrap();
    let cas = s
        .store(StoreCommand::Set, b"new", b"v", 0, 0, T0 + 10)
        .unwrap();
    assert!(cas > max, "{cas} > {max}");
    // The remaining TTL runs on: the long-TTL items expire at their time.
    let (k, g) = live.iter().find(|(_, g)| g.exptime != 0).unwrap();
    assert_eq!(read(&s, k, g.exptime), Err(Error::NotFound));
    s.check();
}

#[test]
fn a_file_is_refused_until_a_graceful_stop_saves_it() {
    let (f, live, gone) = saved("inuse");
    let s = engine(16);
    assert_eq!(s.restore(f.path(), T0 + 10).unwrap().cold, None);
    // Killed now: the file is marked in use.
    let killed = engine(16);
    let r = killed.restore(f.path(), T0 + 11).unwrap();
    assert!(
        r.cold
            .as_deref()
            .unwrap()
            .contains("not closed by a graceful stop"),
        "{r}"
    );
    assert_eq!(never_wrong(&killed, &live, &gone, T0 + 11), 0);
    // The first one stops gracefully: warm again.
    s.save(f.path(), T0 + 12).unwrap();
    let again = engine(16);
    assert_eq!(again.restore(f.path(), T0 + 13).unwrap().cold, None);
    assert_eq!(never_wrong(&again, &live, &gone, T0 + 13), live.len());
}

/// Segment records in a saved file.
fn records(bytes: &[u8]) -> usize {
    u64::from_le_bytes(bytes[72..80].try_into().unwrap()) as usize
}

/// The segment bytes of the record whose header starts at `at`.
fn record_len(bytes: &[u8], at: usize) -> usize {
    u64::from_le_bytes(bytes[at + 40..at + 48].try_into().unwrap()) as usize
}

/// Where record `n` starts in a saved file.
fn record_at(bytes: &[u8], n: usize) -> usize {
    let mut at = HEADER_LEN;
    for _ in 0..n {
        at += RECORD_LEN + record_len(bytes, at);
    }
    at
}

/// The middle of record `n`'s segment bytes.
fn data_middle(bytes: &[u8], n: usize) -> usize {
    let at = record_at(bytes, n);
    at + RECORD_LEN + record_len(bytes, at) / 2
}

#[test]
fn a_flipped_bit_in_a_segment_drops_only_that_segment() {
    let (f, live, gone) = saved("flip");
    let good = std::fs::read(f.path()).unwrap();
    // A segment of never-expiring items (the last record is the span).
    let at = data_middle(&good, records(&good) - 2);
    for bit in [0, 3, 7] {
        let mut bad = good.clone();
        bad[at] ^= 1 << bit;
        std::fs::write(f.path(), &bad).unwrap();
        let s = engine(16);
        let r = s.restore(f.path(), T0 + 10).unwrap();
        assert_eq!((r.dropped_segments, &r.cold), (1, &None), "{r}");
        s.check();
        let found = never_wrong(&s, &live, &gone, T0 + 10);
        assert!(found > live.len() / 2 && found < live.len(), "{found}");
        assert_eq!(found as u64, r.items);
        assert_eq!(figure(&s, "seg_restore_dropped_segments", T0 + 10), 1);
    }
}

#[test]
fn a_damaged_header_or_record_header_never_serves_a_wrong_value() {
    let (f, live, gone) = saved("headers");
    let good = std::fs::read(f.path()).unwrap();
    // The file header: nothing restored.
    for at in [0, 13, 20, 50, HEADER_LEN - 1] {
        let mut bad = good.clone();
        bad[at] ^= 0x10;
        std::fs::write(f.path(), &bad).unwrap();
        let s = engine(16);
        let r = s.restore(f.path(), T0 + 10).unwrap();
        assert!(r.cold.is_some(), "byte {at}: {r}");
        assert_eq!(never_wrong(&s, &live, &gone, T0 + 10), 0);
    }
    // A record header (its length cannot be trusted): it and the rest go.
    let n = records(&good) - 3;
    let mut bad = good.clone();
    bad[record_at(&good, n) + 41] ^= 0x01;
    std::fs::write(f.path(), &bad).unwrap();
    let s = engine(16);
    let r = s.restore(f.path(), T0 + 10).unwrap();
    let why = format!("record {n} of");
    assert!(r.stopped_early.as_deref().unwrap().contains(&why), "{r}");
    s.check();
    let found = never_wrong(&s, &live, &gone, T0 + 10);
    assert!(found > 0 && found < live.len(), "{found}");
}

#[test]
fn a_truncated_file_keeps_only_whole_segments_before_the_cut() {
    let (f, live, gone) = saved("cut");
    let good = std::fs::read(f.path()).unwrap();
    let mid = data_middle(&good, records(&good) - 4);
    for cut in [0, 10, HEADER_LEN - 1, HEADER_LEN + 5, mid, good.len() - 1] {
        std::fs::write(f.path(), &good[..cut]).unwrap();
        let s = engine(16);
        let r = s.restore(f.path(), T0 + 10).unwrap();
        if cut < HEADER_LEN {
            assert!(r.cold.as_deref().unwrap().contains("cut short"), "{r}");
        } else {
            assert!(
                r.stopped_early.as_deref().unwrap().contains("cut short"),
                "{r}"
            );
        }
        s.check();
        let found = never_wrong(&s, &live, &gone, T0 + 10);
        assert_eq!(found as u64, r.items, "cut {cut}");
        if cut == mid {
            assert!(found > 0 && found < live.len(), "{found}");
        }
    }
}

#[test]
fn another_memory_limit_or_format_starts_cold_and_says_why() {
    let (f, live, gone) = saved("foreign");
    let s = engine(32);
    let r = s.restore(f.path(), T0 + 10).unwrap();
    assert_eq!(
        r.to_string(),
        format!(
            "memory file {}: it was saved with a memory limit of 16 MiB, this start has 32 MiB: \
             starting cold",
            f.path().display()
        )
    );
    assert_eq!(never_wrong(&s, &live, &gone, T0 + 10), 0);

    let (f, live, gone) = saved("version");
    let mut bytes = std::fs::read(f.path()).unwrap();
    bytes[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    std::fs::write(f.path(), &bytes).unwrap();
    let s = engine(16);
    let r = s.restore(f.path(), T0 + 10).unwrap();
    assert!(r.cold.as_deref().unwrap().contains("format version"), "{r}");
    assert_eq!(never_wrong(&s, &live, &gone, T0 + 10), 0);

    std::fs::write(
        f.path(),
        b"some other file, long enough to hold a header? no",
    )
    .unwrap();
    let r = engine(16).restore(f.path(), T0 + 10).unwrap();
    assert!(r.cold.is_some(), "{r}");
}

#[test]
fn a_missing_file_starts_cold_and_an_unwritable_one_is_an_error() {
    let f = TempFile::new("missing");
    let s = engine(16);
    let r = s.restore(f.path(), T0).unwrap();
    assert_eq!(r.cold.as_deref(), Some("no such file yet"));
    assert!(f.path().exists(), "created, marked in use");
    let r = engine(16).restore(f.path(), T0).unwrap();
    assert!(r.cold.unwrap().contains("graceful"));
    let nowhere = f.path().join("no-such-dir").join("file");
    assert!(engine(16).restore(&nowhere, T0).is_err());
    assert!(s.save(&nowhere, T0).is_err());
}

#[test]
fn restore_needs_a_new_engine() {
    let (f, _, _) = saved("used");
    let s = engine(16);
    s.store(StoreCommand::Set, b"k", b"v", 0, 0, T0).unwrap();
    assert!(s.restore(f.path(), T0).is_err());
}

#[test]
fn a_pending_delayed_flush_and_the_flush_watermark_survive() {
    let f = TempFile::new("flush");
    let s = engine(16);
    s.store(StoreCommand::Set, b"old", b"1", 0, 0, T0).unwrap();
    s.flush(T0, T0).unwrap();
    s.store(StoreCommand::Set, b"kept", b"2", 0, 0, T0).unwrap();
    s.flush(T0 + 100, T0).unwrap();
    s.save(f.path(), T0 + 1).unwrap();
    let s = engine(16);
    assert_eq!(s.restore(f.path(), T0 + 2).unwrap().items, 1);
    assert_eq!(read(&s, b"old", T0 + 2), Err(Error::NotFound));
    assert_eq!(read(&s, b"kept", T0 + 2).unwrap().value, b"2");
    assert_eq!(read(&s, b"kept", T0 + 100), Err(Error::NotFound));
}

#[test]
fn last_access_times_and_segment_access_bases_survive() {
    // Short access words count from their segment's access base: items
    // in segments opened hours apart read back their own access times
    // only if each segment's base makes the round trip.
    let f = TempFile::new("access");
    let s = engine(16);
    let filler = vec![b'f'; 100 << 10];
    let mut want = Vec::new();
    for (i, at) in [T0, T0 + 5_000, T0 + 11_000].into_iter().enumerate() {
        for j in 0..3 {
            let k = format!("filler-{i}-{j}").into_bytes();
            s.store(StoreCommand::Set, &k, &filler, 0, 0, at).unwrap();
        }
        let k = format!("probe-{i}").into_bytes();
        s.store(StoreCommand::Set, &k, b"v", 0, 0, at).unwrap();
        want.push((k, at));
    }
    // A read 1,000 s after the store: the word moves off the store time.
    read(&s, b"probe-1", T0 + 6_000).unwrap();
    want[1].1 = T0 + 6_000;
    s.save(f.path(), T0 + 12_000).unwrap();

    let s = engine(16);
    let r = s.restore(f.path(), T0 + 12_100).unwrap();
    assert_eq!(r.cold, None, "{r}");
    for (k, at) in &want {
        let got = s.get(k, T0 + 12_200, |i, v| (i.last_access, v.to_vec()));
        assert_eq!(got, Ok((*at, b"v".to_vec())), "{k:?}");
    }
    s.check();
}
