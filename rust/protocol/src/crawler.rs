//! `lru_crawler metadump`: one line per live item, as memcached 1.6 prints
//! it, then END (c-core/src/protocol/crawler.c). The engine is walked in
//! slices (at most DUMP_SLICE items per critical section) and the dump
//! pauses when the output passes the high-water mark, so a large cache
//! neither stalls other clients nor grows the output without bound.

use crate::exec::Exec;
use crate::line::Line;
use crate::session::State;
use crate::{Host, Output};
use storage::{Storage, WalkItem, KEY_MAX};

const DUMP_SLICE: usize = 64;
const DUMP_CLASSES: u32 = 64;

fn unreserved(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~')
}

/// The key percent-encoded (RFC 3986 unreserved characters kept).
fn put_uri(line: &mut Line, key: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &c in key {
        if unreserved(c) {
            line.byte(c);
        } else {
            line.byte(b'%')
                .byte(HEX[usize::from(c >> 4)])
                .byte(HEX[usize::from(c & 15)]);
        }
    }
}

/// key=<uri> exp=<abs|-1> la=<abs> cas=N fetch=yes|no cls=N size=N, then a
/// bare LF, as memcached 1.6.18 (no flags field).
fn dump_line(line: &mut Line, it: &WalkItem<'_>) {
    line.clear().push(b"key=");
    put_uri(line, &it.key[..it.key.len().min(KEY_MAX)]);
    line.push(b" exp=");
    if it.exptime == 0 {
        line.push(b"-1");
    } else {
        line.i64(it.exptime);
    }
    line.push(b" la=").i64(it.last_access);
    line.push(b" cas=").u64(it.cas);
    line.push(if it.fetched {
        b" fetch=yes"
    } else {
        b" fetch=no"
    });
    line.push(b" cls=").u64(u64::from(it.class_id));
    line.push(b" size=").u64(it.size).byte(b'\n');
}

/// Run (or continue) a metadump; false when it paused for output (the
/// session's cursor says where it continues), true when done.
pub fn metadump_run<S: Storage, H: Host>(
    x: &mut Exec<'_, S, H>,
    st: &mut State,
    classes: u64,
) -> bool {
    let mut cursor = st.dump.take().unwrap_or_default();
    let mut slices = 0;
    while !cursor.done {
        if slices > 0 && x.out.queued() >= x.limits.out_high {
            st.dump = Some(cursor);
            return false;
        }
        let mut failed = false;
        let (out, line) = (&mut *x.out, &mut *x.line);
        let r = x.storage.walk(x.now, &mut cursor, DUMP_SLICE, &mut |it| {
            if failed {
                return;
            }
            if classes != 0 && (it.class_id >= DUMP_CLASSES || classes & (1u64 << it.class_id) == 0)
            {
                return;
            }
            dump_line(line, it);
            failed = !out.append(&[line.bytes()]);
        });
        slices += 1;
        if failed || r.is_err() {
            x.reply_line(if failed {
                "SERVER_ERROR out of memory writing dump"
            } else {
                "SERVER_ERROR storage failure"
            });
            x.close = failed;
            return true;
        }
    }
    x.reply(&[b"END\r\n"]);
    true
}
