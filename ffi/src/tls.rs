//! `rust/tls` behind transport.h: the `molt_tls_*` exports that
//! c-core/mixed/transport_tls.c puts in a `molt_transport_ops` table. A TLS
//! connection owns its socket (as a TcpStream) from attach to detach.

use crate::guard::{guarded_or, guarded_void};
use crate::seam_types::{molt_io_status, molt_transport_stats};
use crate::seam_types::{
    MOLT_IO_EOF, MOLT_IO_ERROR, MOLT_IO_OK, MOLT_IO_WANT_READ, MOLT_IO_WANT_WRITE,
};
use molt_tls::{IoOutcome, Progress, TlsAcceptor, TlsError, TlsSession};
use std::ffi::{c_char, CStr};
use std::net::TcpStream;
use std::os::fd::FromRawFd;
use std::path::PathBuf;

/// Opaque to C (`struct molt_tls`): the server's TLS configuration, which
/// new connections take their settings from.
pub struct MoltTls {
    acceptor: TlsAcceptor,
    cert: PathBuf,
    key: PathBuf,
    ca: Option<PathBuf>,
}

/// Opaque to C (`struct molt_tls_conn`): one TLS connection and its socket.
pub struct MoltTlsConn {
    session: TlsSession,
    socket: TcpStream,
}

/// Copies `msg` into the caller's buffer (truncated, NUL-terminated).
///
/// # Safety
/// When non-NULL, `err` must be writable for `err_len` bytes.
unsafe fn write_error(err: *mut c_char, err_len: usize, msg: &str) {
    if err.is_null() || err_len == 0 {
        return;
    }
    let n = msg.len().min(err_len - 1);
    // SAFETY: err is writable for err_len bytes (caller's contract) and
    // n + 1 <= err_len.
    unsafe {
        std::ptr::copy_nonoverlapping(msg.as_ptr(), err as *mut u8, n);
        *err.add(n) = 0;
    }
}

/// A path from a C string, or None for NULL / non-UTF-8.
///
/// # Safety
/// When non-NULL, `p` must be a NUL-terminated string.
unsafe fn path(p: *const c_char) -> Option<PathBuf> {
    if p.is_null() {
        return None;
    }
    // SAFETY: non-NULL and NUL-terminated by the caller's contract.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str().ok().map(PathBuf::from)
}

fn progress_status(p: Progress) -> molt_io_status {
    match p {
        Progress::Done => MOLT_IO_OK,
        Progress::WantRead => MOLT_IO_WANT_READ,
        Progress::WantWrite => MOLT_IO_WANT_WRITE,
        Progress::Eof => MOLT_IO_EOF,
        Progress::Error(_) => MOLT_IO_ERROR,
    }
}

/// The status of a read or write; on success the byte count goes to `n_out`.
///
/// # Safety
/// `n_out` must be non-NULL and writable.
unsafe fn report(r: Result<IoOutcome, TlsError>, n_out: *mut usize) -> molt_io_status {
    match r {
        Ok(IoOutcome::Bytes(n)) => {
            // SAFETY: non-NULL and writable by the caller's contract.
            unsafe { n_out.write(n) };
            MOLT_IO_OK
        }
        Ok(IoOutcome::WantRead) => MOLT_IO_WANT_READ,
        Ok(IoOutcome::WantWrite) => MOLT_IO_WANT_WRITE,
        Ok(IoOutcome::Eof) => MOLT_IO_EOF,
        Err(_) => MOLT_IO_ERROR,
    }
}

/// Loads the certificate chain, key and (optional) client CA; on MOLT_IO_OK
/// `*out` holds the handle (free with `molt_tls_free`). On failure `err`
/// receives a message naming the file at fault.
///
/// # Safety
/// `cert`/`key` NUL-terminated strings, `ca` NULL or one; `err` NULL or
/// writable for `err_len` bytes; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn molt_tls_new(
    cert: *const c_char,
    key: *const c_char,
    ca: *const c_char,
    err: *mut c_char,
    err_len: usize,
    out: *mut *mut MoltTls,
) -> molt_io_status {
    // SAFETY: the caller's contract for the three strings.
    let (Some(cert), Some(key), ca) = (unsafe { path(cert) }, unsafe { path(key) }, unsafe {
        path(ca)
    }) else {
        // SAFETY: err is NULL or writable for err_len (caller's contract).
        unsafe { write_error(err, err_len, "tls: certificate and key files are required") };
        return MOLT_IO_ERROR;
    };
    if out.is_null() {
        return MOLT_IO_ERROR;
    }
    guarded_or(MOLT_IO_ERROR, || {
        match TlsAcceptor::load(&cert, &key, ca.as_ref()) {
            Ok(acceptor) => {
                let handle = Box::into_raw(Box::new(MoltTls {
                    acceptor,
                    cert,
                    key,
                    ca,
                }));
                // SAFETY: out is non-NULL (checked above) and writable.
                unsafe { out.write(handle) };
                MOLT_IO_OK
            }
            Err(e) => {
                // SAFETY: err is NULL or writable for err_len.
                unsafe { write_error(err, err_len, &e.to_string()) };
                MOLT_IO_ERROR
            }
        }
    })
}

