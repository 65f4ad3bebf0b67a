/* transport.h - the per-connection I/O seam.
 *
 * The event loop moves bytes only through these functions, so an encrypted
 * transport (TLS, in Rust) can replace plain TCP without the loop, the
 * protocol or storage changing. All calls are non-blocking: an operation that
 * cannot progress returns MOLT_IO_WANT_READ or MOLT_IO_WANT_WRITE and the
 * loop waits for that readiness on the connection's socket before calling
 * again. A transport may want to write while reading (handshake, key update)
 * and the reverse.
 *
 * Read by bindgen: no static inline code and no function-like macros here.
 */
#ifndef MOLT_TRANSPORT_H
#define MOLT_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What a transport needs to start (TLS: PEM files; plain TCP: nothing). */
typedef struct molt_transport_config {
    const char *cert_file; /* certificate chain */
    const char *key_file;  /* private key */
    const char *ca_file;   /* if set, client certificates signed by it are
                              required (mutual TLS) */
} molt_transport_config;

/* Counters a transport keeps (all zero for plain TCP). */
typedef struct molt_transport_stats {
    uint64_t handshakes;       /* completed */
    uint64_t handshake_errors; /* failed or timed out */
    uint64_t resumed;          /* completed by session resumption */
    uint64_t reloads;          /* certificate reloads that took effect */
    uint64_t reload_errors;    /* reloads refused (old config kept) */
} molt_transport_stats;

typedef enum molt_io_status {
    MOLT_IO_OK = 0,         /* progress made (or handshake complete) */
    MOLT_IO_WANT_READ = 1,  /* retry once the socket is readable */
    MOLT_IO_WANT_WRITE = 2, /* retry once the socket is writable */
    MOLT_IO_EOF = 3,        /* the peer closed cleanly */
    MOLT_IO_ERROR = 4       /* fatal for this connection */
} molt_io_status;

/* Result of loading a transport's configuration (TLS: certificates at open
 * and at reload); its own domain, apart from per-connection I/O. */
typedef enum molt_config_status {
    MOLT_CONFIG_OK = 0,
    MOLT_CONFIG_INVALID = 1,  /* bad argument: NULL pointer, no cert/key file */
    MOLT_CONFIG_REFUSED = 2,  /* a file unreadable or unusable (message in err) */
    MOLT_CONFIG_INTERNAL = 3  /* transport failure (e.g. a caught panic) */
} molt_config_status;

/* One transport implementation. `conn` is the transport's per-connection
 * state, created by `attach` and released by `detach`. */
typedef struct molt_transport_ops {
    const char *name;
    /* Take over accepted socket `fd` (already non-blocking). */
    molt_io_status (*attach)(void *self, int fd, void **conn_out);
    /* Advance the handshake; MOLT_IO_OK once application data may flow. */
    molt_io_status (*handshake)(void *conn);
    /* Read up to len bytes of application data; *n_out set on MOLT_IO_OK. */
    molt_io_status (*read)(void *conn, unsigned char *buf, size_t len,
                           size_t *n_out);
    /* Write up to len bytes; *n_out set on MOLT_IO_OK (may be short). */
    molt_io_status (*write)(void *conn, const unsigned char *buf, size_t len,
                            size_t *n_out);
    /* Push out anything the transport buffered itself (TLS records). */
    molt_io_status (*flush)(void *conn);
    /* Bytes of application data already decrypted/buffered inside the
     * transport, readable without the socket becoming readable again. */
    size_t (*pending)(void *conn);
    /* End the sending direction (TLS: close_notify, then a TCP half-close)
     * while still reading, so the peer sees every reply and then EOF. */
    molt_io_status (*shutdown_write)(void *conn);
    /* Send a polite close if the transport has one, release the per-
     * connection state and close the socket. NULL is a no-op. */
    void (*detach)(void *conn);
    /* Release the transport itself. */
    void (*destroy)(void *self);
    /* Re-read certificates for new connections; open ones keep theirs.
     * On failure a message is in err and the old config stays. NULL when
     * the transport has nothing to reload. */
    molt_config_status (*reload)(void *self, char *err, size_t err_len);
    /* Counters; NULL when the transport keeps none. */
    void (*stats)(void *self, molt_transport_stats *out);
    /* Count a handshake abandoned by the event loop (timed out). */
    void (*handshake_timed_out)(void *self);
} molt_transport_ops;

typedef struct molt_transport molt_transport;
typedef struct molt_transport_conn molt_transport_conn;

/* Open transport `name` ("tcp"; "tls" in the mixed build). Returns NULL
 * with a message in err (naming the file at fault, for TLS). */
molt_transport *molt_transport_open(const char *name,
                                    const molt_transport_config *cfg,
                                    char *err, size_t err_len);
/* Non-zero when `name` is a transport this binary lacks because it is built
 * without Rust (the C-only molt-c). */
int molt_transport_needs_rust(const char *name);
/* Plain TCP. Returns NULL only if allocation fails. */
molt_transport *molt_transport_tcp_new(void);
/* Release; NULL is a no-op. */
void molt_transport_free(molt_transport *t);
const char *molt_transport_name(const molt_transport *t);
/* See molt_transport_ops.reload: 0, or -1 with a message in err; plain TCP
 * answers 0 (nothing to do). */
int molt_transport_reload(molt_transport *t, char *err, size_t err_len);
/* Fills out (zeros when the transport keeps no counters). */
void molt_transport_stats_read(molt_transport *t, molt_transport_stats *out);
void molt_transport_note_handshake_timeout(molt_transport *t);

/* Per-connection calls, dispatched through the transport's table. */
molt_io_status molt_transport_attach(molt_transport *t, int fd,
                                     molt_transport_conn **conn_out);
molt_io_status molt_transport_handshake(molt_transport_conn *c);
molt_io_status molt_transport_read(molt_transport_conn *c, unsigned char *buf,
                                   size_t len, size_t *n_out);
molt_io_status molt_transport_write(molt_transport_conn *c,
                                    const unsigned char *buf, size_t len,
                                    size_t *n_out);
molt_io_status molt_transport_flush(molt_transport_conn *c);
size_t molt_transport_pending(const molt_transport_conn *c);
molt_io_status molt_transport_shutdown_write(molt_transport_conn *c);
void molt_transport_detach(molt_transport_conn *c);

#ifdef __cplusplus
}
#endif
#endif
