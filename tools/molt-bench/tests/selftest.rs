//! End-to-end runs of the binary: against small fake servers that misbehave
//! (always), and against memcached 1.6 on loopback (when it is installed).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_molt-bench");

fn bench(port: u16, extra: &[&str]) -> (Output, serde_json::Value) {
    let out = Command::new(BIN)
        .args(["--port", &port.to_string(), "--json", "-", "--quiet"])
        .args(extra)
        .output()
        .expect("run molt-bench");
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON ({e}); stderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out, json)
}

/// A one-connection-per-thread server answering with `reply(line)`; set
/// payloads are read and dropped.
fn fake_server(reply: fn(&str) -> String) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    thread::spawn(move || {
        for s in l.incoming() {
            let Ok(s) = s else { return };
            thread::spawn(move || {
                let mut w = s.try_clone().unwrap();
                let mut r = BufReader::new(s);
                let mut line = String::new();
                while r.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                    let l = line.trim_end().to_string();
                    if l.starts_with("set ") {
                        let len: usize = l.rsplit(' ').next().unwrap().parse().unwrap();
                        let mut data = vec![0; len + 2];
                        if r.read_exact(&mut data).is_err() {
                            return;
                        }
                    }
                    if w.write_all(reply(&l).as_bytes()).is_err() {
                        return;
                    }
                    line.clear();
                }
            });
        }
    });
    port
}

fn corrupting(line: &str) -> String {
    match line.strip_prefix("get ") {
        Some(keys) => {
            let k = keys.split(' ').next().unwrap();
            format!("VALUE {k} 0 5\r\nXXXXX\r\nEND\r\n")
        }
        None => "STORED\r\n".into(),
    }
}

fn failing_sets(line: &str) -> String {
    if line.starts_with("get ") {
        "END\r\n".into()
    } else {
        "SERVER_ERROR out of memory storing object\r\n".into()
    }
}

/// Answers every request right, 5 ms late.
fn slow(line: &str) -> String {
    thread::sleep(Duration::from_millis(5));
    failing_sets(line).replace("SERVER_ERROR out of memory storing object", "STORED")
}

fn garbage(_: &str) -> String {
    "HELLO\r\n".into()
}

const SHORT: &[&str] = &["-c", "1", "--warmup", "0", "--duration", "0.3"];

#[test]
fn wrong_values_fail_the_run() {
    let mut args = SHORT.to_vec();
    args.extend(["--ratio", "1:1"]);
    let (out, j) = bench(fake_server(corrupting), &args);
    assert_eq!(out.status.code(), Some(1));
    assert!(j["results"]["wrong"].as_u64().unwrap() > 0, "{j}");
    assert_eq!(j["results"]["errors"], 0);
}

#[test]
fn error_replies_fail_the_run() {
    let mut args = SHORT.to_vec();
    args.extend(["--ratio", "1:1"]);
    let (out, j) = bench(fake_server(failing_sets), &args);
    assert_eq!(out.status.code(), Some(1));
    assert!(j["results"]["errors"].as_u64().unwrap() > 0, "{j}");
    assert!(j["results"]["misses"].as_u64().unwrap() > 0);
    assert_eq!(j["results"]["wrong"], 0);
}

#[test]
fn misses_are_wrong_with_expect_hits() {
    let mut args = SHORT.to_vec();
    args.extend(["--ratio", "1:0", "--expect-hits"]);
    let (out, j) = bench(fake_server(failing_sets), &args);
    assert_eq!(out.status.code(), Some(1));
    assert!(j["results"]["wrong"].as_u64().unwrap() > 0);
}

#[test]
fn garbage_is_an_error_and_the_run_ends() {
    let t = Instant::now();
    let mut args = SHORT.to_vec();
    args.extend(["--rate", "1000"]);
    let (out, j) = bench(fake_server(garbage), &args);
    assert_eq!(out.status.code(), Some(1));
    assert!(j["results"]["errors"].as_u64().unwrap() > 0);
    assert!(t.elapsed() < Duration::from_secs(10));
}

