//! One connection's session: the framing of its input into command lines
//! and data blocks (c-core/src/protocol/session.c). Each line is parsed
//! (parse.rs, meta_parse.rs) and run (classic.rs, meta.rs, crawler.rs);
//! data blocks complete a store (store.rs). A connection whose first byte
//! is 0x80 speaks the binary protocol instead, for good (binary/), as
//! memcached decides it.

use crate::classic::classic_run;
use crate::exec::Exec;
use crate::line::Line;
use crate::parse::{parse_line, MC_READ_BUFFER};
use crate::store::{store_complete, Pending};
use crate::{Ctx, Host, Output, Progress, Status};
use storage::{Storage, WalkCursor, KEY_MAX};

/// memcached reads a line into a 16 KiB buffer and, whenever the buffered
/// part of a line without its end passes 2,048 bytes, hangs up unless the
/// line is a get or gets (after at most 100 spaces): a long line is most
/// likely the data of a storage line it refused. Replies queued in the same
/// read are lost with the connection. A line that is complete when first
/// seen is run if memcached could have seen it whole (<= 16 KiB); a longer
/// one is hung up on where it is refused (classic.rs's errors, meta.rs),
/// off the get path.
const MC_LINE_CHECK: usize = 2048;
const MC_GET_SPACES_MAX: usize = 100;

/// memcached hangs up on a line over MC_READ_BUFFER unless this says it is
/// a get or gets (after at most 100 spaces).
pub fn long_line_allowed(line: &[u8]) -> bool {
    let i = line.iter().position(|&c| c != b' ').unwrap_or(line.len());
    if i > MC_GET_SPACES_MAX {
        return false;
    }
    let rest = &line[i..];
    rest.starts_with(b"get ") || rest.starts_with(b"gets ")
}

/// A call on a binary connection, or before any byte arrived: out of the
/// text path's way (cold, never inlined), so text requests pay one
/// compare for it.
#[cold]
#[inline(never)]
fn not_text<S: Storage, H: Host>(
    ctx: Ctx<'_, S, H>,
    st: &mut State,
    line: &mut Line,
    input: &[u8],
    out: &mut H::Out,
) -> (Status, Progress) {
    if st.speaks == Speaks::Unknown {
        return (Status::More, Progress::default());
    }
    crate::binary::process(Exec::new(ctx, line, out), st, input)
}

/// What a call answers once its loop ends: Close when a request closed
/// the connection; `need` only with More.
#[inline(always)]
pub fn call_end(close: bool, status: Status, consumed: usize, need: usize) -> (Status, Progress) {
    let status = if close { Status::Close } else { status };
    let need = if status == Status::More { need } else { 0 };
    (status, Progress { consumed, need })
}

/// What a session remembers between calls. Offsets count from the start
/// of the unconsumed input, which the caller keeps in place.
pub struct State {
    /// Bytes of the current line already searched for '\n'.
    pub scanned: usize,
    /// Offset in the current line of the next key of a multi-get paused
    /// for output; 0: none.
    pub get_resume: usize,
    /// Bytes of a refused data block still to discard.
    pub swallow: usize,
    /// `pending` holds a command awaiting its data block.
    pub want_data: bool,
    pub pending: Pending,
    /// A metadump paused for output, and where it continues.
    pub dump: Option<WalkCursor>,
    /// After `watch`: input is ignored (memcached).
    pub watching: bool,
    /// Which protocol the connection speaks, known from its first byte.
    pub speaks: Speaks,
}

/// The protocol of a connection (memcached's negotiating_prot).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Speaks {
    /// No byte seen yet.
    Unknown,
    Text,
    Binary,
}

/// One connection's protocol state. Created once per connection; its
/// buffers are reused by every request.
pub struct Session {
    state: State,
    line: Line,
    keybuf: [u8; KEY_MAX],
}

impl Default for Session {
    fn default() -> Self {
        Session::new()
    }
}

