//! The `stats` reports (c-core/src/admin/stats.c, server_stats.c,
//! server/conns.c): the workers' counters summed on read, less the
//! `stats reset` baseline, the engine's figures, and the groups settings,
//! items, slabs, sizes and conns; the same lines in the same order as
//! molt-c.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;

use protocol::{Output, Report};
use storage::{ClassRow, Storage};

use crate::buf::Buf;
use crate::options::Settings;
use crate::shared::{lock, Baseline, Shared, BYTES_READ, COUNTER_NAMES};

/// Collects a report's lines, then appends them in one step.
struct Lines(Vec<u8>);

impl Lines {
    fn new() -> Lines {
        Lines(Vec::with_capacity(2048))
    }

    fn stat(&mut self, name: &str, value: impl std::fmt::Display) {
        use std::io::Write;
        let _ = write!(self.0, "STAT {name} {value}\r\n");
    }

    fn end(mut self, out: &mut Buf) -> Report {
        self.0.extend_from_slice(b"END\r\n");
        if out.append(&[&self.0]) {
            Report::Done
        } else {
            Report::Refused
        }
    }
}

/// Counters and connection totals summed over the workers, raw.
fn totals_raw(s: &Shared) -> Baseline {
    let mut t = Baseline::default();
    for w in &s.workers {
        for (i, c) in t.counters.iter_mut().enumerate() {
            *c += w.counters.get(i);
        }
    }
    t.total_conns = s.total_conns.load(Ordering::Relaxed);
    t.rejected_conns = s.rejected_conns.load(Ordering::Relaxed);
    t.idle_kicks = s.idle_kicks.load(Ordering::Relaxed);
    t
}

/// `stats reset`: what is reported from now on starts from here.
pub fn reset(s: &Shared, now: i64) {
    let mut t = totals_raw(s);
    let e = s.storage.stats(now);
    t.total_items = e.total_items;
    t.evictions = e.evictions;
    t.expired = e.expired;
    *lock(&s.baseline) = t;
}

/// CPU seconds of this process, user and system, as "s.uuuuuu"
/// (getrusage's figures, read from /proc/self/stat in clock ticks).
fn rusage() -> (String, String) {
    const TICKS: u64 = 100; // USER_HZ on Linux
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // the fields after the command name, which may hold spaces
    let rest = stat.rsplit_once(')').map_or("", |r| r.1);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // utime and stime are fields 14 and 15; `rest` starts at field 3
    let tv = |t: u64| format!("{}.{:06}", t / TICKS, t % TICKS * (1_000_000 / TICKS));
    (
        tv(f.get(11).copied().unwrap_or(0)),
        tv(f.get(12).copied().unwrap_or(0)),
    )
}

/// `stats`.
pub fn general(s: &Shared, now: i64, out: &mut Buf) -> Report {
    let mut t = totals_raw(s);
    let mut e = s.storage.stats(now);
    {
        let b = lock(&s.baseline);
        for (c, base) in t.counters.iter_mut().zip(b.counters) {
            *c = c.wrapping_sub(base);
        }
        t.total_conns = t.total_conns.wrapping_sub(b.total_conns);
        t.rejected_conns = t.rejected_conns.wrapping_sub(b.rejected_conns);
        t.idle_kicks = t.idle_kicks.wrapping_sub(b.idle_kicks);
        e.total_items = e.total_items.wrapping_sub(b.total_items);
        e.evictions = e.evictions.wrapping_sub(b.evictions);
        e.expired = e.expired.wrapping_sub(b.expired);
    }
    let (user, system) = rusage();
    let mut hash_power = 0;
    while hash_power < 63 && (1u64 << hash_power) < e.hash_buckets {
        hash_power += 1;
    }
    let (watchers, sent, skipped) = s.watch.stats();
    let o = &s.settings;
    let mut l = Lines::new();
    l.stat("pid", std::process::id());
    l.stat("uptime", now - s.started);
    l.stat("time", now);
    l.stat("version", protocol::VERSION_REPLY);
    l.stat("pointer_size", usize::BITS);
    l.stat("rusage_user", user);
    l.stat("rusage_system", system);
    l.stat("max_connections", o.max_conns);
    l.stat("curr_connections", s.curr_conns.load(Ordering::Relaxed));
    l.stat("total_connections", t.total_conns);
    l.stat("rejected_connections", t.rejected_conns);
    for (i, name) in COUNTER_NAMES.iter().enumerate() {
        // memcached lists idle_kicks, when the timeout is on, before
        // bytes_read
        if i == BYTES_READ && o.idle_timeout > 0 {
            l.stat("idle_kicks", t.idle_kicks);
        }
        l.stat(name, t.counters[i]);
    }
    l.stat("limit_maxbytes", e.memory_limit);
    l.stat("threads", o.threads);
    l.stat("hash_power_level", hash_power);
    l.stat("hash_bytes", e.hash_buckets * 8);
    l.stat("bytes", e.bytes);
    l.stat("curr_items", e.curr_items);
    l.stat("total_items", e.total_items);
    l.stat("evictions", e.evictions);
    l.stat("reclaimed", e.expired);
    l.stat("log_watcher_skipped", skipped);
    l.stat("log_watcher_sent", sent);
    l.stat("log_watchers", watchers);
    l.stat("storage_engine", "seg");
    l.stat("storage_memory_used", e.memory_used);
    s.storage.figures(now, &mut |f| {
        l.stat(f.name.to_str().unwrap_or("?"), f.value);
    });
    l.stat("transport", s.transport_name());
    if let Some(a) = &s.tls {
        let t = a.stats().snapshot();
        l.stat("tls_handshakes", t.handshakes);
        l.stat("tls_handshake_errors", t.handshake_errors);
        l.stat("tls_resumed_sessions", t.resumed);
        l.stat("tls_cert_reloads", t.reloads);
        l.stat("tls_cert_reload_errors", t.reload_errors);
    }
    l.end(out)
}

