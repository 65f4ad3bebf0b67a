//! Warm restart (memcached's `-e` memory file, with plain file I/O): a
//! graceful stop saves every segment holding items to a file; the next
//! start with that file and the same memory layout loads the segments back
//! and rebuilds the hash index by walking each segment's items with the
//! engine's own decoder (`item::read_header`). The index is never saved:
//! it is derived, and a new process has a new hash seed anyway. The format
//! depends on the item layout only through that decoder: a change of the
//! layout (or of this file) bumps [`FORMAT_VERSION`], and files of another
//! version start cold.
//!
//! File layout (integers little endian):
//!
//! ```text
//! header, HEADER_LEN bytes:
//!   0  magic "MOLTSEG\0"          8  format version u32
//!   12 state u32 (SAVED / IN_USE) 16 memory limit u64
//!   24 segment size u64           32 segment count u64
//!   40 access-time base i64       48 next cas u64
//!   56 flush watermark (cas) u64  64 saved at (unix s) i64
//!   72 segment records u64        80 delayed flushes pending u32
//!   88 their times, MAX_PENDING x i64
//!   HEADER_LEN - 4: crc32 of the bytes before it
//! per segment holding items, bucket by bucket, each chain oldest first:
//!   record header, RECORD_LEN bytes:
//!   0  TTL bucket u16  2 segments borrowed (a span) u16
//!   8  base cas u64    16 max cas u64   24 expire_at i64   32 create_at i64
//!   40 bytes written u64   48 crc32 of those bytes u32
//!   52 access base u32 (the segment's short access words count from it)
//!   RECORD_LEN - 4: crc32 of the record header before it
//!   then the segment's written bytes
//! ```
//!
//! Never a wrong value: a file of another version, memory limit or segment
//! size, one not saved by a graceful stop, or one whose header fails its
//! checksum restores nothing; a segment failing its checksum (or whose
//! items do not parse) is dropped whole; a file cut short keeps the
//! segments before the cut. Dead items stay dead (their mark is in the
//! bytes), so dropping a segment can lose a key, never bring back an older
//! version. At start, once loaded, the file is replaced at once by a header
//! marked in use, so a process that stops without saving (crash, SIGKILL,
//! power cut) leaves a file the next start refuses. A save writes
//! `PATH.tmp` with its header last, fsyncs it and renames it over PATH.

use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::engine::{Inner, MAX_PENDING};
use crate::hashtable::{hash_key, pack, tag_of};
use crate::item::{self, Bases, Header, A_FETCHED};
use crate::segment::{State, NONE};
use crate::ttl::{NEVER, NUM_BUCKETS};

/// Bumped by any change of this file's layout or of the item layout
/// (item.rs) the saved segments hold.
pub const FORMAT_VERSION: u32 = 3;

const MAGIC: &[u8; 8] = b"MOLTSEG\0";
pub(crate) const HEADER_LEN: usize = 160;
pub(crate) const RECORD_LEN: usize = 64;
/// Header state: written by a graceful stop, complete.
const SAVED: u32 = u32::from_le_bytes(*b"SAVD");
/// Header state: a server is running on this file (or died without saving).
const IN_USE: u32 = u32::from_le_bytes(*b"USED");
/// Write buffer (segment bytes bypass it; record headers do not).
const IO_BUF: usize = 1 << 20;

/// A memory file that cannot be written: the server must not run with it
/// (it could not mark the file in use, or the save is lost).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersistError(
    /// What failed, with the file and the OS's words.
    pub String,
);

impl fmt::Display for PersistError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PersistError {}

/// What a start with a memory file restored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Restored {
    /// The file, as given.
    pub path: PathBuf,
    /// Why nothing was restored (the start is cold), if so.
    pub cold: Option<String>,
    /// Live items indexed.
    pub items: u64,
    /// Segments loaded and kept (holding live items).
    pub segments: u64,
    /// Segments dropped because they failed their checksum or did not parse.
    pub dropped_segments: u64,
    /// Items that expired (or were flushed) while the server was down.
    pub expired_items: u64,
    /// Why reading stopped before the last record (cut short, damaged
    /// record header), if it did.
    pub stopped_early: Option<String>,
    /// Unix time of the save.
    pub saved_at: i64,
    /// Wall time of the load, index rebuild and marking the file in use.
    pub elapsed: Duration,
}

