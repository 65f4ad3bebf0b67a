//! `rust/protocol` as a protocol.h implementation ("rust"): these exports
//! have exactly the shape of `molt_protocol_ops`' slots, so the table in
//! c-core/mixed/protocol_rust.c points at them directly. Each call wraps
//! what the host passes: its storage handle as a borrowed [`CStorage`],
//! its output buffer (appended to with the C `molt_buf_reserve`, within
//! `out_limit`), its counters (relaxed atomics, single writer) and its host
//! table.

use crate::c_storage::CStorage;
use crate::guard::{arg, boundary, Refusal};
use crate::sys::{
    molt_buf, molt_buf_reserve, molt_certs_result, molt_counter, molt_counters, molt_protocol_ctx,
    molt_protocol_host, molt_protocol_progress, molt_protocol_status, molt_watch_item,
};
use protocol::{Certs, Counter, Ctx, Host, Limits, Output, Report, Session, Status, WatchItem};
use std::os::raw::{c_char, c_void};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

impl Refusal for molt_protocol_status {
    fn invalid() -> Self {
        molt_protocol_status::MOLT_PROTOCOL_CLOSE
    }
    fn panicked() -> Self {
        molt_protocol_status::MOLT_PROTOCOL_CLOSE
    }
}

/// `session_new` answers NULL for "out of memory" (and a panic).
impl Refusal for *mut c_void {
    fn invalid() -> Self {
        std::ptr::null_mut()
    }
    fn panicked() -> Self {
        std::ptr::null_mut()
    }
}

/// The host's output buffer, appended to within `limit`.
struct BufOutput<'a> {
    buf: &'a mut molt_buf,
    limit: usize,
}

impl Output for BufOutput<'_> {
    #[inline]
    fn queued(&self) -> usize {
        self.buf.end - self.buf.start
    }

    #[inline]
    fn append(&mut self, parts: &[&[u8]]) -> bool {
        let n: usize = parts.iter().map(|p| p.len()).sum();
        // The room is usually there: molt_buf_reserve's own first test,
        // without the call.
        if self.buf.cap - self.buf.end < n
            // SAFETY: buf is the host's molt_buf, valid and ours for the
            // call; molt_buf_reserve keeps its invariants (data holds cap
            // bytes).
            && unsafe { molt_buf_reserve(self.buf, n, self.limit) } != 0
        {
            return false;
        }
        let mut at = self.buf.end;
        for p in parts {
            // SAFETY: the reserve above made room for n bytes at data + end
            // (data non-NULL once anything is reserved); the parts are
            // Rust slices, never inside the output buffer.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    p.as_ptr(),
                    self.buf.data.add(at).cast::<u8>(),
                    p.len(),
                )
            };
            at += p.len();
        }
        self.buf.end = at;
        true
    }

    fn truncate(&mut self, queued: usize) {
        self.buf.end = self.buf.end.min(self.buf.start + queued);
    }

    fn queued_since(&self, from: usize) -> Option<&[u8]> {
        let at = self.buf.start.checked_add(from)?;
        if at > self.buf.end || self.buf.data.is_null() {
            return None;
        }
        // SAFETY: data holds cap >= end bytes, those before end written
        // (molt_buf's invariant); the slice borrows self, so no append can
        // move the buffer while it lives.
        Some(unsafe {
            std::slice::from_raw_parts(self.buf.data.add(at).cast::<u8>(), self.buf.end - at)
        })
    }
}

/// The host table and the worker's counters.
struct CHost<'a> {
    host: &'a molt_protocol_host,
    counters: NonNull<molt_counters>,
}

impl<'a> Host for CHost<'a> {
    type Out = BufOutput<'a>;

    fn stats(&mut self, now: i64, out: &mut BufOutput<'a>) -> Report {
        let Some(f) = self.host.stats else {
            return Report::Refused;
        };
        // SAFETY: the host's own callback with its own self; out.buf is
        // the molt_buf of this call.
        report(unsafe { f(self.host.self_, now, out.buf, out.limit) })
    }

    fn stats_group(&mut self, group: &[u8], now: i64, out: &mut BufOutput<'a>) -> Report {
        let Some(f) = self.host.stats_group else {
            return Report::Unknown;
        };
        let g = group.as_ptr().cast::<c_char>();
        // SAFETY: as in stats; group is valid for its length.
        report(unsafe { f(self.host.self_, g, group.len(), now, out.buf, out.limit) })
    }

    fn stats_reset(&mut self, now: i64) {
        if let Some(f) = self.host.stats_reset {
            // SAFETY: the host's own callback with its own self.
            unsafe { f(self.host.self_, now) }
        }
    }

    fn set_verbosity(&mut self, level: u32) {
        if let Some(f) = self.host.set_verbosity {
            // SAFETY: the host's own callback with its own self.
            unsafe { f(self.host.self_, level) }
        }
    }

    fn refresh_certs(&mut self, err: &mut [u8]) -> Certs {
        let Some(f) = self.host.refresh_certs else {
            return Certs::NoTls;
        };
        err.fill(0);
        let (p, len) = (err.as_mut_ptr().cast::<c_char>(), err.len());
        // SAFETY: the host's own callback; err is writable for len bytes.
        match unsafe { f(self.host.self_, p, len) } {
            molt_certs_result::MOLT_CERTS_RELOADED => Certs::Reloaded,
            molt_certs_result::MOLT_CERTS_NO_TLS => Certs::NoTls,
            _ => Certs::Failed(err.iter().position(|&c| c == 0).unwrap_or(len)),
        }
    }

