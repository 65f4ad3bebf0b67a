//! The transcript model and its parser (format: tests/transcripts/README.md).

use std::path::{Path, PathBuf};
use std::time::Duration;

/// A piece of a send or expect text.
#[derive(Clone, Debug)]
pub enum Seg {
    Lit(Vec<u8>),
    /// `$cas(NAME)`: in an expectation, matches 1+ digits and binds NAME (or
    /// must equal NAME's value if already bound); in a send, NAME's value.
    Cap(String),
}

/// A piece of a binary expectation (`<x`).
#[derive(Clone, Debug, PartialEq)]
pub enum BinSeg {
    Lit(Vec<u8>),
    /// `??`: one byte, any value.
    Any,
    /// `$cas(NAME)`: 8 bytes, bound to NAME (or equal to its value).
    Cap(String),
}

/// The length of a binary cas capture: a header's cas field.
pub const BIN_CAP_LEN: usize = 8;

#[derive(Clone, Debug)]
pub enum Op {
    Send(Vec<Seg>),
    /// `<x`: exact bytes, with `??` wildcards and 8-byte captures.
    ExpectBin(Vec<BinSeg>),
    /// `<x~ HEX`: one binary response packet whose first bytes are these;
    /// its body (as long as its header says) is read and not checked.
    PacketPrefix(Vec<u8>),
    /// `<x~~ names`: binary STAT packets up to the empty one that ends
    /// them; each name must be the key of one of them.
    StatPackets(Vec<Vec<u8>>),
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
pub struct Step {
    pub line: usize,
    pub op: Op,
}

#[derive(Debug)]
pub struct Transcript {
    /// The file name without `.txt`: the first part of every trial name.
    pub name: String,
    pub path: PathBuf,
    pub args: Vec<String>,
    skip: Vec<String>,
    no_pipeline: bool,
    pub split: bool,
    /// `#! binary`: requests and replies in memcached's binary protocol
    /// (the sentinel is a binary VERSION).
    pub binary: bool,
    pub steps: Vec<Step>,
}

impl Transcript {
    fn has_sleep(&self) -> bool {
        self.steps.iter().any(|s| matches!(s.op, Op::Sleep(_)))
    }

    /// The time its `sleep` lines take.
    pub fn total_sleep(&self) -> Duration {
        self.steps
            .iter()
            .map(|s| match s.op {
                Op::Sleep(d) => d,
                _ => Duration::ZERO,
            })
            .sum()
    }

    fn sends_use_captures(&self) -> bool {
        self.steps.iter().any(|s| match &s.op {
            Op::Send(segs) => segs.iter().any(|g| matches!(g, Seg::Cap(_))),
            _ => false,
        })
    }

    pub fn ends_with_eof(&self) -> bool {
        matches!(self.steps.last(), Some(Step { op: Op::Eof, .. }))
    }

    /// Why the file cannot run pipelined, or None if it can.
    pub fn why_not_pipelinable(&self) -> Option<&'static str> {
        if self.no_pipeline {
            Some("marked `#! no-pipeline`")
        } else if self.has_sleep() {
            Some("has a `sleep`")
        } else if self.sends_use_captures() {
            Some("a request uses a `$cas(...)` capture")
        } else {
            None
        }
    }

    fn pipelinable(&self) -> bool {
        self.why_not_pipelinable().is_none()
    }

    /// `#! skip:` names `target`.
    pub fn skips(&self, target: &str) -> bool {
        self.skip.iter().any(|s| s == target)
    }
}

fn transcripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/transcripts")
}

