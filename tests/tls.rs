//! TLS transport of the mixed binary (molt --tls-cert/--tls-key[/--tls-ca]):
//! protocol versions, resumption, mutual TLS, hostile and broken clients,
//! large and pipelined traffic, certificate reload (SIGHUP and
//! refresh_certs), start-up errors, and molt-c refusing the TLS flags.
//!
//! Certificates are made with rcgen (molt-test-support: Pki, tls_files());
//! the client is rustls with the aws-lc-rs provider (its Client). Only
//! 127.0.0.1. The slowest test (the handshake timeout) waits up to 13 s.

use molt_test_support::rustls;
use molt_test_support::{
    free_port, io_error_name, path_str, require_built, targets, tls_client_config, tls_files,
    Client, Pem, Pki, Server, Target, TempDir, TlsClient, ALL_VERSIONS, TLS12_ONLY, TLS13_ONLY,
};
use rustls::pki_types::ServerName;
use rustls::{ClientConnection, HandshakeKind, ProtocolVersion};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------
// helpers

fn tls_targets() -> Vec<Target> {
    let t: Vec<Target> = targets!().into_iter().filter(|t| t.is_tls()).collect();
    assert!(t.len() >= 2, "targets!() must list the TLS targets");
    t
}

fn molt_program() -> &'static str {
    env!("CARGO_BIN_EXE_molt")
}

/// A TLS server of the mixed binary with these files (slab storage).
fn tls_target(cert: &Path, key: &Path, ca: Option<&Path>, client: Option<&Pem>) -> Target {
    let mut args: Vec<String> = vec![
        "--tls-cert".into(),
        path_str(cert).into(),
        "--tls-key".into(),
        path_str(key).into(),
    ];
    if let Some(ca) = ca {
        args.push("--tls-ca".into());
        args.push(path_str(ca).into());
    }
    args.push("--storage".into());
    args.push("slab".into());
    Target {
        name: "molt-tls-custom",
        program: molt_program().into(),
        args,
        tls: Some(TlsClient::new(fresh_config(client))),
    }
}

/// A client configuration of its own (its own session cache: no
/// resumption with any other configuration) trusting the test CA.
fn fresh_config(client: Option<&Pem>) -> Arc<rustls::ClientConfig> {
    tls_client_config(
        std::slice::from_ref(&tls_files().ca_der),
        client,
        ALL_VERSIONS,
    )
}

fn connect_with(server: &Server, cfg: Arc<rustls::ClientConfig>) -> std::io::Result<Client> {
    Client::connect_tls(server.addr(), &TlsClient::new(cfg))
}

fn stat(c: &mut Client, name: &str) -> u64 {
    c.stats().num(name)
}

/// Polls `name` over `c` until it equals `want` (2 s at most).
fn wait_stat(c: &mut Client, name: &str, want: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let v = stat(c, name);
        if v == want || Instant::now() > deadline {
            return v;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// set + get of `value` under `key`, checked byte for byte.
fn roundtrip(c: &mut Client, key: &str, value: &[u8]) {
    let mut req = format!("set {key} 7 0 {}\r\n", value.len()).into_bytes();
    req.extend_from_slice(value);
    req.extend_from_slice(b"\r\nget ");
    req.extend_from_slice(key.as_bytes());
    req.extend_from_slice(b"\r\n");
    c.send(&req).expect("send set+get");
    assert_eq!(c.read_line().expect("set reply"), "STORED", "set {key}");
    assert_eq!(
        c.read_line().expect("get header"),
        format!("VALUE {key} 7 {}", value.len())
    );
    let data = c.read_exact(value.len() + 2).expect("value");
    assert!(
        data[..value.len()] == *value && &data[value.len()..] == b"\r\n",
        "value of {key} differs"
    );
    assert_eq!(c.read_line().expect("END"), "END");
}

fn assert_alive(server: &mut Server) {
    if let Some(st) = server.exit_status() {
        panic!(
            "{}: server exited ({st}); stderr:\n{}",
            server.target_name(),
            server.stderr_text()
        );
    }
}

fn raw_connect(server: &Server) -> TcpStream {
    let s = TcpStream::connect_timeout(&server.addr(), Duration::from_secs(5)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

/// Reads until the server closes; Err on a read timeout.
fn read_to_close(s: &mut TcpStream) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Ok(out),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return Ok(out),
            Err(e) => return Err(format!("{} after {} bytes", io_error_name(&e), out.len())),
        }
    }
}

/// The bytes of a real TLS ClientHello (rustls, the test CA trusted).
fn client_hello() -> Vec<u8> {
    let name = ServerName::try_from("localhost").unwrap();
    let mut conn = ClientConnection::new(fresh_config(None), name).unwrap();
    let mut out = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut out).unwrap();
    }
    assert_eq!(out[0], 0x16, "a handshake record");
    out
}

fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| b'a' + ((i / 7 + seed as usize) % 26) as u8)
        .collect()
}

/// Runs the program to its exit (5 s at most); (status, stderr).
fn run_to_exit(program: &Path, args: &[&str]) -> (ExitStatus, String) {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", program.display()));
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{} {:?} did not exit within 5 s", program.display(), args);
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status, err)
}

// ---------------------------------------------------------------------------
// versions, resumption, mutual TLS

#[test]
fn tls12_and_tls13_clients_both_work() {
    for target in tls_targets() {
        let server = Server::start(&target, &[]);
        for (versions, want) in [
            (TLS12_ONLY, ProtocolVersion::TLSv1_2),
            (TLS13_ONLY, ProtocolVersion::TLSv1_3),
        ] {
            let cfg = tls_client_config(std::slice::from_ref(&tls_files().ca_der), None, versions);
            let mut c = connect_with(&server, cfg).expect("TLS connect");
            assert_eq!(c.tls_version(), Some(want), "{}", target.name);
            roundtrip(&mut c, &format!("v:{want:?}"), b"hello over tls");
            assert_eq!(c.stats().text("transport"), "tls");
            assert_eq!(
                c.peer_certificates().unwrap()[0],
                tls_files().server.cert_der,
                "the server presents its configured certificate"
            );
        }
        let mut c = server.client();
        assert!(stat(&mut c, "tls_handshakes") >= 3, "{}", target.name);
        assert_eq!(stat(&mut c, "tls_handshake_errors"), 0, "{}", target.name);
    }
}

#[test]
fn second_connection_resumes_the_session() {
    for target in tls_targets() {
        let server = Server::start(&target, &[]);
        // Stats over one connection of its own: no handshakes in between.
        let mut st = connect_with(&server, fresh_config(None)).unwrap();
        for versions in [TLS13_ONLY, TLS12_ONLY] {
            let cfg = tls_client_config(std::slice::from_ref(&tls_files().ca_der), None, versions);
            let before = stat(&mut st, "tls_resumed_sessions");
            let mut first = connect_with(&server, cfg.clone()).unwrap();
            assert_eq!(first.tls_handshake_kind(), Some(HandshakeKind::Full));
            // A round trip also makes the client read TLS 1.3 tickets.
            roundtrip(&mut first, "r", b"1");
            drop(first);
            let mut second = connect_with(&server, cfg.clone()).unwrap();
            assert_eq!(
                second.tls_handshake_kind(),
                Some(HandshakeKind::Resumed),
                "{}: {:?}",
                target.name,
                versions[0].version
            );
            roundtrip(&mut second, "r", b"2");
            assert_eq!(
                wait_stat(&mut st, "tls_resumed_sessions", before + 1),
                before + 1,
                "{}: {:?}",
                target.name,
                versions[0].version
            );
        }
    }
}

