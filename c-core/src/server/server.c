/* server.c - molt_main: options, engines (with a memory file: restored at
 * start, saved at a graceful stop), the listener and the workers, and clean
 * shutdown on SIGINT/SIGTERM/SIGUSR1. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "admin/http.h"
#include "util/log.h"
#include "server/net.h"
#include "molt.h"
#include "util/options.h"
#include "server/server.h"
#include "admin/server_stats.h"
#include "server/host.h"
#include "server/worker.h"
#include "storage/shadow.h"

/* memcached's words; on a TLS port nothing is written (see reject). */
static const char too_many_conns[] = "ERROR Too many open connections\r\n";

static int open_listener(const molt_options *o, char *err, size_t err_len) {
    return net_listen(o->listen, o->port, 1024, "", err, err_len);
}

static void reject(molt_server *s, int fd) {
    /* Best effort: the socket is new, so the short reply fits its buffer.
     * A TLS client must never get plaintext (memcached writes it anyway):
     * there the connection is closed without a word. */
    if (!s->tls_port) {
        ssize_t n = send(fd, too_many_conns, sizeof(too_many_conns) - 1,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)n;
    }
    close(fd);
    atomic_fetch_add_explicit(&s->rejected_conns, 1, memory_order_relaxed);
}

static void accept_all(molt_server *s, int lfd, unsigned *next_worker) {
    unsigned refused = 0;
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) break; /* EAGAIN, or a transient error such as EMFILE */
        uint64_t curr = atomic_load_explicit(&s->curr_conns, memory_order_relaxed);
        if (curr >= (uint64_t)s->opts.max_conns) {
            reject(s, fd);
            refused++;
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        atomic_fetch_add_explicit(&s->curr_conns, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&s->total_conns, 1, memory_order_relaxed);
        molt_worker *w = &s->workers[*next_worker % (unsigned)s->nworkers];
        *next_worker += 1;
        if (worker_give(w, fd) != 0) {
            close(fd);
            atomic_fetch_sub_explicit(&s->curr_conns, 1, memory_order_relaxed);
        }
    }
    /* One line per wake-up, not per connection. */
    if (refused > 0)
        log_msg(MOLT_LOG_INFO, "refused %u connection(s): connection limit %d reached",
                refused, s->opts.max_conns);
}

/* SIGHUP: new connections get freshly read certificates; open ones keep
 * theirs. */
static void reload_certificates(molt_server *s) {
    char err[256] = "";
    if (molt_transport_reload(s->transport, err, sizeof(err)) == 0)
        log_msg(MOLT_LOG_INFO, "SIGHUP: %s certificates reloaded",
                molt_transport_name(s->transport));
    else
        log_msg(MOLT_LOG_ERROR, "SIGHUP: certificate reload failed, keeping the old ones: %s",
                err);
}

/* The signal waiting on signalfd sfd, or 0. */
static int take_signal(int sfd) {
    struct signalfd_siginfo si;
    if (read(sfd, &si, sizeof(si)) != (ssize_t)sizeof(si)) return 0;
    return (int)si.ssi_signo;
}

/* Accept until SIGINT/SIGTERM/SIGUSR1 arrives on sfd or the shutdown
 * command wakes s->stop_fd. */
static void listen_loop(molt_server *s, int lfd, int sfd) {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) return;
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    ev.data.fd = sfd;
    epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
    if (s->stop_fd >= 0) {
        ev.data.fd = s->stop_fd;
        epoll_ctl(ep, EPOLL_CTL_ADD, s->stop_fd, &ev);
    }
    unsigned next_worker = 0;
    for (;;) {
        struct epoll_event events[3];
        int n = epoll_wait(ep, events, 3, -1);
        if (n < 0 && errno != EINTR) break;
        int stop = 0;
        for (int i = 0; i < n; i++) {
            if (events[i].data.fd == s->stop_fd) stop = 1;
            else if (events[i].data.fd != sfd) accept_all(s, lfd, &next_worker);
            else if (take_signal(sfd) == SIGHUP) reload_certificates(s);
            else stop = 1;
        }
        if (stop) break;
    }
    close(ep);
}

