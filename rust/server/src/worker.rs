//! A worker thread and its event loop (c-core/src/server/worker.c): its
//! own mio Poll, the connections the listener hands it (a channel plus its
//! Waker), a ready list for connections with work no socket event will
//! announce, the idle-timeout sweep, and the graceful drain at shutdown.

use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use crate::conn::{After, Conn, TurnCtx};
use crate::log::log;
use crate::shared::{lock, ConnInfo, Shared, STOP_NOW};
use crate::transport::Transport;

/// The token of the worker's Waker (connections use their slot index).
pub const WAKE: Token = Token(usize::MAX);
const EVENTS_PER_WAIT: usize = 256;
/// Graceful shutdown: at most this long, and stop once nothing moved for
/// DRAIN_QUIET.
const DRAIN: Duration = Duration::from_secs(5);
const DRAIN_QUIET: Duration = Duration::from_millis(250);

pub struct Worker {
    id: usize,
    shared: Arc<Shared>,
    poll: Poll,
    handoff: Receiver<TcpStream>,
    /// Connections by token; `free` lists the empty slots.
    conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    /// Tokens to run again without waiting for events.
    ready: Vec<usize>,
    now: i64,
    /// When poll last returned.
    wake: Instant,
    idle_sweep: i64,
    handshake_sweep: i64,
    draining: bool,
}

