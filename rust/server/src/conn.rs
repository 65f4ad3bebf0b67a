//! One client connection (c-core/src/server/conn.c): its buffers, its
//! protocol session, reading, writing and closing. mio is edge-triggered,
//! so "the socket may hold more input" is remembered (`may_read`) until a
//! read comes back short; a connection with work that no socket event
//! will announce (input left unread for fairness, a paused multi-get, a
//! watcher's lines) asks its worker for another turn. While output backs
//! up no new request is parsed, so a client that does not read its replies
//! cannot make the server buffer without bound.

use std::io::{ErrorKind, Read};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use mio::net::TcpStream;
use mio::{Interest, Registry, Token};
use protocol::{Ctx, Limits, Session, Status};

use crate::buf::Buf;
use crate::host::ConnHost;
use crate::shared::{Shared, BYTES_READ, BYTES_WRITTEN};
use crate::transport::{Got, Handshake, Transport};

pub const BUF_INITIAL: usize = 16 * 1024;
/// Buffers above this size go back to BUF_INITIAL when idle.
const BUF_KEEP: usize = 256 * 1024;
/// Longest command line accepted (a multi-get of thousands of keys fits).
const LINE_MAX: usize = 1024 * 1024;
/// No new request starts while this much output waits to be sent.
const WBUF_HIGH: usize = 1024 * 1024;
/// Room past the high-water mark: the largest value with its header.
const WBUF_SLACK: usize = 4096;
/// Reads per turn, so one busy client cannot starve the others.
const READS_PER_TURN: usize = 4;
/// Rounds of parse-then-write per turn before yielding to other clients.
const ROUNDS_PER_TURN: usize = 16;
/// A watcher's output holds at most this much of its log at a time.
const WATCH_OUT_MAX: usize = 64 * 1024;
/// A TLS handshake not finished within this many seconds is dropped, so
/// a client that stalls mid-handshake cannot hold a connection slot.
pub const HANDSHAKE_TIMEOUT_S: i64 = 10;
/// Reads of a lingering connection per turn.
const LINGER_READS: usize = 64;

/// The protocol limits of a server with `item_size_max` (worker.c).
pub fn limits(item_size_max: u32, growth_factor: f64) -> Limits {
    Limits {
        item_size_max: item_size_max as usize,
        growth_factor,
        line_max: LINE_MAX,
        out_high: WBUF_HIGH,
    }
}

/// What the worker does with a connection after its turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum After {
    /// Wait for socket events.
    Wait,
    /// Run it again soon, events or not.
    Again,
    /// Close it.
    Close,
}

pub struct Conn {
    pub stream: TcpStream,
    pub token: Token,
    pub fd: i32,
    transport: Transport,
    /// A TLS handshake is under way (since `opened_at`).
    pub handshaking: bool,
    opened_at: i64,
    rbuf: Buf,
    wbuf: Buf,
    session: Session,
    /// A readable edge not yet read to the end.
    pub may_read: bool,
    /// The peer's end of the stream was announced (EPOLLRDHUP): a short
    /// read then does not mean drained, the EOF is still to be read.
    pub peer_hup: bool,
    close_after_write: bool,
    peer_closed: bool,
    /// The protocol paused: output backed up.
    paused: bool,
    /// Waiting for the rest of a data block: not idle (memcached's
    /// conn_nread).
    awaiting_block: bool,
    draining: bool,
    /// Replies sent and write side shut: discarding input until the peer
    /// closes (closing with unread input would send RST).
    lingering: bool,
    pub watching: bool,
    /// On the worker's ready list.
    pub deferred: bool,
    writable_wanted: bool,
    pub last_cmd: Arc<AtomicI64>,
}

/// What a connection's turn needs of its worker.
pub struct TurnCtx<'a> {
    pub shared: &'a Shared,
    pub worker: usize,
    pub now: i64,
    /// When the worker woke up for this turn (the latency's start).
    pub wake: Instant,
    pub registry: &'a Registry,
}

