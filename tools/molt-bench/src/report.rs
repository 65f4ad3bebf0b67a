//! Results: the human table and the JSON report.

use crate::config::Args;
use crate::stats::Stats;
use hdrhistogram::Histogram;
use serde::Serialize;
use std::fmt::Write as _;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Latency {
    pub count: u64,
    pub min: u64,
    pub mean: f64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

impl Latency {
    pub fn from_hist(h: &Histogram<u64>) -> Option<Latency> {
        if h.is_empty() {
            return None;
        }
        Some(Latency {
            count: h.len(),
            min: h.min(),
            mean: (h.mean() * 10.0).round() / 10.0,
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
        })
    }
}

/// One bucket of a histogram: `count` values above the previous bucket's
/// `le` and at most `le`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bucket {
    pub le: u64,
    pub count: u64,
}

/// Counts in power-of-two buckets (`le` = 0, 1, 3, 7, 15, ... us: each bucket
/// twice as wide as the one before) up to the largest value.
pub fn log2_buckets(h: &Histogram<u64>) -> Vec<Bucket> {
    let mut out: Vec<Bucket> = h
        .iter_log(1, 2.0)
        .map(|v| Bucket {
            le: v.value_iterated_to(),
            count: v.count_since_last_iteration(),
        })
        .collect();
    while out.last().is_some_and(|b| b.count == 0) {
        out.pop();
    }
    out
}

/// The most send lag a latency percentile may carry and still be reported:
/// 10% of it. Above that the client's own lateness is a large part of the
/// figure, which then says more about the client than the server.
pub const MAX_LAG_SHARE: f64 = 0.10;

/// One percentile as it may be reported: a number, or "client-bound" when
/// the client's send lag at the same percentile exceeds MAX_LAG_SHARE of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    Us(u64),
    ClientBound,
}

impl Cell {
    pub fn judge(latency_us: u64, lag_us: u64) -> Cell {
        if lag_us as f64 <= MAX_LAG_SHARE * latency_us as f64 {
            Cell::Us(latency_us)
        } else {
            Cell::ClientBound
        }
    }
}

impl std::fmt::Display for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cell::Us(v) => v.fmt(f),
            Cell::ClientBound => "client-bound".fmt(f),
        }
    }
}

impl Serialize for Cell {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Cell::Us(v) => s.serialize_u64(*v),
            Cell::ClientBound => s.serialize_str("client-bound"),
        }
    }
}

/// Open loop: every latency percentile of all requests, judged against the
/// send lag at the same percentile.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Judged {
    pub p50: Cell,
    pub p90: Cell,
    pub p99: Cell,
    pub p999: Cell,
}

