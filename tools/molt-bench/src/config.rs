//! Command line and the validated run plan.

use crate::keys::KeySpace;
use crate::schedule::ArrivalKind;
use crate::tls::{self, TlsPlan};
use crate::value::ValueSize;
use clap::builder::BoolishValueParser;
use clap::{ArgAction, Parser};
use serde::Serialize;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Ratio {
    pub get: u32,
    pub set: u32,
}

impl Ratio {
    /// Parses `GET:SET`, e.g. `9:1`, `1:0` (gets only), `0:1` (sets only).
    pub fn parse(s: &str) -> Result<Self, String> {
        let err = || format!("invalid ratio {s:?}: expected GET:SET, e.g. 9:1");
        let (g, st) = s.split_once(':').ok_or_else(err)?;
        let get = g.trim().parse().map_err(|_| err())?;
        let set = st.trim().parse().map_err(|_| err())?;
        if get == 0 && set == 0 {
            return Err("ratio 0:0 issues no requests".into());
        }
        Ok(Ratio { get, set })
    }
}

impl std::fmt::Display for Ratio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.get, self.set)
    }
}

/// Load generator for the memcached text protocol: closed or open loop, every
/// reply verified.
#[derive(Parser, Debug, Clone, Serialize)]
#[command(name = "molt-bench", version, about, long_about = None)]
pub struct Args {
    /// Server host (loopback only unless --allow-remote)
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Server port
    #[arg(short, long, default_value_t = 11211)]
    pub port: u16,
    /// Permit a host that does not resolve to loopback
    #[arg(long)]
    pub allow_remote: bool,
    /// Connections (one thread each, two in open loop with pipeline > 1;
    /// all on one thread with --one-thread)
    #[arg(short, long, default_value_t = 4)]
    pub connections: usize,
    /// Pipeline depth: requests in flight per connection
    #[arg(short = 'd', long, default_value_t = 1)]
    pub pipeline: usize,
    /// Key space size
    #[arg(short, long, default_value_t = 10_000)]
    pub keys: u64,
    /// Key prefix
    #[arg(long, default_value = "molt:")]
    pub key_prefix: String,
    /// Key length in bytes (the index is zero-padded to it)
    #[arg(long, default_value_t = 16)]
    pub key_size: usize,
    /// Value size in bytes: N or MIN-MAX (uniform per key and version)
    #[arg(long, default_value = "100", value_parser = ValueSize::parse)]
    pub value_size: ValueSize,
    /// get:set ratio
    #[arg(long, default_value = "9:1", value_parser = Ratio::parse)]
    pub ratio: Ratio,
    /// Keys per get request (multi-get)
    #[arg(short, long, default_value_t = 1)]
    pub multiget: usize,
    /// Store every key once (pipelined sets, each must be STORED) before the run
    #[arg(long)]
    pub preload: bool,
    /// Send flush_all before everything else
    #[arg(long)]
    pub flush: bool,
    /// Count get misses as wrong (use with --preload and enough memory)
    #[arg(long)]
    pub expect_hits: bool,
    /// Count a set answered `SERVER_ERROR out of memory storing object` as
    /// refused, not as an error (a full server may refuse sets under a
    /// flood: memcached does when its LRU tail is busy)
    #[arg(long)]
    pub refused_ok: bool,
    /// Total requests per second, open loop; 0 = closed loop, as fast as possible
    #[arg(short, long, default_value_t = 0.0)]
    pub rate: f64,
    /// Warm-up seconds (verified, not measured)
    #[arg(short, long, default_value_t = 1.0)]
    pub warmup: f64,
    /// Measured seconds (also the limit when --requests is given)
    #[arg(short = 't', long, default_value_t = 10.0)]
    pub duration: f64,
    /// Stop after this many measured requests (split over connections)
    #[arg(short = 'n', long)]
    pub requests: Option<u64>,
    /// Seconds to wait for a reply before counting it unanswered
    #[arg(long, default_value_t = 5.0)]
    pub timeout: f64,
    /// Open loop: wake this many microseconds early and yield until the
    /// intended time (offsets the kernel's timer slack; 0 = plain sleep;
    /// off automatically above 1/(4*spin) requests/s per connection)
    #[arg(long, default_value_t = 50)]
    pub spin_us: u64,
    /// All connections on one thread and one epoll (mio) loop, non-blocking:
    /// the client cannot preempt itself (plain TCP only)
    #[arg(long)]
    pub one_thread: bool,
    /// Open loop with --one-thread: intended send times evenly spaced
    /// (fixed) or a Poisson process (exponential gaps, same mean rate)
    #[arg(long, value_enum, default_value = "fixed")]
    pub arrivals: ArrivalKind,
    /// Seed for key and operation choice
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write a JSON report to FILE (`-` for stdout)
    #[arg(long, value_name = "FILE")]
    pub json: Option<String>,
    /// No progress line on stderr
    #[arg(short, long)]
    pub quiet: bool,
    /// Speak TLS to the server (rustls; needs --tls-ca or --tls-insecure)
    #[arg(long)]
    pub tls: bool,
    /// Verify the server certificate against this CA (PEM)
    #[arg(long, value_name = "FILE")]
    pub tls_ca: Option<String>,
    /// Do not verify the server certificate (must be explicit without --tls-ca)
    #[arg(long)]
    pub tls_insecure: bool,
    /// Client certificate chain (PEM) for mutual TLS (with --tls-key)
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<String>,
    /// Client private key (PEM) for mutual TLS (with --tls-cert)
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<String>,
    /// Name sent in SNI and checked against the server certificate
    #[arg(long, value_name = "NAME", default_value = "localhost")]
    pub tls_server_name: String,
    /// Resume TLS sessions (tickets cached per process): on|off
    #[arg(long, value_name = "on|off", default_value = "on", num_args = 0..=1,
          default_missing_value = "on", action = ArgAction::Set,
          value_parser = BoolishValueParser::new())]
    pub tls_resume: bool,
    /// Measure connection set-up instead of requests: each connection
    /// thread connects (TLS handshake with --tls), sends `version`, closes,
    /// and repeats for the duration
    #[arg(long)]
    pub handshake_bench: bool,
}

