//! The safe wrapper of protocol.h (molt::c_protocol) as a host sees it:
//! exact reply bytes, the statuses and progress the event loop acts on, the
//! host table's reports and the session's counters. Every registered
//! protocol is run (today "c"; "rust" when the mixed binary registers it).

use molt::{
    counter_name, protocols, CProtocol, CStorage, Context, OutBuf, Progress, ProtocolLimits,
    ProtocolStatus, Session, StorageConfig,
};

const NOW: i64 = 1_800_000_000;

/// A session over a fresh engine, fed like conn.c feeds it.
struct Conn<'p> {
    session: Session<'p>,
    storage: CStorage,
    limits: ProtocolLimits,
    out: OutBuf,
    input: Vec<u8>,
}

impl<'p> Conn<'p> {
    fn new(p: &'p CProtocol, engine: &str) -> Conn<'p> {
        Conn {
            session: p.session().expect("session"),
            storage: CStorage::open(engine, &StorageConfig::default()).expect("engine"),
            limits: ProtocolLimits::default(),
            out: OutBuf::new(),
            input: Vec::new(),
        }
    }

    /// Appends `bytes` to the input, makes one call, drops what was
    /// consumed; returns the progress and the output (drained).
    fn call(&mut self, bytes: &[u8]) -> (Progress, Vec<u8>) {
        self.input.extend_from_slice(bytes);
        let p = self
            .session
            .process(&cx(&self.storage, self.limits), &self.input, &mut self.out);
        self.input.drain(..p.consumed);
        let mut got = Vec::new();
        self.out.drain_into(&mut got);
        (p, got)
    }

    fn counter(&self, name: &str) -> u64 {
        let i = (0..molt::COUNTERS)
            .find(|&i| counter_name(i) == name)
            .unwrap_or_else(|| panic!("no counter {name}"));
        self.session.counters()[i]
    }
}

fn cx(storage: &CStorage, limits: ProtocolLimits) -> Context<'_> {
    Context {
        storage,
        now: NOW,
        limits,
    }
}

fn more(consumed: usize, need: usize) -> Progress {
    Progress {
        status: ProtocolStatus::More,
        consumed,
        need,
    }
}

fn each_protocol(f: impl Fn(&CProtocol, &str)) {
    let names = protocols();
    assert!(names.iter().any(|n| n == "c"), "registered: {names:?}");
    for name in names {
        let p = CProtocol::open(&name).expect("open");
        assert_eq!(p.name(), name);
        for engine in ["slab", "seg"] {
            f(&p, engine);
        }
    }
}

#[test]
fn an_unknown_protocol_is_refused() {
    assert!(CProtocol::open("nope").is_err());
    assert!(CProtocol::open("c\0x").is_err());
}

#[test]
fn set_then_get_answers_memcached_bytes_and_counts() {
    each_protocol(|p, engine| {
        let mut c = Conn::new(p, engine);
        let (pr, got) = c.call(b"set k 5 0 3\r\nabc\r\nget k nope\r\n");
        assert_eq!(pr, more(30, 0), "{engine}");
        assert_eq!(got, b"STORED\r\nVALUE k 5 3\r\nabc\r\nEND\r\n", "{engine}");
        assert_eq!(c.counter("cmd_get"), 2);
        assert_eq!(c.counter("get_hits"), 1);
        assert_eq!(c.counter("get_misses"), 1);
        assert_eq!(c.counter("cmd_set"), 1);
    });
}

#[test]
fn a_split_request_waits_and_need_counts_the_missing_block() {
    each_protocol(|p, engine| {
        let mut c = Conn::new(p, engine);
        let (pr, got) = c.call(b"get");
        assert_eq!(
            (pr.status, pr.need, got.as_slice()),
            (ProtocolStatus::More, 0, &b""[..])
        );
        let (pr, got) = c.call(b" k\r\nset k 0 0 10\r\nab");
        assert_eq!(got, b"END\r\n", "{engine}");
        assert_eq!(pr.status, ProtocolStatus::More);
        // 10 bytes + CRLF announced, 2 arrived
        assert_eq!(pr.need, 10, "{engine}");
        let (pr, got) = c.call(b"cdefghij\r\n");
        assert_eq!(pr.need, 0);
        assert_eq!(got, b"STORED\r\n", "{engine}");
        assert!(c.input.is_empty());
    });
}

#[test]
fn output_over_the_high_water_mark_pauses_and_quit_closes() {
    each_protocol(|p, engine| {
        let mut c = Conn::new(p, engine);
        c.limits.out_high = 64;
        let (_, got) = c.call(b"set k 0 0 50\r\n");
        assert!(got.is_empty());
        let (_, got) = c.call(&[b'v'; 50]);
        assert!(got.is_empty());
        let (_, got) = c.call(b"\r\n");
        assert_eq!(got, b"STORED\r\n");
        // a slow reader: the output stays queued
        c.input.extend_from_slice(b"get k k k\r\nversion\r\n");
        let pr = c
            .session
            .process(&cx(&c.storage, c.limits), &c.input, &mut c.out);
        assert_eq!(pr.status, ProtocolStatus::Paused, "{engine}");
        assert!(c.out.queued().starts_with(b"VALUE k 0 50\r\nvvvv"));
        c.input.drain(..pr.consumed);
        let mut all = Vec::new();
        c.out.drain_into(&mut all);
        loop {
            let (pr, got) = c.call(b"");
            all.extend_from_slice(&got);
            if pr.status == ProtocolStatus::More {
                break;
            }
            assert_eq!(pr.status, ProtocolStatus::Paused);
        }
        let value = format!("VALUE k 0 50\r\n{}\r\n", "v".repeat(50));
        let want = format!("{value}{value}{value}END\r\nVERSION ");
        assert!(
            all.starts_with(want.as_bytes()),
            "{}",
            String::from_utf8_lossy(&all)
        );
        let (pr, got) = c.call(b"quit\r\nget k\r\n");
        assert_eq!(pr.status, ProtocolStatus::Close);
        assert_eq!(pr.consumed, 6, "{engine}");
        assert!(got.is_empty());
    });
}

