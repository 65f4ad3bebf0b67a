//! The protocol seam (protocol.h) from Rust: open an implementation by name
//! ("c", and "rust" once the mixed binary registers it), give it sessions,
//! and feed a session input the way the event loop does, over a storage
//! engine opened through storage.h ([`CStorage`]). The host side is played
//! here: the output buffer the host owns, per-session counters, and a host
//! table whose reports are deterministic (they print the session's counters
//! and the engine's figures, never the clock of the machine), so two
//! implementations fed the same bytes must write the same bytes.
//! Used by the protocol differential fuzzer and the protocol benchmarks.

use crate::c_core::CStorage;
use molt_ffi::convert::{c_names, check};
use molt_ffi::sys;
use std::cell::{Cell, RefCell, UnsafeCell};
use std::ffi::{CStr, CString};
use std::io::Write;
use std::marker::PhantomData;
use std::os::raw::{c_char, c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};
use storage::Error;

/// Names of the protocol implementations compiled into this binary.
pub fn protocols() -> Vec<String> {
    // SAFETY: molt_protocol_names returns a static, NULL-terminated array of
    // static NUL-terminated strings.
    unsafe { c_names(sys::molt_protocol_names()) }
}

/// What the host does after a process call (protocol.h
/// `molt_protocol_status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProtocolStatus {
    /// Every complete request is done; `need` more bytes complete a block.
    More,
    /// Output is backed up: drain it, then call again with the same input.
    Paused,
    /// Write the output, then close; do not call again.
    Close,
}

/// One process call's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Progress {
    pub status: ProtocolStatus,
    /// Leading input bytes finished with (protocol.h promises no more than
    /// the input's length; checking it is the host's job).
    pub consumed: usize,
    /// Bytes a pending data block still lacks (More only).
    pub need: usize,
}

/// protocol.h `molt_protocol_limits`. The default is the server's.
#[derive(Clone, Copy, Debug)]
pub struct ProtocolLimits {
    pub item_size_max: usize,
    pub growth_factor: f64,
    pub line_max: usize,
    pub out_high: usize,
    pub out_limit: usize,
}

impl Default for ProtocolLimits {
    /// As server/worker.c sets them with the default options.
    fn default() -> Self {
        let item_size_max = 1 << 20;
        let out_high = 1 << 20;
        ProtocolLimits {
            item_size_max,
            growth_factor: 1.25,
            line_max: 1 << 20,
            out_high,
            out_limit: item_size_max + out_high + 4096,
        }
    }
}

/// The protocol's counters, in protocol.h order (`molt_counter`).
pub const COUNTERS: usize = sys::molt_counter::MOLT_COUNTER_COUNT.0 as usize;

/// The `stats` name of counter `i` (0..COUNTERS).
pub fn counter_name(i: usize) -> &'static str {
    let Ok(raw) = u32::try_from(i) else { return "" };
    // SAFETY: molt_counter_name takes any value and returns NULL or a
    // static NUL-terminated string.
    let p = unsafe { sys::molt_counter_name(sys::molt_counter(raw)) };
    if p.is_null() {
        return "";
    }
    // SAFETY: p is a static NUL-terminated string (checked non-NULL above).
    unsafe { CStr::from_ptr(p) }.to_str().unwrap_or("")
}

/// What one process call may use besides its input and output (the safe
/// half of protocol.h `molt_protocol_ctx`; the counters and the host table
/// are the session's).
#[derive(Clone, Copy)]
pub struct Context<'a> {
    pub storage: &'a CStorage,
    /// Unix seconds.
    pub now: i64,
    pub limits: ProtocolLimits,
}

/// The output buffer a host owns (protocol.h `molt_buf`): implementations
/// grow it with `molt_buf_reserve` (realloc), so its memory comes from the
/// C allocator and goes back to it on drop.
pub struct OutBuf {
    raw: sys::molt_buf,
}

impl Default for OutBuf {
    fn default() -> Self {
        OutBuf::new()
    }
}