pub const MAX_CONNECTIONS: usize = 1024;
pub const MAX_PIPELINE: usize = 4096;
pub const MAX_MULTIGET: usize = 1000;
pub const MAX_SECONDS: f64 = 86_400.0;

/// Everything the workers need, validated.
#[derive(Debug, Clone)]
pub struct Plan {
    pub addr: SocketAddr,
    pub keys: KeySpace,
    pub values: ValueSize,
    pub ratio: Ratio,
    pub multiget: usize,
    pub pipeline: usize,
    pub connections: usize,
    pub rate: f64,
    pub warmup: Duration,
    pub duration: Duration,
    pub requests: Option<u64>,
    pub timeout: Duration,
    pub expect_hits: bool,
    pub refused_ok: bool,
    pub preload: bool,
    pub flush: bool,
    pub seed: u64,
    pub spin: Duration,
    /// --one-thread: the event-loop driver
    pub one_thread: bool,
    pub arrivals: ArrivalKind,
    /// TLS client configuration (None: plain TCP).
    pub tls: Option<TlsPlan>,
    pub handshake_bench: bool,
}

fn secs(name: &str, v: f64, min_exclusive: bool) -> Result<Duration, String> {
    let ok = v.is_finite() && v <= MAX_SECONDS && if min_exclusive { v > 0.0 } else { v >= 0.0 };
    if !ok {
        let lo = if min_exclusive { "> 0" } else { ">= 0" };
        return Err(format!(
            "--{name} must be {lo} and <= {MAX_SECONDS} seconds"
        ));
    }
    Ok(Duration::from_secs_f64(v))
}

/// Resolves `host:port`; every address must be loopback unless allowed.
pub fn resolve(host: &str, port: u16, allow_remote: bool) -> Result<SocketAddr, String> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    let first = *addrs
        .first()
        .ok_or_else(|| format!("{host} resolves to no address"))?;
    if !allow_remote {
        if let Some(a) = addrs.iter().find(|a| !a.ip().is_loopback()) {
            return Err(format!(
                "{host} resolves to {}, which is not loopback; pass --allow-remote to target it",
                a.ip()
            ));
        }
    }
    Ok(first)
}

