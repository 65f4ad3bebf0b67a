//! One request being run: where its replies go and what the session
//! remembers about them (c-core/src/protocol/compose.c, counters.h).

use crate::line::Line;
use crate::{Counter, Ctx, Host, Limits, Output};
use storage::{Error, Storage};

/// Everything a command may use while it runs.
pub struct Exec<'a, S: Storage, H: Host> {
    pub storage: &'a S,
    pub host: &'a mut H,
    pub now: i64,
    pub limits: Limits,
    pub out: &'a mut H::Out,
    /// The session's scratch line.
    pub line: &'a mut Line,
    /// The command's replies are suppressed (classic noreply).
    pub noreply: bool,
    /// Close once the output is written (quit, a refused reply, a hang-up).
    pub close: bool,
    /// Output memcached would have sent already: what a hang-up keeps.
    pub kept: usize,
    /// The watch kinds wanted (`WATCH_*`), read once per call.
    pub watching: u32,
}

/// What a storage outcome answers in each operation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// set/add/replace/cas, ms.
    Store,
    /// append/prepend: too large is just not stored.
    Append,
    /// incr/decr, ma (success answers itself).
    Arith,
    /// md (classic delete answers itself).
    Delete,
}

/// The word a status answers with, classic and meta; None: an error line.
enum Word {
    Done,
    NotStored,
    Exists,
    NotFound,
}

impl Word {
    fn classic(&self) -> &'static [u8] {
        match self {
            Word::Done => b"STORED\r\n",
            Word::NotStored => b"NOT_STORED\r\n",
            Word::Exists => b"EXISTS\r\n",
            Word::NotFound => b"NOT_FOUND\r\n",
        }
    }

    fn meta(&self) -> &'static [u8] {
        match self {
            Word::Done => b"HD",
            Word::NotStored => b"NS",
            Word::Exists => b"EX",
            Word::NotFound => b"NF",
        }
    }
}

/// The word of a result in `op`, or the error line it stands for.
fn word_of(r: Result<(), Error>, op: Op) -> Result<Word, &'static str> {
    let storage_failure = "SERVER_ERROR storage failure";
    match r {
        Ok(()) => Ok(Word::Done),
        Err(Error::NotStored) if op != Op::Delete => Ok(Word::NotStored),
        Err(Error::Exists) => Ok(Word::Exists),
        Err(Error::NotFound) => Ok(Word::NotFound),
        // memcached: an append/prepend that outgrows the limit is simply
        // not stored; anything else too large is a server error.
        Err(Error::TooLarge) if op == Op::Append => Ok(Word::NotStored),
        Err(Error::TooLarge) if op == Op::Store => Err("SERVER_ERROR object too large for cache"),
        Err(Error::NoMemory) if op == Op::Arith => Err("SERVER_ERROR out of memory"),
        Err(Error::NoMemory) if op != Op::Delete => {
            Err("SERVER_ERROR out of memory storing object")
        }
        Err(Error::NonNumeric) if op == Op::Arith => {
            Err("CLIENT_ERROR cannot increment or decrement non-numeric value")
        }
        Err(_) => Err(storage_failure),
    }
}

impl<'a, S: Storage, H: Host> Exec<'a, S, H> {
    /// A call's Exec: nothing suppressed, nothing closed, what is queued
    /// kept, the watch kinds read (the one cost of watch per call).
    #[inline(always)]
    pub fn new(ctx: Ctx<'a, S, H>, line: &'a mut Line, out: &'a mut H::Out) -> Self {
        Exec {
            storage: ctx.storage,
            watching: ctx.host.watching(),
            host: ctx.host,
            now: ctx.now,
            limits: ctx.limits,
            kept: out.queued(),
            out,
            line,
            noreply: false,
            close: false,
        }
    }
}

impl<S: Storage, H: Host> Exec<'_, S, H> {
    /// Append the parts unless suppressed; a refusal closes.
    pub fn reply(&mut self, parts: &[&[u8]]) {
        if !self.noreply && !self.out.append(parts) {
            self.close = true;
        }
    }

    /// s, then CRLF, unless suppressed.
    pub fn reply_line(&mut self, s: &str) {
        self.reply(&[s.as_bytes(), b"\r\n"]);
    }

    /// The scratch line, unless suppressed.
    pub fn reply_scratch(&mut self) {
        if !self.noreply && !self.out.append(&[self.line.bytes()]) {
            self.close = true;
        }
    }

    /// Drop the replies queued since memcached's last flush, then close:
    /// its hang-ups lose them with the connection.
    pub fn hang_up(&mut self) {
        self.out.truncate(self.kept);
        self.close = true;
    }

    /// memcached flushed here: a later hang-up keeps what is queued.
    pub fn flushed(&mut self) {
        self.kept = self.out.queued();
    }

    pub fn count(&mut self, which: Counter) {
        self.host.count(which, 1);
    }

    /// A read of one key: gat/gats (and mg hits with T) count as touches.
    pub fn count_read(&mut self, touch: bool, hit: bool) {
        let (cmd, counter) = match (touch, hit) {
            (true, true) => (Counter::CmdTouch, Counter::TouchHits),
            (true, false) => (Counter::CmdTouch, Counter::TouchMisses),
            (false, true) => (Counter::CmdGet, Counter::GetHits),
            (false, false) => (Counter::CmdGet, Counter::GetMisses),
        };
        self.count(cmd);
        self.count(counter);
    }

    /// incr/decr and ma: a hit or a miss; other outcomes count nothing.
    pub fn count_arith<T>(&mut self, r: &Result<T, Error>, incr: bool) {
        match (r, incr) {
            (Ok(_), true) => self.count(Counter::IncrHits),
            (Ok(_), false) => self.count(Counter::DecrHits),
            (Err(Error::NotFound), true) => self.count(Counter::IncrMisses),
            (Err(Error::NotFound), false) => self.count(Counter::DecrMisses),
            _ => {}
        }
    }

    /// A classic status word (STORED NOT_STORED EXISTS NOT_FOUND) or the
    /// error line it stands for.
    pub fn reply_status(&mut self, r: Result<(), Error>, op: Op) {
        match word_of(r, op) {
            Ok(w) => self.reply(&[w.classic()]),
            Err(e) => self.reply_line(e),
        }
    }

    /// A meta status word (HD NS EX NF) with the echo composed by `echo`
    /// after it, or the error line it stands for.
    pub fn reply_meta_status(
        &mut self,
        r: Result<(), Error>,
        op: Op,
        echo: impl FnOnce(&mut Line),
    ) {
        match word_of(r, op) {
            Ok(w) => {
                self.line.clear().push(w.meta());
                echo(self.line);
                self.line.crlf();
                self.reply_scratch();
            }
            Err(e) => self.reply_line(e),
        }
    }
}
