//! The fuzz loop over generated cases, shrinking a divergence to a
//! reproducer, and its report.

use crate::case::{generate, Case};
use crate::host::{difference, run_side, Opener, Outcome};
use molt::ProtocolStatus;
use molt_test_support::escape_bytes;
use std::time::{Duration, Instant};

/// Attempts the shrinker may make.
const SHRINK_TRIES: usize = 4000;

pub(crate) struct Fuzz<'f, 'p> {
    pub(crate) names: (String, String),
    pub(crate) open_a: &'f Opener<'f, 'p>,
    pub(crate) open_b: &'f Opener<'f, 'p>,
    pub(crate) engine: String,
    pub(crate) exact: bool,
}

pub(crate) struct Divergence {
    pub(crate) case: Case,
    pub(crate) what: String,
    pub(crate) report: String,
}

#[derive(Default)]
pub(crate) struct Summary {
    pub(crate) streams: u64,
    pub(crate) requests: u64,
    pub(crate) bytes: u64,
    /// Calls that ended More with a need, Paused, Close.
    pub(crate) needs: u64,
    pub(crate) pauses: u64,
    pub(crate) closes: u64,
    pub(crate) divergences: Vec<Divergence>,
    pub(crate) elapsed: Duration,
}

impl Fuzz<'_, '_> {
    pub(crate) fn outcomes(&self, case: &Case) -> (Outcome, Outcome) {
        let a = run_side(&mut *(self.open_a)(), &self.engine, case);
        let b = run_side(&mut *(self.open_b)(), &self.engine, case);
        (a, b)
    }

    pub(crate) fn differs(&self, case: &Case) -> Option<String> {
        let (a, b) = self.outcomes(case);
        difference(case, &a, &b, self.exact)
    }

    /// Requests dropped, pieces merged, host variations removed, bytes cut:
    /// each step kept while some difference remains.
    pub(crate) fn shrink(&self, mut case: Case) -> Case {
        let mut tries = 0;
        let attempt = |c: &Case, tries: &mut usize| {
            *tries += 1;
            // a stream that starts 0x80 is binary for the Rust protocol only
            *tries <= SHRINK_TRIES && c.stream.first() != Some(&0x80) && self.differs(c).is_some()
        };
        let mut i = 0;
        while i < case.ends.len() && case.ends.len() > 1 {
            let from = if i == 0 { 0 } else { case.ends[i - 1] };
            let fewer = case.without(from, case.ends[i]);
            if attempt(&fewer, &mut tries) {
                case = fewer;
            } else {
                i += 1;
            }
        }
        let mut i = 0;
        while i < case.cuts.len() {
            let mut merged = case.clone();
            let removed = merged.cuts.remove(i);
            if let Some(next) = merged.cuts.get_mut(i) {
                next.tick += removed.tick;
            }
            if attempt(&merged, &mut tries) {
                case = merged;
                continue;
            }
            if case.cuts[i].tick != 0 {
                let mut still = case.clone();
                still.cuts[i].tick = 0;
                if attempt(&still, &mut tries) {
                    case = still;
                }
            }
            i += 1;
        }
        for plain in [
            |c: &mut Case| c.slow_reader = false,
            |c: &mut Case| c.small_output = false,
            |c: &mut Case| c.small_items = false,
            |c: &mut Case| c.host.shutdown_enabled = false,
            |c: &mut Case| c.host.watching = 0,
            |c: &mut Case| c.host.watch_refused = false,
        ] {
            let mut p = case.clone();
            plain(&mut p);
            if attempt(&p, &mut tries) {
                case = p;
            }
        }
        let mut chunk = case.stream.len() / 2;
        while chunk > 0 {
            let mut at = 0;
            while at + chunk <= case.stream.len() {
                let shorter = case.without(at, at + chunk);
                if attempt(&shorter, &mut tries) {
                    case = shorter;
                } else {
                    at += chunk;
                }
            }
            chunk /= 2;
        }
        case
    }