/// The TLS client configuration, when --tls is given; the other --tls-*
/// options without --tls are refused rather than silently ignored.
fn tls_plan(a: &Args) -> Result<Option<TlsPlan>, String> {
    if !a.tls {
        for (set, name) in [
            (a.tls_ca.is_some(), "--tls-ca"),
            (a.tls_insecure, "--tls-insecure"),
            (a.tls_cert.is_some(), "--tls-cert"),
            (a.tls_key.is_some(), "--tls-key"),
        ] {
            if set {
                return Err(format!("{name} needs --tls"));
            }
        }
        return Ok(None);
    }
    TlsPlan::new(&tls::Options {
        ca: a.tls_ca.clone(),
        insecure: a.tls_insecure,
        cert: a.tls_cert.clone(),
        key: a.tls_key.clone(),
        server_name: a.tls_server_name.clone(),
        resume: a.tls_resume,
    })
    .map(Some)
}

impl Plan {
    pub fn from_args(a: &Args) -> Result<Plan, String> {
        let range = |name: &str, v: usize, max: usize| {
            if v == 0 || v > max {
                Err(format!("--{name} must be between 1 and {max}"))
            } else {
                Ok(v)
            }
        };
        let connections = range("connections", a.connections, MAX_CONNECTIONS)?;
        let pipeline = range("pipeline", a.pipeline, MAX_PIPELINE)?;
        let multiget = range("multiget", a.multiget, MAX_MULTIGET)?;
        if !a.rate.is_finite() || a.rate < 0.0 {
            return Err("--rate must be >= 0".into());
        }
        if a.requests == Some(0) {
            return Err("--requests must be > 0".into());
        }
        let keys = KeySpace::new(&a.key_prefix, a.key_size, a.keys)?;
        if a.handshake_bench {
            for (set, name) in [
                (a.rate > 0.0, "--rate"),
                (a.preload, "--preload"),
                (a.expect_hits, "--expect-hits"),
            ] {
                if set {
                    return Err(format!("--handshake-bench cannot be combined with {name}"));
                }
            }
        }
        let tls = tls_plan(a)?;
        if a.one_thread {
            for (set, name) in [(a.tls, "--tls"), (a.handshake_bench, "--handshake-bench")] {
                if set {
                    return Err(format!("--one-thread cannot be combined with {name}"));
                }
            }
        }
        if a.arrivals == ArrivalKind::Poisson && !(a.one_thread && a.rate > 0.0) {
            return Err("--arrivals poisson needs --one-thread and --rate".into());
        }
        Ok(Plan {
            addr: resolve(&a.host, a.port, a.allow_remote)?,
            keys,
            values: a.value_size,
            ratio: a.ratio,
            multiget,
            pipeline,
            connections,
            rate: a.rate,
            warmup: secs("warmup", a.warmup, false)?,
            duration: secs("duration", a.duration, true)?,
            requests: a.requests,
            timeout: secs("timeout", a.timeout, true)?,
            expect_hits: a.expect_hits,
            refused_ok: a.refused_ok,
            preload: a.preload,
            flush: a.flush,
            seed: a.seed,
            spin: Duration::from_micros(a.spin_us.min(10_000)),
            one_thread: a.one_thread,
            arrivals: a.arrivals,
            tls,
            handshake_bench: a.handshake_bench,
        })
    }

    pub fn open_loop(&self) -> bool {
        self.rate > 0.0
    }

