//! The one place the root crate calls C: molt-ffi's bindgen view of
//! c-core's headers (`molt_ffi::sys`), wrapped in a safe API. The C storage
//! engines appear as one more implementation of the safe storage trait
//! (`storage::Storage`): molt-ffi's `CStorage`, re-exported here, is the one
//! wrapper of storage.h (the Rust protocol uses it too). Everything else in
//! the workspace (tests, benches, main) uses this safe API.

use molt_ffi::sys;
use std::ffi::{CString, OsString};
use std::os::raw::{c_char, c_int};

pub use molt_ffi::c_storage::{engines, CStorage, StorageConfig};

/// Runs the C server's `molt_main` with these arguments (argv[0] included)
/// and returns its exit status.
pub fn run_c_main<I: IntoIterator<Item = OsString>>(args: I) -> i32 {
    use std::os::unix::ffi::OsStringExt;
    let owned: Vec<CString> = args
        .into_iter()
        .map(|a| {
            // An interior NUL cannot be passed through argv; C would have
            // seen the argument cut there, so cut it the same way.
            let mut bytes = a.into_vec();
            if let Some(nul) = bytes.iter().position(|&b| b == 0) {
                bytes.truncate(nul);
            }
            CString::new(bytes).expect("NUL removed above")
        })
        .collect();
    let mut argv: Vec<*mut c_char> = owned.iter().map(|s| s.as_ptr() as *mut c_char).collect();
    argv.push(std::ptr::null_mut());
    let argc = c_int::try_from(owned.len()).expect("argument count fits in int");
    // SAFETY: argv holds argc pointers to NUL-terminated strings that `owned`
    // keeps alive for the whole call, followed by a NULL, as C's main expects.
    // molt_main does not keep the pointers after it returns.
    unsafe { sys::molt_main(argc, argv.as_mut_ptr()) }
}
