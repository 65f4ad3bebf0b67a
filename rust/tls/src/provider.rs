//! The rustls crypto providers this crate can use, chosen explicitly per
//! configuration. Several may be compiled in at once (`cargo build
//! --workspace` unifies features: the mixed binary wants aws-lc-rs, the
//! all-Rust molt-rs graviola), so none is picked by feature precedence
//! alone: a caller names its provider ([`TlsServerConfig::load_with`]) or
//! takes [`Provider::DEFAULT`].
//!
//! [`TlsServerConfig::load_with`]: crate::TlsServerConfig::load_with

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::ProducesTickets;

#[cfg(not(any(feature = "aws-lc-rs", feature = "ring", feature = "graviola")))]
compile_error!(
    "molt-tls needs a crypto provider: enable feature `aws-lc-rs`, `ring` or `graviola`"
);

/// A rustls crypto provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provider {
    /// aws-lc-rs (C and assembly; needs a C compiler to build).
    AwsLcRs,
    /// ring (C and assembly; needs a C compiler to build).
    Ring,
    /// Graviola (Rust and Rust inline assembly: no C compiler).
    Graviola,
}

impl Provider {
    /// The provider of configurations that do not name one: aws-lc-rs when
    /// compiled in (the fastest by measurement, see README.md), else ring,
    /// else graviola.
    #[cfg(feature = "aws-lc-rs")]
    pub const DEFAULT: Provider = Provider::AwsLcRs;
    /// The provider of configurations that do not name one.
    #[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
    pub const DEFAULT: Provider = Provider::Ring;
    /// The provider of configurations that do not name one.
    #[cfg(all(
        feature = "graviola",
        not(any(feature = "aws-lc-rs", feature = "ring"))
    ))]
    pub const DEFAULT: Provider = Provider::Graviola;

    /// Its name: "aws-lc-rs", "ring" or "graviola".
    pub const fn name(self) -> &'static str {
        match self {
            Provider::AwsLcRs => "aws-lc-rs",
            Provider::Ring => "ring",
            Provider::Graviola => "graviola",
        }
    }

    /// Whether this build has it (its cargo feature is on).
    pub const fn available(self) -> bool {
        match self {
            Provider::AwsLcRs => cfg!(feature = "aws-lc-rs"),
            Provider::Ring => cfg!(feature = "ring"),
            Provider::Graviola => cfg!(feature = "graviola"),
        }
    }

    /// Its rustls provider; None when this build does not have it.
    pub fn crypto(self) -> Option<Arc<CryptoProvider>> {
        let p = match self {
            #[cfg(feature = "aws-lc-rs")]
            Provider::AwsLcRs => rustls::crypto::aws_lc_rs::default_provider(),
            #[cfg(feature = "ring")]
            Provider::Ring => rustls::crypto::ring::default_provider(),
            #[cfg(feature = "graviola")]
            Provider::Graviola => rustls_graviola::default_provider(),
            #[allow(unreachable_patterns)]
            _ => return None,
        };
        Some(Arc::new(p))
    }

    /// A fresh stateless session-ticket encrypter (with automatic key
    /// rotation) from this provider.
    pub(crate) fn ticketer(self) -> Result<Arc<dyn ProducesTickets>, rustls::Error> {
        match self {
            #[cfg(feature = "aws-lc-rs")]
            Provider::AwsLcRs => rustls::crypto::aws_lc_rs::Ticketer::new(),
            #[cfg(feature = "ring")]
            Provider::Ring => rustls::crypto::ring::Ticketer::new(),
            #[cfg(feature = "graviola")]
            Provider::Graviola => rustls_graviola::Ticketer::new(),
            #[allow(unreachable_patterns)]
            _ => Err(rustls::Error::General(format!(
                "crypto provider {} is not in this build",
                self.name()
            ))),
        }
    }
}

/// Name of the default crypto provider ([`Provider::DEFAULT`]).
pub const CRYPTO_PROVIDER: &str = Provider::DEFAULT.name();

/// The default rustls crypto provider ([`Provider::DEFAULT`]).
///
/// Public so that callers (tests, benches, a client in the same process)
/// can build a rustls client with the same primitives.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Provider::DEFAULT
        .crypto()
        .expect("the default provider is compiled in")
}
