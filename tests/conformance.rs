//! Conformance suite: every transcript in tests/transcripts/*.txt is run
//! against every target (molt_test_support::targets!()) in three modes:
//!
//! - exchange:  each group of consecutive sends is written at once, then the
//!   expectations that follow are read and checked;
//! - pipelined: all requests of the file in one write (from a writer thread),
//!   then all expectations (skipped for files with `sleep`, with a capture
//!   used in a later send, or marked `#! no-pipeline`);
//! - split:     files marked `#! split`: the pipelined request stream is cut
//!   at every byte boundary i, bytes[..i] sent, ~2 ms pause, the rest sent.
//!
//! A fresh server is started per file and mode (split mode reuses one server
//! for all its boundaries). After the last expectation "version" is sent and
//! "VERSION " expected, proving the server sent nothing extra (not for files
//! that end in `<EOF`). All failures are collected and reported together.
//! The format is documented in tests/transcripts/README.md.
//!
//! Environment knobs (for debugging): MOLT_TRANSCRIPTS=name[,name] runs only
//! those files (name without .txt); MOLT_TARGETS=name[,name] only those
//! targets.

use molt_test_support::{
    escape_bytes, io_error_name, reference_memcached, targets, Client, Server, Target,
};
use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------
// Transcript model and parser

/// A piece of a send or expect text.
#[derive(Clone, Debug)]
enum Seg {
    Lit(Vec<u8>),
    /// `$cas(NAME)`: in an expectation, matches 1+ digits and binds NAME (or
    /// must equal NAME's value if already bound); in a send, NAME's value.
    Cap(String),
}

#[derive(Clone, Debug)]
enum Op {
    Send(Vec<Seg>),
    /// Exact bytes (the line's CRLF included for `<`, not for `<<`).
    Expect(Vec<Seg>),
    /// `<~ prefix`: one line starting with prefix.
    Prefix(Vec<u8>),
    /// `<* name`: one line, any content.
    AnyLine,
    /// `<+ fields` lines followed by `<~~ LINE`: read lines until exactly
    /// LINE; each `<+` must match some line before it, in any order (see
    /// field_prefix_match).
    SkipUntil {
        contains: Vec<Vec<u8>>,
        until: Vec<u8>,
    },
    Eof,
    Sleep(Duration),
}

#[derive(Clone, Debug)]
struct Step {
    line: usize,
    op: Op,
}

#[derive(Debug)]
struct Transcript {
    name: String,
    path: PathBuf,
    args: Vec<String>,
    skip: Vec<String>,
    no_pipeline: bool,
    split: bool,
    steps: Vec<Step>,
}

impl Transcript {
    fn has_sleep(&self) -> bool {
        self.steps.iter().any(|s| matches!(s.op, Op::Sleep(_)))
    }

    fn sends_use_captures(&self) -> bool {
        self.steps.iter().any(|s| match &s.op {
            Op::Send(segs) => segs.iter().any(|g| matches!(g, Seg::Cap(_))),
            _ => false,
        })
    }

    fn ends_with_eof(&self) -> bool {
        matches!(self.steps.last(), Some(Step { op: Op::Eof, .. }))
    }

    fn pipelinable(&self) -> bool {
        !self.no_pipeline && !self.has_sleep() && !self.sends_use_captures()
    }

    fn skips(&self, target: &str) -> bool {
        self.skip.iter().any(|s| s == target)
    }
}

fn transcripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/transcripts")
}

fn load_transcripts() -> Vec<Transcript> {
    let dir = transcripts_dir();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {}", dir.display(), e))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    paths.sort();
    let only = env_list("MOLT_TRANSCRIPTS");
    let list: Vec<Transcript> = paths
        .iter()
        .map(|p| parse_file(p))
        .filter(|t| only.as_ref().is_none_or(|o| o.contains(&t.name)))
        .collect();
    assert!(
        !list.is_empty(),
        "no transcripts found in {}",
        dir.display()
    );
    list
}