impl OutBuf {
    /// An empty buffer; the first reserve allocates.
    pub fn new() -> OutBuf {
        OutBuf {
            raw: sys::molt_buf {
                data: std::ptr::null_mut(),
                start: 0,
                end: 0,
                cap: 0,
            },
        }
    }

    /// The queued bytes, not yet handed to the socket.
    pub fn queued(&self) -> &[u8] {
        let len = self.raw.end.saturating_sub(self.raw.start);
        if self.raw.data.is_null() || len == 0 {
            return &[];
        }
        // SAFETY: protocol.h keeps start <= end <= cap and data[0, cap)
        // allocated; [start, end) was written by the implementation. The
        // slice borrows self, so no call can move data while it lives.
        unsafe { std::slice::from_raw_parts(self.raw.data.add(self.raw.start).cast(), len) }
    }

    /// The queued bytes, writable: a host may rewrite what it has not
    /// yet sent (tests use it to play a deliberately wrong implementation).
    pub fn queued_mut(&mut self) -> &mut [u8] {
        let len = self.raw.end.saturating_sub(self.raw.start);
        if self.raw.data.is_null() || len == 0 {
            return &mut [];
        }
        // SAFETY: as in queued; the slice borrows self mutably, so nothing
        // else reads or moves the buffer while it lives.
        unsafe { std::slice::from_raw_parts_mut(self.raw.data.add(self.raw.start).cast(), len) }
    }

    /// Marks the first n queued bytes as written to the socket.
    pub fn consume(&mut self, n: usize) {
        self.raw.start = (self.raw.start + n).min(self.raw.end);
        if self.raw.start == self.raw.end {
            self.raw.start = 0;
            self.raw.end = 0;
        }
    }

    /// Moves every queued byte to the end of `to`.
    pub fn drain_into(&mut self, to: &mut Vec<u8>) {
        to.extend_from_slice(self.queued());
        self.consume(usize::MAX);
    }

    /// Bytes allocated.
    pub fn capacity(&self) -> usize {
        self.raw.cap
    }
}

impl Drop for OutBuf {
    fn drop(&mut self) {
        // SAFETY: raw is this OutBuf's own molt_buf, grown only by
        // molt_buf_reserve; molt_buf_release frees it with the allocator that
        // allocated it, once, here.
        unsafe { sys::molt_buf_release(&mut self.raw) }
    }
}

/// An implementation of protocol.h opened by name. Dropping it frees it
/// (after its sessions: they borrow it).
pub struct CProtocol {
    raw: NonNull<sys::molt_protocol>,
}

impl CProtocol {
    /// Opens implementation `name` ("c"; "rust" in a mixed binary that
    /// registers it): Error::Invalid for a name this binary lacks.
    pub fn open(name: &str) -> Result<CProtocol, Error> {
        let cname = CString::new(name).map_err(|_| Error::Invalid)?;
        let mut out: *mut sys::molt_protocol = std::ptr::null_mut();
        // SAFETY: cname is a valid C string for the call; out is a valid
        // place for the new handle.
        check(unsafe { sys::molt_protocol_open(cname.as_ptr(), &mut out) })?;
        NonNull::new(out)
            .map(|raw| CProtocol { raw })
            .ok_or(Error::Internal)
    }

    /// The implementation's registered name.
    pub fn name(&self) -> String {
        // SAFETY: the handle is live; the name is a static C string.
        let p = unsafe { sys::molt_protocol_name(self.raw.as_ptr()) };
        if p.is_null() {
            return String::new();
        }
        // SAFETY: p is a non-NULL static NUL-terminated string.
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }

    /// A new connection's session, with its own counters and host table.
    pub fn session(&self) -> Result<Session<'_>, Error> {
        let mut out: *mut sys::molt_protocol_session = std::ptr::null_mut();
        // SAFETY: the handle is live; out is a valid place for the session.
        check(unsafe { sys::molt_protocol_session_new(self.raw.as_ptr(), &mut out) })?;
        let raw = NonNull::new(out).ok_or(Error::Internal)?;
        // Owned through a raw pointer, not a Box: C keeps the table's copy
        // of it, which moving a Box would invalidate under Rust's aliasing
        // rules. Freed in Session's drop.
        let host = NonNull::from(Box::leak(Box::new(Host::new())));
        let table = Box::new(sys::molt_protocol_host {
            self_: host.as_ptr().cast(),
            stats: Some(host_stats),
            stats_group: Some(host_stats_group),
            stats_reset: Some(host_stats_reset),
            set_verbosity: Some(host_set_verbosity),
            refresh_certs: Some(host_refresh_certs),
            shutdown_enabled: Some(host_shutdown_enabled),
            shutdown: Some(host_shutdown),
            // SAFETY: host is the leaked Box made above, live until the
            // session's drop; only its address is taken.
            watching: unsafe { host.as_ref() }.watching.as_ptr().cast_const(),
            watch: Some(host_watch),
            watch_log: Some(host_watch_log),
        });
        Ok(Session {
            raw,
            host,
            table,
            _protocol: PhantomData,
        })
    }
}

impl Drop for CProtocol {
    fn drop(&mut self) {
        // SAFETY: the handle came from molt_protocol_open and is freed once;
        // its sessions borrowed it and are gone.
        unsafe { sys::molt_protocol_free(self.raw.as_ptr()) }
    }
}

/// What the server would own, one per session here: the worker's counters
/// and the state the host table's reports print. Interior mutability only:
/// the implementation writes the counters through the context's pointer
/// while the callbacks read them through a shared reference.
struct Host {
    counters: UnsafeCell<sys::molt_counters>,
    /// Counter values at the last `stats reset` (reports subtract them).
    baseline: Cell<[u64; COUNTERS]>,
    /// The engine of the call in progress (the reports print its figures).
    storage: Cell<Option<NonNull<sys::molt_storage>>>,
    limits: Cell<Option<ProtocolLimits>>,
    verbosity: Cell<Option<u32>>,
    resets: Cell<u64>,
    certs_calls: Cell<u64>,
    /// What `shutdown_enabled` answers (memcached's -A).
    shutdown_enabled: Cell<bool>,
    /// Every `shutdown` call: graceful or not.
    shutdowns: RefCell<Vec<bool>>,
    /// The watch kinds the table's `watching` points at.
    watching: AtomicU32,
    /// `watch` refuses (no room for another watcher).
    watch_refused: Cell<bool>,
    /// Every `watch` call's kinds.
    watches: RefCell<Vec<u32>>,
    /// Every reported event, one line each (see host_watch_log).
    watch_log: RefCell<Vec<u8>>,
}

impl Host {
    fn new() -> Host {
        Host {
            counters: UnsafeCell::new(sys::molt_counters {
                value: [0; COUNTERS],
            }),
            baseline: Cell::new([0; COUNTERS]),
            storage: Cell::new(None),
            limits: Cell::new(None),
            verbosity: Cell::new(None),
            resets: Cell::new(0),
            certs_calls: Cell::new(0),
            shutdown_enabled: Cell::new(false),
            shutdowns: RefCell::new(Vec::new()),
            watching: AtomicU32::new(0),
            watch_refused: Cell::new(false),
            watches: RefCell::new(Vec::new()),
            watch_log: RefCell::new(Vec::new()),
        }
    }

    fn counters_ptr(&self) -> *mut sys::molt_counters {
        self.counters.get()
    }

    fn counter(&self, i: usize) -> u64 {
        let which = sys::molt_counter(u32::try_from(i).unwrap_or(u32::MAX));
        // SAFETY: the pointer is to this host's live counters; reads go
        // through the C accessor (relaxed atomic load), as protocol.h asks.
        unsafe { sys::molt_counters_get(self.counters_ptr(), which) }
    }

    fn counters(&self) -> [u64; COUNTERS] {
        std::array::from_fn(|i| self.counter(i))
    }

    fn engine_stats(&self, now: i64) -> Option<sys::molt_storage_stats> {
        let st = self.storage.get()?;
        let mut s = sys::molt_storage_stats::from(storage::Stats::default());
        // SAFETY: storage is the live engine of the process call in
        // progress (set by Session::process for its duration); s is a valid
        // place for the figures.
        unsafe { sys::molt_storage_stats_read(st.as_ptr(), now, &mut s) };
        Some(s)
    }

