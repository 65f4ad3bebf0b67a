//! Non-blocking TLS server sessions for molt, built on rustls.
//!
//! This crate is the Rust side of molt's `transport.h` seam for TLS. It
//! never touches file descriptors: every call that does I/O takes the socket
//! as a generic [`std::io::Read`] + [`std::io::Write`] value, where
//! `ErrorKind::WouldBlock` means "not ready". The `ffi/` crate wraps an fd in
//! such a value and maps [`Progress`] / [`IoOutcome`] / [`TlsError`] onto
//! `molt_io_status`.
//!
//! * [`TlsServerConfig`] loads and validates PEM files (TLS 1.2 + 1.3,
//!   resumption by tickets and a session cache, optional mutual TLS).
//! * [`TlsAcceptor`] holds the current configuration (reloadable, for new
//!   connections only) and the [`TlsStats`] counters, and creates sessions.
//! * [`TlsSession`] is one connection: `handshake`, `read`, `write`,
//!   `flush`, `pending_plaintext`, `close`.
//!
//! ```no_run
//! use molt_tls::{IoOutcome, Progress, TlsAcceptor};
//! # fn demo(sock: &mut std::net::TcpStream) -> Result<(), molt_tls::TlsError> {
//! let acceptor = TlsAcceptor::load("cert.pem", "key.pem", None::<&str>)?;
//! let mut session = acceptor.accept()?;
//! match session.handshake(sock) {
//!     Progress::Done => {}
//!     Progress::WantRead | Progress::WantWrite => return Ok(()), // wait, call again
//!     Progress::Eof => return Ok(()),
//!     Progress::Error(e) => return Err(e),
//! }
//! let mut buf = [0u8; 4096];
//! if let IoOutcome::Bytes(n) = session.read(sock, &mut buf)? {
//!     session.write(sock, &buf[..n])?;
//! }
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod acceptor;
mod config;
mod error;
mod provider;
mod session;

pub use acceptor::{TlsAcceptor, TlsStats, TlsStatsSnapshot};
pub use config::{TlsServerConfig, SESSION_CACHE_SIZE};
pub use error::TlsError;
pub use provider::{crypto_provider, Provider, CRYPTO_PROVIDER};
pub use session::{
    IoOutcome, Progress, TlsSession, TlsVersion, MAX_SOCKET_READS_PER_CALL, SEND_BUFFER_LIMIT,
};

/// The rustls version this crate is built against, re-exported so callers
/// can build matching clients and configurations.
pub use rustls;
