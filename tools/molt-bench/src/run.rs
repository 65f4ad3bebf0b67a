//! Orchestration: connect, flush, preload, run the workers, watch progress.

use crate::config::{Args, Plan};
use crate::evloop;
use crate::handshake;
use crate::report::{Config, Handshakes, Preload, Report, Results};
use crate::stats::Stats;
use crate::worker::{self, Conn, Progress, Timing};
use std::sync::atomic::Ordering;
use std::thread::{self, ScopedJoinHandle};
use std::time::{Duration, Instant};

/// Polls the workers until they finish, printing one progress line per second.
fn watch<T>(handles: &[ScopedJoinHandle<'_, T>], quiet: bool, mut line: impl FnMut(f64) -> String) {
    let t0 = Instant::now();
    let mut next = t0 + Duration::from_secs(1);
    while !handles.iter().all(|h| h.is_finished()) {
        thread::sleep(Duration::from_millis(20));
        let now = Instant::now();
        if now >= next {
            if !quiet {
                eprintln!("molt-bench: {}", line((now - t0).as_secs_f64()));
            }
            next += Duration::from_secs(1);
        }
    }
}

fn join_all<T>(handles: Vec<ScopedJoinHandle<'_, T>>) -> Vec<T> {
    handles
        .into_iter()
        .map(|h| h.join().expect("worker thread panicked"))
        .collect()
}

/// One progress line of the request phase; `last` is (time, replies) of the previous one.
fn progress_line(progress: &Progress, timing: &Timing, last: &mut (Instant, u64)) -> String {
    let now = Instant::now();
    let replies = progress.replies.load(Ordering::Relaxed);
    let rate = (replies - last.1) as f64 / (now - last.0).as_secs_f64();
    *last = (now, replies);
    let bad = progress.bad.load(Ordering::Relaxed);
    let phase = if now < timing.measure_start {
        format!(
            "warm-up ({:.0}s left)",
            (timing.measure_start - now).as_secs_f64().ceil()
        )
    } else if now < timing.end {
        let measured = progress.measured.load(Ordering::Relaxed);
        let avg = measured as f64 / (now - timing.measure_start).as_secs_f64();
        format!("measuring, avg {avg:.0} ops/s")
    } else {
        "draining".to_string()
    };
    let el = now.saturating_duration_since(timing.start).as_secs_f64();
    format!("{el:4.0}s {rate:9.0} ops/s  {phase}  wrong+errors {bad}")
}

pub fn run(args: Args) -> Result<Report, String> {
    let plan = Plan::from_args(&args)?;
    if plan.handshake_bench {
        return run_handshakes(args, plan);
    }
    let progress = Progress::default();
    let mut total = Stats::default();
    let mut conns = (0..plan.connections)
        .map(|c| Conn::connect(&plan, c))
        .collect::<Result<Vec<_>, _>>()?;

    if plan.flush {
        worker::flush(&mut conns[0], &plan, &mut total, &progress);
    }

    let mut preload = None;
    if plan.preload {
        let t = Instant::now();
        let n = plan.connections as u128;
        let k = u128::from(plan.keys.count());
        let results = thread::scope(|s| {
            let handles: Vec<_> = conns
                .iter_mut()
                .enumerate()
                .map(|(c, conn)| {
                    let (plan, progress) = (&plan, &progress);
                    let range = (k * c as u128 / n) as u64..(k * (c as u128 + 1) / n) as u64;
                    s.spawn(move || {
                        let mut st = Stats::default();
                        let ok = worker::preload(conn, plan, range, &mut st, progress);
                        (ok, st)
                    })
                })
                .collect();
            watch(&handles, args.quiet, |el| {
                format!(
                    "{el:4.0}s preload {}/{} keys",
                    progress.replies.load(Ordering::Relaxed),
                    k
                )
            });
            join_all(handles)
        });
        for (c, (ok, st)) in results.into_iter().enumerate() {
            total.merge(&st);
            if !ok {
                conns[c] = Conn::connect(&plan, c)?;
            }
        }
        preload = Some(Preload {
            keys: plan.keys.count(),
            secs: (t.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
        });
    }

    let start = Instant::now() + Duration::from_millis(20);
    let measure_start = start + plan.warmup;
    let timing = Timing {
        start,
        measure_start,
        end: measure_start + plan.duration,
    };
    let replies_before = progress.replies.load(Ordering::Relaxed);
    let mut conns = conns;
    let one_thread: Option<Vec<std::net::TcpStream>> = if plan.one_thread {
        let streams = conns.drain(..).filter_map(Conn::into_tcp).collect();
        Some(streams)
    } else {
        None
    };
    let stats = thread::scope(|s| {
        if let Some(streams) = one_thread {
            let (plan, progress) = (&plan, &progress);
            let handles = vec![s.spawn(move || evloop::run(streams, plan, timing, progress))];
            let mut last = (Instant::now(), replies_before);
            watch(&handles, args.quiet, |_| {
                progress_line(progress, &timing, &mut last)
            });
            return join_all(handles);
        }
        let handles: Vec<_> = conns
            .iter_mut()
            .map(|conn| {
                let (plan, progress) = (&plan, &progress);
                s.spawn(move || {
                    if plan.open_loop() {
                        worker::open_loop(conn, plan, timing, progress)
                    } else {
                        worker::closed_loop(conn, plan, timing, progress)
                    }
                })
            })
            .collect();
        let mut last = (Instant::now(), replies_before);
        watch(&handles, args.quiet, |_| {
            progress_line(&progress, &timing, &mut last)
        });
        join_all(handles)
    });
    for st in &stats {
        total.merge(st);
    }

    let measured_secs = match (plan.requests, total.last_measured_done) {
        (Some(_), Some(t)) if t < timing.end => (t - measure_start).as_secs_f64(),
        _ => plan.duration.as_secs_f64(),
    };
    Ok(Report {
        tool: "molt-bench",
        version: env!("CARGO_PKG_VERSION"),
        config: Config {
            mode: if plan.open_loop() { "open" } else { "closed" },
            target: plan.addr.to_string(),
            args,
        },
        results: Results::from_stats(&total, measured_secs, preload),
    })
}

/// --handshake-bench: every connection thread connects, shakes hands,
/// sends `version`, closes, and repeats.
fn run_handshakes(args: Args, plan: Plan) -> Result<Report, String> {
    let progress = Progress::default();
    let mut total = Stats::default();
    // One connection first: a server that cannot be reached (or refuses the
    // handshake) is a setup error, and --flush is honoured.
    let mut first = Conn::connect(&plan, 0)?;
    if plan.flush {
        worker::flush(&mut first, &plan, &mut total, &progress);
    }
    drop(first);
    let start = Instant::now() + Duration::from_millis(20);
    let measure_start = start + plan.warmup;
    let timing = Timing {
        start,
        measure_start,
        end: measure_start + plan.duration,
    };
    let stats = thread::scope(|s| {
        let handles: Vec<_> = (0..plan.connections)
            .map(|c| {
                let (plan, progress) = (&plan, &progress);
                s.spawn(move || handshake::worker(plan, c, timing, progress))
            })
            .collect();
        let mut last = (Instant::now(), 0u64);
        watch(&handles, args.quiet, |_| {
            let now = Instant::now();
            let done = progress.replies.load(Ordering::Relaxed);
            let rate = (done - last.1) as f64 / (now - last.0).as_secs_f64();
            last = (now, done);
            let bad = progress.bad.load(Ordering::Relaxed);
            let el = now.saturating_duration_since(start).as_secs_f64();
            format!("{el:4.0}s {rate:9.0} handshakes/s  errors {bad}")
        });
        join_all(handles)
    });
    for st in &stats {
        total.merge(st);
    }
    let measured_secs = match (plan.requests, total.last_measured_done) {
        (Some(_), Some(t)) if t < timing.end => (t - measure_start).as_secs_f64(),
        _ => plan.duration.as_secs_f64(),
    };
    let mut results = Results::from_stats(&total, measured_secs, None);
    results.handshakes = Some(Handshakes::from_stats(
        &total,
        measured_secs,
        plan.tls.is_some(),
    ));
    Ok(Report {
        tool: "molt-bench",
        version: env!("CARGO_PKG_VERSION"),
        config: Config {
            mode: "handshake",
            target: plan.addr.to_string(),
            args,
        },
        results,
    })
}
