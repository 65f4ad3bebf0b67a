//! memcached's `watch` log streams (c-core/src/server/watch.c): up to
//! WATCH_MAX watchers, each with a bounded buffer of lines; a line that
//! does not fit is counted as skipped (and announced before the next one
//! that fits); the watcher's worker is woken once per batch.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use protocol::{WatchItem, WATCH_EVICTIONS, WATCH_FETCHERS, WATCH_MUTATIONS};
use storage::{Evicted, KEY_MAX};

use crate::buf::Buf;
use crate::shared::lock;

const WATCH_MAX: usize = 20;
const WATCH_BUF_BYTES: usize = 256 * 1024;

struct Watcher {
    worker: usize,
    token: usize,
    events: u32,
    buf: Vec<u8>,
    skipped: u64,
    woken: bool,
}

#[derive(Default)]
struct Inner {
    w: Vec<Option<Watcher>>,
    gid: u64,
    sent: u64,
    skipped: u64,
}

/// The server's watchers. `events` is the union of what they want, read
/// with one relaxed load per request.
pub struct Watch {
    pub events: AtomicU32,
    inner: Mutex<Inner>,
}

/// The workers whose watchers got new lines and must be woken.
pub type Wakeups = Vec<usize>;

impl Watch {
    pub fn new() -> Watch {
        Watch {
            events: AtomicU32::new(0),
            inner: Mutex::new(Inner {
                w: (0..WATCH_MAX).map(|_| None).collect(),
                ..Inner::default()
            }),
        }
    }

    fn publish(&self, inner: &Inner) {
        let all = inner.w.iter().flatten().fold(0, |a, w| a | w.events);
        self.events.store(all, Ordering::Relaxed);
    }

    /// Make connection `token` of `worker` a watcher; false when full.
    pub fn add(&self, worker: usize, token: usize, events: u32) -> bool {
        let mut inner = lock(&self.inner);
        let Some(slot) = inner.w.iter().position(Option::is_none) else {
            return false;
        };
        inner.w[slot] = Some(Watcher {
            worker,
            token,
            events,
            buf: Vec::new(),
            skipped: 0,
            woken: false,
        });
        self.publish(&inner);
        true
    }

    pub fn remove(&self, worker: usize, token: usize) {
        let mut inner = lock(&self.inner);
        for w in inner.w.iter_mut() {
            if w.as_ref()
                .is_some_and(|x| x.worker == worker && x.token == token)
            {
                *w = None;
            }
        }
        self.publish(&inner);
    }

    /// A fetch or mutation event from connection `cfd`; returns the workers
    /// to wake.
    pub fn log(&self, event: u32, it: &WatchItem<'_>, cfd: i32) -> Wakeups {
        if event != WATCH_FETCHERS && event != WATCH_MUTATIONS {
            return Vec::new();
        }
        let (secs, usec) = now();
        let key = uri_encode(it.key);
        let mut inner = lock(&self.inner);
        inner.gid += 1;
        let gid = inner.gid;
        let line = if event == WATCH_FETCHERS {
            let status = if it.status != 0 { "found" } else { "not_found" };
            format!(
                "ts={secs}.{usec} gid={gid} type=item_get key={key} status={status} clsid={} cfd={cfd} size={}\n",
                it.clsid, it.size
            )
        } else {
            const STORE: [&str; 4] = ["not_stored", "stored", "exists", "not_found"];
            const CMDS: [&str; 7] = ["null", "add", "set", "replace", "append", "prepend", "cas"];
            // memcached prints the seconds left, unsigned
            let ttl = if it.exptime != 0 {
                (it.exptime - secs) as u32
            } else {
                0
            };
            format!(
                "ts={secs}.{usec} gid={gid} type=item_store key={key} status={} cmd={} ttl={ttl} clsid={} cfd={cfd} size={}\n",
                STORE.get(it.status as usize).unwrap_or(&STORE[0]),
                CMDS.get(it.cmd as usize).unwrap_or(&CMDS[0]),
                it.clsid,
                it.size
            )
        };
        offer_all(&mut inner, event, line.as_bytes())
    }

    /// An item the engine evicted (called under the engine's lock).
    pub fn evicted(&self, it: &Evicted<'_>) -> Wakeups {
        if self.events.load(Ordering::Relaxed) & WATCH_EVICTIONS == 0 {
            return Vec::new();
        }
        let (secs, usec) = now();
        let key = uri_encode(it.key);
        // memcached's: seconds left (-1: never), seconds since last access
        let ttl = if it.exptime > 0 {
            it.exptime - secs
        } else {
            -1
        };
        let la = (secs - it.last_access) as i32;
        let mut inner = lock(&self.inner);
        inner.gid += 1;
        let line = format!(
            "ts={secs}.{usec} gid={} type=eviction key={key} fetch={} ttl={ttl} la={la} clsid={} size={}\n",
            inner.gid,
            if it.fetched { "yes" } else { "no" },
            it.class_id,
            it.value_len
        );
        offer_all(&mut inner, WATCH_EVICTIONS, line.as_bytes())
    }

    /// Move whole lines of connection `token`'s log into `out`, keeping at
    /// most `max` queued; true when lines are left.
    pub fn take(&self, worker: usize, token: usize, out: &mut Buf, max: usize) -> bool {
        use protocol::Output;
        let mut inner = lock(&self.inner);
        let mut left = false;
        for w in inner.w.iter_mut().flatten() {
            if w.worker != worker || w.token != token {
                continue;
            }
            w.woken = false;
            let mut n = max.saturating_sub(out.queued()).min(w.buf.len());
            while n > 0 && n < w.buf.len() && w.buf[n - 1] != b'\n' {
                n -= 1;
            }
            if n > 0 && out.append(&[&w.buf[..n]]) {
                w.buf.drain(..n);
            }
            if !w.buf.is_empty() {
                w.woken = true;
                left = true;
            }
        }
        left
    }

    /// (watchers, lines sent, lines skipped) for `stats`.
    pub fn stats(&self) -> (u64, u64, u64) {
        let inner = lock(&self.inner);
        let count = inner.w.iter().flatten().count() as u64;
        (count, inner.sent, inner.skipped)
    }
}

/// The line to every watcher of `event`; the workers to wake.
fn offer_all(inner: &mut Inner, event: u32, line: &[u8]) -> Wakeups {
    let mut wake = Vec::new();
    let (mut sent, mut skipped) = (0, 0);
    for w in inner.w.iter_mut().flatten() {
        if w.events & event == 0 {
            continue;
        }
        let note = if w.skipped > 0 {
            format!("skipped={}\n", w.skipped)
        } else {
            String::new()
        };
        if w.buf.len() + note.len() + line.len() > WATCH_BUF_BYTES {
            w.skipped += 1;
            skipped += 1;
            continue;
        }
        w.buf.extend_from_slice(note.as_bytes());
        w.buf.extend_from_slice(line);
        w.skipped = 0;
        sent += 1;
        if !w.woken {
            w.woken = true;
            wake.push(w.worker);
        }
    }
    inner.sent += sent;
    inner.skipped += skipped;
    wake
}

fn now() -> (i64, u32) {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_secs() as i64, d.subsec_micros())
}

/// Percent-encoding of a key (c-core/src/util/uri.c).
fn uri_encode(key: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut s = String::with_capacity(key.len());
    for &c in &key[..key.len().min(KEY_MAX)] {
        if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~') {
            s.push(c as char);
        } else {
            s.push('%');
            s.push(HEX[usize::from(c >> 4)] as char);
            s.push(HEX[usize::from(c & 15)] as char);
        }
    }
    s
}
