//! molt-ffi: the one crate where Rust meets the C core.
//!
//! - `sys`: the one bindgen view of c-core's seams (c-core/include/
//!   bindings.h); the root crate's safe wrapper of the C core uses it too.
//! - `convert`: between those C types and the one safe model of the storage
//!   seam (the `storage` crate).
//! - `c_storage`: the C engines (storage.h) as the safe storage trait.
//! - `seg`, `tls`, `protocol`: the safe `rust/*` libraries as
//!   implementations of the seams, with plain `extern "C"` functions that C sees through the
//!   cbindgen header `include/molt_ffi.h`. Every export checks its pointers
//!   and catches panics (guard.rs), answering in its seam's status domain;
//!   handles are freed by the side that allocated them (`_new` / `_free`,
//!   `_free(NULL)` a no-op).

mod guard;

pub mod c_storage;
pub mod convert;
pub mod protocol;
pub mod seg;
pub mod tls;

/// c-core/include/bindings.h as bindgen reads it: the seam types and the C
/// core's functions.
#[allow(
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    dead_code,
    clippy::all
)]
pub mod sys {
    include!(concat!(env!("OUT_DIR"), "/sys.rs"));
}

/// The header cbindgen generated from this crate in this build.
pub const GENERATED_HEADER: &str = include_str!(concat!(env!("OUT_DIR"), "/molt_ffi.h"));

#[cfg(test)]
mod tests {
    #[test]
    fn committed_header_matches_the_generated_one() {
        let committed = include_str!("../include/molt_ffi.h");
        assert!(
            committed == super::GENERATED_HEADER,
            "ffi/include/molt_ffi.h is stale: run `make ffi-header` and commit it"
        );
    }
}
