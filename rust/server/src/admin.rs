//! The HTTP admin endpoint (c-core/src/admin/http.c): `GET`/`HEAD` of
//! `/metrics` (metrics.rs) and `/health`, 404 for other paths, 405 for
//! other methods, 400 for what httparse cannot read, 431 for heads over
//! 8 KiB. Requests are parsed by httparse; each client gets a short-lived
//! thread (at most ADMIN_CLIENTS at once, each dropped after
//! ADMIN_TIMEOUT), so a slow client blocks neither scrapes nor the data
//! port. One response per connection, then close.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::metrics;
use crate::shared::Shared;

const ADMIN_CLIENTS: usize = 16;
const REQUEST_MAX: usize = 8192;
const ADMIN_TIMEOUT: Duration = Duration::from_secs(5);
const TEXT: &str = "text/plain; charset=utf-8";
/// How often the accept loop looks at the stop flag.
const ACCEPT_POLL: Duration = Duration::from_millis(100);

pub struct Admin {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Admin {
    /// Listen on `addr:port` and serve from a thread of its own.
    pub fn start(shared: Arc<Shared>, addr: &str, port: u16) -> Result<Admin, String> {
        let fail = |why: String| format!("cannot listen on admin address {addr}:{port}: {why}");
        let addrs: Vec<_> = (addr, port)
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve admin listen address '{addr}': {e}"))?
            .collect();
        let mut last = fail("no address".into());
        let mut listener = None;
        for a in addrs {
            match TcpListener::bind(a) {
                Ok(l) => {
                    listener = Some(l);
                    break;
                }
                Err(e) => last = fail(crate::server::os(&e)),
            }
        }
        let listener = listener.ok_or(last)?;
        listener
            .set_nonblocking(true)
            .map_err(|e| fail(e.to_string()))?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = thread::Builder::new()
            .name("admin".into())
            .spawn(move || serve(&shared, &listener, &flag))
            .map_err(|e| format!("admin endpoint: cannot start its thread: {e}"))?;
        Ok(Admin {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Admin {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(shared: &Arc<Shared>, listener: &TcpListener, stop: &AtomicBool) {
    let busy = Arc::new(AtomicUsize::new(0));
    while !stop.load(Ordering::Acquire) {
        if busy.load(Ordering::Acquire) >= ADMIN_CLIENTS {
            thread::sleep(ACCEPT_POLL);
            continue;
        }
        match listener.accept() {
            Ok((stream, _)) => {
                busy.fetch_add(1, Ordering::AcqRel);
                let (shared, done) = (shared.clone(), busy.clone());
                let spawned = thread::Builder::new()
                    .name("admin-client".into())
                    .spawn(move || {
                        client(&shared, stream);
                        done.fetch_sub(1, Ordering::AcqRel);
                    });
                if spawned.is_err() {
                    busy.fetch_sub(1, Ordering::AcqRel);
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => thread::sleep(ACCEPT_POLL),
            Err(_) => thread::sleep(ACCEPT_POLL),
        }
    }
}

/// Read one request head (within the deadline), answer, close.
fn client(shared: &Shared, mut s: TcpStream) {
    let deadline = Instant::now() + ADMIN_TIMEOUT;
    if s.set_nonblocking(false).is_err() {
        return;
    }
    let mut req = Vec::with_capacity(1024);
    let mut buf = [0u8; 2048];
    let response = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || s.set_read_timeout(Some(left)).is_err() {
            return; // too slow: dropped without a word
        }
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => req.extend_from_slice(&buf[..n]),
        }
        if let Some(r) = respond_to(shared, &req) {
            break r;
        }
        if req.len() >= REQUEST_MAX {
            break response(
                431,
                "Request Header Fields Too Large",
                TEXT,
                b"request too large\n",
                false,
            );
        }
    };
    let _ = s.set_write_timeout(Some(ADMIN_TIMEOUT));
    let _ = s.write_all(&response);
    let _ = s.shutdown(Shutdown::Write);
}

/// The response to a complete request head; None while it is incomplete.
fn respond_to(shared: &Shared, req: &[u8]) -> Option<Vec<u8>> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut r = httparse::Request::new(&mut headers);
    let bad = || response(400, "Bad Request", TEXT, b"bad request\n", false);
    match r.parse(req) {
        Ok(httparse::Status::Partial) => return None,
        Ok(httparse::Status::Complete(_)) => {}
        Err(_) => return Some(bad()),
    }
    let (Some(method), Some(target)) = (r.method, r.path) else {
        return Some(bad());
    };
    let path = target.split('?').next().unwrap_or("");
    let head = method == "HEAD";
    if path != "/metrics" && path != "/health" {
        return Some(response(404, "Not Found", TEXT, b"not found\n", head));
    }
    if method != "GET" && !head {
        return Some(response(
            405,
            "Method Not Allowed",
            TEXT,
            b"method not allowed\n",
            false,
        ));
    }
    if path == "/health" {
        return Some(response(200, "OK", TEXT, b"OK\n", head));
    }
    let body = metrics::render(shared);
    Some(response(
        200,
        "OK",
        "text/plain; version=0.0.4; charset=utf-8",
        body.as_bytes(),
        head,
    ))
}

fn response(status: u16, reason: &str, kind: &str, body: &[u8], head_only: bool) -> Vec<u8> {
    let allow = if status == 405 {
        "Allow: GET, HEAD\r\n"
    } else {
        ""
    };
    let mut r = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n{allow}\r\n",
        body.len()
    )
    .into_bytes();
    if !head_only {
        r.extend_from_slice(body);
    }
    r
}