/// A rejected handshake: the connect fails, or (TLS 1.3, where the client
/// finishes before the server checks its certificate) the first request.
fn rejected(server: &Server, cfg: Arc<rustls::ClientConfig>) -> Result<String, String> {
    let mut c = connect_with(server, cfg).map_err(|e| format!("connect: {e}"))?;
    match c.request("version") {
        Ok(line) if line.starts_with("VERSION") => Ok(line),
        Ok(line) => Err(format!("reply {line:?}")),
        Err(e) => Err(format!("request: {e}")),
    }
}

#[test]
fn mutual_tls_accepts_the_ca_client_and_rejects_others() {
    let files = tls_files();
    let good = files.pki.client("good client");
    let rogue = Pki::new("another CA").client("rogue client");
    let target = tls_target(
        &files.server_cert,
        &files.server_key,
        Some(&files.ca_file),
        Some(&good),
    );
    let mut server = Server::start(&target, &[]);
    let mut st = server.client();
    roundtrip(&mut st, "m", b"mutual");
    let mut errors = stat(&mut st, "tls_handshake_errors");
    assert_eq!(errors, 0);

    for (what, cfg) in [
        ("no client certificate", fresh_config(None)),
        ("certificate from another CA", fresh_config(Some(&rogue))),
        (
            "no client certificate, TLS 1.2",
            tls_client_config(std::slice::from_ref(&files.ca_der), None, TLS12_ONLY),
        ),
    ] {
        let r = rejected(&server, cfg);
        assert!(r.is_err(), "{what}: accepted: {r:?}");
        errors += 1;
        assert_eq!(
            wait_stat(&mut st, "tls_handshake_errors", errors),
            errors,
            "{what}"
        );
        assert_alive(&mut server);
        // The server keeps serving: the open connection and a new one.
        roundtrip(&mut st, "m", what.as_bytes());
        let mut c = connect_with(&server, fresh_config(Some(&good))).expect("good client");
        roundtrip(&mut c, "m2", b"still served");
    }
    let mut c12 = connect_with(
        &server,
        tls_client_config(std::slice::from_ref(&files.ca_der), Some(&good), TLS12_ONLY),
    )
    .unwrap();
    roundtrip(&mut c12, "m3", b"tls12 with a client certificate");
}

// ---------------------------------------------------------------------------
// slow, broken and hostile clients

#[test]
fn stalled_handshakes_do_not_delay_others_and_time_out() {
    let target = &tls_targets()[0];
    let mut server = Server::start(target, &[]);
    let mut st = server.client();
    let errors_before = stat(&mut st, "tls_handshake_errors");
    let started = Instant::now();
    let silent = raw_connect(&server);
    let mut partial = raw_connect(&server);
    let hello = client_hello();
    partial.write_all(&hello[..hello.len() / 2]).unwrap();
    std::thread::sleep(Duration::from_millis(200));

    // A full handshake and request round trip meanwhile.
    let mut good = server.client();
    roundtrip(&mut good, "busy", &pattern(10_000, 3));
    drop(good);
    for (name, s) in [("silent", &silent), ("partial", &partial)] {
        s.set_nonblocking(true).unwrap();
        let mut b = [0u8; 16];
        match (&*s).read(&mut b) {
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            other => panic!("{name} staller was not kept open during the round trip: {other:?}"),
        }
        s.set_nonblocking(false).unwrap();
    }

    // Both are closed by the server after CONN_HANDSHAKE_TIMEOUT_S (10 s).
    let waits: Vec<_> = [silent, partial]
        .into_iter()
        .map(|mut s| {
            std::thread::spawn(move || {
                s.set_read_timeout(Some(Duration::from_secs(13) - started.elapsed()))
                    .unwrap();
                let r = read_to_close(&mut s);
                (r, started.elapsed())
            })
        })
        .collect();
    for (name, w) in ["silent", "partial"].iter().zip(waits) {
        let (r, took) = w.join().unwrap();
        let got = r.unwrap_or_else(|e| panic!("{name} staller not closed within 13 s: {e}"));
        // Nothing but (at most) a TLS alert.
        assert!(got.is_empty() || got[0] == 0x15, "{name}: {got:?}");
        eprintln!("{name} staller closed after {took:?}");
    }
    assert_alive(&mut server);
    roundtrip(&mut st, "after", b"stallers gone");
    // Each timed-out handshake counts as a handshake error.
    assert_eq!(
        wait_stat(&mut st, "tls_handshake_errors", errors_before + 2),
        errors_before + 2
    );
}

