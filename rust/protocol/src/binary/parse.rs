//! A binary request header and what it asks for (memcached 1.6.18's
//! try_read_command_binary and dispatch_bin_command): every check memcached
//! makes depends on the 24-byte header alone (memcached makes them once
//! the extras and key are in too; so does frame.rs). Parsing touches
//! neither storage nor output.

use storage::{StoreMode, KEY_MAX};

/// A request header's length; responses have the same.
pub const HEADER_LEN: usize = 24;
/// The first byte of every request (protocol_binary.h PROTOCOL_BINARY_REQ).
pub const MAGIC_REQUEST: u8 = 0x80;
/// The first byte of every response.
pub const MAGIC_RESPONSE: u8 = 0x81;

/// Response statuses (protocol_binary.h `protocol_binary_response_status`).
pub mod status {
    pub const SUCCESS: u16 = 0x00;
    pub const KEY_ENOENT: u16 = 0x01;
    pub const KEY_EEXISTS: u16 = 0x02;
    pub const E2BIG: u16 = 0x03;
    pub const EINVAL: u16 = 0x04;
    pub const NOT_STORED: u16 = 0x05;
    pub const DELTA_BADVAL: u16 = 0x06;
    pub const UNKNOWN_COMMAND: u16 = 0x81;
    pub const ENOMEM: u16 = 0x82;
}

/// The opcodes memcached 1.6.18 answers (protocol_binary.h). VERBOSITY
/// (0x1b) is not among them: 1.6.18 answers it "Unknown command".
pub mod opcode {
    pub const GET: u8 = 0x00;
    pub const SET: u8 = 0x01;
    pub const ADD: u8 = 0x02;
    pub const REPLACE: u8 = 0x03;
    pub const DELETE: u8 = 0x04;
    pub const INCREMENT: u8 = 0x05;
    pub const DECREMENT: u8 = 0x06;
    pub const QUIT: u8 = 0x07;
    pub const FLUSH: u8 = 0x08;
    pub const GETQ: u8 = 0x09;
    pub const NOOP: u8 = 0x0a;
    pub const VERSION: u8 = 0x0b;
    pub const GETK: u8 = 0x0c;
    pub const GETKQ: u8 = 0x0d;
    pub const APPEND: u8 = 0x0e;
    pub const PREPEND: u8 = 0x0f;
    pub const STAT: u8 = 0x10;
    pub const SETQ: u8 = 0x11;
    pub const ADDQ: u8 = 0x12;
    pub const REPLACEQ: u8 = 0x13;
    pub const DELETEQ: u8 = 0x14;
    pub const INCREMENTQ: u8 = 0x15;
    pub const DECREMENTQ: u8 = 0x16;
    pub const QUITQ: u8 = 0x17;
    pub const FLUSHQ: u8 = 0x18;
    pub const APPENDQ: u8 = 0x19;
    pub const PREPENDQ: u8 = 0x1a;
    pub const TOUCH: u8 = 0x1c;
    pub const GAT: u8 = 0x1d;
    pub const GATQ: u8 = 0x1e;
    pub const SASL_LIST_MECHS: u8 = 0x20;
    pub const SASL_AUTH: u8 = 0x21;
    pub const SASL_STEP: u8 = 0x22;
    pub const GATK: u8 = 0x23;
    pub const GATKQ: u8 = 0x24;
}

/// A request header, numbers in host order; the opaque is echoed as sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub opcode: u8,
    pub keylen: u16,
    pub extlen: u8,
    pub bodylen: u32,
    pub opaque: [u8; 4],
    pub cas: u64,
}

impl Header {
    /// The header at the start of `b` (which holds at least HEADER_LEN
    /// bytes and starts with the request magic).
    pub fn read(b: &[u8]) -> Header {
        let mut cas = [0u8; 8];
        cas.copy_from_slice(&b[16..24]);
        Header {
            opcode: b[1],
            keylen: u16::from_be_bytes([b[2], b[3]]),
            extlen: b[4],
            bodylen: u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
            opaque: [b[12], b[13], b[14], b[15]],
            cas: u64::from_be_bytes(cas),
        }
    }

    /// Header, extras and key: what memcached reads before it dispatches.
    pub fn base_len(&self) -> usize {
        HEADER_LEN + usize::from(self.extlen) + usize::from(self.keylen)
    }
}

