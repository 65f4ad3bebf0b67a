//! The one error type of this crate.

use std::fmt;

/// Why a configuration could not be loaded or a connection failed.
///
/// Every variant carries a human-readable reason; [`TlsError::reason`]
/// returns it and `Display` prefixes it with the error's class. Errors are
/// cheap to clone so a failed session can report the same error on every
/// later call.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsError {
    /// Loading or validating certificate, key or CA files failed. The reason
    /// names the file and the problem, e.g. `tls cert file /x: not found`.
    Config(String),
    /// The TLS handshake failed: a plaintext or garbage client, no common
    /// protocol or cipher, a missing or untrusted client certificate, or the
    /// peer closing mid-handshake.
    Handshake(String),
    /// A TLS protocol error after the handshake (bad record MAC, unexpected
    /// message, fatal alert from the peer).
    Protocol(String),
    /// The socket reported an error other than "would block".
    Io(String),
}

impl TlsError {
    /// The reason, without the class prefix.
    pub fn reason(&self) -> &str {
        match self {
            Self::Config(m) | Self::Handshake(m) | Self::Protocol(m) | Self::Io(m) => m,
        }
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(m) => write!(f, "{m}"),
            Self::Handshake(m) => write!(f, "tls handshake failed: {m}"),
            Self::Protocol(m) => write!(f, "tls protocol error: {m}"),
            Self::Io(m) => write!(f, "tls socket error: {m}"),
        }
    }
}

impl std::error::Error for TlsError {}
