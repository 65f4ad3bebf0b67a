//! Running memcached 1.6's meta commands (parsed by meta_parse.rs;
//! c-core/src/protocol/meta.c, whose header lists the replies and the
//! deliberate differences from 1.6.18, which this file shares).
//!
//! q suppresses only the "nominal" reply (EN for mg, HD for ms/md/ma and
//! ma's VA) while errors, NF, NS and EX are always sent. Return flags are
//! echoed in request order; mg appends Z, X and W in that order.

use crate::base64;
use crate::exec::{Exec, Op};
use crate::line::Line;
use crate::meta_parse::{meta_parse, MetaRequest};
use crate::parse::{absolute_exptime, MC_READ_BUFFER};
use crate::session::State;
use crate::store::{store_fits, PendingMeta};
use crate::watch::mc_class;
use crate::{Counter, Host, Output, WATCH_FETCHERS};
use storage::{
    item_size, ArithOptions, DeleteOptions, Error, GetOptions, ItemInfo, Storage, StoreCommand,
    StoreMode, StoreOptions, KEY_MAX,
};

/// What a meta reply echoes whatever the outcome: O and k.
pub struct Echo<'a> {
    /// Return flag letters in request order.
    pub flags: &'a [u8],
    /// The O token, O included.
    pub opaque: &'a [u8],
    pub key: &'a [u8],
    pub binary: bool,
}

impl<'a> Echo<'a> {
    fn of(m: &'a MetaRequest<'a>) -> Echo<'a> {
        Echo {
            flags: &m.ret[..m.nret],
            opaque: m.opaque,
            key: m.key,
            binary: m.key_binary,
        }
    }
}

/// The item values a reply can report; None: left out.
#[derive(Default)]
pub struct Values {
    pub size: Option<u64>,
    pub ttl: Option<i64>,
    pub cas: Option<u64>,
    pub client_flags: Option<u64>,
    pub idle: Option<u64>,
    pub fetched: Option<bool>,
}

/// " k<key>", or " k<base64 key> b" for a binary key.
fn put_key(line: &mut Line, key: &[u8], binary: bool) {
    line.push(b" k");
    if binary {
        let n = base64::encode(key, line.spare());
        line.advance(n);
        line.push(b" b");
    } else {
        line.push(key);
    }
}

/// The return flags, each " <flag>[value]": O and k always, the others
/// when their value is known.
pub fn put_echo(line: &mut Line, e: &Echo<'_>, v: &Values) {
    for &f in e.flags {
        let value = match f {
            b'O' => {
                line.byte(b' ').push(e.opaque);
                continue;
            }
            b'k' => {
                put_key(line, e.key, e.binary);
                continue;
            }
            b't' => {
                // signed: -1 for no expiry
                if let Some(ttl) = v.ttl {
                    line.push(b" t").i64(ttl);
                }
                continue;
            }
            b's' => v.size,
            b'c' => v.cas,
            b'f' => v.client_flags,
            b'l' => v.idle,
            b'h' => v.fetched.map(u64::from),
            _ => continue,
        };
        if let Some(value) = value {
            line.byte(b' ').byte(f).u64(value);
        }
    }
}

/// "VA <size>" when the value follows, else "HD".
fn put_head(line: &mut Line, value: bool, size: usize) {
    if value {
        line.push(b"VA ").u64(size as u64);
    } else {
        line.push(b"HD");
    }
}

fn abs(ttl: i32, now: i64) -> i64 {
    absolute_exptime(i64::from(ttl), now)
}

/// t's value: remaining seconds, -1 for an item that never expires.
fn ttl_left(exptime: i64, now: i64) -> i64 {
    if exptime == 0 {
        -1
    } else {
        (exptime - now).max(0)
    }
}

