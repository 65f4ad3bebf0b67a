//! The storage commands that carry a data block, classic (set/add/replace/
//! append/prepend/cas) and meta (ms): the size check when the command line
//! arrives, and the store once its data block is in
//! (c-core/src/protocol/store.c).

use crate::exec::{Exec, Op};
use crate::meta::{put_echo, Echo, Values};
use crate::meta_parse::{OPAQUE_MAX, RET_MAX};
use crate::session::State;
use crate::{Counter, Host, WATCH_MUTATIONS};
use storage::{item_size, Error, Storage, StoreCommand, StoreMode, StoreOptions, KEY_MAX};

/// What an ms needs besides the classic fields, copied out of its line
/// (consumed before the data block arrives).
#[derive(Clone, Copy)]
pub struct PendingMeta {
    pub quiet: bool,
    pub opts: StoreOptions,
    pub ret: [u8; RET_MAX],
    pub nret: usize,
    pub opaque: [u8; OPAQUE_MAX],
    pub opaque_len: usize,
    pub key_binary: bool,
}

/// A storage command waiting for its data block.
pub struct Pending {
    pub cmd: StoreCommand,
    pub key: [u8; KEY_MAX],
    pub key_len: usize,
    pub flags: u32,
    /// Absolute.
    pub exptime: i64,
    /// Value bytes + 2 for CRLF.
    pub data_len: usize,
    pub noreply: bool,
    /// Some: an ms, not set/add/...
    pub meta: Option<PendingMeta>,
}

impl Pending {
    pub fn new() -> Pending {
        Pending {
            cmd: StoreCommand::Set,
            key: [0; KEY_MAX],
            key_len: 0,
            flags: 0,
            exptime: 0,
            data_len: 0,
            noreply: false,
            meta: None,
        }
    }
}

/// True when an item of this key, flags and value length may be stored;
/// else false after refusing it as memcached does: counted, answered, the
/// key's old value dropped when drop_old, the data block set to be
/// discarded.
pub fn store_fits<S: Storage, H: Host>(
    x: &mut Exec<'_, S, H>,
    st: &mut State,
    key: &[u8],
    flags: u32,
    value_len: usize,
    drop_old: bool,
) -> bool {
    if item_size(key.len(), flags, value_len) <= x.limits.item_size_max {
        return true;
    }
    x.count(Counter::StoreTooLarge);
    x.reply_line("SERVER_ERROR object too large for cache");
    // memcached drops the old value so a failed store cannot leave stale
    // data readable.
    if drop_old {
        let _ = x.storage.remove(key, x.now);
    }
    st.swallow = value_len + 2;
    false
}

/// A classic storage line: remember it until its data block arrives.
pub fn run_store<S: Storage, H: Host>(
    x: &mut Exec<'_, S, H>,
    st: &mut State,
    cmd: StoreCommand,
    key: &[u8],
    flags: u32,
    exptime: i32,
    value_len: usize,
) {
    if !store_fits(x, st, key, flags, value_len, cmd == StoreCommand::Set) {
        return;
    }
    let p = &mut st.pending;
    p.cmd = cmd;
    p.key[..key.len()].copy_from_slice(key);
    p.key_len = key.len();
    p.flags = flags;
    p.exptime = crate::parse::absolute_exptime(i64::from(exptime), x.now);
    p.data_len = value_len + 2;
    p.noreply = x.noreply;
    p.meta = None;
    st.want_data = true;
}

/// As memcached counts a store's outcome; cas_mode: a compare-and-swap.
fn count_store<S: Storage, H: Host>(
    x: &mut Exec<'_, S, H>,
    r: &Result<u64, Error>,
    cas_mode: bool,
) {
    let which = match r {
        Ok(_) if cas_mode => Counter::CasHits,
        Err(Error::Exists) if cas_mode => Counter::CasBadval,
        Err(Error::NotFound) if cas_mode => Counter::CasMisses,
        Err(Error::TooLarge) => Counter::StoreTooLarge,
        Err(Error::NoMemory) => Counter::StoreNoMemory,
        _ => return,
    };
    x.count(which);
}

fn op_of(cmd: StoreCommand) -> Op {
    match cmd {
        StoreCommand::Append | StoreCommand::Prepend => Op::Append,
        _ => Op::Store,
    }
}

/// The data block of the pending store has fully arrived: `data` is the
/// value and its line ending.
pub fn store_complete<S: Storage, H: Host>(x: &mut Exec<'_, S, H>, st: &State, data: &[u8]) {
    let p = &st.pending;
    x.noreply = p.noreply;
    let value_len = p.data_len - 2;
    if &data[value_len..p.data_len] != b"\r\n" {
        // sent even under ms q; classic noreply hides it
        x.reply_line("CLIENT_ERROR bad data chunk");
        return;
    }
    x.count(Counter::CmdSet);
    let key = &p.key[..p.key_len];
    let value = &data[..value_len];
    let Some(m) = &p.meta else {
        let r = x
            .storage
            .store(p.cmd, key, value, p.flags, p.exptime, x.now);
        let cas_mode = matches!(p.cmd, StoreCommand::Cas(_));
        count_store(x, &r, cas_mode);
        if x.watching & WATCH_MUTATIONS != 0 {
            x.watch_store(&r, p.cmd, cas_mode, key, p.flags, p.exptime, value_len);
        }
        x.reply_status(r.map(|_| ()), op_of(p.cmd));
        return;
    };
    let (mode, _) = p.cmd.to_meta();
    let r = x
        .storage
        .meta_store(mode, key, value, p.flags, p.exptime, x.now, &m.opts);
    // C turns set/replace into a cas, counted as one
    let cas_mode =
        m.opts.compare_cas.is_some() && matches!(mode, StoreMode::Set | StoreMode::Replace);
    count_store(x, &r, cas_mode);
    if x.watching & WATCH_MUTATIONS != 0 {
        x.watch_store(&r, p.cmd, cas_mode, key, p.flags, p.exptime, value_len);
    }
    if r.is_ok() && m.quiet {
        return;
    }
    // memcached answers c0 when nothing was stored
    let values = Values {
        cas: Some(*r.as_ref().unwrap_or(&0)),
        ..Values::default()
    };
    let echo = Echo {
        flags: &m.ret[..m.nret],
        opaque: &m.opaque[..m.opaque_len],
        key,
        binary: m.key_binary,
    };
    let op = match mode {
        StoreMode::Append | StoreMode::Prepend => Op::Append,
        _ => Op::Store,
    };
    x.reply_meta_status(r.map(|_| ()), op, |line| put_echo(line, &echo, &values));
}
