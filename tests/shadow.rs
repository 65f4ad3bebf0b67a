//! Shadow mode (`--shadow-storage`): the primary answers, the shadow runs
//! every request too, and the `shadow_*` counters say where they differed.
//! 1M verified molt-bench requests between slab and seg (either role) must
//! show 0 mismatches; the fault build's corrupting engine as the shadow
//! must show exactly the mismatches it injected; a scripted session must
//! move every counter exactly as documented.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use molt_test_support::pki::tls_files;
use molt_test_support::ports::free_port;
use molt_test_support::server::Server;
use molt_test_support::stats::Stats;
use molt_test_support::targets::Target;
use molt_test_support::temp::{path_str, TempDir};

const MOLT: &str = env!("CARGO_BIN_EXE_molt");

fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The fault build (mk/fault.mk: `make fault`, part of `make build`).
fn fault_target() -> Target {
    let program = repo_path("target/c-fault/molt-c-fault");
    assert!(
        program.is_file(),
        "{} does not exist; run `make fault` (or `make build`) first",
        program.display()
    );
    Target::new(
        "molt-c-fault",
        program,
        &["--storage", "slab", "--shadow-storage", "faulty-slab"],
    )
}

const MIX_REQUESTS: &str = "1000000";

/// molt-bench: `requests` mixed requests (8 gets : 2 sets, values 16-2048
/// bytes, 4 connections x 8 in flight) over a preloaded key space, every
/// reply verified and every get required to hit. Panics unless it passes.
fn run_mix(server: &Server, requests: &str, extra: &[&str]) {
    let bench = repo_path("target/release/molt-bench");
    assert!(
        bench.is_file(),
        "{} does not exist; build the workspace first",
        bench.display()
    );
    let port = server.port().to_string();
    let out = Command::new(&bench)
        .args(["-p", &port, "--flush", "--preload", "--expect-hits"])
        .args([
            "-c",
            "4",
            "-d",
            "8",
            "-k",
            "10000",
            "--value-size",
            "16-2048",
        ])
        .args([
            "--ratio", "8:2", "-w", "0", "-t", "600", "-n", requests, "-q",
        ])
        .args(extra)
        .output()
        .expect("run molt-bench");
    assert!(
        out.status.success(),
        "{}: molt-bench failed ({}):\n{}{}",
        server.target_name(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

const MISMATCHES: [&str; 4] = [
    "shadow_mismatch_status",
    "shadow_mismatch_value",
    "shadow_mismatch_flags",
    "shadow_mismatch_ttl",
];

fn stats_of(server: &Server) -> Stats {
    server.client().stats()
}

fn assert_no_divergence(server: &Server, st: &Stats) {
    for name in MISMATCHES
        .iter()
        .chain(&["shadow_eviction_explained", "shadow_errors"])
    {
        assert_eq!(
            st.num(name),
            0,
            "{}: {name} in {:?}",
            server.target_name(),
            st.0
        );
    }
}

/// Every get and set of the run was compared, nothing else (the
/// `flush_all` before it is not): gets hit on both engines
/// (`--expect-hits`), so compared = the primary's hits + its sets.
fn assert_all_compared(server: &Server, st: &Stats) {
    assert_eq!(
        st.num("shadow_compared"),
        st.num("get_hits") + st.num("cmd_set"),
        "{}: {:?}",
        server.target_name(),
        st.0
    );
    assert_eq!(st.num("get_misses"), 0);
    assert!(st.num("get_hits") > 500_000, "{:?}", st.0);
    assert_eq!(st.num("shadow_curr_items"), st.num("curr_items"));
}

fn mix_between(name: &'static str, args: &[&str]) {
    let target = Target::new(name, MOLT, args);
    let server = Server::start(&target, &["-m", "256", "-t", "2"]);
    run_mix(&server, MIX_REQUESTS, &[]);
    let st = stats_of(&server);
    assert_no_divergence(&server, &st);
    assert_all_compared(&server, &st);
    println!(
        "{name}: shadow_compared {}, mismatches 0, eviction-explained 0, errors 0",
        st.num("shadow_compared")
    );
}

#[test]
fn million_mixed_requests_slab_primary_seg_shadow_agree() {
    mix_between(
        "molt-slab+shadow-seg",
        &["--storage", "slab", "--shadow-storage", "seg"],
    );
}

#[test]
fn million_mixed_requests_seg_primary_slab_shadow_agree() {
    mix_between(
        "molt-seg+shadow-slab",
        &["--storage", "seg", "--shadow-storage", "slab"],
    );
}

/// Under memory pressure every one-sided miss must be one the missing
/// engine's evictions explain, never a mismatch: the shadow short of
/// memory (slab beside slab in molt-c; seg beside slab in molt), and the
/// primary short of memory (seg answering, slab shadowing).
#[test]
fn evictions_explain_every_one_sided_miss_under_memory_pressure() {
    let c_only = repo_path("target/c-only/molt-c");
    let cases = [
        Target::new(
            "molt-c+small-shadow-slab",
            c_only,
            &[
                "-m",
                "64",
                "--shadow-storage",
                "slab",
                "--shadow-memory-limit",
                "8",
            ],
        ),
        Target::new(
            "molt-slab+small-shadow-seg",
            MOLT,
            &[
                "-m",
                "64",
                "--storage",
                "slab",
                "--shadow-storage",
                "seg",
                "--shadow-memory-limit",
                "8",
            ],
        ),
        Target::new(
            "molt-small-seg+shadow-slab",
            MOLT,
            &[
                "-m",
                "8",
                "--storage",
                "seg",
                "--shadow-storage",
                "slab",
                "--shadow-memory-limit",
                "64",
            ],
        ),
    ];
    for target in &cases {
        let server = Server::start(target, &["-t", "2"]);
        let port = server.port().to_string();
        // No --expect-hits: evicted keys miss on the primary too.
        let out = Command::new(repo_path("target/release/molt-bench"))
            .args(["-p", &port, "--flush", "--preload", "-c", "4", "-d", "8"])
            .args(["-k", "20000", "--value-size", "16-2048", "--ratio", "8:2"])
            .args(["-w", "0", "-t", "600", "-n", "200000", "-q"])
            .output()
            .expect("run molt-bench");
        assert!(out.status.success(), "{}: {:?}", target.name, out);
        let st = stats_of(&server);
        for name in MISMATCHES.iter().chain(&["shadow_errors"]) {
            assert_eq!(st.num(name), 0, "{}: {name} in {:?}", target.name, st.0);
        }
        let evictions = st.num("evictions") + st.num("shadow_evictions");
        assert!(
            evictions > 10_000 && st.num("shadow_eviction_explained") > 10_000,
            "{}: not under pressure: {:?}",
            target.name,
            st.0
        );
        println!(
            "{}: evictions {} + shadow {}, eviction-explained {}, mismatches 0",
            target.name,
            st.num("evictions"),
            st.num("shadow_evictions"),
            st.num("shadow_eviction_explained")
        );
    }
}

/// The Rust protocol behind TLS reaches the engines through the same seam.
#[test]
fn shadow_works_with_the_rust_protocol_over_tls() {
    let f = tls_files();
    let target = Target::new(
        "molt-seg-rs-tls+shadow-slab",
        MOLT,
        &[
            "--protocol",
            "rust",
            "--tls-cert",
            path_str(&f.server_cert),
            "--tls-key",
            path_str(&f.server_key),
            "--storage",
            "seg",
            "--shadow-storage",
            "slab",
        ],
    );
    let mut target = target;
    target.tls = molt_test_support::targets::all(Path::new(MOLT))
        .into_iter()
        .find(|t| t.is_tls())
        .and_then(|t| t.tls);
    let server = Server::start(&target, &["-m", "256", "-t", "2"]);
    let tls = ["--tls", "--tls-ca", path_str(&f.ca_file)];
    run_mix(&server, "100000", &tls);
    let st = stats_of(&server);
    assert_no_divergence(&server, &st);
    assert!(st.num("shadow_compared") >= 100_000, "{:?}", st.0);
}

/// One value in 1000 the faulty shadow hands out is a byte short: exactly
/// those reads are value mismatches, nothing else diverges, the clients see
/// only the primary's (correct) values, and -v logs the first 100.
#[test]
fn fault_switch_raises_exactly_the_injected_mismatches() {
    let server = Server::start(&fault_target(), &["-m", "256", "-t", "2", "-v"]);
    run_mix(&server, MIX_REQUESTS, &[]);
    let st = stats_of(&server);
    let hits = st.num("get_hits");
    let injected = st.num("shadow_fault_injected");
    assert_eq!(st.num("shadow_fault_hits"), hits, "{:?}", st.0);
    assert_eq!(injected, hits / 1000, "{:?}", st.0);
    assert!(injected > 500, "too few reads to show anything: {injected}");
    assert_eq!(st.num("shadow_mismatch_value"), injected);
    for name in [
        "shadow_mismatch_status",
        "shadow_mismatch_flags",
        "shadow_mismatch_ttl",
        "shadow_eviction_explained",
        "shadow_errors",
    ] {
        assert_eq!(st.num(name), 0, "{name} in {:?}", st.0);
    }
    let logged: Vec<String> = server
        .stderr_text()
        .lines()
        .filter(|l| l.contains("shadow mismatch #"))
        .map(str::to_string)
        .collect();
    assert_eq!(logged.len(), 100, "-v logs the first 100: {logged:?}");
    assert!(
        logged[0].contains(" info  shadow mismatch #1: get molt:")
            && logged[0].ends_with(": mismatch_value (primary status 0, shadow status 0)"),
        "{}",
        logged[0]
    );
    println!(
        "fault switch: get_hits {hits}, injected {injected}, shadow_mismatch_value {}, \
         shadow_compared {}",
        st.num("shadow_mismatch_value"),
        st.num("shadow_compared")
    );
}

/// -vv logs past the first 100, at debug level, at most 100 a second (a
/// second by the server's request clock; the log's own timestamps may
/// split one such second in two, hence 200).
#[test]
fn very_verbose_logs_every_mismatch_rate_limited() {
    let server = Server::start(&fault_target(), &["-m", "256", "-t", "2", "-vv"]);
    run_mix(&server, "300000", &[]);
    let injected = stats_of(&server).num("shadow_fault_injected");
    let text = server.stderr_text();
    let debug: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(" debug shadow mismatch #"))
        .collect();
    assert!(
        injected > 150 && !debug.is_empty() && 100 + debug.len() as u64 <= injected,
        "injected {injected}, debug lines {}",
        debug.len()
    );
    assert!(
        debug[0].contains("shadow mismatch #101: get molt:"),
        "{}",
        debug[0]
    );
    let mut per_second = std::collections::HashMap::new();
    for l in &debug {
        *per_second.entry(&l[..19]).or_insert(0) += 1;
    }
    assert!(per_second.values().all(|&n| n <= 200), "{per_second:?}");
}

/// What each operation does to the counters, on both binaries and with the
/// engines in either role.
#[test]
fn counters_follow_a_scripted_session() {
    let c_only = repo_path("target/c-only/molt-c");
    let targets = [
        Target::new(
            "molt-slab+shadow-seg",
            MOLT,
            &["--storage", "slab", "--shadow-storage", "seg"],
        ),
        Target::new(
            "molt-seg+shadow-slab",
            MOLT,
            &["--storage", "seg", "--shadow-storage", "slab"],
        ),
        Target::new("molt-c+shadow-slab", c_only, &["--shadow-storage", "slab"]),
    ];
    for target in &targets {
        let admin = free_port();
        let admin_s = admin.to_string();
        let server = Server::start(
            target,
            &["--shadow-memory-limit", "32", "--admin-port", &admin_s],
        );
        let mut c = server.client();
        let mut step = |send: &str, expect: &str| {
            c.send(send.as_bytes()).expect("send");
            c.expect_bytes(expect.as_bytes()).unwrap_or_else(|got| {
                panic!(
                    "{}: {send:?} -> {:?}",
                    target.name,
                    String::from_utf8_lossy(&got)
                )
            });
        };
        step("set a 5 0 3\r\nabc\r\n", "STORED\r\n"); // 1
        step("get a\r\n", "VALUE a 5 3\r\nabc\r\nEND\r\n"); // 2
        step("get nope\r\n", "END\r\n"); // 3 (both miss: agree)
        step("cas a 0 0 1 18446744073709551615\r\nx\r\n", "EXISTS\r\n"); // refused: not compared
        step("add a 0 0 1\r\ny\r\n", "NOT_STORED\r\n"); // 4
        step("append a 0 0 2\r\nzz\r\n", "STORED\r\n"); // 5
        step("set n 0 0 1\r\n5\r\n", "STORED\r\n"); // 6
        step("incr n 3\r\n", "8\r\n"); // 7
        step(
            "incr a 1\r\n",
            "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n",
        ); // 8
        step("touch a 1000\r\n", "TOUCHED\r\n"); // 9
        step("mg a v f\r\n", "VA 5 f5\r\nabczz\r\n"); // 10
        step("delete a\r\n", "DELETED\r\n"); // 11
        step("md a\r\n", "NF\r\n"); // 12
        step("flush_all\r\n", "OK\r\n"); // not compared
        step("get n\r\n", "END\r\n"); // 13
        let st = c.stats();
        assert_eq!(st.num("shadow_compared"), 13, "{}: {:?}", target.name, st.0);
        assert_no_divergence(&server, &st);
        assert_eq!(st.num("shadow_memory_limit"), 32 << 20, "{}", target.name);
        let metrics = metrics_page(admin);
        for (name, value) in [
            ("molt_shadow_compared_total", 13),
            ("molt_shadow_mismatch_value_total", 0),
            ("molt_shadow_errors_total", 0),
            ("molt_shadow_memory_limit", 32 << 20),
        ] {
            assert!(
                metrics
                    .lines()
                    .any(|l| l.starts_with(&format!("{name}{{"))
                        && l.ends_with(&format!("}} {value}"))),
                "{}: no {name} {value} in\n{metrics}",
                target.name
            );
        }
        let settings = c.stats_lines("stats settings");
        let engine = target.args[target.args.len() - 1].clone();
        assert!(
            settings.contains(&format!("STAT shadow_storage_engine {engine}"))
                && settings.contains(&"STAT shadow_maxbytes 33554432".to_string())
                && settings.contains(&"STAT maxbytes 67108864".to_string()),
            "{}: {settings:?}",
            target.name
        );
    }
}

/// Without --shadow-storage, `stats settings` says so and `stats` has no
/// shadow counters.
#[test]
fn no_shadow_by_default() {
    let server = Server::start(&Target::new("molt-slab", MOLT, &["--storage", "slab"]), &[]);
    let mut c = server.client();
    let st = c.stats();
    assert!(!st.0.contains_key("shadow_compared"), "{:?}", st.0);
    let lines = c.stats_lines("stats settings");
    assert!(lines.contains(&"STAT shadow_storage_engine NULL".to_string()));
    assert!(lines.contains(&"STAT shadow_maxbytes 0".to_string()));
}

/// An unknown shadow engine stops start-up with the registry's message.
#[test]
fn unknown_shadow_engine_is_refused() {
    let out = Command::new(MOLT)
        .args(["-p", "1", "--shadow-storage", "nope"])
        .output()
        .expect("run molt");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("molt: unknown storage engine 'nope' (this binary has: slab seg)"),
        "{err}"
    );
}

/// GET /metrics from the admin port (the server closes after the reply).
fn metrics_page(port: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut s = loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => break s,
            Err(e) => {
                assert!(Instant::now() < deadline, "admin port {port}: {e}");
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    };
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .expect("send GET");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read /metrics");
    text
}

/// `shadow_storage` and `shadow_memory_limit_mb` in the config file, and
/// --print-config writes them back.
#[test]
fn shadow_from_the_config_file() {
    let dir = TempDir::new("shadow-config");
    let path = dir.path("molt.toml");
    std::fs::write(
        &path,
        "storage = \"slab\"\nshadow_storage = \"seg\"\nshadow_memory_limit_mb = 16\n",
    )
    .unwrap();
    let f = path_str(&path);
    let out = Command::new(MOLT)
        .args(["--config", f, "--print-config"])
        .output()
        .expect("run molt");
    let toml = String::from_utf8_lossy(&out.stdout);
    assert!(
        toml.contains("\nshadow_storage = \"seg\"\nshadow_memory_limit_mb = 16\n"),
        "{toml}"
    );
    let server = Server::start(&Target::new("molt-slab", MOLT, &["--config", f]), &[]);
    let mut c = server.client();
    let lines = c.stats_lines("stats settings");
    assert!(
        lines.contains(&"STAT storage_engine slab".to_string()),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"STAT shadow_storage_engine seg".to_string()),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"STAT shadow_maxbytes 16777216".to_string()),
        "{lines:?}"
    );
    assert_eq!(c.stats().num("shadow_memory_limit"), 16 << 20);
}