    pub(crate) fn report(&self, seed: u64, index: u64, case: &Case, what: &str) -> String {
        let (a, b) = self.outcomes(case);
        let (na, nb) = &self.names;
        let from = a
            .replies
            .iter()
            .zip(&b.replies)
            .position(|(x, y)| x != y)
            .unwrap_or(a.replies.len().min(b.replies.len()))
            .saturating_sub(60);
        let calls = |o: &Outcome| {
            o.calls
                .iter()
                .map(|c| format!("{:?}@{}+{}", c.status, c.at, c.need))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let replies = |o: &Outcome| {
            let from = from.min(o.replies.len());
            let dots = if from > 0 { "..." } else { "" };
            format!("{dots}{}", escape_bytes(&o.replies[from..]))
        };
        let rows = [
            ("send".to_string(), escape_bytes(&case.stream)),
            (
                "pieces (at, tick)".into(),
                format!(
                    "{:?}",
                    case.cuts.iter().map(|c| (c.at, c.tick)).collect::<Vec<_>>()
                ),
            ),
            (
                "host".into(),
                format!(
                    "slow reader {}, out_high {}, item_size_max {}, {:?}",
                    case.slow_reader,
                    case.limits().out_high,
                    case.limits().item_size_max,
                    case.host
                ),
            ),
            (format!("{na} replied"), replies(&a)),
            (format!("{nb} replied"), replies(&b)),
            (format!("{na} told the host"), a.host.to_string()),
            (format!("{nb} told the host"), b.host.to_string()),
            (format!("{na} calls (status@consumed+need)"), calls(&a)),
            (format!("{nb} calls (status@consumed+need)"), calls(&b)),
        ];
        let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0) + 1;
        let mut out = format!(
            "{na} vs {nb} over {}: {what}\n  seed {seed}, stream {index} (DIFF_SEED={seed} DIFF_FIRST={index} replays it unshrunk)",
            self.engine
        );
        for (label, text) in rows {
            out.push_str(&format!("\n  {:<width$} {text}", format!("{label}:")));
        }
        out
    }

    pub(crate) fn run(&self, budget: &Budget, seeds: &[Vec<u8>]) -> Summary {
        let start = Instant::now();
        let mut s = Summary::default();
        let mut index = budget.first;
        while s.requests < budget.requests && start.elapsed() < budget.time {
            let case = generate(budget.seed, index, seeds);
            s.streams += 1;
            s.requests += case.requests as u64;
            s.bytes += case.stream.len() as u64;
            let (a, b) = self.outcomes(&case);
            for c in &a.calls {
                match c.status {
                    ProtocolStatus::More if c.need > 0 => s.needs += 1,
                    ProtocolStatus::Paused => s.pauses += 1,
                    ProtocolStatus::Close => s.closes += 1,
                    ProtocolStatus::More => {}
                }
            }
            if difference(&case, &a, &b, self.exact).is_some() {
                let small = self.shrink(case);
                let what = self
                    .differs(&small)
                    .unwrap_or_else(|| "(gone after shrinking)".into());
                let report = self.report(budget.seed, index, &small, &what);
                let saved = std::env::temp_dir().join(format!(
                    "molt-diff-protocol-{}-{}-{index}.bin",
                    self.engine, budget.seed
                ));
                let _ = std::fs::write(&saved, &small.stream);
                s.divergences.push(Divergence {
                    case: small,
                    what,
                    report: format!("{report}\n  (stream saved to {})", saved.display()),
                });
                if s.divergences.len() >= budget.keep_going {
                    break;
                }
            }
            index += 1;
        }
        s.elapsed = start.elapsed();
        s
    }
}

pub(crate) struct Budget {
    pub(crate) seed: u64,
    pub(crate) first: u64,
    pub(crate) requests: u64,
    pub(crate) time: Duration,
    pub(crate) keep_going: usize,
}