fn env_list(var: &str) -> Option<Vec<String>> {
    let v = std::env::var(var).ok()?;
    let items: Vec<String> = v
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_end_matches(".txt").to_string())
        .collect();
    if items.is_empty() {
        None
    } else {
        Some(items)
    }
}

fn parse_file(path: &Path) -> Transcript {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {}", path.display(), e));
    let name = path.file_stem().unwrap().to_string_lossy().into_owned();
    let mut t = Transcript {
        name,
        path: path.to_path_buf(),
        args: Vec::new(),
        skip: Vec::new(),
        no_pipeline: false,
        split: false,
        steps: Vec::new(),
    };
    let mut pending_contains: Vec<(usize, Vec<u8>)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let lineno = i + 1;
        let err = |msg: &str| -> ! { panic!("{}:{}: {}", path.display(), lineno, msg) };
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(d) = line.strip_prefix("#!") {
            let d = d.trim();
            if let Some(a) = d.strip_prefix("args:") {
                t.args.extend(a.split_whitespace().map(String::from));
            } else if let Some(s) = d.strip_prefix("skip:") {
                t.skip.extend(
                    s.split(|c: char| c == ',' || c.is_whitespace())
                        .filter(|x| !x.is_empty())
                        .map(String::from),
                );
            } else if d == "no-pipeline" {
                t.no_pipeline = true;
            } else if d == "split" {
                t.split = true;
            } else {
                err(&format!("unknown directive {:?}", d));
            }
            continue;
        }
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if !pending_contains.is_empty() && !line.starts_with("<+ ") && !line.starts_with("<~~ ") {
            err("`<+` lines must be followed by a `<~~ LINE` terminator");
        }
        let parse = |text: &str, raw_escapes: bool| -> Vec<Seg> {
            parse_segments(text, raw_escapes).unwrap_or_else(|e| err(&e))
        };
        let no_caps = |segs: Vec<Seg>| -> Vec<u8> {
            let mut out = Vec::new();
            for s in segs {
                match s {
                    Seg::Lit(b) => out.extend(b),
                    Seg::Cap(_) => {
                        err("$cas(...) is only allowed in `>`, `>>`, `<` and `<<` lines")
                    }
                }
            }
            out
        };
        let op = if let Some(rest) = line.strip_prefix(">> ") {
            Op::Send(parse(rest, true))
        } else if let Some(rest) = line.strip_prefix("> ") {
            let mut segs = parse(rest, false);
            segs.push(Seg::Lit(b"\r\n".to_vec()));
            Op::Send(segs)
        } else if line == ">" {
            Op::Send(vec![Seg::Lit(b"\r\n".to_vec())])
        } else if let Some(rest) = line.strip_prefix("<< ") {
            Op::Expect(parse(rest, true))
        } else if let Some(rest) = line.strip_prefix("<~~ ") {
            let until = no_caps(parse(rest, false));
            let contains = pending_contains.drain(..).map(|(_, p)| p).collect();
            Op::SkipUntil { contains, until }
        } else if let Some(rest) = line.strip_prefix("<~ ") {
            Op::Prefix(no_caps(parse(rest, false)))
        } else if let Some(rest) = line.strip_prefix("<+ ") {
            pending_contains.push((lineno, no_caps(parse(rest, false))));
            continue;
        } else if line == "<*" || line.starts_with("<* ") {
            Op::AnyLine
        } else if line == "<EOF" {
            Op::Eof
        } else if let Some(rest) = line.strip_prefix("< ") {
            let mut segs = parse(rest, false);
            segs.push(Seg::Lit(b"\r\n".to_vec()));
            Op::Expect(segs)
        } else if line == "<" {
            Op::Expect(vec![Seg::Lit(b"\r\n".to_vec())])
        } else if let Some(rest) = line.strip_prefix("sleep ") {
            let secs: f64 = rest
                .trim()
                .parse()
                .unwrap_or_else(|_| err("bad sleep seconds"));
            if !(0.0..=3.0).contains(&secs) {
                err("sleep must be between 0 and 3 seconds");
            }
            Op::Sleep(Duration::from_secs_f64(secs))
        } else {
            err(&format!("cannot parse line {:?}", line))
        };
        if matches!(t.steps.last(), Some(Step { op: Op::Eof, .. })) {
            err("nothing may follow `<EOF`");
        }
        t.steps.push(Step { line: lineno, op });
    }
    if let Some((l, _)) = pending_contains.first() {
        panic!(
            "{}:{}: `<+` without a following `<~~ LINE`",
            path.display(),
            l
        );
    }
    let total_sleep: f64 = t
        .steps
        .iter()
        .map(|s| match s.op {
            Op::Sleep(d) => d.as_secs_f64(),
            _ => 0.0,
        })
        .sum();
    assert!(
        total_sleep <= 3.0,
        "{}: total sleep {} s exceeds 3 s",
        path.display(),
        total_sleep
    );
    assert!(
        !t.split || t.pipelinable(),
        "{}: `#! split` needs a pipelinable file (no sleep, no capture in sends)",
        path.display()
    );
    t
}

