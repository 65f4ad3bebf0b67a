//! Open-loop send schedule.
//!
//! Connection `c` of `n` sends its i-th request at
//! `start + (c / n + i) * interval`, `interval = n / rate`: the total rate is
//! `rate`, the connections are evenly staggered, and every intended time is
//! computed from `i` (never accumulated), so neither sleeping late nor a slow
//! server shifts the later requests: a request's latency is measured from
//! this intended time, whenever it could actually be sent.

use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    start: Instant,
    offset_ns: f64,
    interval_ns: f64,
}

impl Schedule {
    /// `total_rate` requests per second over `conns` connections; this is
    /// connection `conn`'s share.
    pub fn new(start: Instant, total_rate: f64, conns: usize, conn: usize) -> Self {
        assert!(total_rate > 0.0 && conns > 0 && conn < conns);
        let interval_ns = 1e9 * conns as f64 / total_rate;
        Schedule {
            start,
            offset_ns: interval_ns * conn as f64 / conns as f64,
            interval_ns,
        }
    }

    pub fn interval(&self) -> Duration {
        Duration::from_nanos(self.interval_ns as u64)
    }

    /// Intended send time of request `i`.
    pub fn at(&self, i: u64) -> Instant {
        self.start + Duration::from_nanos((self.offset_ns + i as f64 * self.interval_ns) as u64)
    }

    /// Number of requests whose intended time is at or before `t`.
    pub fn due_by(&self, t: Instant) -> u64 {
        let Some(since) = t.checked_duration_since(self.start) else {
            return 0;
        };
        let x = since.as_nanos() as f64 - self.offset_ns;
        let mut n = if x < 0.0 {
            0
        } else {
            (x / self.interval_ns) as u64 + 1
        };
        // Settle floating-point rounding against at(), the one definition.
        while n > 0 && self.at(n - 1) > t {
            n -= 1;
        }
        while self.at(n) <= t {
            n += 1;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_follow_rate_without_drift() {
        let t0 = Instant::now();
        let s = Schedule::new(t0, 5000.0, 4, 0);
        assert_eq!(s.interval(), Duration::from_micros(800));
        assert_eq!(s.at(0), t0);
        assert_eq!(s.at(1) - t0, Duration::from_micros(800));
        // far in the future: exactly i * interval, no accumulated error
        assert_eq!(s.at(1_000_000) - t0, Duration::from_secs(800));
        for i in 0..1000 {
            assert!(s.at(i + 1) > s.at(i));
        }
    }

    #[test]
    fn connections_are_staggered_and_sum_to_rate() {
        let t0 = Instant::now();
        let n = 4;
        let scheds: Vec<_> = (0..n).map(|c| Schedule::new(t0, 5000.0, n, c)).collect();
        let offsets: Vec<_> = scheds.iter().map(|s| s.at(0) - t0).collect();
        assert_eq!(
            offsets,
            [0, 200, 400, 600].map(Duration::from_micros).to_vec()
        );
        // over 2 s the connections together intend 10000 requests
        let total: u64 = scheds
            .iter()
            .map(|s| s.due_by(t0 + Duration::from_secs(2)))
            .sum();
        assert!((9996..=10004).contains(&total), "{total}");
    }

    #[test]
    fn due_by_matches_at() {
        let t0 = Instant::now();
        let s = Schedule::new(t0, 3333.3, 3, 2);
        assert_eq!(s.due_by(t0), 0);
        for i in 0..2000u64 {
            let t = s.at(i);
            assert_eq!(s.due_by(t), i + 1);
            assert_eq!(s.due_by(t - Duration::from_nanos(1)), i);
        }
    }

    #[test]
    fn slow_rate_is_fine() {
        let t0 = Instant::now();
        let s = Schedule::new(t0, 1.0, 8, 7);
        assert_eq!(s.interval(), Duration::from_secs(8));
        assert_eq!(s.at(0) - t0, Duration::from_secs(7));
    }
}
