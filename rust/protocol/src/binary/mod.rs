//! memcached's binary protocol (deprecated in memcached 1.6, still spoken
//! by Dalli, libmemcached, pylibmc and PHP's memcached), new in the Rust
//! protocol only: a connection whose first byte is 0x80 speaks it for
//! good (session.rs decides). framing (frame.rs) -> header checks
//! (parse.rs) -> run (run.rs, stats.rs) -> response packets (compose.rs),
//! over the same Storage and Host as the text protocol, with its limits
//! and counters. SASL is not supported: its opcodes answer "Unknown
//! command", as memcached started without -S does.

mod compose;
mod frame;
mod parse;
mod run;
mod stats;

pub use frame::process;
pub use parse::MAGIC_REQUEST;
