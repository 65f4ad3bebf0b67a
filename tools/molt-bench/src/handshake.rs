//! `--handshake-bench`: connection set-up rate.
//!
//! Each of the `-c` connection threads repeats, until the end of the run:
//! TCP connect, TLS handshake (with `--tls`), `version` and its reply (the
//! server has completed its side of the handshake and, with TLS 1.3, sent
//! its session tickets before answering), close (close_notify first with
//! TLS). A cycle is one handshake. The latency recorded is from the start
//! of the TCP connect to the end of the handshake as the client sees it
//! (the first reply for plain TCP). With `--tls-resume=on` (default) each
//! connection offers a session ticket cached by an earlier one (so all but
//! the first few should be resumed if the server issues tickets), with
//! `--tls-resume=off` every handshake is a full one; the report counts which
//! kind the server actually granted.

use crate::config::Plan;
use crate::proto::excerpt;
use crate::stats::Stats;
use crate::worker::{Progress, Stream, Timing};
use rustls::HandshakeKind;
use std::io::{Read, Write};
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

/// Outcome of one cycle: the handshake latency and kind.
struct Cycle {
    latency: Duration,
    kind: Option<HandshakeKind>,
}

/// Reads one line (up to 1 KiB) ending in `\r\n`.
fn read_line(s: &mut Stream) -> Result<Vec<u8>, String> {
    let mut line = Vec::with_capacity(64);
    let mut buf = [0u8; 256];
    loop {
        let n = s
            .read(&mut buf)
            .map_err(|e| format!("reading the reply: {e}"))?;
        if n == 0 {
            return Err("server closed the connection before replying".into());
        }
        line.extend_from_slice(&buf[..n]);
        if line.ends_with(b"\r\n") {
            return Ok(line);
        }
        if line.len() > 1024 {
            return Err(format!("reply too long: {}", excerpt(&line)));
        }
    }
}

fn cycle(plan: &Plan) -> Result<Cycle, String> {
    let t0 = Instant::now();
    let (mut s, kind) = Stream::open(plan)?;
    let mut latency = t0.elapsed();
    s.write_all(b"version\r\n")
        .map_err(|e| format!("sending version: {e}"))?;
    let line = read_line(&mut s)?;
    if kind.is_none() {
        latency = t0.elapsed();
    }
    if !line.starts_with(b"VERSION ") || line.iter().filter(|&&b| b == b'\n').count() != 1 {
        return Err(format!("unexpected reply to version: {}", excerpt(&line)));
    }
    s.close();
    Ok(Cycle { latency, kind })
}

/// One connection thread of the handshake benchmark.
pub fn worker(plan: &Plan, conn: usize, timing: Timing, progress: &Progress) -> Stats {
    let mut st = Stats::default();
    let quota = plan.quota(conn);
    let mut issued = 0u64;
    thread::sleep(timing.start.saturating_duration_since(Instant::now()));
    loop {
        let now = Instant::now();
        if now >= timing.end {
            break;
        }
        let measured = now >= timing.measure_start;
        if measured && quota.is_some_and(|q| issued >= q) {
            break;
        }
        match cycle(plan) {
            Ok(c) => {
                st.replies += 1;
                if measured {
                    issued += 1;
                    st.handshakes += 1;
                    if matches!(c.kind, Some(HandshakeKind::Resumed)) {
                        st.resumed += 1;
                    }
                    Stats::record(&mut st.hist_handshake, c.latency);
                    st.last_measured_done = Some(Instant::now());
                    progress.measured.fetch_add(1, Ordering::Relaxed);
                }
                progress.replies.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                st.error(format!("conn {conn}: {e}"));
                progress.bad.fetch_add(1, Ordering::Relaxed);
                // A server that refuses every connection must not be hammered.
                thread::sleep(Duration::from_millis(10));
            }
        }
    }
    st
}
