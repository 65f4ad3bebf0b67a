//! A pool: three molt instances (molt-c, molt --storage slab, molt
//! --storage seg: one of each target) behind twemproxy (`nutcracker`) with
//! ketama distribution, as docs/POOL.md describes.
//!
//! - keys spread over every node (each node's curr_items > 0) and every key
//!   is readable through the proxy, also in multi-gets the proxy splits;
//! - when a node is killed, the proxy ejects it (auto_eject_hosts) and the
//!   pool keeps serving: new keys can be set and read, and the keys held by
//!   the surviving nodes are all still there (consistent hashing moves only
//!   the dead node's share).
//!
//! Needs nutcracker: installed with apt-get when missing and running as root
//! (`make pool` does the same up front); otherwise the test fails with a
//! hint. NUTCRACKER_BIN overrides the binary.

use molt_test_support::{free_port, targets, Client, Server};
use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn find_nutcracker() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("NUTCRACKER_BIN").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    [
        "/usr/sbin/nutcracker",
        "/usr/bin/nutcracker",
        "/usr/local/bin/nutcracker",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
}

fn ensure_nutcracker() -> PathBuf {
    if let Some(p) = find_nutcracker() {
        return p;
    }
    let root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false);
    if root {
        eprintln!("pool: installing nutcracker (twemproxy) with apt-get");
        let install = || {
            Command::new("apt-get")
                .args(["install", "-y", "-qq", "nutcracker"])
                .env("DEBIAN_FRONTEND", "noninteractive")
                .stdout(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false)
        };
        if !install() {
            let _ = Command::new("apt-get")
                .args(["update", "-qq"])
                .stdout(Stdio::null())
                .status();
            install();
        }
    }
    find_nutcracker().unwrap_or_else(|| {
        panic!(
            "nutcracker (twemproxy) is not installed: run `make pool` as root, or \
             `apt-get install nutcracker`, or set NUTCRACKER_BIN"
        )
    })
}