impl Conn {
    pub fn new(
        stream: TcpStream,
        token: Token,
        fd: i32,
        transport: Transport,
        item_size_max: u32,
        now: i64,
    ) -> Conn {
        let item = item_size_max as usize;
        Conn {
            stream,
            token,
            fd,
            handshaking: transport.is_tls(),
            transport,
            opened_at: now,
            rbuf: Buf::new(BUF_INITIAL, item + LINE_MAX + 2),
            wbuf: Buf::new(BUF_INITIAL, item + WBUF_HIGH + WBUF_SLACK),
            session: Session::new(),
            may_read: true,
            peer_hup: false,
            close_after_write: false,
            peer_closed: false,
            paused: false,
            awaiting_block: false,
            draining: false,
            lingering: false,
            watching: false,
            deferred: false,
            writable_wanted: false,
            last_cmd: Arc::new(AtomicI64::new(now)),
        }
    }

    /// Pull what the socket has into rbuf. Err on a fatal error.
    fn read_input(&mut self, t: &TurnCtx<'_>) -> Result<(), ()> {
        for _ in 0..READS_PER_TURN {
            if !self.rbuf.reserve(BUF_INITIAL) && self.rbuf.room().is_empty() {
                return Ok(()); // full: the protocol decides (line too long)
            }
            match self.transport.read(&mut self.stream, self.rbuf.room())? {
                Got::Eof => {
                    self.peer_closed = true;
                    self.may_read = false;
                    return Ok(());
                }
                Got::Bytes(n, drained) => {
                    self.rbuf.filled(n);
                    t.shared.workers[t.worker]
                        .counters
                        .add(BYTES_READ, n as u64);
                    if drained && !self.peer_hup {
                        // the socket is empty: the next arrival is a new
                        // edge
                        self.may_read = false;
                        return Ok(());
                    }
                }
                Got::WouldBlock => {
                    self.may_read = false;
                    return Ok(());
                }
                // TLS wants to write first: writable interest is asked for
                // by the flush that follows
                Got::WantWrite => return Ok(()),
            }
        }
        Ok(())
    }

    /// Send what wbuf holds. Ok(true) when the socket refused more.
    fn flush_output(&mut self, t: &TurnCtx<'_>) -> Result<bool, ()> {
        while !self.wbuf.is_empty() {
            match self.transport.write(&mut self.stream, self.wbuf.bytes())? {
                Some(n) => {
                    self.wbuf.consume(n);
                    t.shared.workers[t.worker]
                        .counters
                        .add(BYTES_WRITTEN, n as u64);
                }
                None => return Ok(true),
            }
        }
        self.transport.flush(&mut self.stream)
    }

    /// Hand the unconsumed input to the protocol and act on its answer.
    fn run_protocol(&mut self, t: &TurnCtx<'_>) {
        let s = t.shared;
        let mut host = ConnHost {
            shared: s,
            worker: t.worker,
            token: self.token.0,
            fd: self.fd,
            became_watcher: false,
        };
        let ctx = Ctx {
            storage: &*s.storage,
            now: t.now,
            limits: limits(s.settings.item_size_max, s.settings.growth_factor),
            host: &mut host,
        };
        let (st, p) = self.session.process(ctx, self.rbuf.bytes(), &mut self.wbuf);
        self.watching |= host.became_watcher;
        self.rbuf.consume(p.consumed);
        self.paused = st == Status::Paused;
        self.awaiting_block = st == Status::More && p.need > 0;
        if st == Status::Close {
            self.close_after_write = true;
        } else if p.need > 0 && !self.rbuf.reserve(p.need) {
            // a data block that cannot fit can never be answered
            self.close_after_write = true;
        }
    }