/// [`Restored::cold`] of a first start.
const NO_FILE: &str = "no such file yet";

impl Restored {
    /// Whether the file was restored whole, or there was none yet: nothing
    /// to warn about.
    pub fn clean(&self) -> bool {
        match &self.cold {
            Some(why) => why == NO_FILE,
            None => self.dropped_segments == 0 && self.stopped_early.is_none(),
        }
    }
}

impl fmt::Display for Restored {
    /// The start-up log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.path.display();
        if let Some(why) = &self.cold {
            return write!(f, "memory file {p}: {why}: starting cold");
        }
        write!(
            f,
            "memory file {p}: restored {} items in {} segments in {:.3} s",
            self.items,
            self.segments,
            self.elapsed.as_secs_f64()
        )?;
        if self.expired_items > 0 {
            write!(f, ", {} expired while stopped", self.expired_items)?;
        }
        if self.dropped_segments > 0 {
            write!(
                f,
                ", dropped {} segment(s) that failed their checksum",
                self.dropped_segments
            )?;
        }
        if let Some(why) = &self.stopped_early {
            write!(f, ", {why}")?;
        }
        Ok(())
    }
}

/// What a graceful stop saved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Saved {
    /// The file, as given.
    pub path: PathBuf,
    /// Live items saved.
    pub items: u64,
    /// Segments saved (those holding live items).
    pub segments: u64,
    /// File size.
    pub bytes: u64,
    /// Wall time of writing, fsync and rename.
    pub elapsed: Duration,
}

impl fmt::Display for Saved {
    /// The shutdown log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "memory file {}: saved {} items in {} segments ({} bytes) in {:.3} s",
            self.path.display(),
            self.items,
            self.segments,
            self.bytes,
            self.elapsed.as_secs_f64()
        )
    }
}

fn put_u16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}
fn get_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(b[at..at + 2].try_into().expect("2 bytes"))
}
fn get_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}
fn get_u64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// Seal a fixed-size block: its last 4 bytes become the crc32 of the rest.
fn seal(b: &mut [u8]) {
    let n = b.len() - 4;
    let crc = crc32fast::hash(&b[..n]);
    put_u32(b, n, crc);
}

/// Whether a block sealed by [`seal`] is intact.
fn sealed(b: &[u8]) -> bool {
    let n = b.len() - 4;
    crc32fast::hash(&b[..n]) == get_u32(b, n)
}

/// The file header's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileHeader {
    state: u32,
    memory_limit: u64,
    seg_size: u64,
    seg_count: u64,
    time_base: i64,
    cas_next: u64,
    flush_cas: u64,
    saved_at: i64,
    records: u64,
    pending: Vec<i64>,
}

