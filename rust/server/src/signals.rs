//! SIGTERM, SIGINT and SIGUSR1 (graceful stop; SIGUSR1 is memcached's) and
//! SIGHUP (reload certificates): signal-hook writes a byte to a socket pair
//! per purpose, whose read ends the listener polls beside the listening
//! socket (server.c's signalfd).

use std::io::{ErrorKind, Read};
use std::os::unix::net::UnixStream as StdUnixStream;

use mio::net::UnixStream;
use mio::{Interest, Registry, Token};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1};
use signal_hook::low_level::pipe;

/// The read ends the listener polls.
pub struct Signals {
    pub stop: UnixStream,
    pub hup: UnixStream,
}

impl Signals {
    /// Install the handlers; from now on these signals no longer end the
    /// process by themselves.
    pub fn install(registry: &Registry, stop: Token, hup: Token) -> std::io::Result<Signals> {
        let (stop_rx, stop_tx) = StdUnixStream::pair()?;
        let (hup_rx, hup_tx) = StdUnixStream::pair()?;
        stop_rx.set_nonblocking(true)?;
        hup_rx.set_nonblocking(true)?;
        let (mut stop_rx, mut hup_rx) =
            (UnixStream::from_std(stop_rx), UnixStream::from_std(hup_rx));
        pipe::register(SIGTERM, stop_tx.try_clone()?)?;
        pipe::register(SIGUSR1, stop_tx.try_clone()?)?;
        pipe::register(SIGINT, stop_tx)?;
        pipe::register(SIGHUP, hup_tx)?;
        registry.register(&mut stop_rx, stop, Interest::READABLE)?;
        registry.register(&mut hup_rx, hup, Interest::READABLE)?;
        Ok(Signals {
            stop: stop_rx,
            hup: hup_rx,
        })
    }
}

/// Empty a signal socket; how many signals it announced.
pub fn take(rx: &mut UnixStream) -> usize {
    let mut buf = [0u8; 64];
    let mut n = 0;
    loop {
        match rx.read(&mut buf) {
            Ok(0) => return n,
            Ok(k) => n += k,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return n,
        }
    }
}