/// What a well-formed request runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmd {
    /// get/getk/touch/gat/gatk: `with_key` echoes the key, `touch` takes
    /// an expiration extra, `value` returns the value (not TOUCH).
    Get {
        with_key: bool,
        touch: bool,
        value: bool,
    },
    /// set/add/replace (a non-zero cas makes any of them a cas).
    Store(StoreMode),
    /// append/prepend (Append or Prepend).
    Concat(StoreMode),
    Delete,
    Arith {
        incr: bool,
    },
    Quit,
    Flush,
    Noop,
    Version,
    Stat,
}

impl Cmd {
    /// A value follows the key.
    pub fn has_value(self) -> bool {
        matches!(self, Cmd::Store(_) | Cmd::Concat(_))
    }
}

/// What to do with a request whose header is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame {
    /// Run `cmd` once the header, extras, key and `value_len` value bytes
    /// are in; `quiet` suppresses the success reply (a get's miss).
    Run {
        cmd: Cmd,
        quiet: bool,
        value_len: usize,
    },
    /// Answer this status and skip `skip` bytes after the header, extras
    /// and key (memcached's swallow: for an unknown opcode the whole
    /// bodylen, eating into what follows when there were extras or a key,
    /// as 1.6.18 does).
    Refuse { status: u16, skip: u64 },
    /// Answer this status, then close.
    Fatal(u16),
}

/// The quiet opcode's loud twin, and whether it was quiet
/// (dispatch_bin_command's first switch).
fn loud(op: u8) -> (u8, bool) {
    use opcode::*;
    let loud = match op {
        SETQ => SET,
        ADDQ => ADD,
        REPLACEQ => REPLACE,
        DELETEQ => DELETE,
        INCREMENTQ => INCREMENT,
        DECREMENTQ => DECREMENT,
        QUITQ => QUIT,
        FLUSHQ => FLUSH,
        APPENDQ => APPEND,
        PREPENDQ => PREPEND,
        GETQ => GET,
        GETKQ => GETK,
        GATQ => GAT,
        GATKQ => GATK,
        _ => return (op, false),
    };
    (loud, true)
}