impl FileHeader {
    fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[..8].copy_from_slice(MAGIC);
        put_u32(&mut b, 8, FORMAT_VERSION);
        put_u32(&mut b, 12, self.state);
        put_u64(&mut b, 16, self.memory_limit);
        put_u64(&mut b, 24, self.seg_size);
        put_u64(&mut b, 32, self.seg_count);
        put_u64(&mut b, 40, self.time_base as u64);
        put_u64(&mut b, 48, self.cas_next);
        put_u64(&mut b, 56, self.flush_cas);
        put_u64(&mut b, 64, self.saved_at as u64);
        put_u64(&mut b, 72, self.records);
        put_u32(&mut b, 80, self.pending.len() as u32);
        for (i, &t) in self.pending.iter().take(MAX_PENDING).enumerate() {
            put_u64(&mut b, 88 + 8 * i, t as u64);
        }
        seal(&mut b);
        b
    }

    /// The header, or why the file cannot be used.
    fn decode(b: &[u8; HEADER_LEN]) -> Result<FileHeader, String> {
        if &b[..8] != MAGIC {
            return Err("not a molt seg memory file".into());
        }
        let version = get_u32(b, 8);
        if version != FORMAT_VERSION {
            return Err(format!(
                "format version {version}, this build reads version {FORMAT_VERSION}"
            ));
        }
        if !sealed(b) {
            return Err("its header fails its checksum".into());
        }
        let n = (get_u32(b, 80) as usize).min(MAX_PENDING);
        Ok(FileHeader {
            state: get_u32(b, 12),
            memory_limit: get_u64(b, 16),
            seg_size: get_u64(b, 24),
            seg_count: get_u64(b, 32),
            time_base: get_u64(b, 40) as i64,
            cas_next: get_u64(b, 48),
            flush_cas: get_u64(b, 56),
            saved_at: get_u64(b, 64) as i64,
            records: get_u64(b, 72),
            pending: (0..n).map(|i| get_u64(b, 88 + 8 * i) as i64).collect(),
        })
    }
}

/// One segment's record header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Record {
    bucket: u16,
    borrowed: u16,
    base_cas: u64,
    max_cas: u64,
    expire_at: i64,
    create_at: i64,
    access_base: u32,
    len: u64,
    data_crc: u32,
}

impl Record {
    fn encode(&self) -> [u8; RECORD_LEN] {
        let mut b = [0u8; RECORD_LEN];
        put_u16(&mut b, 0, self.bucket);
        put_u16(&mut b, 2, self.borrowed);
        put_u64(&mut b, 8, self.base_cas);
        put_u64(&mut b, 16, self.max_cas);
        put_u64(&mut b, 24, self.expire_at as u64);
        put_u64(&mut b, 32, self.create_at as u64);
        put_u64(&mut b, 40, self.len);
        put_u32(&mut b, 48, self.data_crc);
        put_u32(&mut b, 52, self.access_base);
        seal(&mut b);
        b
    }

    fn decode(b: &[u8; RECORD_LEN]) -> Option<Record> {
        sealed(b).then(|| Record {
            bucket: get_u16(b, 0),
            borrowed: get_u16(b, 2),
            base_cas: get_u64(b, 8),
            max_cas: get_u64(b, 16),
            expire_at: get_u64(b, 24) as i64,
            create_at: get_u64(b, 32) as i64,
            len: get_u64(b, 40),
            data_crc: get_u32(b, 48),
            access_base: get_u32(b, 52),
        })
    }
}

/// Visit the items of a segment's first `end` bytes in order, checking
/// that each header and item lies within them; false at the first that
/// does not (a damaged segment: nothing of it may be trusted).
fn walk_checked(data: &[u8], end: usize, base: Bases, mut f: impl FnMut(usize, &Header)) -> bool {
    let mut off = 0;
    while off < end {
        if end - off < item::header_len_from_ctrl(data[off]) {
            return false;
        }
        let h = item::read_header(&data[off..end], base);
        let total = h.total();
        if h.klen == 0 || total > end - off {
            return false;
        }
        f(off, &h);
        off += total;
    }
    true
}

/// `PATH.tmp`, beside PATH (the rename stays within one file system).
fn tmp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".tmp");
    PathBuf::from(s)
}

/// Make a rename in `path`'s directory durable.
fn sync_dir(path: &Path) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

/// Memory sizes as people give them (-m is in MiB).
fn size(bytes: u64) -> String {
    if bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{bytes} bytes")
    }
}

impl Inner {
    fn file_header(&self, state: u32, records: u64, now: i64) -> FileHeader {
        FileHeader {
            state,
            memory_limit: self.memory_limit,
            seg_size: self.segs.seg_size as u64,
            seg_count: self.segs.count() as u64,
            time_base: self.time_base,
            cas_next: self.cas_next,
            flush_cas: self.flush_cas,
            saved_at: now,
            records,
            pending: self.pending.clone(),
        }
    }

