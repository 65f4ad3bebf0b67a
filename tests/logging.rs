//! Logging on stderr: silent by default, `-v` logs start-up, refused
//! connections and shutdown at info, `-vv` adds one debug line per
//! connection open and close; every line is "<ISO 8601 UTC> <level> <text>".
//! Also the graceful shutdown on SIGTERM: in-flight pipelined requests are
//! answered whole, the connection closes cleanly, the process exits 0 in
//! bounded time even when a client never reads.

use molt_test_support::{signal, targets, Client, Server};
use std::io::{Read, Write};
use std::time::{Duration, Instant};

/// Waits for the server to exit (at most `limit`); returns how long it took.
fn wait_exit(server: &mut Server, limit: Duration) -> Duration {
    let start = Instant::now();
    loop {
        if let Some(status) = server.exit_status() {
            assert!(status.success(), "{}: exit {status}", server.target_name());
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "{}: still running after {limit:?}",
            server.target_name()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// "2024-05-01T12:00:00.123Z" followed by a space.
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 25
        && b[..24].iter().enumerate().all(|(i, &c)| match i {
            4 | 7 => c == b'-',
            10 => c == b'T',
            13 | 16 => c == b':',
            19 => c == b'.',
            23 => c == b'Z',
            _ => c.is_ascii_digit(),
        })
        && b[24] == b' '
}

/// (level, message) per line; panics on a malformed line.
fn log_lines(stderr: &str) -> Vec<(String, String)> {
    stderr
        .lines()
        .map(|l| {
            assert!(is_timestamp(l), "no timestamp: {l:?}");
            let rest = &l[25..];
            let (level, msg) = rest.split_once(' ').unwrap();
            assert!(
                ["error", "warn", "info", "debug"].contains(&level),
                "level in {l:?}"
            );
            (level.to_string(), msg.trim_start().to_string())
        })
        .collect()
}

#[test]
fn default_is_silent_and_v_logs_start_up_and_shutdown() {
    for target in targets!() {
        let t = target.name;
        let mut quiet = Server::start(&target, &[]);
        assert!(quiet.client().request("version").is_ok());
        signal(quiet.pid(), "-TERM");
        wait_exit(&mut quiet, Duration::from_secs(10));
        assert_eq!(quiet.stderr_text(), "", "{t}: silent by default");

        let mut server = Server::start(&target, &["-v", "-t", "3", "-m", "32"]);
        assert!(server.client().request("version").is_ok());
        signal(server.pid(), "-TERM");
        wait_exit(&mut server, Duration::from_secs(10));
        let lines = log_lines(&server.stderr_text());
        // the engine flag is each target's last argument (molt-c: none)
        let engine = if target.args.last().is_some_and(|a| a == "seg") {
            "seg"
        } else {
            "slab"
        };
        let transport = if target.is_tls() { "tls" } else { "tcp" };
        let protocol = if t.contains("-rs") { "rust" } else { "c" };
        let start = format!(
            "molt 0.1.0 starting: listening on 127.0.0.1:{}, engine {engine}, transport {transport}, \
             protocol {protocol}, memory limit 32 MiB, 3 threads, admin off",
            server.port()
        );
        assert_eq!(lines.first(), Some(&("info".to_string(), start)), "{t}");
        assert!(
            lines
                .iter()
                .any(|(l, m)| l == "info" && m.starts_with("shutting down")),
            "{t}: {lines:?}"
        );
        assert_eq!(
            lines.last(),
            Some(&("info".to_string(), "stopped".to_string())),
            "{t}"
        );
        assert!(!lines.iter().any(|(l, _)| l == "debug"), "{t}: {lines:?}");
    }
}

#[test]
fn vv_logs_each_connection_and_v_logs_refusals() {
    for target in targets!() {
        let t = target.name;
        let mut server = Server::start(&target, &["-vv"]);
        {
            let mut c = server.client();
            assert!(c.request("version").is_ok());
        }
        // The close is logged by the worker once it sees EOF.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let lines = log_lines(&server.stderr_text());
            let opened = lines
                .iter()
                .filter(|(l, m)| l == "debug" && m.contains("opened"))
                .count();
            let closed = lines
                .iter()
                .filter(|(l, m)| l == "debug" && m.contains("closed"))
                .count();
            // The start-up probe is a connection too.
            if opened >= 2 && closed >= 2 {
                break;
            }
            assert!(Instant::now() < deadline, "{t}: {lines:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
        signal(server.pid(), "-TERM");
        wait_exit(&mut server, Duration::from_secs(10));

        let server = Server::start(&target, &["-v", "-c", "1"]);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            // Until the probe is reaped, our own client may be the one
            // refused; either way one refusal gets logged.
            // (A refused TLS client fails its handshake: try_connect.)
            let mut a = Client::try_connect(server.addr());
            let first = match &mut a {
                Ok(a) => a.request("version").unwrap_or_default(),
                Err(_) => String::new(),
            };
            if first.starts_with("VERSION ") {
                // The refusal (on a TLS port: the close alone).
                let mut b = Client::connect_plain(server.addr());
                if target.is_tls() {
                    assert!(b.expect_eof().is_ok(), "{t}");
                } else {
                    assert_eq!(b.read_line().unwrap(), "ERROR Too many open connections");
                }
                break;
            }
            assert!(Instant::now() < deadline, "{t}");
            std::thread::sleep(Duration::from_millis(20));
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while !server.stderr_text().contains("refused 1 connection(s)") {
            assert!(Instant::now() < deadline, "{t}: {}", server.stderr_text());
            std::thread::sleep(Duration::from_millis(20));
        }
        let lines = log_lines(&server.stderr_text());
        assert!(
            lines
                .iter()
                .any(|(l, m)| l == "info"
                    && m == "refused 1 connection(s): connection limit 1 reached"),
            "{t}: {lines:?}"
        );
    }
}

/// Reads one complete `get k` reply ("VALUE k 0 5", "hello", "END"); None
/// at a clean EOF before the reply starts. Panics on anything partial.
fn read_reply(c: &mut Client, t: &str, n: usize) -> Option<()> {
    let first = c.read_line_raw(1024).unwrap_or_else(|e| {
        panic!("{t}: reply {n}: read error {e} (connection must close cleanly)")
    });
    if first.is_empty() {
        return None;
    }
    assert_eq!(first, b"VALUE k 0 5\r\n", "{t}: reply {n} starts whole");
    assert_eq!(c.read_line().unwrap(), "hello", "{t}: reply {n}");
    assert_eq!(c.read_line().unwrap(), "END", "{t}: reply {n}");
    Some(())
}

#[test]
fn sigterm_answers_in_flight_requests_whole_then_exits_zero() {
    const REQUESTS: usize = 100_000;
    for target in targets!() {
        let t = target.name;
        let mut server = Server::start(&target, &["-t", "2"]);
        let mut c = server.client();
        assert_eq!(c.request("set k 0 0 5\r\nhello").unwrap(), "STORED");
        let mut writer = c.try_clone_stream().unwrap();
        let sender = std::thread::spawn(move || {
            let batch = "get k\r\n".repeat(1000);
            for _ in 0..REQUESTS / 1000 {
                // The server stops reading once it drains: errors are fine.
                if writer.write_all(batch.as_bytes()).is_err() {
                    return;
                }
            }
        });
        read_reply(&mut c, t, 0).expect("first reply");
        signal(server.pid(), "-TERM");
        let signalled = Instant::now();
        let mut answered = 1;
        while read_reply(&mut c, t, answered).is_some() {
            answered += 1;
        }
        assert!(answered <= REQUESTS, "{t}");
        sender.join().unwrap();
        drop(c);
        let took = signalled.elapsed() + wait_exit(&mut server, Duration::from_secs(8));
        assert!(took < Duration::from_secs(7), "{t}: exit took {took:?}");
        eprintln!("{t}: {answered} of {REQUESTS} answered before the close, exit after {took:?}");
    }
}

#[test]
fn sigterm_exits_in_bounded_time_when_a_client_never_reads() {
    for target in targets!() {
        let t = target.name;
        let mut server = Server::start(&target, &[]);
        let mut c = server.client();
        let value = vec![b'v'; 100_000];
        let mut req = format!("set big 0 0 {}\r\n", value.len()).into_bytes();
        req.extend_from_slice(&value);
        req.extend_from_slice(b"\r\n");
        assert_eq!(
            {
                c.send(&req).unwrap();
                c.read_line().unwrap()
            },
            "STORED"
        );
        // Ask for far more than the socket buffers hold and never read.
        let mut writer = c.try_clone_stream().unwrap();
        writer
            .set_write_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let _ = writer.write_all("get big\r\n".repeat(2000).as_bytes());
        // An idle second client, and one halfway through a set.
        let idle = server.client();
        let mut half = server.client();
        half.send(b"set h 0 0 10\r\nabc").unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let signalled = Instant::now();
        signal(server.pid(), "-TERM");
        wait_exit(&mut server, Duration::from_secs(8));
        assert!(
            signalled.elapsed() < Duration::from_secs(7),
            "{t}: {:?}",
            signalled.elapsed()
        );
        // The half-sent set gets no answer, just the close.
        let mut rest = Vec::new();
        let mut stream = half.stream();
        let _ = stream.read_to_end(&mut rest);
        assert!(rest.is_empty(), "{t}: {:?}", String::from_utf8_lossy(&rest));
        drop(idle);
    }
}
