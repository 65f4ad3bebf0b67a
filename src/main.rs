//! The mixed binary: the C core runs the server; Rust parts plug in behind
//! its seams. argv goes to the C entry point unchanged.

fn main() {
    std::process::exit(molt::run_c_main(std::env::args_os()));
}
