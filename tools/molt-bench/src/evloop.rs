//! `--one-thread`: every connection on one thread and one mio (epoll) loop.
//!
//! With a thread per connection the client's threads preempt each other on
//! the client's core, and their lateness lands in the tail it reports. Here
//! one thread owns every socket (non-blocking): it sends each request at its
//! intended time, reads replies as epoll reports them and books them. Latency
//! runs from the intended send time (open loop: no coordinated omission).
//!
//! Send lag is the client's own lateness only: a request is *ready* at its
//! intended time, or later when its connection's window was full until a
//! reply freed a slot (the server's delay, charged to latency, not to lag;
//! the slot counts as freed when epoll reported the reply, so the client's
//! own work after that is lag); lag = actual send - ready. epoll's timeout has millisecond resolution, so
//! the loop sleeps in epoll until about a millisecond before the next
//! intended send and polls without blocking from there (on the core the
//! client is pinned to: it disturbs nobody else). Due sends are checked
//! after every event, so a send waits for one reply's bookkeeping at most.

use crate::config::Plan;
use crate::proto::{self, Item, Parse};
use crate::schedule::{origin_and_lag, Arrivals};
use crate::stats::Stats;
use crate::worker::{account, fail, Fatal, Gen, Kind, Pending, Progress, RBuf, Timing};
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

/// Below this much time to the next send the loop polls without blocking.
const SPIN_BELOW: Duration = Duration::from_micros(1200);
/// Longest sleep in epoll when nothing is due: how often timeouts are checked.
const IDLE_POLL: Duration = Duration::from_millis(10);

/// One connection's state in the loop.
struct Slot {
    id: usize,
    stream: TcpStream,
    gen: Gen,
    /// Open loop: the intended send times (None: closed loop).
    arrivals: Option<Arrivals>,
    quota: Option<u64>,
    /// Measured requests issued (for --requests).
    issued: u64,
    /// Sent, reply not yet read (front first).
    pend: VecDeque<Pending>,
    /// Request bytes not yet on the socket: `out[out_off..]`.
    out: Vec<u8>,
    out_off: usize,
    rb: RBuf,
    items: Vec<Item>,
    /// Bytes the front reply needs before it can be parsed again (a hint).
    need: usize,
    /// When a reply last freed a slot of a full window.
    freed_at: Option<Instant>,
    /// Queued in the timer heap.
    queued: bool,
    /// Last time bytes arrived or the window was empty (timeout clock).
    last_progress: Instant,
    dead: bool,
}

impl Slot {
    /// Intended time of the next request, or None once this connection's
    /// schedule (or quota) is over. Closed loop: `now`.
    fn next_intended(&self, timing: &Timing, now: Instant) -> Option<Instant> {
        let t = match &self.arrivals {
            Some(a) => a.peek(),
            None => now,
        };
        let measured = t >= timing.measure_start;
        if t >= timing.end || (measured && self.quota.is_some_and(|q| self.issued >= q)) {
            None
        } else {
            Some(t)
        }
    }
}

struct Loop<'a> {
    plan: &'a Plan,
    timing: Timing,
    progress: &'a Progress,
    slots: Vec<Slot>,
    /// (next intended time, slot) of connections with a free window slot.
    due: BinaryHeap<Reverse<(Instant, usize)>>,
    /// When epoll last returned: every reply booked from its events had
    /// arrived by then, so a window slot counts as freed at this time (the
    /// client's work on the batch after it is the client's, in the lag).
    polled_at: Instant,
    st: Stats,
}