/// Expands `$repeat(c,N)` and `$cas(NAME)`; with `raw_escapes` also the
/// escapes \r \n \t \\ \xHH.
fn parse_segments(text: &str, raw_escapes: bool) -> Result<Vec<Seg>, String> {
    let mut segs = Vec::new();
    let mut lit: Vec<u8> = Vec::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if let Some(r) = rest.strip_prefix("$repeat(") {
            let ch = r.chars().next().ok_or("unterminated $repeat(")?;
            let r = &r[ch.len_utf8()..];
            let r = r
                .strip_prefix(',')
                .ok_or("$repeat(c,N): expected ',' after one character")?;
            let close = r.find(')').ok_or("unterminated $repeat(")?;
            let n: usize = r[..close]
                .trim()
                .parse()
                .map_err(|_| "$repeat(c,N): bad N")?;
            let mut buf = [0u8; 4];
            let enc = ch.encode_utf8(&mut buf).as_bytes();
            if let [b] = enc {
                lit.resize(lit.len() + n, *b);
            } else {
                lit.extend(enc.iter().cycle().take(enc.len() * n));
            }
            rest = &r[close + 1..];
        } else if let Some(r) = rest.strip_prefix("$cas(") {
            let close = r.find(')').ok_or("unterminated $cas(")?;
            let name = &r[..close];
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!("bad capture name {:?}", name));
            }
            if !lit.is_empty() {
                segs.push(Seg::Lit(std::mem::take(&mut lit)));
            }
            segs.push(Seg::Cap(name.to_string()));
            rest = &r[close + 1..];
        } else if raw_escapes && c == '\\' {
            let mut it = rest[1..].chars();
            match it.next() {
                Some('r') => lit.push(b'\r'),
                Some('n') => lit.push(b'\n'),
                Some('t') => lit.push(b'\t'),
                Some('\\') => lit.push(b'\\'),
                Some('x') => {
                    let hex = rest.get(2..4).ok_or("\\x needs two hex digits")?;
                    let v = u8::from_str_radix(hex, 16).map_err(|_| "\\x needs two hex digits")?;
                    lit.push(v);
                    rest = &rest[4..];
                    continue;
                }
                other => return Err(format!("unknown escape \\{}", other.unwrap_or(' '))),
            }
            rest = &rest[2..];
        } else {
            let mut buf = [0u8; 4];
            lit.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            rest = &rest[c.len_utf8()..];
        }
    }
    if !lit.is_empty() || segs.is_empty() {
        segs.push(Seg::Lit(lit));
    }
    Ok(segs)
}

// ---------------------------------------------------------------------------
// Running

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Exchange,
    Pipelined,
    Split,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Exchange => "exchange",
            Mode::Pipelined => "pipelined",
            Mode::Split => "split",
        })
    }
}

