//! The requests the protocol benchmarks (benches/protocol_ir.rs: gungraun
//! instruction counts; benches/protocol.rs: criterion times) send through
//! protocol.h, and the fixture both drive: a session of one registered
//! protocol over a preloaded slab engine, the host playing conn.c's part
//! (one request per process call, output drained after each).

use molt::storage::{Storage, StoreCommand};
use molt::{
    CProtocol, CStorage, Context, OutBuf, ProtocolLimits, ProtocolStatus, Session, StorageConfig,
};
use std::hint::black_box;

pub const NOW: i64 = 1_800_000_000;
/// Requests per measured run.
pub const OPS: usize = 1000;
/// Keys preloaded, with VALUE_LEN-byte values.
const KEYS: usize = 100_000;
const VALUE_LEN: usize = 100;
/// A stride coprime with KEYS: successive requests touch unrelated keys.
const STRIDE: usize = 7919;

fn key(i: usize) -> String {
    format!("bench:key:{i:08}")
}

/// The operations measured.
#[derive(Clone, Copy, Debug)]
pub enum Op {
    /// `get <key>`, a hit on a 100-byte value.
    GetHit,
    /// `set <key> 0 0 100` with its block, overwriting.
    Set100,
    /// `mg <key> v f t c`, a hit.
    MgFlags,
    /// `get` of 100 keys, all hits.
    MultiGet100,
    /// `mn`: no storage, one fixed reply; the floor under the others
    /// (framing, dispatch, the seam and this host's loop).
    MetaNoop,
}

/// Every operation (benches/protocol.rs loops over them).
#[allow(dead_code)] // protocol_ir names each benchmark instead
pub const OPS_ALL: [Op; 5] = [
    Op::GetHit,
    Op::Set100,
    Op::MgFlags,
    Op::MultiGet100,
    Op::MetaNoop,
];

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::GetHit => "get_hit",
            Op::Set100 => "set_100b",
            Op::MgFlags => "mg_v_f_t_c",
            Op::MultiGet100 => "get_100_keys",
            Op::MetaNoop => "mn",
        }
    }

    /// Request j of a run.
    fn request(self, j: usize) -> Vec<u8> {
        let k = |n: usize| key((j * 100 + n + 1) * STRIDE % KEYS);
        match self {
            Op::GetHit => format!("get {}\r\n", k(0)).into_bytes(),
            Op::Set100 => format!(
                "set {} 0 0 {VALUE_LEN}\r\n{}\r\n",
                k(0),
                "s".repeat(VALUE_LEN)
            )
            .into_bytes(),
            Op::MgFlags => format!("mg {} v f t c\r\n", k(0)).into_bytes(),
            Op::MultiGet100 => {
                let keys: Vec<String> = (0..100).map(k).collect();
                format!("get {}\r\n", keys.join(" ")).into_bytes()
            }
            Op::MetaNoop => b"mn\r\n".to_vec(),
        }
    }

    /// Whether `reply` is the right answer to request j.
    fn answered(self, reply: &[u8]) -> bool {
        let text = String::from_utf8_lossy(reply);
        match self {
            Op::GetHit => text.starts_with("VALUE ") && text.ends_with("\r\nEND\r\n"),
            Op::Set100 => text == "STORED\r\n",
            Op::MgFlags => text.starts_with("VA 100 f0 t-1 c"),
            Op::MultiGet100 => text.matches("VALUE ").count() == 100 && text.ends_with("END\r\n"),
            Op::MetaNoop => text == "MN\r\n",
        }
    }
}

/// A session of one protocol over a preloaded slab engine, and the OPS
/// requests of one operation.
pub struct Fixture {
    session: Session<'static>,
    storage: CStorage,
    limits: ProtocolLimits,
    out: OutBuf,
    requests: Vec<Vec<u8>>,
}

impl Fixture {
    /// `protocol` ("c", "rust") over slab, preloaded; the first request
    /// is sent once and its reply checked, so the benchmark measures what
    /// it claims (hits are hits).
    pub fn new(protocol: &str, op: Op) -> Fixture {
        // Leaked: a session borrows its protocol for its whole life, and a
        // benchmark process opens a handful.
        let p: &'static CProtocol = Box::leak(Box::new(
            CProtocol::open(protocol).unwrap_or_else(|e| panic!("protocol {protocol}: {e:?}")),
        ));
        let cfg = StorageConfig {
            memory_limit: 1 << 30,
            ..StorageConfig::default()
        };
        let storage = CStorage::open("slab", &cfg).expect("slab");
        let v = vec![b'v'; VALUE_LEN];
        for i in 0..KEYS {
            storage
                .store(StoreCommand::Set, key(i).as_bytes(), &v, 0, 0, NOW)
                .expect("preload");
        }
        let mut f = Fixture {
            session: p.session().expect("session"),
            storage,
            limits: ProtocolLimits::default(),
            out: OutBuf::new(),
            requests: (0..OPS).map(|j| op.request(j)).collect(),
        };
        let first = f.requests[0].clone();
        let cx = Context {
            storage: &f.storage,
            now: NOW,
            limits: f.limits,
        };
        let pr = f.session.process(&cx, &first, &mut f.out);
        assert_eq!(pr.status, ProtocolStatus::More);
        assert_eq!(pr.consumed, first.len());
        assert!(
            op.answered(f.out.queued()),
            "{protocol} {}: {}",
            op.name(),
            String::from_utf8_lossy(f.out.queued())
        );
        f.out.consume(usize::MAX);
        f
    }

    /// The measured part: every request in its own process call, the
    /// output drained after each.
    pub fn run(&mut self) {
        let cx = Context {
            storage: &self.storage,
            now: NOW,
            limits: self.limits,
        };
        for r in &self.requests {
            let p = self.session.process(&cx, r, &mut self.out);
            black_box(p);
            self.out.consume(usize::MAX);
        }
    }
}
