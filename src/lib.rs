//! molt: a memcached-compatible cache server whose C core is migrated to Rust
//! one component at a time. This crate is the mixed build: it links the C
//! core (compiled by build.rs) and exposes it to Rust through one safe
//! wrapper module, [`c_core`], whose C storage engines implement the safe
//! storage trait ([`storage::Storage`], re-exported here with its types).

pub mod c_core;

// The C core calls the Rust engines through molt-ffi's exports; naming the
// crate keeps it (and its #[no_mangle] functions) in the link.
extern crate molt_ffi;

pub use c_core::{
    engines, protocols, run_c_main, CProtocol, CProtocolSession, CStorage, ProtocolResult,
    StorageConfig,
};
pub use storage;
