//! molt-bench: a load generator for the memcached text protocol.
//!
//! See `README.md` beside `Cargo.toml` for the command line and the design.
#![forbid(unsafe_code)]

pub mod config;
pub mod evloop;
pub mod handshake;
pub mod keys;
pub mod proto;
pub mod report;
pub mod rng;
pub mod run;
pub mod schedule;
pub mod stats;
pub mod tls;
pub mod value;
pub mod worker;
