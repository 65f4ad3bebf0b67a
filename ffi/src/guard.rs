//! The checks every export makes: pointers first, then the body under
//! `catch_unwind`, so a Rust panic becomes MOLT_INTERNAL instead of
//! unwinding into C.

use crate::seam_types::{molt_status, MOLT_INTERNAL};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs `body`, mapping a panic to MOLT_INTERNAL.
pub fn guarded(body: impl FnOnce() -> molt_status) -> molt_status {
    guarded_or(MOLT_INTERNAL, body)
}

/// Runs `body`, mapping a panic to `on_panic`.
pub fn guarded_or<T>(on_panic: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(on_panic)
}

/// Runs `body` for its effect, swallowing a panic (for exports with no
/// result code: they must still not unwind into C).
pub fn guarded_void(body: impl FnOnce()) {
    guarded_or((), body)
}