pub fn wall_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Worker {
    pub fn new(id: usize, shared: Arc<Shared>, poll: Poll, handoff: Receiver<TcpStream>) -> Worker {
        Worker {
            id,
            shared,
            poll,
            handoff,
            conns: Vec::new(),
            free: Vec::new(),
            ready: Vec::new(),
            now: wall_seconds(),
            wake: Instant::now(),
            idle_sweep: 0,
            handshake_sweep: 0,
            draining: false,
        }
    }

    /// Serve until told to stop; then drain (unless `shutdown` asked for
    /// an immediate stop) and close what is left.
    pub fn run(mut self) {
        let mut events = Events::with_capacity(EVENTS_PER_WAIT);
        while !self.shared.workers[self.id].stop.load(Ordering::Acquire) {
            self.turn(&mut events, None);
        }
        if self.shared.stop_mode() != STOP_NOW {
            self.drain(&mut events);
        }
        for i in 0..self.conns.len() {
            if self.conns[i].is_some() {
                self.close(i);
            }
        }
    }

    /// What a connection's turn needs, borrowed field by field so the
    /// connection itself can be borrowed mutably beside it.
    fn ctx<'a>(
        shared: &'a Shared,
        id: usize,
        (now, wake): (i64, Instant),
        poll: &'a Poll,
    ) -> TurnCtx<'a> {
        TurnCtx {
            shared,
            worker: id,
            now,
            wake,
            registry: poll.registry(),
        }
    }

    /// One loop turn; the number of events and deferred turns run.
    fn turn(&mut self, events: &mut Events, wait: Option<Duration>) -> usize {
        let idle_timeout = self.shared.settings.idle_timeout;
        let mut wait = wait;
        // while handshakes are pending, wake at least once a second to
        // expire the stalled ones
        let sweep = idle_timeout > 0 || self.handshaking() > 0;
        if sweep && wait.is_none_or(|w| w > Duration::from_secs(1)) {
            wait = Some(Duration::from_secs(1));
        }
        if !self.ready.is_empty() {
            wait = Some(Duration::ZERO);
        }
        if let Err(e) = self.poll.poll(events, wait) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                log!(Error, "worker {}: poll failed: {e}", self.id);
            }
        }
        self.now = wall_seconds();
        self.wake = Instant::now();
        let mut done = 0;
        for ev in events.iter() {
            done += 1;
            if ev.token() == WAKE {
                self.adopt_queued();
                continue;
            }
            let i = ev.token().0;
            let Some(Some(c)) = self.conns.get_mut(i) else {
                continue;
            };
            if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                c.may_read = true;
            }
            if ev.is_read_closed() || ev.is_error() {
                c.peer_hup = true;
            }
            self.run_conn(i);
        }
        let ready = std::mem::take(&mut self.ready);
        for i in ready {
            let Some(Some(c)) = self.conns.get_mut(i) else {
                continue;
            };
            if !c.deferred {
                continue; // closed, and the slot reused
            }
            c.deferred = false;
            done += 1;
            self.run_conn(i);
        }
        if self.now != self.handshake_sweep && self.handshaking() > 0 {
            self.handshake_sweep = self.now;
            self.expire_handshakes();
        }
        if idle_timeout > 0 && self.now != self.idle_sweep && !self.draining {
            self.idle_sweep = self.now;
            self.expire_idle(idle_timeout);
        }
        done
    }

    fn run_conn(&mut self, i: usize) {
        let t = Worker::ctx(&self.shared, self.id, (self.now, self.wake), &self.poll);
        let Some(Some(c)) = self.conns.get_mut(i) else {
            return;
        };
        match c.turn(&t) {
            After::Wait => {}
            After::Again => self.defer(i),
            After::Close => self.close(i),
        }
    }

    fn defer(&mut self, i: usize) {
        if let Some(Some(c)) = self.conns.get_mut(i) {
            if !c.deferred {
                c.deferred = true;
                self.ready.push(i);
            }
        }
    }

    /// Connections still in their TLS handshake.
    fn handshaking(&self) -> usize {
        if self.shared.tls.is_none() {
            return 0;
        }
        self.conns
            .iter()
            .flatten()
            .filter(|c| c.handshaking)
            .count()
    }

    fn expire_handshakes(&mut self) {
        for i in 0..self.conns.len() {
            if self.conns[i]
                .as_ref()
                .is_some_and(|c| c.handshake_expired(self.now))
            {
                if let Some(a) = &self.shared.tls {
                    a.stats().note_handshake_timeout();
                }
                self.close(i);
            }
        }
    }

    fn expire_idle(&mut self, timeout: i64) {
        let mut kicked = 0;
        for i in 0..self.conns.len() {
            let expired = self.conns[i]
                .as_ref()
                .is_some_and(|c| c.idle_expired(self.now, timeout));
            if expired {
                if let Some(c) = &self.conns[i] {
                    log!(
                        Debug,
                        "connection fd {} idle for over {timeout} s: closed",
                        c.fd
                    );
                }
                self.close(i);
                kicked += 1;
            }
        }
        if kicked > 0 {
            self.shared.idle_kicks.fetch_add(kicked, Ordering::Relaxed);
        }
    }

    /// Take the sockets the listener handed over; give watchers with new
    /// lines a turn.
    fn adopt_queued(&mut self) {
        let ws = &self.shared.workers[self.id];
        if ws.watch_wake.swap(false, Ordering::AcqRel) {
            for i in 0..self.conns.len() {
                if self.conns[i].as_ref().is_some_and(|c| c.watching) {
                    self.defer(i);
                }
            }
        }
        while let Ok(stream) = self.handoff.try_recv() {
            match self.open(stream) {
                Some(i) if self.draining => {
                    let t = Worker::ctx(&self.shared, self.id, (self.now, self.wake), &self.poll);
                    let after = match self.conns[i].as_mut() {
                        Some(c) => c.drain(&t),
                        None => After::Wait,
                    };
                    self.after(i, after);
                }
                Some(_) => {}
                None => {
                    self.shared.curr_conns.fetch_sub(1, Ordering::Relaxed);
                }
            }
        }
    }

    fn after(&mut self, i: usize, after: After) {
        match after {
            After::Wait => {}
            After::Again => self.defer(i),
            After::Close => self.close(i),
        }
    }

    /// Adopt an accepted socket; its slot, or None (the socket is closed).
    fn open(&mut self, mut stream: TcpStream) -> Option<usize> {
        let i = self.free.pop().unwrap_or_else(|| {
            self.conns.push(None);
            self.conns.len() - 1
        });
        let token = Token(i);
        if self
            .poll
            .registry()
            .register(&mut stream, token, Interest::READABLE)
            .is_err()
        {
            self.free.push(i);
            return None;
        }
        let transport = match &self.shared.tls {
            None => Transport::plain(),
            Some(a) => match a.accept() {
                Ok(session) => Transport::tls(session),
                Err(e) => {
                    log!(Error, "cannot start a TLS session: {e}");
                    let _ = self.poll.registry().deregister(&mut stream);
                    self.free.push(i);
                    return None;
                }
            },
        };
        let fd = stream.as_raw_fd();
        let peer = stream.peer_addr().ok();
        let s = &self.shared.settings;
        let c = Conn::new(stream, token, fd, transport, s.item_size_max, self.now);
        lock(&self.shared.workers[self.id].conns).insert(
            i,
            ConnInfo {
                fd,
                peer,
                last_cmd: c.last_cmd.clone(),
            },
        );
        self.conns[i] = Some(c);
        log!(Debug, "connection fd {fd} opened");
        Some(i)
    }

    fn close(&mut self, i: usize) {
        let Some(mut c) = self.conns[i].take() else {
            return;
        };
        if c.watching {
            self.shared.watch.remove(self.id, i);
        }
        lock(&self.shared.workers[self.id].conns).remove(&i);
        let _ = self.poll.registry().deregister(&mut c.stream);
        let fd = c.fd;
        drop(c); // closes the socket
        self.free.push(i);
        self.shared.curr_conns.fetch_sub(1, Ordering::Relaxed);
        log!(Debug, "connection fd {fd} closed");
    }

    /// Graceful shutdown: every connection answers what it already sent,
    /// flushes and closes; stop at the deadline or when nothing moved for
    /// DRAIN_QUIET.
    fn drain(&mut self, events: &mut Events) {
        self.draining = true;
        let deadline = Instant::now() + DRAIN;
        self.adopt_queued();
        for i in 0..self.conns.len() {
            let t = Worker::ctx(&self.shared, self.id, (self.now, self.wake), &self.poll);
            let after = match self.conns[i].as_mut() {
                Some(c) => c.drain(&t),
                None => continue,
            };
            self.after(i, after);
        }
        while self.conns.iter().any(Option::is_some) {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            let wait = (deadline - now).min(DRAIN_QUIET);
            if self.turn(events, Some(wait)) == 0 && self.ready.is_empty() {
                break;
            }
        }
    }
}
