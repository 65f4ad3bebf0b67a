//! Running memcached 1.6's classic text commands (parsed by parse.rs;
//! c-core/src/protocol/classic.c). Replies and error strings match
//! memcached byte for byte.

use crate::exec::{Exec, Op};
use crate::parse::{
    absolute_exptime, http_request_line, keys_valid, next_key, Request, MC_READ_BUFFER,
    MSG_BAD_FORMAT,
};
use crate::session::{long_line_allowed, State};
use crate::store::run_store;
use crate::{Certs, Counter, Host, Output, Report, VERSION_REPLY, WATCH_FETCHERS};
use storage::{ItemInfo, Storage, KEY_MAX};

/// A key too long: take back the values written since `mark` (bytes
/// queued before the command) and answer only the error. Done.
fn refuse_keys<S: Storage, H: Host>(x: &mut Exec<'_, S, H>, mark: usize) -> bool {
    x.out.truncate(mark);
    x.reply_line(MSG_BAD_FORMAT);
    true
}

/// get/gets/gat/gats, in one pass over the keys. False when paused because
/// output backed up (`st.get_resume` says where to continue; the rest of
/// the line is validated before pausing, since what was produced may then
/// be sent), true when done.
#[allow(clippy::too_many_arguments)]
#[inline]
fn run_get<S: Storage, H: Host>(
    x: &mut Exec<'_, S, H>,
    st: &mut State,
    line: &[u8],
    with_cas: bool,
    touch: bool,
    exptime: i32,
    keys: usize,
) -> bool {
    let now = x.now;
    let exptime = if touch {
        absolute_exptime(i64::from(exptime), now)
    } else {
        0
    };
    let mut pos = if st.get_resume != 0 {
        st.get_resume
    } else {
        keys
    };
    let mark = x.out.queued();
    let mut served = 0usize;
    st.get_resume = 0;
    while let Some((at, klen)) = next_key(line, pos) {
        if klen > KEY_MAX {
            return refuse_keys(x, mark);
        }
        if served > 0 && x.out.queued() >= x.limits.out_high {
            if !keys_valid(line, at) {
                return refuse_keys(x, mark);
            }
            st.get_resume = at;
            return false;
        }
        let key = &line[at..at + klen];
        let (out, scratch) = (&mut *x.out, &mut *x.line);
        let sink = |info: &ItemInfo, value: &[u8]| {
            // "VALUE <key> <flags> <bytes>[ <cas>]", the value, CRLF,
            // straight into the output while the engine holds its lock.
            let head = scratch.clear().push(b"VALUE ").push(key).byte(b' ');
            head.u64(u64::from(info.flags))
                .byte(b' ')
                .u64(value.len() as u64);
            if with_cas {
                head.byte(b' ').u64(info.cas);
            }
            head.crlf();
            out.append(&[scratch.bytes(), value, b"\r\n"])
        };
        let r = if touch {
            x.storage.get_touch(key, exptime, now, sink)
        } else {
            x.storage.get(key, now, sink)
        };
        if r == Ok(false) {
            x.reply_line("SERVER_ERROR out of memory writing get response");
            x.close = true;
            return true;
        }
        x.count_read(touch, r.is_ok());
        if x.watching & WATCH_FETCHERS != 0 {
            x.watch_get(key, r.is_ok());
        }
        pos = at + klen;
        served += 1;
    }
    x.reply(&[b"END\r\n"]);
    x.flushed(); // memcached flushes after a get
    true
}

fn run_arith<S: Storage, H: Host>(x: &mut Exec<'_, S, H>, key: &[u8], incr: bool, delta: u64) {
    let r = x.storage.arith(key, incr, delta, x.now);
    x.count_arith(&r, incr);
    match r {
        Ok((value, _)) => {
            x.line.clear().u64(value).crlf();
            x.reply_scratch();
        }
        Err(e) => x.reply_status(Err(e), Op::Arith),
    }
}

/// delete and touch: any outcome but success is NOT_FOUND, as memcached
/// answers; counted as a hit or a miss.
fn answer_found<S: Storage, H: Host>(
    x: &mut Exec<'_, S, H>,
    ok: bool,
    (hit, miss): (Counter, Counter),
    found: &str,
) {
    x.count(if ok { hit } else { miss });
    x.reply_line(if ok { found } else { "NOT_FOUND" });
}