fn meta_get<S: Storage, H: Host>(x: &mut Exec<'_, S, H>, m: &MetaRequest<'_>) {
    let now = x.now;
    let g = GetOptions {
        touch: m.touch.map(|t| abs(t, now)),
        no_bump: m.no_update,
        vivify: m.vivify.map(|t| abs(t, now)),
        recache: m.recache.map(|t| (abs(t, now) - now).max(0)),
        new_cas: m.new_cas,
        no_win: false,
    };
    let echo = Echo::of(m);
    let (out, line) = (&mut *x.out, &mut *x.line);
    // of the value read, for watch
    let read = std::cell::Cell::new(None);
    let sink = |info: &ItemInfo, value: &[u8]| {
        read.set(Some((info.flags, value.len())));
        let values = Values {
            size: Some(value.len() as u64),
            ttl: Some(ttl_left(info.exptime, now)),
            cas: Some(info.cas),
            client_flags: Some(u64::from(info.flags)),
            idle: Some((now - info.last_access).max(0) as u64),
            fetched: Some(info.fetched),
        };
        line.clear();
        put_head(line, m.value, value.len());
        put_echo(line, &echo, &values);
        if info.win_taken {
            line.push(b" Z");
        }
        if info.stale {
            line.push(b" X");
        }
        if info.win {
            line.push(b" W");
        }
        line.crlf();
        if m.value {
            out.append(&[line.bytes(), value, b"\r\n"])
        } else {
            out.append(&[line.bytes()])
        }
    };
    let r = x.storage.meta_get(m.key, now, &g, sink);
    if x.watching & WATCH_FETCHERS != 0 && r != Ok(false) {
        let found = match &r {
            Ok(_) => read.get(),
            Err(_) => None,
        };
        x.watch_fetch(m.key, found);
    }
    match r {
        Ok(false) => {
            x.reply_line("SERVER_ERROR out of memory writing get response");
            x.close = true;
        }
        // As memcached: a hit with T counts as a touch, else as a get (a
        // vivified miss counts as a hit); a miss is a get miss.
        Ok(true) => x.count_read(m.touch.is_some(), true),
        Err(Error::NotFound | Error::NoMemory) => {
            x.count_read(false, false);
            if !m.quiet {
                put_echo(x.line.clear().push(b"EN"), &echo, &Values::default());
                x.line.crlf();
                x.reply_scratch();
            }
        }
        Err(_) => x.reply_line("SERVER_ERROR storage failure"),
    }
}

/// ms: the line now, the data block later (store.rs).
fn meta_set<S: Storage, H: Host>(x: &mut Exec<'_, S, H>, st: &mut State, m: &MetaRequest<'_>) {
    // memcached drops the old value of a too-large ms whatever the mode
    if !store_fits(x, st, m.key, m.client_flags, m.data_len - 2, true) {
        return;
    }
    let now = x.now;
    let mode = m.store_mode.unwrap_or(StoreMode::Set);
    let p = &mut st.pending;
    p.cmd = match mode {
        StoreMode::Set => StoreCommand::Set,
        StoreMode::Add => StoreCommand::Add,
        StoreMode::Replace => StoreCommand::Replace,
        StoreMode::Append => StoreCommand::Append,
        StoreMode::Prepend => StoreCommand::Prepend,
    };
    p.key[..m.key.len()].copy_from_slice(m.key);
    p.key_len = m.key.len();
    p.flags = m.client_flags;
    p.exptime = m.touch.map_or(0, |t| abs(t, now));
    p.data_len = m.data_len;
    p.noreply = false;
    let mut opts = StoreOptions {
        new_cas: m.new_cas,
        vivify: m.vivify.map(|t| abs(t, now)),
        ..StoreOptions::default()
    };
    // As memcached: C turns set/replace into a cas (I then lets an older
    // cas, but not 0, store a stale value), append/prepend check it unless
    // it is 0 (memcached's "no cas"), add ignores it.
    let appends = matches!(mode, StoreMode::Append | StoreMode::Prepend);
    if let Some(cas) = m
        .cas
        .filter(|&c| mode != StoreMode::Add && !(appends && c == 0))
    {
        opts.compare_cas = Some(cas);
        opts.invalidate =
            m.invalidate && cas != 0 && matches!(mode, StoreMode::Set | StoreMode::Replace);
    }
    // the line is gone when the block arrives: keep what the reply echoes
    let mut pm = PendingMeta {
        quiet: m.quiet,
        opts,
        ret: m.ret,
        nret: m.nret,
        opaque: [0; crate::meta_parse::OPAQUE_MAX],
        opaque_len: m.opaque.len(),
        key_binary: m.key_binary,
    };
    pm.opaque[..m.opaque.len()].copy_from_slice(m.opaque);
    p.meta = Some(pm);
    st.want_data = true;
}

