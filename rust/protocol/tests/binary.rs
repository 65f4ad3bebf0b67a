//! The binary protocol on its own: a session over rust/seg whose first
//! byte is 0x80. Replies are checked byte for byte (packets built here from
//! memcached's layout); splitting the input anywhere, or pausing for
//! output, must not change them; hostile frames are answered or closed.

mod support;

use protocol::{Counter, Session, Status, VecOutput};
use support::Server;

const GET: u8 = 0x00;
const SET: u8 = 0x01;
const ADD: u8 = 0x02;
const DELETE: u8 = 0x04;
const INCR: u8 = 0x05;
const QUIT: u8 = 0x07;
const GETQ: u8 = 0x09;
const NOOP: u8 = 0x0a;
const VERSION: u8 = 0x0b;
const GETK: u8 = 0x0c;
const GETKQ: u8 = 0x0d;
const APPEND: u8 = 0x0e;
const STAT: u8 = 0x10;
const SETQ: u8 = 0x11;
const DELETEQ: u8 = 0x14;
const TOUCH: u8 = 0x1c;
const GAT: u8 = 0x1d;

/// A request: header (lengths from the parts), extras, key, value.
fn req(op: u8, extras: &[u8], key: &[u8], value: &[u8], opaque: u32, cas: u64) -> Vec<u8> {
    let body = extras.len() + key.len() + value.len();
    let mut p = vec![0x80, op];
    p.extend((key.len() as u16).to_be_bytes());
    p.extend([extras.len() as u8, 0, 0, 0]);
    p.extend((body as u32).to_be_bytes());
    p.extend(opaque.to_be_bytes());
    p.extend(cas.to_be_bytes());
    for part in [extras, key, value] {
        p.extend_from_slice(part);
    }
    p
}

/// A response, as memcached composes it.
fn res(op: u8, status: u16, parts: [&[u8]; 3], opaque: u32, cas: u64) -> Vec<u8> {
    let [extras, key, value] = parts;
    let body = extras.len() + key.len() + value.len();
    let mut p = vec![0x81, op];
    p.extend((key.len() as u16).to_be_bytes());
    p.extend([extras.len() as u8, 0]);
    p.extend(status.to_be_bytes());
    p.extend((body as u32).to_be_bytes());
    p.extend(opaque.to_be_bytes());
    p.extend(cas.to_be_bytes());
    for part in [extras, key, value] {
        p.extend_from_slice(part);
    }
    p
}

fn set_extras(flags: u32, exptime: u32) -> Vec<u8> {
    [flags.to_be_bytes(), exptime.to_be_bytes()].concat()
}

fn incr_extras(delta: u64, initial: u64, exptime: u32) -> Vec<u8> {
    let mut e = delta.to_be_bytes().to_vec();
    e.extend(initial.to_be_bytes());
    e.extend(exptime.to_be_bytes());
    e
}

/// The response packets in `bytes` (whole ones; a cut one panics).
fn packets(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let body = u32::from_be_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        out.push(bytes[at..at + 24 + body].to_vec());
        at += 24 + body;
    }
    out
}

fn cas_of(packet: &[u8]) -> u64 {
    u64::from_be_bytes(packet[16..24].try_into().unwrap())
}

fn error(op: u8, status: u16, msg: &str, opaque: u32) -> Vec<u8> {
    res(op, status, [b"", b"", msg.as_bytes()], opaque, 0)
}

