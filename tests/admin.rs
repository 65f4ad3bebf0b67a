//! The HTTP admin endpoint (`--admin-port`): GET /metrics in the Prometheus
//! text format with exact counter values after a known request sequence,
//! GET /health, 404 and 405, a slow HTTP client that must neither block
//! other scrapes nor the data port, and `stats settings|items|slabs|sizes`.

use molt_test_support::{free_port, require_built, targets, Client, Server, Target};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// One HTTP/1.1 request on a fresh connection; returns (status, headers,
/// body). The server closes the connection after the response.
fn http(port: u16, request: &str) -> (u16, String, String) {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect admin");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read admin response");
    let text = String::from_utf8(raw).expect("utf-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("header/body separator");
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("status line: {head:?}"));
    assert!(head.starts_with("HTTP/1.1 "), "{head:?}");
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .expect("Content-Length")
        .parse()
        .unwrap();
    if !request.starts_with("HEAD ") {
        assert_eq!(len, body.len(), "Content-Length matches the body");
    }
    (status, head.to_string(), body.to_string())
}

fn get(port: u16, path: &str) -> (u16, String, String) {
    http(
        port,
        &format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: test\r\n\r\n"),
    )
}

/// Samples of a Prometheus text page: "name{labels}" -> value; checks that
/// every sample's family has # HELP and # TYPE lines before it.
fn parse_metrics(body: &str) -> HashMap<String, f64> {
    let mut typed: HashMap<String, String> = HashMap::new();
    let mut helped: Vec<String> = Vec::new();
    let mut out = HashMap::new();
    for line in body.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            helped.push(rest.split(' ').next().unwrap().to_string());
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut f = rest.split(' ');
            let name = f.next().unwrap().to_string();
            let kind = f.next().unwrap().to_string();
            assert!(
                ["counter", "gauge", "histogram", "summary"].contains(&kind.as_str()),
                "{line}"
            );
            typed.insert(name, kind);
            continue;
        }
        assert!(!line.starts_with('#') && !line.is_empty(), "{line:?}");
        let (key, value) = line.rsplit_once(' ').expect("sample line");
        let name = key.split('{').next().unwrap();
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suf| {
                name.strip_suffix(suf)
                    .filter(|f| typed.get(*f).map(String::as_str) == Some("histogram"))
            })
            .unwrap_or(name);
        assert!(typed.contains_key(family), "no # TYPE for {name}");
        assert!(helped.iter().any(|h| h == family), "no # HELP for {name}");
        if family == name && typed[family] == "counter" {
            assert!(name.ends_with("_total"), "counter {name} ends in _total");
        }
        let v: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("value in {line:?}"));
        assert!(out.insert(key.to_string(), v).is_none(), "duplicate {key}");
    }
    out
}

fn metric(m: &HashMap<String, f64>, key: &str) -> f64 {
    *m.get(key)
        .unwrap_or_else(|| panic!("no metric {key}; have {:?}", m.keys()))
}

fn start_with_admin(target: &Target, extra: &[&str]) -> (Server, u16) {
    let admin = free_port();
    let admin_s = admin.to_string();
    let mut args = vec!["--admin-port", admin_s.as_str()];
    args.extend_from_slice(extra);
    let server = Server::start(target, &args);
    // The admin thread starts with the workers, before the data port
    // accepts; still, give it a moment under load.
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(("127.0.0.1", admin)).is_err() {
        assert!(Instant::now() < deadline, "admin port never opened");
        std::thread::sleep(Duration::from_millis(10));
    }
    (server, admin)
}