/// `stats <group>`; `conn_fd` is the asking connection's socket.
pub fn group(s: &Shared, name: &[u8], now: i64, asking: i32, out: &mut Buf) -> Report {
    match name {
        b"settings" => settings(&s.settings, out),
        b"sizes" => {
            let mut l = Lines::new();
            l.stat("sizes_status", "disabled");
            l.end(out)
        }
        b"conns" => conns(s, now, asking, out),
        b"items" => classes(s, now, true, out),
        b"slabs" => classes(s, now, false, out),
        _ => Report::Unknown,
    }
}

fn or_null(v: &str) -> &str {
    if v.is_empty() {
        "NULL"
    } else {
        v
    }
}

/// `stats settings`: memcached's lines for the effective settings plus
/// molt's own.
fn settings(o: &Settings, out: &mut Buf) -> Report {
    let mut l = Lines::new();
    l.stat("maxbytes", o.memory_mb * 1024 * 1024);
    l.stat("maxconns", o.max_conns);
    l.stat("tcpport", o.port);
    l.stat("udpport", 0);
    l.stat("inter", or_null(&o.listen));
    l.stat("verbosity", o.verbose);
    l.stat("evictions", "on");
    l.stat("domain_socket", "NULL");
    l.stat(
        "shutdown_command",
        if o.enable_shutdown { "yes" } else { "no" },
    );
    l.stat("growth_factor", format!("{:.2}", o.growth_factor));
    l.stat("num_threads", o.threads);
    l.stat("cas_enabled", "yes");
    l.stat("tcp_backlog", 1024);
    l.stat("binding_protocol", "ascii");
    l.stat("auth_enabled_sasl", "no");
    l.stat("item_size_max", o.item_size_max);
    l.stat("maxconns_fast", "yes");
    l.stat("flush_enabled", "yes");
    l.stat("idle_timeout", o.idle_timeout);
    l.stat("storage_engine", "seg");
    l.stat("protocol", or_null(&o.protocol));
    l.stat("admin_port", o.admin_port);
    l.stat(
        "admin_listen",
        or_null(if o.admin_port != 0 {
            &o.admin_listen
        } else {
            ""
        }),
    );
    l.stat("tls", if o.tls_requested { "yes" } else { "no" });
    l.end(out)
}

/// `stats items` (per class holding items) or `stats slabs` (per class,
/// then active_slabs and total_malloced).
fn classes(s: &Shared, now: i64, items: bool, out: &mut Buf) -> Report {
    let mut l = Lines::new();
    let mut active = 0u64;
    let mut row = |r: &ClassRow| {
        let id = r.id;
        if items {
            if r.items == 0 {
                return;
            }
            let age = if r.oldest_access > 0 && now > r.oldest_access {
                now - r.oldest_access
            } else {
                0
            };
            l.stat(&format!("items:{id}:number"), r.items);
            l.stat(&format!("items:{id}:age"), age);
            return;
        }
        active += 1;
        l.stat(&format!("{id}:chunk_size"), r.chunk_size);
        l.stat(&format!("{id}:chunks_per_page"), r.chunks_per_page);
        l.stat(&format!("{id}:total_pages"), r.pages);
        l.stat(&format!("{id}:total_chunks"), r.chunks);
        l.stat(&format!("{id}:used_chunks"), r.used_chunks);
        l.stat(&format!("{id}:free_chunks"), r.free_chunks);
        l.stat(&format!("{id}:free_chunks_end"), r.free_chunks_end);
    };
    if s.storage.classes(now, &mut row).is_err() {
        return Report::Refused;
    }
    if !items {
        l.stat("active_slabs", active);
        l.stat("total_malloced", s.storage.stats(now).memory_used);
    }
    l.end(out)
}

/// "tcp:1.2.3.4:port" or "tcp6:[::1]:port" (conns.c format_addr).
fn addr(a: Option<SocketAddr>) -> String {
    match a {
        Some(SocketAddr::V4(v4)) => format!("tcp:{}:{}", v4.ip(), v4.port()),
        Some(SocketAddr::V6(v6)) => format!("tcp6:[{}]:{}", v6.ip(), v6.port()),
        None => "unknown".into(),
    }
}

/// `stats conns`: the listener, then every connection of every worker;
/// the asking one is conn_parse_cmd, the others conn_read.
fn conns(s: &Shared, now: i64, asking: i32, out: &mut Buf) -> Report {
    let mut l = Lines::new();
    let listen = addr(Some(s.listen_addr));
    let lfd = s.listen_fd;
    l.stat(&format!("{lfd}:addr"), &listen);
    l.stat(&format!("{lfd}:state"), "conn_listening");
    l.stat(
        &format!("{lfd}:secs_since_last_cmd"),
        (now - s.started).max(0),
    );
    for w in &s.workers {
        for c in lock(&w.conns).values() {
            let fd = c.fd;
            let me = fd == asking;
            let last = if me {
                now
            } else {
                c.last_cmd.load(Ordering::Relaxed)
            };
            l.stat(&format!("{fd}:addr"), addr(c.peer));
            l.stat(&format!("{fd}:listen_addr"), &listen);
            l.stat(
                &format!("{fd}:state"),
                if me { "conn_parse_cmd" } else { "conn_read" },
            );
            l.stat(&format!("{fd}:secs_since_last_cmd"), (now - last).max(0));
        }
    }
    l.end(out)
}
