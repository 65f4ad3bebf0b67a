//! Hostile clients, against every target (MOLT_TARGETS=name[,name] for a
//! subset, MOLT_C_BIN for another molt-c such as the ASan build): thousands
//! of idle connections, slowloris writers, an endless line, huge multi-gets,
//! data blocks longer or shorter than announced, binary garbage, binary
//! protocol frames that lie (the `--protocol rust` targets), a
//! connection flood beyond -c and a set flood beyond -m.
//!
//! Throughout, a well-behaved client keeps getting correct answers, the
//! server's RSS (/proc/PID/status VmRSS) stays under a generous bound (the
//! measured values are printed: run with --nocapture), and the server never
//! exits. Tests take a lock so that their RSS readings and file descriptor
//! use do not mix. No timed assertions beyond generous I/O timeouts.

use molt_test_support::{io_error_name, targets, Client, Server, Target};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn selected() -> Vec<Target> {
    targets::selected_by_env(targets!())
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Soft RLIMIT_NOFILE of this process (the server inherits the same).
fn nofile_soft_limit() -> u64 {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3).map(str::to_string))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024)
}

fn assert_alive(server: &mut Server, what: &str) {
    if let Some(st) = server.exit_status() {
        panic!(
            "{}: server exited ({st}) during {what}; stderr:\n{}",
            server.target_name(),
            server.stderr_text()
        );
    }
}

/// The well-behaved client: set a fresh value, read it back exactly.
fn good_roundtrip(c: &mut Client, server: &mut Server, n: usize) {
    assert!(good_try(c, server, n, false));
}

/// As good_roundtrip; with allow_miss a miss (the fresh key already
/// evicted, legal under memory pressure) returns false; a wrong value
/// always fails.
fn good_try(c: &mut Client, server: &mut Server, n: usize, allow_miss: bool) -> bool {
    let name = server.target_name();
    let key = format!("good:{n}");
    let value = format!("value-{n}-{}", "v".repeat(n % 50));
    let r = (|| -> std::io::Result<bool> {
        let reply = c.request(&format!("set {key} 3 0 {}\r\n{value}", value.len()))?;
        assert_eq!(reply, "STORED", "{name}: set {key}");
        c.send_line(&format!("get {key}"))?;
        let line = c.read_line()?;
        if allow_miss && line == "END" {
            return Ok(false);
        }
        assert_eq!(
            line,
            format!("VALUE {key} 3 {}", value.len()),
            "{name}: get {key}"
        );
        let data = c.read_exact(value.len() + 2)?;
        assert_eq!(
            data,
            format!("{value}\r\n").as_bytes(),
            "{name}: value of {key}"
        );
        assert_eq!(c.read_line()?, "END", "{name}");
        Ok(true)
    })();
    match r {
        Ok(hit) => hit,
        Err(e) => {
            assert_alive(server, "a well-behaved request");
            panic!("{name}: well-behaved client failed: {e}");
        }
    }
}

/// Reads until EOF (or reset); returns the bytes, or Err on a timeout.
fn read_to_close(s: &mut impl Read) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Ok(out),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return Ok(out),
            Err(e) => return Err(format!("{} after {} bytes", io_error_name(&e), out.len())),
        }
    }
}

