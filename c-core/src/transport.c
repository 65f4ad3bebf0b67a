/* transport.c - dispatch behind transport.h. */
#include "transport.h"

#include <stdlib.h>

#include "transport_impl.h"

struct molt_transport_conn {
    const molt_transport_ops *ops;
    void *state;
};

molt_transport *transport_wrap(const molt_transport_ops *ops, void *self) {
    molt_transport *t = malloc(sizeof(*t));
    if (t == NULL) return NULL;
    t->ops = ops;
    t->self = self;
    return t;
}

void molt_transport_free(molt_transport *t) {
    if (t == NULL) return;
    if (t->ops->destroy) t->ops->destroy(t->self);
    free(t);
}

const char *molt_transport_name(const molt_transport *t) {
    return t ? t->ops->name : NULL;
}

molt_io_status molt_transport_attach(molt_transport *t, int fd,
                                     molt_transport_conn **conn_out) {
    if (t == NULL || conn_out == NULL || fd < 0) return MOLT_IO_ERROR;
    molt_transport_conn *c = malloc(sizeof(*c));
    if (c == NULL) return MOLT_IO_ERROR;
    c->ops = t->ops;
    molt_io_status st = t->ops->attach(t->self, fd, &c->state);
    if (st != MOLT_IO_OK) {
        free(c);
        return st;
    }
    *conn_out = c;
    return MOLT_IO_OK;
}

molt_io_status molt_transport_handshake(molt_transport_conn *c) {
    return c ? c->ops->handshake(c->state) : MOLT_IO_ERROR;
}

molt_io_status molt_transport_read(molt_transport_conn *c, unsigned char *buf,
                                   size_t len, size_t *n_out) {
    if (c == NULL || buf == NULL || n_out == NULL) return MOLT_IO_ERROR;
    return c->ops->read(c->state, buf, len, n_out);
}

molt_io_status molt_transport_write(molt_transport_conn *c,
                                    const unsigned char *buf, size_t len,
                                    size_t *n_out) {
    if (c == NULL || buf == NULL || n_out == NULL) return MOLT_IO_ERROR;
    return c->ops->write(c->state, buf, len, n_out);
}

molt_io_status molt_transport_flush(molt_transport_conn *c) {
    return c ? c->ops->flush(c->state) : MOLT_IO_ERROR;
}

size_t molt_transport_pending(const molt_transport_conn *c) {
    return c ? c->ops->pending(c->state) : 0;
}

void molt_transport_detach(molt_transport_conn *c) {
    if (c == NULL) return;
    c->ops->detach(c->state);
    free(c);
}