#[test]
fn over_the_connection_limit_a_tls_client_gets_no_plaintext() {
    for target in tls_targets() {
        let server = Server::start(&target, &["-c", "2"]);
        let t = target.name;
        // the start-up probe may still hold a slot: retry until both fit
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut held = loop {
            let mut a = server.client();
            if a.request("version")
                .is_ok_and(|l| l.starts_with("VERSION "))
            {
                let mut b = server.client();
                if b.request("version")
                    .is_ok_and(|l| l.starts_with("VERSION "))
                {
                    break vec![a, b];
                }
            }
            assert!(Instant::now() < deadline, "{t}: could not fill the limit");
            std::thread::sleep(Duration::from_millis(20));
        };
        // memcached would write "ERROR Too many open connections" here, in
        // plaintext, into a TLS handshake; molt closes without a byte.
        let mut s = raw_connect(&server);
        s.write_all(&client_hello()).unwrap();
        assert_eq!(read_to_close(&mut s), Ok(Vec::new()), "{t}");
        assert!(
            connect_with(&server, fresh_config(None))
                .and_then(|mut c| c.request("version"))
                .is_err(),
            "{t}: a TLS client over the limit"
        );
        roundtrip(&mut held[0], "k", b"held connection still served");
        let mut st = held.pop().unwrap();
        assert!(stat(&mut st, "rejected_connections") >= 2, "{t}");
    }
}

#[test]
fn plaintext_client_on_the_tls_port_is_closed() {
    for target in tls_targets() {
        let mut server = Server::start(&target, &[]);
        let mut st = server.client();
        let before = stat(&mut st, "tls_handshake_errors");
        let mut c = Client::connect_plain(server.addr());
        c.send(b"set plain 0 0 1\r\nx\r\nversion\r\n").unwrap();
        let mut s = c.tcp().try_clone().unwrap();
        let got = read_to_close(&mut s).expect("closed");
        let text = String::from_utf8_lossy(&got);
        assert!(
            !text.contains("STORED") && !text.contains("VERSION"),
            "{}: answered a plaintext client: {text:?}",
            target.name
        );
        assert_alive(&mut server);
        st.send_line("get plain").unwrap();
        assert_eq!(st.read_line().unwrap(), "END", "{}", target.name);
        assert_eq!(
            wait_stat(&mut st, "tls_handshake_errors", before + 1),
            before + 1
        );
        roundtrip(&mut server.client(), "k", b"tls after plaintext");
    }
}

#[test]
fn random_garbage_is_rejected_and_the_server_keeps_serving() {
    let target = &tls_targets()[1];
    let mut server = Server::start(target, &[]);
    let mut rng: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for i in 0..40 {
        let len = 1 + (next() % 4096) as usize;
        let mut g: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if i % 2 == 0 {
            // Past the first check: a handshake record header.
            g[0] = 0x16;
            if len > 2 {
                g[1] = 0x03;
                g[2] = (i % 4) as u8;
            }
        }
        let mut s = raw_connect(&server);
        // The server may close before all of it is written.
        let _ = s.write_all(&g);
        if i % 3 == 0 {
            drop(s);
            continue;
        }
        let _ = s.shutdown(Shutdown::Write);
        if let Err(e) = read_to_close(&mut s) {
            panic!("garbage #{i}: no close after the client's EOF: {e}");
        }
    }
    assert_alive(&mut server);
    let mut c = server.client();
    roundtrip(&mut c, "g", b"after garbage");
    assert!(stat(&mut c, "tls_handshake_errors") >= 10);
}