#[test]
fn thousands_of_idle_connections() {
    let _g = serial();
    let soft = nofile_soft_limit();
    // Leave room for this process's other descriptors.
    let want = soft.saturating_sub(200).min(4000) as usize;
    if want < 900 {
        eprintln!(
            "hostile: RLIMIT_NOFILE soft limit is {soft}: only {want} idle connections \
             possible (raise `ulimit -n` for the full test)"
        );
    }
    for target in selected() {
        let mut server = Server::start(&target, &["-c", "5000", "-t", "4"]);
        let mut good = server.client();
        good_roundtrip(&mut good, &mut server, 0);
        let base = rss_kib(server.pid());
        let started = Instant::now();
        let mut idle = Vec::with_capacity(want);
        for i in 0..want {
            match TcpStream::connect_timeout(&server.addr(), Duration::from_secs(5)) {
                Ok(s) => idle.push(s),
                Err(e) => panic!("{}: idle connection {i} of {want}: {e}", target.name),
            }
            if i % 500 == 499 {
                good_roundtrip(&mut good, &mut server, i);
            }
        }
        // Every idle connection is accepted and served: each answers. (A
        // TLS target's idle sockets never start a handshake: they stay
        // plain TCP here, held by the server mid-handshake.)
        let step = if server.is_tls() { usize::MAX } else { 97 };
        for (i, s) in idle
            .iter_mut()
            .enumerate()
            .step_by(step)
            .skip(usize::from(server.is_tls()))
        {
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            s.write_all(b"version\r\n").unwrap();
            let mut buf = [0u8; 64];
            let n = s.read(&mut buf).unwrap_or(0);
            assert!(
                buf[..n].starts_with(b"VERSION "),
                "{}: idle connection {i} answered {:?}",
                target.name,
                String::from_utf8_lossy(&buf[..n])
            );
        }
        good_roundtrip(&mut good, &mut server, want);
        let held = rss_kib(server.pid());
        eprintln!(
            "hostile[{}]: {} idle connections in {:.1?}: RSS {base} KiB -> {held} KiB ({:.1} KiB/conn)",
            target.name,
            idle.len(),
            started.elapsed(),
            (held.saturating_sub(base)) as f64 / idle.len().max(1) as f64
        );
        // Two 16 KiB buffers per connection, mostly untouched: allow 64 KiB.
        assert!(
            held < base + 64 * idle.len() as u64 + 32 * 1024,
            "{}: RSS {held} KiB with {} idle connections (base {base})",
            target.name,
            idle.len()
        );
        drop(idle);
        good_roundtrip(&mut good, &mut server, want + 1);
        assert_alive(&mut server, "idle connections");
    }
}

#[test]
fn slowloris_clients_do_not_block_others() {
    let _g = serial();
    for target in selected() {
        let mut server = Server::start(&target, &["-t", "2"]);
        let addr = server.addr();
        let slow: Vec<_> = (0..24)
            .map(|i| {
                std::thread::spawn(move || -> Result<(), String> {
                    // Client::try_connect speaks TLS to a TLS target: one
                    // byte per record then.
                    let mut s = Client::try_connect(addr).map_err(|e| e.to_string())?;
                    let value = format!("slow-value-{i}");
                    let req = format!(
                        "set slow:{i} 0 0 {}\r\n{value}\r\nget slow:{i} nothere:{i}\r\n",
                        value.len()
                    );
                    for b in req.as_bytes() {
                        s.send(&[*b]).map_err(|e| e.to_string())?;
                        std::thread::sleep(Duration::from_millis(3));
                    }
                    let want = format!(
                        "STORED\r\nVALUE slow:{i} 0 {}\r\n{value}\r\nEND\r\n",
                        value.len()
                    );
                    let got = s.read_exact(want.len()).map_err(|e| e.to_string())?;
                    if got != want.as_bytes() {
                        return Err(format!(
                            "slow client {i} got {:?}",
                            String::from_utf8_lossy(&got)
                        ));
                    }
                    Ok(())
                })
            })
            .collect();
        let mut good = server.client();
        let mut n = 0;
        while !slow.iter().all(|h| h.is_finished()) {
            good_roundtrip(&mut good, &mut server, n);
            n += 1;
            std::thread::sleep(Duration::from_millis(5));
        }
        for h in slow {
            h.join()
                .unwrap()
                .unwrap_or_else(|e| panic!("{}: {e}", target.name));
        }
        eprintln!(
            "hostile[{}]: 24 slowloris clients (one byte / 3 ms); {n} good round trips meanwhile; RSS {} KiB",
            target.name,
            rss_kib(server.pid())
        );
        assert!(n > 0);
        assert_alive(&mut server, "slowloris");
    }
}

