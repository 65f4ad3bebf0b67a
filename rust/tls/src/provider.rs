//! Compile-time choice of the rustls crypto provider.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::ProducesTickets;

#[cfg(not(any(feature = "aws-lc-rs", feature = "ring")))]
compile_error!("molt-tls needs a crypto provider: enable feature `aws-lc-rs` or `ring`");

/// Name of the crypto provider compiled in (`"aws-lc-rs"` or `"ring"`).
#[cfg(feature = "aws-lc-rs")]
pub const CRYPTO_PROVIDER: &str = "aws-lc-rs";
/// Name of the crypto provider compiled in (`"aws-lc-rs"` or `"ring"`).
#[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
pub const CRYPTO_PROVIDER: &str = "ring";

/// The rustls crypto provider every configuration of this crate uses.
///
/// Public so that callers (tests, benches, a client in the same process)
/// can build a rustls client with the same primitives.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    #[cfg(feature = "aws-lc-rs")]
    let p = rustls::crypto::aws_lc_rs::default_provider();
    #[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
    let p = rustls::crypto::ring::default_provider();
    Arc::new(p)
}

/// A fresh stateless session-ticket encrypter (with automatic key rotation).
pub(crate) fn ticketer() -> Result<Arc<dyn ProducesTickets>, rustls::Error> {
    #[cfg(feature = "aws-lc-rs")]
    let t = rustls::crypto::aws_lc_rs::Ticketer::new();
    #[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
    let t = rustls::crypto::ring::Ticketer::new();
    t
}
