//! Connection drivers: preload, closed loop and open loop.
//!
//! Every connection is driven by blocking I/O on its own thread (open loop:
//! a writer and a reader thread sharing the socket). Replies are matched to
//! requests in order (the text protocol answers in order), parsed
//! incrementally and verified.

use crate::config::Plan;
use crate::proto::{self, excerpt, Item, Parse, Reply};
use crate::rng::{mix64, Rng};
use crate::schedule::{origin_and_lag, Schedule};
use crate::stats::Stats;
use crate::tls::TlsStream;
use crate::value::VERSIONS;
use rustls::HandshakeKind;
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Batches up to this many request bytes are written with a plain blocking
/// write: at the start of a batch every earlier reply has been read, so the
/// socket buffers are empty and a write this small cannot block on a server
/// that waits for us to read. Larger batches interleave writing and reading.
pub const SAFE_BLOCKING_WRITE: usize = 16 * 1024;

/// Sets per pipelined batch during --preload (at least the pipeline depth).
pub const PRELOAD_BATCH: usize = 64;

/// Shared counters read by the progress line.
#[derive(Debug, Default)]
pub struct Progress {
    /// Replies read, all phases.
    pub replies: AtomicU64,
    /// Replies to measured requests.
    pub measured: AtomicU64,
    /// Wrong values plus errors so far.
    pub bad: AtomicU64,
}

#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// First request (start of warm-up).
    pub start: Instant,
    /// Requests intended/sent from here on are measured.
    pub measure_start: Instant,
    /// No request is intended/sent from here on.
    pub end: Instant,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Get(Vec<u64>),
    Set,
    Flush,
}

impl Kind {
    fn name(&self) -> &'static str {
        match self {
            Kind::Get(_) => "get",
            Kind::Set => "set",
            Kind::Flush => "flush_all",
        }
    }
}

/// A request written (or about to be) whose reply has not been read yet.
#[derive(Debug)]
pub struct Pending {
    pub kind: Kind,
    /// Latency origin: the send time (closed loop) or intended send time (open loop).
    pub t0: Instant,
    pub measured: bool,
}

/// A failure after which the connection's byte stream cannot be trusted.
#[derive(Debug)]
pub enum Fatal {
    Eof,
    Timeout,
    Io(io::Error),
    Desync(String),
}

impl std::fmt::Display for Fatal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fatal::Eof => write!(f, "server closed the connection"),
            Fatal::Timeout => write!(f, "timed out waiting for a reply"),
            Fatal::Io(e) => write!(f, "I/O error: {e}"),
            Fatal::Desync(s) => write!(f, "protocol error: {s}"),
        }
    }
}

fn io_fatal(e: io::Error) -> Fatal {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Fatal::Timeout,
        _ => Fatal::Io(e),
    }
}

/// Counts a connection failure and the requests it left unanswered.
pub fn fail(st: &mut Stats, conn: usize, e: &Fatal, unanswered: u64, count_event: bool) {
    if count_event {
        st.error(format!(
            "conn {conn}: {e} ({unanswered} request(s) unanswered)"
        ));
    }
    st.unanswered += unanswered;
}

/// Read buffer: bytes `start..end` are received and not yet consumed.
#[derive(Debug)]
pub(crate) struct RBuf {
    pub(crate) buf: Vec<u8>,
    start: usize,
    pub(crate) end: usize,
}

impl RBuf {
    pub(crate) fn new() -> Self {
        RBuf {
            buf: vec![0; 64 * 1024],
            start: 0,
            end: 0,
        }
    }

    pub(crate) fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    pub(crate) fn consume(&mut self, n: usize) {
        self.start += n;
        debug_assert!(self.start <= self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Makes room to read: at least 4 KiB, and room for `need` bytes of reply.
    pub(crate) fn prepare(&mut self, need: usize) {
        let have = self.end - self.start;
        let want = have.max(need) + 4096;
        if self.buf.len() - self.start < want && self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.start = 0;
            self.end = have;
        }
        if self.buf.len() - self.start < want {
            let len = (self.buf.len() * 2).max(self.start + want);
            self.buf.resize(len, 0);
        }
    }
}

/// Deterministic request generator of one connection.
pub struct Gen {
    rng: Rng,
}

impl Gen {
    pub fn new(seed: u64, conn: usize) -> Self {
        Gen {
            rng: Rng::new(mix64(seed) ^ conn as u64),
        }
    }