/// Releases the configuration; NULL is a no-op. Connections must be
/// detached first.
///
/// # Safety
/// `tls` NULL or a handle from `molt_tls_new`, not yet freed.
#[no_mangle]
pub unsafe extern "C" fn molt_tls_free(tls: *mut MoltTls) {
    if !tls.is_null() {
        // SAFETY: a live handle from molt_tls_new, freed once.
        guarded_void(|| drop(unsafe { Box::from_raw(tls) }));
    }
}

/// Re-reads the files given to `molt_tls_new` for new connections; open
/// connections keep their session. Returns 0, or -1 with a message in
/// `err` (the previous configuration stays).
///
/// # Safety
/// `tls` a live handle; `err` NULL or writable for `err_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn molt_tls_reload(
    tls: *mut MoltTls,
    err: *mut c_char,
    err_len: usize,
) -> i32 {
    // SAFETY: a live handle by the caller's contract.
    let Some(t) = (unsafe { tls.as_ref() }) else {
        return -1;
    };
    let rc = guarded_or(MOLT_IO_ERROR, || {
        match t.acceptor.reload(&t.cert, &t.key, t.ca.as_ref()) {
            Ok(()) => MOLT_IO_OK,
            Err(e) => {
                // SAFETY: err is NULL or writable for err_len.
                unsafe { write_error(err, err_len, &e.to_string()) };
                MOLT_IO_ERROR
            }
        }
    });
    if rc == MOLT_IO_OK {
        0
    } else {
        -1
    }
}

/// Fills `*out` with the TLS counters.
///
/// # Safety
/// `tls` a live handle; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn molt_tls_stats(tls: *mut MoltTls, out: *mut molt_transport_stats) {
    // SAFETY: a live handle by the caller's contract.
    let Some(t) = (unsafe { tls.as_ref() }) else {
        return;
    };
    if out.is_null() {
        return;
    }
    guarded_void(|| {
        let s = t.acceptor.stats().snapshot();
        let stats = molt_transport_stats {
            handshakes: s.handshakes,
            handshake_errors: s.handshake_errors,
            resumed: s.resumed,
            reloads: s.reloads,
            reload_errors: s.reload_errors,
        };
        // SAFETY: out is non-NULL (checked above) and writable.
        unsafe { out.write(stats) };
    });
}

/// Counts a handshake the event loop abandoned (timed out).
///
/// # Safety
/// `tls` a live handle.
#[no_mangle]
pub unsafe extern "C" fn molt_tls_note_handshake_timeout(tls: *mut MoltTls) {
    // SAFETY: a live handle by the caller's contract.
    if let Some(t) = unsafe { tls.as_ref() } {
        guarded_void(|| t.acceptor.stats().note_handshake_timeout());
    }
}

/// Takes over accepted, non-blocking socket `fd`: on MOLT_IO_OK `*out`
/// holds the connection, which owns the socket until `molt_tls_detach`.
/// On failure the socket is left to the caller.
///
/// # Safety
/// `tls` a live handle; `fd` an open socket no one else will close while
/// the connection lives; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn molt_tls_attach(
    tls: *mut MoltTls,
    fd: i32,
    out: *mut *mut MoltTlsConn,
) -> molt_io_status {
    // SAFETY: a live handle by the caller's contract.
    let Some(t) = (unsafe { tls.as_ref() }) else {
        return MOLT_IO_ERROR;
    };
    if fd < 0 || out.is_null() {
        return MOLT_IO_ERROR;
    }
    guarded_or(MOLT_IO_ERROR, || {
        let Ok(session) = t.acceptor.accept() else {
            return MOLT_IO_ERROR;
        };
        // SAFETY: fd is an open socket handed over by the caller, who will
        // not close it while this connection owns it (transport.h: detach
        // closes the socket).
        let socket = unsafe { TcpStream::from_raw_fd(fd) };
        let conn = Box::into_raw(Box::new(MoltTlsConn { session, socket }));
        // SAFETY: out is non-NULL (checked above) and writable.
        unsafe { out.write(conn) };
        MOLT_IO_OK
    })
}

/// The connection behind a handle.
///
/// # Safety
/// When non-NULL, `c` must be a live handle from `molt_tls_attach`, used by
/// one thread at a time.
unsafe fn conn<'a>(c: *mut MoltTlsConn) -> Option<&'a mut MoltTlsConn> {
    // SAFETY: the caller's contract.
    unsafe { c.as_mut() }
}

