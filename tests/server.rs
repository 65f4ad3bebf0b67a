//! Whole-server behaviour on every target: memory pressure under a small
//! -m, concurrent clients on overlapping keys, the connection limit, clean
//! shutdown, and start-up errors.

use molt_test_support::{require_built, signal, targets, Client, Server, Target};
use std::process::Command;
use std::time::{Duration, Instant};

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Reads one get reply for `key`: Some(value) or None on a miss.
fn read_get(c: &mut Client, key: &str) -> Option<(u32, Vec<u8>)> {
    let line = c.read_line().unwrap();
    if line == "END" {
        return None;
    }
    let f: Vec<&str> = line.split(' ').collect();
    assert_eq!((f[0], f[1]), ("VALUE", key), "{line}");
    let flags = f[2].parse().unwrap();
    let len: usize = f[3].parse().unwrap();
    let data = c.read_exact(len + 2).unwrap();
    assert_eq!(&data[len..], b"\r\n");
    assert_eq!(c.read_line().unwrap(), "END");
    Some((flags, data[..len].to_vec()))
}

#[test]
fn small_memory_limit_evicts_and_stays_within_it() {
    for target in targets!() {
        let server = Server::start(&target, &["-m", "2", "-t", "2"]);
        let mut c = server.client();
        let value = vec![b'x'; 200];
        let batch = 200;
        let total = 40_000;
        for start in (0..total).step_by(batch) {
            let mut req = Vec::new();
            for i in start..start + batch {
                req.extend_from_slice(format!("set key:{i} 0 0 {}\r\n", value.len()).as_bytes());
                req.extend_from_slice(&value);
                req.extend_from_slice(b"\r\n");
            }
            c.send(&req).unwrap();
            for i in start..start + batch {
                assert_eq!(c.read_line().unwrap(), "STORED", "{}: key:{i}", target.name);
            }
        }
        let st = c.stats();
        assert_eq!(st.num("limit_maxbytes"), 2 << 20, "{}", target.name);
        assert!(st.num("bytes") <= 2 << 20, "{}: {st:?}", target.name);
        assert!(st.num("evictions") > 0, "{}: {st:?}", target.name);
        for i in total - 50..total {
            let key = format!("key:{i}");
            c.send_line(&format!("get {key}")).unwrap();
            let (_, v) =
                read_get(&mut c, &key).unwrap_or_else(|| panic!("{}: {key} evicted", target.name));
            assert_eq!(v, value);
        }
        // 40k x 200 B written through a 2 MiB cache: the process stays small.
        let rss = rss_kib(server.pid());
        assert!(rss < 48 * 1024, "{}: RSS {rss} KiB", target.name);
        assert_eq!(
            c.request("version").unwrap().split(' ').next(),
            Some("VERSION")
        );
    }
}

#[test]
fn concurrent_clients_read_only_whole_values() {
    for target in targets!() {
        let server = Server::start(&target, &["-t", "4"]);
        let addr = server.addr();
        let threads = 4u32;
        let rounds = 1500u32;
        std::thread::scope(|scope| {
            for t in 0..threads {
                let name = target.name;
                scope.spawn(move || {
                    let mut c = Client::connect(addr);
                    for i in 0..rounds {
                        let key = format!("shared:{}", i % 16);
                        // One byte repeated, flags = writer: a torn or mixed
                        // value shows two different bytes or a wrong flag.
                        let len = 1 + ((i * 7919 + t * 131) % 5000) as usize;
                        let mut req = format!("set {key} {t} 0 {len}\r\n").into_bytes();
                        req.extend(std::iter::repeat_n(b'a' + t as u8, len));
                        req.extend_from_slice(b"\r\nincr counter 1\r\n");
                        req.extend_from_slice(format!("get {key}\r\n").as_bytes());
                        c.send(&req).unwrap();
                        assert_eq!(c.read_line().unwrap(), "STORED", "{name}");
                        let incr = c.read_line().unwrap();
                        assert!(
                            incr == "NOT_FOUND" || incr.parse::<u64>().is_ok(),
                            "{name}: {incr}"
                        );
                        let (flags, v) = read_get(&mut c, &key).expect("just written");
                        let first = v[0];
                        assert!(v.iter().all(|&b| b == first), "{name}: torn value");
                        assert_eq!(
                            u32::from(first - b'a'),
                            flags,
                            "{name}: flags and value disagree"
                        );
                    }
                });
            }
        });
        let mut c = server.client();
        assert!(
            c.request("version").unwrap().starts_with("VERSION "),
            "{}",
            target.name
        );
    }
}

