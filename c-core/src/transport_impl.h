/* transport_impl.h - what a transport implementation registers with. */
#ifndef MOLT_TRANSPORT_IMPL_H
#define MOLT_TRANSPORT_IMPL_H

#include "transport.h"

struct molt_transport {
    const molt_transport_ops *ops;
    void *self;
};

/* Wrap an implementation's table and state in a handle (NULL on OOM). */
molt_transport *transport_wrap(const molt_transport_ops *ops, void *self);

#endif
