//! The checks every export makes, written once: the body runs under
//! `catch_unwind` ([`boundary`]), so a panic becomes the seam's internal
//! status instead of unwinding into C, and pointer arguments are taken with
//! the `arg!` macro, which returns the seam's "invalid argument" status
//! from the export for a NULL pointer.

use crate::sys::{molt_config_status, molt_io_status, molt_status};
use std::mem::MaybeUninit;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// What an export of one seam answers when it refuses its arguments or
/// its body panicked.
pub(crate) trait Refusal {
    /// A NULL (or otherwise unusable) pointer argument.
    fn invalid() -> Self;
    /// A panic caught at the boundary.
    fn panicked() -> Self;
}

impl Refusal for molt_status {
    fn invalid() -> Self {
        molt_status::MOLT_INVALID
    }
    fn panicked() -> Self {
        molt_status::MOLT_INTERNAL
    }
}

impl Refusal for molt_io_status {
    fn invalid() -> Self {
        molt_io_status::MOLT_IO_ERROR
    }
    fn panicked() -> Self {
        molt_io_status::MOLT_IO_ERROR
    }
}

impl Refusal for molt_config_status {
    fn invalid() -> Self {
        molt_config_status::MOLT_CONFIG_INVALID
    }
    fn panicked() -> Self {
        molt_config_status::MOLT_CONFIG_INTERNAL
    }
}

/// Exports with no result (`_free`, `detach`, counters): nothing to report.
impl Refusal for () {
    fn invalid() -> Self {}
    fn panicked() -> Self {}
}

/// A byte count (`pending`): nothing is pending on a refused call.
impl Refusal for usize {
    fn invalid() -> Self {
        0
    }
    fn panicked() -> Self {
        0
    }
}

/// An output pointer as a pointer to possibly uninitialised memory (what
/// C hands in), so results are written without reading the old contents.
pub(crate) fn uninit<T>(p: *mut T) -> *mut MaybeUninit<T> {
    p.cast()
}

/// Runs an export's body, mapping a panic to the seam's internal status.
/// Inlined into each export, so the body's arguments stay in registers
/// rather than being passed through a closure's captures.
#[inline(always)]
pub(crate) fn boundary<T: Refusal>(body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|_| T::panicked())
}

/// Takes a pointer argument of the enclosing export, returning
/// `Refusal::invalid()` from it when the pointer is NULL:
/// - `arg!(ref p)` / `arg!(mut p)`: `&T` / `&mut T` behind `p`;
/// - `arg!(out p)`: `&mut MaybeUninit<T>` to write a result through;
/// - `arg!(opt_out p)`: `Option<&mut MaybeUninit<T>>` (NULL: not wanted);
/// - `arg!(bytes p, len)`: `&[u8]` (NULL allowed when len is 0);
/// - `arg!(opt_buf p, len)`: `Option<&mut [MaybeUninit<T>]>` to write up to
///   len elements into (NULL or len 0: no buffer);
/// - `arg!(str p)`: a NUL-terminated C string as `&CStr`;
/// - `arg!(opt_str p)`: `Option<&CStr>` (NULL: not given);
/// - `arg!(some f)`: a function pointer that must be present.
///
/// Every export's `# Safety` section makes the same promise for its
/// pointer arguments: NULL, or valid for the access named here (a handle:
/// live, from its `_new`) for the duration of the call. The one `unsafe`
/// block per form below relies on exactly that promise.
macro_rules! arg {
    (ref $p:expr) => {
        // SAFETY: the export's contract: a non-NULL pointer is valid for
        // reads (a handle: live) for the duration of the call.
        match unsafe { $p.as_ref() } {
            Some(r) => r,
            None => return $crate::guard::Refusal::invalid(),
        }
    };
    (mut $p:expr) => {
        // SAFETY: the export's contract: a non-NULL pointer is valid for
        // reads and writes, used by this call alone, for its duration.
        match unsafe { $p.as_mut() } {
            Some(r) => r,
            None => return $crate::guard::Refusal::invalid(),
        }
    };
    (out $p:expr) => {
        // SAFETY: the export's contract: a non-NULL output is valid for a
        // write of its type; MaybeUninit makes no claim on its contents.
        match unsafe { $crate::guard::uninit($p).as_mut() } {
            Some(r) => r,
            None => return $crate::guard::Refusal::invalid(),
        }
    };
    (opt_out $p:expr) => {
        // SAFETY: as `out`; NULL means the caller does not want the value.
        unsafe { $crate::guard::uninit($p).as_mut() }
    };
    (bytes $p:expr, $len:expr) => {
        match ($p, $len) {
            (_, 0) => &[][..],
            (p, _) if p.is_null() => return $crate::guard::Refusal::invalid(),
            // SAFETY: the export's contract: a non-NULL buffer is valid for
            // reads of its length for the duration of the call.
            (p, n) => unsafe { ::std::slice::from_raw_parts(p, n) },
        }
    };
    (opt_buf $p:expr, $len:expr) => {
        match ($p, $len) {
            (p, n) if p.is_null() || n == 0 => None,
            // SAFETY: the export's contract: a non-NULL buffer is valid for
            // writes of its length for the duration of the call.
            (p, n) => {
                Some(unsafe { ::std::slice::from_raw_parts_mut($crate::guard::uninit(p), n) })
            }
        }
    };
    (str $p:expr) => {
        match $p {
            p if p.is_null() => return $crate::guard::Refusal::invalid(),
            // SAFETY: the export's contract: a non-NULL string is
            // NUL-terminated and valid for the duration of the call.
            p => unsafe { ::std::ffi::CStr::from_ptr(p) },
        }
    };
    (opt_str $p:expr) => {
        match $p {
            p if p.is_null() => None,
            // SAFETY: as `str`.
            p => Some(unsafe { ::std::ffi::CStr::from_ptr(p) }),
        }
    };
    (some $f:expr) => {
        match $f {
            Some(f) => f,
            None => return $crate::guard::Refusal::invalid(),
        }
    };
}
pub(crate) use arg;
