//! Compiles the C core with `cc` (same flags as the C-only build: both read
//! c-core/cflags.txt). Rust's view of the C headers is molt-ffi's one
//! bindgen run (`molt_ffi::sys`), not generated again here.

use std::fs;
use std::path::{Path, PathBuf};

/// C sources that belong to the C-only binary's `main()` and not to the
/// library the mixed binary links.
const C_ONLY_SOURCES: &[&str] = &["main_c.c"];

fn c_sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            c_sources(&path, out);
        } else if path.extension().is_some_and(|x| x == "c") {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if !C_ONLY_SOURCES.contains(&name) {
                out.push(path);
            }
        }
    }
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("manifest dir"));
    let core = root.join("c-core");
    println!("cargo:rerun-if-changed=c-core");

    let cflags = fs::read_to_string(core.join("cflags.txt")).expect("c-core/cflags.txt");
    let mut build = cc::Build::new();
    // cflags.txt carries the optimisation level; keep cc's own out of the way.
    build.opt_level(2).debug(true).warnings(false);
    for flag in cflags.split_whitespace() {
        build.flag(flag);
    }
    let mut sources = Vec::new();
    c_sources(&core.join("src"), &mut sources);
    // The mixed build adds the glue that puts Rust parts behind the seams;
    // the C code reaches them through the cbindgen header.
    c_sources(&core.join("mixed"), &mut sources);
    build
        .files(&sources)
        .include(core.join("include"))
        .include(core.join("src"))
        .include(root.join("ffi/include"))
        .define("MOLT_WITH_SEG", None)
        .define("MOLT_WITH_TLS", None)
        .define("MOLT_WITH_RUST_PROTOCOL", None)
        .compile("moltcore");
    println!("cargo:rustc-link-lib=pthread");
}
