//! Clients: a blocking text-protocol client over plain TCP or TLS, its
//! plaintext stream view, and a writer handle for a second thread.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::{CertificateDer, ServerName};
use rustls::ClientConnection;

use crate::tls_config::{tls_port_client, TlsClient};
use crate::tls_stream::{TlsRead, TlsShared};

/// Connect, read and write timeout of every `Client`.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);

/// A blocking text-protocol client: TCP_NODELAY, 5 s read/write timeouts.
/// Plain TCP, or TLS (rustls) to a TLS server: `Client::connect(addr)` and
/// `Server::client()` pick TLS for a port served by a running TLS `Server`
/// of this process.
pub struct Client {
    reader: BufReader<ReadHalf>,
    tcp: TcpStream,
    tls: Option<Arc<TlsShared>>,
    /// Set when the TLS handshake failed: every read and write fails.
    failed: Option<String>,
}

impl Client {
    /// Panics if the TCP connection fails. A failed TLS handshake (say the
    /// server refused the connection over its limit) gives a client whose
    /// every read and write fails, as a refused plaintext client gets an
    /// error line and a close: tests that retry on a failed request work
    /// on both transports.
    pub fn connect(addr: SocketAddr) -> Client {
        let tls = tls_port_client(addr.port());
        match tls {
            Some(t) if addr.ip().is_loopback() => Client::connect_tls_or_failed(addr, &t),
            _ => Client::connect_plain(addr),
        }
    }

    pub(crate) fn connect_tls_or_failed(addr: SocketAddr, tls: &TlsClient) -> Client {
        let s = tcp_connect(addr).unwrap_or_else(|e| panic!("connect {}: {}", addr, e));
        let probe = s.try_clone().expect("clone socket");
        match Client::tls_over(s, tls) {
            Ok(c) => c,
            Err(e) => Client {
                reader: BufReader::new(ReadHalf::Failed(format!("TLS handshake failed: {e}"))),
                tcp: probe,
                tls: None,
                failed: Some(format!("TLS handshake failed: {e}")),
            },
        }
    }

    /// TLS when `addr` is a TLS server started by this process, else TCP.
    pub fn try_connect(addr: SocketAddr) -> io::Result<Client> {
        let tls = tls_port_client(addr.port());
        match tls {
            Some(t) if addr.ip().is_loopback() => Client::connect_tls(addr, &t),
            _ => Client::try_connect_plain(addr),
        }
    }

    /// Plain TCP, even to a TLS port.
    pub fn connect_plain(addr: SocketAddr) -> Client {
        Client::try_connect_plain(addr).unwrap_or_else(|e| panic!("connect {}: {}", addr, e))
    }

    fn try_connect_plain(addr: SocketAddr) -> io::Result<Client> {
        let s = tcp_connect(addr)?;
        Ok(Client {
            reader: BufReader::with_capacity(64 * 1024, ReadHalf::Plain(s.try_clone()?)),
            tcp: s,
            tls: None,
            failed: None,
        })
    }

    /// A TLS connection; returns once the handshake is complete (for TLS
    /// 1.3 the server may still reject a client certificate afterwards:
    /// that shows as an error on the first read).
    pub fn connect_tls(addr: SocketAddr, tls: &TlsClient) -> io::Result<Client> {
        Client::tls_over(tcp_connect(addr)?, tls)
    }

    fn tls_over(s: TcpStream, tls: &TlsClient) -> io::Result<Client> {
        let name = ServerName::try_from(tls.server_name.clone()).map_err(io::Error::other)?;
        let mut conn = ClientConnection::new(tls.config.clone(), name).map_err(io::Error::other)?;
        conn.set_buffer_limit(None);
        let mut sock = s.try_clone()?;
        while conn.is_handshaking() {
            conn.complete_io(&mut sock)?;
        }
        while conn.wants_write() {
            conn.write_tls(&mut sock)?;
        }
        let shared = Arc::new(TlsShared {
            conn: Mutex::new(conn),
            wsock: Mutex::new(s.try_clone()?),
        });
        Ok(Client {
            reader: BufReader::with_capacity(
                64 * 1024,
                ReadHalf::Tls(TlsRead::new(shared.clone(), s.try_clone()?)),
            ),
            tcp: s,
            tls: Some(shared),
            failed: None,
        })
    }

    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The connection as a stream: Read/Write carry plaintext (decrypted
    /// for TLS; reads see bytes the line reader buffered first), shutdown
    /// and timeouts act on the TCP socket.
    pub fn stream(&mut self) -> ClientStream<'_> {
        ClientStream(self)
    }