    /// Appends one request (get or set, by the ratio) to `buf`.
    pub fn request(&mut self, plan: &Plan, buf: &mut Vec<u8>) -> Kind {
        let total = u64::from(plan.ratio.get) + u64::from(plan.ratio.set);
        let n = plan.keys.count();
        if self.rng.below(total) < u64::from(plan.ratio.get) {
            let mut keys = Vec::with_capacity(plan.multiget);
            buf.extend_from_slice(b"get");
            for _ in 0..plan.multiget {
                let idx = self.rng.below(n);
                buf.push(b' ');
                plan.keys.write_key(idx, buf);
                keys.push(idx);
            }
            buf.extend_from_slice(b"\r\n");
            Kind::Get(keys)
        } else {
            let idx = self.rng.below(n);
            let v = self.rng.below(u64::from(VERSIONS)) as u32;
            write_set(plan, idx, v, buf);
            Kind::Set
        }
    }
}

/// Appends `set <key> <v> 0 <len>\r\n<value>\r\n` (flags carry the version).
pub fn write_set(plan: &Plan, idx: u64, v: u32, buf: &mut Vec<u8>) {
    let h = plan.keys.hash(idx);
    buf.extend_from_slice(b"set ");
    plan.keys.write_key(idx, buf);
    let len = plan.values.len_for(h, v);
    write!(buf, " {v} 0 {len}\r\n").expect("write to Vec");
    plan.values.write_value(h, v, buf);
    buf.extend_from_slice(b"\r\n");
}

/// Checks the items of a get reply; returns the number of hits.
fn check_get(
    plan: &Plan,
    conn: usize,
    keys: &[u64],
    data: &[u8],
    items: &[Item],
    st: &mut Stats,
) -> u64 {
    let mut next = 0;
    let mut hits = 0;
    for it in items {
        let kb = &data[it.key.clone()];
        let Some(idx) = plan.keys.parse_key(kb) else {
            st.error(format!(
                "conn {conn}: VALUE for a key outside the key space: {}",
                excerpt(kb)
            ));
            continue;
        };
        match keys[next..].iter().position(|&k| k == idx) {
            Some(off) => next += off + 1,
            None => {
                st.error(format!(
                    "conn {conn}: VALUE for {} which was not requested (or out of order)",
                    excerpt(kb)
                ));
                continue;
            }
        }
        hits += 1;
        let value = &data[it.data.clone()];
        if let Err(m) = plan.values.verify(plan.keys.hash(idx), it.flags, value) {
            st.wrong(format!(
                "conn {conn}: {}: {} (flags {}, {} bytes: {})",
                excerpt(kb),
                m.as_str(),
                it.flags,
                value.len(),
                excerpt(value)
            ));
        }
    }
    hits
}

/// Books one complete reply.
#[allow(clippy::too_many_arguments)]
pub(crate) fn account(
    plan: &Plan,
    conn: usize,
    p: &Pending,
    reply: Reply,
    data: &[u8],
    items: &[Item],
    st: &mut Stats,
    progress: &Progress,
) {
    let now = Instant::now();
    let bad_before = st.wrong + st.errors;
    st.replies += 1;
    match (&p.kind, reply) {
        (Kind::Set, Reply::Failure(line)) if plan.refused_ok && line == proto::OUT_OF_MEMORY => {
            st.refused += 1;
        }
        (k, Reply::Failure(line)) => {
            st.error(format!("conn {conn}: {} answered: {line}", k.name()));
        }
        (Kind::Get(keys), Reply::Values) => {
            let hits = check_get(plan, conn, keys, data, items, st);
            let misses = keys.len() as u64 - hits.min(keys.len() as u64);
            if p.measured {
                st.get_keys += keys.len() as u64;
                st.hits += hits;
                st.misses += misses;
            }
            if plan.expect_hits && misses > 0 {
                st.wrong(format!("conn {conn}: get missed with --expect-hits"));
                st.wrong += misses - 1;
            }
        }
        (Kind::Set | Kind::Flush, Reply::Ok) => {}
        (k, r) => st.error(format!("conn {conn}: reply {r:?} to {}", k.name())),
    }
    if p.measured {
        let lat = now.saturating_duration_since(p.t0);
        match p.kind {
            Kind::Get(_) => {
                st.gets += 1;
                Stats::record(&mut st.hist_get, lat);
            }
            Kind::Set => {
                st.sets += 1;
                Stats::record(&mut st.hist_set, lat);
            }
            Kind::Flush => {}
        }
        st.last_measured_done = Some(now);
        progress.measured.fetch_add(1, Ordering::Relaxed);
    }
    progress.replies.fetch_add(1, Ordering::Relaxed);
    let bad = st.wrong + st.errors - bad_before;
    if bad > 0 {
        progress.bad.fetch_add(bad, Ordering::Relaxed);
    }
}

/// A connected socket, plain or TLS.
#[derive(Debug)]
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream>),
}