    /// `stats`: the clock, every counter since the last reset, the engine's
    /// figures and what the host was told.
    fn stats_report(&self, now: i64) -> Vec<u8> {
        let mut r = Vec::with_capacity(1024);
        let _ = write!(r, "STAT time {now}\r\n");
        let base = self.baseline.get();
        for (i, v) in self.counters().iter().enumerate() {
            let _ = write!(
                r,
                "STAT {} {}\r\n",
                counter_name(i),
                v.wrapping_sub(base[i])
            );
        }
        if let Some(e) = self.engine_stats(now) {
            let _ = write!(
                r,
                "STAT curr_items {}\r\nSTAT total_items {}\r\nSTAT bytes {}\r\nSTAT evictions {}\r\nSTAT expired {}\r\n",
                e.curr_items, e.total_items, e.bytes, e.evictions, e.expired
            );
        }
        let verbosity = self.verbosity.get().map_or(-1, i64::from);
        let _ = write!(
            r,
            "STAT verbosity {verbosity}\r\nSTAT resets {}\r\nEND\r\n",
            self.resets.get()
        );
        r
    }

    /// `stats <group>`: None for a group the server does not know.
    fn group_report(&self, group: &[u8], now: i64) -> Option<Vec<u8>> {
        let mut r = Vec::with_capacity(256);
        match group {
            b"settings" => {
                let l = self.limits.get().unwrap_or_default();
                let _ = write!(
                    r,
                    "STAT item_size_max {}\r\nSTAT growth_factor {:.2}\r\nSTAT line_max {}\r\n",
                    l.item_size_max, l.growth_factor, l.line_max
                );
            }
            b"items" | b"slabs" => {
                if let Some(e) = self.engine_stats(now) {
                    let _ = write!(
                        r,
                        "STAT {} {} {}\r\n",
                        String::from_utf8_lossy(group),
                        e.curr_items,
                        e.bytes
                    );
                }
            }
            b"sizes" => r.extend_from_slice(b"STAT sizes_status disabled\r\n"),
            b"conns" => {
                let _ = write!(r, "STAT 1:state conn_parse_cmd {now}\r\n");
            }
            _ => return None,
        }
        r.extend_from_slice(b"END\r\n");
        Some(r)
    }
}

/// Appends a report within limit: 0, or -1 when the limit refused.
fn append(out: *mut sys::molt_buf, bytes: &[u8], limit: usize) -> c_int {
    // SAFETY: out is the host-owned buffer the implementation passed on
    // from the process call (checked non-NULL); bytes is valid for its
    // length.
    unsafe {
        if out.is_null() {
            return -1;
        }
        sys::molt_buf_append(out, bytes.as_ptr().cast(), bytes.len(), limit)
    }
}

/// The Host behind a table's self pointer.
fn host_ref<'a>(this: *mut c_void) -> Option<&'a Host> {
    // SAFETY: every table's self_ is the address of its session's boxed
    // Host, which outlives every process call the table is passed to; only
    // shared references are made (the state is in Cells).
    unsafe { this.cast::<Host>().cast_const().as_ref() }
}

extern "C" fn host_stats(
    this: *mut c_void,
    now: i64,
    out: *mut sys::molt_buf,
    limit: usize,
) -> c_int {
    let Some(h) = host_ref(this) else { return -1 };
    // A panic must not unwind into the C protocol: it becomes a refusal.
    catch_unwind(AssertUnwindSafe(|| h.stats_report(now))).map_or(-1, |r| append(out, &r, limit))
}

extern "C" fn host_stats_group(
    this: *mut c_void,
    group: *const c_char,
    group_len: usize,
    now: i64,
    out: *mut sys::molt_buf,
    limit: usize,
) -> c_int {
    let Some(h) = host_ref(this) else { return -1 };
    let name = if group.is_null() || group_len == 0 {
        &[][..]
    } else {
        // SAFETY: protocol.h: group_len bytes at group, valid for the call.
        unsafe { std::slice::from_raw_parts(group.cast::<u8>(), group_len) }
    };
    match catch_unwind(AssertUnwindSafe(|| h.group_report(name, now))) {
        Ok(Some(r)) => append(out, &r, limit),
        Ok(None) => -2,
        Err(_) => -1,
    }
}

