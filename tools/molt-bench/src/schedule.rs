//! Open-loop send schedule.
//!
//! Connection `c` of `n` sends its i-th request at
//! `start + (c / n + i) * interval`, `interval = n / rate`: the total rate is
//! `rate`, the connections are evenly staggered, and every intended time is
//! computed from `i` (never accumulated), so neither sleeping late nor a slow
//! server shifts the later requests: a request's latency is measured from
//! this intended time, whenever it could actually be sent.

use crate::rng::{mix64, Rng};
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

/// How intended send times are spaced (`--arrivals`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ArrivalKind {
    /// Evenly spaced (the connections staggered within one interval).
    Fixed,
    /// A Poisson process: exponential gaps with the same mean, so the load
    /// comes in the bursts independent users make.
    Poisson,
}

/// One connection's intended send times, in order: request `i` is intended
/// at the `i`-th value `next()` returns. Times depend only on the start, the
/// rate and the seed, never on when requests were actually sent.
#[derive(Debug, Clone)]
pub enum Arrivals {
    Fixed {
        schedule: Schedule,
        i: u64,
    },
    Poisson {
        start: Instant,
        rng: Rng,
        mean_ns: f64,
        /// Intended time of the next request, nanoseconds after `start`.
        at_ns: f64,
    },
}

impl Arrivals {
    /// Connection `conn` of `conns`, `total_rate` requests per second over
    /// all of them (each connection a `total_rate / conns` share).
    pub fn new(
        kind: ArrivalKind,
        start: Instant,
        total_rate: f64,
        conns: usize,
        conn: usize,
        seed: u64,
    ) -> Self {
        let schedule = Schedule::new(start, total_rate, conns, conn);
        match kind {
            ArrivalKind::Fixed => Arrivals::Fixed { schedule, i: 0 },
            ArrivalKind::Poisson => {
                let mut a = Arrivals::Poisson {
                    start,
                    rng: Rng::new(mix64(seed ^ 0x706f_6973_736f_6e00) ^ conn as u64),
                    mean_ns: schedule.interval_ns,
                    at_ns: 0.0,
                };
                // The first arrival is one gap after the start, like every other.
                if let Arrivals::Poisson {
                    rng,
                    mean_ns,
                    at_ns,
                    ..
                } = &mut a
                {
                    *at_ns = exponential(rng, *mean_ns);
                }
                a
            }
        }
    }

    /// Intended time of the next request (not consumed).
    pub fn peek(&self) -> Instant {
        match self {
            Arrivals::Fixed { schedule, i } => schedule.at(*i),
            Arrivals::Poisson { start, at_ns, .. } => *start + Duration::from_nanos(*at_ns as u64),
        }
    }

    /// Consumes the next intended time.
    pub fn advance(&mut self) {
        match self {
            Arrivals::Fixed { i, .. } => *i += 1,
            Arrivals::Poisson {
                rng,
                mean_ns,
                at_ns,
                ..
            } => *at_ns += exponential(rng, *mean_ns),
        }
    }
}

/// Latency origin and send lag of a request intended at `t`, sent at `sent`;
/// `freed_at`: when a reply freed a slot of its full window, if it waited.
/// Open loop: latency from `t`; lag from the later of `t` and the moment a
/// full window freed up. Closed loop: latency from the send, no lag.
pub fn origin_and_lag(
    open: bool,
    t: Instant,
    freed_at: Option<Instant>,
    sent: Instant,
) -> (Instant, Option<Duration>) {
    if !open {
        return (sent, None);
    }
    let ready = freed_at.map_or(t, |f| f.max(t));
    (t, Some(sent.saturating_duration_since(ready)))
}