    #[inline]
    fn count(&mut self, which: Counter, n: u64) {
        let index = molt_counter(which as u32).0 as usize;
        // SAFETY: counters is the worker's molt_counters, valid for the
        // call; protocol.h makes this thread its single writer and lets Rust
        // access the values as atomics (relaxed, as C's counter_add).
        let cell = unsafe {
            let base = std::ptr::addr_of_mut!((*self.counters.as_ptr()).value).cast::<u64>();
            AtomicU64::from_ptr(base.add(index))
        };
        cell.store(cell.load(Ordering::Relaxed) + n, Ordering::Relaxed);
    }

    fn shutdown_enabled(&mut self) -> bool {
        let Some(f) = self.host.shutdown_enabled else {
            return false;
        };
        // SAFETY: the host's own callback with its own self.
        unsafe { f(self.host.self_) != 0 }
    }

    fn shutdown(&mut self, graceful: bool) {
        if let Some(f) = self.host.shutdown {
            // SAFETY: the host's own callback with its own self.
            unsafe { f(self.host.self_, i32::from(graceful)) }
        }
    }

    #[inline]
    fn watching(&self) -> u32 {
        let p = self.host.watching;
        if p.is_null() || !p.is_aligned() {
            return 0;
        }
        // SAFETY: protocol.h: the host's word, valid while the host lives
        // and changed by the server at any time, so read as an atomic
        // (relaxed, as C's __atomic_load_n); checked non-NULL and aligned.
        unsafe { AtomicU32::from_ptr(p.cast_mut()) }.load(Ordering::Relaxed)
    }

    fn watch(&mut self, events: u32) -> bool {
        let Some(f) = self.host.watch else {
            return false;
        };
        // SAFETY: the host's own callback with its own self.
        unsafe { f(self.host.self_, events) == 0 }
    }

    fn watch_log(&mut self, event: u32, item: &WatchItem<'_>) {
        let Some(f) = self.host.watch_log else {
            return;
        };
        let it = molt_watch_item {
            key: item.key.as_ptr(),
            key_len: item.key.len(),
            status: item.status,
            cmd: item.cmd,
            exptime: item.exptime,
            clsid: item.clsid,
            size: item.size,
        };
        // SAFETY: the host's own callback with its own self; it reads the
        // item (and the key it points at) only during the call.
        unsafe { f(self.host.self_, event, &it) }
    }
}

fn report(rc: i32) -> Report {
    match rc {
        0 => Report::Done,
        -2 => Report::Unknown,
        _ => Report::Refused,
    }
}

/// A fresh session (`session_new`); NULL on failure.
#[no_mangle]
pub extern "C" fn molt_rust_protocol_session_new() -> *mut c_void {
    boundary(|| Box::into_raw(Box::new(Session::new())).cast())
}

/// Releases a session (`session_free`); NULL is a no-op.
///
/// # Safety
/// `session` NULL or from `molt_rust_protocol_session_new`, not yet freed.
#[no_mangle]
pub unsafe extern "C" fn molt_rust_protocol_session_free(session: *mut c_void) {
    boundary(|| {
        if !session.is_null() {
            // SAFETY: a live Box<Session> from session_new, freed once.
            drop(unsafe { Box::from_raw(session.cast::<Session>()) });
        }
    })
}

/// Consumes complete requests from `input` and appends their replies to
/// `out` (`process`; see protocol.h). A NULL argument, a context without
/// storage, host or counters, or a panic answers MOLT_PROTOCOL_CLOSE.
///
/// # Safety
/// `session` a live session; `ctx` a valid context whose pointers are valid
/// for the call; `input` valid for `in_len` bytes; `out` the connection's
/// output buffer; `progress` writable.
#[no_mangle]
pub unsafe extern "C" fn molt_rust_protocol_process(
    session: *mut c_void,
    ctx: *const molt_protocol_ctx,
    input: *const c_char,
    in_len: usize,
    out: *mut molt_buf,
    progress: *mut molt_protocol_progress,
) -> molt_protocol_status {
    boundary(|| {
        let progress = arg!(out progress);
        progress.write(molt_protocol_progress {
            consumed: 0,
            need: 0,
        });
        let session = arg!(mut session.cast::<Session>());
        let ctx = arg!(ref ctx);
        let input = arg!(bytes input.cast::<u8>(), in_len);
        let buf = arg!(mut out);
        let host = arg!(ref ctx.host);
        let (Some(raw), Some(counters)) = (NonNull::new(ctx.storage), NonNull::new(ctx.counters))
        else {
            return molt_protocol_status::MOLT_PROTOCOL_CLOSE;
        };
        // SAFETY: protocol.h: the context's storage is a live handle for
        // the whole call; the host owns it (borrowed never frees it).
        let storage = unsafe { CStorage::borrowed(raw) };
        let mut host = CHost { host, counters };
        let mut out = BufOutput {
            buf,
            limit: ctx.limits.out_limit,
        };
        let call = Ctx {
            storage: &*storage,
            now: ctx.now,
            limits: Limits {
                item_size_max: ctx.limits.item_size_max,
                growth_factor: ctx.limits.growth_factor,
                line_max: ctx.limits.line_max,
                out_high: ctx.limits.out_high,
            },
            host: &mut host,
        };
        let (status, p) = session.process(call, input, &mut out);
        progress.write(molt_protocol_progress {
            consumed: p.consumed,
            need: p.need,
        });
        match status {
            Status::More => molt_protocol_status::MOLT_PROTOCOL_MORE,
            Status::Paused => molt_protocol_status::MOLT_PROTOCOL_PAUSED,
            Status::Close => molt_protocol_status::MOLT_PROTOCOL_CLOSE,
        }
    })
}