extern "C" fn host_stats_reset(this: *mut c_void, _now: i64) {
    if let Some(h) = host_ref(this) {
        h.baseline.set(h.counters());
        h.resets.set(h.resets.get() + 1);
    }
}

extern "C" fn host_set_verbosity(this: *mut c_void, level: u32) {
    if let Some(h) = host_ref(this) {
        h.verbosity.set(Some(level));
    }
}

/// Answers in turn: no TLS, failed (with a message), reloaded; so every
/// path of `refresh_certs` is reached, the same way for every protocol.
extern "C" fn host_refresh_certs(
    this: *mut c_void,
    err: *mut c_char,
    err_len: usize,
) -> sys::molt_certs_result {
    let Some(h) = host_ref(this) else {
        return sys::molt_certs_result::MOLT_CERTS_NO_TLS;
    };
    let n = h.certs_calls.get();
    h.certs_calls.set(n + 1);
    match n % 3 {
        0 => sys::molt_certs_result::MOLT_CERTS_NO_TLS,
        1 if !err.is_null() && err_len > 0 => {
            let msg = b"test host: no certificate";
            let len = msg.len().min(err_len - 1);
            // SAFETY: protocol.h: err has room for err_len bytes; len + 1
            // <= err_len, and the message ends with a NUL.
            unsafe {
                std::ptr::copy_nonoverlapping(msg.as_ptr(), err.cast::<u8>(), len);
                *err.add(len) = 0;
            }
            sys::molt_certs_result::MOLT_CERTS_FAILED
        }
        _ => sys::molt_certs_result::MOLT_CERTS_RELOADED,
    }
}

extern "C" fn host_shutdown_enabled(this: *mut c_void) -> c_int {
    host_ref(this).map_or(0, |h| c_int::from(h.shutdown_enabled.get()))
}

extern "C" fn host_shutdown(this: *mut c_void, graceful: c_int) {
    if let Some(h) = host_ref(this) {
        h.shutdowns.borrow_mut().push(graceful != 0);
    }
}

extern "C" fn host_watch(this: *mut c_void, events: u32) -> c_int {
    let Some(h) = host_ref(this) else { return -1 };
    h.watches.borrow_mut().push(events);
    if h.watch_refused.get() {
        -1
    } else {
        0
    }
}

/// Appends "<event> <key, escaped> status=.. cmd=.. exptime=.. clsid=..
/// size=..": every field, so two protocols' events compare byte for byte.
extern "C" fn host_watch_log(this: *mut c_void, event: u32, item: *const sys::molt_watch_item) {
    let Some(h) = host_ref(this) else { return };
    // SAFETY: protocol.h: the item, when not NULL, is valid for the call.
    let Some(it) = (unsafe { item.as_ref() }) else {
        return;
    };
    let key = if it.key.is_null() || it.key_len == 0 {
        &[][..]
    } else {
        // SAFETY: protocol.h: key_len bytes at key, valid for the call.
        unsafe { std::slice::from_raw_parts(it.key, it.key_len) }
    };
    // A panic must not unwind into the C protocol: the event is lost.
    let _ = catch_unwind(AssertUnwindSafe(|| {
        let mut log = h.watch_log.borrow_mut();
        let _ = write!(log, "{event} {} ", key.escape_ascii());
        let _ = writeln!(
            log,
            "status={} cmd={} exptime={} clsid={} size={}",
            it.status, it.cmd, it.exptime, it.clsid, it.size
        );
    }));
}

/// One connection's session of an implementation, with the host state a
/// server keeps for it: its counters and the host table. Not Send: a
/// session is used by one thread (protocol.h).
pub struct Session<'p> {
    raw: NonNull<sys::molt_protocol_session>,
    host: NonNull<Host>,
    table: Box<sys::molt_protocol_host>,
    _protocol: PhantomData<&'p CProtocol>,
}