/// Runs the measured phase on this thread over `streams` (connection ids
/// 0..n, already flushed/preloaded, blocking or not).
pub fn run(
    streams: Vec<std::net::TcpStream>,
    plan: &Plan,
    timing: Timing,
    progress: &Progress,
) -> Stats {
    let mut st = Stats::default();
    let mut poll = match Poll::new() {
        Ok(p) => p,
        Err(e) => {
            st.error(format!("cannot create the event loop: {e}"));
            return st;
        }
    };
    let mut slots = Vec::with_capacity(streams.len());
    for (id, s) in streams.into_iter().enumerate() {
        if let Err(e) = s.set_nonblocking(true) {
            st.error(format!(
                "conn {id}: cannot make the socket non-blocking: {e}"
            ));
            return st;
        }
        let mut stream = TcpStream::from_std(s);
        if let Err(e) = poll.registry().register(
            &mut stream,
            Token(id),
            Interest::READABLE | Interest::WRITABLE,
        ) {
            st.error(format!("conn {id}: cannot register the socket: {e}"));
            return st;
        }
        slots.push(Slot {
            id,
            stream,
            gen: Gen::new(plan.seed, id),
            arrivals: plan.open_loop().then(|| {
                Arrivals::new(
                    plan.arrivals,
                    timing.start,
                    plan.rate,
                    plan.connections,
                    id,
                    plan.seed,
                )
            }),
            quota: plan.quota(id),
            issued: 0,
            pend: VecDeque::with_capacity(plan.pipeline),
            out: Vec::new(),
            out_off: 0,
            rb: RBuf::new(),
            items: Vec::new(),
            need: 0,
            freed_at: None,
            queued: false,
            last_progress: timing.start,
            dead: false,
        });
    }
    let mut lp = Loop {
        plan,
        timing,
        progress,
        slots,
        due: BinaryHeap::new(),
        polled_at: timing.start,
        st,
    };
    lp.drive(&mut poll);
    lp.st
}

