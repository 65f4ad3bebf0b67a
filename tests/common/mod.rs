//! Helpers shared by the integration tests (conformance, eviction,
//! concurrency, ...): which server binaries to test, starting a server on a
//! free port, and a small blocking text-protocol client.
//!
//! TLS targets ("molt-slab-tls", "molt-seg-tls") run the mixed binary with
//! `--tls-cert/--tls-key` pointing at certificates generated once per test
//! process (rcgen) into a temp dir; `Server::client()` and
//! `Client::connect(addr)` then speak TLS (rustls) to them, so every suite
//! runs unchanged over TLS. Helpers for TLS-specific tests live in the `tls`
//! section at the end.
#![allow(dead_code)]

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore};

/// A server binary plus the arguments that select its configuration.
/// The test harness adds `-l 127.0.0.1 -p <port>` and any per-test arguments.
#[derive(Clone, Debug)]
pub struct Target {
    pub name: &'static str,
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Some for a TLS listener: how clients must connect to it.
    pub tls: Option<TlsClient>,
}

impl Target {
    pub fn new(name: &'static str, program: impl Into<PathBuf>, args: &[&str]) -> Target {
        Target {
            name,
            program: program.into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            tls: None,
        }
    }

    /// The molt binary with `--storage <storage>` behind TLS, using the
    /// per-process test certificates (tls_files()). The storage flag stays
    /// last so `args.last()` still names the engine.
    pub fn molt_tls(name: &'static str, storage: &str) -> Target {
        let f = tls_files();
        let mut t = Target::new(
            name,
            env!("CARGO_BIN_EXE_molt"),
            &[
                "--tls-cert",
                path_str(&f.server_cert),
                "--tls-key",
                path_str(&f.server_key),
                "--storage",
                storage,
            ],
        );
        t.tls = Some(TlsClient::new(tls_client_config(
            std::slice::from_ref(&f.ca_der),
            None,
            ALL_VERSIONS,
        )));
        t
    }

    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }
}

/// Every molt binary x configuration the suites must pass on.
/// Adding a target is one line here.
pub fn targets() -> Vec<Target> {
    vec![
        Target::new("molt-c", molt_c_program(), &[]),
        Target::new(
            "molt-slab",
            env!("CARGO_BIN_EXE_molt"),
            &["--storage", "slab"],
        ),
        Target::new(
            "molt-seg",
            env!("CARGO_BIN_EXE_molt"),
            &["--storage", "seg"],
        ),
        Target::molt_tls("molt-slab-tls", "slab"),
        Target::molt_tls("molt-seg-tls", "seg"),
    ]
}

/// The C-only baseline binary: `make c-only` puts it in target/c-only/;
/// `MOLT_C_BIN` overrides the location.
fn molt_c_program() -> PathBuf {
    match std::env::var_os("MOLT_C_BIN") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/c-only/molt-c"),
    }
}

/// Real memcached 1.6, used to check that the transcripts themselves encode
/// memcached's behaviour. `MEMCACHED_BIN` overrides /usr/bin/memcached.
/// None when it is not installed.
pub fn reference_memcached() -> Option<Target> {
    let program = match std::env::var_os("MEMCACHED_BIN") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from("/usr/bin/memcached"),
    };
    if !program.is_file() {
        return None;
    }
    let mut args: Vec<String> = vec!["-U".into(), "0".into()];
    if running_as_root() {
        // memcached refuses to start as root without -u.
        args.push("-u".into());
        args.push("root".into());
    }
    Some(Target {
        name: "memcached",
        program,
        args,
        tls: None,
    })
}

