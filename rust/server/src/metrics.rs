//! `/metrics` in Prometheus' text format (c-core/src/admin/metrics.c): the
//! same families, labels and help texts as molt-c, raw counters (not
//! affected by `stats reset`), the engine's own figures and the request
//! latency histogram.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use storage::Storage;

use crate::latency::{self, Totals};
use crate::options::VERSION;
use crate::shared::{Shared, BYTES_READ, BYTES_WRITTEN, COUNTERS};
use crate::worker::wall_seconds;
use protocol::Counter as C;

struct Page(String);

impl Page {
    fn head(&mut self, name: &str, kind: &str, help: &str) {
        let _ = write!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
    }

    fn value(&mut self, name: &str, labels: &str, v: u64) {
        let _ = writeln!(self.0, "{name}{labels} {v}");
    }

    fn one(&mut self, name: &str, kind: &str, help: &str, labels: &str, v: u64) {
        self.head(name, kind, help);
        self.value(name, labels, v);
    }
}

/// A duration in ns as seconds, exactly, with at least one decimal.
fn seconds(ns: u64) -> String {
    let s = format!("{}.{:09}", ns / 1_000_000_000, ns % 1_000_000_000);
    let keep = s.trim_end_matches('0');
    if keep.ends_with('.') {
        format!("{keep}0")
    } else {
        keep.to_string()
    }
}

/// The commands counted as hits and misses, and their counters.
const HIT_MISS: [(&str, C, C); 6] = [
    ("get", C::GetHits, C::GetMisses),
    ("delete", C::DeleteHits, C::DeleteMisses),
    ("incr", C::IncrHits, C::IncrMisses),
    ("decr", C::DecrHits, C::DecrMisses),
    ("cas", C::CasHits, C::CasMisses),
    ("touch", C::TouchHits, C::TouchMisses),
];

