//! `rust/tls` behind transport.h: the `molt_tls_*` exports take the
//! transport (`void *self`) and its connections (`void *conn`) exactly as
//! `molt_transport_ops` declares its slots, so the table in
//! c-core/mixed/transport_tls.c points at them directly. A TLS connection
//! owns its socket (as a TcpStream) from attach to detach. Loading and
//! reloading certificates answer in the transport seam's configuration
//! domain (`molt_config_status`); connection calls in its I/O domain.

use crate::guard::{arg, boundary};
use crate::sys::{molt_config_status, molt_io_status, molt_transport_stats};
use molt_tls::{IoOutcome, Progress, TlsAcceptor, TlsError, TlsSession};
use std::ffi::{c_char, c_int, c_uchar, c_void, CStr};
use std::mem::MaybeUninit;
use std::net::TcpStream;
use std::os::fd::FromRawFd;
use std::path::PathBuf;

/// The server's TLS configuration, which new connections take their
/// settings from (C holds it as the transport's `void *self`).
pub struct MoltTls {
    acceptor: TlsAcceptor,
    cert: PathBuf,
    key: PathBuf,
    ca: Option<PathBuf>,
}

/// One TLS connection and its socket (C holds it as `void *conn`).
pub struct MoltTlsConn {
    session: TlsSession,
    socket: TcpStream,
}

/// Copies `msg` into the caller's error buffer (truncated, NUL-terminated).
fn write_error(err: Option<&mut [MaybeUninit<c_char>]>, msg: &str) {
    let Some(buf) = err else { return };
    let n = msg.len().min(buf.len() - 1);
    for (dst, &b) in buf.iter_mut().zip(&msg.as_bytes()[..n]) {
        dst.write(b as c_char);
    }
    buf[n].write(0);
}

/// A path from a C string, or None when it is not UTF-8.
fn path(s: &CStr) -> Option<PathBuf> {
    s.to_str().ok().map(PathBuf::from)
}

fn progress_status(p: Progress) -> molt_io_status {
    match p {
        Progress::Done => molt_io_status::MOLT_IO_OK,
        Progress::WantRead => molt_io_status::MOLT_IO_WANT_READ,
        Progress::WantWrite => molt_io_status::MOLT_IO_WANT_WRITE,
        Progress::Eof => molt_io_status::MOLT_IO_EOF,
        Progress::Error(_) => molt_io_status::MOLT_IO_ERROR,
    }
}

/// The status of a read or write; on success the byte count goes to `n_out`.
fn report(r: Result<IoOutcome, TlsError>, n_out: &mut MaybeUninit<usize>) -> molt_io_status {
    match r {
        Ok(IoOutcome::Bytes(n)) => {
            n_out.write(n);
            molt_io_status::MOLT_IO_OK
        }
        Ok(IoOutcome::WantRead) => molt_io_status::MOLT_IO_WANT_READ,
        Ok(IoOutcome::WantWrite) => molt_io_status::MOLT_IO_WANT_WRITE,
        Ok(IoOutcome::Eof) => molt_io_status::MOLT_IO_EOF,
        Err(_) => molt_io_status::MOLT_IO_ERROR,
    }
}

/// Loads the certificate chain, key and (optional) client CA; on
/// MOLT_CONFIG_OK `*out` holds the transport (free with `molt_tls_free`).
/// On MOLT_CONFIG_REFUSED `err` names the file at fault.
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
    out: *mut *mut c_void,
) -> molt_config_status {
    boundary(|| {
        let (out, err) = (arg!(out out), arg!(opt_buf err, err_len));
        let (Some(cert), Some(key)) = (
            arg!(opt_str cert).and_then(path),
            arg!(opt_str key).and_then(path),
        ) else {
            write_error(err, "tls: certificate and key files are required");
            return molt_config_status::MOLT_CONFIG_INVALID;
        };
        let ca = arg!(opt_str ca).and_then(path);
        match TlsAcceptor::load(&cert, &key, ca.as_ref()) {
            Ok(acceptor) => {
                let tls = MoltTls {
                    acceptor,
                    cert,
                    key,
                    ca,
                };
                out.write(Box::into_raw(Box::new(tls)).cast());
                molt_config_status::MOLT_CONFIG_OK
            }
            Err(e) => {
                write_error(err, &e.to_string());
                molt_config_status::MOLT_CONFIG_REFUSED
            }
        }
    })
}

/// Releases the transport (transport.h `destroy`); NULL is a no-op.
/// Connections must be detached first.
///
/// # Safety
/// `tls` NULL or a handle from `molt_tls_new`, not yet freed.
#[no_mangle]
pub unsafe extern "C" fn molt_tls_free(tls: *mut c_void) {
    boundary(|| {
        if !tls.is_null() {
            // SAFETY: a live handle from molt_tls_new (a Box<MoltTls>),
            // freed once, by the contract above.
            drop(unsafe { Box::from_raw(tls.cast::<MoltTls>()) });
        }
    })
}

/// Re-reads the files given to `molt_tls_new` for new connections
/// (transport.h `reload`); open connections keep their session. On
/// MOLT_CONFIG_REFUSED `err` says why and the previous configuration stays.
///
/// # Safety
/// `tls` a live handle; `err` NULL or writable for `err_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn molt_tls_reload(
    tls: *mut c_void,
    err: *mut c_char,
    err_len: usize,
) -> molt_config_status {
    boundary(|| {
        let (t, err) = (arg!(ref tls.cast::<MoltTls>()), arg!(opt_buf err, err_len));
        match t.acceptor.reload(&t.cert, &t.key, t.ca.as_ref()) {
            Ok(()) => molt_config_status::MOLT_CONFIG_OK,
            Err(e) => {
                write_error(err, &e.to_string());
                molt_config_status::MOLT_CONFIG_REFUSED
            }
        }
    })
}

