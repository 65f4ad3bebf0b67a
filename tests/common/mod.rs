//! Helpers shared by the integration tests (conformance, eviction,
//! concurrency, ...): which server binaries to test, starting a server on a
//! free port, and a small blocking text-protocol client.
//!
//! std only, no external crates.
#![allow(dead_code)]

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A server binary plus the arguments that select its configuration.
/// The test harness adds `-l 127.0.0.1 -p <port>` and any per-test arguments.
#[derive(Clone, Debug)]
pub struct Target {
    pub name: &'static str,
    pub program: PathBuf,
    pub args: Vec<String>,
}

impl Target {
    pub fn new(name: &'static str, program: impl Into<PathBuf>, args: &[&str]) -> Target {
        Target {
            name,
            program: program.into(),
            args: args.iter().map(|s| s.to_string()).collect(),
        }
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
            if TcpStream::connect_timeout(&server.addr(), Duration::from_millis(200)).is_ok() {
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

    /// A new client connection to this server.
    pub fn client(&self) -> Client {
        Client::connect(self.addr())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_file(&self.stderr_path);
    }
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
pub struct Client {
    reader: BufReader<TcpStream>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        Client::try_connect(addr).unwrap_or_else(|e| panic!("connect {}: {}", addr, e))
    }

    pub fn try_connect(addr: SocketAddr) -> io::Result<Client> {
        let s = TcpStream::connect_timeout(&addr, CLIENT_TIMEOUT)?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(CLIENT_TIMEOUT))?;
        s.set_write_timeout(Some(CLIENT_TIMEOUT))?;
        Ok(Client {
            reader: BufReader::with_capacity(64 * 1024, s),
        })
    }

    pub fn stream(&self) -> &TcpStream {
        self.reader.get_ref()
    }

    /// A second handle on the socket, e.g. for a writer thread.
    pub fn try_clone_stream(&self) -> io::Result<TcpStream> {
        self.reader.get_ref().try_clone()
    }

    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        let mut s = self.reader.get_ref();
        s.write_all(bytes)?;
        s.flush()
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

    pub fn shutdown_write(&self) {
        let _ = self.reader.get_ref().shutdown(Shutdown::Write);
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
