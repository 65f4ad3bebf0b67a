//! Running one transcript on one server in one mode, and checking what
//! the server answers.

use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::time::Duration;

use molt_test_support::{escape_bytes, io_error_name, Client, Server, Target};

use crate::transcript::{BinSeg, Op, Seg, Step, Transcript, BIN_CAP_LEN};

/// How a transcript's requests reach the server (see the top of
/// main.rs).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mode {
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

/// A mismatch inside one run, before the file/target/mode are attached.
struct Mismatch {
    line: String,
    expected: String,
    got: String,
}

const SENTINEL: &[u8] = b"version\r\n";
const SENTINEL_REPLY: &[u8] = b"VERSION ";
/// A binary VERSION with opaque "SENT", and the start of its answer.
const BIN_SENTINEL: &[u8] = b"\x80\x0b\0\0\0\0\0\0\0\0\0\0SENT\0\0\0\0\0\0\0\0";
const BIN_SENTINEL_REPLY: &[u8] = b"\x81\x0b\0\0\0\0\0\0";
const BIN_HEADER: usize = 24;

fn sentinel(t: &Transcript) -> &'static [u8] {
    if t.binary {
        BIN_SENTINEL
    } else {
        SENTINEL
    }
}

fn hex(bytes: &[u8]) -> String {
    let words: Vec<String> = bytes.iter().map(|b| format!("{:02x}", b)).collect();
    words.join(" ")
}

/// One binary response packet (header and the body its length names), or
/// what arrived before the server closed or went quiet, with a marker.
fn read_packet(client: &mut Client) -> Result<Vec<u8>, String> {
    let mut packet = client
        .read_exact(BIN_HEADER)
        .map_err(|e| format!("<{}> instead of a 24-byte header", io_error_name(&e)))?;
    let body = u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]) as usize;
    match client.read_exact(body) {
        Ok(b) => packet.extend(b),
        Err(e) => return Err(format!("{} then <{}>", hex(&packet), io_error_name(&e))),
    }
    Ok(packet)
}

/// Reads and checks a `<x` expectation: exact bytes, `??` any byte, 8-byte
/// captures.
fn check_bin(
    client: &mut Client,
    segs: &[BinSeg],
    vars: &mut HashMap<String, Vec<u8>>,
) -> Result<(), (String, String)> {
    let len: usize = segs
        .iter()
        .map(|g| match g {
            BinSeg::Lit(b) => b.len(),
            BinSeg::Any => 1,
            BinSeg::Cap(_) => BIN_CAP_LEN,
        })
        .sum();
    let shown = || {
        let parts: Vec<String> = segs
            .iter()
            .map(|g| match g {
                BinSeg::Lit(b) => hex(b),
                BinSeg::Any => "??".into(),
                BinSeg::Cap(n) => format!("$cas({})", n),
            })
            .collect();
        parts.join(" ")
    };
    let got = client
        .read_exact(len)
        .map_err(|e| (shown(), format!("<{}>", io_error_name(&e))))?;
    let mut pos = 0;
    for g in segs {
        match g {
            BinSeg::Lit(b) if got[pos..pos + b.len()] != b[..] => {
                return Err((shown(), hex(&got)));
            }
            BinSeg::Lit(b) => pos += b.len(),
            BinSeg::Any => pos += 1,
            BinSeg::Cap(name) => {
                let v = got[pos..pos + BIN_CAP_LEN].to_vec();
                match vars.get(name) {
                    Some(old) if *old != v => return Err((shown(), hex(&got))),
                    Some(_) => {}
                    None => {
                        vars.insert(name.clone(), v);
                    }
                }
                pos += BIN_CAP_LEN;
            }
        }
    }
    Ok(())
}

