//! One non-blocking TLS server connection.

use std::io::{self, Read, Write};
use std::sync::Arc;

use rustls::{HandshakeKind, ProtocolVersion, ServerConnection};

use crate::acceptor::TlsStats;
use crate::error::TlsError;

/// Plaintext (plus its record overhead) a session buffers for sending while
/// the socket is blocked; [`TlsSession::write`] accepts no more than this.
pub const SEND_BUFFER_LIMIT: usize = 64 * 1024;

/// Socket reads one call makes at most (rustls reads about 4 KiB each)
/// before returning what it has, so one busy peer cannot keep a call going
/// forever. A call that stops at this bound may leave the socket readable:
/// harmless for a level-triggered loop, which is woken again at once.
pub const MAX_SOCKET_READS_PER_CALL: usize = 256;

/// Result of a call that either finishes or must wait for the socket
/// ([`TlsSession::handshake`], [`TlsSession::flush`], [`TlsSession::close`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Finished: handshake complete, everything flushed, close sent.
    Done,
    /// Call again once the socket is readable.
    WantRead,
    /// Call again once the socket is writable.
    WantWrite,
    /// The peer closed the connection before sending anything.
    Eof,
    /// Fatal for this connection; every later call reports it again.
    Error(TlsError),
}

/// Result of a successful [`TlsSession::read`] or [`TlsSession::write`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoOutcome {
    /// `n > 0` bytes of plaintext read into / accepted from the caller's
    /// buffer (0 only for an empty buffer).
    Bytes(usize),
    /// Nothing could be done; call again once the socket is readable.
    WantRead,
    /// Nothing could be done; call again once the socket is writable.
    WantWrite,
    /// The peer closed: `close_notify` received, or a TCP EOF (also an
    /// abrupt one, in the middle of a record) after the handshake.
    Eof,
}

/// TLS protocol version of an established session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsVersion {
    /// TLS 1.2
    Tls12,
    /// TLS 1.3
    Tls13,
}

/// What one attempt to pull ciphertext from the socket gave.
enum Fill {
    Got,
    WouldBlock,
    Eof,
}

/// Records the first byte ever read, to explain a plaintext client.
struct FirstByte<'a, S> {
    inner: &'a mut S,
    first: Option<u8>,
}

impl<S: Read> Read for FirstByte<'_, S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 && self.first.is_none() {
            self.first = Some(buf[0]);
        }
        Ok(n)
    }
}

/// A server-side TLS connection driven by a non-blocking socket.
///
/// The session never owns the socket: every call that does I/O takes it as
/// `io` (anything `Read + Write`; `ErrorKind::WouldBlock` means "not ready",
/// `Ok(0)` from `read` means TCP EOF). Calls never block and never panic on
/// peer input; after a fatal error every call returns the same error.
///
/// Typical use from a level-triggered event loop: call
/// [`handshake`](Self::handshake) until [`Progress::Done`], then
/// [`read`](Self::read) until a short read and
/// [`pending_plaintext`](Self::pending_plaintext) is 0, [`write`](Self::write)
/// until [`IoOutcome::WantWrite`], [`flush`](Self::flush) after writing, and
/// [`close`](Self::close) before dropping.
pub struct TlsSession {
    conn: ServerConnection,
    stats: Arc<TlsStats>,
    established: bool,
    failed: Option<TlsError>,
    plaintext_pending: usize,
    /// Bytes were ever received; `Some(first byte)` once they were.
    first_byte: Option<u8>,
    close_sent: bool,
    /// close_notify or TCP EOF seen by rustls.
    peer_closed: bool,
    /// `read` has returned `Eof`.
    eof_reported: bool,
}

impl std::fmt::Debug for TlsSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSession")
            .field("established", &self.established)
            .field("failed", &self.failed)
            .field("plaintext_pending", &self.plaintext_pending)
            .finish_non_exhaustive()
    }
}

fn io_err(e: &io::Error) -> String {
    format!("{} ({:?})", e, e.kind())
}

impl TlsSession {
    pub(crate) fn new(mut conn: ServerConnection, stats: Arc<TlsStats>) -> Self {
        conn.set_buffer_limit(Some(SEND_BUFFER_LIMIT));
        Self {
            conn,
            stats,
            established: false,
            failed: None,
            plaintext_pending: 0,
            first_byte: None,
            close_sent: false,
            peer_closed: false,
            eof_reported: false,
        }
    }

