//! The protocol crate on its own: a session over rust/seg, fed the way
//! protocol.h's host feeds it (drop what was consumed, append new input
//! after the rest). Replies are checked byte for byte; splitting the input
//! anywhere, or pausing for output, must not change them.

mod support;

use protocol::{Counter, Session, Status, VecOutput};
use support::Server;

fn ask(input: &str) -> String {
    String::from_utf8(Server::new().whole(input.as_bytes())).expect("utf8")
}

#[test]
fn classic_commands_answer_byte_for_byte() {
    let got = ask(concat!(
        "set a 5 0 2\r\nhi\r\n",
        "get a b\r\n",
        "add a 0 0 1\r\nx\r\n",
        "append a 0 0 1\r\n!\r\n",
        "get a\r\n",
        "incr a 1\r\n",
        "set n 0 0 2\r\n10\r\n",
        "incr n 5\r\ndecr n 100\r\n",
        "delete n\r\ndelete n\r\n",
        "touch a 100\r\n",
        "set q 0 0 1 noreply\r\nz\r\n",
        "get q\r\n",
        "verbosity 1\r\nversion\r\n",
        "bogus\r\n",
        "stats settings\r\nstats nope\r\n",
        "refresh_certs\r\n",
        "flush_all\r\nget a\r\n",
    ));
    assert_eq!(
        got,
        concat!(
            "STORED\r\n",
            "VALUE a 5 2\r\nhi\r\nEND\r\n",
            "NOT_STORED\r\n",
            "STORED\r\n",
            "VALUE a 5 3\r\nhi!\r\nEND\r\n",
            "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n",
            "STORED\r\n",
            "15\r\n0\r\n",
            "DELETED\r\nNOT_FOUND\r\n",
            "TOUCHED\r\n",
            "VALUE q 0 1\r\nz\r\nEND\r\n",
            "OK\r\nVERSION 1.6.0-molt-0.1.0\r\n",
            "ERROR\r\n",
            "STAT protocol rust\r\nEND\r\nERROR\r\n",
            "SERVER_ERROR nope\r\n",
            "OK\r\nEND\r\n",
        )
    );
}

#[test]
fn gets_and_cas() {
    let mut srv = Server::new();
    let first = String::from_utf8(srv.whole(b"set k 0 0 1\r\nv\r\ngets k\r\n")).unwrap();
    let cas: u64 = first
        .lines()
        .nth(1)
        .and_then(|l| l.split(' ').nth(4))
        .and_then(|c| c.parse().ok())
        .expect("a cas on the VALUE line");
    let script = format!(
        "cas k 0 0 1 {}\r\nw\r\ncas k 0 0 1 {}\r\nx\r\ncas m 0 0 1 1\r\ny\r\n",
        cas, cas
    );
    let got = String::from_utf8(srv.whole(script.as_bytes())).unwrap();
    assert_eq!(got, "STORED\r\nEXISTS\r\nNOT_FOUND\r\n");
}

#[test]
fn meta_commands_answer_byte_for_byte() {
    let got = ask(concat!(
        "ms k 2 T0 F7\r\nhi\r\n",
        "mg k v f s t k Oabc\r\n",
        "mg missing v\r\nmg missing v q\r\nmn\r\n",
        "ma n N0 J10 v\r\nma n MD D3 v\r\n",
        "md k q\r\nmd k\r\n",
        "ms k 2 MX\r\nhi\r\n",
        "mg k zz\r\n",
        "mz\r\n",
        "mg a2V5 b k v\r\n",
    ));
    assert_eq!(
        got,
        concat!(
            "HD\r\n",
            "VA 2 f7 s2 t-1 kk Oabc\r\nhi\r\n",
            "EN\r\nMN\r\n",
            "VA 2\r\n10\r\nVA 1\r\n7\r\n",
            "NF\r\n",
            "CLIENT_ERROR invalid mode for ms M token\r\n",
            "CLIENT_ERROR invalid flag\r\n",
            "ERROR\r\n",
            "EN ka2V5 b\r\n",
        )
    );
}

