//! Conformance suite: every transcript in tests/transcripts/*.txt against
//! every target (`molt_test_support::targets!()`: molt-c, molt-slab,
//! molt-seg, molt-slab-tls, molt-seg-tls) and the memcached reference, in
//! up to three modes. One trial per combination, named
//!
//!     <transcript>::<target>::<mode>      e.g. meta_get::molt-seg::pipelined
//!
//! - exchange:  each group of consecutive sends is written at once, then the
//!   expectations that follow are read and checked;
//! - pipelined: all requests of the file in one write (from a writer thread),
//!   then all expectations; ignored for files with `sleep`, with a capture
//!   used in a later send, or marked `#! no-pipeline`;
//! - split:     only for files marked `#! split`: the pipelined request
//!   stream is cut at every byte boundary i, bytes[..i] sent, ~2 ms pause,
//!   the rest sent.
//!
//! Trials are selected with libtest's filters (a substring of the name;
//! `--exact` for one name):
//!
//!     cargo test --test conformance -- meta_get         # one file, every target and mode
//!     cargo test --test conformance -- ::molt-c::       # one target
//!     cargo test --test conformance -- ::split          # one mode
//!     cargo test --test conformance -- --exact meta_get::molt-seg::pipelined
//!
//! A combination that must not run is listed and reported as ignored with
//! the reason (`#! skip: <target>`, a file that cannot be pipelined,
//! memcached not installed, a binary-protocol file (`#! binary`) on a
//! target with the C protocol, which does not speak binary). Missing molt
//! binaries fail.
//!
//! Each trial starts its own server on a free port (split mode reuses one
//! server for all its boundaries). After the last expectation "version" is
//! sent and "VERSION " expected, proving the server sent nothing extra (not
//! for files that end in `<EOF`). The format is documented in
//! tests/transcripts/README.md.

mod run;
mod transcript;

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;

use libtest_mimic::{Arguments, Completion, Trial};
use molt_test_support::targets::MEMCACHED;
use molt_test_support::{escape_bytes, reference_memcached, targets, Target};

use run::{match_template, run_on_target, Mode};
use transcript::{load_transcripts, parse_segments, Seg, Transcript};

/// Trials at once unless `--test-threads` or RUST_TEST_THREADS say
/// otherwise: most of a trial is waiting (server start, round trips,
/// sleeps), so many more than there are cores.
const DEFAULT_TRIALS_AT_ONCE: usize = 16;

fn main() -> ExitCode {
    let mut args = Arguments::from_args();
    if args.test_threads.is_none() {
        let from_env = std::env::var("RUST_TEST_THREADS").ok();
        args.test_threads = Some(
            from_env
                .and_then(|n| n.parse().ok())
                .unwrap_or(DEFAULT_TRIALS_AT_ONCE),
        );
    }
    let mut transcripts: Vec<Arc<Transcript>> =
        load_transcripts().into_iter().map(Arc::new).collect();
    // Slowest first (split mode, then sleeps), so that no long trial starts
    // when the rest are done and the run ends with one busy thread.
    transcripts.sort_by_key(|t| std::cmp::Reverse((t.split, t.total_sleep())));
    let targets = conformance_targets();
    let mut trials = vec![Trial::test(
        "transcript_parser_understands_the_format",
        transcript_parser_understands_the_format,
    )];
    for mode in [Mode::Split, Mode::Exchange, Mode::Pipelined] {
        for t in &transcripts {
            if mode == Mode::Split && !t.split {
                continue;
            }
            for (name, target) in &targets {
                trials.push(trial(t, name, target.as_ref(), mode));
            }
        }
    }
    libtest_mimic::run(&args, trials).exit_code()
}

/// The molt targets, then the memcached reference (None when it is not
/// installed).
fn conformance_targets() -> Vec<(&'static str, Option<Arc<Target>>)> {
    let mut all: Vec<(&'static str, Option<Arc<Target>>)> = targets!()
        .into_iter()
        .map(|t| (t.name, Some(Arc::new(t))))
        .collect();
    all.push((MEMCACHED, reference_memcached().map(Arc::new)));
    all
}

/// A molt target answering with the C protocol, which does not speak the
/// binary protocol (it needs `--protocol rust`).
fn speaks_c_protocol(target: &Target) -> bool {
    target.name != MEMCACHED && !target.speaks_rust_protocol()
}

/// Why `t` must not run on `target_name` in `mode`, if it must not.
fn ignore_reason(
    t: &Transcript,
    target_name: &str,
    target: Option<&Arc<Target>>,
    mode: Mode,
) -> Option<String> {
    if t.skips(target_name) {
        return Some(format!("`#! skip: {target_name}`"));
    }
    if t.binary && target.is_some_and(|t| speaks_c_protocol(t)) {
        return Some(
            "binary protocol: the C protocol does not speak it (needs --protocol rust)".into(),
        );
    }
    match mode {
        Mode::Pipelined => t
            .why_not_pipelinable()
            .map(|why| format!("not pipelinable: {why}")),
        Mode::Exchange | Mode::Split => None,
    }
}

/// The trial `<transcript>::<target>::<mode>`; `target` is None for a
/// reference that is not installed.
fn trial(
    t: &Arc<Transcript>,
    target_name: &str,
    target: Option<&Arc<Target>>,
    mode: Mode,
) -> Trial {
    let name = format!("{}::{}::{}", t.name, target_name, mode);
    let ignored = |reason: String| {
        Trial::ignorable_test(name.clone(), move || Ok(Completion::ignored_with(reason)))
    };
    let target = match (ignore_reason(t, target_name, target, mode), target) {
        (Some(reason), _) => return ignored(reason),
        (None, None) => {
            return ignored(format!(
                "{target_name} not installed: no /usr/bin/memcached, no MEMCACHED_BIN"
            ))
        }
        (None, Some(target)) => target.clone(),
    };
    let t = t.clone();
    Trial::test(name, move || {
        run_on_target(&t, &target, mode).map_err(Into::into)
    })
}

fn transcript_parser_understands_the_format() -> Result<(), libtest_mimic::Failed> {
    let segs = parse_segments("a$repeat(x,3)b\\r\\n\\x41", true).unwrap();
    match &segs[..] {
        [Seg::Lit(b)] => assert_eq!(b, b"axxxb\r\nA"),
        other => panic!("{:?}", other),
    }
    let segs = parse_segments("VALUE k 0 1 $cas(c1)", false).unwrap();
    let vars = HashMap::new();
    let b = match_template(&segs, b"VALUE k 0 1 42", &vars).unwrap();
    assert_eq!(b, vec![("c1".to_string(), b"42".to_vec())]);
    assert!(match_template(&segs, b"VALUE k 0 1 x", &vars).is_none());
    assert_eq!(escape_bytes(b"a\r\n\x01"), "a\\r\\n\\x01");
    // Every committed transcript parses.
    let all = load_transcripts();
    assert!(all.iter().all(|t| !t.steps.is_empty()));
    Ok(())
}