pub fn render(s: &Shared) -> String {
    let now = wall_seconds();
    let mut t = [0u64; COUNTERS];
    let mut lat = Totals::new();
    for w in &s.workers {
        for (i, c) in t.iter_mut().enumerate() {
            *c += w.counters.get(i);
        }
        w.latency.sum_into(&mut lat);
    }
    let n = |c: C| t[c as usize];
    let e = s.storage.stats(now);
    let el = "{engine=\"seg\"}";
    let mut p = Page(String::with_capacity(8192));
    p.head(
        "molt_info",
        "gauge",
        "Version, storage engine and transport of this server.",
    );
    let _ = writeln!(
        p.0,
        "molt_info{{version=\"{VERSION}\",engine=\"seg\",transport=\"{}\"}} 1",
        s.transport_name()
    );
    p.one(
        "molt_uptime_seconds",
        "gauge",
        "Seconds since start-up.",
        "",
        (now - s.started).max(0) as u64,
    );
    p.one(
        "molt_threads",
        "gauge",
        "Worker threads.",
        "",
        s.workers.len() as u64,
    );
    let cmds = "molt_commands_total";
    p.head(
        cmds,
        "counter",
        "Commands by type, counted like memcached's stats: get counts keys \
         (get/gets/gat/gats), set counts every storage command (set, add, \
         replace, append, prepend, cas).",
    );
    p.value(cmds, "{command=\"get\"}", n(C::CmdGet));
    p.value(cmds, "{command=\"set\"}", n(C::CmdSet));
    p.value(
        cmds,
        "{command=\"delete\"}",
        n(C::DeleteHits) + n(C::DeleteMisses),
    );
    p.value(
        cmds,
        "{command=\"incr\"}",
        n(C::IncrHits) + n(C::IncrMisses),
    );
    p.value(
        cmds,
        "{command=\"decr\"}",
        n(C::DecrHits) + n(C::DecrMisses),
    );
    p.value(
        cmds,
        "{command=\"cas\"}",
        n(C::CasHits) + n(C::CasMisses) + n(C::CasBadval),
    );
    p.value(cmds, "{command=\"touch\"}", n(C::CmdTouch));
    p.value(cmds, "{command=\"flush\"}", n(C::CmdFlush));
    for (name, help, misses) in [
        (
            "molt_hits_total",
            "Commands that found their key, by command.",
            false,
        ),
        (
            "molt_misses_total",
            "Commands that did not find their key, by command.",
            true,
        ),
    ] {
        p.head(name, "counter", help);
        for (command, hit, miss) in HIT_MISS {
            let v = n(if misses { miss } else { hit });
            p.value(name, &format!("{{command=\"{command}\"}}"), v);
        }
    }
    p.one(
        "molt_cas_badval_total",
        "counter",
        "cas commands refused: the item had changed.",
        "",
        n(C::CasBadval),
    );
    let rej = "molt_store_rejected_total";
    p.head(rej, "counter", "Storage commands refused, by reason.");
    p.value(rej, "{reason=\"too_large\"}", n(C::StoreTooLarge));
    p.value(rej, "{reason=\"no_memory\"}", n(C::StoreNoMemory));
    p.one(
        "molt_read_bytes_total",
        "counter",
        "Bytes read from clients.",
        "",
        t[BYTES_READ],
    );
    p.one(
        "molt_written_bytes_total",
        "counter",
        "Bytes written to clients.",
        "",
        t[BYTES_WRITTEN],
    );
    p.one(
        "molt_connections",
        "gauge",
        "Open client connections.",
        "",
        s.curr_conns.load(Ordering::Relaxed),
    );
    p.one(
        "molt_connections_total",
        "counter",
        "Client connections accepted.",
        "",
        s.total_conns.load(Ordering::Relaxed),
    );
    p.one(
        "molt_connections_rejected_total",
        "counter",
        "Client connections refused over the connection limit.",
        "",
        s.rejected_conns.load(Ordering::Relaxed),
    );
    p.one(
        "molt_connections_max",
        "gauge",
        "The connection limit.",
        "",
        s.settings.max_conns,
    );
    p.one(
        "molt_items",
        "gauge",
        "Items held by the storage engine.",
        el,
        e.curr_items,
    );
    p.one(
        "molt_items_stored_total",
        "counter",
        "Successful stores.",
        el,
        e.total_items,
    );
    p.one(
        "molt_item_bytes",
        "gauge",
        "Bytes held by items (headers, keys, values).",
        el,
        e.bytes,
    );
    p.one(
        "molt_evictions_total",
        "counter",
        "Live items removed to make room.",
        el,
        e.evictions,
    );
    p.one(
        "molt_expired_total",
        "counter",
        "Expired or flushed items reclaimed (memcached's reclaimed).",
        el,
        e.expired,
    );
    p.one(
        "molt_memory_limit_bytes",
        "gauge",
        "Item memory limit.",
        el,
        e.memory_limit,
    );
    p.one(
        "molt_memory_used_bytes",
        "gauge",
        "Item memory allocated from the system.",
        el,
        e.memory_used,
    );
    p.one(
        "molt_hash_buckets",
        "gauge",
        "Size of the engine's hash table.",
        el,
        e.hash_buckets,
    );
    s.storage.figures(now, &mut |f| {
        let suffix = if f.counter { "_total" } else { "" };
        let name = format!("molt_{}{suffix}", f.name.to_str().unwrap_or("?"));
        let kind = if f.counter { "counter" } else { "gauge" };
        p.one(&name, kind, f.help.to_str().unwrap_or(""), el, f.value);
    });
    histogram(&mut p, &lat);
    p.0
}

fn histogram(p: &mut Page, t: &Totals) {
    let name = "molt_request_duration_seconds";
    p.head(
        name,
        "histogram",
        "Time from a worker waking up with a connection's input to handing the \
         replies to the socket, one observation per read batch (a batch is one \
         request unless the client pipelines).",
    );
    let mut cum = 0;
    for i in 0..latency::BUCKETS - 1 {
        cum += t.bucket[i];
        if !latency::exported(i) {
            continue;
        }
        let le = seconds(latency::bucket_upper_ns(i));
        let _ = writeln!(p.0, "{name}_bucket{{le=\"{le}\"}} {cum}");
    }
    let _ = writeln!(p.0, "{name}_bucket{{le=\"+Inf\"}} {}", t.count);
    let _ = writeln!(p.0, "{name}_sum {}", seconds(t.sum_ns));
    let _ = writeln!(p.0, "{name}_count {}", t.count);
}

#[cfg(test)]
mod tests {
    #[test]
    fn seconds_are_exact_with_one_decimal_at_least() {
        assert_eq!(super::seconds(1024), "0.000001024");
        assert_eq!(super::seconds(2_000_000_000), "2.0");
        assert_eq!(super::seconds(1_500_000_000), "1.5");
    }
}
