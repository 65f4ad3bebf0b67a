/* transport/impl.h - what a transport implementation registers with. */
#ifndef MOLT_TRANSPORT_IMPL_H
#define MOLT_TRANSPORT_IMPL_H

#include "transport.h"

struct molt_transport {
    const molt_transport_ops *ops;
    void *self;
};

/* Wrap an implementation's table and state in a handle (NULL on OOM). */
molt_transport *transport_wrap(const molt_transport_ops *ops, void *self);

#ifdef MOLT_WITH_TLS
/* Rust TLS (c-core/mixed/transport_tls.c -> ffi -> rust/tls). */
molt_transport *molt_transport_tls_new(const molt_transport_config *cfg,
                                       char *err, size_t err_len);
#endif

#endif
