//! The binary STAT command (memcached 1.6.18's process_bin_stat): the
//! host's text report ("STAT name value" lines, then END) re-sent as one
//! packet per line (key = name, value = value) and an empty packet for
//! END. Off the hot path: the report is copied once to be rewritten.

use super::parse::{status, Header};
use crate::exec::Exec;
use crate::{Host, Output, Report};
use storage::Storage;

/// The groups memcached's binary STAT knows besides the general report,
/// `reset` and `settings` (get_stats: exact names; no `conns`).
const GROUPS: [&[u8]; 3] = [b"items", b"slabs", b"sizes"];

pub fn run_stat<S: Storage, H: Host>(x: &mut Exec<'_, S, H>, h: &Header, group: &[u8]) {
    let mark = x.out.queued();
    // memcached compares "reset" and "settings" as prefixes
    let report = if group.is_empty() {
        x.host.stats(x.now, x.out)
    } else if group.starts_with(b"reset") {
        x.host.stats_reset(x.now);
        stat_packet(x, h, b"", b"");
        return;
    } else if group.starts_with(b"settings") {
        x.host.stats_group(b"settings", x.now, x.out)
    } else if GROUPS.contains(&group) {
        x.host.stats_group(group, x.now, x.out)
    } else {
        Report::Unknown
    };
    match report {
        Report::Done => {}
        Report::Unknown => {
            x.out.truncate(mark);
            x.packet_error(h, status::KEY_ENOENT);
            return;
        }
        Report::Refused => {
            x.close = true;
            return;
        }
    }
    let Some(text) = x.out.queued_since(mark).map(<[u8]>::to_vec) else {
        x.out.truncate(mark);
        x.packet_error_text(h, status::ENOMEM, "Out of memory generating stats");
        return;
    };
    x.out.truncate(mark);
    for line in text.split(|&c| c == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line == b"END" {
            stat_packet(x, h, b"", b"");
        } else if let Some(stat) = line.strip_prefix(b"STAT ") {
            let space = stat.iter().position(|&c| c == b' ');
            let (name, value) = match space {
                Some(i) => (&stat[..i], &stat[i + 1..]),
                None => (stat, &b""[..]),
            };
            stat_packet(x, h, name, value);
        }
    }
}

/// One stat (the request's opcode is STAT, its opaque echoed, cas 0);
/// the empty one ends the report.
fn stat_packet<S: Storage, H: Host>(x: &mut Exec<'_, S, H>, h: &Header, name: &[u8], value: &[u8]) {
    x.packet(h, status::SUCCESS, 0, [b"", name, value]);
}
