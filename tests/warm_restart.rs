//! Warm restart with `--memory-file` (`-e`) on the seg engine: a graceful
//! stop (SIGTERM, SIGUSR1, `shutdown graceful`) saves the items, the next
//! start on the same file serves every one of them with the same value,
//! flags, cas and remaining TTL, in molt (`--storage seg`) and molt-rs
//! alike, each reading the other's file (and with `memory_file` in the
//! config file). A file from another `-m`, with
//! flipped bits, cut short, or left by a killed server never yields a
//! value that was not stored.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use molt_test_support::{free_port, path_str, signal, targets, Server, Target, TempDir};

/// What a key reads back as.
#[derive(Clone, Debug, PartialEq)]
struct Item {
    value: Vec<u8>,
    flags: u32,
    cas: u64,
    /// Remaining seconds; -1: no expiry.
    ttl: i64,
}

fn target(name: &str) -> Target {
    targets!()
        .into_iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no target {name}"))
}

/// molt --storage seg and molt-rs.
fn molt_seg() -> Target {
    target("molt-seg")
}
fn molt_rs() -> Target {
    target("molt-rs")
}

fn start(t: &Target, file: &Path, mb: &str, extra: &[&str]) -> Server {
    let mut args = vec!["-m", mb, "-e", path_str(file)];
    args.extend_from_slice(extra);
    Server::start(t, &args)
}

/// A graceful stop by `how` ("-TERM", "-USR1" or "shutdown graceful");
/// the server exits 0 having saved.
fn stop(mut server: Server, how: &str) -> String {
    if how.starts_with('-') {
        signal(server.pid(), how);
    } else {
        let mut c = server.client();
        c.send_line(how).unwrap();
    }
    // at most 60 s: a save writes the whole cache
    let status = server.wait_exit(Duration::from_secs(60), how);
    let log = server.stderr_text();
    assert!(
        status.success(),
        "{}: {status}: {log}",
        server.target_name()
    );
    log
}