#[test]
fn truncated_records_followed_by_close() {
    let target = &tls_targets()[0];
    let mut server = Server::start(target, &[]);
    // Half a ClientHello, then EOF.
    let hello = client_hello();
    let mut s = raw_connect(&server);
    s.write_all(&hello[..hello.len() / 2]).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    read_to_close(&mut s).expect("closed after a truncated ClientHello");

    // After the handshake: half a record carrying a set, then EOF.
    let mut c = server.client();
    roundtrip(&mut c, "t0", b"before");
    let ct = c.tls_encrypt(b"set t 0 0 5\r\nhello\r\n");
    let mut s = c.tcp().try_clone().unwrap();
    s.write_all(&ct[..ct.len() / 2]).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    // Decrypted: no reply, only the close (or a fatal alert).
    match c.read_line_raw(1024) {
        Ok(b) => assert!(b.is_empty(), "reply to a truncated record: {b:?}"),
        Err(e) => assert!(
            !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
            "not closed after a truncated record: {e}"
        ),
    }
    drop(c);

    // A record whose header promises more than ever comes, left open: the
    // server must not block on it either.
    let open = server.client();
    let ct = open.tls_encrypt(b"set u 0 0 5\r\nhello\r\n");
    open.tcp().try_clone().unwrap().write_all(&ct[..8]).unwrap();

    assert_alive(&mut server);
    let mut c = server.client();
    c.send_line("get t u t0").unwrap();
    assert_eq!(c.read_line().unwrap(), "VALUE t0 7 6");
    assert_eq!(c.read_line().unwrap(), "before");
    assert_eq!(
        c.read_line().unwrap(),
        "END",
        "nothing of the truncated sets stored"
    );
    drop(open);
}

#[test]
fn abrupt_close_mid_request_and_mid_reply() {
    for target in tls_targets() {
        let mut server = Server::start(&target, &["-I", "2m"]);
        let mut c = server.client();
        c.send(b"set half 0 0 100\r\n").unwrap();
        c.send(&[b'h'; 50]).unwrap();
        drop(c); // TCP close, no close_notify

        let mut c = server.client();
        roundtrip(&mut c, "big", &pattern(1_000_000, 1));
        for _ in 0..20 {
            c.send(b"get big\r\n").unwrap();
        }
        drop(c); // leaves 20 MB of replies unread

        assert_alive(&mut server);
        let mut c = server.client();
        c.send_line("get half").unwrap();
        assert_eq!(c.read_line().unwrap(), "END", "{}", target.name);
        roundtrip(&mut c, "after", b"abrupt closes");
    }
}

// ---------------------------------------------------------------------------
// volume

#[test]
fn large_values_across_many_records() {
    for target in tls_targets() {
        let server = Server::start(&target, &["-I", "2m"]);
        let mut c = server.client();
        let v = pattern(1_000_000, 5);
        roundtrip(&mut c, "large", &v);
        // Three of them in one write, read back with one multi-get.
        let mut req = Vec::new();
        for i in 0..3u8 {
            req.extend_from_slice(format!("set large{i} 0 0 {}\r\n", v.len()).as_bytes());
            req.extend_from_slice(&pattern(v.len(), i));
            req.extend_from_slice(b"\r\n");
        }
        req.extend_from_slice(b"get large0 large1 large2\r\n");
        c.send(&req).unwrap();
        for _ in 0..3 {
            assert_eq!(c.read_line().unwrap(), "STORED", "{}", target.name);
        }
        for i in 0..3u8 {
            assert_eq!(
                c.read_line().unwrap(),
                format!("VALUE large{i} 0 {}", v.len())
            );
            let got = c.read_exact(v.len() + 2).unwrap();
            assert!(got[..v.len()] == pattern(v.len(), i)[..], "{}", target.name);
        }
        assert_eq!(c.read_line().unwrap(), "END");
    }
}