#[test]
fn binary_commands_answer_byte_for_byte() {
    let mut s = Server::new();
    let input = [
        req(SET, &set_extras(0xdead_beef, 0), b"k", b"hello", 1, 0),
        req(GET, b"", b"k", b"", 2, 0),
        req(GETK, b"", b"k", b"", 3, 0),
        req(GET, b"", b"nope", b"", 4, 0),
        req(GETK, b"", b"nope", b"", 5, 0),
        req(ADD, &set_extras(0, 0), b"k", b"x", 6, 0),
        req(APPEND, b"", b"k", b"!", 7, 0),
        req(INCR, &incr_extras(5, 10, 0), b"n", b"", 8, 0),
        req(INCR, &incr_extras(5, 10, 0), b"n", b"", 9, 0),
        req(INCR, &incr_extras(1, 0, 0xffff_ffff), b"m", b"", 10, 0),
        req(INCR, &incr_extras(1, 0, 0), b"k", b"", 11, 0),
        req(DELETE, b"", b"k", b"", 12, 0),
        req(DELETE, b"", b"k", b"", 13, 0),
        req(TOUCH, &100u32.to_be_bytes(), b"n", b"", 14, 0),
        req(NOOP, b"", b"", b"", 15, 0),
        req(0x1b, &1u32.to_be_bytes(), b"", b"", 16, 0),
        b"JUNK".to_vec(), // skipped beyond the body, as 1.6.18 does
        req(NOOP, b"", b"", b"", 17, 0),
    ]
    .concat();
    let got = packets(&s.whole(&input));
    let set_cas = cas_of(&got[0]);
    let append_cas = cas_of(&got[6]);
    let n_cas = cas_of(&got[8]);
    let flags = 0xdead_beefu32.to_be_bytes();
    let want = [
        res(SET, 0, [b"", b"", b""], 1, set_cas),
        res(GET, 0, [&flags, b"", b"hello"], 2, set_cas),
        res(GETK, 0, [&flags, b"k", b"hello"], 3, set_cas),
        error(GET, 1, "Not found", 4),
        res(GETK, 1, [b"", b"nope", b""], 5, 0),
        error(ADD, 2, "Data exists for key.", 6),
        res(APPEND, 0, [b"", b"", b""], 7, append_cas),
        res(
            INCR,
            0,
            [b"", b"", &10u64.to_be_bytes()],
            8,
            cas_of(&got[7]),
        ),
        res(INCR, 0, [b"", b"", &15u64.to_be_bytes()], 9, n_cas),
        error(INCR, 1, "Not found", 10),
        error(
            INCR,
            6,
            "Non-numeric server-side value for incr or decr",
            11,
        ),
        res(DELETE, 0, [b"", b"", b""], 12, 0),
        error(DELETE, 1, "Not found", 13),
        res(TOUCH, 0, [&[0, 0, 0, 0], b"", b""], 14, n_cas),
        res(NOOP, 0, [b"", b"", b""], 15, 0),
        // 1.6.18 has no binary verbosity; its 4 extras are skipped
        error(0x1b, 0x81, "Unknown command", 16),
        res(NOOP, 0, [b"", b"", b""], 17, 0),
    ];
    assert_eq!(got, want);
    assert!(set_cas != 0 && append_cas != set_cas);
    assert_eq!(s.host.counters[Counter::CmdGet as usize], 4);
    assert_eq!(s.host.counters[Counter::GetHits as usize], 2);
    assert_eq!(s.host.counters[Counter::GetMisses as usize], 2);
    assert_eq!(s.host.counters[Counter::CmdSet as usize], 3);
    assert_eq!(s.host.counters[Counter::IncrHits as usize], 1);
    assert_eq!(s.host.counters[Counter::IncrMisses as usize], 1);
    assert_eq!(s.host.counters[Counter::DeleteHits as usize], 1);
    assert_eq!(s.host.counters[Counter::DeleteMisses as usize], 1);
    assert_eq!(s.host.counters[Counter::TouchHits as usize], 1);
}

#[test]
fn quiet_forms_answer_only_failures_and_hits() {
    let mut s = Server::new();
    let input = [
        req(SETQ, &set_extras(0, 0), b"q", b"v", 1, 0),
        req(GETQ, b"", b"none", b"", 2, 0),
        req(GETKQ, b"", b"q", b"", 3, 0),
        req(DELETEQ, b"", b"none", b"", 4, 0),
        req(0x1a, b"", b"none", b"!", 5, 0), // prependq on a missing key
        req(NOOP, b"", b"", b"", 6, 0),
    ]
    .concat();
    let got = packets(&s.whole(&input));
    let want = [
        res(GETKQ, 0, [&[0, 0, 0, 0], b"q", b"v"], 3, cas_of(&got[0])),
        error(DELETEQ, 1, "Not found", 4),
        error(0x1a, 5, "Not stored.", 5),
        res(NOOP, 0, [b"", b"", b""], 6, 0),
    ];
    assert_eq!(got, want);
}