/// An exponentially distributed gap with mean `mean_ns` (inverse transform
/// of a uniform in (0, 1]: never infinite).
fn exponential(rng: &mut Rng, mean_ns: f64) -> f64 {
    let u = ((rng.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64;
    -u.ln() * mean_ns
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

#[cfg(test)]
mod arrival_tests {
    use super::*;

    #[test]
    fn lag_is_the_clients_own_delay() {
        let t = Instant::now();
        let us = Duration::from_micros;
        // on time: no lag, latency from the intended time
        assert_eq!(origin_and_lag(true, t, None, t), (t, Some(Duration::ZERO)));
        // sent 30 us late with a free window: 30 us of lag
        assert_eq!(origin_and_lag(true, t, None, t + us(30)), (t, Some(us(30))));
        // the window was full until 500 us after the intended time (the
        // server's delay, in latency), sent 5 us after it freed: 5 us of lag
        assert_eq!(
            origin_and_lag(true, t, Some(t + us(500)), t + us(505)),
            (t, Some(us(5)))
        );
        // a slot freed long before the intended time changes nothing
        assert_eq!(
            origin_and_lag(true, t + us(900), Some(t), t + us(910)),
            (t + us(900), Some(us(10)))
        );
        // closed loop: latency from the send, no lag
        assert_eq!(origin_and_lag(false, t, None, t + us(7)), (t + us(7), None));
    }

    fn times(a: &mut Arrivals, n: usize) -> Vec<Instant> {
        (0..n)
            .map(|_| {
                let t = a.peek();
                a.advance();
                t
            })
            .collect()
    }

    #[test]
    fn fixed_arrivals_are_the_schedule() {
        let t0 = Instant::now();
        let s = Schedule::new(t0, 1000.0, 2, 1);
        let mut a = Arrivals::new(ArrivalKind::Fixed, t0, 1000.0, 2, 1, 9);
        assert_eq!(
            times(&mut a, 500),
            (0..500).map(|i| s.at(i)).collect::<Vec<_>>()
        );
    }

    #[test]
    fn poisson_keeps_the_rate_with_exponential_gaps() {
        let t0 = Instant::now();
        // 4 connections at 20,000/s in total: 5,000/s each, mean gap 200 us.
        let mut total = 0;
        for c in 0..4 {
            let mut a = Arrivals::new(ArrivalKind::Poisson, t0, 20_000.0, 4, c, 1);
            let ts = times(&mut a, 50_000);
            assert!(ts.windows(2).all(|w| w[1] >= w[0]));
            assert!(ts[0] > t0, "the first arrival is a gap after the start");
            let gaps: Vec<f64> = std::iter::once(ts[0] - t0)
                .chain(ts.windows(2).map(|w| w[1] - w[0]))
                .map(|d| d.as_nanos() as f64)
                .collect();
            let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
            let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
            // exponential: mean 200 us, standard deviation equal to the mean
            assert!((mean - 200_000.0).abs() < 4_000.0, "mean gap {mean}");
            let cv = var.sqrt() / mean;
            assert!((0.97..1.03).contains(&cv), "coefficient of variation {cv}");
            // P(gap > mean) = 1/e
            let over = gaps.iter().filter(|&&g| g > mean).count() as f64 / gaps.len() as f64;
            assert!((over - (-1.0f64).exp()).abs() < 0.01, "{over}");
            total += ts
                .iter()
                .filter(|&&t| t <= t0 + Duration::from_secs(2))
                .count();
        }
        // 2 s at 20,000/s: 40,000 intended, give or take a Poisson deviation
        assert!((39_200..=40_800).contains(&total), "{total}");
    }

    #[test]
    fn poisson_is_deterministic_per_seed_and_connection() {
        let t0 = Instant::now();
        let run = |seed, conn| {
            times(
                &mut Arrivals::new(ArrivalKind::Poisson, t0, 1e4, 2, conn, seed),
                100,
            )
        };
        assert_eq!(run(5, 0), run(5, 0));
        assert_ne!(run(5, 0), run(6, 0));
        assert_ne!(run(5, 0), run(5, 1));
    }
}
