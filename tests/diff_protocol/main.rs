//! Differential fuzzer between two protocol.h implementations, in process
//! (no sockets): the same random and mutated byte streams, cut into the
//! same pieces, go to protocol A and protocol B, each over its own engine of
//! the same kind (slab, seg; fresh for every stream), with the same clock,
//! and everything a client or the server could see must be equal:
//! - the concatenated replies, byte for byte (no normalisation: both
//!   engines hand out the same cas values for the same operations);
//! - the sequence of process calls: status and `need` of every call (need
//!   counts past all the input so far, so it does not depend on how much
//!   was consumed), and `consumed` wherever either side stands on a
//!   request boundary of the generated stream (inside a request an
//!   implementation may take bytes at its own pace; DIFF_PROGRESS=exact
//!   compares it on every call);
//! - the session's counters, what it told the host (shutdowns, watches,
//!   watch events) and the engine's figures at the end.
//!
//! The streams: the shared command generator of diff_memcached (classic and
//! meta, good and malformed, noreply, multi-gets of up to 400 keys,
//! over-long lines), plus what only an in-process comparison can judge:
//! `stats` and its groups, `stats reset`, `verbosity`, `refresh_certs`,
//! `watch`, `shutdown [graceful]`, `lru_crawler metadump`, delayed `flush_all` and TTLs of 1..3 s with the
//! clock moving between pieces, huge announced lengths, 250/251-byte keys,
//! pipelined meta gets, binary garbage, and mutated corpus input
//! (fuzz/corpus/proto). Hosts vary too: a slow reader (output left queued,
//! so calls pause and the output limit is met), a 4 KiB output high-water
//! mark, a 4 KiB item limit, `shutdown` allowed or not, watchers wanting
//! no events, one kind or all (so events are reported), `watch` refused.
//!
//! Which protocols: DIFF_PROTOCOLS=a,b; by default "c" vs "rust" when this
//! binary registers "rust" (molt_protocol_names), else "c" vs "c" (the
//! harness checking itself); the choice is printed.
//! Budget: DIFF_REQUESTS (total over the engines; default 60,000, about 2
//! seconds) and DIFF_SECONDS (total, default 8); DIFF_ENGINES=slab,seg;
//! DIFF_SEED, and DIFF_FIRST=N to start at stream N (each stream has its own
//! generator, seeded from the seed and its number); DIFF_KEEP_GOING=N to
//! collect N divergences. The run ends with one line per engine: streams,
//! requests, seconds, divergences.
//!
//! A divergence is shrunk (requests dropped, then pieces merged and host
//! variations removed, then bytes cut) and printed as a reproducer with
//! escaped bytes and the seed; its stream is saved to
//! $TMPDIR/molt-diff-protocol-<engine>-<seed>-<stream>.bin.

mod case;
mod fuzz;
mod host;

use fuzz::{Budget, Divergence, Fuzz};
use host::{Opener, Proto};
use molt::{protocols, CProtocol, Context, OutBuf, Progress, Session};
use molt_test_support::mutate::{corpus_dir, load_dir};
use std::time::Duration;

fn env<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// The two protocols to compare, and why these.
fn protocol_pair() -> (String, String, String) {
    let registered = protocols();
    if let Ok(v) = std::env::var("DIFF_PROTOCOLS") {
        let names: Vec<&str> = v.split([',', ' ']).filter(|s| !s.is_empty()).collect();
        assert!(
            names.len() == 2,
            "DIFF_PROTOCOLS wants two names, e.g. c,rust"
        );
        return (names[0].into(), names[1].into(), "DIFF_PROTOCOLS".into());
    }
    if registered.iter().any(|n| n == "rust") {
        ("c".into(), "rust".into(), "\"rust\" is registered".into())
    } else {
        (
            "c".into(),
            "c".into(),
            format!("no \"rust\" protocol in this binary (registered: {registered:?}); the harness checks itself"),
        )
    }
}

