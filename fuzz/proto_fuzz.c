/* proto_fuzz.c - libFuzzer target for the C text-protocol parser.
 *
 * Runs proto_process() in-process over a connection whose buffers are fed
 * the fuzz input in chunks (the first input byte picks the chunking, so a
 * request split anywhere is explored), against a real slab engine, the way
 * conn.c drives it: append what "arrived", parse, then drain the output (or,
 * sometimes, leave it queued so the backed-up-output path runs too).
 * ASan/UBSan (and libFuzzer's own checks) turn any memory error, UB, leak
 * or invariant failure into a crash with the input saved.
 *
 * Build: `make fuzz` (clang -fsanitize=fuzzer,address,undefined).
 * Without libFuzzer, -DMOLT_FUZZ_STANDALONE gives a main() that replays
 * files given on the command line (used for regression inputs).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/conn.h"
#include "util/options.h"
#include "protocol/text.h"
#include "server/server.h"
#include "admin/server_stats.h"
#include "server/worker.h"

#define T0 1800000000

static void check(int ok, const char *what) {
    if (!ok) {
        fprintf(stderr, "proto_fuzz: invariant failed: %s\n", what);
        abort();
    }
}

static void check_bufs(const molt_conn *c) {
    check(c->rbuf.start <= c->rbuf.end && c->rbuf.end <= c->rbuf.cap, "rbuf cursors");
    check(c->wbuf.start <= c->wbuf.end && c->wbuf.end <= c->wbuf.cap, "wbuf cursors");
    check(c->rbuf.cap <= c->rbuf_limit, "rbuf over its limit");
    check(c->wbuf.cap <= c->wbuf_limit, "wbuf over its limit");
    check(c->scanned <= buf_len(&c->rbuf), "scanned past the data");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    uint8_t mode = data[0];
    data++;
    size--;

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
    /* The plain TCP transport, as the server has (stats reports its name);
     * the connection itself never touches a socket here. */
    s.transport = molt_transport_tcp_new();
    if (s.transport == NULL) abort();
    if (server_stats_setup(&s) != 0) abort();
    molt_worker w;
    memset(&w, 0, sizeof(w));
    w.server = &s;
    w.now = T0;
    s.workers = &w;
    s.nworkers = 1;
    s.started = T0 - 100;

    molt_conn c;
    memset(&c, 0, sizeof(c));
    c.fd = -1;
    c.worker = &w;
    c.rbuf_limit = (size_t)s.opts.item_size_max + CONN_LINE_MAX + 2;
    c.wbuf_limit = (size_t)s.opts.item_size_max + CONN_WBUF_HIGH + 4096;
    if (buf_init(&c.rbuf, CONN_BUF_INITIAL) != 0) abort();
    if (buf_init(&c.wbuf, CONN_BUF_INITIAL) != 0) abort();

    /* Chunk sizes: mode 0-63 whole input at once; otherwise a repeating
     * pattern of small chunk sizes derived from the mode byte. */
    size_t pos = 0;
    unsigned step = 0;
    while (pos < size && !c.close_after_write) {
        size_t chunk = size - pos;
        if (mode >= 64) {
            size_t k = 1 + ((mode >> (step % 6)) & 7) * ((mode & 1) ? 1 : 13);
            if (k < chunk) chunk = k;
            step++;
        }
        /* Like read_input(): only what fits under the limit arrives. */
        if (buf_reserve(&c.rbuf, chunk, c.rbuf_limit) != 0) {
            if (buf_reserve(&c.rbuf, 1, c.rbuf_limit) == 0 || c.rbuf.cap > c.rbuf.end) {
                size_t room = c.rbuf.cap - c.rbuf.end;
                if (chunk > room) chunk = room;
            } else {
                chunk = 0;
            }
        }
        if (chunk > 0) {
            memcpy(c.rbuf.data + c.rbuf.end, data + pos, chunk);
            c.rbuf.end += chunk;
            pos += chunk;
        }
        /* Time moves now and then, so expiry paths run. */
        if ((step & 3) == 3) w.now++;
        for (int round = 0; round < 16; round++) {
            proto_process(&c);
            check_bufs(&c);
            /* A slow reader (mode bit 1): output stays queued for a while. */
            int slow = (mode & 2) && (step % 5) != 0;
            if (!slow) buf_consume(&c.wbuf, buf_len(&c.wbuf));
            if (!c.input_stalled || slow) break;
        }
        if (chunk == 0 && !c.input_stalled) break; /* full and nothing parsed */
        if (c.input_stalled) buf_consume(&c.wbuf, buf_len(&c.wbuf));
    }
    /* The peer is done: finish whatever is parseable. */
    for (int round = 0; round < 64 && !c.close_after_write; round++) {
        proto_process(&c);
        check_bufs(&c);
        buf_consume(&c.wbuf, buf_len(&c.wbuf));
        if (!c.input_stalled) break;
    }

    buf_release(&c.rbuf);
    buf_release(&c.wbuf);
    server_stats_teardown(&s);
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
