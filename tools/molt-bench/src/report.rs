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
            unanswered: st.unanswered,
            verified_replies: st.replies,
            samples: st.samples.clone(),
            latency_us: Latencies {
                all: Latency::from_hist(&all),
                get: Latency::from_hist(&st.hist_get),
                set: Latency::from_hist(&st.hist_set),
            },
            send_lag_us: Latency::from_hist(&st.lag),
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
    fn empty_histograms_are_null() {
        let r = Results::from_stats(&Stats::default(), 0.0, None);
        assert_eq!(r.ops_per_sec, 0.0);
        assert!(r.latency_us.all.is_none());
        assert!(r.hit_ratio.is_none());
    }
}