#[test]
fn an_endless_line_is_cut_off_and_memory_stays_bounded() {
    let _g = serial();
    for target in selected() {
        let mut server = Server::start(&target, &["-t", "2"]);
        let base = rss_kib(server.pid());
        let mut peak = base;
        // Eight at once: each may buffer up to its line limit, no more.
        let addr = server.addr();
        let writers: Vec<_> = (0..8)
            .map(|_| {
                std::thread::spawn(move || -> Result<Vec<u8>, String> {
                    let mut c = Client::try_connect(addr).map_err(|e| e.to_string())?;
                    let mut s = c.try_clone_stream().map_err(|e| e.to_string())?;
                    let reader = std::thread::spawn(move || read_to_close(&mut c.stream()));
                    let chunk = vec![b'a'; 64 * 1024];
                    let mut sent = 0usize;
                    // Up to 64 MiB: far beyond any limit; stop when refused.
                    while sent < 64 << 20 {
                        if s.write_all(&chunk).is_err() {
                            break;
                        }
                        sent += chunk.len();
                    }
                    let _ = s.shutdown(Shutdown::Write);
                    let got = reader.join().map_err(|_| "reader panicked".to_string())??;
                    if sent >= 64 << 20 {
                        return Err(format!("server accepted {sent} bytes of one line"));
                    }
                    Ok(got)
                })
            })
            .collect();
        while !writers.iter().all(|h| h.is_finished()) {
            peak = peak.max(rss_kib(server.pid()));
            std::thread::sleep(Duration::from_millis(5));
        }
        for h in writers {
            let got = h
                .join()
                .unwrap()
                .unwrap_or_else(|e| panic!("{}: {e}", target.name));
            // As memcached: a non-get line over 2,048 bytes is hung up on
            // without a reply (a get line is cut at 1 MiB with
            // "CLIENT_ERROR line too long").
            assert_eq!(String::from_utf8_lossy(&got), "", "{}", target.name);
        }
        let after = rss_kib(server.pid());
        eprintln!(
            "hostile[{}]: 8 endless lines: RSS base {base} KiB, peak {peak} KiB, after {after} KiB",
            target.name
        );
        // Each connection holds at most ~2 MiB (max item + max line) of input.
        assert!(
            peak < base + 8 * 4 * 1024 + 32 * 1024,
            "{}: RSS peak {peak} KiB (base {base})",
            target.name
        );
        let mut good = server.client();
        good_roundtrip(&mut good, &mut server, 1);
        assert_alive(&mut server, "endless lines");
    }
}