#[test]
fn refuses_remote_hosts_and_bad_options() {
    let out = Command::new(BIN)
        .args(["--host", "192.0.2.1", "--duration", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--allow-remote"));
    let out = Command::new(BIN).args(["--ratio", "x"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

struct Memcached {
    child: Child,
    port: u16,
}

impl Drop for Memcached {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// memcached 1.6 on a free loopback port, or None if it is not installed.
fn memcached() -> Option<Memcached> {
    let port = TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let mut cmd = Command::new("memcached");
    cmd.args([
        "-l",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "-U",
        "0",
        "-t",
        "1",
        "-m",
        "64",
    ]);
    if is_root() {
        cmd.args(["-u", "nobody"]);
    }
    let child = match cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn() {
        Ok(c) => c,
        Err(_) => {
            eprintln!("memcached not found: skipping");
            return None;
        }
    };
    let m = Memcached { child, port };
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "memcached did not start");
        thread::sleep(Duration::from_millis(20));
    }
    Some(m)
}

#[test]
fn memcached_closed_loop_preloaded() {
    let Some(m) = memcached() else { return };
    let (out, j) = bench(
        m.port,
        &[
            "--flush",
            "--preload",
            "--expect-hits",
            "-c",
            "2",
            "-d",
            "4",
            "--keys",
            "2000",
            "--warmup",
            "0.2",
            "--duration",
            "1",
        ],
    );
    let r = &j["results"];
    assert_eq!(out.status.code(), Some(0), "{j}");
    assert!(r["ops"].as_u64().unwrap() > 1000, "{r}");
    assert!(r["hits"].as_u64().unwrap() > 0);
    assert_eq!(r["misses"], 0);
    assert_eq!(r["preload"]["keys"], 2000);
    assert_eq!(j["config"]["mode"], "closed");
}

#[test]
fn memcached_open_loop_keeps_the_rate() {
    let Some(m) = memcached() else { return };
    let (out, j) = bench(
        m.port,
        &[
            "--flush",
            "--rate",
            "2000",
            "--warmup",
            "0.2",
            "--duration",
            "1",
        ],
    );
    let r = &j["results"];
    assert_eq!(out.status.code(), Some(0), "{j}");
    let ops = r["ops"].as_u64().unwrap();
    assert!((1900..=2100).contains(&ops), "{ops}");
    assert!(r["send_lag_us"]["count"].as_u64().unwrap() > 0);
    assert_eq!(j["config"]["mode"], "open");
}

#[test]
fn memcached_open_loop_pipelined() {
    let Some(m) = memcached() else { return };
    // depth > 1: writer and reader threads per connection
    let (out, j) = bench(
        m.port,
        &[
            "--flush",
            "--preload",
            "--rate",
            "3000",
            "-c",
            "2",
            "-d",
            "4",
            "-m",
            "3",
            "--expect-hits",
            "--warmup",
            "0.2",
            "--duration",
            "1",
        ],
    );
    let r = &j["results"];
    assert_eq!(out.status.code(), Some(0), "{j}");
    let ops = r["ops"].as_u64().unwrap();
    assert!((2900..=3100).contains(&ops), "{ops}");
    assert_eq!(r["misses"], 0);
}

#[test]
fn memcached_large_pipelined_multigets() {
    let Some(m) = memcached() else { return };
    // 64 requests of up to 8 KB per batch: the interleaved write path.
    let (out, j) = bench(
        m.port,
        &[
            "--flush",
            "-c",
            "2",
            "-d",
            "64",
            "--value-size",
            "1000-8000",
            "--ratio",
            "1:1",
            "-m",
            "4",
            "--keys",
            "500",
            "--warmup",
            "0",
            "--duration",
            "0.5",
        ],
    );
    let r = &j["results"];
    assert_eq!(out.status.code(), Some(0), "{j}");
    assert!(r["hits"].as_u64().unwrap() > 0, "{r}");
}

#[test]
fn memcached_request_count() {
    let Some(m) = memcached() else { return };
    // threaded closed loop; one thread, open loop, pipelined
    for mode in [&[][..], &["--one-thread", "-d", "3", "--rate", "20000"]] {
        let mut args = vec![
            "--flush",
            "-n",
            "1001",
            "-c",
            "7",
            "--warmup",
            "0",
            "--duration",
            "20",
        ];
        args.extend_from_slice(mode);
        let (out, j) = bench(m.port, &args);
        let r = &j["results"];
        assert_eq!(out.status.code(), Some(0), "{mode:?}: {j}");
        assert_eq!(r["ops"], 1001, "{mode:?}");
        assert!(r["measured_secs"].as_f64().unwrap() < 20.0);
    }
}

#[test]
fn one_thread_garbage_is_an_error_and_the_run_ends() {
    let t = Instant::now();
    let args = [
        "-c",
        "3",
        "--warmup",
        "0",
        "--duration",
        "0.3",
        "--one-thread",
        "--rate",
        "1000",
    ];
    let (out, j) = bench(fake_server(garbage), &args);
    assert_eq!(out.status.code(), Some(1));
    assert!(j["results"]["errors"].as_u64().unwrap() >= 3, "{j}");
    assert!(t.elapsed() < Duration::from_secs(10));
}

#[test]
fn one_thread_wrong_values_fail_the_run() {
    let args = [
        "-c",
        "4",
        "-d",
        "2",
        "--warmup",
        "0",
        "--duration",
        "0.3",
        "--one-thread",
        "--ratio",
        "1:1",
    ];
    let (out, j) = bench(fake_server(corrupting), &args);
    assert_eq!(out.status.code(), Some(1));
    assert!(j["results"]["wrong"].as_u64().unwrap() > 0, "{j}");
    assert_eq!(j["results"]["errors"], 0);
}

#[test]
fn memcached_one_thread_100_connections_open_loop() {
    let Some(m) = memcached() else { return };
    // Workload (a): 100 connections, one request in flight each, Poisson
    // arrivals, every reply verified and every get a hit.
    let (out, j) = bench(
        m.port,
        &[
            "--one-thread",
            "--arrivals",
            "poisson",
            "-c",
            "100",
            "--flush",
            "--preload",
            "--expect-hits",
            "--keys",
            "5000",
            "--rate",
            "4000",
            "--warmup",
            "0.2",
            "--duration",
            "1.5",
        ],
    );
    let r = &j["results"];
    assert_eq!(out.status.code(), Some(0), "{j}");
    assert_eq!(
        (r["wrong"].as_u64(), r["errors"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(r["misses"], 0);
    // 6,000 intended in 1.5 s; Poisson: within 4 standard deviations
    let ops = r["ops"].as_u64().unwrap();
    assert!((5690..=6310).contains(&ops), "{ops}");
    let lag = &r["send_lag_us"];
    assert_eq!(lag["count"].as_u64(), Some(ops));
    for p in ["p50", "p90", "p99", "p999"] {
        let cell = &r["reportable_us"][p];
        assert!(
            cell.is_u64() || cell == "client-bound",
            "{p}: {cell} in {r}"
        );
        // a number is reported only when the lag is within 10% of it
        if let Some(v) = cell.as_u64() {
            assert_eq!(v, r["latency_us"]["all"][p].as_u64().unwrap());
            assert!(lag[p].as_u64().unwrap() * 10 <= v, "{p} {r}");
        }
    }
    // flush + 5,000 preloaded sets + the measured requests
    assert!(r["verified_replies"].as_u64().unwrap() > ops + 5000);
}

#[test]
fn memcached_one_thread_closed_loop_pipelined_multigets() {
    let Some(m) = memcached() else { return };
    let (out, j) = bench(
        m.port,
        &[
            "--one-thread",
            "-c",
            "4",
            "-d",
            "16",
            "-m",
            "10",
            "--flush",
            "--preload",
            "--expect-hits",
            "--keys",
            "3000",
            "--value-size",
            "10-3000",
            "--warmup",
            "0.1",
            "--duration",
            "0.7",
        ],
    );
    let r = &j["results"];
    assert_eq!(out.status.code(), Some(0), "{j}");
    assert_eq!(j["config"]["mode"], "closed");
    assert!(r["ops"].as_u64().unwrap() > 500, "{r}");
    assert_eq!(
        r["get_keys"].as_u64(),
        Some(r["gets"].as_u64().unwrap() * 10)
    );
    assert_eq!(r["misses"], 0);
    assert!(r["send_lag_us"].is_null() && r["reportable_us"].is_null());
}

#[test]
fn server_delay_is_latency_not_send_lag() {
    // 1,000 requests/s intended on one connection against a server that
    // takes 5 ms a reply: requests queue behind the window. Their wait is
    // the server's (latency from the intended time grows), not the
    // client's (send lag stays small), in every open-loop driver.
    for mode in [
        &["--one-thread"][..],
        &[],          // threaded, depth 1: one thread sends and reads
        &["-d", "2"], // threaded, depth 2: a writer and a reader thread
    ] {
        let mut args = vec![
            "-c",
            "1",
            "--warmup",
            "0",
            "--duration",
            "0.3",
            "--rate",
            "1000",
            "--ratio",
            "1:1",
            "--timeout",
            "2",
        ];
        args.extend_from_slice(mode);
        let (out, j) = bench(fake_server(slow), &args);
        let r = &j["results"];
        assert_eq!(out.status.code(), Some(0), "{mode:?}: {j}");
        let lat = &r["latency_us"]["all"];
        let lag = &r["send_lag_us"];
        // 300 intended in 0.3 s, one answered every 5 ms: the last one
        // waited over a second since its intended time
        assert!(lat["max"].as_u64().unwrap() > 200_000, "{mode:?}: {r}");
        assert!(lat["p50"].as_u64().unwrap() > 100_000, "{mode:?}: {r}");
        assert!(lag["p50"].as_u64().unwrap() < 2_000, "{mode:?}: {r}");
        assert_eq!(r["reportable_us"]["p50"], lat["p50"], "{mode:?}");
    }
}
