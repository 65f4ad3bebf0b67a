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
