//! Start-up, the listener and shutdown (c-core/src/server/server.c): check
//! what molt-rs cannot do, open the engine (with a memory file: restored
//! at start, saved at a graceful stop), bind, start the -t workers, accept
//! and hand each socket round-robin to a worker (refusing past -c), and
//! stop on `shutdown`: workers drain unless the stop is immediate.

use std::io::{ErrorKind, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::Duration;

use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};
use molt_tls::{Provider, TlsAcceptor, TlsServerConfig};
use seg::{Seg, SegConfig};

use crate::admin::Admin;
use crate::host::wake_watchers;
use crate::log::log;
use crate::options::{Settings, VERSION};
use crate::shared::{Baseline, Shared, WorkerShared, STOP_NONE, STOP_NOW};
use crate::signals::{self, Signals};
use crate::watch::Watch;
use crate::worker::{wall_seconds, Worker, WAKE};

const LISTENER: Token = Token(0);
const STOP: Token = Token(1);
const SIG_STOP: Token = Token(2);
const SIG_HUP: Token = Token(3);
/// memcached's words when -c is reached.
const TOO_MANY_CONNS: &[u8] = b"ERROR Too many open connections\r\n";
/// How soon accepting is tried again after an error such as EMFILE.
const ACCEPT_RETRY: Duration = Duration::from_millis(10);

/// Why molt-rs cannot run these settings, if it cannot (the message
/// after "molt: ").
fn refuse(o: &Settings) -> Option<String> {
    const ALL_RUST: &str = "molt-rs is all Rust (use molt-c or molt)";
    match o.storage.as_str() {
        "seg" => {}
        "slab" => {
            return Some(format!(
                "storage engine 'slab' is written in C and {ALL_RUST}"
            ))
        }
        other => {
            return Some(format!(
                "unknown storage engine '{other}' (this binary has: seg)"
            ))
        }
    }
    match o.protocol.as_str() {
        "rust" => {}
        "c" => return Some(format!("protocol 'c' is written in C and {ALL_RUST}")),
        other => {
            return Some(format!(
                "unknown protocol '{other}' (this binary has: rust)"
            ))
        }
    }
    if o.tls_requested && (o.tls_cert.is_empty() || o.tls_key.is_empty()) {
        return Some("TLS needs both --tls-cert and --tls-key".into());
    }
    None
}

