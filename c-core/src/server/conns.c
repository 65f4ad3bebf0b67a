/* conns.c - `stats conns` (see conns.h).
 *
 * What another worker's connection is doing at this instant belongs to
 * that worker's thread, so only what is safe to read is reported: the
 * address (fixed at accept), the time of its last command (a relaxed
 * atomic) and its state as far as this thread knows it: conn_parse_cmd
 * for the connection asking, conn_read (waiting for a command) for the
 * others. */
#include "server/conns.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "server/conn.h"
#include "server/worker.h"

/* "tcp:1.2.3.4:port" or "tcp6:[::1]:port"; "unknown" when unreadable. */
static void format_addr(const struct sockaddr_storage *a, socklen_t len, char *out,
                        size_t n) {
    char ip[INET6_ADDRSTRLEN];
    if (len >= sizeof(struct sockaddr_in) && a->ss_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)a;
        inet_ntop(AF_INET, &v4->sin_addr, ip, sizeof(ip));
        snprintf(out, n, "tcp:%s:%u", ip, (unsigned)ntohs(v4->sin_port));
    } else if (len >= sizeof(struct sockaddr_in6) && a->ss_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)a;
        inet_ntop(AF_INET6, &v6->sin6_addr, ip, sizeof(ip));
        snprintf(out, n, "tcp6:[%s]:%u", ip, (unsigned)ntohs(v6->sin6_port));
    } else {
        snprintf(out, n, "unknown");
    }
}

static int conn_line(molt_buf *out, size_t limit, int fd, const char *name,
                     const char *value) {
    char line[192];
    int n = snprintf(line, sizeof(line), "STAT %d:%s %s\r\n", fd, name, value);
    if (n < 0 || (size_t)n >= sizeof(line)) return -1;
    return molt_buf_append(out, line, (size_t)n, limit);
}

static int conn_secs(molt_buf *out, size_t limit, int fd, int64_t secs) {
    char v[24];
    snprintf(v, sizeof(v), "%lld", (long long)(secs > 0 ? secs : 0));
    return conn_line(out, limit, fd, "secs_since_last_cmd", v);
}

int server_conns_report(molt_server *s, int64_t now, molt_buf *out, size_t limit) {
    struct sockaddr_storage la;
    socklen_t la_len = sizeof(la);
    char listen_addr[96];
    if (getsockname(s->listen_fd, (struct sockaddr *)&la, &la_len) != 0) la_len = 0;
    format_addr(&la, la_len, listen_addr, sizeof(listen_addr));
    int rc = conn_line(out, limit, s->listen_fd, "addr", listen_addr);
    rc |= conn_line(out, limit, s->listen_fd, "state", "conn_listening");
    rc |= conn_secs(out, limit, s->listen_fd, now - s->started);
    const molt_conn *asking = conn_current();
    for (int i = 0; i < s->nworkers; i++) {
        molt_worker *w = &s->workers[i];
        pthread_mutex_lock(&w->conns_lock);
        for (const molt_conn *c = w->conns; c != NULL; c = c->next) {
            char addr[96];
            format_addr(&c->peer, c->peer_len, addr, sizeof(addr));
            /* The asking connection is running a command now. */
            int64_t last = c == asking ? now
                                       : atomic_load_explicit(&c->last_cmd, memory_order_relaxed);
            rc |= conn_line(out, limit, c->fd, "addr", addr);
            rc |= conn_line(out, limit, c->fd, "listen_addr", listen_addr);
            rc |= conn_line(out, limit, c->fd, "state",
                            c == asking ? "conn_parse_cmd" : "conn_read");
            rc |= conn_secs(out, limit, c->fd, now - last);
        }
        pthread_mutex_unlock(&w->conns_lock);
    }
    rc |= molt_buf_append(out, "END\r\n", 5, limit);
    return rc ? -1 : 0;
}