impl Session<'_> {
    fn host(&self) -> &Host {
        // SAFETY: host came from Box::leak in CProtocol::session and is
        // freed only in drop; only shared references are made (its state
        // is in Cells).
        unsafe { self.host.as_ref() }
    }

    /// One process call (protocol.h `molt_protocol_process`): consumes
    /// complete requests from `input`, executing them on the context's
    /// engine at its time, and appends the replies to `out`.
    pub fn process(&mut self, cx: &Context<'_>, input: &[u8], out: &mut OutBuf) -> Progress {
        let (limits, now) = (&cx.limits, cx.now);
        let st = cx.storage.as_raw();
        self.host().storage.set(Some(st));
        self.host().limits.set(Some(*limits));
        let ctx = sys::molt_protocol_ctx {
            storage: st.as_ptr(),
            now,
            counters: self.host().counters_ptr(),
            limits: sys::molt_protocol_limits {
                item_size_max: limits.item_size_max,
                growth_factor: limits.growth_factor,
                line_max: limits.line_max,
                out_high: limits.out_high,
                out_limit: limits.out_limit,
            },
            host: &*self.table,
        };
        let mut p = sys::molt_protocol_progress {
            consumed: 0,
            need: 0,
        };
        // SAFETY: the session is live and used by this thread only (&mut
        // self); ctx and everything it points at (engine, counters, host
        // table and its Host) outlive the call; input is valid for its
        // length; out is the host-owned buffer, grown only through
        // molt_buf_reserve; p is a valid place for the progress.
        let status = unsafe {
            sys::molt_protocol_process(
                self.raw.as_ptr(),
                &ctx,
                input.as_ptr().cast(),
                input.len(),
                &mut out.raw,
                &mut p,
            )
        };
        self.host().storage.set(None);
        Progress {
            status: match status {
                sys::molt_protocol_status::MOLT_PROTOCOL_MORE => ProtocolStatus::More,
                sys::molt_protocol_status::MOLT_PROTOCOL_PAUSED => ProtocolStatus::Paused,
                _ => ProtocolStatus::Close,
            },
            // As reported: more than the input is a broken promise the
            // caller should see, not one to hide.
            consumed: p.consumed,
            need: p.need,
        }
    }

    /// The session's counters (protocol.h order, see [`counter_name`]),
    /// since it started.
    pub fn counters(&self) -> [u64; COUNTERS] {
        self.host().counters()
    }

    /// The last `verbosity` level the protocol passed to the host.
    pub fn verbosity(&self) -> Option<u32> {
        self.host().verbosity.get()
    }

    /// How many `stats reset`s the protocol passed to the host.
    pub fn stats_resets(&self) -> u64 {
        self.host().resets.get()
    }

    /// What the host answers when asked whether `shutdown` is allowed.
    pub fn set_shutdown_enabled(&self, enabled: bool) {
        self.host().shutdown_enabled.set(enabled);
    }

    /// The watch kinds (protocol.h `molt_watch_event` bits) the host says
    /// some watcher wants, read by the next process calls.
    pub fn set_watching(&self, events: u32) {
        self.host().watching.store(events, Ordering::Relaxed);
    }

    /// Whether the host refuses `watch` (no room for another watcher).
    pub fn set_watch_refused(&self, refused: bool) {
        self.host().watch_refused.set(refused);
    }

    /// Every `shutdown` the protocol asked for (graceful or not), in order.
    pub fn shutdowns(&self) -> Vec<bool> {
        self.host().shutdowns.borrow().clone()
    }

    /// Every `watch` the protocol asked for (its kinds), in order.
    pub fn watches(&self) -> Vec<u32> {
        self.host().watches.borrow().clone()
    }

    /// Every event the protocol reported, one line each, in order.
    pub fn watch_log(&self) -> Vec<u8> {
        self.host().watch_log.borrow().clone()
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        // SAFETY: the session came from molt_protocol_session_new and is
        // freed once, before its protocol (it borrows it); then the host it
        // called back into, leaked from a Box in CProtocol::session, is
        // freed once, no reference to it left.
        unsafe {
            sys::molt_protocol_session_free(self.raw.as_ptr());
            drop(Box::from_raw(self.host.as_ptr()));
        }
    }
}