/// Reads binary STAT packets up to the empty one; every `name` must be the
/// key of one of them, every `name=value` also have that value.
fn check_stat_packets(client: &mut Client, wanted: &[Vec<u8>]) -> Result<(), (String, String)> {
    let shown: Vec<String> = wanted.iter().map(|n| escape_bytes(n)).collect();
    let want = || format!("STAT packets {}, then an empty one", shown.join(" "));
    let mut seen = vec![false; wanted.len()];
    for _ in 0..100_000 {
        let p = read_packet(client).map_err(|e| (want(), e))?;
        if p[..2] != [0x81, 0x10] || p[6..8] != [0, 0] {
            return Err((want(), hex(&p)));
        }
        if p.len() == BIN_HEADER {
            return match seen.iter().position(|s| !s) {
                None => Ok(()),
                Some(i) => Err((want(), format!("nothing matching {}", shown[i]))),
            };
        }
        let keylen = usize::from(u16::from_be_bytes([p[2], p[3]]));
        let body = &p[BIN_HEADER..];
        let (key, value) = body.split_at(keylen.min(body.len()));
        for (w, s) in wanted.iter().zip(seen.iter_mut()) {
            *s |= match w.iter().position(|&c| c == b'=') {
                Some(i) => key == &w[..i] && value == &w[i + 1..],
                None => key == &w[..],
            };
        }
    }
    Err((want(), "100000 packets without the empty one".into()))
}

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
        Op::ExpectBin(segs) => check_bin(client, segs, vars).map_err(|(expected, got)| Mismatch {
            line: line_of(step),
            expected,
            got,
        }),
        Op::PacketPrefix(prefix) => {
            let expected = format!("a packet starting {}", hex(prefix));
            match read_packet(client) {
                Ok(p) if p.starts_with(prefix) => Ok(()),
                Ok(p) => Err(Mismatch {
                    line: line_of(step),
                    expected,
                    got: hex(&p),
                }),
                Err(got) => Err(Mismatch {
                    line: line_of(step),
                    expected,
                    got,
                }),
            }
        }
        Op::StatPackets(names) => {
            check_stat_packets(client, names).map_err(|(expected, got)| Mismatch {
                line: line_of(step),
                expected,
                got,
            })
        }
        Op::Send(_) | Op::Sleep(_) => unreachable!(),
    }
}

/// `<+` matching: the line is `p`, or `p` followed by a space and more
/// ("STAT pid" matches "STAT pid 42"; "STAT curr_items 2" does not match
/// "STAT curr_items 20"). `$N` in `p` matches one or more digits (a class
/// id: "STAT items:$N:number 1").
fn field_prefix_match(line: &[u8], p: &[u8]) -> bool {
    let (mut i, mut j) = (0, 0);
    while j < p.len() {
        if p[j..].starts_with(b"$N") {
            let n = line[i..].iter().take_while(|c| c.is_ascii_digit()).count();
            if n == 0 {
                return false;
            }
            i += n;
            j += 2;
        } else if line.get(i) == Some(&p[j]) {
            i += 1;
            j += 1;
        } else {
            return false;
        }
    }
    i == line.len() || line[i] == b' '
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
pub fn match_template(
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

fn check_sentinel(client: &mut Client, t: &Transcript) -> Result<(), Mismatch> {
    if t.binary {
        let ok = |p: &[u8]| p.starts_with(BIN_SENTINEL_REPLY) && p[12..16] == *b"SENT";
        return match read_packet(client) {
            Ok(p) if ok(&p) => Ok(()),
            Ok(p) => Err(hex(&p)),
            Err(e) => Err(e),
        }
        .map_err(|got| Mismatch {
            line: "end".into(),
            expected: "the answer to the sentinel binary VERSION (opaque SENT): nothing else may be pending".into(),
            got,
        });
    }
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
    pending.extend_from_slice(sentinel(t));
    let last = t.steps.last().cloned().unwrap_or(Step {
        line: 0,
        op: Op::AnyLine,
    });
    client.send(&pending).map_err(|e| io_err(&last, e))?;
    check_sentinel(&mut client, t)
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
        out.extend_from_slice(sentinel(t));
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
            result = check_sentinel(&mut client, t);
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

/// Runs `t` on a fresh server of `target` in `mode` (split mode: one
/// server for all its boundaries). Err: the report of the first mismatch
/// (file:line, target, mode, expected and received bytes).
pub fn run_on_target(t: &Transcript, target: &Target, mode: Mode) -> Result<(), String> {
    let args: Vec<&str> = t.args.iter().map(String::as_str).collect();
    let server = Server::start(target, &args);
    let result = match mode {
        Mode::Exchange => run_exchange(t, &server),
        Mode::Pipelined => run_pipelined(t, &server),
        Mode::Split => run_split(t, &server),
    };
    result.map_err(|m| {
        let file = t
            .path
            .strip_prefix(env!("CARGO_MANIFEST_DIR"))
            .unwrap_or(&t.path);
        format!(
            "{}:{} [target {}, mode {}]\n    expected: {}\n    got:      {}",
            file.display(),
            m.line,
            target.name,
            mode,
            m.expected,
            m.got
        )
    })
}