fn listen(o: &Settings) -> Result<TcpListener, String> {
    let addrs: Vec<SocketAddr> = (o.listen.as_str(), o.port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve listen address '{}': {e}", o.listen))?
        .collect();
    let mut last = format!("cannot resolve listen address '{}'", o.listen);
    for a in addrs {
        match TcpListener::bind(a) {
            Ok(l) => return Ok(l),
            Err(e) => last = format!("cannot listen on {}:{}: {}", o.listen, o.port, os(&e)),
        }
    }
    Err(last)
}

/// The OS's words for an I/O error, without Rust's "(os error N)".
pub fn os(e: &std::io::Error) -> String {
    let s = e.to_string();
    s.split(" (os error").next().unwrap_or(&s).to_string()
}

/// Run the server; the process exit code.
pub fn run(o: Settings) -> i32 {
    crate::log::setup(o.verbose);
    if let Some(why) = refuse(&o) {
        eprintln!("molt: {why}");
        return 1;
    }
    match start(o) {
        Ok(()) => {
            log!(Info, "stopped");
            0
        }
        Err(e) => {
            eprintln!("molt: {e}");
            1
        }
    }
}

/// The TLS acceptor of --tls-cert/--tls-key/--tls-ca, with graviola (the
/// Rust-only provider) whatever else the build has.
fn tls_acceptor(o: &Settings) -> Result<Option<TlsAcceptor>, String> {
    if !o.tls_requested {
        return Ok(None);
    }
    let ca = (!o.tls_ca.is_empty()).then_some(o.tls_ca.as_str());
    TlsServerConfig::load_with(Provider::Graviola, &o.tls_cert, &o.tls_key, ca)
        .map(|c| Some(TlsAcceptor::new(c)))
        .map_err(|e| e.to_string())
}

fn start(o: Settings) -> Result<(), String> {
    // The engine (restored) first, as molt: nothing listens meanwhile.
    let storage = Seg::new(SegConfig {
        memory_limit: o.memory_mb * 1024 * 1024,
        item_size_max: o.item_size_max,
        ..SegConfig::default()
    })
    .map_err(|e| format!("cannot start storage engine 'seg': {e}"))?;
    if !o.memory_file.is_empty() {
        let r = storage
            .restore(Path::new(&o.memory_file), wall_seconds())
            .map_err(|e| e.to_string())?;
        if r.clean() {
            log!(Info, "{r}");
        } else {
            log!(Warn, "{r}");
        }
    }
    let tls = tls_acceptor(&o)?;
    let mut listener = listen(&o)?;
    let mut poll = Poll::new().map_err(|e| format!("cannot start: {e}"))?;
    let listener_waker =
        Waker::new(poll.registry(), STOP).map_err(|e| format!("cannot start: {e}"))?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)
        .map_err(|e| format!("cannot start: {e}"))?;
    let mut signals = Signals::install(poll.registry(), SIG_STOP, SIG_HUP)
        .map_err(|e| format!("cannot install signal handlers: {e}"))?;
    // the workers' polls first: their wakers are shared
    let mut polls = Vec::new();
    let mut workers = Vec::new();
    let mut receivers = Vec::new();
    for _ in 0..o.threads {
        let p = Poll::new().map_err(|e| format!("cannot start worker threads: {e}"))?;
        let w = Waker::new(p.registry(), WAKE)
            .map_err(|e| format!("cannot start worker threads: {e}"))?;
        let (tx, rx) = mpsc::channel();
        workers.push(Shared::new_worker(tx, w));
        polls.push(p);
        receivers.push(rx);
    }
    let workers: Vec<Arc<WorkerShared>> = workers.into_iter().map(Arc::new).collect();
    let watch = Arc::new(Watch::new());
    {
        let (watch, workers) = (watch.clone(), workers.clone());
        storage.set_eviction_hook(Box::new(move |e: &storage::Evicted<'_>| {
            wake_watchers(&workers, &watch.evicted(e));
        }));
    }
    let listen_addr = listener
        .local_addr()
        .map_err(|e| format!("cannot start: {e}"))?;
    let shared = Arc::new(Shared {
        listen_fd: listener.as_raw_fd(),
        listen_addr,
        storage: Arc::new(storage),
        started: wall_seconds(),
        curr_conns: AtomicU64::new(0),
        total_conns: AtomicU64::new(0),
        rejected_conns: AtomicU64::new(0),
        idle_kicks: AtomicU64::new(0),
        stop_mode: AtomicU8::new(STOP_NONE),
        listener_waker,
        workers,
        baseline: Mutex::new(Baseline::default()),
        watch,
        tls,
        settings: o,
    });
    let mut threads = Vec::new();
    for (id, (p, rx)) in polls.into_iter().zip(receivers).enumerate() {
        let w = Worker::new(id, shared.clone(), p, rx);
        let t = thread::Builder::new()
            .name(format!("worker-{id}"))
            .spawn(move || w.run())
            .map_err(|e| format!("cannot start worker threads: {e}"))?;
        threads.push(t);
    }
    let o = &shared.settings;
    let admin = if o.admin_port != 0 {
        match Admin::start(shared.clone(), &o.admin_listen, o.admin_port) {
            Ok(a) => Some(a),
            Err(e) => {
                stop_workers(&shared, threads);
                return Err(e);
            }
        }
    } else {
        None
    };
    let admin_at = match &admin {
        Some(_) => format!("{}:{}", o.admin_listen, o.admin_port),
        None => "off".into(),
    };
    log!(
        Info,
        "molt {VERSION} starting: listening on {}:{}, engine seg, transport {}, protocol rust, memory limit {} MiB, {} threads, admin {admin_at}",
        o.listen,
        o.port,
        shared.transport_name(),
        o.memory_mb,
        o.threads
    );
    listen_loop(&shared, &mut poll, &listener, &mut signals);
    let open = shared.curr_conns.load(Ordering::Relaxed);
    if shared.stop_mode() == STOP_NOW {
        log!(Info, "shutdown command: closing {open} connection(s)");
    } else {
        log!(
            Info,
            "shutting down: listener closed, draining {open} connection(s)"
        );
    }
    drop(listener); // stop accepting first
    stop_workers(&shared, threads);
    drop(admin);
    // As memcached: `shutdown` (not graceful) does not save, so the next
    // start refuses the file, still marked in use.
    if !o.memory_file.is_empty() && shared.stop_mode() != STOP_NOW {
        let saved = shared
            .storage
            .save(Path::new(&o.memory_file), wall_seconds())
            .map_err(|e| e.to_string())?;
        log!(Info, "{saved}");
    }
    Ok(())
}

