//! A connection's I/O: plain TCP, or rust/tls's session over the same
//! socket (no seam in between). Each call says what it did and whether the
//! socket has been drained (for the edge-triggered loop).

use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;

use mio::net::TcpStream;
use molt_tls::{IoOutcome, Progress, TlsSession};

/// What a read gave.
pub enum Got {
    /// `n` bytes; `drained`: the socket has nothing more now (the next
    /// arrival is a new event).
    Bytes(usize, bool),
    /// Nothing now: wait for readable.
    WouldBlock,
    /// TLS needs the socket writable first.
    WantWrite,
    /// The peer closed.
    Eof,
}

/// Where a TLS handshake stands.
pub enum Handshake {
    Done,
    WantRead,
    WantWrite,
    Failed,
}

pub struct Transport {
    tls: Option<Box<TlsSession>>,
}

impl Transport {
    pub fn plain() -> Transport {
        Transport { tls: None }
    }

    pub fn tls(session: TlsSession) -> Transport {
        Transport {
            tls: Some(Box::new(session)),
        }
    }

    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    pub fn handshake(&mut self, s: &mut TcpStream) -> Handshake {
        let Some(t) = self.tls.as_mut() else {
            return Handshake::Done;
        };
        match t.handshake(s) {
            Progress::Done => Handshake::Done,
            Progress::WantRead => Handshake::WantRead,
            Progress::WantWrite => Handshake::WantWrite,
            Progress::Eof | Progress::Error(_) => Handshake::Failed,
        }
    }

    /// Read into `buf` (non-empty). Err: fatal.
    pub fn read(&mut self, s: &mut TcpStream, buf: &mut [u8]) -> Result<Got, ()> {
        let Some(t) = self.tls.as_mut() else {
            return loop {
                match s.read(buf) {
                    Ok(0) => break Ok(Got::Eof),
                    Ok(n) => break Ok(Got::Bytes(n, n < buf.len())),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break Ok(Got::WouldBlock),
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => break Err(()),
                }
            };
        };
        match t.read(s, buf) {
            // the session may stop before the socket is empty
            Ok(IoOutcome::Bytes(n)) => Ok(Got::Bytes(n, false)),
            Ok(IoOutcome::WantRead) => Ok(Got::WouldBlock),
            Ok(IoOutcome::WantWrite) => Ok(Got::WantWrite),
            Ok(IoOutcome::Eof) => Ok(Got::Eof),
            Err(_) => Err(()),
        }
    }

    /// Write from `buf`: Some(bytes taken), None when the socket refused.
    pub fn write(&mut self, s: &mut TcpStream, buf: &[u8]) -> Result<Option<usize>, ()> {
        let Some(t) = self.tls.as_mut() else {
            return loop {
                match s.write(buf) {
                    Ok(0) => break Err(()),
                    Ok(n) => break Ok(Some(n)),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break Ok(None),
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => break Err(()),
                }
            };
        };
        match t.write(s, buf) {
            Ok(IoOutcome::Bytes(n)) => Ok(Some(n)),
            Ok(IoOutcome::WantWrite | IoOutcome::WantRead) => Ok(None),
            Ok(IoOutcome::Eof) | Err(_) => Err(()),
        }
    }

    /// Push out what the session still holds: Ok(true) when blocked.
    pub fn flush(&mut self, s: &mut TcpStream) -> Result<bool, ()> {
        let Some(t) = self.tls.as_mut() else {
            return Ok(false);
        };
        match t.flush(s) {
            Progress::Done => Ok(false),
            Progress::WantWrite | Progress::WantRead => Ok(true),
            Progress::Eof | Progress::Error(_) => Err(()),
        }
    }

    /// Plaintext decrypted but not yet read: no socket event will announce
    /// it.
    pub fn pending(&self) -> usize {
        self.tls.as_ref().map_or(0, |t| t.pending_plaintext())
    }

    /// The peer sees the end of the stream after what was sent (TLS:
    /// close_notify first).
    pub fn shutdown_write(&mut self, s: &mut TcpStream) {
        if let Some(t) = self.tls.as_mut() {
            let _ = t.close(s);
        }
        let _ = s.shutdown(Shutdown::Write);
    }
}