    /// One turn: read, run the protocol, write (conn.c conn_on_events).
    pub fn turn(&mut self, t: &TurnCtx<'_>) -> After {
        if self.lingering {
            return self.linger_read();
        }
        if self.handshaking {
            match self.transport.handshake(&mut self.stream) {
                Handshake::Done => {
                    self.handshaking = false;
                    self.may_read = true;
                }
                Handshake::WantRead => {
                    return match self.want_writable(t.registry, false) {
                        Ok(()) => After::Wait,
                        Err(_) => After::Close,
                    }
                }
                Handshake::WantWrite => {
                    return match self.want_writable(t.registry, true) {
                        Ok(()) => After::Wait,
                        Err(_) => After::Close,
                    }
                }
                Handshake::Failed => return After::Close,
            }
        }
        let may_read = self.may_read || self.transport.pending() > 0;
        if may_read && !self.paused && !self.peer_closed && self.read_input(t).is_err() {
            return After::Close;
        }
        let unparsed = self.rbuf.len();
        let watch_left = self.watching
            && !self.close_after_write
            && t.shared
                .watch
                .take(t.worker, self.token.0, &mut self.wbuf, WATCH_OUT_MAX);
        let mut blocked = false;
        for _ in 0..ROUNDS_PER_TURN {
            if !self.close_after_write {
                self.run_protocol(t);
            }
            match self.flush_output(t) {
                Ok(b) => blocked = b,
                Err(()) => return After::Close,
            }
            if blocked || !self.paused {
                break;
            }
        }
        // latency, per read batch: from the worker waking up to the
        // replies of what this turn parsed being handed to the socket
        if self.rbuf.len() < unparsed {
            let ns = u64::try_from(t.wake.elapsed().as_nanos()).unwrap_or(u64::MAX);
            t.shared.workers[t.worker].latency.record(ns);
            self.last_cmd.store(t.now, Ordering::Relaxed);
        }
        // close once replies are out: after quit or a fatal error, or when
        // the peer has closed and nothing it sent can still be answered
        if !blocked && (self.close_after_write || (self.peer_closed && !self.paused)) {
            if self.draining {
                return self.linger(t);
            }
            return After::Close;
        }
        if !blocked && self.rbuf.is_empty() {
            self.rbuf.trim(BUF_INITIAL, BUF_KEEP);
            self.wbuf.trim(BUF_INITIAL, BUF_KEEP);
        }
        if self.want_writable(t.registry, blocked).is_err() {
            return After::Close;
        }
        let wants_input = !self.paused && !self.close_after_write && !self.peer_closed;
        let more_input = self.may_read || self.transport.pending() > 0;
        if !blocked && (self.paused || watch_left || (wants_input && more_input)) {
            return After::Again;
        }
        After::Wait
    }

    /// Readable always; writable too while output is blocked.
    fn want_writable(&mut self, registry: &Registry, want: bool) -> std::io::Result<()> {
        if want == self.writable_wanted {
            return Ok(());
        }
        self.writable_wanted = want;
        let interest = if want {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        registry.reregister(&mut self.stream, self.token, interest)
    }

    /// Discard input until the peer closes.
    fn linger_read(&mut self) -> After {
        for _ in 0..LINGER_READS {
            let room = self.rbuf.room();
            if room.is_empty() {
                return After::Close;
            }
            match self.stream.read(room) {
                Ok(0) => return After::Close,
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => return After::Wait,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return After::Close,
            }
        }
        After::Again
    }

    /// Draining and everything answered: shut the write side (the peer
    /// sees EOF after the last reply), then wait for the peer to close.
    fn linger(&mut self, t: &TurnCtx<'_>) -> After {
        self.lingering = true;
        self.rbuf.consume(self.rbuf.len());
        self.transport.shutdown_write(&mut self.stream);
        if self.want_writable(t.registry, false).is_err() {
            return After::Close;
        }
        self.linger_read()
    }

    /// A TLS handshake running past HANDSHAKE_TIMEOUT_S.
    pub fn handshake_expired(&self, now: i64) -> bool {
        self.handshaking && now - self.opened_at >= HANDSHAKE_TIMEOUT_S
    }

    /// -o idle_timeout: whether it waited for a command longer than
    /// `timeout` seconds (memcached's rule: not while a data block is
    /// coming in or replies are going out, nor a watcher).
    pub fn idle_expired(&self, now: i64, timeout: i64) -> bool {
        if self.handshaking
            || self.draining
            || self.lingering
            || self.awaiting_block
            || self.paused
            || self.watching
            || self.close_after_write
            || !self.wbuf.is_empty()
        {
            return false;
        }
        now - self.last_cmd.load(Ordering::Relaxed) > timeout
    }

    /// Graceful shutdown: read what the socket already holds, stop reading,
    /// answer every complete request, flush, shut the write side and close
    /// once the peer has seen everything.
    pub fn drain(&mut self, t: &TurnCtx<'_>) -> After {
        self.draining = true;
        if self.handshaking {
            return After::Close;
        }
        if !self.peer_closed && !self.paused && self.read_input(t).is_err() {
            return After::Close;
        }
        self.peer_closed = true;
        self.turn(t)
    }
}