fn running_as_root() -> bool {
    // std has no geteuid(); /proc/self/status has "Uid: real effective ...".
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// Panics (with a hint to build) unless the target's binary exists.
pub fn require_built(target: &Target) {
    if !target.program.is_file() {
        panic!(
            "target {}: binary {} does not exist; run `make build` first \
             (the conformance suite does not skip missing targets)",
            target.name,
            target.program.display()
        );
    }
}

/// A running server process on 127.0.0.1:<free port>; killed on drop.
pub struct Server {
    child: Child,
    port: u16,
    target_name: &'static str,
    stderr_path: PathBuf,
    tls: Option<TlsClient>,
}

const START_ATTEMPTS: usize = 5;
const START_TIMEOUT: Duration = Duration::from_secs(10);

impl Server {
    /// Starts `target` with its own args, then `extra_args`, then
    /// `-l 127.0.0.1 -p <port>`; returns once it accepts connections.
    pub fn start(target: &Target, extra_args: &[&str]) -> Server {
        require_built(target);
        let mut last_err = String::new();
        for _ in 0..START_ATTEMPTS {
            match Server::try_start(target, extra_args) {
                Ok(s) => return s,
                Err(e) => last_err = e,
            }
        }
        panic!(
            "target {}: server failed to start after {} attempts: {}",
            target.name, START_ATTEMPTS, last_err
        );
    }

    fn try_start(target: &Target, extra_args: &[&str]) -> Result<Server, String> {
        let port = free_port();
        let stderr_path = unique_temp_path(&format!("{}-{}.stderr", target.name, port));
        let stderr = File::create(&stderr_path)
            .map_err(|e| format!("create {}: {}", stderr_path.display(), e))?;
        let mut cmd = Command::new(&target.program);
        cmd.args(&target.args)
            .args(extra_args)
            .args(["-l", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(stderr));
        let child = cmd
            .spawn()
            .map_err(|e| format!("spawn {}: {}", target.program.display(), e))?;
        let mut server = Server {
            child,
            port,
            target_name: target.name,
            stderr_path,
            tls: target.tls.clone(),
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                let err = server.stderr_text();
                // A port taken between free_port() and bind() is retried;
                // anything else is a real failure.
                let msg = format!(
                    "{} {:?} exited during startup ({}); stderr:\n{}",
                    target.program.display(),
                    cmd.get_args().collect::<Vec<_>>(),
                    status,
                    err
                );
                if err.contains("in use") || err.contains("bind") {
                    return Err(msg);
                }
                panic!("target {}: {}", target.name, msg);
            }
            // The port was free a moment ago, but another process may have
            // taken it (then our server fails to bind and exits, above):
            // only a listener that belongs to our child counts.
            if TcpStream::connect_timeout(&server.addr(), Duration::from_millis(200)).is_ok()
                && listens_on(server.child.id(), port)
            {
                if let Some(tls) = &server.tls {
                    tls_registry().lock().unwrap().insert(port, tls.clone());
                }
                return Ok(server);
            }
            if Instant::now() > deadline {
                panic!(
                    "target {}: server not accepting connections on port {} after {:?}; stderr:\n{}",
                    target.name,
                    port,
                    START_TIMEOUT,
                    server.stderr_text()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn target_name(&self) -> &'static str {
        self.target_name
    }

    /// Whatever the server wrote to stderr so far.
    pub fn stderr_text(&self) -> String {
        fs::read(&self.stderr_path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// None while the process is running.
    pub fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// A new client connection to this server (TLS for a TLS target; see
    /// `Client::connect` for a failed handshake).
    pub fn client(&self) -> Client {
        match &self.tls {
            None => Client::connect_plain(self.addr()),
            Some(t) => Client::connect_tls_or_failed(self.addr(), t),
        }
    }

    /// How clients connect to this server over TLS; None for plain TCP.
    pub fn tls(&self) -> Option<&TlsClient> {
        self.tls.as_ref()
    }

    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.tls.is_some() {
            if let Ok(mut m) = tls_registry().lock() {
                m.remove(&self.port);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_file(&self.stderr_path);
    }
}

/// Whether process `pid` holds the socket listening on `port` (from
/// /proc/net/tcp{,6} and /proc/PID/fd). True when /proc cannot tell.
fn listens_on(pid: u32, port: u16) -> bool {
    let mut inodes = Vec::new();
    let mut readable = false;
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = fs::read_to_string(table) else {
            continue;
        };
        readable = true;
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let local_port = cols
                .get(1)
                .and_then(|a| a.rsplit(':').next())
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            // State 0A is LISTEN; column 9 the socket inode.
            if cols.len() > 9 && cols[3] == "0A" && local_port == Some(port) {
                inodes.push(format!("socket:[{}]", cols[9]));
            }
        }
    }
    if !readable {
        return true;
    }
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return true;
    };
    fds.flatten().any(|e| {
        fs::read_link(e.path())
            .ok()
            .is_some_and(|l| inodes.iter().any(|i| l.as_os_str() == i.as_str()))
    })
}

/// A port that was free a moment ago (bind 127.0.0.1:0, read, release).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local_addr").port()
}

fn unique_temp_path(suffix: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("molt-test-{}-{}-{}", std::process::id(), n, suffix))
}

pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);

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
        let tls = tls_registry().lock().unwrap().get(&addr.port()).cloned();
        match tls {
            Some(t) if addr.ip().is_loopback() => Client::connect_tls_or_failed(addr, &t),
            _ => Client::connect_plain(addr),
        }
    }

    fn connect_tls_or_failed(addr: SocketAddr, tls: &TlsClient) -> Client {
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
        let tls = tls_registry().lock().unwrap().get(&addr.port()).cloned();
        match tls {
            Some(t) if addr.ip().is_loopback() => Client::connect_tls(addr, &t),
            _ => Client::try_connect_plain(addr),
        }
    }

    /// Plain TCP, even to a TLS port.
    pub fn connect_plain(addr: SocketAddr) -> Client {
        Client::try_connect_plain(addr).unwrap_or_else(|e| panic!("connect {}: {}", addr, e))
    }

    pub fn try_connect_plain(addr: SocketAddr) -> io::Result<Client> {
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
                ReadHalf::Tls(TlsRead {
                    shared: shared.clone(),
                    sock: s.try_clone()?,
                    pending: Vec::new(),
                    tcp_eof: false,
                    eof_fed: false,
                }),
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
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.tcp.peer_addr()
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
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        self.tcp.set_nodelay(on)
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

/// One rustls client connection shared by a reader and any writers. Socket
/// I/O happens outside the `conn` lock, so a writer thread can send while
/// the reader blocks on the socket. Writers take `wsock` then `conn`, which
/// keeps records in sequence order on the wire.
struct TlsShared {
    conn: Mutex<ClientConnection>,
    wsock: Mutex<TcpStream>,
}

impl TlsShared {
    fn write_all(&self, data: &[u8]) -> io::Result<()> {
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

    fn close_notify(&self) -> io::Result<()> {
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

struct TlsRead {
    shared: Arc<TlsShared>,
    sock: TcpStream,
    /// Ciphertext read from the socket, not yet taken by rustls (it refuses
    /// more while its plaintext buffer is full).
    pending: Vec<u8>,
    tcp_eof: bool,
    eof_fed: bool,
}

impl TlsRead {
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

/// "timeout" for read timeouts, else the error text.
pub fn io_error_name(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => "timeout".to_string(),
        _ => e.to_string(),
    }
}

/// Printable rendering of protocol bytes: \r \n \t \\ \xHH escapes; long
/// runs are abbreviated so a 1 MB value does not flood the report.
pub fn escape_bytes(b: &[u8]) -> String {
    const HEAD: usize = 160;
    const TAIL: usize = 60;
    let render = |s: &[u8], out: &mut String| {
        for &c in s {
            match c {
                b'\r' => out.push_str("\\r"),
                b'\n' => out.push_str("\\n"),
                b'\t' => out.push_str("\\t"),
                b'\\' => out.push_str("\\\\"),
                0x20..=0x7e => out.push(c as char),
                _ => out.push_str(&format!("\\x{:02x}", c)),
            }
        }
    };
    let mut out = String::new();
    if b.len() <= HEAD + TAIL + 40 {
        render(b, &mut out);
    } else {
        render(&b[..HEAD], &mut out);
        out.push_str(&format!("...<{} bytes omitted>...", b.len() - HEAD - TAIL));
        render(&b[b.len() - TAIL..], &mut out);
    }
    out
}

// ---------------------------------------------------------------------------
// TLS: certificates, client configurations

/// How a client reaches a TLS server: a rustls configuration (roots,
/// optional client certificate, versions) and the name to verify.
#[derive(Clone, Debug)]
pub struct TlsClient {
    pub config: Arc<ClientConfig>,
    pub server_name: String,
}

// A shared, immutable configuration (its session cache is internally
// locked): a panic in a test cannot leave it half-updated.
impl std::panic::UnwindSafe for TlsClient {}
impl std::panic::RefUnwindSafe for TlsClient {}

impl TlsClient {
    pub fn new(config: Arc<ClientConfig>) -> TlsClient {
        TlsClient {
            config,
            server_name: "localhost".to_string(),
        }
    }
}

pub const ALL_VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];
pub const TLS12_ONLY: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS12];
pub const TLS13_ONLY: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];

/// A rustls client configuration (the aws-lc-rs provider, as rust/tls)
/// trusting `roots`, presenting `client_cert` if given. Each call has its
/// own session cache, so resumption only happens between clients that
/// share one configuration.
pub fn tls_client_config(
    roots: &[CertificateDer<'static>],
    client_cert: Option<&Pem>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<ClientConfig> {
    let mut store = RootCertStore::empty();
    for r in roots {
        store.add(r.clone()).expect("add root certificate");
    }
    let builder = ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_protocol_versions(versions)
    .expect("protocol versions")
    .with_root_certificates(store);
    let cfg = match client_cert {
        None => builder.with_no_client_auth(),
        Some(p) => builder
            .with_client_auth_cert(vec![p.cert_der.clone()], p.key_der())
            .expect("client certificate"),
    };
    Arc::new(cfg)
}

/// The port -> TLS settings of running TLS servers, so that
/// `Client::connect(addr)` speaks TLS to them.
fn tls_registry() -> &'static Mutex<HashMap<u16, TlsClient>> {
    static R: OnceLock<Mutex<HashMap<u16, TlsClient>>> = OnceLock::new();
    R.get_or_init(|| Mutex::new(HashMap::new()))
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A PEM certificate with its key (PKCS#8), plus the certificate's DER.
#[derive(Clone)]
pub struct Pem {
    pub cert: String,
    pub key: String,
    pub cert_der: CertificateDer<'static>,
    key_der: Vec<u8>,
}

impl Pem {
    pub fn key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()))
    }

    /// Writes `<prefix>cert.pem` and `<prefix>key.pem` into `dir`.
    pub fn write(&self, dir: &Path, prefix: &str) -> (PathBuf, PathBuf) {
        let c = dir.join(format!("{prefix}cert.pem"));
        let k = dir.join(format!("{prefix}key.pem"));
        fs::write(&c, &self.cert).expect("write cert");
        fs::write(&k, &self.key).expect("write key");
        (c, k)
    }
}

/// A test CA (rcgen) that issues server and client certificates.
pub struct Pki {
    pub ca_pem: String,
    pub ca_der: CertificateDer<'static>,
    issuer: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
}

impl Pki {
    pub fn new(name: &str) -> Pki {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(DnType::CommonName, name);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let issuer = rcgen::CertifiedIssuer::self_signed(p, KeyPair::generate().unwrap()).unwrap();
        Pki {
            ca_pem: issuer.pem(),
            ca_der: issuer.der().clone(),
            issuer,
        }
    }

    /// A server certificate for "localhost" and 127.0.0.1, CN = `cn`.
    pub fn server(&self, cn: &str) -> Pem {
        self.issue(cn, true)
    }

    /// A client certificate, CN = `cn`.
    pub fn client(&self, cn: &str) -> Pem {
        self.issue(cn, false)
    }

    fn issue(&self, cn: &str, server: bool) -> Pem {
        use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, KeyPair, SanType};
        let mut p = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        if server {
            p.subject_alt_names
                .push(SanType::IpAddress([127, 0, 0, 1].into()));
        }
        p.distinguished_name.push(DnType::CommonName, cn);
        p.extended_key_usages = vec![if server {
            ExtendedKeyUsagePurpose::ServerAuth
        } else {
            ExtendedKeyUsagePurpose::ClientAuth
        }];
        let key = KeyPair::generate().unwrap();
        let cert = p.signed_by(&key, &self.issuer).unwrap();
        Pem {
            cert: cert.pem(),
            key: key.serialize_pem(),
            cert_der: cert.der().clone(),
            key_der: key.serialize_der(),
        }
    }
}