impl Session {
    /// A fresh session.
    pub fn new() -> Session {
        Session {
            state: State {
                scanned: 0,
                get_resume: 0,
                swallow: 0,
                want_data: false,
                pending: Pending::new(),
                dump: None,
                watching: false,
                speaks: Speaks::Unknown,
            },
            line: Line::new(),
            keybuf: [0; KEY_MAX],
        }
    }

    /// Consume complete requests from `input` (every unconsumed byte, in
    /// arrival order) and append their replies to `out`; see the crate
    /// documentation for the contract.
    pub fn process<S: Storage, H: Host>(
        &mut self,
        ctx: Ctx<'_, S, H>,
        input: &[u8],
        out: &mut H::Out,
    ) -> (Status, Progress) {
        let st = &mut self.state;
        if st.speaks != Speaks::Text {
            st.speaks = match (st.speaks, input.first()) {
                (Speaks::Unknown, Some(&c)) if c != crate::binary::MAGIC_REQUEST => Speaks::Text,
                (Speaks::Unknown, Some(_)) => Speaks::Binary,
                (speaks, _) => speaks,
            };
            if st.speaks != Speaks::Text {
                return not_text(ctx, st, &mut self.line, input, out);
            }
        }
        let mut x = Exec::new(ctx, &mut self.line, out);
        // a log stream (after `watch`): memcached reads no more commands
        if st.watching {
            let progress = Progress {
                consumed: input.len(),
                need: 0,
            };
            return (Status::More, progress);
        }
        // A block awaited since an earlier call: memcached reads the rest
        // of it straight from the socket, finds its buffer empty after it
        // and flushes; so does it after a block too big for its buffer.
        let mut awaited = st.want_data || st.swallow > 0;
        let mut status = Status::More;
        let mut pos = 0;
        let mut need = 0;
        while !x.close {
            let have = input.len() - pos;
            if st.swallow > 0 {
                let n = have.min(st.swallow);
                pos += n;
                st.swallow -= n;
                st.scanned = 0;
                if st.swallow > 0 {
                    break;
                }
                if awaited || n > MC_READ_BUFFER {
                    x.flushed();
                }
                awaited = false;
                continue;
            }
            if st.want_data {
                let data_len = st.pending.data_len;
                if have < data_len {
                    need = data_len - have;
                    break;
                }
                st.want_data = false;
                store_complete(&mut x, st, &input[pos..pos + data_len]);
                pos += data_len;
                if awaited || data_len > MC_READ_BUFFER {
                    x.flushed();
                }
                awaited = false;
                continue;
            }
            if x.out.queued() >= x.limits.out_high {
                status = Status::Paused;
                break;
            }
            let rest = &input[pos..];
            let nl = if have > st.scanned {
                crate::find::find(&rest[st.scanned..], b'\n').map(|i| st.scanned + i)
            } else {
                None
            };
            let Some(line_end) = nl else {
                if have > MC_LINE_CHECK && !long_line_allowed(rest) {
                    x.hang_up();
                } else if have > x.limits.line_max {
                    x.noreply = false;
                    x.reply_line("CLIENT_ERROR line too long");
                    x.close = true;
                }
                st.scanned = have;
                break;
            };
            let mut line = &rest[..line_end];
            if let [head @ .., b'\r'] = line {
                line = head;
            }
            let parsed = parse_line(line);
            if !classic_run(
                &mut x,
                st,
                parsed.req,
                parsed.noreply,
                line,
                &mut self.keybuf,
            ) {
                st.scanned = line_end; // the line stays: run it again
                status = Status::Paused;
                break;
            }
            st.scanned = 0;
            pos += line_end + 1;
        }
        if x.close && st.watching {
            // the line was `watch` (it ends the loop as a close would): the
            // rest is not read as commands, the connection stays open
            pos = input.len();
            x.close = false;
        }
        call_end(x.close, status, pos, need)
    }
}
