//! memcached 1.6's classic text and meta protocols, as molt's C protocol
//! (c-core/src/protocol/) speaks them, and its binary protocol (Rust
//! only: binary/), in safe Rust with no I/O: a
//! [`Session`] takes a connection's unconsumed input, runs every complete
//! request over a [`storage::Storage`] and appends the replies to an
//! [`Output`]; what belongs to the server (stats reports, verbosity,
//! certificates, counters) is reached through a [`Host`].
//!
//! The contract is protocol.h's: the caller passes every unconsumed byte in
//! arrival order, drops the `consumed` leading bytes the call reports, and
//! appends new input after the rest; a session remembers offsets into the
//! unconsumed input (how far a line was searched, where a paused multi-get
//! continues). Replies are byte for byte the C protocol's (and memcached
//! 1.6.18's where they share a behaviour).
//!
//! The hot path allocates nothing: parsing borrows the input, replies are
//! composed in the session's scratch line and appended in one step.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod base64;
mod binary;
mod classic;
mod crawler;
mod exec;
mod find;
mod line;
mod meta;
mod meta_parse;
pub mod num;
mod parse;
mod session;
mod store;
mod watch;

pub use session::Session;

/// What `version` answers: the memcached protocol level, then molt's own
/// (c-core/src/util/version.h `MOLT_VERSION_REPLY`).
pub const VERSION_REPLY: &str = "1.6.0-molt-0.1.0";

/// What a [`Session::process`] call asks of its caller next
/// (protocol.h `molt_protocol_status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Every complete request is done; call again once more input arrived.
    More,
    /// Stopped because the output is backed up: write it, then call again
    /// with the same unconsumed input.
    Paused,
    /// Write the output, then close the connection.
    Close,
}

/// Filled by every call (protocol.h `molt_protocol_progress`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Leading input bytes finished with.
    pub consumed: usize,
    /// With [`Status::More`]: bytes a pending data block still lacks beyond
    /// the unconsumed input.
    pub need: usize,
}

/// The limits a call runs under (protocol.h `molt_protocol_limits`; the
/// output limit is the [`Output`]'s to enforce).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    /// Largest [`storage::item_size`] a store may announce (`-I`).
    pub item_size_max: usize,
    /// Slab chunk growth factor (`-f`; me's cls=).
    pub growth_factor: f64,
    /// A line longer than this closes the connection.
    pub line_max: usize,
    /// No new request starts while this much output is queued.
    pub out_high: usize,
}

/// The protocol's counters, in the order `stats` reports them
/// (protocol.h `molt_counter`; the discriminant is the C value).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Counter {
    CmdGet = 0,
    CmdSet = 1,
    CmdFlush = 2,
    CmdTouch = 3,
    CmdMeta = 4,
    GetHits = 5,
    GetMisses = 6,
    DeleteMisses = 7,
    DeleteHits = 8,
    IncrMisses = 9,
    IncrHits = 10,
    DecrMisses = 11,
    DecrHits = 12,
    CasMisses = 13,
    CasHits = 14,
    CasBadval = 15,
    TouchHits = 16,
    TouchMisses = 17,
    StoreTooLarge = 18,
    StoreNoMemory = 19,
}

/// Where replies go: the bytes queued for the client. An implementation
/// enforces the output limit; a refused append makes the call end with
/// [`Status::Close`].
pub trait Output {
    /// Bytes queued (not yet handed to the socket).
    fn queued(&self) -> usize;
    /// Append the parts, in order, in one step; false (nothing appended)
    /// when the limit refuses.
    fn append(&mut self, parts: &[&[u8]]) -> bool;
    /// Take back bytes appended by this call, leaving `queued` queued.
    fn truncate(&mut self, queued: usize);
    /// The bytes queued after the first `from` (appended by this call),
    /// for a report composed in one form and sent in another (the binary
    /// protocol's stats); None when this output cannot show them (the
    /// binary STAT then answers "Out of memory").
    fn queued_since(&self, from: usize) -> Option<&[u8]> {
        let _ = from;
        None
    }
}

/// What a report wrote (protocol.h's host report functions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Report {
    /// Appended.
    Done,
    /// `stats <group>` the server does not know (nothing appended).
    Unknown,
    /// The output limit refused it.
    Refused,
}