/// Waits until the start-up probe's connection is gone, so connection
/// gauges are exact.
fn wait_alone(c: &mut Client) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        c.send_line("stats").unwrap();
        let mut curr = 0;
        loop {
            let l = c.read_line().unwrap();
            if l == "END" {
                break;
            }
            if let Some(v) = l.strip_prefix("STAT curr_connections ") {
                curr = v.parse().unwrap();
            }
        }
        if curr == 1 {
            return;
        }
        assert!(Instant::now() < deadline, "probe connection not reaped");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn metrics_count_a_known_request_sequence_exactly() {
    for target in targets!() {
        let (server, admin) = start_with_admin(&target, &[]);
        let mut c = server.client();
        wait_alone(&mut c);
        let before = parse_metrics(&get(admin, "/metrics").2);
        for (k, v) in [("a", "1"), ("b", "22"), ("c", "333")] {
            let r = c
                .request(&format!("set {k} 0 0 {}\r\n{v}", v.len()))
                .unwrap();
            assert_eq!(r, "STORED", "{}", target.name);
        }
        for k in ["a", "b", "x", "y", "z"] {
            c.send_line(&format!("get {k}")).unwrap();
            let first = c.read_line().unwrap();
            if first != "END" {
                c.read_line().unwrap();
                assert_eq!(c.read_line().unwrap(), "END");
            }
        }
        assert_eq!(c.request("delete a").unwrap(), "DELETED");
        // `stats reset` must not touch the Prometheus counters.
        assert_eq!(c.request("stats reset").unwrap(), "RESET");
        // The start-up probe's connection may not be reaped yet.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while c.stats().num("curr_connections") != 1 {
            assert!(
                std::time::Instant::now() < deadline,
                "{}: probe not reaped",
                target.name
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }

        let (status, head, body) = get(admin, "/metrics");
        assert_eq!(status, 200, "{}", target.name);
        assert!(
            head.contains("Content-Type: text/plain; version=0.0.4"),
            "{head}"
        );
        let m = parse_metrics(&body);
        let engine = target.args.last().map(String::as_str).unwrap_or("slab");
        let engine = if target.name == "molt-c" {
            "slab"
        } else {
            engine
        };
        let n = |k: &str| metric(&m, k);
        let cmd = |c: &str| format!("molt_commands_total{{command=\"{c}\"}}");
        let hit = |c: &str| format!("molt_hits_total{{command=\"{c}\"}}");
        let miss = |c: &str| format!("molt_misses_total{{command=\"{c}\"}}");
        let t = target.name;
        assert_eq!(n(&cmd("set")), 3.0, "{t}");
        assert_eq!(n(&cmd("get")), 5.0, "{t}");
        assert_eq!(n(&cmd("delete")), 1.0, "{t}");
        for other in ["incr", "decr", "cas", "touch", "flush"] {
            assert_eq!(n(&cmd(other)), 0.0, "{t}: {other}");
        }
        assert_eq!(n(&hit("get")), 2.0, "{t}");
        assert_eq!(n(&miss("get")), 3.0, "{t}");
        assert_eq!(n(&hit("delete")), 1.0, "{t}");
        assert_eq!(n(&miss("delete")), 0.0, "{t}");
        assert_eq!(n("molt_connections"), 1.0, "{t}");
        assert!(n("molt_connections_total") >= 1.0, "{t}");
        assert_eq!(n("molt_connections_rejected_total"), 0.0, "{t}");
        assert_eq!(n("molt_connections_max"), 1024.0, "{t}");
        assert_eq!(n("molt_threads"), 4.0, "{t}");
        let el = format!("{{engine=\"{engine}\"}}");
        assert_eq!(n(&format!("molt_items{el}")), 2.0, "{t}");
        assert_eq!(n(&format!("molt_items_stored_total{el}")), 3.0, "{t}");
        assert!(n(&format!("molt_item_bytes{el}")) > 0.0, "{t}");
        assert_eq!(n(&format!("molt_evictions_total{el}")), 0.0, "{t}");
        assert_eq!(n(&format!("molt_expired_total{el}")), 0.0, "{t}");
        assert_eq!(
            n(&format!("molt_memory_limit_bytes{el}")),
            (64u64 << 20) as f64,
            "{t}"
        );
        assert!(n(&format!("molt_memory_used_bytes{el}")) > 0.0, "{t}");
        assert!(
            m.keys().any(|k| k.starts_with("molt_info{")
                && k.contains(&format!("engine=\"{engine}\""))),
            "{t}"
        );
        // Read and written bytes: exactly what this client exchanged
        // between the two scrapes (the stats lines are not counted as the
        // first scrape came after them).
        assert!(n("molt_read_bytes_total") > metric(&before, "molt_read_bytes_total"));

        // Latency histogram: one observation per read batch; each request
        // above was its own batch (a set may take two when its data block
        // arrives in a second read).
        let h = "molt_request_duration_seconds";
        let count = n(&format!("{h}_count")) - metric(&before, &format!("{h}_count"));
        assert!((10.0..=20.0).contains(&count), "{t}: {count} batches");
        assert_eq!(
            n(&format!("{h}_bucket{{le=\"+Inf\"}}")),
            n(&format!("{h}_count")),
            "{t}"
        );
        assert!(n(&format!("{h}_sum")) > 0.0, "{t}");
        let mut buckets: Vec<(f64, f64)> = m
            .iter()
            .filter_map(|(k, v)| {
                let le = k.strip_prefix(&format!("{h}_bucket{{le=\""))?;
                let le = le.strip_suffix("\"}")?;
                Some((le.parse::<f64>().unwrap_or(f64::INFINITY), *v))
            })
            .collect();
        buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
        assert!(buckets.len() >= 10, "{t}");
        assert!(
            buckets.windows(2).all(|w| w[0].1 <= w[1].1),
            "{t}: cumulative buckets {buckets:?}"
        );
    }
}

