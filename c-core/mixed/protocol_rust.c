/* protocol_rust.c - the Rust protocol (ffi/src/protocol.rs, rust/protocol)
 * as a protocol.h implementation, "rust". Mixed build only: the C-only
 * build has no Rust to call. The ffi exports have the slots' exact shape,
 * so the table points at them directly. */
#include "molt_ffi.h"
#include "protocol.h"
#include "protocol/implementations.h"

const molt_protocol_ops molt_protocol_rust_ops = {
    .name = "rust",
    .session_new = molt_rust_protocol_session_new,
    .session_free = molt_rust_protocol_session_free,
    .process = molt_rust_protocol_process,
};
