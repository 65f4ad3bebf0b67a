//! Per-connection counters and latency histograms, merged at the end.

use hdrhistogram::Histogram;
use std::time::{Duration, Instant};

/// Largest latency recorded exactly (60 s, in microseconds); above saturates.
pub const MAX_LATENCY_US: u64 = 60_000_000;
const MAX_SAMPLES: usize = 10;

pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("valid histogram bounds")
}

/// Microseconds, rounded to nearest.
pub fn micros(d: Duration) -> u64 {
    ((d.as_nanos() + 500) / 1000).min(u128::from(u64::MAX)) as u64
}

#[derive(Debug, Clone)]
pub struct Stats {
    // measured window only
    pub gets: u64,
    pub sets: u64,
    pub get_keys: u64,
    pub hits: u64,
    pub misses: u64,
    pub hist_get: Histogram<u64>,
    pub hist_set: Histogram<u64>,
    /// open loop: actual send time minus intended send time
    pub lag: Histogram<u64>,
    /// --handshake-bench: completed handshakes, how many were resumed, latency
    pub handshakes: u64,
    pub resumed: u64,
    pub hist_handshake: Histogram<u64>,
    pub last_measured_done: Option<Instant>,
    // whole run (preload, warmup and measured window)
    pub replies: u64,
    pub wrong: u64,
    pub errors: u64,
    /// --refused-ok: sets the server refused for want of memory
    pub refused: u64,
    pub unanswered: u64,
    pub samples: Vec<String>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            gets: 0,
            sets: 0,
            get_keys: 0,
            hits: 0,
            misses: 0,
            hist_get: new_histogram(),
            hist_set: new_histogram(),
            lag: new_histogram(),
            handshakes: 0,
            resumed: 0,
            hist_handshake: new_histogram(),
            last_measured_done: None,
            replies: 0,
            wrong: 0,
            errors: 0,
            refused: 0,
            unanswered: 0,
            samples: Vec::new(),
        }
    }
}

impl Stats {
    fn sample(&mut self, what: String) {
        if self.samples.len() < MAX_SAMPLES && !self.samples.contains(&what) {
            self.samples.push(what);
        }
    }

    pub fn error(&mut self, what: String) {
        self.errors += 1;
        self.sample(format!("error: {what}"));
    }

    pub fn wrong(&mut self, what: String) {
        self.wrong += 1;
        self.sample(format!("wrong: {what}"));
    }

    pub fn record(hist: &mut Histogram<u64>, d: Duration) {
        hist.saturating_record(micros(d));
    }

    pub fn merge(&mut self, o: &Stats) {
        self.gets += o.gets;
        self.sets += o.sets;
        self.get_keys += o.get_keys;
        self.hits += o.hits;
        self.misses += o.misses;
        self.hist_get.add(&o.hist_get).expect("same bounds");
        self.hist_set.add(&o.hist_set).expect("same bounds");
        self.lag.add(&o.lag).expect("same bounds");
        self.handshakes += o.handshakes;
        self.resumed += o.resumed;
        self.hist_handshake
            .add(&o.hist_handshake)
            .expect("same bounds");
        self.last_measured_done = match (self.last_measured_done, o.last_measured_done) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.replies += o.replies;
        self.wrong += o.wrong;
        self.errors += o.errors;
        self.refused += o.refused;
        self.unanswered += o.unanswered;
        for s in &o.samples {
            self.sample(s.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_merges() {
        let mut a = Stats::default();
        let mut b = Stats::default();
        Stats::record(&mut a.hist_get, Duration::from_micros(10));
        Stats::record(&mut b.hist_get, Duration::from_micros(30));
        Stats::record(&mut b.hist_set, Duration::from_secs(3600)); // saturates
        Stats::record(&mut b.lag, Duration::ZERO);
        a.gets = 1;
        b.gets = 1;
        b.handshakes = 3;
        b.resumed = 2;
        Stats::record(&mut b.hist_handshake, Duration::from_micros(200));
        b.error("x".into());
        b.error("x".into());
        a.merge(&b);
        assert_eq!(a.gets, 2);
        assert_eq!(a.hist_get.len(), 2);
        assert_eq!(a.hist_get.max(), 30);
        assert!(a.hist_set.max() >= MAX_LATENCY_US);
        assert_eq!(a.lag.len(), 1);
        assert_eq!((a.handshakes, a.resumed, a.hist_handshake.len()), (3, 2, 1));
        assert_eq!(a.errors, 2);
        assert_eq!(a.samples, vec!["error: x".to_string()]);
        assert_eq!(micros(Duration::from_nanos(1499)), 1);
        assert_eq!(micros(Duration::from_nanos(1500)), 2);
    }
}