#[test]
fn health_not_found_and_method_not_allowed() {
    for target in targets!() {
        let (_server, admin) = start_with_admin(&target, &[]);
        let (status, head, body) = get(admin, "/health");
        assert_eq!((status, body.trim()), (200, "OK"), "{}", target.name);
        assert!(head.contains("Connection: close"), "{head}");
        assert_eq!(get(admin, "/nope").0, 404, "{}", target.name);
        assert_eq!(get(admin, "/").0, 404, "{}", target.name);
        assert_eq!(get(admin, "/metrics?x=1").0, 200, "{}", target.name);
        let (status, head, _) = http(admin, "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(status, 405, "{}", target.name);
        assert!(head.contains("Allow: GET"), "{head}");
        assert_eq!(http(admin, "garbage\r\n\r\n").0, 400, "{}", target.name);
        let (status, _, body) = http(admin, "HEAD /health HTTP/1.1\r\n\r\n");
        assert_eq!((status, body.as_str()), (200, ""), "{}", target.name);
    }
}

#[test]
fn admin_listens_on_loopback_only_by_default() {
    let target = &targets!()[0];
    let (_server, admin) = start_with_admin(target, &[]);
    let addr = format!("127.0.0.1:{admin}");
    let out = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let port_hex = format!(":{admin:04X}");
    let line = out
        .lines()
        .find(|l| {
            l.split_whitespace()
                .nth(1)
                .is_some_and(|a| a.ends_with(&port_hex))
        })
        .unwrap_or_else(|| panic!("{addr} not in /proc/net/tcp"));
    // 0100007F = 127.0.0.1 in /proc/net/tcp's byte order.
    assert!(line.contains(&format!("0100007F{port_hex}")), "{line}");
}

#[test]
fn a_slow_http_client_blocks_neither_scrapes_nor_the_data_port() {
    let target = &targets!()[0];
    let (server, admin) = start_with_admin(target, &[]);
    // Connects and never finishes its request.
    let mut slow = TcpStream::connect(("127.0.0.1", admin)).unwrap();
    slow.write_all(b"GET /metr").unwrap();
    let started = Instant::now();
    assert_eq!(get(admin, "/health").0, 200);
    assert_eq!(get(admin, "/metrics").0, 200);
    let mut c = server.client();
    assert!(c.request("version").unwrap().starts_with("VERSION "));
    assert!(started.elapsed() < Duration::from_secs(3));
    // The slow client is dropped after the admin timeout (5 s).
    slow.set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let mut rest = Vec::new();
    let _ = slow.read_to_end(&mut rest);
    assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(4) && waited < Duration::from_secs(12),
        "dropped after {waited:?}"
    );
}

#[test]
fn admin_port_in_use_is_a_start_up_error() {
    for target in targets!() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        require_built(&target);
        let out = std::process::Command::new(&target.program)
            .args(&target.args)
            .args([
                "-p",
                &free_port().to_string(),
                "--admin-port",
                &port.to_string(),
            ])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{}", target.name);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("cannot listen on admin address 127.0.0.1:{port}")),
            "{}: {err}",
            target.name
        );
    }
}