fn session_opener<'p>(p: &'p CProtocol) -> impl Fn() -> Box<dyn Proto + 'p> + 'p {
    move || Box::new(p.session().expect("session"))
}

#[test]
fn protocols_answer_alike() {
    let (a, b, why) = protocol_pair();
    let pa = CProtocol::open(&a).unwrap_or_else(|e| panic!("open protocol {a}: {e:?}"));
    let pb = CProtocol::open(&b).unwrap_or_else(|e| panic!("open protocol {b}: {e:?}"));
    let engines: Vec<String> = std::env::var("DIFF_ENGINES")
        .unwrap_or_else(|_| "slab,seg".into())
        .split(',')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    let bounded = std::env::var("DIFF_REQUESTS").is_err() && std::env::var("DIFF_SECONDS").is_err();
    let total: u64 = env("DIFF_REQUESTS").unwrap_or(60_000);
    let secs: f64 = env("DIFF_SECONDS").unwrap_or(if bounded { 8.0 } else { 1e9 });
    let budget = Budget {
        seed: env("DIFF_SEED").unwrap_or(0x6d6f_6c74),
        first: env("DIFF_FIRST").unwrap_or(0),
        requests: total.div_ceil(engines.len().max(1) as u64),
        time: Duration::from_secs_f64(secs / engines.len().max(1) as f64),
        keep_going: env("DIFF_KEEP_GOING").unwrap_or(1),
    };
    let exact = std::env::var("DIFF_PROGRESS").is_ok_and(|v| v == "exact");
    let seeds = load_dir(&corpus_dir());
    assert!(
        !seeds.is_empty(),
        "seed corpus missing: {}",
        corpus_dir().display()
    );
    eprintln!("diff_protocol: {a} vs {b} ({why}), seed {}", budget.seed);
    let (open_a, open_b) = (session_opener(&pa), session_opener(&pb));
    let mut failures = Vec::new();
    let (mut streams, mut requests, mut elapsed) = (0, 0, Duration::ZERO);
    for engine in &engines {
        let fuzz = Fuzz {
            names: (a.clone(), b.clone()),
            open_a: &open_a,
            open_b: &open_b,
            engine: engine.clone(),
            exact,
        };
        let s = fuzz.run(&budget, &seeds);
        eprintln!(
            "diff_protocol[{a} vs {b}, {engine}]: {} streams, {} requests, {} bytes, {:.1} s, {} divergences \
             (calls: {} needing a block, {} paused, {} closing)",
            s.streams,
            s.requests,
            s.bytes,
            s.elapsed.as_secs_f64(),
            s.divergences.len(),
            s.needs,
            s.pauses,
            s.closes
        );
        if bounded && s.divergences.is_empty() {
            // a fuzzer that never reaches these paths judges little
            assert!(
                s.needs > 0 && s.pauses > 0 && s.closes > 0,
                "{engine}: the streams should reach need, pause and close"
            );
        }
        streams += s.streams;
        requests += s.requests;
        elapsed += s.elapsed;
        failures.extend(s.divergences.into_iter().map(|d| d.report));
    }
    eprintln!(
        "diff_protocol: {a} vs {b}: {streams} streams, {requests} requests, {:.1} s, {} divergences",
        elapsed.as_secs_f64(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "protocols diverge:\n{}",
        failures.join("\n")
    );
}

// ---- the fuzzer can fail -------------------------------------------------

/// The C protocol with one reply spelled wrong: NOT_FOUND becomes
/// NOT-FOUND in what it appends.
struct MisspeltNotFound<'p>(Session<'p>);

impl Proto for MisspeltNotFound<'_> {
    fn process(&mut self, cx: &Context<'_>, input: &[u8], out: &mut OutBuf) -> Progress {
        let before = out.queued().len();
        let p = self.0.process(cx, input, out);
        let added = &mut out.queued_mut()[before..];
        for i in 0..added.len().saturating_sub(8) {
            if &added[i..i + 9] == b"NOT_FOUND" {
                added[i + 3] = b'-';
            }
        }
        p
    }

    fn session(&self) -> &Session<'_> {
        &self.0
    }
}