#[derive(Debug)]
struct Failure {
    file: String,
    line: String,
    target: String,
    mode: String,
    expected: String,
    got: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{} [target {}, mode {}]\n    expected: {}\n    got:      {}",
            self.file, self.line, self.target, self.mode, self.expected, self.got
        )
    }
}

/// A mismatch inside one run, before the file/target/mode are attached.
struct Mismatch {
    line: String,
    expected: String,
    got: String,
}

const SENTINEL: &[u8] = b"version\r\n";
const SENTINEL_REPLY: &[u8] = b"VERSION ";

fn line_of(step: &Step) -> String {
    step.line.to_string()
}

/// Reads and checks one expectation step.
fn check(
    client: &mut Client,
    step: &Step,
    vars: &mut HashMap<String, Vec<u8>>,
) -> Result<(), Mismatch> {
    let mm = |expected: String, got: &[u8]| Mismatch {
        line: line_of(step),
        expected,
        got: escape_bytes(got),
    };
    match &step.op {
        Op::Expect(segs) if segs.iter().all(|s| matches!(s, Seg::Lit(_))) => {
            let mut exp = Vec::new();
            for s in segs {
                if let Seg::Lit(b) = s {
                    exp.extend_from_slice(b);
                }
            }
            client
                .expect_bytes(&exp)
                .map_err(|got| mm(escape_bytes(&exp), &got))
        }
        Op::Expect(segs) => {
            let shown = render_template(segs, vars);
            let got = read_line(client);
            match match_template(segs, &got, vars) {
                Some(binds) => {
                    vars.extend(binds);
                    Ok(())
                }
                None => Err(mm(shown, &got)),
            }
        }
        Op::Prefix(p) => {
            let got = read_line(client);
            if got.starts_with(p) && got.ends_with(b"\r\n") {
                Ok(())
            } else {
                Err(mm(
                    format!("a line starting with {}", escape_bytes(p)),
                    &got,
                ))
            }
        }
        Op::AnyLine => {
            let got = read_line(client);
            if got.ends_with(b"\r\n") {
                Ok(())
            } else {
                Err(mm("any CRLF-terminated line".into(), &got))
            }
        }
        Op::SkipUntil { contains, until } => {
            let mut want = until.clone();
            want.extend_from_slice(b"\r\n");
            let mut seen: Vec<bool> = vec![false; contains.len()];
            for _ in 0..100_000 {
                let got = read_line(client);
                if !got.ends_with(b"\r\n") {
                    return Err(mm(format!("lines up to {}", escape_bytes(&want)), &got));
                }
                if got == want {
                    let missing: Vec<String> = contains
                        .iter()
                        .zip(&seen)
                        .filter(|(_, s)| !**s)
                        .map(|(p, _)| escape_bytes(p))
                        .collect();
                    if missing.is_empty() {
                        return Ok(());
                    }
                    return Err(mm(
                        format!(
                            "lines matching `<+ {}` before {}",
                            missing.join("`, `<+ "),
                            escape_bytes(until)
                        ),
                        b"(none of them)",
                    ));
                }
                let body = &got[..got.len() - 2];
                for (p, s) in contains.iter().zip(seen.iter_mut()) {
                    if field_prefix_match(body, p) {
                        *s = true;
                    }
                }
            }
            Err(mm(
                format!("a line {}", escape_bytes(&want)),
                b"(100000 lines without it)",
            ))
        }
        Op::Eof => client
            .expect_eof()
            .map_err(|got| mm("connection closed (EOF)".into(), &got)),
        Op::Send(_) | Op::Sleep(_) => unreachable!(),
    }
}

/// `<+` matching: the line is `p`, or `p` followed by a space and more
/// ("STAT pid" matches "STAT pid 42"; "STAT curr_items 2" does not match
/// "STAT curr_items 20").
fn field_prefix_match(line: &[u8], p: &[u8]) -> bool {
    line == p || (line.starts_with(p) && line.get(p.len()) == Some(&b' '))
}

