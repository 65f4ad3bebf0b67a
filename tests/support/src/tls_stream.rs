//! The rustls plumbing under `Client`: one connection shared by the
//! reading half and any writers.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};

use rustls::ClientConnection;

/// One rustls client connection shared by a reader and any writers. Socket
/// I/O happens outside the `conn` lock, so a writer thread can send while
/// the reader blocks on the socket. Writers take `wsock` then `conn`, which
/// keeps records in sequence order on the wire.
pub(crate) struct TlsShared {
    pub(crate) conn: Mutex<ClientConnection>,
    pub(crate) wsock: Mutex<TcpStream>,
}

impl TlsShared {
    pub(crate) fn write_all(&self, data: &[u8]) -> io::Result<()> {
        let mut ws = self.wsock.lock().unwrap();
        for chunk in data.chunks(256 * 1024) {
            let mut out = Vec::with_capacity(chunk.len() + 1024);
            {
                let mut c = self.conn.lock().unwrap();
                c.writer().write_all(chunk)?;
                while c.wants_write() {
                    c.write_tls(&mut out)?;
                }
            }
            ws.write_all(&out)?;
        }
        Ok(())
    }

    /// Sends whatever rustls has queued (alerts, key-update replies); skips
    /// if a writer holds the socket (it drains the queue on its next write).
    fn flush_queued(&self) -> io::Result<()> {
        let Ok(mut ws) = self.wsock.try_lock() else {
            return Ok(());
        };
        let mut out = Vec::new();
        {
            let mut c = self.conn.lock().unwrap();
            while c.wants_write() {
                c.write_tls(&mut out)?;
            }
        }
        ws.write_all(&out)
    }

    pub(crate) fn close_notify(&self) -> io::Result<()> {
        let mut ws = self.wsock.lock().unwrap();
        let mut out = Vec::new();
        {
            let mut c = self.conn.lock().unwrap();
            c.send_close_notify();
            while c.wants_write() {
                c.write_tls(&mut out)?;
            }
        }
        ws.write_all(&out)
    }
}

pub(crate) struct TlsRead {
    pub(crate) shared: Arc<TlsShared>,
    pub(crate) sock: TcpStream,
    /// Ciphertext read from the socket, not yet taken by rustls (it refuses
    /// more while its plaintext buffer is full).
    pending: Vec<u8>,
    tcp_eof: bool,
    eof_fed: bool,
}

impl TlsRead {
    pub(crate) fn new(shared: Arc<TlsShared>, sock: TcpStream) -> TlsRead {
        TlsRead {
            shared,
            sock,
            pending: Vec::new(),
            tcp_eof: false,
            eof_fed: false,
        }
    }

    fn feed(&mut self, c: &mut ClientConnection) -> io::Result<()> {
        while !self.pending.is_empty() {
            let mut s: &[u8] = &self.pending;
            match c.read_tls(&mut s) {
                Ok(k) => {
                    self.pending.drain(..k);
                }
                // "received plaintext buffer full": let the caller read.
                Err(e) if e.kind() == io::ErrorKind::Other => break,
                Err(e) => return Err(e),
            }
            c.process_new_packets()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        }
        if self.pending.is_empty() && self.tcp_eof && !self.eof_fed {
            self.eof_fed = true;
            c.read_tls(&mut io::empty())?;
            c.process_new_packets()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        }
        Ok(())
    }
}

impl Read for TlsRead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let queued = {
                let shared = self.shared.clone();
                let mut c = shared.conn.lock().unwrap();
                let fed = self.feed(&mut c);
                let queued = c.wants_write();
                match c.reader().read(buf) {
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    // TCP EOF without close_notify: an EOF like plain TCP's.
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                    Err(e) => return Err(e),
                }
                fed?;
                if self.eof_fed {
                    return Ok(0);
                }
                queued
            };
            if queued {
                self.shared.flush_queued()?;
            }
            let mut tmp = [0u8; 32 * 1024];
            let n = self.sock.read(&mut tmp)?;
            if n == 0 {
                self.tcp_eof = true;
            } else {
                self.pending.extend_from_slice(&tmp[..n]);
            }
        }
    }
}