/// Every tests/transcripts/*.txt, parsed, in file name order; a file that
/// does not parse panics with its path and line.
pub fn load_transcripts() -> Vec<Transcript> {
    let dir = transcripts_dir();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {}", dir.display(), e))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    paths.sort();
    let list: Vec<Transcript> = paths.iter().map(|p| parse_file(p)).collect();
    assert!(
        !list.is_empty(),
        "no transcripts found in {}",
        dir.display()
    );
    list
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
        binary: false,
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
            } else if d == "binary" {
                t.binary = true;
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
        // `> text` and `< text`: the text, then the CRLF that ends the line.
        let crlf_line = |text: &str| -> Vec<Seg> {
            let mut segs = parse(text, false);
            segs.push(Seg::Lit(b"\r\n".to_vec()));
            segs
        };
        let hex = |text: &str, expect: bool| -> Vec<BinSeg> {
            parse_hex(text, expect).unwrap_or_else(|e| err(&e))
        };
        let op = if let Some(rest) = line.strip_prefix(">x ") {
            let segs = hex(rest, false).into_iter().map(|g| match g {
                BinSeg::Lit(b) => Seg::Lit(b),
                BinSeg::Cap(n) => Seg::Cap(n),
                BinSeg::Any => err("`??` is only allowed in `<x` lines"),
            });
            Op::Send(segs.collect())
        } else if let Some(rest) = line.strip_prefix("<x~~") {
            let names = strip_comment(rest).split_whitespace();
            Op::StatPackets(names.map(|n| n.as_bytes().to_vec()).collect())
        } else if let Some(rest) = line.strip_prefix("<x~ ") {
            let prefix = hex(rest, false).into_iter().map(|g| match g {
                BinSeg::Lit(b) => b,
                _ => err("`<x~` takes literal bytes only"),
            });
            Op::PacketPrefix(prefix.flatten().collect())
        } else if let Some(rest) = line.strip_prefix("<x ") {
            Op::ExpectBin(hex(rest, true))
        } else if let Some(rest) = line.strip_prefix(">> ") {
            Op::Send(parse(rest, true))
        } else if let Some(rest) = line.strip_prefix("> ") {
            Op::Send(crlf_line(rest))
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
            Op::Expect(crlf_line(rest))
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
    let total_sleep = t.total_sleep().as_secs_f64();
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
pub fn parse_segments(text: &str, raw_escapes: bool) -> Result<Vec<Seg>, String> {
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

/// The text of a hex line before its `#` comment (a `#` inside quotes is
/// text).
fn strip_comment(text: &str) -> &str {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '#' if !quoted => return &text[..i],
            _ => {}
        }
    }
    text
}

/// A `>x`/`<x` line: pairs of hex digits (spaces and `|` between them
/// are for the reader), `"text"` (escapes \" \\ \xHH, and
/// `$repeat(c,N)` inside), `$cas(NAME)` (8 bytes), in expectations `??`
/// (any byte); `#` starts a comment.
pub fn parse_hex(text: &str, expect: bool) -> Result<Vec<BinSeg>, String> {
    let mut segs = Vec::new();
    let mut lit: Vec<u8> = Vec::new();
    let flush = |segs: &mut Vec<BinSeg>, lit: &mut Vec<u8>| {
        if !lit.is_empty() {
            segs.push(BinSeg::Lit(std::mem::take(lit)));
        }
    };
    let mut rest = strip_comment(text);
    while let Some(c) = rest.chars().next() {
        if c.is_whitespace() || c == '|' {
            rest = &rest[c.len_utf8()..];
        } else if c == '"' {
            let body = &rest[1..];
            let mut end = None;
            let mut escaped = false;
            for (i, ch) in body.char_indices() {
                match ch {
                    _ if escaped => escaped = false,
                    '\\' => escaped = true,
                    '"' => {
                        end = Some(i);
                        break;
                    }
                    _ => {}
                }
            }
            let end = end.ok_or("unterminated \"text\"")?;
            let inner = body[..end].replace("\\\"", "\"");
            for s in parse_segments(&inner, true)? {
                match s {
                    Seg::Lit(b) => lit.extend(b),
                    Seg::Cap(_) => return Err("$cas(...) inside quotes".into()),
                }
            }
            rest = &body[end + 1..];
        } else if let Some(r) = rest.strip_prefix("$cas(") {
            let close = r.find(')').ok_or("unterminated $cas(")?;
            flush(&mut segs, &mut lit);
            segs.push(BinSeg::Cap(r[..close].to_string()));
            rest = &r[close + 1..];
        } else if expect && rest.starts_with("??") {
            flush(&mut segs, &mut lit);
            segs.push(BinSeg::Any);
            rest = &rest[2..];
        } else {
            let pair = rest.get(..2).ok_or("odd number of hex digits")?;
            let v =
                u8::from_str_radix(pair, 16).map_err(|_| format!("not a hex byte: {:?}", pair))?;
            lit.push(v);
            rest = &rest[2..];
        }
    }
    flush(&mut segs, &mut lit);
    if segs.is_empty() {
        return Err("an empty hex line".into());
    }
    Ok(segs)
}