    /// Record a fatal error (counted once as a handshake error if the
    /// handshake had not completed) and return it.
    fn fail(&mut self, err: TlsError) -> TlsError {
        if self.failed.is_none() {
            if !self.established {
                self.stats.handshake_failed();
            }
            self.failed = Some(err.clone());
        }
        err
    }

    /// Turn a rustls error into ours, with the class depending on when it
    /// happened.
    fn tls_error(&self, e: &rustls::Error) -> TlsError {
        if self.established {
            return TlsError::Protocol(e.to_string());
        }
        match self.first_byte {
            // A TLS handshake record starts with content type 22 (0x16); an
            // ASCII letter means a plaintext protocol such as memcache text.
            Some(b) if b.is_ascii_alphabetic() => TlsError::Handshake(format!(
                "client sent plaintext (first byte {:?}), not a TLS ClientHello: {e}",
                b as char
            )),
            _ => TlsError::Handshake(e.to_string()),
        }
    }

    fn socket_error(&self, e: &io::Error) -> TlsError {
        if self.established {
            TlsError::Io(io_err(e))
        } else {
            TlsError::Handshake(format!("socket error: {}", io_err(e)))
        }
    }

    /// Write queued TLS records to the socket until done (`Ok(true)`) or
    /// the socket would block (`Ok(false)`).
    fn push<S: Write>(&mut self, io: &mut S) -> Result<bool, TlsError> {
        while self.conn.wants_write() {
            match self.conn.write_tls(io) {
                Ok(0) => {
                    let e = io::Error::new(io::ErrorKind::WriteZero, "socket accepted no bytes");
                    let err = self.socket_error(&e);
                    return Err(self.fail(err));
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let err = self.socket_error(&e);
                    return Err(self.fail(err));
                }
            }
        }
        Ok(true)
    }

