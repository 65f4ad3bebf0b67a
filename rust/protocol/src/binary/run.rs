//! Running a whole binary request over the storage trait (memcached
//! 1.6.18's process_bin_* functions): replies, counters and watch events
//! as memcached has them.

use super::parse::{status, Cmd, Header};
use crate::exec::Exec;
use crate::parse::absolute_exptime;
use crate::{Counter, Host, Output, VERSION_REPLY, WATCH_FETCHERS, WATCH_MUTATIONS};
use storage::{
    ArithOptions, DeleteOptions, Error, ItemInfo, Storage, StoreCommand, StoreMode, StoreOptions,
};

/// incr/decr's expiration that means "do not create a missing key".
const NO_CREATE: u32 = 0xffff_ffff;

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn be64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_be_bytes(a)
}

/// memcached's realtime() of a binary expiration (unsigned seconds).
fn expiry(exptime: u32, now: i64) -> i64 {
    absolute_exptime(i64::from(exptime), now)
}

/// Run the request `packet` (header, extras, key and any value, exactly)
/// holds.
pub fn run<S: Storage, H: Host>(
    x: &mut Exec<'_, S, H>,
    h: &Header,
    cmd: Cmd,
    quiet: bool,
    packet: &[u8],
) {
    let extras_at = super::parse::HEADER_LEN;
    let key_at = extras_at + usize::from(h.extlen);
    let value_at = key_at + usize::from(h.keylen);
    let extras = &packet[extras_at..key_at];
    let key = &packet[key_at..value_at];
    let value = &packet[value_at..];
    match cmd {
        Cmd::Get {
            with_key,
            touch,
            value,
        } => run_get(x, h, key, (with_key, touch, value, quiet), extras),
        Cmd::Store(mode) | Cmd::Concat(mode) => {
            // append/prepend carry no extras: flags and exptime are kept
            let (flags, exptime) = if extras.len() == 8 {
                (be32(extras), be32(&extras[4..]))
            } else {
                (0, 0)
            };
            run_store(x, h, mode, key, value, (flags, exptime), quiet);
        }
        Cmd::Delete => run_delete(x, h, key, quiet),
        Cmd::Arith { incr } => run_arith(x, h, key, incr, extras, quiet),
        Cmd::Quit => {
            if !quiet {
                x.packet_ok(h, 0);
            }
            x.close = true;
        }
        Cmd::Flush => {
            x.count(Counter::CmdFlush);
            let delay = if extras.len() == 4 { be32(extras) } else { 0 };
            let at = if delay > 0 {
                expiry(delay, x.now)
            } else {
                x.now
            };
            let _ = x.storage.flush(at, x.now);
            if !quiet {
                x.packet_ok(h, 0);
            }
        }
        Cmd::Noop => x.packet_ok(h, 0),
        Cmd::Version => {
            let v = VERSION_REPLY.as_bytes();
            x.packet(h, status::SUCCESS, 0, [b"", b"", v]);
        }
        Cmd::Stat => super::stats::run_stat(x, h, key),
    }
}

/// get/getk/touch/gat/gatk and their quiet forms: one key; `how` is
/// (with_key, touch, value, quiet).
fn run_get<S: Storage, H: Host>(
    x: &mut Exec<'_, S, H>,
    h: &Header,
    key: &[u8],
    how: (bool, bool, bool, bool),
    extras: &[u8],
) {
    let (with_key, touch, with_value, quiet) = how;
    let now = x.now;
    let out = &mut *x.out;
    let sink = |info: &ItemInfo, value: &[u8]| {
        // straight into the output while the engine holds its lock
        let k: &[u8] = if with_key { key } else { b"" };
        let v: &[u8] = if with_value { value } else { b"" };
        let flags = info.flags.to_be_bytes();
        let body = 4 + k.len() + v.len();
        let head = super::compose::response_header(h, status::SUCCESS, 4, k.len(), body, info.cas);
        out.append(&[&head, &flags, k, v])
    };
    let r = if touch {
        x.storage
            .get_touch(key, expiry(be32(extras), now), now, sink)
    } else {
        x.storage.get(key, now, sink)
    };
    if r == Ok(false) {
        x.close = true; // the output limit refused the value
        return;
    }
    x.count_read(touch, r.is_ok());
    if x.watching & WATCH_FETCHERS != 0 {
        x.watch_get(key, r.is_ok());
    }
    if r.is_ok() || quiet {
        return;
    }
    if with_key {
        x.packet(h, status::KEY_ENOENT, 0, [b"", key, b""]);
    } else {
        x.packet_error(h, status::KEY_ENOENT);
    }
}