    /// Write `path` whole through `PATH.tmp`: the header (state `state`)
    /// last, then fsync and rename, so PATH is always either the old file
    /// or the complete new one. With `segments`, every segment holding
    /// items follows the header. Returns (segments, file bytes).
    fn write_file(
        &self,
        path: &Path,
        state: u32,
        segments: bool,
        now: i64,
    ) -> io::Result<(u64, u64)> {
        let tmp = tmp_path(path);
        let r = self.write_tmp(&tmp, state, segments, now).and_then(|done| {
            fs::rename(&tmp, path)?;
            sync_dir(path)?;
            Ok(done)
        });
        if r.is_err() {
            // (A disk that filled up gets its space back.)
            let _ = fs::remove_file(&tmp);
        }
        r
    }

    /// [`Inner::write_file`]'s writing of `PATH.tmp`, fsynced.
    fn write_tmp(
        &self,
        tmp: &Path,
        state: u32,
        segments: bool,
        now: i64,
    ) -> io::Result<(u64, u64)> {
        let mut w = BufWriter::with_capacity(IO_BUF, File::create(tmp)?);
        // A placeholder until the records are counted and written.
        w.write_all(&[0u8; HEADER_LEN])?;
        let (mut records, mut bytes) = (0u64, HEADER_LEN as u64);
        for b in 0..NUM_BUCKETS {
            let mut id = if segments {
                self.ttl.chains[b].head
            } else {
                NONE
            };
            while id != NONE {
                let m = &self.segs.meta[id as usize];
                if m.live_items > 0 {
                    let data = &self.segs.data[id as usize][..m.write_off];
                    let rec = Record {
                        bucket: m.bucket,
                        borrowed: m.span.len() as u16,
                        base_cas: m.base_cas,
                        max_cas: m.max_cas,
                        expire_at: m.expire_at,
                        create_at: m.create_at,
                        access_base: m.access_base,
                        len: data.len() as u64,
                        data_crc: crc32fast::hash(data),
                    };
                    w.write_all(&rec.encode())?;
                    w.write_all(data)?;
                    records += 1;
                    bytes += (RECORD_LEN + data.len()) as u64;
                }
                id = m.next;
            }
        }
        let mut f = w.into_inner().map_err(|e| e.into_error())?;
        f.seek(SeekFrom::Start(0))?;
        f.write_all(&self.file_header(state, records, now).encode())?;
        f.sync_all()?;
        Ok((records, bytes))
    }

    /// Save every segment holding items to `path` (see the module doc).
    /// The engine must not change meanwhile: the caller holds its lock.
    pub fn save(&mut self, path: &Path, now: i64) -> Result<Saved, PersistError> {
        let started = Instant::now();
        // Segments whose TTL passed are freed first, not saved.
        self.tick(now);
        let (segments, bytes) = self.write_file(path, SAVED, true, now).map_err(|e| {
            PersistError(format!("cannot save memory file {}: {e}", path.display()))
        })?;
        Ok(Saved {
            path: path.to_path_buf(),
            items: self.counters.curr_items,
            segments,
            bytes,
            elapsed: started.elapsed(),
        })
    }