#[test]
fn multi_get_of_thousands_of_keys() {
    let _g = serial();
    for target in selected() {
        let mut server = Server::start(&target, &["-t", "2", "-m", "128"]);
        let mut c = server.client();
        // 1) 5000 keys in one line, every 10th present.
        let mut req = Vec::new();
        for i in (0..5000).step_by(10) {
            req.extend_from_slice(
                format!("set mk:{i} {i} 0 {}\r\nv{i}\r\n", format!("v{i}").len()).as_bytes(),
            );
        }
        c.send(&req).unwrap();
        for _ in (0..5000).step_by(10) {
            assert_eq!(c.read_line().unwrap(), "STORED", "{}", target.name);
        }
        let keys: Vec<String> = (0..5000).map(|i| format!("mk:{i}")).collect();
        c.send_line(&format!("get {}", keys.join(" "))).unwrap();
        for i in (0..5000).step_by(10) {
            let v = format!("v{i}");
            assert_eq!(
                c.read_line().unwrap(),
                format!("VALUE mk:{i} {i} {}", v.len()),
                "{}",
                target.name
            );
            assert_eq!(
                c.read_exact(v.len() + 2).unwrap(),
                format!("{v}\r\n").as_bytes()
            );
        }
        assert_eq!(c.read_line().unwrap(), "END", "{}", target.name);

        // 2) 10 values of 64 KiB asked for 100 times each in one line: 64 MiB
        // of replies. The server must stream them (pausing while the client
        // is slow), not buffer them all.
        let big =
            |i: usize| -> Vec<u8> { (0..65536).map(|k| b'a' + ((i + k) % 26) as u8).collect() };
        for i in 0..10 {
            let mut r = format!("set big:{i} 0 0 65536\r\n").into_bytes();
            r.extend_from_slice(&big(i));
            r.extend_from_slice(b"\r\n");
            c.send(&r).unwrap();
            assert_eq!(c.read_line().unwrap(), "STORED");
        }
        let base = rss_kib(server.pid());
        let line: Vec<String> = (0..1000).map(|k| format!("big:{}", k % 10)).collect();
        c.send_line(&format!("get {}", line.join(" "))).unwrap();
        std::thread::sleep(Duration::from_millis(300)); // a slow reader
        let stalled = rss_kib(server.pid());
        let mut peak = stalled;
        let mut good = server.client();
        for k in 0..1000 {
            assert_eq!(
                c.read_line().unwrap(),
                format!("VALUE big:{} 0 65536", k % 10)
            );
            let v = c.read_exact(65538).unwrap();
            assert!(
                v[..65536] == big(k % 10)[..] && &v[65536..] == b"\r\n",
                "{}: value {k}",
                target.name
            );
            if k % 100 == 0 {
                peak = peak.max(rss_kib(server.pid()));
                good_roundtrip(&mut good, &mut server, k);
            }
        }
        assert_eq!(c.read_line().unwrap(), "END");
        eprintln!(
            "hostile[{}]: 5000-key get ok; 1000 x 64 KiB get (64 MiB out): RSS before {base} KiB, \
             while stalled {stalled} KiB, peak {peak} KiB",
            target.name
        );
        assert!(
            peak < base + 32 * 1024,
            "{}: RSS peak {peak} KiB (base {base}) while streaming a 64 MiB reply",
            target.name
        );
        assert_alive(&mut server, "multi-gets");
    }
}

#[test]
fn data_blocks_longer_or_shorter_than_announced() {
    let _g = serial();
    for target in selected() {
        let mut server = Server::start(&target, &["-t", "2"]);
        let name = target.name;
        // Longer than announced: bad data chunk, the rest parsed as commands.
        let mut c = server.client();
        c.send(b"set long 0 0 3\r\nabcdefgh\r\nversion\r\n")
            .unwrap();
        assert_eq!(
            c.read_line().unwrap(),
            "CLIENT_ERROR bad data chunk",
            "{name}"
        );
        let mut l = c.read_line().unwrap();
        while !l.starts_with("VERSION ") {
            assert!(
                l.starts_with("ERROR") || l.starts_with("CLIENT_ERROR"),
                "{name}: {l}"
            );
            l = c.read_line().unwrap();
        }
        c.send_line("get long").unwrap();
        assert_eq!(c.read_line().unwrap(), "END", "{name}: nothing stored");
        // Shorter than announced: the next line becomes part of the block.
        let mut c = server.client();
        c.send(b"set short 0 0 10\r\nabc\r\nget x\r\n").unwrap();
        assert_eq!(c.read_line().unwrap(), "STORED", "{name}");
        c.send_line("get short").unwrap();
        assert_eq!(c.read_line().unwrap(), "VALUE short 0 10");
        assert_eq!(c.read_exact(12).unwrap(), b"abc\r\nget x\r\n");
        assert_eq!(c.read_line().unwrap(), "END");
        // Shorter, then the client leaves: nothing stored, no hang.
        let mut s = server.client();
        s.send(b"set gone 0 0 100\r\nonly a little").unwrap();
        s.shutdown_write();
        assert_eq!(s.expect_eof(), Ok(()), "{name}");
        // A huge announced length (the most memcached accepts, INT_MAX - 2):
        // refused, and the block is swallowed.
        let mut c = server.client();
        c.send(b"set huge 0 0 2147483645\r\n").unwrap();
        assert_eq!(
            c.read_line().unwrap(),
            "SERVER_ERROR object too large for cache",
            "{name}"
        );
        c.send(&vec![b'z'; 1 << 20]).unwrap();
        // Negative, non-numeric, over INT_MAX - 2 and beyond 64 bits:
        // format errors, as memcached.
        let mut c = server.client();
        for bad in [
            "set neg 0 0 -1",
            "set nan 0 0 abc",
            "set big 0 0 2147483646",
            "set big 0 0 99999999999999999999",
        ] {
            assert_eq!(
                c.request(bad).unwrap(),
                "CLIENT_ERROR bad command line format",
                "{name}: {bad}"
            );
        }
        let mut good = server.client();
        good_roundtrip(&mut good, &mut server, 7);
        eprintln!(
            "hostile[{name}]: long/short/huge/negative data blocks handled; RSS {} KiB",
            rss_kib(server.pid())
        );
        assert_alive(&mut server, "bad data blocks");
    }
}