/// set/add/replace/append/prepend; a non-zero cas makes set/add/replace a
/// cas and makes append/prepend compare (memcached's NREAD_CAS and its
/// append check).
fn run_store<S: Storage, H: Host>(
    x: &mut Exec<'_, S, H>,
    h: &Header,
    mode: StoreMode,
    key: &[u8],
    value: &[u8],
    (flags, exptime): (u32, u32),
    quiet: bool,
) {
    x.count(Counter::CmdSet);
    let concat = matches!(mode, StoreMode::Append | StoreMode::Prepend);
    let cas_mode = h.cas != 0 && !concat;
    let mode = if cas_mode { StoreMode::Set } else { mode };
    let opts = StoreOptions {
        compare_cas: (h.cas != 0).then_some(h.cas),
        ..StoreOptions::default()
    };
    let at = expiry(exptime, x.now);
    let r = x
        .storage
        .meta_store(mode, key, value, flags, at, x.now, &opts);
    let which = match r {
        Ok(_) if cas_mode => Some(Counter::CasHits),
        Err(Error::Exists) if cas_mode => Some(Counter::CasBadval),
        Err(Error::NotFound) if cas_mode => Some(Counter::CasMisses),
        _ => None,
    };
    if let Some(which) = which {
        x.count(which);
    }
    if x.watching & WATCH_MUTATIONS != 0 {
        let cmd = match mode {
            _ if cas_mode => StoreCommand::Cas(h.cas),
            StoreMode::Set => StoreCommand::Set,
            StoreMode::Add => StoreCommand::Add,
            StoreMode::Replace => StoreCommand::Replace,
            StoreMode::Append => StoreCommand::Append,
            StoreMode::Prepend => StoreCommand::Prepend,
        };
        x.watch_store(&r, cmd, cas_mode, key, flags, at, value.len());
    }
    let failed = match r {
        Ok(cas) => {
            if !quiet {
                x.packet_ok(h, cas);
            }
            return;
        }
        Err(Error::Exists) => status::KEY_EEXISTS,
        Err(Error::NotFound) => status::KEY_ENOENT,
        Err(Error::NoMemory) if !concat => {
            // memcached fails the item allocation before the value
            x.packet_error_text(h, status::ENOMEM, "Out of memory allocating item");
            return;
        }
        // complete_update_bin: a failed add means the key exists, a failed
        // replace that it does not
        Err(_) if cas_mode || concat => status::NOT_STORED,
        Err(_) if mode == StoreMode::Add => status::KEY_EEXISTS,
        Err(_) if mode == StoreMode::Replace => status::KEY_ENOENT,
        Err(_) => status::NOT_STORED,
    };
    x.packet_error(h, failed);
}

fn run_delete<S: Storage, H: Host>(x: &mut Exec<'_, S, H>, h: &Header, key: &[u8], quiet: bool) {
    let opts = DeleteOptions {
        compare_cas: (h.cas != 0).then_some(h.cas),
        ..DeleteOptions::default()
    };
    match x.storage.meta_delete(key, x.now, &opts) {
        Ok(()) => {
            x.count(Counter::DeleteHits);
            if !quiet {
                x.packet_ok(h, 0);
            }
        }
        Err(Error::Exists) => x.packet_error(h, status::KEY_EEXISTS),
        Err(_) => {
            x.count(Counter::DeleteMisses);
            x.packet_error(h, status::KEY_ENOENT);
        }
    }
}

/// incr/decr: extras are delta, initial value and expiration; a miss
/// creates the key holding the initial value unless the expiration is
/// 0xffffffff (counted as neither hit nor miss, as memcached).
fn run_arith<S: Storage, H: Host>(
    x: &mut Exec<'_, S, H>,
    h: &Header,
    key: &[u8],
    incr: bool,
    extras: &[u8],
    quiet: bool,
) {
    let (delta, initial, exptime) = (be64(extras), be64(&extras[8..]), be32(&extras[16..]));
    let opts = ArithOptions {
        compare_cas: (h.cas != 0).then_some(h.cas),
        ..ArithOptions::default()
    };
    let r = x.storage.meta_arith(key, incr, delta, x.now, &opts);
    let answer = |x: &mut Exec<'_, S, H>, value: u64, cas: u64| {
        if !quiet {
            x.packet(h, status::SUCCESS, cas, [b"", b"", &value.to_be_bytes()]);
        }
    };
    match r {
        Ok(res) => {
            x.count(if incr {
                Counter::IncrHits
            } else {
                Counter::DecrHits
            });
            answer(x, res.value, res.cas);
        }
        Err(Error::NotFound) if exptime != NO_CREATE => {
            let mut digits = [0u8; 20];
            let n = crate::num::format_u64(&mut digits, initial);
            let at = expiry(exptime, x.now);
            let add = StoreOptions::default();
            match x
                .storage
                .meta_store(StoreMode::Add, key, &digits[..n], 0, at, x.now, &add)
            {
                Ok(cas) => answer(x, initial, cas),
                Err(Error::NoMemory) => {
                    x.packet_error_text(h, status::ENOMEM, "Out of memory allocating new item")
                }
                Err(_) => x.packet_error(h, status::NOT_STORED),
            }
        }
        Err(Error::NotFound) => {
            x.count(if incr {
                Counter::IncrMisses
            } else {
                Counter::DecrMisses
            });
            x.packet_error(h, status::KEY_ENOENT);
        }
        Err(Error::NonNumeric) => x.packet_error(h, status::DELTA_BADVAL),
        Err(Error::Exists) => x.packet_error(h, status::KEY_EEXISTS),
        Err(_) => x.packet_error_text(h, status::ENOMEM, "Out of memory incrementing value"),
    }
}
