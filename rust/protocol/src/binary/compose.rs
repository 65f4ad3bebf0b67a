//! Binary response packets (memcached 1.6.18's add_bin_header,
//! write_bin_error, write_bin_miss_response): a 24-byte header, then
//! extras, key and value, appended in one step.

use super::parse::{status, Header, HEADER_LEN, MAGIC_RESPONSE};
use crate::exec::Exec;
use crate::{Host, Output};
use storage::Storage;

/// A response header: the request's opcode and opaque echoed, raw bytes
/// as datatype.
pub fn response_header(
    req: &Header,
    status: u16,
    extras: usize,
    key: usize,
    body: usize,
    cas: u64,
) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[0] = MAGIC_RESPONSE;
    h[1] = req.opcode;
    h[2..4].copy_from_slice(&(key as u16).to_be_bytes());
    h[4] = extras as u8;
    h[6..8].copy_from_slice(&status.to_be_bytes());
    h[8..12].copy_from_slice(&(body as u32).to_be_bytes());
    h[12..16].copy_from_slice(&req.opaque);
    h[16..24].copy_from_slice(&cas.to_be_bytes());
    h
}

/// memcached's text for a status without a message of its own.
fn message(s: u16) -> &'static [u8] {
    match s {
        status::ENOMEM => b"Out of memory",
        status::UNKNOWN_COMMAND => b"Unknown command",
        status::KEY_ENOENT => b"Not found",
        status::EINVAL => b"Invalid arguments",
        status::KEY_EEXISTS => b"Data exists for key.",
        status::E2BIG => b"Too large.",
        status::DELTA_BADVAL => b"Non-numeric server-side value for incr or decr",
        status::NOT_STORED => b"Not stored.",
        _ => b"UNHANDLED ERROR",
    }
}

impl<S: Storage, H: Host> Exec<'_, S, H> {
    /// One packet: extras, key and value after the header; a refusal of
    /// the output closes.
    pub fn packet(&mut self, req: &Header, status: u16, cas: u64, parts: [&[u8]; 3]) {
        let [extras, key, value] = parts;
        let body = extras.len() + key.len() + value.len();
        let h = response_header(req, status, extras.len(), key.len(), body, cas);
        if !self.out.append(&[&h, extras, key, value]) {
            self.close = true;
        }
    }

    /// A success without a body.
    pub fn packet_ok(&mut self, req: &Header, cas: u64) {
        self.packet(req, status::SUCCESS, cas, [b"", b"", b""]);
    }

    /// An error with memcached's message for it (sent even for quiet
    /// requests, as memcached does).
    pub fn packet_error(&mut self, req: &Header, status: u16) {
        self.packet(req, status, 0, [b"", b"", message(status)]);
    }

    /// An error with its own message (memcached's out_of_memory, with the
    /// text protocol's "SERVER_ERROR " prefix stripped).
    pub fn packet_error_text(&mut self, req: &Header, status: u16, text: &str) {
        self.packet(req, status, 0, [b"", b"", text.as_bytes()]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_echoes_opcode_and_opaque_in_network_order() {
        let req = Header {
            opcode: 0x0c,
            keylen: 1,
            extlen: 0,
            bodylen: 1,
            opaque: *b"\x01\x02\x03\x04",
            cas: 0,
        };
        let h = response_header(&req, 0x0001, 4, 1, 0x0102, 0x0a0b);
        assert_eq!(
            h,
            [
                0x81, 0x0c, 0x00, 0x01, 0x04, 0x00, 0x00, 0x01, 0x00, 0x00, 0x01, 0x02, 0x01, 0x02,
                0x03, 0x04, 0, 0, 0, 0, 0, 0, 0x0a, 0x0b
            ]
        );
    }
}