#[test]
fn random_binary_garbage() {
    let _g = serial();
    for target in selected() {
        let mut server = Server::start(&target, &["-t", "2"]);
        let base = rss_kib(server.pid());
        let mut good = server.client();
        let mut x: u64 = 0x1234_5678_9abc_def0;
        for round in 0..40 {
            let n = 1 + (round * 7919) % (256 * 1024);
            let garbage: Vec<u8> = (0..n)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            let mut c = server.client();
            let mut s = c.try_clone_stream().unwrap();
            let reader = std::thread::spawn(move || read_to_close(&mut c.stream()));
            let _ = s.write_all(&garbage);
            let _ = s.shutdown(Shutdown::Write);
            reader
                .join()
                .unwrap()
                .unwrap_or_else(|e| panic!("{}: garbage round {round}: {e}", target.name));
            good_roundtrip(&mut good, &mut server, round);
        }
        let after = rss_kib(server.pid());
        eprintln!(
            "hostile[{}]: 40 connections of random bytes (up to 256 KiB): RSS {base} -> {after} KiB",
            target.name
        );
        assert!(after < base + 64 * 1024, "{}: RSS {after} KiB", target.name);
        assert_alive(&mut server, "garbage");
    }
}

#[test]
fn connection_flood_beyond_the_limit() {
    let _g = serial();
    for target in selected() {
        let limit = 64;
        let mut server = Server::start(&target, &["-c", &limit.to_string(), "-t", "2"]);
        let mut good = server.client();
        good_roundtrip(&mut good, &mut server, 0);
        let mut flood = Vec::new();
        for _ in 0..400 {
            if let Ok(s) = TcpStream::connect_timeout(&server.addr(), Duration::from_secs(5)) {
                flood.push(s);
            }
            good_roundtrip(&mut good, &mut server, flood.len());
        }
        std::thread::sleep(Duration::from_millis(300));
        let (mut rejected, mut open) = (0, 0);
        // Refused connections have their error and EOF queued by now; an
        // accepted idle one has nothing to read.
        for s in &mut flood {
            s.set_nonblocking(true).unwrap();
            let mut buf = [0u8; 128];
            match s.read(&mut buf) {
                Ok(n) if n > 0 => {
                    assert_eq!(
                        String::from_utf8_lossy(&buf[..n]),
                        "ERROR Too many open connections\r\n",
                        "{}",
                        target.name
                    );
                    rejected += 1;
                }
                Ok(_) => rejected += 1, // closed (reply raced the close)
                Err(e) if e.kind() == ErrorKind::ConnectionReset => rejected += 1,
                Err(e) if e.kind() == ErrorKind::WouldBlock => open += 1,
                Err(e) => panic!("{}: flood connection: {e}", target.name),
            }
        }
        eprintln!(
            "hostile[{}]: 400 connections against -c {limit}: {open} held, {rejected} refused; RSS {} KiB",
            target.name,
            rss_kib(server.pid())
        );
        assert!(
            open < limit,
            "{}: {open} connections held beyond -c {limit}",
            target.name
        );
        assert!(
            rejected >= 400 - limit,
            "{}: only {rejected} refused",
            target.name
        );
        drop(flood);
        good_roundtrip(&mut good, &mut server, 1000);
        // Slots come back once the server has seen the closes.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut c = server.client();
            match c.request("version") {
                Ok(l) if l.starts_with("VERSION ") => break,
                other => assert!(Instant::now() < deadline, "{}: {other:?}", target.name),
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_alive(&mut server, "connection flood");
    }
}

#[test]
fn set_flood_beyond_the_memory_limit() {
    let _g = serial();
    for target in selected() {
        let mut server = Server::start(&target, &["-m", "8", "-t", "2"]);
        let base = rss_kib(server.pid());
        let addr = server.addr();
        // 4 writers x 6000 x 8 KiB = 192 MiB through an 8 MiB cache.
        let writers: Vec<_> = (0..4)
            .map(|w| {
                std::thread::spawn(move || -> Result<u64, String> {
                    let mut c = Client::try_connect(addr).map_err(|e| e.to_string())?;
                    let value = vec![b'0' + w as u8; 8192];
                    let mut stored = 0u64;
                    for batch in 0..60 {
                        let mut req = Vec::new();
                        for i in 0..100 {
                            req.extend_from_slice(
                                format!("set flood:{w}:{batch}:{i} 0 0 {}\r\n", value.len())
                                    .as_bytes(),
                            );
                            req.extend_from_slice(&value);
                            req.extend_from_slice(b"\r\n");
                        }
                        c.send(&req).map_err(|e| e.to_string())?;
                        for _ in 0..100 {
                            let l = c.read_line().map_err(|e| e.to_string())?;
                            match l.as_str() {
                                "STORED" => stored += 1,
                                "SERVER_ERROR out of memory storing object" => {}
                                other => return Err(format!("writer {w}: {other}")),
                            }
                        }
                    }
                    Ok(stored)
                })
            })
            .collect();
        let mut good = server.client();
        let mut peak = base;
        let (mut n, mut misses) = (0, 0);
        while !writers.iter().all(|h| h.is_finished()) {
            // A fresh key may already be evicted by the flood: legal.
            if !good_try(&mut good, &mut server, n, true) {
                misses += 1;
            }
            n += 1;
            peak = peak.max(rss_kib(server.pid()));
        }
        let stored: u64 = writers
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap()
                    .unwrap_or_else(|e| panic!("{}: {e}", target.name))
            })
            .sum();
        good.send_line("stats").unwrap();
        let (mut bytes, mut limit) = (0u64, 0u64);
        loop {
            let l = good.read_line().unwrap();
            if l == "END" {
                break;
            }
            let f: Vec<&str> = l.split(' ').collect();
            match f.get(1) {
                Some(&"bytes") => bytes = f[2].parse().unwrap(),
                Some(&"limit_maxbytes") => limit = f[2].parse().unwrap(),
                _ => {}
            }
        }
        eprintln!(
            "hostile[{}]: set flood 192 MiB into -m 8: {stored} stored, {n} good round trips \
             ({misses} read back as evicted), \
             bytes {bytes} / limit {limit}; RSS base {base} KiB, peak {peak} KiB",
            target.name
        );
        assert!(stored > 1000, "{}: only {stored} stored", target.name);
        assert!(
            misses < n,
            "{}: every fresh key was evicted at once",
            target.name
        );
        assert!(good_try(&mut good, &mut server, n + 1, false));
        assert!(
            bytes <= limit,
            "{}: bytes {bytes} > limit {limit}",
            target.name
        );
        assert!(
            peak < base + 96 * 1024,
            "{}: RSS peak {peak} KiB (base {base}) for an 8 MiB cache",
            target.name
        );
        assert_alive(&mut server, "set flood");
    }
}