/// stats, stats reset, stats <group>: the reports are the server's.
fn run_stats<S: Storage, H: Host>(x: &mut Exec<'_, S, H>, group: &[u8]) {
    let report = if group.is_empty() {
        x.host.stats(x.now, x.out)
    } else if group == b"reset" {
        x.host.stats_reset(x.now);
        x.reply(&[b"RESET\r\n"]);
        return;
    } else {
        x.host.stats_group(group, x.now, x.out)
    };
    match report {
        Report::Done => {}
        Report::Unknown => x.reply(&[b"ERROR\r\n"]),
        Report::Refused => x.close = true,
    }
}

/// refresh_certs: reload the TLS certificates for new connections.
fn run_refresh_certs<S: Storage, H: Host>(x: &mut Exec<'_, S, H>) {
    let mut err = [0u8; 256];
    match x.host.refresh_certs(&mut err) {
        Certs::Reloaded => x.reply(&[b"OK\r\n"]),
        Certs::NoTls => x.reply_line("CLIENT_ERROR TLS is not enabled"),
        Certs::Failed(n) => {
            let msg = &err[..n.min(err.len())];
            x.reply(&[b"SERVER_ERROR ", msg, b"\r\n"]);
        }
    }
}

/// memcached's shutdown (allowed with -A): the connection closes without a
/// reply, and the server stops. Like memcached, replies queued in the same
/// read are lost (hang_up keeps what memcached would have flushed).
fn run_shutdown<S: Storage, H: Host>(x: &mut Exec<'_, S, H>, mode: Option<bool>) {
    if !x.host.shutdown_enabled() {
        x.reply_line("ERROR: shutdown not enabled");
    } else if let Some(graceful) = mode {
        x.host.shutdown(graceful);
        x.hang_up();
    } else {
        x.reply_line("CLIENT_ERROR invalid shutdown mode");
    }
}

/// Run a parsed classic line. False when it paused for output and must run
/// again on the same line later. Inline: its one caller hands it the parsed
/// request straight from the parser.
#[inline]
pub fn classic_run<S: Storage, H: Host>(
    x: &mut Exec<'_, S, H>,
    st: &mut State,
    req: Request<'_>,
    noreply: bool,
    line: &[u8],
    keybuf: &mut [u8; KEY_MAX],
) -> bool {
    x.noreply = noreply;
    match req {
        Request::Get {
            with_cas,
            touch,
            exptime,
            keys,
        } => return run_get(x, st, line, with_cas, touch, exptime, keys),
        Request::Store {
            cmd,
            key,
            flags,
            exptime,
            value_len,
        } => run_store(x, st, cmd, key, flags, exptime, value_len),
        Request::Arith { key, incr, delta } => run_arith(x, key, incr, delta),
        Request::Delete { key } => {
            let ok = x.storage.remove(key, x.now).is_ok();
            let counters = (Counter::DeleteHits, Counter::DeleteMisses);
            answer_found(x, ok, counters, "DELETED");
        }
        Request::Touch { key, exptime } => {
            x.count(Counter::CmdTouch);
            let at = absolute_exptime(i64::from(exptime), x.now);
            let ok = x.storage.touch(key, at, x.now).is_ok();
            let counters = (Counter::TouchHits, Counter::TouchMisses);
            answer_found(x, ok, counters, "TOUCHED");
        }
        Request::Flush { delay } => {
            x.count(Counter::CmdFlush);
            let at = if delay > 0 {
                absolute_exptime(i64::from(delay), x.now)
            } else {
                x.now
            };
            let _ = x.storage.flush(at, x.now);
            x.reply(&[b"OK\r\n"]);
        }
        Request::Version => {
            x.reply(&[b"VERSION ", VERSION_REPLY.as_bytes(), b"\r\n"]);
        }
        Request::Verbosity { level } => {
            x.host.set_verbosity(level);
            x.reply(&[b"OK\r\n"]);
        }
        Request::Quit => x.close = true,
        Request::Stats { group } => run_stats(x, group),
        Request::RefreshCerts => run_refresh_certs(x),
        Request::Shutdown { mode } => run_shutdown(x, mode),
        Request::Watch { events } => {
            if x.run_watch(events) {
                st.watching = true;
                x.close = true; // ends the request loop; session.rs keeps it open
            }
        }
        Request::Metadump { classes } => return crate::crawler::metadump_run(x, st, classes),
        Request::Meta => crate::meta::meta_run(x, st, line, keybuf),
        Request::Unknown | Request::Error(_) => {
            let unknown = req == Request::Unknown;
            if (unknown && http_request_line(line))
                || (line.len() > MC_READ_BUFFER && !long_line_allowed(line))
            {
                x.hang_up();
            } else if let Request::Error(msg) = req {
                x.reply_line(msg);
            } else {
                x.reply_line("ERROR");
            }
        }
    }
    true
}
