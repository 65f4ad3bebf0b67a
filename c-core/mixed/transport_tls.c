/* transport_tls.c - the Rust TLS transport (ffi/, rust/tls) as a
 * transport.h implementation. Mixed build only. The ffi exports take
 * `void *` as the table's slots do, so the table points at them directly. */
#include "molt_ffi.h"
#include "transport.h"
#include "transport/impl.h"

static const molt_transport_ops tls_ops = {
    .name = "tls",
    .attach = molt_tls_attach,
    .handshake = molt_tls_handshake,
    .read = molt_tls_read,
    .write = molt_tls_write,
    .flush = molt_tls_flush,
    .pending = molt_tls_pending,
    .shutdown_write = molt_tls_shutdown_write,
    .detach = molt_tls_detach,
    .destroy = molt_tls_free,
    .reload = molt_tls_reload,
    .stats = molt_tls_stats,
    .handshake_timed_out = molt_tls_note_handshake_timeout,
};

molt_transport *molt_transport_tls_new(const molt_transport_config *cfg,
                                       char *err, size_t err_len) {
    void *tls = NULL;
    if (molt_tls_new(cfg->cert_file, cfg->key_file, cfg->ca_file, err, err_len,
                     &tls) != MOLT_CONFIG_OK)
        return NULL;
    molt_transport *t = transport_wrap(&tls_ops, tls);
    if (t == NULL) molt_tls_free(tls);
    return t;
}
