//! One side of a case: what is compared (a protocol session, or a wrapper
//! of one), the host loop that feeds it as conn.c does, and the comparison
//! of two sides' outcomes.

use crate::case::Case;
use molt::storage::{Stats, Storage};
use molt::{counter_name, CStorage, Context, OutBuf, Progress, ProtocolStatus, Session, COUNTERS};
use molt_test_support::escape_bytes;

/// The clock at the start of every case.
pub(crate) const T0: i64 = 1_800_000_000;
/// Process calls per piece before a session that keeps pausing counts as
/// stuck.
const ROUNDS_MAX: usize = 100_000;

/// What the fuzzer drives: a protocol session, or (in the self-tests) a
/// wrapper that changes what it answers.
pub(crate) trait Proto {
    fn process(&mut self, cx: &Context<'_>, input: &[u8], out: &mut OutBuf) -> Progress;
    /// The host's session whose table the protocol calls.
    fn session(&self) -> &Session<'_>;
}

impl Proto for Session<'_> {
    fn process(&mut self, cx: &Context<'_>, input: &[u8], out: &mut OutBuf) -> Progress {
        Session::process(self, cx, input, out)
    }

    fn session(&self) -> &Session<'_> {
        self
    }
}

/// What a protocol told the host besides its counters: shutdowns asked
/// for, watches asked for, and every watch event.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct HostRecord {
    pub(crate) shutdowns: Vec<bool>,
    pub(crate) watches: Vec<u32>,
    pub(crate) events: Vec<u8>,
}

impl std::fmt::Display for HostRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "shutdowns (graceful) {:?}, watches {:?}, events {}",
            self.shutdowns,
            self.watches,
            escape_bytes(&self.events)
        )
    }
}

/// Opens a fresh session of one side.
pub(crate) type Opener<'f, 'p> = dyn Fn() -> Box<dyn Proto + 'p> + 'f;

/// One process call as the host saw it: status, the stream offset consumed
/// up to, need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Call {
    pub(crate) status: ProtocolStatus,
    pub(crate) at: usize,
    pub(crate) need: usize,
}

/// Everything one side showed for a case.
pub(crate) struct Outcome {
    pub(crate) replies: Vec<u8>,
    pub(crate) calls: Vec<Call>,
    pub(crate) counters: [u64; COUNTERS],
    pub(crate) host: HostRecord,
    pub(crate) engine: Stats,
}

/// One side of a case: the event loop's part of protocol.h, as conn.c
/// plays it (drop what was consumed, keep the rest in order, drain the
/// output, call again while paused), into `proto` over a fresh `engine`.
pub(crate) fn run_side(proto: &mut dyn Proto, engine: &str, case: &Case) -> Outcome {
    let storage = CStorage::open(engine, &case.storage_config()).expect("open engine");
    let session = proto.session();
    session.set_shutdown_enabled(case.host.shutdown_enabled);
    session.set_watching(case.host.watching);
    session.set_watch_refused(case.host.watch_refused);
    let limits = case.limits();
    let mut out = OutBuf::new();
    let mut input: Vec<u8> = Vec::new();
    let mut replies = Vec::new();
    let mut calls = Vec::new();
    let mut at = 0usize;
    let mut closed = false;
    let pieces = case.pieces();
    let last_now = pieces.last().map_or(T0, |p| p.1);
    // after the last piece one more call (the peer is done) finishes what
    // is parseable
    for (bytes, now) in pieces
        .into_iter()
        .chain(std::iter::once((&[][..], last_now)))
    {
        if closed {
            break;
        }
        input.extend_from_slice(bytes);
        let mut rounds = 0;
        loop {
            rounds += 1;
            if rounds > ROUNDS_MAX {
                replies.extend_from_slice(b"<stuck: paused without progress>");
                closed = true;
                break;
            }
            let cx = Context {
                storage: &storage,
                now,
                limits,
            };
            let p = proto.process(&cx, &input, &mut out);
            if p.consumed > input.len() {
                replies.extend_from_slice(b"<consumed past the input>");
                closed = true;
                break;
            }
            input.drain(..p.consumed);
            at += p.consumed;
            calls.push(Call {
                status: p.status,
                at,
                need: p.need,
            });
            match p.status {
                ProtocolStatus::Close => {
                    closed = true;
                    break;
                }
                ProtocolStatus::Paused => out.drain_into(&mut replies),
                ProtocolStatus::More => {
                    if !case.slow_reader || calls.len() % 3 == 0 {
                        out.drain_into(&mut replies);
                    }
                    break;
                }
            }
        }
    }
    out.drain_into(&mut replies);
    if closed {
        replies.extend_from_slice(b"<closed>");
    }
    Outcome {
        replies,
        calls,
        counters: proto.session().counters(),
        host: HostRecord {
            shutdowns: proto.session().shutdowns(),
            watches: proto.session().watches(),
            events: proto.session().watch_log(),
        },
        engine: storage.stats(last_now),
    }
}

/// What differs between the sides, if anything.
pub(crate) fn difference(case: &Case, a: &Outcome, b: &Outcome, exact: bool) -> Option<String> {
    if a.replies != b.replies {
        let at = a
            .replies
            .iter()
            .zip(&b.replies)
            .position(|(x, y)| x != y)
            .unwrap_or(a.replies.len().min(b.replies.len()));
        return Some(format!("replies differ from byte {at}"));
    }
    for (i, (x, y)) in a.calls.iter().zip(&b.calls).enumerate() {
        if x.status != y.status {
            return Some(format!("call {i}: status {:?} vs {:?}", x.status, y.status));
        }
        // need counts beyond all the input so far, the same on both sides
        // whatever each consumed
        if x.need != y.need {
            return Some(format!("call {i}: need {} vs {}", x.need, y.need));
        }
        let judged = exact || case.is_boundary(x.at) || case.is_boundary(y.at);
        if x.at != y.at && judged {
            return Some(format!("call {i}: consumed up to {} vs {}", x.at, y.at));
        }
    }
    if a.calls.len() != b.calls.len() {
        return Some(format!(
            "{} process calls vs {}",
            a.calls.len(),
            b.calls.len()
        ));
    }
    if let Some(i) = (0..COUNTERS).find(|&i| a.counters[i] != b.counters[i]) {
        return Some(format!(
            "counter {}: {} vs {}",
            counter_name(i),
            a.counters[i],
            b.counters[i]
        ));
    }
    if a.host.shutdowns != b.host.shutdowns {
        return Some(format!(
            "shutdowns {:?} vs {:?}",
            a.host.shutdowns, b.host.shutdowns
        ));
    }
    if a.host.watches != b.host.watches {
        return Some(format!(
            "watches {:?} vs {:?}",
            a.host.watches, b.host.watches
        ));
    }
    if a.host.events != b.host.events {
        return Some("watch events differ".to_string());
    }
    if a.engine != b.engine {
        return Some(format!("engine figures: {:?} vs {:?}", a.engine, b.engine));
    }
    None
}
