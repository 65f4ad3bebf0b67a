//! Incremental parser for memcached text-protocol replies.
//!
//! The parsers look at the bytes buffered so far, starting at the first byte
//! of the reply: they answer `Incomplete` (read more and call again),
//! `Done` (the reply's length and meaning) or `Desync` (bytes that cannot
//! be the reply to this request: the stream can no longer be trusted).

use std::ops::Range;

/// A reply line longer than this without a newline is garbage.
pub const MAX_LINE: usize = 8192;

/// One `VALUE` item of a get reply; ranges index the parsed buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub key: Range<usize>,
    pub flags: u32,
    pub data: Range<usize>,
}

/// What memcached (and molt) answer a set they have no memory for.
pub const OUT_OF_MEMORY: &str = "SERVER_ERROR out of memory storing object";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `STORED`, or `OK` (flush_all).
    Ok,
    /// A get reply up to and including `END`; the items went to the caller's vector.
    Values,
    /// A failure the server reported in protocol (`ERROR`, `CLIENT_ERROR ..`,
    /// `SERVER_ERROR ..`, and for stores `NOT_STORED`, `EXISTS`, `NOT_FOUND`):
    /// counted as an error, the stream stays in step.
    Failure(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parse {
    /// More bytes are needed; `need` is the total length the reply needs at
    /// least, when known (else 0).
    Incomplete {
        need: usize,
    },
    Done {
        len: usize,
        reply: Reply,
    },
}

/// The bytes cannot be a reply to the request: the connection is out of step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desync(pub String);

/// Printable excerpt of protocol bytes for error messages.
pub fn excerpt(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(80)];
    let mut s: String = cut.escape_ascii().to_string();
    if bytes.len() > cut.len() {
        s.push_str("...");
    }
    s
}

/// Finds the line starting at `from`: Ok(Some((content_end, next_start))).
fn line(buf: &[u8], from: usize) -> Result<Option<(usize, usize)>, Desync> {
    match buf[from..].iter().position(|&b| b == b'\n') {
        None => {
            if buf.len() - from > MAX_LINE {
                Err(Desync(format!(
                    "no line end within {MAX_LINE} bytes: {}",
                    excerpt(&buf[from..])
                )))
            } else {
                Ok(None)
            }
        }
        Some(p) => {
            let nl = from + p;
            if p == 0 || buf[nl - 1] != b'\r' {
                return Err(Desync(format!(
                    "line not terminated by \\r\\n: {}",
                    excerpt(&buf[from..=nl])
                )));
            }
            Ok(Some((nl - 1, nl + 1)))
        }
    }
}

/// Error lines every command may receive.
fn generic_failure(l: &[u8]) -> bool {
    l == b"ERROR"
        || l == b"CLIENT_ERROR"
        || l == b"SERVER_ERROR"
        || l.starts_with(b"CLIENT_ERROR ")
        || l.starts_with(b"SERVER_ERROR ")
}

fn failure(l: &[u8]) -> Reply {
    Reply::Failure(String::from_utf8_lossy(l).into_owned())
}

/// Reply to `set` (and the other storage commands).
pub fn parse_store(buf: &[u8]) -> Result<Parse, Desync> {
    let Some((end, next)) = line(buf, 0)? else {
        return Ok(Parse::Incomplete { need: 0 });
    };
    let l = &buf[..end];
    let reply = if l == b"STORED" {
        Reply::Ok
    } else if generic_failure(l) || l == b"NOT_STORED" || l == b"EXISTS" || l == b"NOT_FOUND" {
        failure(l)
    } else {
        return Err(Desync(format!("unexpected reply to set: {}", excerpt(l))));
    };
    Ok(Parse::Done { len: next, reply })
}

/// Reply to `flush_all`.
pub fn parse_ok(buf: &[u8]) -> Result<Parse, Desync> {
    let Some((end, next)) = line(buf, 0)? else {
        return Ok(Parse::Incomplete { need: 0 });
    };
    let l = &buf[..end];
    let reply = if l == b"OK" {
        Reply::Ok
    } else if generic_failure(l) {
        failure(l)
    } else {
        return Err(Desync(format!(
            "unexpected reply to flush_all: {}",
            excerpt(l)
        )));
    };
    Ok(Parse::Done { len: next, reply })
}