/// One line including its "\n", or what arrived before EOF/timeout with a
/// marker appended.
fn read_line(client: &mut Client) -> Vec<u8> {
    match client.read_line_raw(8 * 1024 * 1024) {
        Ok(l) if l.ends_with(b"\n") => l,
        Ok(mut l) => {
            l.extend_from_slice(b"<EOF>");
            l
        }
        Err(e) => format!("<{}>", io_error_name(&e)).into_bytes(),
    }
}

fn render_template(segs: &[Seg], vars: &HashMap<String, Vec<u8>>) -> String {
    let mut s = String::new();
    for g in segs {
        match g {
            Seg::Lit(b) => s.push_str(&escape_bytes(b)),
            Seg::Cap(n) => match vars.get(n) {
                Some(v) => s.push_str(&format!("{}(=$cas({}))", escape_bytes(v), n)),
                None => s.push_str(&format!("$cas({})", n)),
            },
        }
    }
    s
}

/// Matches `line` against literal and capture segments; captures are runs
/// of digits. Returns the new bindings, or None on a mismatch.
fn match_template(
    segs: &[Seg],
    line: &[u8],
    vars: &HashMap<String, Vec<u8>>,
) -> Option<Vec<(String, Vec<u8>)>> {
    let mut pos = 0;
    let mut binds: Vec<(String, Vec<u8>)> = Vec::new();
    for g in segs {
        match g {
            Seg::Lit(b) => {
                if !line[pos..].starts_with(b) {
                    return None;
                }
                pos += b.len();
            }
            Seg::Cap(name) => {
                let n = line[pos..]
                    .iter()
                    .take_while(|c| c.is_ascii_digit())
                    .count();
                if n == 0 {
                    return None;
                }
                let v = line[pos..pos + n].to_vec();
                let bound = vars
                    .get(name)
                    .or_else(|| binds.iter().find(|(k, _)| k == name).map(|(_, v)| v));
                match bound {
                    Some(old) if *old != v => return None,
                    Some(_) => {}
                    None => binds.push((name.clone(), v)),
                }
                pos += n;
            }
        }
    }
    (pos == line.len()).then_some(binds)
}

fn expand_send(
    segs: &[Seg],
    vars: &HashMap<String, Vec<u8>>,
    step: &Step,
) -> Result<Vec<u8>, Mismatch> {
    let mut out = Vec::new();
    for g in segs {
        match g {
            Seg::Lit(b) => out.extend_from_slice(b),
            Seg::Cap(n) => match vars.get(n) {
                Some(v) => out.extend_from_slice(v),
                None => {
                    return Err(Mismatch {
                        line: line_of(step),
                        expected: format!("$cas({}) captured by an earlier expectation", n),
                        got: "(unbound)".into(),
                    })
                }
            },
        }
    }
    Ok(out)
}

fn check_sentinel(client: &mut Client) -> Result<(), Mismatch> {
    let got = read_line(client);
    if got.starts_with(SENTINEL_REPLY) && got.ends_with(b"\r\n") {
        Ok(())
    } else {
        Err(Mismatch {
            line: "end".into(),
            expected: "VERSION ... (answer to the sentinel `version`: nothing else may be pending)"
                .into(),
            got: escape_bytes(&got),
        })
    }
}