/// memcached's checks, in its order: lengths that contradict each other
/// (Unknown command, close), a key over 250 bytes (Invalid arguments,
/// close), then the shape each opcode requires (Invalid arguments, close).
pub fn frame(h: &Header) -> Frame {
    use opcode::*;
    let (ext, key, body) = (
        usize::from(h.extlen),
        usize::from(h.keylen),
        h.bodylen as usize,
    );
    if key > body || key + ext > body {
        return Frame::Fatal(status::UNKNOWN_COMMAND);
    }
    if key > KEY_MAX {
        return Frame::Fatal(status::EINVAL);
    }
    let (op, quiet) = loud(h.opcode);
    let empty = ext == 0 && key == 0 && body == 0;
    let run = |cmd: Cmd, ok: bool, value_len: usize| {
        if ok {
            Frame::Run {
                cmd,
                quiet,
                value_len,
            }
        } else {
            Frame::Fatal(status::EINVAL)
        }
    };
    let get = |with_key: bool, touch: bool, value: bool| Cmd::Get {
        with_key,
        touch,
        value,
    };
    match op {
        VERSION => run(Cmd::Version, empty, 0),
        NOOP => run(Cmd::Noop, empty, 0),
        QUIT => run(Cmd::Quit, empty, 0),
        FLUSH => run(
            Cmd::Flush,
            key == 0 && body == ext && (ext == 0 || ext == 4),
            0,
        ),
        SET | ADD | REPLACE => {
            let mode = match op {
                SET => StoreMode::Set,
                ADD => StoreMode::Add,
                _ => StoreMode::Replace,
            };
            let ok = ext == 8 && key != 0 && body >= key + 8;
            run(Cmd::Store(mode), ok, body.saturating_sub(key + ext))
        }
        GET | GETK => {
            let ok = ext == 0 && body == key && key > 0;
            run(get(op == GETK, false, true), ok, 0)
        }
        DELETE => run(Cmd::Delete, key > 0 && ext == 0 && body == key, 0),
        INCREMENT | DECREMENT => {
            let ok = key > 0 && ext == 20 && body == key + ext;
            run(
                Cmd::Arith {
                    incr: op == INCREMENT,
                },
                ok,
                0,
            )
        }
        APPEND | PREPEND => {
            let mode = if op == APPEND {
                StoreMode::Append
            } else {
                StoreMode::Prepend
            };
            run(Cmd::Concat(mode), key > 0 && ext == 0, body - key)
        }
        // bytes of the body past the key stay in the stream (1.6.18)
        STAT => run(Cmd::Stat, ext == 0, 0),
        TOUCH | GAT | GATK => {
            let ok = ext == 4 && key != 0;
            run(get(op == GATK, true, op != TOUCH), ok, 0)
        }
        // SASL is not supported: answered as memcached without -S does
        SASL_LIST_MECHS if empty => Frame::Refuse {
            status: status::UNKNOWN_COMMAND,
            skip: 0,
        },
        SASL_AUTH | SASL_STEP if ext == 0 && key != 0 => Frame::Refuse {
            status: status::UNKNOWN_COMMAND,
            skip: (body - key) as u64,
        },
        SASL_LIST_MECHS | SASL_AUTH | SASL_STEP => Frame::Fatal(status::EINVAL),
        _ => Frame::Refuse {
            status: status::UNKNOWN_COMMAND,
            skip: u64::from(h.bodylen),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(op: u8, keylen: u16, extlen: u8, bodylen: u32) -> Header {
        Header {
            opcode: op,
            keylen,
            extlen,
            bodylen,
            opaque: [0; 4],
            cas: 0,
        }
    }

    #[test]
    fn reads_network_order() {
        let mut b = [0u8; 24];
        b[..8].copy_from_slice(&[0x80, 0x01, 0x00, 0x03, 0x08, 0x00, 0x00, 0x00]);
        b[8..12].copy_from_slice(&14u32.to_be_bytes());
        b[12..16].copy_from_slice(b"\xde\xad\xbe\xef");
        b[16..24].copy_from_slice(&0x0102_0304_0506_0708u64.to_be_bytes());
        let h = Header::read(&b);
        assert_eq!(h, {
            let mut e = header(opcode::SET, 3, 8, 14);
            e.opaque = *b"\xde\xad\xbe\xef";
            e.cas = 0x0102_0304_0506_0708;
            e
        });
        assert_eq!(h.base_len(), 35);
    }

    #[test]
    fn lengths_that_lie_close_before_anything_else() {
        // keylen > bodylen, extlen + keylen > bodylen: unknown command
        let f = frame(&header(opcode::GET, 5, 0, 4));
        assert_eq!(f, Frame::Fatal(status::UNKNOWN_COMMAND));
        let f = frame(&header(opcode::SET, 3, 8, 10));
        assert_eq!(f, Frame::Fatal(status::UNKNOWN_COMMAND));
        // a key over 250 bytes, even for an unknown opcode
        let f = frame(&header(0x7f, 251, 0, 251));
        assert_eq!(f, Frame::Fatal(status::EINVAL));
    }

    #[test]
    fn each_opcode_checks_its_shape() {
        assert_eq!(
            frame(&header(opcode::NOOP, 0, 0, 1)),
            Frame::Fatal(status::EINVAL)
        );
        assert_eq!(
            frame(&header(opcode::GET, 0, 0, 0)),
            Frame::Fatal(status::EINVAL)
        );
        assert_eq!(
            frame(&header(opcode::SET, 1, 4, 5)),
            Frame::Fatal(status::EINVAL)
        );
        assert_eq!(
            frame(&header(opcode::INCREMENT, 1, 20, 22)),
            Frame::Fatal(status::EINVAL)
        );
        assert_eq!(
            frame(&header(opcode::FLUSH, 0, 2, 2)),
            Frame::Fatal(status::EINVAL)
        );
        assert_eq!(
            frame(&header(opcode::TOUCH, 1, 0, 1)),
            Frame::Fatal(status::EINVAL)
        );
        let set = frame(&header(opcode::SETQ, 3, 8, 16));
        let want = Frame::Run {
            cmd: Cmd::Store(StoreMode::Set),
            quiet: true,
            value_len: 5,
        };
        assert_eq!(set, want);
    }

    #[test]
    fn unknown_and_sasl_are_refused_and_swallowed() {
        let f = frame(&header(0x1b, 2, 4, 10));
        let want = Frame::Refuse {
            status: status::UNKNOWN_COMMAND,
            skip: 10,
        };
        assert_eq!(f, want);
        let f = frame(&header(opcode::SASL_AUTH, 5, 0, 9));
        let want = Frame::Refuse {
            status: status::UNKNOWN_COMMAND,
            skip: 4,
        };
        assert_eq!(f, want);
        let f = frame(&header(opcode::SASL_LIST_MECHS, 0, 0, 0));
        let want = Frame::Refuse {
            status: status::UNKNOWN_COMMAND,
            skip: 0,
        };
        assert_eq!(f, want);
        let f = frame(&header(opcode::SASL_AUTH, 0, 0, 3));
        assert_eq!(f, Frame::Fatal(status::EINVAL));
    }
}
