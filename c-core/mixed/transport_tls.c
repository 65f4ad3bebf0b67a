/* transport_tls.c - the Rust TLS transport (ffi/, rust/tls) as a
 * transport.h implementation. Mixed build only. */
#include "molt_ffi.h"
#include "transport.h"
#include "transport/impl.h"

static molt_io_status tls_attach(void *self, int fd, void **conn_out) {
    molt_tls_conn *c = NULL;
    molt_io_status st = molt_tls_attach(self, fd, &c);
    if (st == MOLT_IO_OK) *conn_out = c;
    return st;
}

static molt_io_status tls_handshake(void *conn) { return molt_tls_handshake(conn); }

static molt_io_status tls_read(void *conn, unsigned char *buf, size_t len,
                               size_t *n_out) {
    return molt_tls_read(conn, buf, len, n_out);
}

static molt_io_status tls_write(void *conn, const unsigned char *buf,
                                size_t len, size_t *n_out) {
    return molt_tls_write(conn, buf, len, n_out);
}

static molt_io_status tls_flush(void *conn) { return molt_tls_flush(conn); }

static size_t tls_pending(void *conn) { return molt_tls_pending(conn); }

static molt_io_status tls_shutdown_write(void *conn) {
    return molt_tls_shutdown_write(conn);
}

static void tls_detach(void *conn) { molt_tls_detach(conn); }

static void tls_destroy(void *self) { molt_tls_free(self); }

static int tls_reload(void *self, char *err, size_t err_len) {
    return molt_tls_reload(self, err, err_len);
}

static void tls_stats(void *self, molt_transport_stats *out) {
    molt_tls_stats(self, out);
}

static void tls_handshake_timed_out(void *self) {
    molt_tls_note_handshake_timeout(self);
}

static const molt_transport_ops tls_ops = {
    .name = "tls",
    .attach = tls_attach,
    .handshake = tls_handshake,
    .read = tls_read,
    .write = tls_write,
    .flush = tls_flush,
    .pending = tls_pending,
    .shutdown_write = tls_shutdown_write,
    .detach = tls_detach,
    .destroy = tls_destroy,
    .reload = tls_reload,
    .stats = tls_stats,
    .handshake_timed_out = tls_handshake_timed_out,
};

molt_transport *molt_transport_tls_new(const molt_transport_config *cfg,
                                       char *err, size_t err_len) {
    molt_tls *tls = NULL;
    if (molt_tls_new(cfg->cert_file, cfg->key_file, cfg->ca_file, err, err_len,
                     &tls) != MOLT_IO_OK)
        return NULL;
    molt_transport *t = transport_wrap(&tls_ops, tls);
    if (t == NULL) molt_tls_free(tls);
    return t;
}