impl Judged {
    pub fn new(lat: &Latency, lag: &Latency) -> Judged {
        Judged {
            p50: Cell::judge(lat.p50, lag.p50),
            p90: Cell::judge(lat.p90, lag.p90),
            p99: Cell::judge(lat.p99, lag.p99),
            p999: Cell::judge(lat.p999, lag.p999),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Latencies {
    pub all: Option<Latency>,
    pub get: Option<Latency>,
    pub set: Option<Latency>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Preload {
    pub keys: u64,
    pub secs: f64,
}

/// --handshake-bench: connection set-ups in the measured window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Handshakes {
    /// Completed cycles (connect, handshake, `version`, close).
    pub count: u64,
    pub per_sec: f64,
    /// TLS handshakes that were full / resumed (both 0 without TLS).
    pub full: u64,
    pub resumed: u64,
    /// Microseconds from the TCP connect to the end of the TLS handshake
    /// (client's view; without TLS: to the `version` reply).
    pub latency_us: Option<Latency>,
}

impl Handshakes {
    pub fn from_stats(st: &Stats, measured_secs: f64, tls: bool) -> Handshakes {
        Handshakes {
            count: st.handshakes,
            per_sec: if measured_secs > 0.0 {
                (st.handshakes as f64 / measured_secs * 10.0).round() / 10.0
            } else {
                0.0
            },
            full: if tls { st.handshakes - st.resumed } else { 0 },
            resumed: st.resumed,
            latency_us: Latency::from_hist(&st.hist_handshake),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Results {
    /// Length of the measured window in seconds.
    pub measured_secs: f64,
    /// Measured requests completed (a multi-get counts once).
    pub ops: u64,
    pub ops_per_sec: f64,
    pub gets: u64,
    pub sets: u64,
    /// Keys asked for by the measured gets (gets x multiget).
    pub get_keys: u64,
    pub hits: u64,
    pub misses: u64,
    pub hit_ratio: Option<f64>,
    /// Whole run (preload, warm-up, measured): values that no set of this
    /// configuration could have written (and misses under --expect-hits).
    pub wrong: u64,
    /// Whole run: error replies, unexpected lines, connection failures.
    pub errors: u64,
    /// Whole run, --refused-ok: sets refused with `SERVER_ERROR out of
    /// memory storing object` (not errors).
    pub refused: u64,
    /// Requests never answered because their connection failed.
    pub unanswered: u64,
    /// Whole run: replies read and checked.
    pub verified_replies: u64,
    /// The first distinct error and wrong-value descriptions.
    pub samples: Vec<String>,
    /// Microseconds: from the send (closed loop) or the intended send time (open loop).
    pub latency_us: Latencies,
    /// Open loop only: actual minus intended send time, microseconds.
    pub send_lag_us: Option<Latency>,
    /// Open loop only: the send lag histogram, power-of-two buckets (us).
    pub send_lag_buckets: Option<Vec<Bucket>>,
    /// Open loop only: latency_us.all's percentiles as they may be reported
    /// (a number, or "client-bound"; see Cell).
    pub reportable_us: Option<Judged>,
    pub preload: Option<Preload>,
    /// --handshake-bench only.
    pub handshakes: Option<Handshakes>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Config {
    pub mode: &'static str,
    pub target: String,
    #[serde(flatten)]
    pub args: Args,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub tool: &'static str,
    pub version: &'static str,
    pub config: Config,
    pub results: Results,
}

impl Results {
    pub fn from_stats(st: &Stats, measured_secs: f64, preload: Option<Preload>) -> Results {
        let mut all = st.hist_get.clone();
        all.add(&st.hist_set).expect("same bounds");
        let ops = st.gets + st.sets;
        let all = Latency::from_hist(&all);
        let lag = Latency::from_hist(&st.lag);
        let reportable_us = match (&all, &lag) {
            (Some(all), Some(lag)) => Some(Judged::new(all, lag)),
            _ => None,
        };
        Results {
            measured_secs: (measured_secs * 1e6).round() / 1e6,
            ops,
            ops_per_sec: if measured_secs > 0.0 {
                (ops as f64 / measured_secs * 10.0).round() / 10.0
            } else {
                0.0
            },
            gets: st.gets,
            sets: st.sets,
            get_keys: st.get_keys,
            hits: st.hits,
            misses: st.misses,
            hit_ratio: (st.get_keys > 0)
                .then(|| (st.hits as f64 / st.get_keys as f64 * 1e4).round() / 1e4),
            wrong: st.wrong,
            errors: st.errors,
            refused: st.refused,
            unanswered: st.unanswered,
            verified_replies: st.replies,
            samples: st.samples.clone(),
            latency_us: Latencies {
                all,
                get: Latency::from_hist(&st.hist_get),
                set: Latency::from_hist(&st.hist_set),
            },
            send_lag_us: lag,
            send_lag_buckets: (!st.lag.is_empty()).then(|| log2_buckets(&st.lag)),
            reportable_us,
            preload,
            handshakes: None,
        }
    }

    pub fn ok(&self) -> bool {
        self.wrong == 0 && self.errors == 0
    }
}

impl Report {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("report serialises")
    }

    /// The human-readable table.
    pub fn table(&self) -> String {
        let a = &self.config.args;
        let r = &self.results;
        let mut s = String::new();
        if let Some(h) = &r.handshakes {
            return self.handshake_table(h);
        }
        let mode = if a.rate > 0.0 {
            format!("open loop at {} req/s", a.rate)
        } else {
            "closed loop".to_string()
        };
        let _ = writeln!(
            s,
            "molt-bench {} -> {}: {mode}, {} conns, pipeline {}, {} keys of {} B, values {} B, get:set {}, multiget {}",
            self.version, self.config.target, a.connections, a.pipeline, a.keys, a.key_size,
            a.value_size, a.ratio, a.multiget
        );
        if let Some(p) = &r.preload {
            let _ = writeln!(s, "preload       {} keys in {:.2} s", p.keys, p.secs);
        }
        let _ = writeln!(
            s,
            "measured      {:.2} s (after {} s warm-up)",
            r.measured_secs, a.warmup
        );
        let _ = writeln!(s, "ops/s         {:.1}", r.ops_per_sec);
        let _ = writeln!(s, "ops           {}", r.ops);
        let _ = writeln!(s, "gets          {}", r.gets);
        let _ = writeln!(s, "sets          {}", r.sets);
        let ratio = r
            .hit_ratio
            .map(|h| format!(" (hit ratio {:.2}%)", h * 100.0))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "get keys      {}: hits {}, misses {}{ratio}",
            r.get_keys, r.hits, r.misses
        );
        let _ = writeln!(s, "wrong         {}", r.wrong);
        let _ = writeln!(s, "errors        {}", r.errors);
        if r.refused > 0 {
            let _ = writeln!(s, "refused       {} sets (out of memory)", r.refused);
        }
        if r.unanswered > 0 {
            let _ = writeln!(s, "unanswered    {}", r.unanswered);
        }
        let _ = writeln!(s, "verified      {} replies", r.verified_replies);
        let _ = writeln!(
            s,
            "\n{:<14}{:>10}{:>9}{:>9}{:>9}{:>9}{:>9}{:>10}",
            "latency (us)", "count", "p50", "p90", "p99", "p99.9", "max", "mean"
        );
        let rows = [
            ("all", &r.latency_us.all),
            ("get", &r.latency_us.get),
            ("set", &r.latency_us.set),
            ("send lag", &r.send_lag_us),
        ];
        for (name, l) in rows {
            match l {
                Some(l) => {
                    let _ = writeln!(
                        s,
                        "{name:<14}{:>10}{:>9}{:>9}{:>9}{:>9}{:>9}{:>10.1}",
                        l.count, l.p50, l.p90, l.p99, l.p999, l.max, l.mean
                    );
                }
                None if name != "send lag" => {
                    let _ = writeln!(s, "{name:<14}{:>10}", 0);
                }
                None => {}
            }
        }
        if let Some(b) = &r.send_lag_buckets {
            let cells: Vec<String> = b
                .iter()
                .map(|b| format!("<={} {}", b.le, b.count))
                .collect();
            let _ = writeln!(s, "send lag histogram (us: count) {}", cells.join(", "));
        }
        if let Some(j) = &r.reportable_us {
            // " client-bound" is wider than a column: the space keeps cells apart.
            let cell = |c: Cell| format!(" {c}");
            let _ = writeln!(
                s,
                "{:<14}{:>10}{:>9}{:>9}{:>9}{:>9}",
                "reportable",
                "",
                cell(j.p50),
                cell(j.p90),
                cell(j.p99),
                cell(j.p999)
            );
            let _ = writeln!(
                s,
                "(a percentile is reportable when the send lag at it is at most {:.0}% of it)",
                MAX_LAG_SHARE * 100.0
            );
        }
        if r.wrong > 0 && !a.flush && !a.preload {
            let _ = writeln!(
                s,
                "\nnote: values that an earlier run with other key or value settings left in the\n\
                 server also count as wrong; --flush (or --preload) starts from a known state"
            );
        }
        self.problems_and_result(&mut s);
        s
    }

    fn problems_and_result(&self, s: &mut String) {
        let r = &self.results;
        if !r.samples.is_empty() {
            let _ = writeln!(s, "\nfirst problems:");
            for x in &r.samples {
                let _ = writeln!(s, "  {x}");
            }
        }
        let _ = writeln!(
            s,
            "\nresult: {}",
            if r.ok() {
                "OK"
            } else {
                "FAILED (wrong or errors > 0)"
            }
        );
    }

    fn handshake_table(&self, h: &Handshakes) -> String {
        let a = &self.config.args;
        let r = &self.results;
        let mut s = String::new();
        let what = if a.tls {
            format!(
                "TLS handshakes, resumption {}",
                if a.tls_resume { "on" } else { "off" }
            )
        } else {
            "TCP connects (no TLS)".to_string()
        };
        let _ = writeln!(
            s,
            "molt-bench {} -> {}: {what}, {} conns",
            self.version, self.config.target, a.connections
        );
        let _ = writeln!(
            s,
            "measured      {:.2} s (after {} s warm-up)",
            r.measured_secs, a.warmup
        );
        let _ = writeln!(s, "handshakes/s  {:.1}", h.per_sec);
        let _ = writeln!(s, "handshakes    {}", h.count);
        if a.tls {
            let _ = writeln!(s, "full          {}", h.full);
            let _ = writeln!(s, "resumed       {}", h.resumed);
        }
        let _ = writeln!(s, "errors        {}", r.errors);
        let _ = writeln!(
            s,
            "\n{:<14}{:>10}{:>9}{:>9}{:>9}{:>9}{:>9}{:>10}",
            "latency (us)", "count", "p50", "p90", "p99", "p99.9", "max", "mean"
        );
        match &h.latency_us {
            Some(l) => {
                let _ = writeln!(
                    s,
                    "{:<14}{:>10}{:>9}{:>9}{:>9}{:>9}{:>9}{:>10.1}",
                    "handshake", l.count, l.p50, l.p90, l.p99, l.p999, l.max, l.mean
                );
            }
            None => {
                let _ = writeln!(s, "{:<14}{:>10}", "handshake", 0);
            }
        }
        self.problems_and_result(&mut s);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use std::time::Duration;

    fn sample_report() -> Report {
        let mut st = Stats {
            gets: 90,
            sets: 10,
            get_keys: 90,
            hits: 80,
            misses: 10,
            replies: 120,
            ..Default::default()
        };
        for i in 0..90 {
            Stats::record(&mut st.hist_get, Duration::from_micros(10 + i));
        }
        for i in 0..10 {
            Stats::record(&mut st.hist_set, Duration::from_micros(100 + i));
        }
        let args = Args::try_parse_from(["molt-bench", "--rate", "5000", "--port", "9"]).unwrap();
        Report {
            tool: "molt-bench",
            version: "0.1.0",
            config: Config {
                mode: "open",
                target: "127.0.0.1:9".into(),
                args,
            },
            results: Results::from_stats(&st, 2.0, None),
        }
    }

    #[test]
    fn json_shape() {
        let r = sample_report();
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(v["tool"], "molt-bench");
        let c = &v["config"];
        assert_eq!(c["mode"], "open");
        assert_eq!(c["target"], "127.0.0.1:9");
        assert_eq!(c["rate"], 5000.0);
        assert_eq!(c["port"], 9);
        assert_eq!(c["connections"], 4);
        assert_eq!(c["value_size"]["min"], 100);
        assert_eq!(c["value_size"]["max"], 100);
        assert_eq!(c["ratio"]["get"], 9);
        assert_eq!(c["ratio"]["set"], 1);
        assert!(c["requests"].is_null());
        let res = &v["results"];
        for k in [
            "measured_secs",
            "ops",
            "ops_per_sec",
            "gets",
            "sets",
            "get_keys",
            "hits",
            "misses",
            "wrong",
            "errors",
            "refused",
            "unanswered",
            "verified_replies",
        ] {
            assert!(res[k].is_number(), "{k}");
        }
        assert_eq!(res["ops"], 100);
        assert_eq!(res["ops_per_sec"], 50.0);
        assert_eq!(res["hit_ratio"], 0.8889);
        assert!(res["samples"].as_array().unwrap().is_empty());
        for h in ["all", "get", "set"] {
            let l = &res["latency_us"][h];
            for k in ["count", "min", "mean", "p50", "p90", "p99", "p999", "max"] {
                assert!(l[k].is_number(), "{h}.{k}");
            }
        }
        assert_eq!(res["latency_us"]["all"]["count"], 100);
        assert_eq!(res["latency_us"]["get"]["max"], 99);
        assert_eq!(res["latency_us"]["set"]["p50"], 104);
        assert!(res["send_lag_us"].is_null());
        assert!(res["preload"].is_null());
        assert!(res["handshakes"].is_null());
        assert_eq!(c["tls"], false);
        assert_eq!(c["tls_resume"], true);
        assert_eq!(c["handshake_bench"], false);
    }

    #[test]
    fn handshake_report() {
        let mut r = sample_report();
        r.config.args = Args::try_parse_from([
            "molt-bench",
            "--tls",
            "--tls-insecure",
            "--handshake-bench",
            "--tls-resume=off",
        ])
        .unwrap();
        let mut st = Stats {
            handshakes: 40,
            resumed: 30,
            ..Default::default()
        };
        for i in 0..40 {
            Stats::record(&mut st.hist_handshake, Duration::from_micros(300 + i));
        }
        r.results.handshakes = Some(Handshakes::from_stats(&st, 2.0, true));
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        let h = &v["results"]["handshakes"];
        assert_eq!(h["count"], 40);
        assert_eq!(h["per_sec"], 20.0);
        assert_eq!(
            (h["full"].as_u64(), h["resumed"].as_u64()),
            (Some(10), Some(30))
        );
        assert_eq!(h["latency_us"]["p50"], 319);
        assert_eq!(v["config"]["tls_resume"], false);
        let t = r.table();
        for needle in [
            "TLS handshakes, resumption off",
            "handshakes/s  20.0",
            "full          10",
            "resumed       30",
            "handshake             40      319",
            "result: OK",
        ] {
            assert!(t.contains(needle), "{needle} in\n{t}");
        }
        let plain = Handshakes::from_stats(&st, 2.0, false);
        assert_eq!(plain.full, 0);
    }

    #[test]
    fn table_mentions_the_figures() {
        let t = sample_report().table();
        for needle in [
            "ops/s",
            "50.0",
            "hits 80, misses 10",
            "p99.9",
            "wrong         0",
            "result: OK",
        ] {
            assert!(t.contains(needle), "{needle} in\n{t}");
        }
        let mut r = sample_report();
        r.results.wrong = 1;
        assert!(!r.results.ok());
        assert!(r.table().contains("FAILED"));
    }

    #[test]
    fn client_bound_rule() {
        // at most 10% of the percentile: the number; above: client-bound
        assert_eq!(Cell::judge(1000, 0), Cell::Us(1000));
        assert_eq!(Cell::judge(1000, 100), Cell::Us(1000));
        assert_eq!(Cell::judge(1000, 101), Cell::ClientBound);
        assert_eq!(Cell::judge(0, 0), Cell::Us(0));
        assert_eq!(Cell::judge(0, 1), Cell::ClientBound);
        assert_eq!(Cell::ClientBound.to_string(), "client-bound");
        assert_eq!(serde_json::to_string(&Cell::Us(42)).unwrap(), "42");
        assert_eq!(
            serde_json::to_string(&Cell::ClientBound).unwrap(),
            "\"client-bound\""
        );
    }

    #[test]
    fn report_judges_each_percentile_against_the_lag() {
        let mut r = sample_report();
        // 1000 latencies of 100..1099 us; lags 0 us but for the slowest 1%
        // (500 us): p50..p99 stand, p99.9 is the client's
        let mut st = Stats::default();
        for i in 0..1000 {
            Stats::record(&mut st.hist_get, Duration::from_micros(100 + i));
            let lag = if i >= 990 { 500 } else { 0 };
            Stats::record(&mut st.lag, Duration::from_micros(lag));
        }
        st.gets = 1000;
        r.results = Results::from_stats(&st, 1.0, None);
        let j = r.results.reportable_us.as_ref().unwrap();
        assert_eq!(j.p50, Cell::Us(599));
        assert_eq!(j.p99, Cell::Us(1089));
        assert_eq!(j.p999, Cell::ClientBound);
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(v["results"]["reportable_us"]["p50"], 599);
        assert_eq!(v["results"]["reportable_us"]["p999"], "client-bound");
        assert_eq!(v["results"]["send_lag_us"]["p999"], 500);
        // 990 lags of 0 us (the first bucket), 10 of 500 us (256..=511)
        let b = r.results.send_lag_buckets.as_ref().unwrap();
        assert_eq!(b.first(), Some(&Bucket { le: 0, count: 990 }));
        assert_eq!(b.last(), Some(&Bucket { le: 511, count: 10 }));
        assert_eq!(b.iter().map(|b| b.count).sum::<u64>(), 1000);
        assert_eq!(v["results"]["send_lag_buckets"][1]["le"], 1);
        let t = r.table();
        assert!(
            t.contains("reportable                    599      999     1089 client-bound"),
            "{t}"
        );
        // closed loop: nothing to judge
        assert!(sample_report().results.reportable_us.is_none());
    }

    #[test]
    fn empty_histograms_are_null() {
        let r = Results::from_stats(&Stats::default(), 0.0, None);
        assert_eq!(r.ops_per_sec, 0.0);
        assert!(r.latency_us.all.is_none());
        assert!(r.hit_ratio.is_none());
    }
}