/// The C protocol announcing one byte more than a pending block needs.
struct NeedsOneMore<'p>(Session<'p>);

impl Proto for NeedsOneMore<'_> {
    fn process(&mut self, cx: &Context<'_>, input: &[u8], out: &mut OutBuf) -> Progress {
        let mut p = self.0.process(cx, input, out);
        if p.need > 0 {
            p.need += 1;
        }
        p
    }

    fn session(&self) -> &Session<'_> {
        &self.0
    }
}

/// The C protocol whose host never has watchers: it reports no events.
struct Unwatched<'p>(Session<'p>);

impl Proto for Unwatched<'_> {
    fn process(&mut self, cx: &Context<'_>, input: &[u8], out: &mut OutBuf) -> Progress {
        self.0.set_watching(0);
        self.0.process(cx, input, out)
    }

    fn session(&self) -> &Session<'_> {
        &self.0
    }
}

/// Runs c against a wrong c over slab until the first divergence.
fn catch<'p>(wrong: &Opener<'_, 'p>, c: &'p CProtocol) -> Divergence {
    let right = session_opener(c);
    let fuzz = Fuzz {
        names: ("c".into(), "wrong".into()),
        open_a: &right,
        open_b: wrong,
        engine: "slab".into(),
        exact: false,
    };
    let budget = Budget {
        seed: 7,
        first: 0,
        requests: 20_000,
        time: Duration::from_secs(60),
        keep_going: 1,
    };
    let mut s = fuzz.run(&budget, &load_dir(&corpus_dir()));
    assert_eq!(s.divergences.len(), 1, "the wrong protocol was not caught");
    let d = s.divergences.remove(0);
    // what a reproducer looks like (--nocapture)
    eprintln!("caught after {} streams:\n{}", s.streams, d.report);
    d
}

#[test]
fn a_misspelt_reply_is_caught_and_shrunk_to_one_request() {
    let c = CProtocol::open("c").expect("open c");
    let wrong = || Box::new(MisspeltNotFound(c.session().expect("session"))) as Box<dyn Proto + '_>;
    let d = catch(&wrong, &c);
    assert!(d.what.starts_with("replies differ"), "{}", d.report);
    // shrunk to one short request that answers NOT_FOUND (delete, incr,
    // touch, cas, ...)
    assert!(
        d.case.ends.len() == 1 && d.case.stream.len() < 40,
        "not shrunk to one request:\n{}",
        d.report
    );
    assert!(
        d.report.contains("NOT_FOUND") && d.report.contains("NOT-FOUND"),
        "{}",
        d.report
    );
    assert!(d.report.contains("seed 7, stream "), "{}", d.report);
}

#[test]
fn a_wrong_need_is_caught_and_shrunk_to_a_partial_block() {
    let c = CProtocol::open("c").expect("open c");
    let wrong = || Box::new(NeedsOneMore(c.session().expect("session"))) as Box<dyn Proto + '_>;
    let d = catch(&wrong, &c);
    assert!(d.what.contains(": need "), "{}", d.report);
    // a storage line whose block has not all arrived; nothing else
    assert!(d.case.stream.len() < 40, "not shrunk:\n{}", d.report);
}

#[test]
fn a_missing_watch_event_is_caught_and_shrunk_to_one_request() {
    let c = CProtocol::open("c").expect("open c");
    let wrong = || Box::new(Unwatched(c.session().expect("session"))) as Box<dyn Proto + '_>;
    let d = catch(&wrong, &c);
    assert_eq!(d.what, "watch events differ", "{}", d.report);
    assert_eq!(d.case.ends.len(), 1, "not shrunk:\n{}", d.report);
    assert!(d.report.contains("status="), "{}", d.report);
}