fn meta_delete<S: Storage, H: Host>(x: &mut Exec<'_, S, H>, m: &MetaRequest<'_>) {
    let now = x.now;
    let d = DeleteOptions {
        compare_cas: m.cas,
        new_cas: m.new_cas,
        invalidate: m.invalidate,
        // memcached reads T only when marking stale
        touch: m.touch.filter(|_| m.invalidate).map(|t| abs(t, now)),
        clear_value: m.clear_value,
    };
    let r = x.storage.meta_delete(m.key, now, &d);
    // a stale mark or a cleared value is not a delete hit; EX is a miss
    match r {
        Ok(()) if !m.invalidate && !m.clear_value => x.count(Counter::DeleteHits),
        Err(Error::NotFound | Error::Exists) => x.count(Counter::DeleteMisses),
        _ => {}
    }
    if r.is_ok() && m.quiet {
        return;
    }
    let echo = Echo::of(m);
    x.reply_meta_status(r, Op::Delete, |line| {
        put_echo(line, &echo, &Values::default())
    });
}

fn meta_arith<S: Storage, H: Host>(x: &mut Exec<'_, S, H>, m: &MetaRequest<'_>) {
    let now = x.now;
    let a = ArithOptions {
        // memcached's arithmetic takes cas 0 as "no compare"
        compare_cas: m.cas.filter(|&c| c != 0),
        new_cas: m.new_cas,
        vivify: m.vivify.map(|t| abs(t, now)),
        initial: m.initial,
        touch: m.touch.map(|t| abs(t, now)),
    };
    let r = x.storage.meta_arith(m.key, m.incr, m.delta, now, &a);
    x.count_arith(&r, m.incr);
    let echo = Echo::of(m);
    let res = match r {
        Ok(res) => res,
        Err(e) => {
            x.reply_meta_status(Err(e), Op::Arith, |line| {
                put_echo(line, &echo, &Values::default())
            });
            return;
        }
    };
    if m.quiet {
        return;
    }
    let mut num = [0u8; 20];
    let nlen = crate::num::format_u64(&mut num, res.value);
    let values = Values {
        cas: Some(res.cas),
        ttl: Some(ttl_left(res.exptime, now)),
        ..Values::default()
    };
    let line = x.line.clear();
    put_head(line, m.value, nlen);
    put_echo(line, &echo, &values);
    line.crlf();
    if m.value {
        line.push(&num[..nlen]).crlf();
    }
    x.reply_scratch();
}

fn meta_debug<S: Storage, H: Host>(x: &mut Exec<'_, S, H>, m: &MetaRequest<'_>) {
    let now = x.now;
    let g = GetOptions {
        no_bump: true,
        ..GetOptions::default()
    };
    let r = x
        .storage
        .meta_get(m.key, now, &g, |info, value| (*info, value.len()));
    x.count(Counter::CmdMeta);
    let Ok((info, value_len)) = r else {
        x.reply_line("EN");
        return;
    };
    let line = x.line.clear().push(b"ME ");
    if m.key_binary {
        let n = base64::encode(m.key, line.spare());
        line.advance(n);
    } else {
        line.push(m.key);
    }
    let size = item_size(m.key.len(), info.flags, value_len);
    // exp as memcached prints it: now - exptime (negative while live), -1
    // for an item without expiry
    let exp = if info.exptime == 0 {
        -1
    } else {
        now - info.exptime
    };
    line.push(b" exp=").i64(exp);
    line.push(b" la=").i64((now - info.last_access).max(0));
    line.push(b" cas=").u64(info.cas);
    line.push(if info.fetched {
        b" fetch=yes"
    } else {
        b" fetch=no"
    });
    line.push(b" cls=")
        .u64(u64::from(mc_class(size, x.limits.growth_factor)));
    line.push(b" size=").u64(size as u64).crlf();
    x.reply_scratch();
}

/// Parse and run one meta command line.
pub fn meta_run<S: Storage, H: Host>(
    x: &mut Exec<'_, S, H>,
    st: &mut State,
    line: &[u8],
    keybuf: &mut [u8; KEY_MAX],
) {
    if line.len() > MC_READ_BUFFER {
        // a line memcached never sees whole
        x.hang_up();
        return;
    }
    let m = meta_parse(line, keybuf);
    x.noreply = false; // meta errors are always sent; q is per reply
    if let Some(err) = m.err {
        x.reply_line(err);
        st.swallow = m.swallow;
        return;
    }
    match m.cmd {
        b'g' => meta_get(x, &m),
        b's' => meta_set(x, st, &m),
        b'd' => meta_delete(x, &m),
        b'a' => meta_arith(x, &m),
        b'e' => meta_debug(x, &m),
        _ => {
            // mn (unknown ones are errors); memcached flushes after it
            x.reply(&[b"MN\r\n"]);
            x.flushed();
        }
    }
}
