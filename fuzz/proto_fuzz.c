/* proto_fuzz.c - libFuzzer target for the C protocol, through protocol.h.
 *
 * Plays the event loop's part of the protocol.h contract: the fuzz input
 * arrives in chunks (the first input byte picks the chunking, so a request
 * split anywhere is explored) into a read buffer, molt_protocol_process()
 * consumes what it can against a real slab engine, and the output is
 * drained (or, sometimes, left queued so the paused path runs too). The
 * server's own host table answers stats, verbosity and refresh_certs.
 * ASan/UBSan (and libFuzzer's own checks) turn any memory error, UB, leak
 * or broken promise of protocol.h into a crash with the input saved.
 *
 * Build: `make fuzz` (clang -fsanitize=fuzzer,address,undefined).
 * Without libFuzzer, -DMOLT_FUZZ_STANDALONE gives a main() that replays
 * files given on the command line (used for regression inputs).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/server_stats.h"
#include "protocol.h"
#include "server/host.h"
#include "server/worker.h"
#include "util/buf.h"
#include "util/options.h"

#define T0 1800000000
#define LINE_MAX_BYTES (1024 * 1024)
#define OUT_HIGH (1024 * 1024)
#define BUF_INITIAL (16 * 1024)

static void check(int ok, const char *what) {
    if (!ok) {
        fprintf(stderr, "proto_fuzz: invariant failed: %s\n", what);
        abort();
    }
}

static void check_buf(const molt_buf *b, size_t limit, const char *what) {
    check(b->start <= b->end && b->end <= b->cap, what);
    check(b->cap <= limit, what);
}

/* The loop's side of one process call: the promises of protocol.h. */
typedef struct fuzz_conn {
    molt_protocol_session *session;
    const molt_protocol_ctx *ctx;
    molt_buf in, out;
    size_t in_limit;
    int paused, closed;
} fuzz_conn;

static void run(fuzz_conn *c) {
    molt_protocol_progress progress;
    size_t in_len = molt_buf_len(&c->in);
    molt_protocol_status st =
        molt_protocol_process(c->session, c->ctx, c->in.data + c->in.start, in_len,
                              &c->out, &progress);
    check(progress.consumed <= in_len, "consumed more than the input");
    check(st == MOLT_PROTOCOL_MORE || progress.need == 0, "need without MORE");
    check_buf(&c->out, c->ctx->limits.out_limit, "output cursors or limit");
    molt_buf_consume(&c->in, progress.consumed);
    c->paused = st == MOLT_PROTOCOL_PAUSED;
    if (st == MOLT_PROTOCOL_CLOSE) c->closed = 1;
    /* Like conn.c: make a pending data block fit, or give up. */
    else if (progress.need > 0 && molt_buf_reserve(&c->in, progress.need, c->in_limit) != 0)
        c->closed = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    uint8_t mode = data[0];
    data++;
    size--;

    /* The server around the protocol: storage, one worker's counters and
     * the host table, as server.c sets them up. */
    molt_server s;
    memset(&s, 0, sizeof(s));
    options_defaults(&s.opts);
    s.opts.threads = 1;
    molt_storage_config cfg = {
        .memory_limit = 8u << 20,
        .item_size_max = s.opts.item_size_max,
        .growth_factor = 1.25,
    };
    if (molt_storage_open("slab", &cfg, &s.storage) != MOLT_OK) abort();
    s.transport = molt_transport_tcp_new(); /* stats reports its name */
    if (s.transport == NULL) abort();
    if (server_stats_setup(&s) != 0) abort();
    if (molt_protocol_open("c", &s.protocol) != MOLT_OK) abort();
    server_host_init(&s);
    molt_worker w;
    memset(&w, 0, sizeof(w));
    w.server = &s;
    if (pthread_mutex_init(&w.conns_lock, NULL) != 0) abort(); /* stats conns */
    s.listen_fd = -1;
    s.workers = &w;
    s.nworkers = 1;
    s.started = T0 - 100;
    molt_protocol_ctx ctx = {
        .storage = s.storage,
        .now = T0,
        .counters = &w.counters,
        .limits = {
            .item_size_max = s.opts.item_size_max,
            .growth_factor = s.opts.growth_factor,
            .line_max = LINE_MAX_BYTES,
            .out_high = OUT_HIGH,
            .out_limit = (size_t)s.opts.item_size_max + OUT_HIGH + 4096,
        },
        .host = &s.protocol_host,
    };

    fuzz_conn c;
    memset(&c, 0, sizeof(c));
    c.ctx = &ctx;
    c.in_limit = (size_t)s.opts.item_size_max + LINE_MAX_BYTES + 2;
    if (molt_protocol_session_new(s.protocol, &c.session) != MOLT_OK) abort();
    if (molt_buf_init(&c.in, BUF_INITIAL) != 0) abort();
    if (molt_buf_init(&c.out, BUF_INITIAL) != 0) abort();

    /* Chunk sizes: mode 0-63 whole input at once; otherwise a repeating
     * pattern of small chunk sizes derived from the mode byte. */
    size_t pos = 0;
    unsigned step = 0;
    while (pos < size && !c.closed) {
        size_t chunk = size - pos;
        if (mode >= 64) {
            size_t k = 1 + ((mode >> (step % 6)) & 7) * ((mode & 1) ? 1 : 13);
            if (k < chunk) chunk = k;
            step++;
        }
        /* Like read_input(): only what fits under the limit arrives. */
        if (molt_buf_reserve(&c.in, chunk, c.in_limit) != 0) {
            if (molt_buf_reserve(&c.in, 1, c.in_limit) == 0 || c.in.cap > c.in.end) {
                size_t room = c.in.cap - c.in.end;
                if (chunk > room) chunk = room;
            } else {
                chunk = 0;
            }
        }
        if (chunk > 0) {
            memcpy(c.in.data + c.in.end, data + pos, chunk);
            c.in.end += chunk;
            pos += chunk;
        }
        check_buf(&c.in, c.in_limit, "input cursors or limit");
        /* Time moves now and then, so expiry paths run. */
        if ((step & 3) == 3) ctx.now++;
        for (int round = 0; round < 16 && !c.closed; round++) {
            run(&c);
            /* A slow reader (mode bit 1): output stays queued for a while. */
            int slow = (mode & 2) && (step % 5) != 0;
            if (!slow) molt_buf_consume(&c.out, molt_buf_len(&c.out));
            if (!c.paused || slow) break;
        }
        if (chunk == 0 && !c.paused) break; /* full and nothing parsed */
        if (c.paused) molt_buf_consume(&c.out, molt_buf_len(&c.out));
    }
    /* The peer is done: finish whatever is parseable. */
    for (int round = 0; round < 64 && !c.closed; round++) {
        run(&c);
        molt_buf_consume(&c.out, molt_buf_len(&c.out));
        if (!c.paused) break;
    }

    molt_buf_release(&c.in);
    molt_buf_release(&c.out);
    molt_protocol_session_free(c.session);
    molt_protocol_free(s.protocol);
    server_stats_teardown(&s);
    pthread_mutex_destroy(&w.conns_lock);
    molt_transport_free(s.transport);
    molt_storage_free(s.storage);
    return 0;
}

#ifdef MOLT_FUZZ_STANDALONE
int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (f == NULL) {
            perror(argv[i]);
            return 2;
        }
        static uint8_t buf[4 << 20];
        size_t n = fread(buf, 1, sizeof(buf), f);
        fclose(f);
        LLVMFuzzerTestOneInput(buf, n);
    }
    printf("proto_fuzz: %d input(s) replayed\n", argc - 1);
    return 0;
}
#endif