#[test]
fn many_pipelined_requests_in_one_write() {
    for target in tls_targets() {
        let server = Server::start(&target, &[]);
        let mut c = server.client();
        let n = 2000;
        let mut req = String::new();
        for i in 0..n {
            req.push_str(&format!(
                "set p{i} {i} 0 {}\r\n{i}\r\n",
                i.to_string().len()
            ));
            req.push_str(&format!("get p{i}\r\nincr p{i} 1\r\n"));
        }
        c.send(req.as_bytes()).unwrap();
        for i in 0..n {
            let name = target.name;
            assert_eq!(c.read_line().unwrap(), "STORED", "{name}: #{i}");
            assert_eq!(
                c.read_line().unwrap(),
                format!("VALUE p{i} {i} {}", i.to_string().len())
            );
            assert_eq!(c.read_line().unwrap(), i.to_string());
            assert_eq!(c.read_line().unwrap(), "END");
            assert_eq!(c.read_line().unwrap(), (i + 1).to_string());
        }
        assert!(c.request("version").unwrap().starts_with("VERSION "));
    }
}

// ---------------------------------------------------------------------------
// certificate reload

fn write_pem(dir: &TempDir, pem: &Pem) {
    // Write aside and rename: the server never reads a half-written file.
    for (name, text) in [("cert.pem", &pem.cert), ("key.pem", &pem.key)] {
        let tmp = dir.path(&format!("{name}.tmp"));
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, dir.path(name)).unwrap();
    }
}

/// The leaf certificate a new connection (no resumption) receives.
fn presented(server: &Server) -> rustls::pki_types::CertificateDer<'static> {
    let c = connect_with(server, fresh_config(None)).expect("TLS connect");
    c.peer_certificates().expect("peer certificates")[0].clone()
}

