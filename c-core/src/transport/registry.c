/* transport/registry.c - dispatch behind transport.h. */
#include "transport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transport/impl.h"

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

molt_transport *molt_transport_open(const char *name,
                                    const molt_transport_config *cfg,
                                    char *err, size_t err_len) {
    if (name == NULL || strcmp(name, "tcp") == 0) {
        molt_transport *t = molt_transport_tcp_new();
        if (t == NULL) snprintf(err, err_len, "out of memory");
        return t;
    }
#ifdef MOLT_WITH_TLS
    if (strcmp(name, "tls") == 0) return molt_transport_tls_new(cfg, err, err_len);
#else
    (void)cfg;
#endif
    snprintf(err, err_len, "unknown transport '%s'", name);
    return NULL;
}

int molt_transport_needs_rust(const char *name) {
#ifdef MOLT_WITH_TLS
    (void)name;
    return 0;
#else
    return name != NULL && strcmp(name, "tls") == 0;
#endif
}

int molt_transport_reload(molt_transport *t, char *err, size_t err_len) {
    if (t == NULL || t->ops->reload == NULL) return 0;
    return t->ops->reload(t->self, err, err_len) == MOLT_CONFIG_OK ? 0 : -1;
}

void molt_transport_stats_read(molt_transport *t, molt_transport_stats *out) {
    if (out == NULL) return;
    memset(out, 0, sizeof(*out));
    if (t != NULL && t->ops->stats != NULL) t->ops->stats(t->self, out);
}

void molt_transport_note_handshake_timeout(molt_transport *t) {
    if (t != NULL && t->ops->handshake_timed_out != NULL)
        t->ops->handshake_timed_out(t->self);
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

molt_io_status molt_transport_shutdown_write(molt_transport_conn *c) {
    return c ? c->ops->shutdown_write(c->state) : MOLT_IO_ERROR;
}

void molt_transport_detach(molt_transport_conn *c) {
    if (c == NULL) return;
    c->ops->detach(c->state);
    free(c);
}