fn stats_block(c: &mut Client, cmd: &str) -> Vec<String> {
    c.send_line(cmd).unwrap();
    let mut out = Vec::new();
    loop {
        let l = c.read_line().unwrap();
        if l == "END" || l == "ERROR" {
            out.push(l);
            return out;
        }
        out.push(l);
    }
}

/// `stats settings|items|slabs`: the protocol asks the server's host table
/// (c-core/src/server/host.c), which calls server_stats_subreport.
#[test]
fn stats_settings_items_and_slabs() {
    for target in targets!() {
        let server = Server::start(&target, &["-m", "32", "-t", "3", "-c", "77", "-I", "2m"]);
        let mut c = server.client();
        let s = stats_block(&mut c, "stats settings");
        let t = target.name;
        let has = |line: &str| s.iter().any(|l| l == line);
        assert!(has(&format!("STAT maxbytes {}", 32u64 << 20)), "{t}: {s:?}");
        assert!(has("STAT maxconns 77"), "{t}: {s:?}");
        assert!(
            has(&format!("STAT tcpport {}", server.port())),
            "{t}: {s:?}"
        );
        assert!(has("STAT num_threads 3"), "{t}: {s:?}");
        assert!(has("STAT item_size_max 2097152"), "{t}: {s:?}");
        assert!(has("STAT growth_factor 1.25"), "{t}: {s:?}");
        assert!(has("STAT evictions on"), "{t}: {s:?}");
        assert!(has("STAT verbosity 0"), "{t}: {s:?}");
        assert!(
            s.iter().any(|l| l.starts_with("STAT storage_engine ")),
            "{t}: {s:?}"
        );
        // molt's own line: which protocol.h implementation answers
        let protocol = if t.contains("-rs") { "rust" } else { "c" };
        assert!(has(&format!("STAT protocol {protocol}")), "{t}: {s:?}");
        assert_eq!(s.last().unwrap(), "END");
        // Nothing stored yet: no class has items or pages.
        assert_eq!(stats_block(&mut c, "stats items"), vec!["END"], "{t}");
        let slabs = stats_block(&mut c, "stats slabs");
        assert_eq!(slabs[0], "STAT active_slabs 0", "{t}: {slabs:?}");
        assert!(
            slabs[1].starts_with("STAT total_malloced "),
            "{t}: {slabs:?}"
        );
        assert_eq!(slabs.last().unwrap(), "END");
        assert_eq!(
            stats_block(&mut c, "stats sizes"),
            vec!["STAT sizes_status disabled", "END"],
            "{t}"
        );
        assert_eq!(stats_block(&mut c, "stats nosuch"), vec!["ERROR"], "{t}");
        // The connection still works after all of them.
        assert!(c.request("version").unwrap().starts_with("VERSION "));
    }
}