    /// Read ciphertext once from the socket and process it.
    fn fill<S: Read + Write>(&mut self, io: &mut S) -> Result<Fill, TlsError> {
        let res = loop {
            let r = if self.first_byte.is_none() {
                let mut peek = FirstByte {
                    inner: &mut *io,
                    first: None,
                };
                let r = self.conn.read_tls(&mut peek);
                self.first_byte = peek.first;
                r
            } else {
                self.conn.read_tls(io)
            };
            match r {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        match res {
            Ok(n) => {
                // n == 0: TCP EOF, or close_notify seen earlier; either way
                // let rustls process what it has and the reader report it.
                match self.conn.process_new_packets() {
                    Ok(state) => {
                        self.plaintext_pending = state.plaintext_bytes_to_read();
                        self.peer_closed |= n == 0 || state.peer_has_closed();
                        Ok(if n == 0 { Fill::Eof } else { Fill::Got })
                    }
                    Err(e) => {
                        let err = self.tls_error(&e);
                        // rustls queued an alert for the peer: best effort.
                        let _ = self.push(io);
                        Err(self.fail(err))
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Fill::WouldBlock),
            Err(e) => {
                // Includes rustls' own "message buffer full" backpressure
                // errors, which an oversized or malformed record causes.
                let err = self.socket_error(&e);
                Err(self.fail(err))
            }
        }
    }

    /// Advance the handshake. Returns [`Progress::Done`] once application
    /// data may flow (and the handshake's last flight has been sent), the
    /// readiness to wait for otherwise, [`Progress::Eof`] if the peer left
    /// without sending a byte, or the failure with its reason.
    ///
    /// Calling it again after `Done` returns `Done` at once.
    pub fn handshake<S: Read + Write>(&mut self, io: &mut S) -> Progress {
        if let Some(e) = &self.failed {
            return Progress::Error(e.clone());
        }
        if self.established {
            return Progress::Done;
        }
        if self.eof_reported {
            return Progress::Eof;
        }
        let mut reads = 0;
        loop {
            match self.push(io) {
                Err(e) => return Progress::Error(e),
                Ok(false) => return Progress::WantWrite,
                Ok(true) => {}
            }
            if !self.conn.is_handshaking() {
                self.established = true;
                self.stats.handshake_done(self.was_resumed());
                return Progress::Done;
            }
            if reads == MAX_SOCKET_READS_PER_CALL {
                return Progress::WantRead;
            }
            reads += 1;
            match self.fill(io) {
                Err(e) => return Progress::Error(e),
                Ok(Fill::WouldBlock) => return Progress::WantRead,
                Ok(Fill::Got) => {}
                Ok(Fill::Eof) => {
                    if self.first_byte.is_none() {
                        // Connected and left (port probe, health check).
                        self.eof_reported = true;
                        return Progress::Eof;
                    }
                    let err = TlsError::Handshake(
                        "peer closed the connection during the handshake".into(),
                    );
                    return Progress::Error(self.fail(err));
                }
            }
        }
    }

    /// Drive the handshake on behalf of read/write; `None` once established.
    fn ensure_established<S: Read + Write>(
        &mut self,
        io: &mut S,
    ) -> Option<Result<IoOutcome, TlsError>> {
        if self.established {
            return None;
        }
        Some(match self.handshake(io) {
            Progress::Done => return None,
            Progress::WantRead => Ok(IoOutcome::WantRead),
            Progress::WantWrite => Ok(IoOutcome::WantWrite),
            Progress::Eof => Ok(IoOutcome::Eof),
            Progress::Error(e) => Err(e),
        })
    }

    /// Read decrypted application data into `buf`.
    ///
    /// Serves buffered plaintext first, then reads from the socket until
    /// `buf` is full or the socket would block, so a short count means
    /// "the socket is drained" unless [`pending_plaintext`](Self::pending_plaintext)
    /// says otherwise. Returns [`IoOutcome::WantRead`] when nothing was
    /// available, [`IoOutcome::Eof`] after the peer's `close_notify` or TCP
    /// EOF (data received before either is returned first). Drives the
    /// handshake first if it is not complete.
    pub fn read<S: Read + Write>(
        &mut self,
        io: &mut S,
        buf: &mut [u8],
    ) -> Result<IoOutcome, TlsError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if let Some(r) = self.ensure_established(io) {
            return r;
        }
        if buf.is_empty() {
            return Ok(IoOutcome::Bytes(0));
        }
        let mut n = 0;
        let mut reads = 0;
        loop {
            match self.conn.reader().read(&mut buf[n..]) {
                Ok(0) => {
                    // close_notify received and nothing left to read.
                    return Ok(self.data_or_eof(n));
                }
                Ok(k) => {
                    n += k;
                    self.plaintext_pending = self.plaintext_pending.saturating_sub(k);
                    if n == buf.len() {
                        return Ok(IoOutcome::Bytes(n));
                    }
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    // TCP EOF without close_notify (possibly mid-record).
                    return Ok(self.data_or_eof(n));
                }
                Err(e) => {
                    let err = TlsError::Protocol(e.to_string());
                    let err = self.fail(err);
                    return if n > 0 {
                        Ok(IoOutcome::Bytes(n))
                    } else {
                        Err(err)
                    };
                }
            }
            // Records rustls wants to send while reading (key update
            // replies, alerts): best effort, flush() finishes the job.
            if let Err(e) = self.push(io) {
                return if n > 0 {
                    Ok(IoOutcome::Bytes(n))
                } else {
                    Err(e)
                };
            }
            if reads == MAX_SOCKET_READS_PER_CALL {
                return Ok(if n > 0 {
                    IoOutcome::Bytes(n)
                } else {
                    IoOutcome::WantRead
                });
            }
            reads += 1;
            match self.fill(io) {
                Ok(Fill::Got) | Ok(Fill::Eof) => {}
                Ok(Fill::WouldBlock) => {
                    return Ok(if n > 0 {
                        IoOutcome::Bytes(n)
                    } else {
                        IoOutcome::WantRead
                    });
                }
                Err(e) => {
                    return if n > 0 {
                        Ok(IoOutcome::Bytes(n))
                    } else {
                        Err(e)
                    }
                }
            }
        }
    }

    fn data_or_eof(&mut self, n: usize) -> IoOutcome {
        self.plaintext_pending = 0;
        self.peer_closed = true;
        if n > 0 {
            IoOutcome::Bytes(n)
        } else {
            self.eof_reported = true;
            IoOutcome::Eof
        }
    }

    /// Encrypt plaintext from `buf` and send as much as the socket takes.
    ///
    /// Returns how many bytes of `buf` were accepted (possibly fewer than
    /// `buf.len()`): accepted bytes are the session's responsibility, and
    /// any part not yet on the wire is sent by later `write`/`flush` calls.
    /// At most about [`SEND_BUFFER_LIMIT`] bytes are held back while the
    /// socket is blocked; with that buffer full it returns
    /// [`IoOutcome::WantWrite`]. Drives the handshake first if needed.
    pub fn write<S: Read + Write>(
        &mut self,
        io: &mut S,
        buf: &[u8],
    ) -> Result<IoOutcome, TlsError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if let Some(r) = self.ensure_established(io) {
            return r;
        }
        if buf.is_empty() {
            return Ok(IoOutcome::Bytes(0));
        }
        if self.close_sent {
            return Err(TlsError::Io("write after close".into()));
        }
        // Make room first, then alternate between encrypting (up to the
        // buffer limit) and sending until the socket or the input runs out.
        self.push(io)?;
        let mut accepted = 0;
        while accepted < buf.len() {
            let k = match self.conn.writer().write(&buf[accepted..]) {
                Ok(k) => k,
                Err(e) => {
                    let err = TlsError::Protocol(e.to_string());
                    return Err(self.fail(err));
                }
            };
            accepted += k;
            let drained = self.push(io)?;
            if k == 0 || !drained {
                break;
            }
        }
        Ok(if accepted == 0 {
            IoOutcome::WantWrite
        } else {
            IoOutcome::Bytes(accepted)
        })
    }

    /// Send TLS records queued by earlier calls. [`Progress::Done`] when
    /// nothing is left, [`Progress::WantWrite`] if the socket is full.
    pub fn flush<S: Write>(&mut self, io: &mut S) -> Progress {
        if let Some(e) = &self.failed {
            return Progress::Error(e.clone());
        }
        match self.push(io) {
            Ok(true) => Progress::Done,
            Ok(false) => Progress::WantWrite,
            Err(e) => Progress::Error(e),
        }
    }

    /// Queue a `close_notify` alert (once) and try to send it with anything
    /// else pending. Best effort: the caller may drop the session whatever
    /// this returns, or call it again on [`Progress::WantWrite`]. After a
    /// fatal error it sends nothing (rustls already queued the alert) and
    /// returns [`Progress::Done`].
    pub fn close<S: Write>(&mut self, io: &mut S) -> Progress {
        if self.failed.is_some() {
            let _ = self.push(io);
            return Progress::Done;
        }
        if !self.close_sent {
            self.conn.send_close_notify();
            self.close_sent = true;
        }
        match self.push(io) {
            Ok(true) => Progress::Done,
            Ok(false) => Progress::WantWrite,
            Err(e) => Progress::Error(e),
        }
    }

    /// Decrypted application data held by the session, readable with
    /// [`read`](Self::read) without the socket becoming readable again.
    pub fn pending_plaintext(&self) -> usize {
        self.plaintext_pending
    }

    /// Whether the peer's close (`close_notify`, or TCP EOF) has been seen
    /// but [`read`](Self::read) has not returned [`IoOutcome::Eof`] yet.
    ///
    /// A peer may send `close_notify` and keep the TCP connection open; the
    /// socket then never becomes readable again, so an event loop that only
    /// reads on readability should treat this like pending data (e.g. the
    /// ffi can report `pending_plaintext() + eof_pending() as usize`).
    pub fn eof_pending(&self) -> bool {
        self.peer_closed && !self.eof_reported
    }

    /// Whether TLS records are queued for the socket (call
    /// [`flush`](Self::flush) when it is writable).
    pub fn wants_write(&self) -> bool {
        self.conn.wants_write()
    }

    /// Whether the handshake has completed.
    pub fn is_established(&self) -> bool {
        self.established
    }

    /// The fatal error this session has hit, if any.
    pub fn error(&self) -> Option<&TlsError> {
        self.failed.as_ref()
    }

    /// Whether the handshake resumed an earlier session (ticket or cache).
    pub fn was_resumed(&self) -> bool {
        self.conn.handshake_kind() == Some(HandshakeKind::Resumed)
    }

    /// The negotiated protocol version, once known.
    pub fn protocol_version(&self) -> Option<TlsVersion> {
        match self.conn.protocol_version()? {
            ProtocolVersion::TLSv1_3 => Some(TlsVersion::Tls13),
            ProtocolVersion::TLSv1_2 => Some(TlsVersion::Tls12),
            _ => None,
        }
    }

    /// The negotiated cipher suite's IANA name, once known.
    pub fn cipher_suite(&self) -> Option<&'static str> {
        self.conn.negotiated_cipher_suite()?.suite().as_str()
    }

    /// Whether the client presented a (verified) certificate.
    pub fn has_peer_certificate(&self) -> bool {
        self.peer_certificate().is_some()
    }

    /// The client's end-entity certificate (DER), if it presented one.
    pub fn peer_certificate(&self) -> Option<&[u8]> {
        self.conn.peer_certificates()?.first().map(|c| c.as_ref())
    }

    /// The server name (SNI) the client asked for, if any.
    pub fn server_name(&self) -> Option<&str> {
        self.conn.server_name()
    }
}