/// The per-process certificates of the TLS targets.
pub struct TlsFiles {
    pub dir: PathBuf,
    pub pki: Pki,
    pub ca_der: CertificateDer<'static>,
    pub ca_file: PathBuf,
    pub server: Pem,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
}

/// Generated on first use into $TMPDIR/molt-test-tls-<pid>/. A static has
/// no destructor, so the directory outlives the process; the next test
/// process removes those whose process is gone.
pub fn tls_files() -> &'static TlsFiles {
    static F: OnceLock<TlsFiles> = OnceLock::new();
    F.get_or_init(|| {
        remove_stale_tls_dirs();
        let dir = std::env::temp_dir().join(format!("molt-test-tls-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("create TLS temp dir");
        let pki = Pki::new("molt test CA");
        let server = pki.server("molt test server");
        let (server_cert, server_key) = server.write(&dir, "server-");
        let ca_file = dir.join("ca.pem");
        fs::write(&ca_file, &pki.ca_pem).expect("write CA");
        TlsFiles {
            dir,
            ca_der: pki.ca_der.clone(),
            pki,
            ca_file,
            server,
            server_cert,
            server_key,
        }
    })
}

fn remove_stale_tls_dirs() {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("molt-test-tls-"))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

/// A fresh, empty temp directory (unique per call), removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let p = unique_temp_path(tag);
        fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A `stats` reply: STAT name -> value.
#[derive(Debug, Clone)]
pub struct Stats(pub std::collections::HashMap<String, String>);

impl Stats {
    /// The value of STAT `name`, as text.
    pub fn text(&self, name: &str) -> &str {
        self.0
            .get(name)
            .unwrap_or_else(|| panic!("no STAT {name} in {:?}", self.0))
    }

    /// The value of STAT `name`, as a number.
    pub fn num(&self, name: &str) -> u64 {
        let v = self.text(name);
        v.parse()
            .unwrap_or_else(|_| panic!("STAT {name} {v:?} is not a number"))
    }
}

impl Client {
    /// Sends `stats` and reads every STAT line up to END.
    pub fn stats(&mut self) -> Stats {
        self.send_line("stats").expect("send stats");
        let mut m = std::collections::HashMap::new();
        loop {
            let line = self.read_line().expect("stats line");
            if line == "END" {
                return Stats(m);
            }
            let mut it = line.splitn(3, ' ');
            assert_eq!(it.next(), Some("STAT"), "stats line {line:?}");
            let k = it.next().unwrap_or_default().to_string();
            m.insert(k, it.next().unwrap_or_default().to_string());
        }
    }
}
