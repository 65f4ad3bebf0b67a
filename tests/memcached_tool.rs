//! memcached's own operator tool, `memcached-tool` (Debian ships it with
//! memcached: /usr/share/memcached/scripts/memcached-tool, Perl), against
//! every plain-TCP target and the memcached reference: `display` lists the
//! classes (`stats items` + `stats slabs`), `stats` and `settings` print
//! their tables, and `dump` (`lru_crawler metadump all`, then a get per
//! key) lists every key stored. Enough keys that the metadump passes the
//! output high-water mark (1 MiB), so the paused-and-resumed dump is what
//! is checked. TLS targets are left out: the tool speaks plain TCP only.

use molt_test_support::{reference_memcached, require_built, targets, Server, Target};
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::process::Command;

const TOOL: &str = "/usr/share/memcached/scripts/memcached-tool";
const KEYS: usize = 15_000;

fn key(i: usize) -> String {
    // Every 100th key holds characters the metadump must percent-encode.
    if i.is_multiple_of(100) {
        format!("tool%key:{i:06}/\u{e9}")
    } else {
        format!("memcached-tool-key:{i:06}")
    }
}

fn value(i: usize) -> String {
    format!("value-{i}-{}", "v".repeat(i % 50))
}

fn tool(server: &Server, mode: &str) -> String {
    let out = Command::new("perl")
        .arg(TOOL)
        .arg(format!("127.0.0.1:{}", server.port()))
        .arg(mode)
        .output()
        .expect("run memcached-tool");
    assert!(out.status.success(), "memcached-tool {mode}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn store_keys(server: &Server) {
    let mut c = server.client();
    let mut batch = Vec::new();
    for i in 0..KEYS {
        let (k, v) = (key(i), value(i));
        let exptime = if i.is_multiple_of(3) { 3600 } else { 0 };
        write!(
            batch,
            "set {k} {} {exptime} {} noreply\r\n{v}\r\n",
            i % 7,
            v.len()
        )
        .unwrap();
    }
    c.send(&batch).unwrap();
    let curr = c.request("version").unwrap();
    assert!(curr.starts_with("VERSION "), "{curr}");
}

/// "add <key> <flags> <exptime> <len>\r\n<value>\r\n" records of `dump`.
fn dumped(out: &str) -> HashMap<String, (u32, String)> {
    let mut keys = HashMap::new();
    let mut lines = out.split("\r\n");
    while let Some(head) = lines.next() {
        if head.is_empty() {
            continue;
        }
        let f: Vec<&str> = head.split(' ').collect();
        assert!(f.len() == 5 && f[0] == "add", "dump record: {head:?}");
        let v = lines.next().expect("value line").to_string();
        assert_eq!(v.len(), f[4].parse::<usize>().unwrap(), "{head}");
        keys.insert(f[1].to_string(), (f[2].parse().unwrap(), v));
    }
    keys
}

fn check(target: &Target) {
    let server = Server::start(target, &["-m", "64"]);
    store_keys(&server);
    let t = target.name;

    let dump = dumped(&tool(&server, "dump"));
    assert_eq!(dump.len(), KEYS, "{t}: every key dumped once");
    for i in 0..KEYS {
        let got = dump
            .get(&key(i))
            .unwrap_or_else(|| panic!("{t}: {} missing", key(i)));
        assert_eq!(got, &((i % 7) as u32, value(i)), "{t}: {}", key(i));
    }

    let display = tool(&server, "display");
    let mut lines = display.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .contains("Item_Size  Max_age   Pages   Count"),
        "{t}: {display}"
    );
    let count: u64 = lines
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert!(f.len() >= 9, "{t}: display row {l:?}");
            f[4].parse::<u64>().unwrap()
        })
        .sum();
    assert_eq!(
        count, KEYS as u64,
        "{t}: classes hold every item\n{display}"
    );

    let stats = tool(&server, "stats");
    assert!(
        stats
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["curr_items", &KEYS.to_string()]),
        "{t}: {stats}"
    );
    let settings = tool(&server, "settings");
    assert!(
        settings
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == ["maxbytes", &(64u64 << 20).to_string()]),
        "{t}: {settings}"
    );
    // molt's own settings line reads like memcached's to the tool
    if target.name != molt_test_support::targets::MEMCACHED {
        let protocol = if t.contains("-rs") { "rust" } else { "c" };
        assert!(
            settings
                .lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["protocol", protocol]),
            "{t}: {settings}"
        );
    }
}

#[test]
fn memcached_tool_display_stats_settings_and_dump() {
    if !Path::new(TOOL).exists() {
        eprintln!("skipped: {TOOL} not installed (Debian package memcached)");
        return;
    }
    let mut all: Vec<Target> = targets!().into_iter().filter(|t| !t.is_tls()).collect();
    all.extend(reference_memcached());
    for target in &all {
        require_built(target);
        check(target);
    }
}