    /// Load what a graceful stop saved in `path` into this new, empty
    /// engine, then mark the file in use (see the module doc). `Err` only
    /// when the file cannot be written: a missing, incompatible, unclean
    /// or damaged file restores what it can and says why in the report.
    pub fn restore(&mut self, path: &Path, now: i64) -> Result<Restored, PersistError> {
        let started = Instant::now();
        if self.counters.curr_items != 0 || self.segs.free.len() != self.segs.count() {
            return Err(PersistError(
                "a memory file is restored into a new engine only".into(),
            ));
        }
        let mut r = Restored {
            path: path.to_path_buf(),
            ..Restored::default()
        };
        match File::open(path) {
            Ok(f) => {
                if let Err(why) = self.load(BufReader::with_capacity(IO_BUF, f), now, &mut r) {
                    r.cold = Some(why);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                r.cold = Some(NO_FILE.into());
            }
            Err(e) => r.cold = Some(format!("cannot read it: {e}")),
        }
        self.counters.restored_items = r.items;
        self.counters.restored_segments = r.segments;
        self.counters.restore_dropped_segments = r.dropped_segments;
        self.write_file(path, IN_USE, false, now).map_err(|e| {
            PersistError(format!("cannot write memory file {}: {e}", path.display()))
        })?;
        r.elapsed = started.elapsed();
        Ok(r)
    }

    /// [`Inner::restore`]'s reading: `Err` (why) when the file is refused
    /// whole, before anything is loaded.
    fn load(&mut self, mut rd: impl Read, now: i64, r: &mut Restored) -> Result<(), String> {
        let mut hb = [0u8; HEADER_LEN];
        if rd.read_exact(&mut hb).is_err() {
            return Err("it is cut short (no complete header)".into());
        }
        let h = FileHeader::decode(&hb)?;
        if h.state != SAVED {
            return Err(
                "it was not closed by a graceful stop (the server crashed, was killed or lost power)"
                    .into(),
            );
        }
        if h.memory_limit != self.memory_limit {
            return Err(format!(
                "it was saved with a memory limit of {}, this start has {}",
                size(h.memory_limit),
                size(self.memory_limit)
            ));
        }
        let (seg_size, count) = (self.segs.seg_size as u64, self.segs.count() as u64);
        if (h.seg_size, h.seg_count) != (seg_size, count) {
            return Err(format!(
                "it was saved with {} segments of {} bytes, this start has {count} of {seg_size}",
                h.seg_count, h.seg_size
            ));
        }
        r.saved_at = h.saved_at;
        self.time_base = h.time_base;
        self.cas_next = h.cas_next;
        self.flush_cas = h.flush_cas;
        self.pending = h.pending.clone();
        self.pending_min = self.pending.iter().copied().min().unwrap_or(i64::MAX);
        let (mut live_items, mut live_bytes) = (0u64, 0u64);
        let mut loaded = Vec::new();
        for i in 0..h.records {
            let mut rb = [0u8; RECORD_LEN];
            if rd.read_exact(&mut rb).is_err() {
                r.stopped_early = Some(format!(
                    "the file is cut short after {i} of {} segments",
                    h.records
                ));
                break;
            }
            let Some(rec) = Record::decode(&rb).filter(|rec| self.fits(rec)) else {
                r.stopped_early = Some(format!(
                    "segment record {i} of {} is damaged: it and the rest are dropped",
                    h.records
                ));
                break;
            };
            let id = self.take_for(&rec);
            let len = rec.len as usize;
            if rd
                .read_exact(&mut self.segs.data[id as usize][..len])
                .is_err()
            {
                self.segs.release(id);
                r.stopped_early = Some(format!(
                    "the file is cut short after {i} of {} segments",
                    h.records
                ));
                break;
            }
            let (mut n, mut bytes) = (0u64, 0u64);
            let flush_cas = self.flush_cas;
            let data = &self.segs.data[id as usize];
            let ok = crc32fast::hash(&data[..len]) == rec.data_crc
                && walk_checked(
                    data,
                    len,
                    Bases {
                        cas: rec.base_cas,
                        access: rec.access_base,
                    },
                    |_, it| {
                        if !it.dead && it.live(now, flush_cas) {
                            n += 1;
                            bytes += it.total() as u64;
                        }
                    },
                );
            if !ok {
                self.segs.release(id);
                r.dropped_segments += 1;
                continue;
            }
            let m = &mut self.segs.meta[id as usize];
            let span = std::mem::take(&mut m.span);
            m.open(
                rec.bucket,
                rec.base_cas,
                rec.create_at,
                rec.access_base,
                usize::from(rec.bucket) == NEVER,
            );
            m.span = span;
            m.write_off = len;
            m.max_cas = rec.max_cas;
            m.expire_at = rec.expire_at;
            self.ttl
                .push_back(&mut self.segs.meta, usize::from(rec.bucket), id);
            live_items += n;
            live_bytes += bytes;
            loaded.push(id);
        }
        self.index_restored(&loaded, live_items, live_bytes, now, r);
        Ok(())
    }

    /// Whether a record (its header intact) can be placed in this engine.
    fn fits(&self, rec: &Record) -> bool {
        let k = 1 + usize::from(rec.borrowed);
        usize::from(rec.bucket) < NUM_BUCKETS
            && k <= self.segs.free.len()
            && rec.len <= (k * self.segs.seg_size) as u64
    }

    /// Free segment ids for a record checked by [`Inner::fits`]: its own,
    /// with a buffer for `1 + borrowed` segments, and the ones it borrows.
    fn take_for(&mut self, rec: &Record) -> u32 {
        let seg_size = self.segs.seg_size;
        let id = self.segs.free.pop().expect("checked by fits");
        let mut span = Vec::with_capacity(usize::from(rec.borrowed));
        for _ in 0..rec.borrowed {
            let x = self.segs.free.pop().expect("checked by fits");
            self.segs.meta[x as usize].state = State::Borrowed;
            span.push(x);
        }
        let k = 1 + span.len();
        self.segs.meta[id as usize].span = span;
        // (Growing a buffer never fails: see Segments::resize.)
        let _ = self.segs.resize(id, k * seg_size);
        id
    }

    /// Rebuild the index over the loaded segments (its table sized at once
    /// for what they hold, as a growth would size it), drop what expired
    /// while stopped and the segments left with nothing live.
    fn index_restored(
        &mut self,
        loaded: &[u32],
        items: u64,
        bytes: u64,
        now: i64,
        r: &mut Restored,
    ) {
        self.table = crate::hashtable::HashTable::new(self.table_buckets_for(items, bytes));
        let mut max_cas = 0;
        for &id in loaded {
            let (base, end) = (self.segs.bases(id), self.segs.meta[id as usize].write_off);
            let mut off = 0;
            while off < end {
                let h = item::read_header(&self.segs.data[id as usize][off..end], base);
                if !h.dead {
                    max_cas = max_cas.max(h.cas);
                    if h.live(now, self.flush_cas) {
                        self.index_item(id, off, &h);
                    } else {
                        item::mark_dead(&mut self.segs.data[id as usize][off..]);
                        r.expired_items += 1;
                    }
                }
                off += h.total();
            }
        }
        for &id in loaded {
            if self.segs.meta[id as usize].live_items == 0 {
                self.ttl.unlink(&mut self.segs.meta, id);
                self.segs.release(id);
            } else {
                r.segments += 1;
            }
        }
        r.items = self.counters.curr_items;
        self.cas_next = self.cas_next.max(max_cas + 1);
        // Housekeeping finds the TTL heads' next expiry at the first
        // operation.
        self.next_expire = i64::MIN;
        self.due = i64::MIN;
        self.epoch += 1;
    }

    /// Index one live restored item. Should a key have two live copies
    /// (only a damaged file could hold them), the higher cas wins.
    fn index_item(&mut self, id: u32, off: usize, h: &Header) {
        let at = off + h.key_at();
        let key = &self.segs.data[id as usize][at..at + usize::from(h.klen)];
        let hash = hash_key(self.seed, key);
        if let Some(other) = self.find(key, hash) {
            if other.hdr.cas >= h.cas {
                item::mark_dead(&mut self.segs.data[id as usize][off..]);
                return;
            }
            self.unlink(&other);
        }
        let freq = u8::from(h.access & A_FETCHED != 0);
        self.table
            .insert(hash, pack(tag_of(hash), self.segs.addr(id, off), freq));
        let m = &mut self.segs.meta[id as usize];
        m.live_items += 1;
        m.live_bytes += h.total();
        self.counters.curr_items += 1;
        self.counters.bytes += h.total() as u64;
    }
}