fn wait_presented(server: &Server, want: &Pem) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if presented(server) == want.cert_der {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn sighup(pid: u32) {
    let st = Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(st.success(), "kill -HUP {pid}");
}

#[test]
fn certificate_reload_by_sighup_and_refresh_certs() {
    let pki = &tls_files().pki;
    let dir = TempDir::new("tls-reload");
    let (a, b, c3) = (
        pki.server("reload A"),
        pki.server("reload B"),
        pki.server("reload C"),
    );
    write_pem(&dir, &a);
    let target = tls_target(&dir.path("cert.pem"), &dir.path("key.pem"), None, None);
    let mut server = Server::start(&target, &[]);
    let mut old = server.client();
    assert_eq!(old.peer_certificates().unwrap()[0], a.cert_der);
    roundtrip(&mut old, "k", b"before reload");

    // SIGHUP after replacing the files.
    write_pem(&dir, &b);
    sighup(server.pid());
    assert!(
        wait_presented(&server, &b),
        "SIGHUP: new connections still get the old certificate"
    );
    assert_eq!(wait_stat(&mut old, "tls_cert_reloads", 1), 1);
    roundtrip(&mut old, "k", b"open connection survives SIGHUP");
    assert_eq!(old.peer_certificates().unwrap()[0], a.cert_der);

    // refresh_certs.
    write_pem(&dir, &c3);
    assert_eq!(old.request("refresh_certs").unwrap(), "OK");
    assert_eq!(presented(&server), c3.cert_der, "refresh_certs");
    assert_eq!(stat(&mut old, "tls_cert_reloads"), 2);
    roundtrip(&mut old, "k", b"open connection survives refresh_certs");

    // A broken certificate file: refused, the last good one stays.
    std::fs::write(
        dir.path("cert.pem"),
        "-----BEGIN CERTIFICATE-----\nnot base64!\n",
    )
    .unwrap();
    let reply = old.request("refresh_certs").unwrap();
    assert!(reply.starts_with("SERVER_ERROR "), "{reply}");
    assert!(
        reply.contains("cert.pem"),
        "the error names the file: {reply}"
    );
    assert_eq!(stat(&mut old, "tls_cert_reload_errors"), 1);
    assert_eq!(
        presented(&server),
        c3.cert_der,
        "old certificate stays after a failed reload"
    );
    // A key that does not match the certificate, by SIGHUP.
    write_pem(&dir, &a);
    std::fs::write(dir.path("key.pem"), &b.key).unwrap();
    sighup(server.pid());
    assert_eq!(wait_stat(&mut old, "tls_cert_reload_errors", 2), 2);
    assert_eq!(stat(&mut old, "tls_cert_reloads"), 2);
    assert_eq!(
        presented(&server),
        c3.cert_der,
        "old certificate stays after a failed SIGHUP"
    );
    assert_alive(&mut server);
    roundtrip(&mut old, "k", b"after failed reloads");
}

#[test]
fn refresh_certs_without_tls_is_a_client_error() {
    let t = targets!()
        .into_iter()
        .find(|t| t.name == "molt-slab")
        .unwrap();
    let server = Server::start(&t, &[]);
    let mut c = server.client();
    assert_eq!(
        c.request("refresh_certs").unwrap(),
        "CLIENT_ERROR TLS is not enabled"
    );
}

// ---------------------------------------------------------------------------
// start-up

#[test]
fn start_up_errors_name_the_file() {
    let f = tls_files();
    let dir = TempDir::new("tls-startup");
    let garbage = dir.path("garbage-key.pem");
    std::fs::write(&garbage, "this is not a key\n").unwrap();
    let other = f.pki.server("other");
    let (_, other_key) = other.write(&dir.0, "other-");
    let missing = dir.path("missing-cert.pem");
    let p = |x: &Path| x.to_str().unwrap().to_string();
    let cases: Vec<(&str, Vec<String>, String)> = vec![
        (
            "missing cert file",
            vec![
                "--tls-cert".into(),
                p(&missing),
                "--tls-key".into(),
                p(&f.server_key),
            ],
            p(&missing),
        ),
        (
            "garbage key",
            vec![
                "--tls-cert".into(),
                p(&f.server_cert),
                "--tls-key".into(),
                p(&garbage),
            ],
            p(&garbage),
        ),
        (
            "key not matching the certificate",
            vec![
                "--tls-cert".into(),
                p(&f.server_cert),
                "--tls-key".into(),
                p(&other_key),
            ],
            p(&other_key),
        ),
        (
            "missing client CA file",
            vec![
                "--tls-cert".into(),
                p(&f.server_cert),
                "--tls-key".into(),
                p(&f.server_key),
                "--tls-ca".into(),
                p(&dir.path("missing-ca.pem")),
            ],
            p(&dir.path("missing-ca.pem")),
        ),
    ];
    for (what, args, file) in cases {
        let port = free_port().to_string();
        let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
        all.extend(["-l", "127.0.0.1", "-p", &port]);
        let (st, err) = run_to_exit(Path::new(molt_program()), &all);
        assert!(!st.success(), "{what}: exit {st}");
        assert!(
            err.contains(&file),
            "{what}: stderr does not name {file}: {err}"
        );
    }
}

#[test]
fn molt_c_rejects_the_tls_flags() {
    let t = targets!().into_iter().find(|t| t.name == "molt-c").unwrap();
    require_built(&t);
    let f = tls_files();
    let port = free_port().to_string();
    let (st, err) = run_to_exit(
        &t.program,
        &[
            "--tls-cert",
            f.server_cert.to_str().unwrap(),
            "--tls-key",
            f.server_key.to_str().unwrap(),
            "-l",
            "127.0.0.1",
            "-p",
            &port,
        ],
    );
    assert!(!st.success(), "molt-c accepted --tls-cert");
    assert!(
        err.contains("TLS is written in Rust and this binary was built without Rust"),
        "{err}"
    );
}