#[test]
fn the_host_table_answers_stats_verbosity_and_refresh_certs() {
    each_protocol(|p, engine| {
        let mut c = Conn::new(p, engine);
        let (_, got) = c.call(b"set a 0 0 1\r\nx\r\nget a\r\nstats\r\n");
        let text = String::from_utf8_lossy(&got);
        let want = format!(
            "STORED\r\nVALUE a 0 1\r\nx\r\nEND\r\nSTAT time {NOW}\r\nSTAT cmd_get 1\r\nSTAT cmd_set 1\r\n"
        );
        assert!(text.starts_with(&want), "{engine}: {text}");
        assert!(text.contains("STAT get_hits 1\r\n") && text.contains("STAT curr_items 1\r\n"));
        assert!(
            text.ends_with("STAT verbosity -1\r\nSTAT resets 0\r\nEND\r\n"),
            "{text}"
        );
        let (_, got) = c.call(b"stats reset\r\nverbosity 1\r\nstats\r\n");
        let text = String::from_utf8_lossy(&got);
        assert!(text.starts_with("RESET\r\nOK\r\nSTAT time"), "{text}");
        assert!(text.contains("STAT cmd_get 0\r\n"), "{text}");
        assert!(
            text.ends_with("STAT verbosity 1\r\nSTAT resets 1\r\nEND\r\n"),
            "{text}"
        );
        assert_eq!(c.session.verbosity(), Some(1));
        assert_eq!(c.session.stats_resets(), 1);
        let (_, got) = c.call(b"stats settings\r\nstats bogus\r\n");
        let text = String::from_utf8_lossy(&got);
        assert!(
            text.starts_with("STAT item_size_max 1048576\r\nSTAT growth_factor 1.25\r\n"),
            "{text}"
        );
        assert!(text.ends_with("END\r\nERROR\r\n"), "{text}");
        // the host answers in turn: no TLS, failed, reloaded
        let (_, got) = c.call(b"refresh_certs\r\nrefresh_certs\r\nrefresh_certs\r\n");
        assert_eq!(
            String::from_utf8_lossy(&got),
            "CLIENT_ERROR TLS is not enabled\r\nSERVER_ERROR test host: no certificate\r\nOK\r\n"
        );
    });
}

#[test]
fn shutdown_asks_the_host_and_hangs_up_when_enabled() {
    each_protocol(|p, engine| {
        let mut c = Conn::new(p, engine);
        let (pr, got) = c.call(b"shutdown\r\n");
        assert_eq!(pr, more(10, 0), "{engine}");
        assert_eq!(got, b"ERROR: shutdown not enabled\r\n", "{engine}");
        c.session.set_shutdown_enabled(true);
        let (_, got) = c.call(b"shutdown later\r\n");
        assert_eq!(got, b"CLIENT_ERROR invalid shutdown mode\r\n", "{engine}");
        assert!(c.session.shutdowns().is_empty());
        // the version reply of the same read is lost with the connection
        let (pr, got) = c.call(b"version\r\nshutdown graceful\r\n");
        assert_eq!(pr.status, ProtocolStatus::Close, "{engine}");
        assert_eq!(got, b"", "{engine}");
        assert_eq!(c.session.shutdowns(), vec![true], "{engine}");
    });
}

#[test]
fn watch_registers_with_the_host_and_then_ignores_input() {
    each_protocol(|p, engine| {
        let mut c = Conn::new(p, engine);
        c.session.set_watch_refused(true);
        let (_, got) = c.call(b"watch mutations\r\n");
        assert_eq!(got, b"WATCHER_TOO_MANY log watchers\r\n", "{engine}");
        c.session.set_watch_refused(false);
        let (pr, got) = c.call(b"watch fetchers rawcmds\r\nversion\r\n");
        assert_eq!(pr, more(33, 0), "{engine}");
        assert_eq!(got, b"OK\r\n", "{engine}");
        let (pr, got) = c.call(b"version\r\n");
        assert_eq!(pr, more(9, 0), "{engine}");
        assert_eq!(got, b"", "{engine}");
        assert_eq!(c.session.watches(), vec![2, 9], "{engine}");
    });
}

#[test]
fn events_are_reported_only_while_someone_watches() {
    each_protocol(|p, engine| {
        let mut c = Conn::new(p, engine);
        c.call(b"set a 0 0 1\r\nx\r\nget a\r\n");
        assert!(c.session.watch_log().is_empty(), "{engine}");
        c.session.set_watching(1 | 2);
        c.call(b"set k 0 100 3\r\nabc\r\nadd k 0 0 1\r\nz\r\nget k nope\r\nmg nope v\r\n");
        let log = String::from_utf8(c.session.watch_log()).expect("utf8");
        let exp = NOW + 100;
        assert_eq!(
            log,
            format!(
                "2 k status=1 cmd=2 exptime={exp} clsid=1 size=3\n\
                 2 k status=0 cmd=1 exptime=0 clsid=1 size=1\n\
                 1 k status=1 cmd=0 exptime=0 clsid=1 size=3\n\
                 1 nope status=0 cmd=0 exptime=0 clsid=0 size=0\n\
                 1 nope status=0 cmd=0 exptime=0 clsid=0 size=0\n"
            ),
            "{} over {engine}",
            p.name()
        );
    });
}