#[test]
fn errors_and_limits() {
    let long_key = "k".repeat(251);
    let got = ask(&format!(
        "get {long_key}\r\nset {long_key} 0 0 1\r\nx\r\nset a 0 0 -1\r\nincr a x\r\ndelete a 5\r\nset big 0 0 2000000\r\n"
    ));
    assert_eq!(
        got,
        concat!(
            "CLIENT_ERROR bad command line format\r\n",
            "CLIENT_ERROR bad command line format\r\n",
            "ERROR\r\n",
            "CLIENT_ERROR bad command line format\r\n",
            "CLIENT_ERROR invalid numeric delta argument\r\n",
            "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n",
            "SERVER_ERROR object too large for cache\r\n",
        )
    );
}

#[test]
fn a_refused_block_is_swallowed() {
    let mut srv = Server::new();
    srv.limits.item_size_max = 100;
    let value = "v".repeat(200);
    let got = srv.whole(format!("set a 0 0 200\r\n{value}\r\nget a\r\n").as_bytes());
    assert_eq!(got, b"SERVER_ERROR object too large for cache\r\nEND\r\n");
}

#[test]
fn an_over_long_line_closes() {
    let mut srv = Server::new();
    srv.limits.line_max = 1000;
    let (out, closed) = srv.feed(format!("get {}", "k".repeat(1500)).as_bytes(), &[]);
    assert!(closed);
    assert_eq!(out, b"CLIENT_ERROR line too long\r\n");
    // not a get: memcached hangs up past 2048 bytes without a word
    let (out, closed) = Server::new().feed(format!("set {}", "k".repeat(3000)).as_bytes(), &[]);
    assert!(closed);
    assert!(out.is_empty());
}

#[test]
fn quit_closes_after_earlier_replies() {
    let (out, closed) = Server::new().feed(b"version\r\nquit\r\nversion\r\n", &[]);
    assert!(closed);
    assert_eq!(out, b"VERSION 1.6.0-molt-0.1.0\r\n");
}

fn script() -> Vec<u8> {
    let mut s = Vec::new();
    s.extend_from_slice(b"set a 1 0 3\r\nabc\r\nset b 2 0 0\r\n\r\n");
    s.extend_from_slice(b"get a b c\r\ngets a\r\nincr x 1\r\n");
    s.extend_from_slice(b"ms m 3 F9 I\r\nxyz\r\nmg m v f c k O1\r\nmn\r\n");
    s.extend_from_slice(b"set bad 0 0 1\r\nxx\r\nme a\r\n");
    s.extend_from_slice(b"md m q\r\nmg m\r\nlru_crawler metadump all\r\n");
    s
}

#[test]
fn splitting_the_input_anywhere_changes_nothing() {
    let input = script();
    let whole = Server::new().whole(&input);
    assert!(whole.ends_with(b"END\r\n"));
    for cut in 0..=input.len() {
        assert_eq!(Server::new().feed(&input, &[cut]).0, whole, "cut at {cut}");
    }
    let every: Vec<usize> = (1..input.len()).collect();
    assert_eq!(Server::new().feed(&input, &every).0, whole, "byte by byte");
}

#[test]
fn a_multi_get_pauses_for_output_and_resumes_where_it_stopped() {
    let mut setup = Vec::new();
    let mut get = b"get".to_vec();
    for i in 0..200 {
        setup.extend_from_slice(format!("set key{i} 0 0 10\r\n0123456789\r\n").as_bytes());
        get.extend_from_slice(format!(" key{i}").as_bytes());
    }
    get.extend_from_slice(b"\r\nlru_crawler metadump all\r\n");
    let mut srv = Server::new();
    srv.whole(&setup);
    let unpaused = srv.whole(&get);
    srv.limits.out_high = 256;
    let mut s = Session::new();
    let mut out = VecOutput::default();
    let (status, p) = srv.call(&mut s, &get, &mut out);
    assert_eq!(status, Status::Paused);
    assert_eq!(p.consumed, 0, "the paused line stays in the input");
    assert!(out.bytes.len() < 512, "stopped near the high-water mark");
    let paused = srv.whole(&get);
    assert_eq!(paused, unpaused);
    let text = String::from_utf8(unpaused).unwrap();
    assert_eq!(text.matches("VALUE key").count(), 200);
    assert_eq!(text.matches("key=key").count(), 200);
}