struct Proxy {
    child: Child,
    port: u16,
    stats_port: u16,
    dir: PathBuf,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Proxy {
    fn start(bin: &PathBuf, nodes: &[(u16, &str)]) -> Proxy {
        let port = free_port();
        let stats_port = free_port();
        let dir = std::env::temp_dir().join(format!("molt-pool-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut conf = format!(
            "molt:\n  listen: 127.0.0.1:{port}\n  hash: md5\n  distribution: ketama\n  \
             timeout: 1000\n  auto_eject_hosts: true\n  server_failure_limit: 1\n  \
             server_retry_timeout: 10000\n  server_connections: 1\n  preconnect: false\n  \
             servers:\n"
        );
        for (p, name) in nodes {
            conf.push_str(&format!("   - 127.0.0.1:{p}:1 {name}\n"));
        }
        let conf_path = dir.join("nutcracker.yml");
        std::fs::write(&conf_path, &conf).unwrap();
        let check = Command::new(bin)
            .args(["-t", "-c"])
            .arg(&conf_path)
            .output()
            .expect("run nutcracker -t");
        assert!(
            check.status.success(),
            "nutcracker rejects the config:\n{conf}\n{}{}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );
        let child = Command::new(bin)
            .arg("-c")
            .arg(&conf_path)
            .args([
                "-s",
                &stats_port.to_string(),
                "-a",
                "127.0.0.1",
                "-i",
                "100",
            ])
            .arg("-o")
            .arg(dir.join("nutcracker.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn nutcracker");
        let proxy = Proxy {
            child,
            port,
            stats_port,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect_timeout(&proxy.addr(), Duration::from_millis(200)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nutcracker not listening; log:\n{}",
                proxy.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        proxy
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("nutcracker.log")).unwrap_or_default()
    }

    /// nutcracker's stats JSON (the whole document, as text).
    fn stats(&self) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", self.stats_port)).expect("stats port");
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    }
}

/// The number after `"name":` in a flat JSON text, summed over every
/// occurrence (nutcracker reports per pool and per server).
fn json_sum(json: &str, name: &str) -> u64 {
    let pat = format!("\"{name}\":");
    json.match_indices(&pat)
        .filter_map(|(i, _)| {
            json[i + pat.len()..]
                .trim_start()
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|d| d.parse::<u64>().ok())
        })
        .sum()
}

fn curr_items(server: &Server) -> u64 {
    let mut c = server.client();
    c.send_line("stats").unwrap();
    let mut n = None;
    loop {
        let l = c.read_line().unwrap();
        if l == "END" {
            return n.expect("curr_items in stats");
        }
        if let Some(v) = l.strip_prefix("STAT curr_items ") {
            n = Some(v.parse().unwrap());
        }
    }
}

fn value_of(key: &str) -> String {
    format!("value-of-{key}-{}", key.len() * 7)
}

/// set through the proxy; Ok(reply line).
fn set(c: &mut Client, key: &str) -> std::io::Result<String> {
    let v = value_of(key);
    c.request(&format!("set {key} 5 0 {}\r\n{v}", v.len()))
}

/// get through the proxy: Ok(Some(true)) correct hit, Ok(Some(false)) miss,
/// Err on a protocol error or anything unexpected.
fn get(c: &mut Client, key: &str) -> Result<bool, String> {
    c.send_line(&format!("get {key}"))
        .map_err(|e| e.to_string())?;
    let l = c.read_line().map_err(|e| e.to_string())?;
    if l == "END" {
        return Ok(false);
    }
    let v = value_of(key);
    if l != format!("VALUE {key} 5 {}", v.len()) {
        return Err(format!("get {key}: {l}"));
    }
    let data = c.read_exact(v.len() + 2).map_err(|e| e.to_string())?;
    let end = c.read_line().map_err(|e| e.to_string())?;
    if data != format!("{v}\r\n").as_bytes() || end != "END" {
        return Err(format!("get {key}: wrong value"));
    }
    Ok(true)
}

#[test]
fn a_twemproxy_pool_spreads_keys_and_survives_a_dead_node() {
    let bin = ensure_nutcracker();
    let all = targets!();
    assert!(all.len() >= 3, "need three targets for three nodes");
    let mut nodes: Vec<Option<Server>> = all
        .iter()
        .take(3)
        .map(|t| Some(Server::start(t, &["-t", "2"])))
        .collect();
    let names = ["node1", "node2", "node3"];
    let spec: Vec<(u16, &str)> = nodes
        .iter()
        .zip(names)
        .map(|(s, n)| (s.as_ref().unwrap().port(), n))
        .collect();
    let proxy = Proxy::start(&bin, &spec);
    let mut c = Client::connect(proxy.addr());

    // 1. Keys spread over every node and every key is readable.
    let keys: Vec<String> = (0..300).map(|i| format!("pool:key:{i}")).collect();
    for k in &keys {
        assert_eq!(
            set(&mut c, k).unwrap(),
            "STORED",
            "set {k} through the proxy"
        );
    }
    for k in &keys {
        assert_eq!(get(&mut c, k), Ok(true), "get {k} through the proxy");
    }
    // A multi-get the proxy splits over the nodes and merges back.
    let some: Vec<&str> = keys.iter().take(60).map(String::as_str).collect();
    c.send_line(&format!("get {}", some.join(" "))).unwrap();
    let mut seen = 0;
    loop {
        let l = c.read_line().unwrap();
        if l == "END" {
            break;
        }
        let f: Vec<&str> = l.split(' ').collect();
        assert_eq!(f[0], "VALUE", "{l}");
        let len: usize = f[3].parse().unwrap();
        let data = c.read_exact(len + 2).unwrap();
        assert_eq!(&data[..len], value_of(f[1]).as_bytes());
        seen += 1;
    }
    assert_eq!(seen, 60, "multi-get through the proxy");
    let items: Vec<u64> = nodes
        .iter()
        .map(|s| curr_items(s.as_ref().unwrap()))
        .collect();
    eprintln!("pool: 300 keys over 3 nodes via ketama: curr_items {items:?}");
    for (i, n) in items.iter().enumerate() {
        assert!(*n > 0, "node{} holds no key: {items:?}", i + 1);
    }
    assert_eq!(items.iter().sum::<u64>(), 300, "{items:?}");

    // 2. Kill node2; the proxy ejects it and keeps serving.
    let dead = nodes[1].take().unwrap();
    let dead_name = dead.target_name();
    drop(dead); // SIGKILL
    let survivors_items = items[0] + items[2];
    let started = Instant::now();
    let mut errors = 0;
    for i in 0..60 {
        let k = format!("pool:warmup:{i}");
        match set(&mut c, &k) {
            Ok(l) if l == "STORED" => {}
            Ok(l) if l.starts_with("SERVER_ERROR") => errors += 1,
            Ok(l) => panic!("set {k} after the kill: {l}"),
            Err(_) => {
                // nutcracker may close the client connection on a backend
                // failure; reconnect.
                errors += 1;
                c = Client::connect(proxy.addr());
            }
        }
    }
    // Stats are aggregated every 100 ms (-i 100): poll briefly.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut ejects = 0;
    while ejects == 0 && Instant::now() < deadline {
        ejects = json_sum(&proxy.stats(), "server_ejects");
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!(
        "pool: {dead_name} (node2) killed: {errors} failed request(s) before ejection, \
         server_ejects {ejects}"
    );
    assert!(
        ejects >= 1,
        "no ejection in nutcracker stats:\n{}",
        proxy.stats()
    );
    // Until server_retry_timeout (10 s) passes, the proxy does not try the
    // dead node again: every request must succeed (this takes well under 1 s).
    let mut c = Client::connect(proxy.addr());
    for i in 0..200 {
        let k = format!("pool:after:{i}");
        assert_eq!(set(&mut c, &k).unwrap(), "STORED", "set {k} after ejection");
        assert_eq!(get(&mut c, &k), Ok(true), "get {k} after ejection");
    }
    // Ketama: the survivors' keys did not move, so all of them still hit;
    // the dead node's keys now map to survivors and miss (never an error).
    let mut hits = 0;
    for k in &keys {
        match get(&mut c, k) {
            Ok(true) => hits += 1,
            Ok(false) => {}
            Err(e) => panic!("old key after ejection: {e}"),
        }
    }
    eprintln!(
        "pool: after ejection: 200 new keys set+get ok, {hits}/300 old keys still hit \
         (survivors held {survivors_items}); {:.1?}",
        started.elapsed()
    );
    assert_eq!(
        hits, survivors_items,
        "keys on surviving nodes must stay readable"
    );
}
