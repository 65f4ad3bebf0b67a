//! Framing a binary connection's input into requests (memcached 1.6.18's
//! try_read_command_binary and conn_swallow): a request runs once all of
//! it is in (header, extras, key and any value); a refused value is
//! skipped as it arrives, so nothing larger than the item size limit is
//! ever held.

use super::parse::{frame, status, Cmd, Frame, Header, HEADER_LEN, MAGIC_REQUEST};
use super::run::run;
use crate::exec::Exec;
use crate::session::State;
use crate::{Host, Output, Progress, Status};
use storage::{item_size, Storage};

/// Consume complete binary requests from `input` and append their
/// replies (the contract of [`crate::Session::process`]).
pub fn process<S: Storage, H: Host>(
    mut x: Exec<'_, S, H>,
    st: &mut State,
    input: &[u8],
) -> (Status, Progress) {
    let x = &mut x;
    let mut pos = 0;
    let mut need = 0;
    let mut status = Status::More;
    while !x.close {
        let rest = &input[pos..];
        if st.swallow > 0 {
            let n = rest.len().min(st.swallow);
            pos += n;
            st.swallow -= n;
            if st.swallow > 0 {
                break;
            }
            continue;
        }
        if x.out.queued() >= x.limits.out_high {
            status = Status::Paused;
            break;
        }
        // memcached looks at nothing before the whole header is in
        if rest.len() < HEADER_LEN {
            break;
        }
        if rest[0] != MAGIC_REQUEST {
            // memcached closes without an answer (after writing the
            // replies before it)
            x.close = true;
            break;
        }
        let h = Header::read(rest);
        // memcached dispatches once the extras and key are in, whatever
        // the header says (a lying or refused request included)
        let base = h.base_len();
        if rest.len() < base {
            need = base - rest.len();
            break;
        }
        match frame(&h) {
            Frame::Fatal(s) => {
                x.packet_error(&h, s);
                x.close = true;
            }
            Frame::Refuse { status: s, skip } => {
                x.packet_error(&h, s);
                pos += base;
                st.swallow = usize::try_from(skip).unwrap_or(usize::MAX);
            }
            Frame::Run {
                cmd,
                quiet,
                value_len,
            } => {
                if too_large(x, &h, cmd, rest, value_len) {
                    refuse_too_large(x, &h, cmd, &rest[..base]);
                    pos += base;
                    st.swallow = value_len;
                    continue;
                }
                let len = base + value_len;
                if rest.len() < len {
                    need = len - rest.len();
                    break;
                }
                run(x, &h, cmd, quiet, &rest[..len]);
                pos += len;
            }
        }
    }
    crate::session::call_end(x.close, status, pos, need)
}

/// The flags a set's extras carry (0 for append/prepend, which have none).
fn flags_of(h: &Header, rest: &[u8]) -> u32 {
    match &rest[HEADER_LEN..] {
        [a, b, c, d, ..] if h.extlen == 8 => u32::from_be_bytes([*a, *b, *c, *d]),
        _ => 0,
    }
}

/// A store whose item would exceed the item size limit (memcached's
/// item_size_ok, judged once the header, extras and key are in).
fn too_large<S: Storage, H: Host>(
    x: &Exec<'_, S, H>,
    h: &Header,
    cmd: Cmd,
    rest: &[u8],
    value_len: usize,
) -> bool {
    cmd.has_value()
        && item_size(usize::from(h.keylen), flags_of(h, rest), value_len) > x.limits.item_size_max
}

/// "Too large." for a store whose value is then skipped; a set (quiet or
/// not, cas or not) also drops the key's old value, as memcached does, so
/// a failed store cannot leave stale data readable.
fn refuse_too_large<S: Storage, H: Host>(
    x: &mut Exec<'_, S, H>,
    h: &Header,
    cmd: Cmd,
    base: &[u8],
) {
    x.packet_error(h, status::E2BIG);
    if cmd == Cmd::Store(storage::StoreMode::Set) {
        let key = &base[base.len() - usize::from(h.keylen)..];
        let _ = x.storage.remove(key, x.now);
    }
}
