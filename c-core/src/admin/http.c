/* admin/http.c - see admin.h. */
#include "admin/http.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"
#include "admin/latency.h"
#include "util/log.h"
#include "server/net.h"
#include "admin/metrics.h"

#define ADMIN_CLIENTS 16
#define ADMIN_REQUEST_MAX 8192
#define ADMIN_TIMEOUT_MS 5000
#define ADMIN_RESPONSE_MAX (16 * 1024 * 1024)

typedef struct admin_client {
    int fd; /* -1: free slot */
    uint64_t deadline_ms;
    char req[ADMIN_REQUEST_MAX];
    size_t req_len;
    int writing;
    molt_buf resp;
    size_t sent;
} admin_client;

struct molt_admin {
    molt_server *server;
    int lfd;
    int wake_fd;
    pthread_t thread;
    admin_client clients[ADMIN_CLIENTS];
};

static uint64_t now_ms(void) { return latency_now_ns() / 1000000ULL; }

static void client_close(admin_client *c) {
    if (c->fd < 0) return;
    close(c->fd);
    c->fd = -1;
    molt_buf_release(&c->resp);
}

static int respond(admin_client *c, int status, const char *reason, const char *type,
                   const char *body, size_t body_len, int head_only) {
    char hdr[256];
    int n = snprintf(hdr, sizeof(hdr),
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n%s\r\n",
                     status, reason, type, body_len,
                     status == 405 ? "Allow: GET, HEAD\r\n" : "");
    if (n < 0 || (size_t)n >= sizeof(hdr)) return -1;
    if (molt_buf_append(&c->resp, hdr, (size_t)n, ADMIN_RESPONSE_MAX) != 0) return -1;
    if (!head_only && body_len > 0 &&
        molt_buf_append(&c->resp, body, body_len, ADMIN_RESPONSE_MAX) != 0)
        return -1;
    c->writing = 1;
    return 0;
}

static const char text_plain[] = "text/plain; charset=utf-8";

/* A complete request head is in c->req: build the response. */
static int handle(molt_admin *a, admin_client *c) {
    char *sp1 = memchr(c->req, ' ', c->req_len);
    char *eol = memchr(c->req, '\n', c->req_len);
    if (sp1 == NULL || eol == NULL || sp1 > eol)
        return respond(c, 400, "Bad Request", text_plain, "bad request\n", 12, 0);
    char *path = sp1 + 1;
    char *sp2 = memchr(path, ' ', (size_t)(eol - path));
    if (sp2 == NULL || (size_t)(eol - sp2) < 9 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0)
        return respond(c, 400, "Bad Request", text_plain, "bad request\n", 12, 0);
    size_t mlen = (size_t)(sp1 - c->req);
    size_t plen = (size_t)(sp2 - path);
    char *q = memchr(path, '?', plen);
    if (q) plen = (size_t)(q - path);
    int is_get = mlen == 3 && memcmp(c->req, "GET", 3) == 0;
    int is_head = mlen == 4 && memcmp(c->req, "HEAD", 4) == 0;
    int metrics = plen == 8 && memcmp(path, "/metrics", 8) == 0;
    int health = plen == 7 && memcmp(path, "/health", 7) == 0;
    if (!metrics && !health)
        return respond(c, 404, "Not Found", text_plain, "not found\n", 10, is_head);
    if (!is_get && !is_head)
        return respond(c, 405, "Method Not Allowed", text_plain, "method not allowed\n", 19,
                       0);
    if (health) return respond(c, 200, "OK", text_plain, "OK\n", 3, is_head);
    molt_buf body;
    if (molt_buf_init(&body, 16 * 1024) != 0) return -1;
    int rc = metrics_render(a->server, &body, ADMIN_RESPONSE_MAX);
    if (rc == 0)
        rc = respond(c, 200, "OK", "text/plain; version=0.0.4; charset=utf-8",
                     body.data + body.start, molt_buf_len(&body), is_head);
    molt_buf_release(&body);
    return rc;
}

