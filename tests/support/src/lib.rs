//! What molt's integration tests share: which servers to test
//! (`targets!()`, the memcached reference), starting them on free ports,
//! blocking text-protocol clients over TCP or TLS, test certificates, temp
//! directories, `stats` parsing, byte escaping for failure messages, and
//! the fuzzers' deterministic PRNG, random command streams and input
//! mutation.
//!
//! TLS targets ("molt-slab-tls", "molt-seg-tls", "molt-seg-rs-tls") run the
//! mixed binary with `--tls-cert/--tls-key` pointing at certificates
//! generated once per test process (rcgen) into a temp dir; `Server::client()` and
//! `Client::connect(addr)` then speak TLS (rustls) to them, so every suite
//! runs unchanged over TLS.
#![forbid(unsafe_code)]

pub mod budget;
pub mod client;
pub mod commands;
pub mod escape;
pub mod mutate;
pub mod pki;
pub mod ports;
pub mod rng;
pub mod server;
pub mod stats;
pub mod targets;
pub mod temp;
pub mod tls_config;
mod tls_stream;

pub use budget::diff_budget;
pub use client::{io_error_name, Client, ClientStream, ClientWriter};
pub use escape::escape_bytes;
pub use pki::{tls_files, Pem, Pki, TlsFiles};
pub use ports::free_port;
pub use rng::Rng;
pub use server::{signal, Server};
pub use stats::Stats;
pub use targets::{reference_memcached, require_built, Target};
pub use temp::{path_str, TempDir};
pub use tls_config::{tls_client_config, TlsClient, ALL_VERSIONS, TLS12_ONLY, TLS13_ONLY};

/// The rustls the clients are built on, for tests that drive TLS
/// connections themselves: the same version, so configurations and
/// certificates pass between them.
pub use rustls;