/// Fills `*out` with the TLS counters (transport.h `stats`).
///
/// # Safety
/// `tls` a live handle; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn molt_tls_stats(tls: *mut c_void, out: *mut molt_transport_stats) {
    boundary(|| {
        let (t, out) = (arg!(ref tls.cast::<MoltTls>()), arg!(out out));
        let s = t.acceptor.stats().snapshot();
        out.write(molt_transport_stats {
            handshakes: s.handshakes,
            handshake_errors: s.handshake_errors,
            resumed: s.resumed,
            reloads: s.reloads,
            reload_errors: s.reload_errors,
        });
    })
}

/// Counts a handshake the event loop abandoned (transport.h
/// `handshake_timed_out`).
///
/// # Safety
/// `tls` a live handle.
#[no_mangle]
pub unsafe extern "C" fn molt_tls_note_handshake_timeout(tls: *mut c_void) {
    boundary(|| {
        arg!(ref tls.cast::<MoltTls>())
            .acceptor
            .stats()
            .note_handshake_timeout()
    })
}

/// Takes over accepted, non-blocking socket `fd` (transport.h `attach`): on
/// MOLT_IO_OK `*out` holds the connection, which owns the socket until
/// `molt_tls_detach`. On failure the socket is left to the caller.
///
/// # Safety
/// `tls` a live handle; `fd` an open socket no one else will close while
/// the connection lives; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn molt_tls_attach(
    tls: *mut c_void,
    fd: c_int,
    out: *mut *mut c_void,
) -> molt_io_status {
    boundary(|| {
        let (t, out) = (arg!(ref tls.cast::<MoltTls>()), arg!(out out));
        if fd < 0 {
            return molt_io_status::MOLT_IO_ERROR;
        }
        let Ok(session) = t.acceptor.accept() else {
            return molt_io_status::MOLT_IO_ERROR;
        };
        // SAFETY: fd is an open socket handed over by the caller, who will
        // not close it while this connection owns it (transport.h: detach
        // closes the socket).
        let socket = unsafe { TcpStream::from_raw_fd(fd) };
        out.write(Box::into_raw(Box::new(MoltTlsConn { session, socket })).cast());
        molt_io_status::MOLT_IO_OK
    })
}

/// Advances the handshake (transport.h `handshake`).
///
/// # Safety
/// `c` a live connection handle, used by one thread at a time.
#[no_mangle]
pub unsafe extern "C" fn molt_tls_handshake(c: *mut c_void) -> molt_io_status {
    boundary(|| {
        let c = arg!(mut c.cast::<MoltTlsConn>());
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
    c: *mut c_void,
    buf: *mut c_uchar,
    len: usize,
    n_out: *mut usize,
) -> molt_io_status {
    boundary(|| {
        let (c, n_out) = (arg!(mut c.cast::<MoltTlsConn>()), arg!(out n_out));
        if buf.is_null() {
            return molt_io_status::MOLT_IO_ERROR;
        }
        // SAFETY: buf is non-NULL and writable for len bytes (the contract
        // above); the session only writes decrypted bytes into it.
        let buf = unsafe { std::slice::from_raw_parts_mut(buf, len) };
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
    c: *mut c_void,
    buf: *const c_uchar,
    len: usize,
    n_out: *mut usize,
) -> molt_io_status {
    boundary(|| {
        let (c, n_out) = (arg!(mut c.cast::<MoltTlsConn>()), arg!(out n_out));
        let buf = arg!(bytes buf, len);
        report(c.session.write(&mut c.socket, buf), n_out)
    })
}

/// Sends records queued by earlier writes (transport.h `flush`).
///
/// # Safety
/// `c` a live connection handle.
#[no_mangle]
pub unsafe extern "C" fn molt_tls_flush(c: *mut c_void) -> molt_io_status {
    boundary(|| {
        let c = arg!(mut c.cast::<MoltTlsConn>());
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
pub unsafe extern "C" fn molt_tls_pending(c: *mut c_void) -> usize {
    boundary(|| {
        let c = arg!(ref c.cast::<MoltTlsConn>());
        c.session.pending_plaintext() + usize::from(c.session.eof_pending())
    })
}

/// Sends close_notify, then half-closes the socket's sending side, so the
/// peer reads every reply and then EOF (transport.h `shutdown_write`).
///
/// # Safety
/// `c` a live connection handle.
#[no_mangle]
pub unsafe extern "C" fn molt_tls_shutdown_write(c: *mut c_void) -> molt_io_status {
    boundary(|| {
        let c = arg!(mut c.cast::<MoltTlsConn>());
        match c.session.close(&mut c.socket) {
            // Half-close only once close_notify and every queued record are
            // on the wire: doing it earlier would cut replies off.
            Progress::Done => match c.socket.shutdown(std::net::Shutdown::Write) {
                Ok(()) => molt_io_status::MOLT_IO_OK,
                Err(_) => molt_io_status::MOLT_IO_ERROR,
            },
            other => progress_status(other),
        }
    })
}

/// Sends close_notify (best effort), releases the connection and closes its
/// socket (transport.h `detach`). NULL is a no-op.
///
/// # Safety
/// `c` NULL or a live connection handle, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn molt_tls_detach(c: *mut c_void) {
    boundary(|| {
        if c.is_null() {
            return;
        }
        // SAFETY: a live handle from molt_tls_attach (a Box<MoltTlsConn>),
        // freed once here, by the contract above.
        let mut conn = unsafe { Box::from_raw(c.cast::<MoltTlsConn>()) };
        let MoltTlsConn { session, socket } = &mut *conn;
        let _ = session.close(socket);
    })
}