static int block_signals(sigset_t *set) {
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGUSR1); /* memcached's graceful stop */
    sigaddset(set, SIGHUP);
    signal(SIGPIPE, SIG_IGN);
    /* Blocked before any thread starts, so every thread inherits it and the
     * signals reach only the signalfd. */
    if (pthread_sigmask(SIG_BLOCK, set, NULL) != 0) return -1;
    return signalfd(-1, set, SFD_CLOEXEC);
}

/* Why an engine did not open, on stderr (start-up only). */
static void report_storage_error(const char *name, molt_status st) {
    if (st == MOLT_INVALID && molt_storage_engine_needs_rust(name)) {
        fprintf(stderr,
                "molt: storage engine '%s' is written in Rust and this binary was "
                "built without Rust (use the mixed binary, molt)\n",
                name);
    } else if (st == MOLT_INVALID) {
        fprintf(stderr, "molt: unknown storage engine '%s' (this binary has:", name);
        for (const char *const *e = molt_storage_engines(); *e; e++) fprintf(stderr, " %s", *e);
        fprintf(stderr, ")\n");
    } else {
        fprintf(stderr, "molt: cannot start storage engine '%s' (status %d)\n", name, (int)st);
    }
}

/* Warm restart, at start: the engine loads the memory file (-e). 0, or -1
 * (said why on stderr) when the server must not run with it. */
static int restore_memory_file(molt_server *s) {
    const molt_options *o = &s->opts;
    char note[MOLT_PATH_MAX + 512];
    molt_status st = molt_storage_restore(s->storage, o->memory_file, (int64_t)time(NULL), note,
                                          sizeof(note));
    if (st == MOLT_INVALID && o->shadow_storage[0]) {
        fprintf(stderr, "molt: --memory-file does not work in shadow mode\n");
        return -1;
    }
    if (st == MOLT_INVALID) {
        fprintf(stderr,
                "molt: storage engine '%s' cannot keep its items across a restart "
                "(--memory-file needs --storage seg)\n",
                o->storage);
        return -1;
    }
    if (st != MOLT_OK && st != MOLT_NOT_STORED) {
        fprintf(stderr, "molt: %s\n", note[0] ? note : "cannot use the memory file");
        return -1;
    }
    /* MOLT_NOT_STORED: the file was refused or partly dropped. */
    log_msg(st == MOLT_OK ? MOLT_LOG_INFO : MOLT_LOG_WARN, "%s", note);
    return 0;
}

/* Warm restart, at a graceful stop: the engine saves its items. 0 or -1. */
static int save_memory_file(molt_server *s) {
    char note[MOLT_PATH_MAX + 512];
    molt_status st = molt_storage_save(s->storage, s->opts.memory_file, (int64_t)time(NULL),
                                       note, sizeof(note));
    log_msg(st == MOLT_OK ? MOLT_LOG_INFO : MOLT_LOG_ERROR, "%s",
            note[0] ? note : "cannot save the memory file");
    return st == MOLT_OK ? 0 : -1;
}