fn parse_num<T: std::str::FromStr>(tok: &[u8]) -> Option<T> {
    if tok.is_empty() || !tok.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(tok).ok()?.parse().ok()
}

/// Reply to `get k1 .. kM`: zero or more VALUE items, then END.
/// `items` is cleared and receives the items (only meaningful on `Done`).
pub fn parse_get(buf: &[u8], items: &mut Vec<Item>) -> Result<Parse, Desync> {
    items.clear();
    let mut pos = 0;
    loop {
        let Some((end, next)) = line(buf, pos)? else {
            return Ok(Parse::Incomplete { need: 0 });
        };
        let l = &buf[pos..end];
        if l == b"END" {
            return Ok(Parse::Done {
                len: next,
                reply: Reply::Values,
            });
        }
        if let Some(rest) = l.strip_prefix(b"VALUE ") {
            let bad = || Desync(format!("malformed VALUE line: {}", excerpt(l)));
            let mut toks = rest.split(|&b| b == b' ');
            let key = toks.next().filter(|k| !k.is_empty()).ok_or_else(bad)?;
            let flags: u32 = toks.next().and_then(parse_num).ok_or_else(bad)?;
            let bytes: usize = toks.next().and_then(parse_num).ok_or_else(bad)?;
            if let Some(cas) = toks.next() {
                parse_num::<u64>(cas).ok_or_else(bad)?;
            }
            if toks.next().is_some() {
                return Err(bad());
            }
            let key_start = pos + 6;
            let key = key_start..key_start + key.len();
            let data_end = next
                .checked_add(bytes)
                .filter(|&e| e <= usize::MAX - 2)
                .ok_or_else(bad)?;
            if buf.len() < data_end + 2 {
                return Ok(Parse::Incomplete { need: data_end + 2 });
            }
            if &buf[data_end..data_end + 2] != b"\r\n" {
                return Err(Desync(format!(
                    "value of {bytes} bytes not followed by \\r\\n: {}",
                    excerpt(&buf[data_end..])
                )));
            }
            items.push(Item {
                key,
                flags,
                data: next..data_end,
            });
            pos = data_end + 2;
            continue;
        }
        if generic_failure(l) {
            return Ok(Parse::Done {
                len: next,
                reply: failure(l),
            });
        }
        return Err(Desync(format!(
            "unexpected line in get reply: {}",
            excerpt(l)
        )));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(len: usize, reply: Reply) -> Result<Parse, Desync> {
        Ok(Parse::Done { len, reply })
    }

    #[test]
    fn store_replies() {
        assert_eq!(parse_store(b"STORED\r\n"), done(8, Reply::Ok));
        assert_eq!(parse_store(b"STORED\r\nEND\r\n"), done(8, Reply::Ok));
        assert_eq!(parse_store(b"STOR"), Ok(Parse::Incomplete { need: 0 }));
        assert_eq!(parse_store(b"STORED\r"), Ok(Parse::Incomplete { need: 0 }));
        assert_eq!(parse_store(b""), Ok(Parse::Incomplete { need: 0 }));
        for f in [
            "NOT_STORED",
            "EXISTS",
            "NOT_FOUND",
            "ERROR",
            "SERVER_ERROR out of memory storing object",
            "CLIENT_ERROR bad data chunk",
        ] {
            let wire = format!("{f}\r\n");
            assert_eq!(
                parse_store(wire.as_bytes()),
                done(wire.len(), Reply::Failure(f.to_string()))
            );
        }
        assert!(parse_store(b"END\r\n").is_err());
        assert!(parse_store(b"STORED\n").is_err());
        assert!(parse_store(b"VALUE k 0 1\r\n").is_err());
        assert!(parse_store(&[b'x'; MAX_LINE + 1]).is_err());
    }

    #[test]
    fn flush_reply() {
        assert_eq!(parse_ok(b"OK\r\n"), done(4, Reply::Ok));
        assert!(parse_ok(b"STORED\r\n").is_err());
    }

    #[test]
    fn get_miss_hit_and_multi() {
        let mut items = Vec::new();
        assert_eq!(parse_get(b"END\r\n", &mut items), done(5, Reply::Values));
        assert!(items.is_empty());

        let wire = b"VALUE foo 7 3\r\nabc\r\nEND\r\n";
        assert_eq!(parse_get(wire, &mut items), done(wire.len(), Reply::Values));
        assert_eq!(
            items,
            vec![Item {
                key: 6..9,
                flags: 7,
                data: 15..18
            }]
        );

        let wire = b"VALUE a 1 2 99\r\nxy\r\nVALUE bb 4294967295 0\r\n\r\nEND\r\nSTORED\r\n";
        assert_eq!(
            parse_get(wire, &mut items),
            done(wire.len() - 8, Reply::Values)
        );
        assert_eq!(items.len(), 2);
        assert_eq!(&wire[items[0].key.clone()], b"a");
        assert_eq!(&wire[items[0].data.clone()], b"xy");
        assert_eq!(&wire[items[1].key.clone()], b"bb");
        assert_eq!(items[1].flags, u32::MAX);
        assert!(items[1].data.is_empty());
    }

    #[test]
    fn value_may_contain_protocol_bytes() {
        let mut items = Vec::new();
        let wire = b"VALUE k 0 9\r\nEND\r\nEND\r\r\nEND\r\n";
        assert_eq!(parse_get(wire, &mut items), done(wire.len(), Reply::Values));
        assert_eq!(&wire[items[0].data.clone()], b"END\r\nEND\r");
    }

    #[test]
    fn get_split_at_every_byte() {
        let wire = b"VALUE key:1 0 10\r\n0123456789\r\nVALUE key:2 3 5\r\nabcde\r\nEND\r\n";
        let mut items = Vec::new();
        for cut in 0..wire.len() {
            match parse_get(&wire[..cut], &mut items) {
                Ok(Parse::Incomplete { need }) => {
                    assert!(need == 0 || need > cut, "cut {cut} need {need}");
                    assert!(need <= wire.len());
                }
                other => panic!("cut {cut}: {other:?}"),
            }
        }
        assert_eq!(parse_get(wire, &mut items), done(wire.len(), Reply::Values));
        assert_eq!(items.len(), 2);
        // and store replies split anywhere
        let wire = b"STORED\r\n";
        for cut in 0..wire.len() {
            assert_eq!(parse_store(&wire[..cut]), Ok(Parse::Incomplete { need: 0 }));
        }
    }

    #[test]
    fn get_failures_and_desyncs() {
        let mut items = Vec::new();
        assert_eq!(
            parse_get(b"SERVER_ERROR out of memory\r\n", &mut items),
            done(28, Reply::Failure("SERVER_ERROR out of memory".into()))
        );
        assert_eq!(
            parse_get(b"ERROR\r\n", &mut items),
            done(7, Reply::Failure("ERROR".into()))
        );
        for bad in [
            &b"STORED\r\n"[..],
            b"NOT_FOUND\r\n",
            b"VALUE k x 3\r\nabc\r\nEND\r\n",
            b"VALUE k 0 -1\r\n",
            b"VALUE k 0\r\n",
            b"VALUE  0 3\r\nabc\r\nEND\r\n",
            b"VALUE k 0 3 1 2\r\nabc\r\nEND\r\n",
            b"VALUE k 0 3 c\r\nabc\r\nEND\r\n",
            b"VALUE k 0 3\r\nabcd\r\nEND\r\n",
            b"VALUE k 0 99999999999999999999999\r\n",
            b"END\n",
            b"garbage\r\n",
        ] {
            assert!(parse_get(bad, &mut items).is_err(), "{}", excerpt(bad));
        }
    }

    #[test]
    fn incomplete_need_hint_for_large_values() {
        let mut items = Vec::new();
        let head = b"VALUE k 0 100000\r\n";
        assert_eq!(
            parse_get(head, &mut items),
            Ok(Parse::Incomplete {
                need: head.len() + 100_002
            })
        );
    }
}
