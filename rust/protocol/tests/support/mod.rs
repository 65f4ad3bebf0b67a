//! The harness the crate's tests share: a host that records what the
//! protocol asks of it, and a session over rust/seg fed as protocol.h's
//! host feeds it.
#![allow(dead_code)]

use protocol::{
    Certs, Counter, Ctx, Host, Limits, Output, Progress, Report, Session, Status, VecOutput,
    WatchItem,
};
use seg::{Seg, SegConfig};

#[derive(Default)]
pub struct TestHost {
    pub counters: [u64; 20],
    pub verbosity: Option<u32>,
    pub shutdown_enabled: bool,
    pub shutdowns: Vec<bool>,
    pub watching: u32,
    pub watches: Vec<u32>,
    pub events: Vec<String>,
}

impl Host for TestHost {
    type Out = VecOutput;
    fn stats(&mut self, _now: i64, out: &mut VecOutput) -> Report {
        let line = format!(
            "STAT cmd_get {}\r\nEND\r\n",
            self.counters[Counter::CmdGet as usize]
        );
        if out.append(&[line.as_bytes()]) {
            Report::Done
        } else {
            Report::Refused
        }
    }
    fn stats_group(&mut self, group: &[u8], _now: i64, out: &mut VecOutput) -> Report {
        if group != b"settings" {
            return Report::Unknown;
        }
        out.append(&[b"STAT protocol rust\r\nEND\r\n"]);
        Report::Done
    }
    fn stats_reset(&mut self, _now: i64) {
        self.counters = [0; 20];
    }
    fn set_verbosity(&mut self, level: u32) {
        self.verbosity = Some(level);
    }
    fn refresh_certs(&mut self, err: &mut [u8]) -> Certs {
        err[..4].copy_from_slice(b"nope");
        Certs::Failed(4)
    }
    fn count(&mut self, which: Counter, n: u64) {
        self.counters[which as usize] += n;
    }
    fn shutdown_enabled(&mut self) -> bool {
        self.shutdown_enabled
    }
    fn shutdown(&mut self, graceful: bool) {
        self.shutdowns.push(graceful);
    }
    fn watching(&self) -> u32 {
        self.watching
    }
    fn watch(&mut self, events: u32) -> bool {
        self.watches.push(events);
        true
    }
    fn watch_log(&mut self, event: u32, it: &WatchItem<'_>) {
        self.events.push(format!(
            "{event} {} {} {} {} {} {}",
            String::from_utf8_lossy(it.key),
            it.status,
            it.cmd,
            it.exptime,
            it.clsid,
            it.size
        ));
    }
}

pub const NOW: i64 = 1_700_000_000;

pub struct Server {
    pub seg: Seg,
    pub host: TestHost,
    pub limits: Limits,
}

impl Server {
    pub fn new() -> Server {
        let seg = Seg::new(SegConfig {
            memory_limit: 8 << 20,
            item_size_max: 1 << 20,
            segment_size: 0,
        })
        .expect("seg");
        Server {
            seg,
            host: TestHost::default(),
            limits: Limits {
                item_size_max: 1 << 20,
                growth_factor: 1.25,
                line_max: 65536,
                out_high: 1 << 30,
            },
        }
    }

    pub fn call(
        &mut self,
        s: &mut Session,
        input: &[u8],
        out: &mut VecOutput,
    ) -> (Status, Progress) {
        let ctx = Ctx {
            storage: &self.seg,
            now: NOW,
            limits: self.limits,
            host: &mut self.host,
        };
        s.process(ctx, input, out)
    }

    /// Feeds `input` in the pieces `cuts` ends, as a host does; drains the
    /// output whenever the session pauses. Returns every reply byte and
    /// whether the session asked to close.
    pub fn feed(&mut self, input: &[u8], cuts: &[usize]) -> (Vec<u8>, bool) {
        let mut s = Session::new();
        let mut out = VecOutput::default();
        let mut sent = Vec::new();
        let mut pending: Vec<u8> = Vec::new();
        let mut from = 0;
        for &to in cuts.iter().chain(std::iter::once(&input.len())) {
            pending.extend_from_slice(&input[from..to]);
            from = to;
            loop {
                let (status, p) = self.call(&mut s, &pending, &mut out);
                pending.drain(..p.consumed);
                sent.append(&mut out.bytes);
                match status {
                    Status::More => break,
                    Status::Paused => continue,
                    Status::Close => return (sent, true),
                }
            }
        }
        (sent, false)
    }

    pub fn whole(&mut self, input: &[u8]) -> Vec<u8> {
        self.feed(input, &[]).0
    }
}