/// What `refresh_certs` found (protocol.h `molt_certs_result`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Certs {
    /// New connections get the new certificates.
    Reloaded,
    /// The server does not speak TLS.
    NoTls,
    /// Refused, old certificates kept; the message's length in the buffer
    /// handed to [`Host::refresh_certs`].
    Failed(usize),
}

/// `watch`'s event kinds, as bits (protocol.h `molt_watch_event`):
/// memcached's item_get lines.
pub const WATCH_FETCHERS: u32 = 1;
/// item_store lines.
pub const WATCH_MUTATIONS: u32 = 2;
/// eviction lines.
pub const WATCH_EVICTIONS: u32 = 4;
/// The kinds memcached has and molt accepts without producing lines.
pub const WATCH_OTHER: u32 = 8;

/// One `watch` event as the protocol reports it (protocol.h
/// `molt_watch_item`; the host adds ts, gid, cfd).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WatchItem<'a> {
    /// The key.
    pub key: &'a [u8],
    /// Fetchers: 0 not found, 1 found; mutations: memcached's store
    /// status, 0 not stored, 1 stored, 2 exists, 3 not found.
    pub status: u32,
    /// Mutations: memcached's command, 1 add, 2 set, 3 replace, 4 append,
    /// 5 prepend, 6 cas.
    pub cmd: u32,
    /// Mutations: absolute unix seconds, 0 = never.
    pub exptime: i64,
    /// memcached's slab class of the item (0 on a miss).
    pub clsid: u32,
    /// Value bytes (0 on a miss).
    pub size: u64,
}

/// What belongs to the server rather than to a connection (protocol.h
/// `molt_protocol_host`, plus the worker's counters).
pub trait Host {
    /// The output the reports append to.
    type Out: Output;
    /// `stats`: every STAT line, then END.
    fn stats(&mut self, now: i64, out: &mut Self::Out) -> Report;
    /// `stats <group>`.
    fn stats_group(&mut self, group: &[u8], now: i64, out: &mut Self::Out) -> Report;
    /// `stats reset`.
    fn stats_reset(&mut self, now: i64);
    /// `verbosity <level>`.
    fn set_verbosity(&mut self, level: u32);
    /// `refresh_certs`; a failure's message goes into `err`.
    fn refresh_certs(&mut self, err: &mut [u8]) -> Certs;
    /// Add `n` to a counter.
    fn count(&mut self, which: Counter, n: u64);
    /// Whether the server allows `shutdown` (memcached's -A).
    fn shutdown_enabled(&mut self) -> bool;
    /// `shutdown [graceful]` when enabled; the connection then closes
    /// without a reply.
    fn shutdown(&mut self, graceful: bool);
    /// The `WATCH_*` bits some watcher wants; 0 while nobody watches. Read
    /// once per process call.
    fn watching(&self) -> u32;
    /// `watch <events>`: the connection becomes a watcher; false when the
    /// server has no room for another.
    fn watch(&mut self, events: u32) -> bool;
    /// Report one event of kind `event` (a single bit).
    fn watch_log(&mut self, event: u32, item: &WatchItem<'_>);
}

/// Everything one call may use besides the session, the input and the
/// output (protocol.h `molt_protocol_ctx`).
pub struct Ctx<'a, S: Storage, H: Host> {
    /// The engine.
    pub storage: &'a S,
    /// Unix seconds.
    pub now: i64,
    /// The limits.
    pub limits: Limits,
    /// The server.
    pub host: &'a mut H,
}

use storage::Storage;

/// A growable output for tests and in-process use: a `Vec` with a limit
/// on the queued bytes.
#[derive(Debug, Default, Clone)]
pub struct VecOutput {
    /// The queued bytes.
    pub bytes: Vec<u8>,
    /// The most `bytes` may hold (0: no limit).
    pub limit: usize,
}

impl Output for VecOutput {
    fn queued(&self) -> usize {
        self.bytes.len()
    }

    fn append(&mut self, parts: &[&[u8]]) -> bool {
        let n: usize = parts.iter().map(|p| p.len()).sum();
        if self.limit != 0 && self.bytes.len() + n > self.limit {
            return false;
        }
        for p in parts {
            self.bytes.extend_from_slice(p);
        }
        true
    }

    fn truncate(&mut self, queued: usize) {
        self.bytes.truncate(queued);
    }

    fn queued_since(&self, from: usize) -> Option<&[u8]> {
        self.bytes.get(from..)
    }
}
