//! bindgen: the C seam types (storage.h, transport.h) the exports use, so no Rust copy of
//! a C type is written by hand. cbindgen: the header C includes to reach the
//! exports, written to OUT_DIR; a test keeps ffi/include/molt_ffi.h equal to
//! it (`make ffi-header` refreshes the committed copy).

use std::path::PathBuf;

fn main() {
    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("manifest dir"));
    let include = crate_dir.join("../c-core/include");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    println!("cargo:rerun-if-changed=../c-core/include/storage.h");
    println!("cargo:rerun-if-changed=../c-core/include/transport.h");
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");

    bindgen::Builder::default()
        .header(include.join("storage.h").to_string_lossy())
        .header(include.join("transport.h").to_string_lossy())
        .allowlist_type("molt_.*")
        .allowlist_var("MOLT_KEY_MAX")
        .default_enum_style(bindgen::EnumVariation::Consts)
        .prepend_enum_name(false)
        .generate()
        .expect("bindgen over c-core/include/storage.h and transport.h")
        .write_to_file(out.join("seam_types.rs"))
        .expect("writing seam_types.rs");

    let config =
        cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml");
    cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen over ffi/src")
        .write_to_file(out.join("molt_ffi.h"));
}
