//! molt-ffi: the one crate where Rust meets the C core. It presents the
//! safe `rust/*` libraries as implementations of c-core's seams with plain
//! `extern "C"` functions. Every export checks its pointers and catches
//! panics, turning both into a `molt_status`; handles are opaque and freed by
//! the side that allocated them (here: `molt_seg_new` / `molt_seg_free`).
//! C sees these functions through the cbindgen header `include/molt_ffi.h`.

mod guard;
pub mod seg;
pub mod tls;

/// The seam types of c-core/include/storage.h and transport.h, as bindgen
/// reads them.
#[allow(non_camel_case_types, non_upper_case_globals, dead_code, clippy::all)]
pub mod seam_types {
    include!(concat!(env!("OUT_DIR"), "/seam_types.rs"));
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