/// Exchange mode: send each group of consecutive sends in one write, then
/// check the expectations up to the next send.
fn run_exchange(t: &Transcript, server: &Server) -> Result<(), Mismatch> {
    let mut client = server.client();
    let mut vars = HashMap::new();
    let mut pending: Vec<u8> = Vec::new();
    let io_err = |step: &Step, e: std::io::Error| Mismatch {
        line: line_of(step),
        expected: "to send the request".into(),
        got: format!("send failed: {}", e),
    };
    for step in &t.steps {
        match &step.op {
            Op::Send(segs) => pending.extend(expand_send(segs, &vars, step)?),
            Op::Sleep(d) => {
                if !pending.is_empty() {
                    client.send(&pending).map_err(|e| io_err(step, e))?;
                    pending.clear();
                }
                std::thread::sleep(*d);
            }
            _ => {
                if !pending.is_empty() {
                    client.send(&pending).map_err(|e| io_err(step, e))?;
                    pending.clear();
                }
                check(&mut client, step, &mut vars)?;
            }
        }
    }
    if t.ends_with_eof() {
        return Ok(());
    }
    pending.extend_from_slice(SENTINEL);
    let last = t.steps.last().cloned().unwrap_or(Step {
        line: 0,
        op: Op::AnyLine,
    });
    client.send(&pending).map_err(|e| io_err(&last, e))?;
    check_sentinel(&mut client)
}

/// The whole request stream of a pipelinable file (sentinel included).
fn request_stream(t: &Transcript) -> Vec<u8> {
    let vars = HashMap::new();
    let mut out = Vec::new();
    for step in &t.steps {
        if let Op::Send(segs) = &step.op {
            out.extend(expand_send(segs, &vars, step).unwrap_or_default());
        }
    }
    if !t.ends_with_eof() {
        out.extend_from_slice(SENTINEL);
    }
    out
}

/// Writes `chunks` from a second thread (pausing `pause` between them)
/// while this thread reads and checks every expectation.
fn run_stream(
    t: &Transcript,
    server: &Server,
    chunks: &[&[u8]],
    pause: Duration,
) -> Result<(), Mismatch> {
    let mut client = server.client();
    let mut writer = client.try_clone_stream().expect("clone stream");
    std::thread::scope(|s| {
        s.spawn(move || {
            for (i, c) in chunks.iter().enumerate() {
                if i > 0 {
                    std::thread::sleep(pause);
                }
                // A server that closes early (quit, or a bug) makes writes
                // fail; the reader reports what matters.
                if writer.write_all(c).is_err() {
                    break;
                }
            }
        });
        let mut vars = HashMap::new();
        let mut result = Ok(());
        for step in &t.steps {
            match &step.op {
                Op::Send(_) | Op::Sleep(_) => {}
                _ => result = check(&mut client, step, &mut vars),
            }
            if result.is_err() {
                break;
            }
        }
        if result.is_ok() && !t.ends_with_eof() {
            result = check_sentinel(&mut client);
        }
        if result.is_err() {
            // Unblock the writer if the server stopped reading.
            let _ = client.stream().shutdown(std::net::Shutdown::Both);
        }
        result
    })
}

fn run_pipelined(t: &Transcript, server: &Server) -> Result<(), Mismatch> {
    let bytes = request_stream(t);
    run_stream(t, server, &[&bytes], Duration::ZERO)
}

/// Split mode on one server: for every boundary i, bytes[..i] then ~2 ms
/// then bytes[i..] on a fresh connection.
fn run_split(t: &Transcript, server: &Server) -> Result<(), Mismatch> {
    let bytes = request_stream(t);
    for i in 1..bytes.len() {
        run_stream(
            t,
            server,
            &[&bytes[..i], &bytes[i..]],
            Duration::from_millis(2),
        )
        .map_err(|mut m| {
            m.line = format!(
                "{} (split at byte {} of {}, after {:?})",
                m.line,
                i,
                bytes.len(),
                escape_bytes(&bytes[..i])
            );
            m
        })?;
    }
    Ok(())
}