    /// The TCP socket itself (for TLS: ciphertext; do not write to it).
    pub fn tcp(&self) -> &TcpStream {
        &self.tcp
    }

    /// A second handle for writing, e.g. for a writer thread (encrypts for
    /// TLS; may be used while this client blocks in a read).
    pub fn try_clone_stream(&self) -> io::Result<ClientWriter> {
        Ok(ClientWriter {
            tcp: self.tcp.try_clone()?,
            tls: self.tls.clone(),
        })
    }

    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        if let Some(f) = &self.failed {
            return Err(io::Error::new(io::ErrorKind::InvalidData, f.clone()));
        }
        match &self.tls {
            None => {
                let mut s = &self.tcp;
                s.write_all(bytes)?;
                s.flush()
            }
            Some(t) => t.write_all(bytes),
        }
    }

    /// Sends `line` followed by "\r\n".
    pub fn send_line(&mut self, line: &str) -> io::Result<()> {
        let mut b = Vec::with_capacity(line.len() + 2);
        b.extend_from_slice(line.as_bytes());
        b.extend_from_slice(b"\r\n");
        self.send(&b)
    }

    /// Reads up to and including the next "\n" (the CRLF is kept), at most
    /// `max` bytes. Returns what was read if the peer closes first.
    pub fn read_line_raw(&mut self, max: usize) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        (&mut self.reader)
            .take(max as u64)
            .read_until(b'\n', &mut out)?;
        Ok(out)
    }

    /// Reads one CRLF-terminated line and returns it without the CRLF.
    /// Errors if the line is not CRLF-terminated (EOF, bare LF, too long).
    pub fn read_line(&mut self) -> io::Result<String> {
        let raw = self.read_line_raw(4 * 1024 * 1024)?;
        if !raw.ends_with(b"\r\n") {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("not a CRLF line: {:?}", String::from_utf8_lossy(&raw)),
            ));
        }
        Ok(String::from_utf8_lossy(&raw[..raw.len() - 2]).into_owned())
    }

    /// Reads exactly `n` bytes.
    pub fn read_exact(&mut self, n: usize) -> io::Result<Vec<u8>> {
        let mut buf = vec![0u8; n];
        self.reader.read_exact(&mut buf)?;
        Ok(buf)
    }

    /// Sends `line` + CRLF and returns the one-line answer.
    pub fn request(&mut self, line: &str) -> io::Result<String> {
        self.send_line(line)?;
        self.read_line()
    }

    /// Reads and checks `expected` byte for byte. On a mismatch returns the
    /// bytes received so far plus the rest of the offending line, so the
    /// caller can show what the server sent instead; it stops at the first
    /// differing byte rather than waiting for `expected.len()` bytes.
    pub fn expect_bytes(&mut self, expected: &[u8]) -> Result<(), Vec<u8>> {
        let mut pos = 0;
        while pos < expected.len() {
            let buf = match self.reader.fill_buf() {
                Ok(b) => b,
                Err(e) => {
                    let mut got = expected[..pos].to_vec();
                    got.extend_from_slice(format!("<{}>", io_error_name(&e)).as_bytes());
                    return Err(got);
                }
            };
            if buf.is_empty() {
                let mut got = expected[..pos].to_vec();
                got.extend_from_slice(b"<EOF>");
                return Err(got);
            }
            let n = buf.len().min(expected.len() - pos);
            if let Some(k) = (0..n).find(|&k| buf[k] != expected[pos + k]) {
                let mut got = expected[..pos].to_vec();
                got.extend_from_slice(&buf[..k]);
                self.reader.consume(k);
                // Show the rest of the line the server actually sent.
                let rest = self.read_line_raw(512).unwrap_or_default();
                got.extend_from_slice(&rest);
                return Err(got);
            }
            self.reader.consume(n);
            pos += n;
        }
        Ok(())
    }

    /// Ok(()) if the server closes the connection without sending anything
    /// more; Err(bytes) with what it sent (or "<timeout>") otherwise.
    pub fn expect_eof(&mut self) -> Result<(), Vec<u8>> {
        let mut buf = [0u8; 512];
        match self.reader.read(&mut buf) {
            Ok(0) => Ok(()),
            Ok(n) => Err(buf[..n].to_vec()),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => Ok(()),
            Err(e) => Err(format!("<{}>", io_error_name(&e)).into_bytes()),
        }
    }

    /// Half-close: for TLS a close_notify alert first, then the TCP FIN.
    pub fn shutdown_write(&self) {
        if let Some(t) = &self.tls {
            let _ = t.close_notify();
        }
        let _ = self.tcp.shutdown(Shutdown::Write);
    }

    /// TLS: `data` as the ciphertext records this connection would send,
    /// without sending them (for tests that write partial records through
    /// `tcp()`). The connection's record sequence advances.
    pub fn tls_encrypt(&self, data: &[u8]) -> Vec<u8> {
        let t = self.tls.as_ref().expect("not a TLS client");
        let mut c = t.conn.lock().unwrap();
        c.writer().write_all(data).expect("encrypt");
        let mut out = Vec::new();
        while c.wants_write() {
            c.write_tls(&mut out).expect("write_tls");
        }
        out
    }

    /// TLS: the server's certificate chain as received (leaf first).
    pub fn peer_certificates(&self) -> Option<Vec<CertificateDer<'static>>> {
        let t = self.tls.as_ref()?;
        let c = t.conn.lock().unwrap();
        c.peer_certificates().map(|v| v.to_vec())
    }

    /// TLS: the negotiated protocol version.
    pub fn tls_version(&self) -> Option<rustls::ProtocolVersion> {
        self.tls.as_ref()?.conn.lock().unwrap().protocol_version()
    }

    /// TLS: Full or Resumed (or HelloRetryRequest).
    pub fn tls_handshake_kind(&self) -> Option<rustls::HandshakeKind> {
        self.tls.as_ref()?.conn.lock().unwrap().handshake_kind()
    }
}

