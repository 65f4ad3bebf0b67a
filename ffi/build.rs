//! bindgen: the one Rust view of c-core's seams. It reads the one curated
//! header, c-core/include/bindings.h, with an allowlist; every crate that
//! needs a C type or calls into the C core uses this crate's `sys` module,
//! so no Rust copy of a C type is written by hand or generated twice.
//! cbindgen: the header C includes to reach this crate's exports, written
//! to OUT_DIR; a test keeps ffi/include/molt_ffi.h equal to it (`make
//! ffi-header` refreshes the committed copy).

use std::path::PathBuf;

fn main() {
    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("manifest dir"));
    let include = crate_dir.join("../c-core/include");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    println!("cargo:rerun-if-changed=../c-core/include");
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");

    bindgen::Builder::default()
        .header(include.join("bindings.h").to_string_lossy())
        .allowlist_function("molt_.*")
        .allowlist_type("molt_.*")
        .allowlist_var("MOLT_.*")
        // One Rust type per C enum, so a storage status cannot be returned
        // where an I/O status is expected.
        .default_enum_style(bindgen::EnumVariation::NewType {
            is_bitfield: false,
            is_global: false,
        })
        .layout_tests(true)
        .generate()
        .expect("bindgen over c-core/include/bindings.h")
        .write_to_file(out.join("sys.rs"))
        .expect("writing sys.rs");

    let config =
        cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml");
    cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen over ffi/src")
        .write_to_file(out.join("molt_ffi.h"));
}