/// Advances the handshake (transport.h `handshake`).
///
/// # Safety
/// `c` a live connection handle.
#[no_mangle]
pub unsafe extern "C" fn molt_tls_handshake(c: *mut MoltTlsConn) -> molt_io_status {
    // SAFETY: the caller's contract.
    let Some(c) = (unsafe { conn(c) }) else {
        return MOLT_IO_ERROR;
    };
    guarded_or(MOLT_IO_ERROR, || {
        progress_status(c.session.handshake(&mut c.socket))
    })
}

/// Reads decrypted application data (transport.h `read`).
///
/// # Safety
/// `c` a live connection handle; `buf` writable for `len` bytes; `n_out`
/// writable.
#[no_mangle]
pub unsafe extern "C" fn molt_tls_read(
    c: *mut MoltTlsConn,
    buf: *mut u8,
    len: usize,
    n_out: *mut usize,
) -> molt_io_status {
    // SAFETY: the caller's contract.
    let Some(c) = (unsafe { conn(c) }) else {
        return MOLT_IO_ERROR;
    };
    if buf.is_null() || n_out.is_null() {
        return MOLT_IO_ERROR;
    }
    // SAFETY: buf is non-NULL and writable for len bytes (caller's contract).
    let buf = unsafe { std::slice::from_raw_parts_mut(buf, len) };
    // SAFETY: n_out is non-NULL (checked above) and writable.
    guarded_or(MOLT_IO_ERROR, || unsafe {
        report(c.session.read(&mut c.socket, buf), n_out)
    })
}

/// Encrypts and sends application data (transport.h `write`).
///
/// # Safety
/// `c` a live connection handle; `buf` readable for `len` bytes; `n_out`
/// writable.
#[no_mangle]
pub unsafe extern "C" fn molt_tls_write(
    c: *mut MoltTlsConn,
    buf: *const u8,
    len: usize,
    n_out: *mut usize,
) -> molt_io_status {
    // SAFETY: the caller's contract.
    let Some(c) = (unsafe { conn(c) }) else {
        return MOLT_IO_ERROR;
    };
    if buf.is_null() || n_out.is_null() {
        return MOLT_IO_ERROR;
    }
    // SAFETY: buf is non-NULL and readable for len bytes (caller's contract).
    let buf = unsafe { std::slice::from_raw_parts(buf, len) };
    // SAFETY: n_out is non-NULL (checked above) and writable.
    guarded_or(MOLT_IO_ERROR, || unsafe {
        report(c.session.write(&mut c.socket, buf), n_out)
    })
}

/// Sends records queued by earlier writes (transport.h `flush`).
///
/// # Safety
/// `c` a live connection handle.
#[no_mangle]
pub unsafe extern "C" fn molt_tls_flush(c: *mut MoltTlsConn) -> molt_io_status {
    // SAFETY: the caller's contract.
    let Some(c) = (unsafe { conn(c) }) else {
        return MOLT_IO_ERROR;
    };
    guarded_or(MOLT_IO_ERROR, || {
        progress_status(c.session.flush(&mut c.socket))
    })
}

/// Decrypted bytes readable without the socket (transport.h `pending`),
/// plus one for a close_notify already received: a peer may send it and
/// keep TCP open, so the socket would never wake the loop for it.
///
/// # Safety
/// `c` NULL or a live connection handle.
#[no_mangle]
pub unsafe extern "C" fn molt_tls_pending(c: *const MoltTlsConn) -> usize {
    // SAFETY: the caller's contract.
    match unsafe { c.as_ref() } {
        Some(c) => c.session.pending_plaintext() + usize::from(c.session.eof_pending()),
        None => 0,
    }
}

/// Sends close_notify, then half-closes the socket's sending side, so the
/// peer reads every reply and then EOF (transport.h `shutdown_write`).
///
/// # Safety
/// `c` a live connection handle.
#[no_mangle]
pub unsafe extern "C" fn molt_tls_shutdown_write(c: *mut MoltTlsConn) -> molt_io_status {
    // SAFETY: the caller's contract.
    let Some(c) = (unsafe { conn(c) }) else {
        return MOLT_IO_ERROR;
    };
    guarded_or(MOLT_IO_ERROR, || match c.session.close(&mut c.socket) {
        // Half-close only once close_notify and every queued record are on
        // the wire: doing it earlier would cut replies off.
        Progress::Done => match c.socket.shutdown(std::net::Shutdown::Write) {
            Ok(()) => MOLT_IO_OK,
            Err(_) => MOLT_IO_ERROR,
        },
        other => progress_status(other),
    })
}

/// Sends close_notify (best effort), releases the connection and closes its
/// socket (transport.h `detach`). NULL is a no-op.
///
/// # Safety
/// `c` NULL or a live connection handle, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn molt_tls_detach(c: *mut MoltTlsConn) {
    if c.is_null() {
        return;
    }
    guarded_void(|| {
        // SAFETY: a live handle from molt_tls_attach, freed once here.
        let mut conn = unsafe { Box::from_raw(c) };
        let MoltTlsConn { session, socket } = &mut *conn;
        let _ = session.close(socket);
    });
}
