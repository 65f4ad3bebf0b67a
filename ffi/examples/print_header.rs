//! Prints the header cbindgen generated in this build (`make ffi-header`
//! writes it to ffi/include/molt_ffi.h).
fn main() {
    print!("{}", molt_ffi::GENERATED_HEADER);
}