/* Returns -1 when the client is done (close it). */
static int client_read(molt_admin *a, admin_client *c) {
    ssize_t n = recv(c->fd, c->req + c->req_len, sizeof(c->req) - 1 - c->req_len, 0);
    if (n == 0) return -1;
    if (n < 0) return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
    c->req_len += (size_t)n;
    c->req[c->req_len] = '\0';
    if (strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n"))
        return handle(a, c);
    if (c->req_len == sizeof(c->req) - 1)
        return respond(c, 431, "Request Header Fields Too Large", text_plain,
                       "request too large\n", 18, 0);
    return 0;
}

static int client_write(admin_client *c) {
    while (molt_buf_len(&c->resp) > 0) {
        ssize_t n = send(c->fd, c->resp.data + c->resp.start, molt_buf_len(&c->resp),
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
        molt_buf_consume(&c->resp, (size_t)n);
    }
    shutdown(c->fd, SHUT_WR);
    return -1; /* all sent */
}

static void accept_clients(molt_admin *a) {
    for (;;) {
        admin_client *slot = NULL;
        for (int i = 0; i < ADMIN_CLIENTS && !slot; i++)
            if (a->clients[i].fd < 0) slot = &a->clients[i];
        if (slot == NULL) return;
        int fd = accept4(a->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;
        if (molt_buf_init(&slot->resp, 4096) != 0) {
            close(fd);
            return;
        }
        slot->fd = fd;
        slot->deadline_ms = now_ms() + ADMIN_TIMEOUT_MS;
        slot->req_len = 0;
        slot->writing = 0;
    }
}

static void *admin_main(void *arg) {
    molt_admin *a = arg;
    for (;;) {
        struct pollfd pfd[2 + ADMIN_CLIENTS];
        int who[2 + ADMIN_CLIENTS];
        nfds_t n = 0;
        pfd[n] = (struct pollfd){.fd = a->wake_fd, .events = POLLIN};
        who[n++] = -2;
        int free_slot = 0;
        uint64_t now = now_ms(), next = now + 60000;
        for (int i = 0; i < ADMIN_CLIENTS; i++) {
            admin_client *c = &a->clients[i];
            if (c->fd < 0) {
                free_slot = 1;
                continue;
            }
            if (c->deadline_ms <= now) {
                client_close(c); /* too slow */
                free_slot = 1;
                continue;
            }
            if (c->deadline_ms < next) next = c->deadline_ms;
            pfd[n] = (struct pollfd){.fd = c->fd, .events = c->writing ? POLLOUT : POLLIN};
            who[n++] = i;
        }
        if (free_slot) {
            pfd[n] = (struct pollfd){.fd = a->lfd, .events = POLLIN};
            who[n++] = -1;
        }
        int r = poll(pfd, n, (int)(next - now));
        if (r < 0 && errno != EINTR) break;
        if (r <= 0) continue;
        if (pfd[0].revents) break; /* admin_stop */
        for (nfds_t k = 1; k < n; k++) {
            if (pfd[k].revents == 0) continue;
            if (who[k] == -1) {
                accept_clients(a);
                continue;
            }
            admin_client *c = &a->clients[who[k]];
            int rc = c->writing ? client_write(c) : client_read(a, c);
            if (rc == 0 && c->writing && !(pfd[k].events & POLLOUT)) rc = client_write(c);
            if (rc != 0) client_close(c);
        }
    }
    return NULL;
}

static int open_listener(const char *addr, int port, char *err, size_t err_len) {
    return net_listen(addr, port, 64, "admin", err, err_len);
}

int admin_start(molt_server *s, const char *addr, int port, molt_admin **out,
                char *err, size_t err_len) {
    molt_admin *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        snprintf(err, err_len, "admin endpoint: out of memory");
        return -1;
    }
    a->server = s;
    for (int i = 0; i < ADMIN_CLIENTS; i++) a->clients[i].fd = -1;
    a->lfd = open_listener(addr, port, err, err_len);
    if (a->lfd < 0) {
        free(a);
        return -1;
    }
    a->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (a->wake_fd < 0 || pthread_create(&a->thread, NULL, admin_main, a) != 0) {
        snprintf(err, err_len, "admin endpoint: cannot start its thread");
        if (a->wake_fd >= 0) close(a->wake_fd);
        close(a->lfd);
        free(a);
        return -1;
    }
    *out = a;
    return 0;
}

void admin_stop(molt_admin *a) {
    if (a == NULL) return;
    uint64_t one = 1;
    ssize_t n = write(a->wake_fd, &one, sizeof(one));
    (void)n;
    pthread_join(a->thread, NULL);
    for (int i = 0; i < ADMIN_CLIENTS; i++) client_close(&a->clients[i]);
    close(a->wake_fd);
    close(a->lfd);
    free(a);
}