static int run(molt_server *s) {
    char err[256] = "";
    molt_options *o = &s->opts;
    log_setup(o->verbose);
    if (o->tls_requested && molt_transport_needs_rust("tls")) {
        fprintf(stderr, "molt: TLS is written in Rust and this binary was built without "
                        "Rust (use the mixed binary, molt)\n");
        return 1;
    }
    if (o->tls_requested && (o->tls_cert[0] == '\0' || o->tls_key[0] == '\0')) {
        fprintf(stderr, "molt: TLS needs both --tls-cert and --tls-key\n");
        return 1;
    }
    molt_storage_config cfg = {
        .memory_limit = o->memory_mb * 1024 * 1024,
        .item_size_max = o->item_size_max,
        .growth_factor = o->growth_factor,
        /* s->watch is set up before a worker can run a request */
        .on_evict = watch_evicted,
        .on_evict_ctx = &s->watch,
    };
    molt_status st;
    if (o->shadow_storage[0]) {
        molt_storage_config scfg = cfg;
        scfg.memory_limit = options_shadow_memory_mb(o) * 1024 * 1024;
        const char *failed = NULL;
        st = molt_shadow_open(o->storage, &cfg, o->shadow_storage, &scfg, &s->storage,
                              &failed);
        if (st != MOLT_OK) {
            report_storage_error(failed ? failed : o->shadow_storage, st);
            return 1;
        }
    } else if ((st = molt_storage_open(o->storage, &cfg, &s->storage)) != MOLT_OK) {
        report_storage_error(o->storage, st);
        return 1;
    }
    if (o->memory_file[0] && restore_memory_file(s) != 0) {
        molt_storage_free(s->storage);
        return 1;
    }
    molt_transport_config tcfg = {
        .cert_file = o->tls_cert,
        .key_file = o->tls_key,
        .ca_file = o->tls_ca[0] ? o->tls_ca : NULL,
    };
    s->transport = molt_transport_open(o->tls_requested ? "tls" : "tcp", &tcfg, err,
                                       sizeof(err));
    if (s->transport == NULL) {
        fprintf(stderr, "molt: %s\n", err);
        molt_storage_free(s->storage);
        return 1;
    }
    st = molt_protocol_open(o->protocol, &s->protocol);
    if (st != MOLT_OK) {
        if (st == MOLT_INVALID && molt_protocol_needs_rust(o->protocol)) {
            fprintf(stderr,
                    "molt: protocol '%s' is written in Rust and this binary was built "
                    "without Rust (use the mixed binary, molt)\n",
                    o->protocol);
        } else if (st == MOLT_INVALID) {
            fprintf(stderr, "molt: unknown protocol '%s' (this binary has:", o->protocol);
            for (const char *const *p = molt_protocol_names(); *p; p++)
                fprintf(stderr, " %s", *p);
            fprintf(stderr, ")\n");
        } else {
            fprintf(stderr, "molt: cannot start the protocol '%s'\n", o->protocol);
        }
        molt_transport_free(s->transport);
        molt_storage_free(s->storage);
        return 1;
    }
    s->tls_port = strcmp(molt_transport_name(s->transport), "tcp") != 0;
    s->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (watch_setup(&s->watch) != 0) {
        fprintf(stderr, "molt: cannot set up watch\n");
        if (s->stop_fd >= 0) close(s->stop_fd);
        molt_protocol_free(s->protocol);
        molt_transport_free(s->transport);
        molt_storage_free(s->storage);
        return 1;
    }
    server_host_init(s);
    sigset_t sigs;
    int sfd = block_signals(&sigs);
    int lfd = s->transport ? open_listener(o, err, sizeof(err)) : -1;
    if (lfd < 0 || sfd < 0) {
        fprintf(stderr, "molt: %s\n", err[0] ? err : "start-up failed");
        if (lfd >= 0) close(lfd);
        if (sfd >= 0) close(sfd);
        if (s->stop_fd >= 0) close(s->stop_fd);
        watch_teardown(&s->watch);
        molt_protocol_free(s->protocol);
        molt_transport_free(s->transport);
        molt_storage_free(s->storage);
        return 1;
    }
    s->started = (int64_t)time(NULL);
    s->listen_fd = lfd;
    s->nworkers = o->threads;
    s->workers = server_stats_setup(s) == 0
                     ? calloc((size_t)o->threads, sizeof(*s->workers))
                     : NULL;
    int started = 0, rc = 0;
    for (; s->workers && started < o->threads; started++) {
        if (worker_setup(&s->workers[started], s) != 0) break;
        if (worker_start(&s->workers[started]) != 0) {
            worker_teardown(&s->workers[started]);
            break;
        }
    }
    molt_admin *admin = NULL;
    if (started == o->threads && o->admin_port != 0 &&
        admin_start(s, o->admin_listen, o->admin_port, &admin, err, sizeof(err)) != 0) {
        fprintf(stderr, "molt: %s\n", err);
        rc = 1;
    } else if (started == o->threads) {
        char admin_at[96] = "off";
        if (admin) snprintf(admin_at, sizeof(admin_at), "%s:%d", o->admin_listen, o->admin_port);
        if (o->shadow_storage[0])
            log_msg(MOLT_LOG_INFO,
                    "shadow mode: every request also runs on engine %s (memory limit %llu "
                    "MiB, beside the primary's %llu MiB); divergences in stats shadow_*",
                    o->shadow_storage, (unsigned long long)options_shadow_memory_mb(o),
                    (unsigned long long)o->memory_mb);
        log_msg(MOLT_LOG_INFO,
                "molt %s starting: listening on %s:%d, engine %s, transport %s, protocol "
                "%s, memory limit %llu MiB, %d threads, admin %s",
                MOLT_VERSION, o->listen, o->port, molt_storage_name(s->storage),
                molt_transport_name(s->transport), molt_protocol_name(s->protocol),
                (unsigned long long)o->memory_mb,
                o->threads, admin_at);
        listen_loop(s, lfd, sfd);
        unsigned long long open =
            atomic_load_explicit(&s->curr_conns, memory_order_relaxed);
        if (atomic_load_explicit(&s->stop_mode, memory_order_acquire) == SERVER_STOP_NOW)
            log_msg(MOLT_LOG_INFO, "shutdown command: closing %llu connection(s)", open);
        else
            log_msg(MOLT_LOG_INFO, "shutting down: listener closed, draining %llu connection(s)",
                    open);
    } else {
        fprintf(stderr, "molt: cannot start worker threads\n");
        rc = 1;
    }
    close(lfd); /* stop accepting first */
    for (int i = 0; i < started; i++) worker_stop_begin(&s->workers[i]);
    for (int i = 0; i < started; i++) worker_join(&s->workers[i]);
    admin_stop(admin);
    for (int i = 0; i < started; i++) worker_teardown(&s->workers[i]);
    watch_teardown(&s->watch);
    free(s->workers);
    server_stats_teardown(s);
    close(sfd);
    if (s->stop_fd >= 0) close(s->stop_fd);
    molt_protocol_free(s->protocol);
    molt_transport_free(s->transport);
    /* As memcached: `shutdown` (not graceful) does not save, so the next
     * start refuses the file, still marked in use. */
    if (o->memory_file[0] &&
        atomic_load_explicit(&s->stop_mode, memory_order_acquire) != SERVER_STOP_NOW &&
        save_memory_file(s) != 0)
        rc = 1;
    molt_storage_free(s->storage);
    if (rc == 0) log_msg(MOLT_LOG_INFO, "stopped");
    log_teardown();
    return rc;
}

int molt_main(int argc, char **argv) {
    molt_server server;
    memset(&server, 0, sizeof(server));
    server.stop_fd = -1;
    options_defaults(&server.opts);
    char err[256];
    switch (options_parse(&server.opts, argc, argv, err, sizeof(err))) {
    case OPTIONS_HELP:
        fputs(options_usage(), stdout);
        return 0;
    case OPTIONS_VERSION:
        printf("molt %s (memcached %s protocol)\n", MOLT_VERSION, MOLT_VERSION_REPLY);
        return 0;
    case OPTIONS_ERROR:
        fprintf(stderr, "molt: %s\n", err);
        return 64;
    case OPTIONS_PRINT_CONFIG: {
        static char text[5 * MOLT_PATH_MAX + 4096];
        int n = options_to_toml(&server.opts, text, sizeof(text));
        if (n < 0) {
            fprintf(stderr, "molt: cannot format the configuration\n");
            return 1;
        }
        fwrite(text, 1, (size_t)n, stdout);
        return 0;
    }
    case OPTIONS_RUN:
        break;
    }
    return run(&server);
}
