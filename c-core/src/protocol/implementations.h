/* protocol/implementations.h - the protocol implementations the registry in
 * registry.c can open. */
#ifndef MOLT_PROTO_IMPLEMENTATIONS_H
#define MOLT_PROTO_IMPLEMENTATIONS_H

#include "protocol.h"

/* memcached's text and meta protocols in C (session.c). */
extern const molt_protocol_ops molt_protocol_c_ops;

#ifdef MOLT_WITH_RUST_PROTOCOL
/* The same protocols in Rust (c-core/mixed/protocol_rust.c; mixed build). */
extern const molt_protocol_ops molt_protocol_rust_ops;
#endif

#endif