#[test]
fn concurrent_increments_are_not_lost() {
    for target in targets!() {
        let server = Server::start(&target, &["-t", "4"]);
        let mut c = server.client();
        c.send(b"set n 0 0 1\r\n0\r\n").unwrap();
        assert_eq!(c.read_line().unwrap(), "STORED");
        let addr = server.addr();
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(move || {
                    let mut c = Client::connect(addr);
                    for _ in 0..20 {
                        c.send(&b"incr n 1\r\n".repeat(50)).unwrap();
                        for _ in 0..50 {
                            c.read_line().unwrap().parse::<u64>().unwrap();
                        }
                    }
                });
            }
        });
        c.send_line("get n").unwrap();
        let (_, v) = read_get(&mut c, "n").unwrap();
        assert_eq!(v, b"4000", "{}", target.name);
    }
}

#[test]
fn connections_over_the_limit_are_refused_and_the_server_keeps_serving() {
    for target in targets!() {
        let server = Server::start(&target, &["-c", "4"]);
        // The start-up probe's connection may not be reaped yet: wait until
        // this client is the only one before filling the limit.
        let mut first = server.client();
        let deadline = Instant::now() + Duration::from_secs(5);
        while first.stats().num("curr_connections") != 1 {
            assert!(
                Instant::now() < deadline,
                "{}: probe connection not reaped",
                target.name
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut held: Vec<Client> = vec![first];
        held.extend((0..3).map(|_| server.client()));
        for c in &mut held {
            assert!(c.request("version").unwrap().starts_with("VERSION "));
        }
        // memcached's refusal; on a TLS port no plaintext at all, just
        // the close (memcached writes its line there too).
        let mut extra = Client::connect_plain(server.addr());
        if !target.is_tls() {
            assert_eq!(
                extra.read_line().unwrap(),
                "ERROR Too many open connections",
                "{}",
                target.name
            );
        }
        assert!(
            extra.expect_eof().is_ok(),
            "{}: closed after the error",
            target.name
        );
        if let Some(tls) = server.tls() {
            // A TLS client sees that refusal as a failed handshake.
            let r = Client::connect_tls(server.addr(), tls).and_then(|mut c| c.request("version"));
            assert!(r.is_err(), "{}: over the limit: {r:?}", target.name);
        }
        assert!(held[0].request("version").unwrap().starts_with("VERSION "));
        drop(held.pop());
        // The freed slot is usable once the server has seen the close.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let mut c = server.client();
            match c.request("version") {
                Ok(l) if l.starts_with("VERSION ") => break,
                other => assert!(Instant::now() < deadline, "{}: {other:?}", target.name),
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut c = held.pop().unwrap();
        assert!(
            c.stats().num("rejected_connections") >= 1,
            "{}",
            target.name
        );
    }
}

#[test]
fn sigterm_and_sigint_shut_down_cleanly() {
    for target in targets!() {
        for sig in ["-TERM", "-INT"] {
            let mut server = Server::start(&target, &[]);
            let mut c = server.client();
            assert!(c.request("version").unwrap().starts_with("VERSION "));
            signal(server.pid(), sig);
            let deadline = Instant::now() + Duration::from_secs(10);
            let status = loop {
                if let Some(s) = server.exit_status() {
                    break s;
                }
                assert!(
                    Instant::now() < deadline,
                    "{}: still running after {sig}",
                    target.name
                );
                std::thread::sleep(Duration::from_millis(10));
            };
            assert!(status.success(), "{}: {sig} -> {status}", target.name);
            assert!(
                c.expect_eof().is_ok(),
                "{}: client connection closed",
                target.name
            );
        }
    }
}

#[test]
fn shutdown_command_with_dash_a_exits_zero() {
    for target in targets!() {
        for (args, command) in [
            (&["-A"][..], "shutdown"),
            (&["-A"][..], "shutdown graceful"),
            (&["--enable-shutdown"][..], "shutdown"),
        ] {
            let mut server = Server::start(&target, args);
            let mut idle = server.client();
            assert!(idle.request("version").unwrap().starts_with("VERSION "));
            let mut c = server.client();
            assert_eq!(c.request("set k 0 0 1\r\nx").unwrap(), "STORED");
            c.send_line(command).unwrap();
            // no reply for shutdown itself
            assert!(c.expect_eof().is_ok(), "{}: {command}", target.name);
            let status = server.wait_exit(Duration::from_secs(10), command);
            assert!(status.success(), "{}: {command} -> {status}", target.name);
            assert!(idle.expect_eof().is_ok(), "{}: idle client", target.name);
        }
        // Without -A it is refused and the server stays up.
        let server = Server::start(&target, &[]);
        let mut c = server.client();
        assert_eq!(
            c.request("shutdown").unwrap(),
            "ERROR: shutdown not enabled",
            "{}",
            target.name
        );
        assert!(c.request("version").unwrap().starts_with("VERSION "));
    }
}

#[test]
fn idle_timeout_closes_only_idle_connections() {
    for target in targets!() {
        for args in [&["-o", "idle_timeout=1"][..], &["--idle-timeout", "1"][..]] {
            let server = Server::start(&target, args);
            let t = target.name;
            let mut idle = server.client();
            assert!(idle.request("version").unwrap().starts_with("VERSION "));
            let mut busy = server.client();
            // mid data block: memcached does not kick a connection reading one
            let mut uploading = server.client();
            uploading.send(b"set up 0 0 4\r\nab").unwrap();
            let start = Instant::now();
            while start.elapsed() < Duration::from_millis(3200) {
                assert!(
                    busy.request("version").unwrap().starts_with("VERSION "),
                    "{t}"
                );
                std::thread::sleep(Duration::from_millis(400));
            }
            assert!(idle.expect_eof().is_ok(), "{t}: idle connection still open");
            uploading.send(b"cd\r\n").unwrap();
            assert_eq!(uploading.read_line().unwrap(), "STORED", "{t}");
            assert_eq!(busy.stats().num("idle_kicks"), 1, "{t} {args:?}");
        }
        // off by default: no idle_kicks line, as memcached
        let server = Server::start(&target, &[]);
        assert!(
            !server.client().stats().0.contains_key("idle_kicks"),
            "{}",
            target.name
        );
    }
}

fn start_error(target: &Target, args: &[&str]) -> (i32, String) {
    require_built(target);
    let out = Command::new(&target.program)
        .args(&target.args)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_start_up_arguments_are_clear_errors() {
    for target in targets!() {
        let cases: &[(&[&str], &str)] = &[
            (&["--storage", "nosuch"], "unknown storage engine 'nosuch'"),
            (&["--protocol", "nosuch"], "unknown protocol 'nosuch'"),
            (&["-p", "70000"], "invalid port '70000'"),
            (&["-m", "abc"], "invalid memory limit 'abc'"),
            (&["-t", "0"], "invalid thread count '0'"),
            (
                &["-I", "512"],
                "item max size cannot be less than 1024 bytes",
            ),
            (&["-m", "2", "-I", "2m"], "higher than 1/2 of memory max"),
            (&["--bogus"], "unknown option '--bogus'"),
        ];
        for (args, want) in cases {
            let (code, err) = start_error(&target, args);
            assert_ne!(code, 0, "{}: {args:?}", target.name);
            assert!(
                err.contains(want),
                "{}: {args:?}: stderr {err:?}",
                target.name
            );
        }
        let out = Command::new(&target.program)
            .arg("--help")
            .output()
            .unwrap();
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).contains("--storage"));
        let out = Command::new(&target.program).arg("-V").output().unwrap();
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("molt "));
    }
}