    /// Measured-request quota of connection `c`, when --requests is given.
    pub fn quota(&self, c: usize) -> Option<u64> {
        self.requests.map(|n| {
            let k = self.connections as u64;
            n / k + u64::from((c as u64) < n % k)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> Args {
        let mut v = vec!["molt-bench"];
        v.extend_from_slice(extra);
        Args::try_parse_from(v).unwrap()
    }

    #[test]
    fn ratio_parsing() {
        assert_eq!(Ratio::parse("9:1").unwrap(), Ratio { get: 9, set: 1 });
        assert_eq!(Ratio::parse("0:1").unwrap(), Ratio { get: 0, set: 1 });
        assert!(Ratio::parse("0:0").is_err());
        assert!(Ratio::parse("9").is_err());
        assert!(Ratio::parse("a:b").is_err());
    }

    #[test]
    fn defaults_make_a_plan() {
        let p = Plan::from_args(&args(&[])).unwrap();
        assert!(!p.open_loop());
        assert_eq!(p.connections, 4);
        assert_eq!(p.values, ValueSize { min: 100, max: 100 });
        assert_eq!(p.addr.to_string(), "127.0.0.1:11211");
    }

    #[test]
    fn cli_options_parse() {
        let a = args(&[
            "--value-size",
            "64-1024",
            "--ratio",
            "1:1",
            "-c",
            "8",
            "-d",
            "16",
            "--rate",
            "5000",
            "-n",
            "10",
            "--json",
            "-",
        ]);
        let p = Plan::from_args(&a).unwrap();
        assert!(p.open_loop());
        assert_eq!(p.values, ValueSize { min: 64, max: 1024 });
        let q: Vec<u64> = (0..8).map(|c| p.quota(c).unwrap()).collect();
        assert_eq!(q, vec![2, 2, 1, 1, 1, 1, 1, 1]);
        assert!(Args::try_parse_from(["molt-bench", "--value-size", "9-1"]).is_err());
    }

    #[test]
    fn loopback_only_unless_allowed() {
        assert!(resolve("127.0.0.1", 1, false).is_ok());
        assert!(resolve("127.0.0.2", 1, false).is_ok());
        assert!(resolve("::1", 1, false).is_ok());
        assert!(resolve("localhost", 1, false).is_ok());
        let e = resolve("192.0.2.1", 1, false).unwrap_err();
        assert!(e.contains("--allow-remote"), "{e}");
        assert!(resolve("192.0.2.1", 1, true).is_ok()); // resolution only, nothing is sent
        assert!(Plan::from_args(&args(&["--host", "10.1.2.3"])).is_err());
    }

    #[test]
    fn invalid_plans() {
        for bad in [
            &["-c", "0"][..],
            &["-d", "0"],
            &["--duration", "0"],
            &["--warmup=-1"],
            &["--rate=-5"],
            &["-n", "0"],
            &["--keys", "1000", "--key-size", "4"],
            &["--multiget", "0"],
            &["--handshake-bench", "--rate", "100"],
            &["--handshake-bench", "--preload"],
            &["--handshake-bench", "--expect-hits"],
            &["--one-thread", "--tls", "--tls-insecure"],
            &["--one-thread", "--handshake-bench"],
            &["--arrivals", "poisson", "--rate", "100"],
            &["--arrivals", "poisson", "--one-thread"],
        ] {
            assert!(Plan::from_args(&args(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn tls_options() {
        // Off by default; resumption defaults on.
        let a = args(&[]);
        assert!(!a.tls && a.tls_resume && !a.handshake_bench);
        assert_eq!(a.tls_server_name, "localhost");
        assert!(Plan::from_args(&a).unwrap().tls.is_none());
        // --tls alone: verification must be chosen explicitly.
        let e = Plan::from_args(&args(&["--tls"])).unwrap_err();
        assert!(e.contains("--tls-insecure"), "{e}");
        let p = Plan::from_args(&args(&["--tls", "--tls-insecure"])).unwrap();
        let t = p.tls.unwrap();
        assert!(t.resume);
        assert_eq!(t.server_name.to_str(), "localhost");
        // --tls-resume[=on|off]
        for (flag, on) in [
            (&["--tls-resume"][..], true),
            (&["--tls-resume=off"], false),
            (&["--tls-resume", "off"], false),
            (&["--tls-resume=no"], false),
            (&["--tls-resume=on"], true),
        ] {
            let mut v = vec!["--tls", "--tls-insecure"];
            v.extend_from_slice(flag);
            let p = Plan::from_args(&args(&v)).unwrap();
            assert_eq!(p.tls.unwrap().resume, on, "{flag:?}");
        }
        assert!(Args::try_parse_from(["molt-bench", "--tls-resume=maybe"]).is_err());
        let p = Plan::from_args(&args(&[
            "--tls",
            "--tls-insecure",
            "--tls-server-name",
            "cache.example",
            "--handshake-bench",
        ]))
        .unwrap();
        assert!(p.handshake_bench);
        assert_eq!(p.tls.unwrap().server_name.to_str(), "cache.example");
        // TLS options without --tls, half a client identity, contradictions.
        for bad in [
            &["--tls-insecure"][..],
            &["--tls-ca", "ca.pem"],
            &["--tls-cert", "c.pem", "--tls-key", "k.pem"],
            &["--tls", "--tls-insecure", "--tls-cert", "c.pem"],
            &["--tls", "--tls-insecure", "--tls-key", "k.pem"],
            &["--tls", "--tls-insecure", "--tls-ca", "/nonexistent.pem"],
            &["--tls", "--tls-ca", "/nonexistent.pem"],
            &["--tls", "--tls-insecure", "--tls-server-name", "a b"],
        ] {
            assert!(Plan::from_args(&args(bad)).is_err(), "{bad:?}");
        }
    }
}