impl Stream {
    /// Connects (and with TLS, shakes hands) within the plan's timeout; the
    /// socket then has the plan's read and write timeouts. Also returns the
    /// kind of TLS handshake (None for plain TCP).
    pub fn open(plan: &Plan) -> Result<(Stream, Option<HandshakeKind>), String> {
        let stream = TcpStream::connect_timeout(&plan.addr, plan.timeout)
            .map_err(|e| format!("cannot connect to {}: {e}", plan.addr))?;
        stream
            .set_nodelay(true)
            .and_then(|_| stream.set_read_timeout(Some(plan.timeout)))
            .and_then(|_| stream.set_write_timeout(Some(plan.timeout)))
            .map_err(|e| format!("cannot configure socket: {e}"))?;
        match &plan.tls {
            None => Ok((Stream::Plain(stream), None)),
            Some(tls) => {
                let (s, kind) = TlsStream::handshake(stream, tls)
                    .map_err(|e| format!("TLS handshake with {} failed: {e}", plan.addr))?;
                Ok((Stream::Tls(Box::new(s)), Some(kind)))
            }
        }
    }

    fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.set_nonblocking(on),
            Stream::Tls(s) => s.set_nonblocking(on),
        }
    }

    fn shutdown(&self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.shutdown(Shutdown::Both),
            Stream::Tls(s) => s.shutdown(),
        }
    }

    /// Bytes accepted by `write` but not yet on the socket (TLS only).
    fn pending_output(&self) -> bool {
        match self {
            Stream::Plain(_) => false,
            Stream::Tls(s) => s.pending_output(),
        }
    }

    /// Bytes put on the socket by `write` calls that may have reported
    /// WouldBlock (TLS only: ciphertext queued by an earlier call).
    fn sent_behind(&self) -> u64 {
        match self {
            Stream::Plain(_) => 0,
            Stream::Tls(s) => s.sent(),
        }
    }

    /// A handle for a writer thread; this one then only reads.
    fn split_writer(&self) -> io::Result<Stream> {
        Ok(match self {
            Stream::Plain(s) => Stream::Plain(s.try_clone()?),
            Stream::Tls(s) => Stream::Tls(Box::new(s.split_writer()?)),
        })
    }

    /// Ends the connection politely (TLS: close_notify).
    pub fn close(self) {
        if let Stream::Tls(mut s) = self {
            s.close();
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.write_all(buf),
            Stream::Tls(s) => s.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// One connection to the server.
pub struct Conn {
    pub id: usize,
    stream: Stream,
    rb: RBuf,
    items: Vec<Item>,
    nonblocking: bool,
}

impl Conn {
    pub fn connect(plan: &Plan, id: usize) -> Result<Conn, String> {
        let (stream, _) = Stream::open(plan)?;
        Ok(Conn {
            id,
            stream,
            rb: RBuf::new(),
            items: Vec::new(),
            nonblocking: false,
        })
    }

    /// The plain TCP socket, for the one-thread event loop (None over TLS).
    /// Every reply has been read when this is called (flush and preload
    /// wait for theirs), so no buffered byte is lost.
    pub fn into_tcp(self) -> Option<TcpStream> {
        debug_assert!(self.rb.data().is_empty());
        match self.stream {
            Stream::Plain(s) => Some(s),
            Stream::Tls(_) => None,
        }
    }

    /// Reads once. Ok(false): nothing available (non-blocking mode only).
    fn fill(&mut self, need: usize) -> Result<bool, Fatal> {
        self.rb.prepare(need);
        let end = self.rb.end;
        match self.stream.read(&mut self.rb.buf[end..]) {
            Ok(0) => Err(Fatal::Eof),
            Ok(n) => {
                self.rb.end += n;
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(false),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && self.nonblocking => Ok(false),
            Err(e) => Err(io_fatal(e)),
        }
    }

    /// Completes `p` from buffered bytes if they hold its whole reply:
    /// Ok(None) when done, Ok(Some(need)) when more bytes are needed.
    fn try_reply(
        &mut self,
        p: &Pending,
        plan: &Plan,
        st: &mut Stats,
        progress: &Progress,
    ) -> Result<Option<usize>, Fatal> {
        let data = self.rb.data();
        let parsed = match &p.kind {
            Kind::Get(_) => proto::parse_get(data, &mut self.items),
            Kind::Set => proto::parse_store(data),
            Kind::Flush => proto::parse_ok(data),
        }
        .map_err(|d| Fatal::Desync(d.0))?;
        match parsed {
            Parse::Incomplete { need } => Ok(Some(need)),
            Parse::Done { len, reply } => {
                account(plan, self.id, p, reply, data, &self.items, st, progress);
                self.rb.consume(len);
                Ok(None)
            }
        }
    }

    /// Blocks until the reply to `p` is read and booked.
    pub fn wait_reply(
        &mut self,
        p: &Pending,
        plan: &Plan,
        st: &mut Stats,
        progress: &Progress,
    ) -> Result<(), Fatal> {
        while let Some(need) = self.try_reply(p, plan, st, progress)? {
            self.fill(need)?;
        }
        Ok(())
    }

    /// Writes a batch and reads all replies of `pend` (front first); on
    /// error `pend` holds the requests left unanswered.
    pub fn exchange(
        &mut self,
        wbuf: &[u8],
        pend: &mut VecDeque<Pending>,
        plan: &Plan,
        st: &mut Stats,
        progress: &Progress,
    ) -> Result<(), Fatal> {
        if wbuf.len() <= SAFE_BLOCKING_WRITE {
            self.stream.write_all(wbuf).map_err(io_fatal)?;
        } else {
            self.stream.set_nonblocking(true).map_err(Fatal::Io)?;
            self.nonblocking = true;
            let r = self.write_interleaved(wbuf, pend, plan, st, progress);
            self.nonblocking = false;
            self.stream.set_nonblocking(false).map_err(Fatal::Io)?;
            r?;
        }
        while let Some(p) = pend.front() {
            self.wait_reply(p, plan, st, progress)?;
            pend.pop_front();
        }
        Ok(())
    }

    /// Non-blocking write that reads (and books) replies whenever the socket
    /// is full, so that a server waiting for us to read cannot deadlock us.
    fn write_interleaved(
        &mut self,
        wbuf: &[u8],
        pend: &mut VecDeque<Pending>,
        plan: &Plan,
        st: &mut Stats,
        progress: &Progress,
    ) -> Result<(), Fatal> {
        let mut off = 0;
        let mut stalled: Option<Instant> = None;
        while off < wbuf.len() || self.stream.pending_output() {
            let sent_before = self.stream.sent_behind();
            let step = if off < wbuf.len() {
                self.stream.write(&wbuf[off..])
            } else {
                // TLS: everything is encrypted, ciphertext is still queued.
                self.stream.flush().map(|_| usize::MAX)
            };
            match step {
                Ok(0) => return Err(Fatal::Eof),
                Ok(usize::MAX) => stalled = None,
                Ok(n) => {
                    off += n;
                    stalled = None;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let mut progressed = self.stream.sent_behind() != sent_before;
                    progressed |= self.fill(0)?;
                    while let Some(p) = pend.front() {
                        if self.try_reply(p, plan, st, progress)?.is_some() {
                            break;
                        }
                        pend.pop_front();
                        progressed = true;
                    }
                    if !progressed {
                        let since = *stalled.get_or_insert_with(Instant::now);
                        if since.elapsed() > plan.timeout {
                            return Err(Fatal::Timeout);
                        }
                        thread::sleep(Duration::from_micros(50));
                    }
                }
                Err(e) => return Err(Fatal::Io(e)),
            }
        }
        Ok(())
    }
}

fn sleep_until(t: Instant) {
    let now = Instant::now();
    if t > now {
        thread::sleep(t - now);
    }
}

/// Sleeps until `t`. A sleeping thread wakes up late (Linux's default
/// timer slack is 50 us, plus the wake-up itself), so the thread sleeps
/// `margin` less and then yields until `t`: at most `margin` of spinning.
pub fn sleep_until_precise(t: Instant, margin: Duration) {
    let now = Instant::now();
    if t > now + margin {
        thread::sleep(t - now - margin);
    }
    while Instant::now() < t {
        thread::yield_now();
    }
}

/// How `Window::acquire` got its slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acquired {
    /// At once.
    Free,
    /// After the window was full until this moment (the server's delay).
    AfterWait(Instant),
    /// Never: the connection failed.
    Dead,
}

/// The open loop's in-flight limit (the pipeline depth): the writer takes a
/// slot per request, the reader gives it back when the reply is read.
#[derive(Debug)]
pub struct Window {
    state: Mutex<(usize, bool)>, // (in flight, writer waiting)
    cv: Condvar,
    limit: usize,
}

impl Window {
    pub fn new(limit: usize) -> Self {
        Window {
            state: Mutex::new((0, false)),
            cv: Condvar::new(),
            limit,
        }
    }

    /// Takes a slot, waiting while the window is full.
    pub fn acquire(&self, dead: &AtomicBool) -> Acquired {
        let mut g = self.state.lock().expect("window lock");
        let mut waited = false;
        while g.0 >= self.limit {
            if dead.load(Ordering::SeqCst) {
                return Acquired::Dead;
            }
            waited = true;
            g.1 = true;
            g = self
                .cv
                .wait_timeout(g, Duration::from_millis(10))
                .expect("window lock")
                .0;
        }
        g.1 = false;
        g.0 += 1;
        if waited {
            Acquired::AfterWait(Instant::now())
        } else {
            Acquired::Free
        }
    }

    /// Takes a slot if one is free.
    pub fn try_acquire(&self) -> bool {
        let mut g = self.state.lock().expect("window lock");
        if g.0 >= self.limit {
            return false;
        }
        g.0 += 1;
        true
    }

    pub fn release(&self) {
        let mut g = self.state.lock().expect("window lock");
        g.0 -= 1;
        let wake = g.1;
        drop(g);
        if wake {
            self.cv.notify_one();
        }
    }

    pub fn in_flight(&self) -> usize {
        self.state.lock().expect("window lock").0
    }
}

/// Sends flush_all and checks the OK.
pub fn flush(conn: &mut Conn, plan: &Plan, st: &mut Stats, progress: &Progress) -> bool {
    let mut pend = VecDeque::from([Pending {
        kind: Kind::Flush,
        t0: Instant::now(),
        measured: false,
    }]);
    match conn.exchange(b"flush_all\r\n", &mut pend, plan, st, progress) {
        Ok(()) => true,
        Err(e) => {
            fail(st, conn.id, &e, pend.len() as u64, true);
            false
        }
    }
}

/// Stores keys `range` once each (pipelined sets, every reply must be
/// STORED). Returns false if the connection failed.
pub fn preload(
    conn: &mut Conn,
    plan: &Plan,
    range: std::ops::Range<u64>,
    st: &mut Stats,
    progress: &Progress,
) -> bool {
    let batch = plan.pipeline.max(PRELOAD_BATCH) as u64;
    let mut wbuf = Vec::new();
    let mut pend = VecDeque::new();
    let mut idx = range.start;
    while idx < range.end {
        wbuf.clear();
        let stop = range.end.min(idx + batch);
        let t0 = Instant::now();
        for k in idx..stop {
            write_set(plan, k, (k % u64::from(VERSIONS)) as u32, &mut wbuf);
            pend.push_back(Pending {
                kind: Kind::Set,
                t0,
                measured: false,
            });
        }
        if let Err(e) = conn.exchange(&wbuf, &mut pend, plan, st, progress) {
            fail(st, conn.id, &e, pend.len() as u64, true);
            return false;
        }
        idx = stop;
    }
    true
}

/// Closed loop: write `pipeline` requests back to back, read their replies,
/// repeat; each latency runs from the batch's write to its own reply.
pub fn closed_loop(conn: &mut Conn, plan: &Plan, timing: Timing, progress: &Progress) -> Stats {
    let mut st = Stats::default();
    let mut gen = Gen::new(plan.seed, conn.id);
    let quota = plan.quota(conn.id);
    let mut issued = 0u64;
    let mut wbuf = Vec::new();
    let mut pend = VecDeque::with_capacity(plan.pipeline);
    sleep_until(timing.start);
    loop {
        let now = Instant::now();
        if now >= timing.end {
            break;
        }
        let measured = now >= timing.measure_start;
        let mut n = plan.pipeline as u64;
        if let (true, Some(q)) = (measured, quota) {
            if issued >= q {
                break;
            }
            n = n.min(q - issued);
        }
        wbuf.clear();
        for _ in 0..n {
            let kind = gen.request(plan, &mut wbuf);
            pend.push_back(Pending {
                kind,
                t0: now,
                measured,
            });
        }
        if measured {
            issued += n;
        }
        let t0 = Instant::now();
        for p in pend.iter_mut() {
            p.t0 = t0;
        }
        if let Err(e) = conn.exchange(&wbuf, &mut pend, plan, &mut st, progress) {
            fail(&mut st, conn.id, &e, pend.len() as u64, true);
            break;
        }
    }
    st
}

/// Open loop: a writer thread sends each request at its intended time (or
/// as soon after it as the pipeline window allows), a reader thread reads
/// and verifies replies; latency runs from the intended time.
pub fn open_loop(conn: &mut Conn, plan: &Plan, timing: Timing, progress: &Progress) -> Stats {
    if plan.pipeline == 1 {
        return open_loop_inline(conn, plan, timing, progress);
    }
    let mut st = Stats::default();
    let writer_stream = match conn.stream.split_writer() {
        Ok(s) => s,
        Err(e) => {
            st.error(format!("conn {}: cannot clone socket: {e}", conn.id));
            return st;
        }
    };
    // The channel only carries what was sent; the window bounds it to D.
    let (tx, rx) = mpsc::channel::<Pending>();
    let dead = AtomicBool::new(false);
    let window = Window::new(plan.pipeline);
    let id = conn.id;
    let wst = thread::scope(|s| {
        let (dead, window) = (&dead, &window);
        let reader = s.spawn(move || reader_loop(conn, rx, plan, progress, dead, window));
        let wst = writer_loop(writer_stream, tx, plan, timing, id, dead, window);
        let rst = reader.join().expect("reader thread panicked");
        st.merge(&rst);
        wst
    });
    st.merge(&wst);
    st
}

/// Wake-up margin for precise sleeps: only where requests are sparse enough
/// for the spinning to cost little CPU (at most a quarter of the time).
fn spin_margin(plan: &Plan, sched: &Schedule) -> Duration {
    if sched.interval() >= plan.spin * 4 {
        plan.spin
    } else {
        Duration::ZERO
    }
}

/// Open loop at depth 1 on one thread: request i+1 may not be sent before
/// reply i is read anyway, so the thread sleeps until the intended time,
/// sends, and blocks on the reply (saving two thread hand-offs a request).
fn open_loop_inline(conn: &mut Conn, plan: &Plan, timing: Timing, progress: &Progress) -> Stats {
    let mut st = Stats::default();
    let sched = Schedule::new(timing.start, plan.rate, plan.connections, conn.id);
    let margin = spin_margin(plan, &sched);
    let quota = plan.quota(conn.id);
    let mut gen = Gen::new(plan.seed, conn.id);
    let mut wbuf = Vec::new();
    let mut pend = VecDeque::with_capacity(1);
    let mut issued = 0u64;
    // When the previous reply was read: at depth 1 the window is full until then.
    let mut freed_at = None;
    for i in 0.. {
        let t = sched.at(i);
        let measured = t >= timing.measure_start;
        if t >= timing.end || (measured && quota.is_some_and(|q| issued >= q)) {
            break;
        }
        sleep_until_precise(t, margin);
        wbuf.clear();
        let kind = gen.request(plan, &mut wbuf);
        pend.push_back(Pending {
            kind,
            t0: t,
            measured,
        });
        if measured {
            issued += 1;
            if let (_, Some(lag)) = origin_and_lag(true, t, freed_at, Instant::now()) {
                Stats::record(&mut st.lag, lag);
            }
        }
        if let Err(e) = conn.exchange(&wbuf, &mut pend, plan, &mut st, progress) {
            fail(&mut st, conn.id, &e, pend.len() as u64, true);
            break;
        }
        freed_at = Some(Instant::now());
    }
    st
}

fn reader_loop(
    conn: &mut Conn,
    rx: Receiver<Pending>,
    plan: &Plan,
    progress: &Progress,
    dead: &AtomicBool,
    window: &Window,
) -> Stats {
    let mut st = Stats::default();
    while let Ok(p) = rx.recv() {
        let r = conn.wait_reply(&p, plan, &mut st, progress);
        window.release();
        if let Err(e) = r {
            let first = !dead.swap(true, Ordering::SeqCst);
            let _ = conn.stream.shutdown();
            let mut unanswered = 1;
            while rx.try_recv().is_ok() {
                unanswered += 1;
            }
            fail(&mut st, conn.id, &e, unanswered, first);
            break;
        }
    }
    st
}

fn writer_loop(
    mut w: Stream,
    tx: Sender<Pending>,
    plan: &Plan,
    timing: Timing,
    conn: usize,
    dead: &AtomicBool,
    window: &Window,
) -> Stats {
    let mut st = Stats::default();
    let sched = Schedule::new(timing.start, plan.rate, plan.connections, conn);
    let quota = plan.quota(conn);
    let mut gen = Gen::new(plan.seed, conn);
    let mut i = 0u64;
    let mut issued = 0u64;
    let mut wbuf = Vec::new();
    let mut intended = Vec::new();
    let margin = spin_margin(plan, &sched);
    // May request `i` (intended at `t`) still be issued?
    let allowed = |t: Instant, issued: u64| {
        t < timing.end
            && !dead.load(Ordering::Relaxed)
            && !(t >= timing.measure_start && quota.is_some_and(|q| issued >= q))
    };
    'run: loop {
        if !allowed(sched.at(i), issued) {
            break;
        }
        sleep_until_precise(sched.at(i), margin);
        wbuf.clear();
        intended.clear();
        let mut freed_at = None;
        // Everything already due goes out in one write, as far as the window allows.
        loop {
            let t = sched.at(i);
            if !allowed(t, issued) || (!intended.is_empty() && t > Instant::now()) {
                break;
            }
            if intended.is_empty() {
                // Waits while D requests are in flight; the wait counts in
                // their latency, not in the send lag (it is the server's).
                match window.acquire(dead) {
                    Acquired::Dead => break 'run,
                    Acquired::AfterWait(at) => freed_at = Some(at),
                    Acquired::Free => {}
                }
            } else if !window.try_acquire() {
                break;
            }
            let kind = gen.request(plan, &mut wbuf);
            let measured = t >= timing.measure_start;
            let p = Pending {
                kind,
                t0: t,
                measured,
            };
            if tx.send(p).is_err() {
                break 'run;
            }
            intended.push(t);
            i += 1;
            if measured {
                issued += 1;
            }
        }
        let sent = Instant::now();
        for &t in &intended {
            if t >= timing.measure_start {
                if let (_, Some(lag)) = origin_and_lag(true, t, freed_at, sent) {
                    Stats::record(&mut st.lag, lag);
                }
            }
        }
        if let Err(e) = w.write_all(&wbuf) {
            let first = !dead.swap(true, Ordering::SeqCst);
            if first {
                st.error(format!("conn {conn}: write failed: {e}"));
            }
            let _ = w.shutdown();
            break;
        }
    }
    drop(tx);
    st
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Args;
    use clap::Parser;

    fn plan(extra: &[&str]) -> Plan {
        let mut v = vec!["molt-bench"];
        v.extend_from_slice(extra);
        Plan::from_args(&Args::try_parse_from(v).unwrap()).unwrap()
    }

    #[test]
    fn window_limits_in_flight() {
        let w = Window::new(2);
        let dead = AtomicBool::new(false);
        assert_eq!(w.acquire(&dead), Acquired::Free);
        assert!(w.try_acquire());
        assert!(!w.try_acquire());
        assert_eq!(w.in_flight(), 2);
        thread::scope(|s| {
            let h = s.spawn(|| w.acquire(&dead)); // blocks until a release
            thread::sleep(Duration::from_millis(30));
            assert!(!h.is_finished());
            let released = Instant::now();
            w.release();
            match h.join().unwrap() {
                Acquired::AfterWait(at) => assert!(at >= released),
                other => panic!("{other:?}"),
            }
        });
        assert_eq!(w.in_flight(), 2);
        dead.store(true, Ordering::SeqCst);
        assert_eq!(w.acquire(&dead), Acquired::Dead); // full and dead: gives up
    }

    #[test]
    fn precise_sleep_is_not_early() {
        let t = Instant::now() + Duration::from_millis(2);
        sleep_until_precise(t, Duration::from_micros(50));
        assert!(Instant::now() >= t);
        let t = Instant::now() + Duration::from_millis(1);
        sleep_until_precise(t, Duration::ZERO);
        assert!(Instant::now() >= t);
    }

    #[test]
    fn requests_follow_ratio_and_format() {
        let p = plan(&[
            "--ratio",
            "1:1",
            "-m",
            "3",
            "--keys",
            "100",
            "--key-size",
            "8",
        ]);
        let mut g = Gen::new(1, 0);
        let (mut gets, mut sets) = (0, 0);
        for _ in 0..2000 {
            let mut buf = Vec::new();
            match g.request(&p, &mut buf) {
                Kind::Get(keys) => {
                    gets += 1;
                    assert_eq!(keys.len(), 3);
                    let line = String::from_utf8(buf).unwrap();
                    let want: Vec<String> = keys
                        .iter()
                        .map(|&k| String::from_utf8(p.keys.key(k)).unwrap())
                        .collect();
                    assert_eq!(line, format!("get {}\r\n", want.join(" ")));
                }
                Kind::Set => {
                    sets += 1;
                    let head_end = buf.windows(2).position(|w| w == b"\r\n").unwrap();
                    let head = std::str::from_utf8(&buf[..head_end]).unwrap();
                    let t: Vec<&str> = head.split(' ').collect();
                    assert_eq!(t[0], "set");
                    let idx = p.keys.parse_key(t[1].as_bytes()).unwrap();
                    let flags: u32 = t[2].parse().unwrap();
                    assert_eq!(t[3], "0");
                    let len: usize = t[4].parse().unwrap();
                    let value = &buf[head_end + 2..head_end + 2 + len];
                    assert!(buf.ends_with(b"\r\n") && buf.len() == head_end + 4 + len);
                    assert_eq!(p.values.verify(p.keys.hash(idx), flags, value), Ok(()));
                }
                Kind::Flush => unreachable!(),
            }
        }
        assert!((800..1200).contains(&gets), "{gets} gets, {sets} sets");
    }

    #[test]
    fn get_check_counts_hits_wrong_and_strays() {
        let p = plan(&["--keys", "100", "--key-size", "8"]);
        let key = |i| String::from_utf8(p.keys.key(i)).unwrap();
        let mut good = Vec::new();
        write_set(&p, 5, 3, &mut good);
        let value = &good[good.len() - 102..good.len() - 2];
        let mut wire = format!("VALUE {} 3 100\r\n", key(5)).into_bytes();
        wire.extend_from_slice(value);
        wire.extend_from_slice(format!("\r\nVALUE {} 3 100\r\n", key(7)).as_bytes());
        wire.extend_from_slice(value); // key 5's value under key 7: wrong
        wire.extend_from_slice(format!("\r\nVALUE {} 3 100\r\n", key(9)).as_bytes());
        wire.extend_from_slice(value); // key 9 was not requested: error
        wire.extend_from_slice(b"\r\nEND\r\n");
        let mut items = Vec::new();
        let parsed = proto::parse_get(&wire, &mut items).unwrap();
        assert!(matches!(parsed, Parse::Done { .. }));
        let mut st = Stats::default();
        let hits = check_get(&p, 0, &[5, 6, 7], &wire, &items, &mut st);
        assert_eq!(hits, 2);
        assert_eq!(st.wrong, 1);
        assert_eq!(st.errors, 1);
        assert_eq!(st.samples.len(), 2);
    }

    #[test]
    fn out_of_memory_on_a_set_is_refused_only_when_allowed() {
        let progress = Progress::default();
        let set = Pending {
            kind: Kind::Set,
            t0: Instant::now(),
            measured: false,
        };
        let oom = || Reply::Failure(proto::OUT_OF_MEMORY.to_string());
        let strict = plan(&[]);
        let mut st = Stats::default();
        account(&strict, 0, &set, oom(), b"", &[], &mut st, &progress);
        assert_eq!((st.errors, st.refused), (1, 0));

        let lenient = plan(&["--refused-ok"]);
        let mut st = Stats::default();
        account(&lenient, 0, &set, oom(), b"", &[], &mut st, &progress);
        assert_eq!((st.errors, st.refused), (0, 1));
        // any other failure stays an error
        let other = Reply::Failure("SERVER_ERROR object too large for cache".into());
        account(&lenient, 0, &set, other, b"", &[], &mut st, &progress);
        assert_eq!((st.errors, st.refused), (1, 1));
    }

    #[test]
    fn read_buffer_grows_and_compacts() {
        let mut rb = RBuf::new();
        rb.end = 62 * 1024;
        rb.consume(50 * 1024);
        rb.prepare(0);
        assert_eq!((rb.start, rb.end), (0, 12 * 1024)); // compacted: under 4 KiB were free
        rb.prepare(1 << 20);
        assert!(rb.buf.len() >= (1 << 20) + 4096);
        rb.consume(12 * 1024);
        assert_eq!((rb.start, rb.end), (0, 0));
    }
}