fn tcp_connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, CLIENT_TIMEOUT)?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    s.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    Ok(s)
}

/// `Client::stream()`: plaintext Read/Write plus socket controls.
pub struct ClientStream<'a>(&'a mut Client);

impl ClientStream<'_> {
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.0.tcp.shutdown(how)
    }
    pub fn set_read_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        self.0.tcp.set_read_timeout(d)
    }
    pub fn set_write_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        self.0.tcp.set_write_timeout(d)
    }
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.tcp.local_addr()
    }
}

impl Read for ClientStream<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.reader.read(buf)
    }
}

impl Write for ClientStream<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.send(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `Client::try_clone_stream()`: a writing handle usable from another
/// thread; plaintext in, ciphertext out for TLS.
pub struct ClientWriter {
    tcp: TcpStream,
    tls: Option<Arc<TlsShared>>,
}

impl ClientWriter {
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.tcp.shutdown(how)
    }
    pub fn set_read_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        self.tcp.set_read_timeout(d)
    }
    pub fn set_write_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        self.tcp.set_write_timeout(d)
    }
}

impl Write for ClientWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &self.tls {
            None => self.tcp.write(buf),
            Some(t) => {
                t.write_all(buf)?;
                Ok(buf.len())
            }
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The reading side under the client's BufReader.
enum ReadHalf {
    Plain(TcpStream),
    Tls(TlsRead),
    Failed(String),
}

impl Read for ReadHalf {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            ReadHalf::Plain(s) => s.read(buf),
            ReadHalf::Tls(t) => t.read(buf),
            ReadHalf::Failed(f) => Err(io::Error::new(io::ErrorKind::InvalidData, f.clone())),
        }
    }
}

/// "timeout" for read timeouts, else the error text.
pub fn io_error_name(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => "timeout".to_string(),
        _ => e.to_string(),
    }
}