/// A binary request header (then the caller's body bytes).
fn bin_header(op: u8, keylen: u16, extlen: u8, bodylen: u32) -> Vec<u8> {
    let mut h = vec![0x80, op];
    h.extend(keylen.to_be_bytes());
    h.extend([extlen, 0, 0, 0]);
    h.extend(bodylen.to_be_bytes());
    h.extend([0u8; 12]);
    h
}

/// Binary frames that lie, on the targets that speak binary (`--protocol
/// rust`; the C protocol answers binary bytes as text): lengths that
/// contradict each other, a 65,535-byte key, a body of 4 GiB announced (and 64 MiB of it sent), a bad magic mid-stream,
/// every opcode. Each is answered or closed; the server keeps serving and
/// its memory stays bounded.
#[test]
fn binary_frames_that_lie() {
    let _g = serial();
    let binary_targets = selected().into_iter().filter(|t| t.speaks_rust_protocol());
    for target in binary_targets {
        let mut server = Server::start(&target, &["-t", "2"]);
        let name = target.name;
        let base = rss_kib(server.pid());
        let noop = bin_header(0x0a, 0, 0, 0);
        // (frame, the reply's status when answered then closed)
        let closing: [(Vec<u8>, u16); 4] = [
            // keylen 5 > bodylen 4
            (
                [bin_header(0x00, 5, 0, 4), b"abcde".to_vec()].concat(),
                0x81,
            ),
            // extlen 8 + keylen 3 > bodylen 10
            ([bin_header(0x01, 3, 8, 10), vec![0; 11]].concat(), 0x81),
            // a 65535-byte key (held until it is in, as memcached does)
            (
                [bin_header(0x00, 65535, 0, 65535), vec![b'k'; 65535]].concat(),
                0x04,
            ),
            // a noop with a body
            ([bin_header(0x0a, 0, 0, 1), vec![1]].concat(), 0x04),
        ];
        for (frame, status) in closing {
            let mut c = server.client();
            c.send(&frame).unwrap();
            let got = read_to_close(&mut c.stream()).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(got.len() >= 24, "{name}: {got:?}");
            assert_eq!(got[0], 0x81, "{name}");
            assert_eq!(u16::from_be_bytes([got[6], got[7]]), status, "{name}");
        }
        // a bad magic after a noop: the noop's reply, then the close
        let mut c = server.client();
        c.send(&[noop.clone(), vec![0x42; 24]].concat()).unwrap();
        let got = read_to_close(&mut c.stream()).unwrap();
        assert_eq!(got.len(), 24, "{name}: {got:?}");
        // 4 GiB announced: Too large. at once, 64 MiB of the body skipped
        // without being held, then the next request answered
        let mut c = server.client();
        let mut set = bin_header(0x01, 1, 8, u32::MAX);
        set.extend([0u8; 8]);
        set.push(b'k');
        c.send(&set).unwrap();
        let reply = c.read_exact(24 + 10).unwrap();
        assert_eq!(&reply[..8], &[0x81, 0x01, 0, 0, 0, 0, 0, 3], "{name}");
        let chunk = vec![0x80u8; 1 << 20];
        for _ in 0..64 {
            c.send(&chunk).unwrap();
        }
        let during = rss_kib(server.pid());
        // the rest of the body never comes: the connection just closes
        c.shutdown_write();
        assert_eq!(c.expect_eof(), Ok(()), "{name}");
        // every opcode with a small body, then a noop: answered or closed
        for op in 0..=255u8 {
            let mut c = server.client();
            let frame = [bin_header(op, 1, 4, 9), b"1234k5678".to_vec(), noop.clone()].concat();
            c.send(&frame).unwrap();
            c.shutdown_write();
            let got = read_to_close(&mut c.stream()).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(
                got.is_empty() || got[0] == 0x81,
                "{name}: opcode {op:#x}: {got:?}"
            );
        }
        let mut good = server.client();
        good_roundtrip(&mut good, &mut server, 11);
        let after = rss_kib(server.pid());
        eprintln!(
            "hostile[{name}]: lying binary frames answered or closed; RSS {base} -> {during} (64 MiB body skipped) -> {after} KiB"
        );
        assert!(
            during < base + 32 * 1024,
            "{name}: RSS {during} KiB while skipping"
        );
        assert!(after < base + 64 * 1024, "{name}: RSS {after} KiB");
        assert_alive(&mut server, "lying binary frames");
    }
}