#[test]
fn counters_move_as_memcached_counts() {
    let mut srv = Server::new();
    srv.whole(b"set a 0 0 1\r\nx\r\nget a b\r\ntouch a 0\r\ndelete zz\r\n");
    let c = &srv.host.counters;
    assert_eq!(c[Counter::CmdGet as usize], 2);
    assert_eq!(c[Counter::GetHits as usize], 1);
    assert_eq!(c[Counter::GetMisses as usize], 1);
    assert_eq!(c[Counter::CmdSet as usize], 1);
    assert_eq!(c[Counter::CmdTouch as usize], 1);
    assert_eq!(c[Counter::TouchHits as usize], 1);
    assert_eq!(c[Counter::DeleteMisses as usize], 1);
}

#[test]
fn an_output_limit_refusal_closes() {
    let mut srv = Server::new();
    srv.whole(format!("set a 0 0 100\r\n{}\r\n", "x".repeat(100)).as_bytes());
    let mut s = Session::new();
    let mut out = VecOutput {
        bytes: Vec::new(),
        limit: 50,
    };
    let (status, _) = srv.call(&mut s, b"get a\r\n", &mut out);
    assert_eq!(status, Status::Close);
    // the value did not fit; the error line does
    assert_eq!(
        out.bytes,
        b"SERVER_ERROR out of memory writing get response\r\n"
    );
}

#[test]
fn shutdown_answers_as_memcached_and_hangs_up_when_enabled() {
    let mut srv = Server::new();
    assert_eq!(
        srv.feed(b"shutdown\r\nshutdown graceful noreply\r\n", &[]),
        (
            b"ERROR: shutdown not enabled\r\nERROR: shutdown not enabled\r\n".to_vec(),
            false
        )
    );
    srv.host.shutdown_enabled = true;
    assert_eq!(
        srv.feed(b"shutdown now\r\n", &[]),
        (b"CLIENT_ERROR invalid shutdown mode\r\n".to_vec(), false)
    );
    // the reply queued in the same read is lost with the connection
    assert_eq!(
        srv.feed(b"version\r\nshutdown graceful\r\nversion\r\n", &[]),
        (Vec::new(), true)
    );
    assert_eq!(srv.host.shutdowns, vec![true]);
}

#[test]
fn watch_takes_over_the_connection_and_events_are_reported() {
    let mut srv = Server::new();
    assert_eq!(
        srv.feed(b"watch bogus\r\nversion\r\nwatch\r\n", &[]),
        (
            b"ERROR\r\nVERSION 1.6.0-molt-0.1.0\r\nERROR cannot pipeline other commands before watch\r\n"
                .to_vec(),
            false
        )
    );
    assert_eq!(
        srv.feed(b"watch mutations fetchers\r\nversion\r\n", &[14]),
        (b"OK\r\n".to_vec(), false)
    );
    assert_eq!(srv.host.watches, vec![3]);
    srv.host.watching = 3;
    srv.whole(b"set k 7 0 2\r\nhi\r\nget k nope\r\nmg k v\r\n");
    assert_eq!(
        srv.host.events,
        vec![
            "2 k 1 2 0 1 2".to_string(),
            "1 k 1 0 0 1 2".to_string(),
            "1 nope 0 0 0 0 0".to_string(),
            "1 k 1 0 0 1 2".to_string(),
        ]
    );
}

#[test]
fn meta_ttl_takes_the_later_of_n_and_t_and_cas_0_means_no_compare() {
    let got = ask(concat!(
        "mg k N1000 T-1 v\r\n",
        "mg k v\r\n",
        "set n 0 0 1\r\n5\r\n",
        "ma n C0 v\r\n",
        "ms n 1 C0 MA\r\n!\r\n",
        "mg n v\r\n",
    ));
    assert_eq!(
        got,
        concat!(
            "VA 0 W\r\n\r\n",
            "EN\r\n",
            "STORED\r\n",
            "VA 1\r\n6\r\n",
            "HD\r\n",
            "VA 2\r\n6!\r\n",
        )
    );
}