/// Sends `requests` from a writer thread while `count` replies are read
/// here with `read_reply`: the server is never blocked on a full socket.
fn pipeline<T>(
    server: &Server,
    requests: Vec<u8>,
    count: usize,
    mut read_reply: impl FnMut(&mut BufReader<TcpStream>) -> T,
) -> Vec<T> {
    let stream = TcpStream::connect(server.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut w = stream.try_clone().unwrap();
    let writer = std::thread::spawn(move || w.write_all(&requests).unwrap());
    let mut r = BufReader::with_capacity(1 << 16, stream);
    let out = (0..count).map(|_| read_reply(&mut r)).collect();
    writer.join().unwrap();
    out
}

fn line(r: &mut BufReader<TcpStream>) -> String {
    let mut l = String::new();
    r.read_line(&mut l).unwrap();
    l
}

fn key(i: usize) -> String {
    format!("k:{i:07}")
}

fn value(i: usize, round: usize) -> Vec<u8> {
    format!(
        "value {i:07} round {round} {:012x}",
        i.wrapping_mul(0x9e37_79b9_7f4a)
    )
    .into_bytes()
}

/// Stores keys `keys` with `ms ... q` (silent unless it fails), then a
/// `mn` to know they are all done. A quarter never expire, the others
/// live an hour and more; flags differ per key.
fn write(server: &Server, keys: std::ops::Range<usize>, round: usize) {
    let mut req = Vec::with_capacity(keys.len() * 80);
    for i in keys {
        let v = value(i, round);
        let ttl = if i % 4 == 0 { 0 } else { 3600 + i % 1000 };
        write!(req, "ms {} {} F{} T{ttl} q\r\n", key(i), v.len(), i * 7).unwrap();
        req.extend_from_slice(&v);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"mn\r\n");
    let done = pipeline(server, req, 1, line);
    assert_eq!(done[0], "MN\r\n", "a store failed");
}

/// Reads keys `keys` with `mg k v f c t`.
fn read(server: &Server, keys: std::ops::Range<usize>) -> Vec<Option<Item>> {
    let mut req = Vec::with_capacity(keys.len() * 24);
    for i in keys.clone() {
        write!(req, "mg {} v f c t\r\n", key(i)).unwrap();
    }
    pipeline(server, req, keys.len(), |r| {
        let head = line(r);
        if head == "EN\r\n" {
            return None;
        }
        let mut it = head.trim_end().split(' ');
        assert_eq!(it.next(), Some("VA"), "{head:?}");
        let len: usize = it.next().unwrap().parse().unwrap();
        let (mut flags, mut cas, mut ttl) = (None, None, None);
        for tok in it {
            let (k, v) = tok.split_at(1);
            match k {
                "f" => flags = v.parse().ok(),
                "c" => cas = v.parse().ok(),
                "t" => ttl = v.parse().ok(),
                _ => panic!("{head:?}"),
            }
        }
        let mut data = vec![0u8; len + 2];
        std::io::Read::read_exact(r, &mut data).unwrap();
        assert_eq!(&data[len..], b"\r\n");
        data.truncate(len);
        Some(Item {
            value: data,
            flags: flags.unwrap(),
            cas: cas.unwrap(),
            ttl: ttl.unwrap(),
        })
    })
}

/// Every key reads back as before the restart (`before`), `elapsed`
/// later: same value, flags and cas, the TTL run down by the time passed.
fn assert_same(who: &str, before: &[Option<Item>], after: &[Option<Item>], elapsed: Duration) {
    assert_eq!(before.len(), after.len());
    let slack = elapsed.as_secs() as i64 + 2;
    for (i, (b, a)) in before.iter().zip(after).enumerate() {
        let (b, a) = (b.as_ref().unwrap(), a.as_ref());
        let a = a.unwrap_or_else(|| panic!("{who}: {} lost", key(i)));
        assert_eq!(
            (&a.value, a.flags, a.cas),
            (&b.value, b.flags, b.cas),
            "{who}: {}",
            key(i)
        );
        if b.ttl == -1 {
            assert_eq!(a.ttl, -1, "{who}: {}", key(i));
        } else {
            assert!(
                a.ttl <= b.ttl && a.ttl >= b.ttl - slack,
                "{who}: {} ttl {} -> {}",
                key(i),
                b.ttl,
                a.ttl
            );
        }
    }
}

/// Every key reads back exactly as before, or not at all; how many read.
fn assert_never_wrong(who: &str, before: &[Option<Item>], after: &[Option<Item>]) -> usize {
    let mut found = 0;
    for (i, (b, a)) in before.iter().zip(after).enumerate() {
        if let Some(a) = a {
            let b = b.as_ref().unwrap();
            assert_eq!(
                (&a.value, a.flags, a.cas),
                (&b.value, b.flags, b.cas),
                "{who}: {}",
                key(i)
            );
            found += 1;
        }
    }
    found
}

fn stat(server: &Server, name: &str) -> u64 {
    server.client().stats().num(name)
}

#[test]
fn a_million_keys_come_back_after_sigterm() {
    const N: usize = 1_000_000;
    let dir = TempDir::new("warm-1m");
    let file = dir.path("cache");
    let t = molt_seg();
    let server = start(&t, &file, "128", &[]);
    write(&server, 0..N, 0);
    let before = read(&server, 0..N);
    assert!(before.iter().all(Option::is_some), "all stored");
    let max_cas = before.iter().flatten().map(|i| i.cas).max().unwrap();
    let stopped = Instant::now();
    let log = stop(server, "-TERM");
    assert_eq!(log, "", "silent by default");

    let server = start(&t, &file, "128", &["-v"]);
    let after = read(&server, 0..N);
    assert_same("molt-seg", &before, &after, stopped.elapsed());
    assert_eq!(stat(&server, "seg_restored_items"), N as u64);
    assert_eq!(stat(&server, "curr_items"), N as u64);
    // New cas values continue above the restored ones.
    let mut c = server.client();
    assert_eq!(c.request("ms fresh 1\r\nx").unwrap(), "HD");
    let fresh = c.request("mg fresh c").unwrap();
    let cas: u64 = fresh.strip_prefix("HD c").unwrap().parse().unwrap();
    assert!(cas > max_cas, "{cas} > {max_cas}");
    let log = server.stderr_text();
    assert!(
        log.contains(&format!("restored {N} items in ")),
        "the start says what it restored: {log}"
    );
}

#[test]
fn molt_and_molt_rs_read_each_others_files() {
    const N: usize = 20_000;
    let dir = TempDir::new("warm-swap");
    let file = dir.path("cache");
    // molt writes, stops on SIGTERM.
    let server = start(&molt_seg(), &file, "64", &[]);
    write(&server, 0..N, 0);
    let mut before = read(&server, 0..N);
    let mut stopped = Instant::now();
    stop(server, "-TERM");
    // molt-rs serves it, changes some, stops on `shutdown graceful`.
    let server = start(&molt_rs(), &file, "64", &["-A"]);
    let after = read(&server, 0..N);
    assert_same("molt -> molt-rs", &before, &after, stopped.elapsed());
    write(&server, 0..N / 10, 1);
    write(&server, N..N + N / 10, 1);
    before = read(&server, 0..N + N / 10);
    stopped = Instant::now();
    stop(server, "shutdown graceful");
    // molt again, stops on memcached's SIGUSR1.
    let server = start(&molt_seg(), &file, "64", &[]);
    let after = read(&server, 0..N + N / 10);
    assert_same("molt-rs -> molt", &before, &after, stopped.elapsed());
    assert_eq!(after[0].as_ref().unwrap().value, value(0, 1));
    stopped = Instant::now();
    stop(server, "-USR1");
    // And molt-rs once more.
    let server = start(&molt_rs(), &file, "64", &[]);
    let after = read(&server, 0..N + N / 10);
    assert_same("molt -> molt-rs (USR1)", &before, &after, stopped.elapsed());
}

/// A saved file of `N` keys by `t` at `-m 64`, and what they read as.
fn saved_file(t: &Target, dir: &TempDir) -> (std::path::PathBuf, Vec<Option<Item>>) {
    const N: usize = 100_000;
    let file = dir.path("cache");
    let server = start(t, &file, "64", &[]);
    write(&server, 0..N, 0);
    let before = read(&server, 0..N);
    stop(server, "-TERM");
    (file, before)
}

#[test]
fn a_file_with_flipped_bits_drops_only_what_fails_its_checksum() {
    for t in [molt_seg(), molt_rs()] {
        let dir = TempDir::new("warm-flip");
        let (file, before) = saved_file(&t, &dir);
        let mut bytes = std::fs::read(&file).unwrap();
        let n = bytes.len();
        for at in [n / 3, n / 2, 2 * n / 3] {
            bytes[at] ^= 0x04;
        }
        std::fs::write(&file, &bytes).unwrap();
        let server = start(&t, &file, "64", &[]);
        let after = read(&server, 0..before.len());
        let found = assert_never_wrong(t.name, &before, &after);
        assert!(found > before.len() / 2 && found < before.len(), "{found}");
        assert_eq!(stat(&server, "seg_restored_items"), found as u64);
        let dropped = stat(&server, "seg_restore_dropped_segments");
        assert!((1..=3).contains(&dropped), "{dropped}");
        let log = server.stderr_text();
        assert!(log.contains("that failed their checksum"), "{log}");
    }
}

#[test]
fn a_truncated_file_keeps_only_whole_segments() {
    for t in [molt_seg(), molt_rs()] {
        let dir = TempDir::new("warm-cut");
        let (file, before) = saved_file(&t, &dir);
        let bytes = std::fs::read(&file).unwrap();
        std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
        let server = start(&t, &file, "64", &[]);
        let after = read(&server, 0..before.len());
        let found = assert_never_wrong(t.name, &before, &after);
        assert!(found > 0 && found < before.len(), "{found}");
        let log = server.stderr_text();
        assert!(log.contains("the file is cut short after"), "{log}");
    }
}

#[test]
fn a_file_from_another_memory_limit_starts_cold_and_says_why() {
    for t in [molt_seg(), molt_rs()] {
        let dir = TempDir::new("warm-m");
        let (file, before) = saved_file(&t, &dir);
        let server = start(&t, &file, "128", &[]);
        let after = read(&server, 0..before.len());
        assert_eq!(assert_never_wrong(t.name, &before, &after), 0);
        let log = server.stderr_text();
        let why = format!(
            "warn  memory file {}: it was saved with a memory limit of 64 MiB, this start has \
             128 MiB: starting cold\n",
            file.display()
        );
        assert!(log.ends_with(&why), "{}: {log}", t.name);
    }
}

#[test]
fn a_killed_server_leaves_a_file_the_next_start_refuses() {
    for t in [molt_seg(), molt_rs()] {
        let dir = TempDir::new("warm-kill");
        let (file, before) = saved_file(&t, &dir);
        // Warm, then killed: the file was marked in use at start.
        let mut server = start(&t, &file, "64", &[]);
        assert!(read(&server, 0..10).iter().all(Option::is_some));
        write(&server, 0..10, 1);
        signal(server.pid(), "-KILL");
        server.wait_exit(Duration::from_secs(60), "SIGKILL");
        let server = start(&t, &file, "64", &[]);
        let after = read(&server, 0..before.len());
        assert_eq!(assert_never_wrong(t.name, &before, &after), 0);
        let log = server.stderr_text();
        assert!(log.contains("not closed by a graceful stop"), "{log}");
        // `shutdown` (not graceful) does not save either, as memcached.
        let server = start(&t, &file, "64", &["-A"]);
        write(&server, 0..10, 2);
        let mut c = server.client();
        c.send_line("shutdown").unwrap();
        let mut server = server;
        server.wait_exit(Duration::from_secs(60), "shutdown");
        let server = start(&t, &file, "64", &[]);
        assert!(read(&server, 0..10).iter().all(Option::is_none));
    }
}

#[test]
fn the_slab_engine_refuses_a_memory_file() {
    let dir = TempDir::new("warm-slab");
    let file = dir.path("cache");
    for t in [target("molt-slab"), target("molt-c")] {
        let out = Command::new(&t.program)
            .args(&t.args)
            .args(["-e", path_str(&file), "-p", &free_port().to_string()])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", t.name);
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "molt: storage engine 'slab' cannot keep its items across a restart \
             (--memory-file needs --storage seg)\n",
            "{}",
            t.name
        );
        assert!(!file.exists());
    }
}

#[test]
fn the_config_file_names_the_memory_file() {
    for t in [molt_seg(), molt_rs()] {
        let dir = TempDir::new("warm-config");
        let file = dir.path("cache");
        let config = dir.path("molt.toml");
        std::fs::write(
            &config,
            format!(
                "memory_file = \"{}\"\nmemory_limit_mb = 64\n",
                file.display()
            ),
        )
        .unwrap();
        let printed = Command::new(&t.program)
            .args(&t.args)
            .args(["--config", path_str(&config), "--print-config"])
            .output()
            .unwrap();
        let printed = String::from_utf8(printed.stdout).unwrap();
        assert!(
            printed.contains(&format!("\nmemory_file = \"{}\"\n", file.display())),
            "{}: {printed}",
            t.name
        );
        let server = Server::start(&t, &["--config", path_str(&config), "-A"]);
        write(&server, 0..1000, 0);
        let before = read(&server, 0..1000);
        let stopped = Instant::now();
        stop(server, "shutdown graceful");
        let server = Server::start(&t, &["--config", path_str(&config)]);
        let after = read(&server, 0..1000);
        assert_same(t.name, &before, &after, stopped.elapsed());
    }
}
