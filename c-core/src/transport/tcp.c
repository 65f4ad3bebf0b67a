/* transport/tcp.c - plain TCP behind transport.h. The per-connection state
 * is the socket itself, so attaching allocates nothing beyond the wrapper. */
#include <errno.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport/impl.h"

static void *fd_to_state(int fd) { return (void *)(intptr_t)(fd + 1); }
static int state_to_fd(void *s) { return (int)(intptr_t)s - 1; }

static molt_io_status tcp_attach(void *self, int fd, void **conn_out) {
    (void)self;
    *conn_out = fd_to_state(fd);
    return MOLT_IO_OK;
}

static molt_io_status tcp_handshake(void *conn) {
    (void)conn;
    return MOLT_IO_OK;
}

static molt_io_status tcp_read(void *conn, unsigned char *buf, size_t len,
                               size_t *n_out) {
    for (;;) {
        ssize_t n = recv(state_to_fd(conn), buf, len, 0);
        if (n > 0) {
            *n_out = (size_t)n;
            return MOLT_IO_OK;
        }
        if (n == 0) return MOLT_IO_EOF;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return MOLT_IO_WANT_READ;
        return MOLT_IO_ERROR;
    }
}

static molt_io_status tcp_write(void *conn, const unsigned char *buf,
                                size_t len, size_t *n_out) {
    for (;;) {
        ssize_t n = send(state_to_fd(conn), buf, len, MSG_NOSIGNAL);
        if (n >= 0) {
            *n_out = (size_t)n;
            return MOLT_IO_OK;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return MOLT_IO_WANT_WRITE;
        return MOLT_IO_ERROR;
    }
}

static molt_io_status tcp_flush(void *conn) {
    (void)conn;
    return MOLT_IO_OK;
}

static size_t tcp_pending(void *conn) {
    (void)conn;
    return 0;
}

static molt_io_status tcp_shutdown_write(void *conn) {
    return shutdown(state_to_fd(conn), SHUT_WR) == 0 ? MOLT_IO_OK : MOLT_IO_ERROR;
}

static void tcp_detach(void *conn) { close(state_to_fd(conn)); }

static const molt_transport_ops tcp_ops = {
    .name = "tcp",
    .attach = tcp_attach,
    .handshake = tcp_handshake,
    .read = tcp_read,
    .write = tcp_write,
    .flush = tcp_flush,
    .pending = tcp_pending,
    .shutdown_write = tcp_shutdown_write,
    .detach = tcp_detach,
    .destroy = NULL,
    .reload = NULL,
    .stats = NULL,
    .handshake_timed_out = NULL,
};

molt_transport *molt_transport_tcp_new(void) {
    return transport_wrap(&tcp_ops, NULL);
}