/// A seg server's own figures in `stats` and /metrics: a workload that
/// moves each of them (TTL expiry of whole segments, merge eviction under
/// memory pressure, a read that finds its item expired, a flush), read back
/// from both, and the totals they break down add up.
#[test]
fn seg_reports_its_own_figures_in_stats_and_metrics() {
    for target in targets!() {
        let engine = target.args.last().map(String::as_str).unwrap_or("slab");
        if target.is_tls() {
            continue;
        }
        // 2 MiB = 8 segments of 256 KiB.
        let (server, admin) = start_with_admin(&target, &["-m", "2", "-t", "1"]);
        let mut c = server.client();
        let t = target.name;
        if engine != "seg" {
            let st = c.stats();
            assert!(!st.0.keys().any(|k| k.starts_with("seg_")), "{t}: {st:?}");
            continue;
        }
        let fig = |c: &mut Client, name: &str| c.stats().num(name);
        assert_eq!(fig(&mut c, "seg_segments"), 8, "{t}");
        assert_eq!(fig(&mut c, "seg_segment_bytes"), 256 << 10, "{t}");
        assert_eq!(fig(&mut c, "seg_segments_free"), 8, "{t}");

        // Whole segments expire by TTL: items with a 1 s TTL, then a wait.
        for i in 0..50 {
            let r = c.request(&format!("set ttl{i} 0 1 1\r\nx")).unwrap();
            assert_eq!(r, "STORED", "{t}");
        }
        assert_eq!(fig(&mut c, "seg_segments_used"), 1, "{t}");
        std::thread::sleep(Duration::from_millis(2100));
        let st = c.stats();
        assert_eq!(st.num("seg_expired_segment"), 50, "{t}");
        // One segment, or two when the 50 writes straddle the moment the
        // first segment's items expire (a slow client on a loaded machine:
        // the bucket then opens a second one).
        let expired = st.num("seg_segments_expired");
        assert!(
            (1..=2).contains(&expired),
            "{t}: {expired} segments expired"
        );
        assert_eq!(st.num("seg_segments_used"), 0, "{t}");

        // Memory pressure with some keys read twice: merges keep the most
        // read ones and evict the rest.
        let v = vec![b'v'; 1000];
        for i in 0..6000u32 {
            let mut req = format!("set k{i} 0 0 {} noreply\r\n", v.len()).into_bytes();
            req.extend_from_slice(&v);
            req.extend_from_slice(b"\r\n");
            c.send(&req).unwrap();
            let reads = if i % 8 == 0 { 2 } else { 1 };
            for _ in 0..reads {
                c.send_line(&format!("get k{i}")).unwrap();
                assert_eq!(c.read_line().unwrap(), format!("VALUE k{i} 0 1000"), "{t}");
                c.read_exact(1002).unwrap();
                assert_eq!(c.read_line().unwrap(), "END", "{t}");
            }
        }
        let st = c.stats();
        assert!(st.num("seg_merges") > 0, "{t}: {st:?}");
        assert!(st.num("seg_evicted_merge") > 0, "{t}: {st:?}");
        assert_eq!(
            st.num("evictions"),
            st.num("seg_evicted_merge") + st.num("seg_evicted_segment"),
            "{t}"
        );
        assert_eq!(
            st.num("seg_segments_used") + st.num("seg_segments_free"),
            8,
            "{t}"
        );
        assert_eq!(st.num("seg_hash_items"), st.num("curr_items"), "{t}");
        assert!(st.num("seg_hash_slots") >= st.num("seg_hash_items"), "{t}");

        // A read that finds its item expired (gat into the past serves it
        // once, then it is gone).
        assert_eq!(c.request("set old 0 0 1\r\no").unwrap(), "STORED", "{t}");
        c.send_line("gat -1 old").unwrap();
        assert_eq!(c.read_line().unwrap(), "VALUE old 0 1", "{t}");
        c.read_exact(3).unwrap();
        assert_eq!(c.read_line().unwrap(), "END", "{t}");
        assert_eq!(fig(&mut c, "seg_expired_access"), 1, "{t}");

        // A flush frees every segment; what it held counts as flushed.
        let held = c.stats().num("curr_items");
        assert!(held > 0, "{t}");
        assert_eq!(c.request("flush_all").unwrap(), "OK", "{t}");
        let st = c.stats();
        assert_eq!(st.num("seg_flushed"), held, "{t}");
        assert_eq!(st.num("seg_segments_free"), 8, "{t}");
        assert_eq!(st.num("seg_hash_items"), 0, "{t}");
        assert_eq!(
            st.num("reclaimed"),
            st.num("seg_expired_segment")
                + st.num("seg_expired_merge")
                + st.num("seg_expired_access")
                + st.num("seg_flushed"),
            "{t}"
        );

        // /metrics carries the same figures, counters as _total.
        let m = parse_metrics(&get(admin, "/metrics").2);
        let l = "{engine=\"seg\"}";
        for (metric_name, stat) in [
            ("molt_seg_merges_total", "seg_merges"),
            ("molt_seg_evicted_merge_total", "seg_evicted_merge"),
            ("molt_seg_expired_segment_total", "seg_expired_segment"),
            ("molt_seg_expired_access_total", "seg_expired_access"),
            ("molt_seg_flushed_total", "seg_flushed"),
            ("molt_seg_segments_free", "seg_segments_free"),
            ("molt_seg_hash_items", "seg_hash_items"),
        ] {
            assert_eq!(
                metric(&m, &format!("{metric_name}{l}")),
                st.num(stat) as f64,
                "{t}: {metric_name}"
            );
        }
    }
}
