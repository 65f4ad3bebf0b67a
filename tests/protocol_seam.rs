//! protocol.h in process: both implementations opened by name through the
//! C registry ("c" and "rust"), each over its own engine in the same state,
//! fed the same bytes cut at the same points; their replies must be
//! byte-identical (what the C-vs-Rust differential fuzzer builds on).

use molt::{protocols, CProtocol, CStorage, StorageConfig};
use molt_ffi::sys::{molt_counter, molt_protocol_limits, molt_protocol_status};

const NOW: i64 = 1_700_000_000;

fn limits(out_high: usize) -> molt_protocol_limits {
    molt_protocol_limits {
        item_size_max: 1 << 20,
        growth_factor: 1.25,
        line_max: 65536,
        out_high,
        out_limit: 64 << 20,
    }
}

/// Feeds `input` to implementation `name` over a fresh `engine`, cut at
/// `cuts`, as a host does (drop what was consumed, append the rest); the
/// session's output is drained whenever it pauses. Returns every reply
/// byte, whether it asked to close, and cmd_get.
fn run(
    name: &str,
    engine: &str,
    input: &[u8],
    cuts: &[usize],
    out_high: usize,
) -> (Vec<u8>, bool, u64) {
    let storage = CStorage::open(engine, &StorageConfig::default()).expect("engine");
    let protocol = CProtocol::open(name).expect("protocol");
    let mut s = protocol.session().expect("session");
    let mut pending = Vec::new();
    let mut sent = Vec::new();
    let mut from = 0;
    for &to in cuts.iter().chain(std::iter::once(&input.len())) {
        pending.extend_from_slice(&input[from..to]);
        from = to;
        loop {
            let r = s.process(&storage, NOW, limits(out_high), &pending);
            pending.drain(..r.consumed);
            sent.extend(s.take_output());
            match r.status {
                molt_protocol_status::MOLT_PROTOCOL_MORE => break,
                molt_protocol_status::MOLT_PROTOCOL_PAUSED => continue,
                _ => return (sent, true, s.counter(molt_counter::MOLT_COUNTER_CMD_GET)),
            }
        }
    }
    (sent, false, s.counter(molt_counter::MOLT_COUNTER_CMD_GET))
}

fn script() -> Vec<u8> {
    let mut s = Vec::new();
    s.extend_from_slice(b"set a 1 0 3\r\nabc\r\nset b 2 0 0\r\n\r\nadd a 0 0 1\r\nz\r\n");
    s.extend_from_slice(b"get a b c\r\ngets a\r\nincr x 1\r\nset n 0 0 1\r\n9\r\nincr n 1\r\n");
    s.extend_from_slice(b"ms m 3 F9 I T0\r\nxyz\r\nmg m v f c k O1 s t h l\r\nmn\r\n");
    s.extend_from_slice(b"set bad 0 0 1\r\nxx\r\nme a\r\nma n D5 v\r\nma q N0 J3\r\n");
    s.extend_from_slice(b"md m q\r\nmg m\r\nmg m k q\r\nlru_crawler metadump all\r\n");
    s.extend_from_slice(b"bogus\r\nstats\r\nstats nosuch\r\nversion\r\ndelete a\r\ntouch b 0\r\n");
    s.extend_from_slice(b"get ");
    for i in 0..50 {
        s.extend_from_slice(format!("k{i} ").as_bytes());
    }
    s.extend_from_slice(b"\r\nflush_all\r\nget a\r\nquit\r\n");
    s
}

#[test]
fn both_implementations_open_by_name() {
    let names = protocols();
    assert!(names.iter().any(|n| n == "c"), "{names:?}");
    assert!(names.iter().any(|n| n == "rust"), "{names:?}");
    assert!(CProtocol::open("nosuch").is_err());
}

#[test]
fn c_and_rust_answer_byte_for_byte() {
    let input = script();
    for engine in ["slab", "seg"] {
        let c = run("c", engine, &input, &[], 1 << 30);
        let rust = run("rust", engine, &input, &[], 1 << 30);
        assert!(c.1, "quit closes");
        assert!(
            c.0.ends_with(b"OK\r\nEND\r\n"),
            "{}",
            String::from_utf8_lossy(&c.0)
        );
        assert_eq!(
            String::from_utf8_lossy(&rust.0),
            String::from_utf8_lossy(&c.0),
            "{engine}"
        );
        assert_eq!(rust, c, "{engine}");
    }
}

#[test]
fn c_and_rust_agree_when_cut_anywhere_or_paused() {
    let input = script();
    let whole = run("c", "slab", &input, &[], 1 << 30);
    for cut in (0..input.len()).step_by(7) {
        assert_eq!(
            run("rust", "slab", &input, &[cut], 1 << 30),
            whole,
            "cut at {cut}"
        );
    }
    let every: Vec<usize> = (1..input.len()).collect();
    assert_eq!(
        run("rust", "seg", &input, &every, 1 << 30).0,
        run("c", "seg", &input, &every, 1 << 30).0
    );
    // a small high-water mark: multi-gets and the dump pause and resume
    assert_eq!(
        run("rust", "slab", &input, &[], 16),
        run("c", "slab", &input, &[], 16)
    );
}

