//! What the listener and every worker share: the settings, the engine,
//! connection totals, each worker's counters, connection list, hand-over
//! channel and waker, the stats baseline, the watch streams and how the
//! server is to stop (c-core/src/server/server.h's molt_server).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use mio::net::TcpStream;
use mio::Waker;
use molt_tls::TlsAcceptor;
use seg::Seg;

use crate::latency::Latency;
use crate::options::Settings;
use crate::watch::Watch;

/// The protocol's counters (protocol::Counter, same indices) and the
/// connection's byte counts, in the order `stats` lists them
/// (protocol.h molt_counter).
pub const COUNTER_NAMES: [&str; COUNTERS] = [
    "cmd_get",
    "cmd_set",
    "cmd_flush",
    "cmd_touch",
    "cmd_meta",
    "get_hits",
    "get_misses",
    "delete_misses",
    "delete_hits",
    "incr_misses",
    "incr_hits",
    "decr_misses",
    "decr_hits",
    "cas_misses",
    "cas_hits",
    "cas_badval",
    "touch_hits",
    "touch_misses",
    "store_too_large",
    "store_no_memory",
    "bytes_read",
    "bytes_written",
];
pub const COUNTERS: usize = 22;
pub const BYTES_READ: usize = 20;
pub const BYTES_WRITTEN: usize = 21;

/// One worker's counters: that worker is the only writer (a relaxed load
/// and store, no read-modify-write); any thread may read them.
pub struct Counters([AtomicU64; COUNTERS]);

impl Counters {
    fn new() -> Counters {
        Counters(std::array::from_fn(|_| AtomicU64::new(0)))
    }

    #[inline]
    pub fn add(&self, which: usize, n: u64) {
        let c = &self.0[which];
        c.store(c.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
    }

    pub fn get(&self, which: usize) -> u64 {
        self.0[which].load(Ordering::Relaxed)
    }
}

/// A connection as `stats conns` shows it from any thread: fixed at accept
/// but for the time of its last command.
pub struct ConnInfo {
    pub fd: i32,
    pub peer: Option<SocketAddr>,
    /// Unix seconds of the last read batch that ran a command (else of the
    /// accept); written by the owning worker.
    pub last_cmd: Arc<AtomicI64>,
}

/// The part of a worker other threads reach.
pub struct WorkerShared {
    pub counters: Counters,
    pub latency: Latency,
    /// Its connections by token, for `stats conns`.
    pub conns: Mutex<BTreeMap<usize, ConnInfo>>,
    /// Accepted sockets handed to it; `waker` announces them.
    pub handoff: Sender<TcpStream>,
    pub waker: Waker,
    /// Set (then the waker woken) when a watcher of this worker has lines.
    pub watch_wake: AtomicBool,
    /// Set (then the waker woken) when the worker is to stop.
    pub stop: AtomicBool,
}

/// How the server stops (server.h SERVER_STOP_*): the first request wins.
pub const STOP_NONE: u8 = 0;
pub const STOP_GRACEFUL: u8 = 1;
pub const STOP_NOW: u8 = 2;

/// `stats reset` subtracts these from what it reports.
#[derive(Clone, Copy, Default)]
pub struct Baseline {
    pub counters: [u64; COUNTERS],
    pub total_conns: u64,
    pub rejected_conns: u64,
    pub idle_kicks: u64,
    pub total_items: u64,
    pub evictions: u64,
    pub expired: u64,
}

pub struct Shared {
    pub settings: Settings,
    pub storage: Arc<Seg>,
    /// Unix seconds at start.
    pub started: i64,
    pub listen_fd: i32,
    pub listen_addr: SocketAddr,
    pub curr_conns: AtomicU64,
    pub total_conns: AtomicU64,
    pub rejected_conns: AtomicU64,
    pub idle_kicks: AtomicU64,
    pub stop_mode: AtomicU8,
    /// Wakes the listener (shutdown).
    pub listener_waker: Waker,
    pub workers: Vec<Arc<WorkerShared>>,
    pub baseline: Mutex<Baseline>,
    pub watch: Arc<Watch>,
    /// With --tls-cert/--tls-key: every connection speaks TLS.
    pub tls: Option<TlsAcceptor>,
}

/// A lock that keeps serving after a panic elsewhere (nothing guarded here
/// is left half-updated by a panic in safe code that matters).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub fn new_worker(handoff: Sender<TcpStream>, waker: Waker) -> WorkerShared {
        WorkerShared {
            counters: Counters::new(),
            latency: Latency::new(),
            conns: Mutex::new(BTreeMap::new()),
            handoff,
            waker,
            watch_wake: AtomicBool::new(false),
            stop: AtomicBool::new(false),
        }
    }

    /// `shutdown [graceful]` (host.c host_shutdown): the first request
    /// decides the mode; the listener wakes up and stops.
    pub fn request_stop(&self, mode: u8) {
        let _ =
            self.stop_mode
                .compare_exchange(STOP_NONE, mode, Ordering::AcqRel, Ordering::Relaxed);
        let _ = self.listener_waker.wake();
    }

    pub fn stop_mode(&self) -> u8 {
        self.stop_mode.load(Ordering::Acquire)
    }

    /// "tls" or "tcp".
    pub fn transport_name(&self) -> &'static str {
        if self.tls.is_some() {
            "tls"
        } else {
            "tcp"
        }
    }

    /// Read the certificate files again for new connections (SIGHUP,
    /// `refresh_certs`); open connections keep theirs.
    pub fn reload_certs(&self) -> Result<(), String> {
        let Some(acceptor) = &self.tls else {
            return Ok(());
        };
        let o = &self.settings;
        let ca = (!o.tls_ca.is_empty()).then_some(o.tls_ca.as_str());
        acceptor
            .reload(&o.tls_cert, &o.tls_key, ca)
            .map_err(|e| e.to_string())
    }
}