/// Tell every worker to stop (draining unless the stop is immediate) and
/// wait for them.
fn stop_workers(shared: &Shared, threads: Vec<thread::JoinHandle<()>>) {
    for w in &shared.workers {
        w.stop.store(true, Ordering::Release);
        let _ = w.waker.wake();
    }
    for t in threads {
        let _ = t.join();
    }
}

/// Accept until SIGTERM or SIGINT arrives or `shutdown` wakes the STOP
/// waker; SIGHUP reloads certificates.
fn listen_loop(s: &Shared, poll: &mut Poll, listener: &TcpListener, signals: &mut Signals) {
    let mut events = Events::with_capacity(8);
    let mut next = 0usize;
    // after an accept error (EMFILE...) connections may wait in the backlog
    // with no new edge to announce them: try again shortly
    let mut retry = false;
    loop {
        let wait = retry.then_some(ACCEPT_RETRY);
        if retry {
            retry = accept_all(s, listener, &mut next);
        }
        if let Err(e) = poll.poll(&mut events, wait) {
            if e.kind() == ErrorKind::Interrupted {
                continue;
            }
            log!(Error, "listener: poll failed: {e}");
            return;
        }
        let mut stop = s.stop_mode() != STOP_NONE;
        for ev in events.iter() {
            match ev.token() {
                LISTENER => retry = accept_all(s, listener, &mut next),
                SIG_STOP => stop |= signals::take(&mut signals.stop) > 0,
                // new connections get fresh certificates, open ones keep
                // theirs (plain TCP has none to read)
                SIG_HUP if signals::take(&mut signals.hup) > 0 => match s.reload_certs() {
                    Ok(()) => log!(Info, "SIGHUP: {} certificates reloaded", s.transport_name()),
                    Err(e) => log!(
                        Error,
                        "SIGHUP: certificate reload failed, keeping the old ones: {e}"
                    ),
                },
                _ => {}
            }
        }
        if stop {
            return;
        }
    }
}

/// Accept what the backlog holds; true when stopped by an error other
/// than WouldBlock (e.g. EMFILE), so connections may still be waiting.
fn accept_all(s: &Shared, listener: &TcpListener, next: &mut usize) -> bool {
    let mut refused = 0u64;
    let failed;
    loop {
        let (mut stream, _) = match listener.accept() {
            Ok(a) => a,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                failed = e.kind() != ErrorKind::WouldBlock;
                break;
            }
        };
        if s.curr_conns.load(Ordering::Relaxed) >= s.settings.max_conns {
            // best effort: the socket is new, the short reply fits; a
            // TLS client must never get plaintext: closed without a word
            if s.tls.is_none() {
                let _ = stream.write(TOO_MANY_CONNS);
            }
            drop(stream);
            s.rejected_conns.fetch_add(1, Ordering::Relaxed);
            refused += 1;
            continue;
        }
        let _ = stream.set_nodelay(true);
        s.curr_conns.fetch_add(1, Ordering::Relaxed);
        s.total_conns.fetch_add(1, Ordering::Relaxed);
        let w = &s.workers[*next % s.workers.len()];
        *next = next.wrapping_add(1);
        if w.handoff.send(stream).is_err() {
            s.curr_conns.fetch_sub(1, Ordering::Relaxed);
            continue;
        }
        let _ = w.waker.wake();
    }
    // one line per wake-up, not per connection
    if refused > 0 {
        log!(
            Info,
            "refused {refused} connection(s): connection limit {} reached",
            s.settings.max_conns
        );
    }
    failed
}