fn script() -> Vec<u8> {
    [
        req(SET, &set_extras(3, 0), b"a", b"\r\n\x80\x00", 1, 0),
        req(GETK, b"", b"a", b"", 2, 0),
        req(GAT, &0u32.to_be_bytes(), b"a", b"", 3, 0),
        req(0x40, b"", b"", b"skipped", 4, 0),
        req(SET, &set_extras(0, 0), b"big", &[7u8; 3000], 5, 0),
        req(GET, b"", b"big", b"", 6, 0),
        req(STAT, b"", b"", b"", 7, 0),
        req(VERSION, b"", b"", b"", 8, 0),
        req(QUIT, b"", b"", b"", 9, 0),
    ]
    .concat()
}

#[test]
fn splitting_binary_input_anywhere_changes_nothing() {
    let input = script();
    let (whole, closed) = Server::new().feed(&input, &[]);
    assert!(closed, "quit closes");
    assert_eq!(packets(&whole).len(), 10, "9 replies, STAT has 2 packets");
    for cut in 1..input.len() {
        let (got, closed) = Server::new().feed(&input, &[cut]);
        assert!(closed);
        assert_eq!(got, whole, "cut at {cut}");
    }
    let cuts: Vec<usize> = (1..input.len()).collect();
    assert_eq!(Server::new().feed(&input, &cuts).0, whole, "byte by byte");
}

#[test]
fn pausing_for_output_changes_nothing() {
    let input = script();
    let (whole, _) = Server::new().feed(&input, &[]);
    let mut s = Server::new();
    s.limits.out_high = 1;
    let (got, closed) = s.feed(&input, &[]);
    assert!(closed);
    assert_eq!(got, whole);
}

#[test]
fn stat_reports_are_resent_as_packets() {
    let mut s = Server::new();
    let input = [
        req(GET, b"", b"x", b"", 1, 0),
        req(STAT, b"", b"", b"", 2, 0),
        req(STAT, b"", b"settings", b"", 3, 0),
        req(STAT, b"", b"reset", b"", 4, 0),
        req(STAT, b"", b"nope", b"", 5, 0),
    ]
    .concat();
    let got = packets(&s.whole(&input));
    let stat = |k: &[u8], v: &[u8], opaque| res(STAT, 0, [b"", k, v], opaque, 0);
    let want = [
        error(GET, 1, "Not found", 1),
        stat(b"cmd_get", b"1", 2),
        stat(b"", b"", 2),
        stat(b"protocol", b"rust", 3),
        stat(b"", b"", 3),
        stat(b"", b"", 4),
        error(STAT, 1, "Not found", 5),
    ];
    assert_eq!(got, want);
    assert_eq!(s.host.counters[Counter::CmdGet as usize], 0, "reset");
}

/// Feeds `input` whole to a fresh session: every reply byte, and whether
/// it asked to close.
fn feed(input: &[u8]) -> (Vec<u8>, bool) {
    Server::new().feed(input, &[])
}

#[test]
fn lengths_that_lie_are_answered_then_closed() {
    // keylen 5 > bodylen 4: Unknown command, close, once the 5 key bytes
    // are in (memcached waits for the extras and key the header names)
    let mut lie = req(GET, b"", b"abcde", b"", 1, 0);
    lie[11] = 4;
    let mut s = Server::new();
    let mut session = Session::new();
    let mut out = VecOutput::default();
    let (st, p) = s.call(&mut session, &lie[..28], &mut out);
    assert_eq!((st, p.consumed, p.need), (Status::More, 0, 1));
    let (st, _) = s.call(&mut session, &lie, &mut out);
    assert_eq!(st, Status::Close);
    assert_eq!(out.bytes, error(GET, 0x81, "Unknown command", 1));
    // extlen + keylen > bodylen
    let mut lie = req(SET, &set_extras(0, 0), b"abc", b"", 2, 0);
    lie[11] = 10;
    let (got, closed) = feed(&lie);
    assert!(closed);
    assert_eq!(got, error(SET, 0x81, "Unknown command", 2));
    // a 251-byte key: Invalid arguments
    let (got, closed) = feed(&req(GET, b"", &[b'k'; 251], b"", 3, 0));
    assert!(closed);
    assert_eq!(got, error(GET, 4, "Invalid arguments", 3));
    // a 65535-byte key: waited for (bounded), then refused
    let huge = req(GET, b"", &[b'k'; 65535], b"", 4, 0);
    let mut session = Session::new();
    let mut out = VecOutput::default();
    let (st, p) = s.call(&mut session, &huge[..24], &mut out);
    assert_eq!((st, p.consumed, p.need), (Status::More, 0, 65535));
    let (st, _) = s.call(&mut session, &huge, &mut out);
    assert_eq!(st, Status::Close);
    assert_eq!(out.bytes, error(GET, 4, "Invalid arguments", 4));
    // a noop with a body: Invalid arguments, after the replies before it
    let input = [
        req(NOOP, b"", b"", b"", 5, 0),
        req(NOOP, b"", b"", b"x", 6, 0),
    ]
    .concat();
    let (got, closed) = feed(&input);
    assert!(closed);
    let want = [
        res(NOOP, 0, [b"", b"", b""], 5, 0),
        error(NOOP, 4, "Invalid arguments", 6),
    ]
    .concat();
    assert_eq!(got, want);
}