fn run_file_on_target(t: &Transcript, target: &Target) -> Vec<Failure> {
    let mut modes = vec![Mode::Exchange];
    if t.pipelinable() {
        modes.push(Mode::Pipelined);
    }
    if t.split {
        modes.push(Mode::Split);
    }
    let args: Vec<&str> = t.args.iter().map(String::as_str).collect();
    let mut failures = Vec::new();
    for mode in modes {
        let server = Server::start(target, &args);
        let result = match mode {
            Mode::Exchange => run_exchange(t, &server),
            Mode::Pipelined => run_pipelined(t, &server),
            Mode::Split => run_split(t, &server),
        };
        if let Err(m) = result {
            failures.push(Failure {
                file: t
                    .path
                    .strip_prefix(env!("CARGO_MANIFEST_DIR"))
                    .unwrap_or(&t.path)
                    .display()
                    .to_string(),
                line: m.line,
                target: target.name.to_string(),
                mode: mode.to_string(),
                expected: m.expected,
                got: m.got,
            });
        }
    }
    failures
}

/// Runs every (target, transcript) pair, several at a time, and panics once
/// with the full list of failures.
fn run_all(targets: &[Target], transcripts: &[Transcript]) {
    let started = Instant::now();
    let jobs: Vec<(&Target, &Transcript)> = targets
        .iter()
        .flat_map(|tg| {
            transcripts
                .iter()
                .filter(|t| !t.skips(tg.name))
                .map(move |t| (tg, t))
        })
        .collect();
    let next = Mutex::new(0usize);
    let failures: Mutex<Vec<Failure>> = Mutex::new(Vec::new());
    let panics: Mutex<Vec<String>> = Mutex::new(Vec::new());
    // Most of a run is waiting (sleeps, round trips), so use more workers
    // than cores.
    let workers = 8.min(jobs.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let job = {
                    let mut n = next.lock().unwrap();
                    let j = jobs.get(*n).copied();
                    *n += 1;
                    j
                };
                let Some((target, t)) = job else { break };
                match std::panic::catch_unwind(|| run_file_on_target(t, target)) {
                    Ok(f) => failures.lock().unwrap().extend(f),
                    Err(p) => {
                        let msg = p
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_else(|| "panic".into());
                        panics
                            .lock()
                            .unwrap()
                            .push(format!("{} on {}: {}", t.name, target.name, msg));
                    }
                }
            });
        }
    });
    let names: Vec<&str> = targets.iter().map(|t| t.name).collect();
    eprintln!(
        "conformance: {} transcript runs on [{}] in {:.1?}",
        jobs.len(),
        names.join(", "),
        started.elapsed()
    );
    let mut failures = failures.into_inner().unwrap();
    let panics = panics.into_inner().unwrap();
    failures.sort_by(|a, b| (&a.target, &a.file, &a.mode).cmp(&(&b.target, &b.file, &b.mode)));
    if failures.is_empty() && panics.is_empty() {
        return;
    }
    let mut report = format!(
        "{} conformance failure(s):\n",
        failures.len() + panics.len()
    );
    for p in &panics {
        report.push_str(&format!("\n{}\n", p));
    }
    for f in &failures {
        report.push_str(&format!("\n{}\n", f));
    }
    panic!("{}", report);
}

fn selected(targets: Vec<Target>) -> Vec<Target> {
    match env_list("MOLT_TARGETS") {
        Some(only) => targets
            .into_iter()
            .filter(|t| only.iter().any(|o| o == t.name))
            .collect(),
        None => targets,
    }
}

#[test]
fn transcripts_pass_on_every_target() {
    let targets = selected(targets!());
    // Missing binaries are an error, not a skip: report all of them at once.
    let missing: Vec<String> = targets
        .iter()
        .filter(|t| !t.program.is_file())
        .map(|t| format!("{} ({})", t.name, t.program.display()))
        .collect();
    assert!(
        missing.is_empty(),
        "target binaries missing: {}; run `make build` first",
        missing.join(", ")
    );
    run_all(&targets, &load_transcripts());
}

#[test]
fn transcripts_match_reference_memcached() {
    let Some(reference) = reference_memcached() else {
        eprintln!("notice: memcached not installed (/usr/bin/memcached); transcripts not checked against it");
        return;
    };
    run_all(&[reference], &load_transcripts());
}

#[test]
fn transcript_parser_understands_the_format() {
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
}