/// A random request: classic or meta, good or malformed, sometimes with a
/// data block, sometimes a long or binary line.
fn random_request(r: &mut molt_test_support::Rng) -> Vec<u8> {
    const KEYS: &[&str] = &["a", "b", "n", "k:1", "a2V5", "YQ==", "x y", ""];
    const WORDS: &[&str] = &[
        "get",
        "gets",
        "gat",
        "gats",
        "set",
        "add",
        "replace",
        "append",
        "prepend",
        "cas",
        "incr",
        "decr",
        "delete",
        "touch",
        "flush_all",
        "version",
        "verbosity",
        "stats",
        "mg",
        "ms",
        "md",
        "ma",
        "me",
        "mn",
        "mz",
        "lru_crawler",
        "bogus",
        "GET",
    ];
    const ARGS: &[&str] = &[
        "0",
        "1",
        "5",
        "-1",
        "100",
        "2592001",
        "4294967297",
        "18446744073709551615",
        "x",
        "noreply",
        "metadump",
        "all",
        "1,2",
        "HTTP/1.1",
        "reset",
        "settings",
    ];
    const FLAGS: &[&str] = &[
        "v", "k", "s", "t", "c", "f", "l", "h", "q", "u", "b", "I", "x", "O123", "T30", "T-1",
        "N10", "R5", "C1", "C999", "E77", "F5", "MS", "ME", "MA", "MP", "MR", "MI", "MD", "MX",
        "D3", "J9", "Tx", "P", "L", "zz",
    ];
    let word = r.pick(WORDS);
    let mut toks = vec![word.to_string()];
    let meta = word.len() == 2 && word.starts_with('m');
    let mut block = None;
    if word != "mn" && !r.chance(5) {
        toks.push(r.pick(KEYS).to_string());
    }
    let stores = ["set", "add", "replace", "append", "prepend", "cas", "ms"];
    if stores.contains(&word) {
        let n = if r.chance(5) { 3000 } else { r.below(6) };
        if word != "ms" {
            toks.push(r.pick(&["0", "7", "x"]).to_string());
            toks.push(r.pick(&["0", "100", "-1"]).to_string());
        }
        toks.push(if r.chance(90) {
            n.to_string()
        } else {
            r.pick(ARGS).to_string()
        });
        if word == "cas" {
            toks.push(r.pick(&["1", "2", "99"]).to_string());
        }
        block = Some(n);
    }
    for _ in 0..r.below(4) {
        toks.push(if meta { r.pick(FLAGS) } else { r.pick(ARGS) }.to_string());
    }
    let mut line = toks
        .join(if r.chance(10) { "  " } else { " " })
        .into_bytes();
    if r.chance(2) {
        line.extend(std::iter::repeat_n(b'k', 300 + r.below(20000)));
    }
    if r.chance(3) && !line.is_empty() {
        let i = r.below(line.len());
        line[i] = [b'\r', b'\0', b'\t', b' ', 0xff][r.below(5)];
    }
    line.extend_from_slice(if r.chance(90) { b"\r\n" } else { b"\n" });
    if let Some(n) = block {
        line.extend((0..n).map(|i| b'0' + (i % 10) as u8));
        line.extend_from_slice(if r.chance(92) { b"\r\n" } else { b"xx" });
    }
    line
}

/// Random streams, cut at random points, some with a tiny high-water mark:
/// "c" and "rust" must answer byte for byte alike on both engines.
#[test]
fn c_and_rust_agree_on_random_streams() {
    let streams: usize = std::env::var("PROTOCOL_SEAM_STREAMS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let mut r = molt_test_support::Rng(0x70_726f_746f);
    for case in 0..streams {
        let mut input = Vec::new();
        for _ in 0..1 + r.below(40) {
            input.extend(random_request(&mut r));
        }
        let mut cuts: Vec<usize> = (0..r.below(6)).map(|_| r.below(input.len() + 1)).collect();
        cuts.sort_unstable();
        let out_high = if r.chance(20) {
            1 + r.below(64)
        } else {
            1 << 30
        };
        let engine = if case % 2 == 0 { "slab" } else { "seg" };
        let c = run("c", engine, &input, &cuts, out_high);
        let rust = run("rust", engine, &input, &cuts, out_high);
        assert!(
            c == rust,
            "case {case} ({engine}, cuts {cuts:?}, out_high {out_high}): input\n{}\nc:\n{}\nrust:\n{}",
            String::from_utf8_lossy(&input),
            String::from_utf8_lossy(&c.0),
            String::from_utf8_lossy(&rust.0)
        );
    }
}