impl Loop<'_> {
    fn drive(&mut self, poll: &mut Poll) {
        let mut events = Events::with_capacity(1024);
        let now = Instant::now().max(self.timing.start);
        for c in 0..self.slots.len() {
            self.enqueue(c, now);
        }
        let mut next_timeout_check = Instant::now() + IDLE_POLL;
        loop {
            let now = Instant::now();
            self.send_all_due(now);
            if self.finished() {
                break;
            }
            if now >= next_timeout_check {
                self.check_timeouts(now);
                next_timeout_check = now + IDLE_POLL;
            }
            let timeout = match self.due.peek() {
                Some(&Reverse((t, _))) => {
                    let left = t.saturating_duration_since(Instant::now());
                    if left < SPIN_BELOW {
                        Duration::ZERO
                    } else {
                        // Whole milliseconds, rounded down: mio rounds up.
                        let ms = (left - Duration::from_micros(200)).as_millis() as u64;
                        Duration::from_millis(ms).min(IDLE_POLL)
                    }
                }
                None => IDLE_POLL,
            };
            if let Err(e) = poll.poll(&mut events, Some(timeout)) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                self.st.error(format!("event loop failed: {e}"));
                for c in 0..self.slots.len() {
                    self.kill(c, &Fatal::Io(io::Error::new(e.kind(), "event loop failed")));
                }
                break;
            }
            self.polled_at = Instant::now();
            for ev in events.iter() {
                let c = ev.token().0;
                if c >= self.slots.len() || self.slots[c].dead {
                    continue;
                }
                if ev.is_writable() {
                    if let Err(e) = self.flush(c) {
                        self.kill(c, &e);
                        continue;
                    }
                }
                if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                    if let Err(e) = self.read(c) {
                        self.kill(c, &e);
                        continue;
                    }
                    self.enqueue(c, Instant::now());
                }
                // Sends come before the remaining replies: a request due now
                // waits for one event's work at most, not for the batch's.
                self.send_all_due(Instant::now());
            }
        }
    }

    /// Sends every request intended at or before `now` whose window has room.
    fn send_all_due(&mut self, now: Instant) {
        while let Some(&Reverse((t, c))) = self.due.peek() {
            if t > now {
                break;
            }
            self.due.pop();
            self.slots[c].queued = false;
            self.send_due(c);
            self.enqueue(c, Instant::now());
        }
    }

    /// Every schedule is over and every reply read (or its connection dead).
    fn finished(&self) -> bool {
        self.due.is_empty() && self.slots.iter().all(|s| s.dead || s.pend.is_empty())
    }

    /// Queues connection `c` for its next send if its window has room.
    fn enqueue(&mut self, c: usize, now: Instant) {
        let s = &mut self.slots[c];
        if s.dead || s.queued || s.pend.len() >= self.plan.pipeline {
            return;
        }
        if let Some(t) = s.next_intended(&self.timing, now) {
            s.queued = true;
            self.due.push(Reverse((t, c)));
        }
    }

    /// Sends every request of `c` that is due now, as far as its window allows.
    fn send_due(&mut self, c: usize) {
        let open = self.plan.open_loop();
        let now = Instant::now();
        let s = &mut self.slots[c];
        if s.dead {
            return;
        }
        if s.pend.is_empty() {
            s.last_progress = now;
        }
        let first_new = s.pend.len();
        while s.pend.len() < self.plan.pipeline {
            let Some(t) = s.next_intended(&self.timing, now) else {
                break;
            };
            if t > now {
                break;
            }
            let kind = s.gen.request(self.plan, &mut s.out);
            let measured = t >= self.timing.measure_start;
            if measured {
                s.issued += 1;
            }
            s.pend.push_back(Pending {
                kind,
                t0: t,
                measured,
            });
            if let Some(a) = &mut s.arrivals {
                a.advance();
            }
        }
        // The send time is taken once the requests are composed, just
        // before they go to the socket.
        let sent = Instant::now();
        for p in s.pend.range_mut(first_new..) {
            let (t0, lag) = origin_and_lag(open, p.t0, s.freed_at, sent);
            p.t0 = t0;
            if let (true, Some(lag)) = (p.measured, lag) {
                Stats::record(&mut self.st.lag, lag);
            }
        }
        if let Err(e) = self.flush(c) {
            self.kill(c, &e);
        }
    }

    /// Writes what `c` has queued until done or the socket is full (the
    /// rest goes when epoll reports the socket writable).
    fn flush(&mut self, c: usize) -> Result<(), Fatal> {
        let s = &mut self.slots[c];
        while s.out_off < s.out.len() {
            match s.stream.write(&s.out[s.out_off..]) {
                Ok(0) => return Err(Fatal::Eof),
                Ok(n) => s.out_off += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Fatal::Io(e)),
            }
        }
        s.out.clear();
        s.out_off = 0;
        Ok(())
    }

    /// Reads everything available on `c` and books every complete reply.
    fn read(&mut self, c: usize) -> Result<(), Fatal> {
        loop {
            let s = &mut self.slots[c];
            s.rb.prepare(s.need);
            let end = s.rb.end;
            let room = s.rb.buf.len() - end;
            match s.stream.read(&mut s.rb.buf[end..]) {
                Ok(0) => return Err(Fatal::Eof),
                Ok(n) => {
                    s.rb.end += n;
                    s.last_progress = Instant::now();
                    self.book_replies(c)?;
                    // A short read emptied the socket; bytes that arrive
                    // later raise a new edge. This saves the read that
                    // would only say WouldBlock: one system call a reply
                    // at depth 1.
                    if n < room {
                        return Ok(());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Fatal::Io(e)),
            }
        }
    }

    fn book_replies(&mut self, c: usize) -> Result<(), Fatal> {
        let s = &mut self.slots[c];
        while let Some(p) = s.pend.front() {
            let data = s.rb.data();
            let parsed = match &p.kind {
                Kind::Get(_) => proto::parse_get(data, &mut s.items),
                Kind::Set => proto::parse_store(data),
                Kind::Flush => proto::parse_ok(data),
            }
            .map_err(|d| Fatal::Desync(d.0))?;
            match parsed {
                Parse::Incomplete { need } => {
                    s.need = need;
                    return Ok(());
                }
                Parse::Done { len, reply } => {
                    account(
                        self.plan,
                        s.id,
                        p,
                        reply,
                        data,
                        &s.items,
                        &mut self.st,
                        self.progress,
                    );
                    s.rb.consume(len);
                    s.need = 0;
                    if s.pend.len() >= self.plan.pipeline {
                        s.freed_at = Some(self.polled_at);
                    }
                    s.pend.pop_front();
                }
            }
        }
        if !s.rb.data().is_empty() {
            let extra = proto::excerpt(s.rb.data());
            return Err(Fatal::Desync(format!("reply to no request: {extra}")));
        }
        Ok(())
    }

    fn check_timeouts(&mut self, now: Instant) {
        for c in 0..self.slots.len() {
            let s = &self.slots[c];
            if !s.dead && !s.pend.is_empty() && now - s.last_progress > self.plan.timeout {
                self.kill(c, &Fatal::Timeout);
            }
        }
    }

    /// Ends connection `c` after a failure: its unanswered requests are counted.
    fn kill(&mut self, c: usize, e: &Fatal) {
        let s = &mut self.slots[c];
        if s.dead {
            return;
        }
        s.dead = true;
        let unanswered = s.pend.len() as u64;
        s.pend.clear();
        let _ = s.stream.shutdown(std::net::Shutdown::Both);
        fail(&mut self.st, s.id, e, unanswered, true);
        self.progress
            .bad
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}