#[test]
fn a_bad_magic_closes_without_an_answer() {
    let junk = [0u8; 24];
    // the replies before it are written first
    let input = [req(GET, b"", b"k", b"", 1, 0), junk.to_vec()].concat();
    assert_eq!(feed(&input), (error(GET, 1, "Not found", 1), true));
    // fewer than 24 bytes: memcached waits for a whole header
    let mut s = Server::new();
    let mut session = Session::new();
    let mut out = VecOutput::default();
    let first = req(NOOP, b"", b"", b"", 3, 0);
    let (st, p) = s.call(&mut session, &first, &mut out);
    assert_eq!((st, p.consumed), (Status::More, 24));
    let (st, p) = s.call(&mut session, &junk[..23], &mut out);
    assert_eq!((st, p.consumed, p.need), (Status::More, 0, 0));
}

#[test]
fn a_body_over_the_item_size_limit_is_skipped_as_it_arrives() {
    let mut s = Server::new();
    let mut session = Session::new();
    let mut out = VecOutput::default();
    // bodylen 0xffffffff: Too large. once the header, extras and key are in
    let mut head = req(SET, &set_extras(0, 0), b"k", b"", 1, 0);
    head[8..12].copy_from_slice(&u32::MAX.to_be_bytes());
    let (st, p) = s.call(&mut session, &head, &mut out);
    assert_eq!((st, p.consumed, p.need), (Status::More, head.len(), 0));
    assert_eq!(out.bytes, error(SET, 3, "Too large.", 1));
    out.bytes.clear();
    // the body is consumed as it comes, never held
    let chunk = vec![0x80u8; 1 << 20];
    for _ in 0..8 {
        let (st, p) = s.call(&mut session, &chunk, &mut out);
        assert_eq!((st, p.consumed), (Status::More, chunk.len()));
    }
    assert!(out.bytes.is_empty());
    // a value within the limit reports what it still needs
    let mut session = Session::new();
    let set = req(SET, &set_extras(0, 0), b"k", &[1u8; 1000], 2, 0);
    let (st, p) = s.call(&mut session, &set[..100], &mut out);
    assert_eq!((st, p.consumed, p.need), (Status::More, 0, set.len() - 100));
}

#[test]
fn every_opcode_is_answered_or_closes() {
    for op in 0..=255u8 {
        for (ext, key, body) in [(0u8, 0u16, 0u32), (4, 1, 5), (8, 3, 20), (20, 1, 21)] {
            let mut input = vec![0x80, op];
            input.extend(key.to_be_bytes());
            input.extend([ext, 0, 0, 0]);
            input.extend(body.to_be_bytes());
            input.extend([0u8; 12]);
            input.extend(vec![b'1'; body as usize]);
            input.extend(req(NOOP, b"", b"", b"", 9, 0));
            let (got, closed) = feed(&input);
            assert!(
                !got.is_empty() || closed,
                "opcode {op:#x} {ext}/{key}/{body}"
            );
            if !got.is_empty() {
                assert_eq!(got[0], 0x81, "opcode {op:#x}");
            }
        }
    }
}
