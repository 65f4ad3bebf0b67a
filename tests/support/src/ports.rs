//! Ports: a free one to hand to a server, and whether a given process is
//! the one listening on it.

use std::fs;
use std::net::TcpListener;

/// Whether process `pid` holds the socket listening on `port` (from
/// /proc/net/tcp{,6} and /proc/PID/fd). True when /proc cannot tell.
pub(crate) fn listens_on(pid: u32, port: u16) -> bool {
    let mut inodes = Vec::new();
    let mut readable = false;
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = fs::read_to_string(table) else {
            continue;
        };
        readable = true;
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let local_port = cols
                .get(1)
                .and_then(|a| a.rsplit(':').next())
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            // State 0A is LISTEN; column 9 the socket inode.
            if cols.len() > 9 && cols[3] == "0A" && local_port == Some(port) {
                inodes.push(format!("socket:[{}]", cols[9]));
            }
        }
    }
    if !readable {
        return true;
    }
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return true;
    };
    fds.flatten().any(|e| {
        fs::read_link(e.path())
            .ok()
            .is_some_and(|l| inodes.iter().any(|i| l.as_os_str() == i.as_str()))
    })
}

/// A port that was free a moment ago (bind 127.0.0.1:0, read, release).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local_addr").port()
}
