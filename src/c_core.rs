//! The one place the root crate calls C: molt-ffi's bindgen view of
//! c-core's headers (`molt_ffi::sys`), wrapped in a safe API. The C storage
//! engines appear as one more implementation of the safe storage trait
//! (`storage::Storage`): molt-ffi's `CStorage`, re-exported here, is the one
//! wrapper of storage.h (the Rust protocol uses it too). Everything else in
//! the workspace (tests, benches, main) uses this safe API.

use molt_ffi::convert::{c_names, check};
use molt_ffi::sys;
use std::ffi::{CString, OsString};
use std::os::raw::{c_char, c_int, c_void};
use std::ptr::NonNull;
use storage::Error;

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

// ---- protocol.h in process ------------------------------------------------

/// A protocol.h implementation opened by name through the C registry ("c",
/// "rust"), run in process over a [`CStorage`]: what the protocol suites,
/// fuzzers and benches drive without a socket.
pub struct CProtocol {
    raw: NonNull<sys::molt_protocol>,
}

/// The names `molt_protocol_open` knows in this binary.
pub fn protocols() -> Vec<String> {
    // SAFETY: molt_protocol_names returns a static, NULL-terminated array of
    // static NUL-terminated strings.
    unsafe { c_names(sys::molt_protocol_names()) }
}

impl CProtocol {
    /// Opens implementation `name`.
    pub fn open(name: &str) -> Result<CProtocol, Error> {
        let cname = CString::new(name).map_err(|_| Error::Invalid)?;
        let mut out: *mut sys::molt_protocol = std::ptr::null_mut();
        // SAFETY: cname is a valid C string; out a valid place for the handle.
        check(unsafe { sys::molt_protocol_open(cname.as_ptr(), &mut out) })?;
        NonNull::new(out)
            .map(|raw| CProtocol { raw })
            .ok_or(Error::Internal)
    }

    /// A connection's session of this implementation.
    pub fn session(&self) -> Result<CProtocolSession<'_>, Error> {
        let mut out: *mut sys::molt_protocol_session = std::ptr::null_mut();
        // SAFETY: the handle is live; out a valid place for the session.
        check(unsafe { sys::molt_protocol_session_new(self.raw.as_ptr(), &mut out) })?;
        let raw = NonNull::new(out).ok_or(Error::Internal)?;
        Ok(CProtocolSession {
            raw,
            out: sys::molt_buf {
                data: std::ptr::null_mut(),
                start: 0,
                end: 0,
                cap: 0,
            },
            counters: Box::new(sys::molt_counters { value: [0; 22] }),
            _protocol: std::marker::PhantomData,
        })
    }
}

impl Drop for CProtocol {
    fn drop(&mut self) {
        // SAFETY: from molt_protocol_open, freed once; the sessions borrow
        // self, so they are gone.
        unsafe { sys::molt_protocol_free(self.raw.as_ptr()) }
    }
}

/// One connection's session, with its own output buffer and counters.
pub struct CProtocolSession<'p> {
    raw: NonNull<sys::molt_protocol_session>,
    out: sys::molt_buf,
    counters: Box<sys::molt_counters>,
    _protocol: std::marker::PhantomData<&'p CProtocol>,
}

/// The in-process host: `stats` answers a bare END, no group is known,
/// verbosity and reset do nothing, there is no TLS.
mod in_process_host {
    use super::sys;
    use std::os::raw::{c_char, c_int, c_void};

    unsafe extern "C" fn stats(
        _: *mut c_void,
        _: i64,
        out: *mut sys::molt_buf,
        limit: usize,
    ) -> c_int {
        // SAFETY: out is the session's buffer, valid for the call.
        unsafe { sys::molt_buf_append(out, b"END\r\n".as_ptr().cast(), 5, limit) }
    }
    unsafe extern "C" fn stats_group(
        _: *mut c_void,
        _: *const c_char,
        _: usize,
        _: i64,
        _: *mut sys::molt_buf,
        _: usize,
    ) -> c_int {
        -2
    }
    unsafe extern "C" fn stats_reset(_: *mut c_void, _: i64) {}
    unsafe extern "C" fn set_verbosity(_: *mut c_void, _: u32) {}
    unsafe extern "C" fn refresh_certs(
        _: *mut c_void,
        _: *mut c_char,
        _: usize,
    ) -> sys::molt_certs_result {
        sys::molt_certs_result::MOLT_CERTS_NO_TLS
    }

    pub const HOST: sys::molt_protocol_host = sys::molt_protocol_host {
        self_: std::ptr::null_mut(),
        stats: Some(stats),
        stats_group: Some(stats_group),
        stats_reset: Some(stats_reset),
        set_verbosity: Some(set_verbosity),
        refresh_certs: Some(refresh_certs),
    };
}

/// What one [`CProtocolSession::process`] call answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProtocolResult {
    pub status: sys::molt_protocol_status,
    pub consumed: usize,
    pub need: usize,
}

impl CProtocolSession<'_> {
    /// One process call over `input` (every unconsumed byte) at time
    /// `now`; replies accumulate in [`CProtocolSession::output`].
    pub fn process(
        &mut self,
        storage: &CStorage,
        now: i64,
        limits: sys::molt_protocol_limits,
        input: &[u8],
    ) -> ProtocolResult {
        let host = in_process_host::HOST;
        let ctx = sys::molt_protocol_ctx {
            storage: storage.as_raw().as_ptr(),
            now,
            counters: &mut *self.counters,
            limits,
            host: &host,
        };
        let mut progress = sys::molt_protocol_progress {
            consumed: 0,
            need: 0,
        };
        // SAFETY: the session is live; ctx and everything it points at
        // (storage, counters, host) outlive the call; input is valid for
        // its length; out is this session's buffer; progress is writable.
        let status = unsafe {
            sys::molt_protocol_process(
                self.raw.as_ptr(),
                &ctx,
                input.as_ptr().cast(),
                input.len(),
                &mut self.out,
                &mut progress,
            )
        };
        ProtocolResult {
            status,
            consumed: progress.consumed,
            need: progress.need,
        }
    }

    /// The replies queued so far.
    pub fn output(&self) -> &[u8] {
        if self.out.data.is_null() {
            return &[];
        }
        // SAFETY: [start, end) of data holds the queued bytes.
        unsafe {
            std::slice::from_raw_parts(
                self.out.data.add(self.out.start).cast::<u8>(),
                self.out.end - self.out.start,
            )
        }
    }

    /// Hands the queued replies to the caller (as the socket would take
    /// them).
    pub fn take_output(&mut self) -> Vec<u8> {
        let v = self.output().to_vec();
        self.out.start = self.out.end;
        v
    }

    /// A counter's value (protocol.h `molt_counter`).
    pub fn counter(&self, which: sys::molt_counter) -> u64 {
        // SAFETY: the session's own counters, written only by its calls.
        unsafe { sys::molt_counters_get(&*self.counters, which) }
    }
}

extern "C" {
    /// The C allocator's free: molt_buf_reserve grows the output with
    /// realloc.
    fn free(p: *mut c_void);
}

impl Drop for CProtocolSession<'_> {
    fn drop(&mut self) {
        // SAFETY: the session came from molt_protocol_session_new and is
        // freed once; the buffer's data is NULL or from realloc.
        unsafe {
            sys::molt_protocol_session_free(self.raw.as_ptr());
            free(self.out.data.cast());
        }
    }
}
