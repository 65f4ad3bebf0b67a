/* protocol/text.c - memcached 1.6's classic text protocol (see text.h).
 * Replies and error strings match memcached byte for byte; the command
 * token-count rules follow memcached's dispatcher (a wrong count is ERROR). */
#include "protocol/text.h"

#include <stdio.h>
#include <string.h>

#include "util/log.h"
#include "util/numparse.h"
#include "util/options.h"
#include "protocol/meta.h"
#include "admin/server_stats.h"
#include "admin/stats.h"
#include "server/worker.h"

#define MAX_TOKENS 8 /* the most any command other than get* takes is 7 */
#define RELATIVE_EXPTIME_MAX (60 * 60 * 24 * 30)

typedef struct token {
    const char *p;
    size_t n;
} token;

static const char msg_bad_format[] = "CLIENT_ERROR bad command line format\r\n";

int64_t proto_absolute_exptime(int64_t exptime, int64_t now) {
    if (exptime == 0) return 0;
    if (exptime < 0) return now; /* already expired */
    if (exptime <= RELATIVE_EXPTIME_MAX) return now + exptime;
    return exptime > now ? exptime : now; /* absolute unix time */
}

/* Split on spaces, skipping empty tokens. Returns the count, or max + 1
 * when there are more than max tokens. */
static size_t tokenize(const char *s, size_t len, token *t, size_t max) {
    size_t n = 0, i = 0;
    while (i < len) {
        while (i < len && s[i] == ' ') i++;
        if (i == len) break;
        size_t b = i;
        while (i < len && s[i] != ' ') i++;
        if (n == max) return max + 1;
        t[n].p = s + b;
        t[n].n = i - b;
        n++;
    }
    return n;
}

static int tok_is(const token *t, const char *lit) {
    size_t n = strlen(lit);
    return t->n == n && memcmp(t->p, lit, n) == 0;
}

static molt_counters *counters(molt_conn *c) { return &c->worker->counters; }
static int64_t now_of(molt_conn *c) { return c->worker->now; }
static molt_storage *storage_of(molt_conn *c) { return c->worker->server->storage; }

/* Every reply of a command that ends in "noreply" is suppressed, errors
 * included (as memcached does); token-count errors come before that. */
static void reply(molt_conn *c, const char *s, size_t n) {
    if (c->noreply) return;
    if (buf_append(&c->wbuf, s, n, c->wbuf_limit) != 0) c->close_after_write = 1;
}
#define REPLY(c, lit) reply((c), (lit), sizeof(lit) - 1)

static void set_noreply(molt_conn *c, const token *t, size_t n) {
    c->noreply = n > 1 && tok_is(&t[n - 1], "noreply");
}

/* ---- retrieval ---------------------------------------------------------- */

typedef struct value_sink_ctx {
    molt_conn *c;
    const char *key;
    size_t key_len;
    int with_cas;
    int failed;
} value_sink_ctx;

static void write_value(void *ctx, const molt_item_info *info,
                        const uint8_t *value, size_t value_len) {
    value_sink_ctx *x = ctx;
    molt_buf *w = &x->c->wbuf;
    char head[32 + MOLT_KEY_MAX + 3 * 20];
    size_t h = 0;
    memcpy(head, "VALUE ", 6);
    h = 6;
    memcpy(head + h, x->key, x->key_len);
    h += x->key_len;
    head[h++] = ' ';
    h += format_u64(head + h, info->flags);
    head[h++] = ' ';
    h += format_u64(head + h, value_len);
    if (x->with_cas) {
        head[h++] = ' ';
        h += format_u64(head + h, info->cas);
    }
    head[h++] = '\r';
    head[h++] = '\n';
    if (buf_reserve(w, h + value_len + 2, x->c->wbuf_limit) != 0) {
        x->failed = 1;
        return;
    }
    char *p = w->data + w->end;
    memcpy(p, head, h);
    memcpy(p + h, value, value_len);
    p[h + value_len] = '\r';
    p[h + value_len + 1] = '\n';
    w->end += h + value_len + 2;
}

/* Offset of the next key at or after *pos in line, with its length in
 * *key_len; 0 when no keys remain. */
static int next_key(const char *line, size_t len, size_t *pos, size_t *key_len) {
    size_t i = *pos;
    while (i < len && line[i] == ' ') i++;
    if (i == len) return 0;
    const char *space = memchr(line + i, ' ', len - i);
    *pos = i;
    *key_len = space ? (size_t)(space - (line + i)) : len - i;
    return 1;
}

/* Non-zero when every key from pos to the end of the line is short enough. */
static int keys_valid(const char *line, size_t len, size_t pos) {
    size_t klen;
    for (; next_key(line, len, &pos, &klen); pos += klen)
        if (klen > MOLT_KEY_MAX) return 0;
    return 1;
}

/* get/gets/gat/gats, in one pass over the keys. `args` is the offset just
 * past the command word. A key over 250 bytes answers only the error (the
 * values already produced are taken back, as memcached drops its stacked
 * replies). Returns 0 when paused because output backed up (the line stays
 * in rbuf and c->get_resume says where to continue; the rest of the line is
 * validated before pausing, since what was produced may then be sent), 1
 * when done. */
static int process_get(molt_conn *c, const char *line, size_t len, size_t args,
                       int with_cas, int touch) {
    int64_t exptime = 0;
    size_t pos = args, klen;
    if (touch) {
        if (!next_key(line, len, &pos, &klen)) {
            REPLY(c, "ERROR\r\n");
            return 1;
        }
        int32_t e;
        if (!parse_i32(line + pos, klen, &e)) {
            REPLY(c, "CLIENT_ERROR invalid exptime argument\r\n");
            return 1;
        }
        exptime = proto_absolute_exptime(e, now_of(c));
        pos += klen;
    }
    int resumed = c->get_resume != 0;
    if (resumed) pos = c->get_resume;
    size_t mark = buf_len(&c->wbuf); /* relative: compaction keeps it valid */
    molt_counters *k = counters(c);
    int64_t now = now_of(c);
    value_sink_ctx x = {.c = c, .with_cas = with_cas};
    int served = 0;
    while (next_key(line, len, &pos, &klen)) {
        if (klen > MOLT_KEY_MAX) {
            c->wbuf.end = c->wbuf.start + mark;
            REPLY(c, msg_bad_format);
            return 1;
        }
        if (served > 0 && buf_len(&c->wbuf) >= CONN_WBUF_HIGH) {
            if (!keys_valid(line, len, pos)) {
                c->wbuf.end = c->wbuf.start + mark;
                REPLY(c, msg_bad_format);
                return 1;
            }
            c->get_resume = pos;
            return 0;
        }
        x.key = line + pos;
        x.key_len = klen;
        molt_status st =
            touch ? molt_storage_get_touch(storage_of(c), (const uint8_t *)x.key,
                                           klen, exptime, now, write_value, &x)
                  : molt_storage_get(storage_of(c), (const uint8_t *)x.key, klen,
                                     now, write_value, &x);
        if (x.failed) {
            c->get_resume = 0;
            REPLY(c, "SERVER_ERROR out of memory writing get response\r\n");
            c->close_after_write = 1;
            return 1;
        }
        /* As memcached counts: gat/gats per key under touch, get/gets
         * per key under get. */
        if (touch) {
            counter_add(&k->cmd_touch, 1);
            counter_add(st == MOLT_OK ? &k->touch_hits : &k->touch_misses, 1);
        } else {
            counter_add(&k->cmd_get, 1);
            counter_add(st == MOLT_OK ? &k->get_hits : &k->get_misses, 1);
        }
        pos += klen;
        served++;
    }
    c->get_resume = 0;
    if (served == 0 && !resumed) {
        REPLY(c, "ERROR\r\n");
        return 1;
    }
    REPLY(c, "END\r\n");
    return 1;
}

/* ---- storage commands --------------------------------------------------- */

static void reply_store_status(molt_conn *c, molt_status st) {
    molt_counters *k = counters(c);
    int is_cas = c->pending.mode == MOLT_STORE_CAS;
    switch (st) {
    case MOLT_OK:
        if (is_cas) counter_add(&k->cas_hits, 1);
        REPLY(c, "STORED\r\n");
        break;
    case MOLT_NOT_STORED:
        REPLY(c, "NOT_STORED\r\n");
        break;
    case MOLT_EXISTS:
        counter_add(&k->cas_badval, 1);
        REPLY(c, "EXISTS\r\n");
        break;
    case MOLT_NOT_FOUND:
        counter_add(&k->cas_misses, 1);
        REPLY(c, "NOT_FOUND\r\n");
        break;
    case MOLT_TOO_LARGE:
        counter_add(&k->store_too_large, 1);
        /* memcached: an append/prepend that outgrows the limit is simply
         * not stored; anything else too large is a server error. */
        if (c->pending.mode == MOLT_STORE_APPEND || c->pending.mode == MOLT_STORE_PREPEND)
            REPLY(c, "NOT_STORED\r\n");
        else
            REPLY(c, "SERVER_ERROR object too large for cache\r\n");
        break;
    case MOLT_NO_MEMORY:
        counter_add(&k->store_no_memory, 1);
        REPLY(c, "SERVER_ERROR out of memory storing object\r\n");
        break;
    default:
        REPLY(c, "SERVER_ERROR storage failure\r\n");
        break;
    }
}

/* The data block of a pending store has fully arrived at `data`. */
static void complete_store(molt_conn *c, const char *data) {
    pending_store *p = &c->pending;
    c->noreply = p->noreply;
    size_t vlen = p->data_len - 2;
    if (data[vlen] != '\r' || data[vlen + 1] != '\n') {
        REPLY(c, "CLIENT_ERROR bad data chunk\r\n");
        return;
    }
    counter_add(&counters(c)->cmd_set, 1);
    molt_status st = molt_storage_store(storage_of(c), p->mode, p->key, p->key_len,
                                        (const uint8_t *)data, vlen, p->flags,
                                        p->exptime, p->cas, now_of(c), NULL);
    reply_store_status(c, st);
}

/* set/add/replace/append/prepend (5 tokens, +1 for noreply) and cas (6/7). */
static void process_update(molt_conn *c, const token *t, size_t n,
                           molt_store_mode mode) {
    size_t base = mode == MOLT_STORE_CAS ? 6 : 5;
    if (n != base && n != base + 1) {
        REPLY(c, "ERROR\r\n");
        return;
    }
    set_noreply(c, t, n);
    uint32_t flags;
    int32_t exptime, vlen;
    uint64_t cas = 0;
    if (t[1].n > MOLT_KEY_MAX || !parse_u32(t[2].p, t[2].n, &flags) ||
        !parse_i32(t[3].p, t[3].n, &exptime) || !parse_i32(t[4].p, t[4].n, &vlen) ||
        vlen < 0 || (mode == MOLT_STORE_CAS && !parse_u64(t[5].p, t[5].n, &cas))) {
        REPLY(c, msg_bad_format);
        return;
    }
    if (molt_item_size(t[1].n, flags, (size_t)vlen) >
        c->worker->server->opts.item_size_max) {
        counter_add(&counters(c)->store_too_large, 1);
        REPLY(c, "SERVER_ERROR object too large for cache\r\n");
        /* memcached drops the old value so a failed set cannot leave stale
         * data readable. */
        if (mode == MOLT_STORE_SET)
            molt_storage_remove(storage_of(c), (const uint8_t *)t[1].p, t[1].n,
                                now_of(c));
        c->swallow = (size_t)vlen + 2;
        return;
    }
    pending_store *p = &c->pending;
    p->mode = mode;
    memcpy(p->key, t[1].p, t[1].n);
    p->key_len = t[1].n;
    p->flags = flags;
    p->exptime = proto_absolute_exptime(exptime, now_of(c));
    p->cas = cas;
    p->data_len = (size_t)vlen + 2;
    p->noreply = c->noreply;
    p->meta.active = 0;
    c->want_data = 1;
}

/* ---- other commands ----------------------------------------------------- */

static void process_arith(molt_conn *c, const token *t, size_t n, int incr) {
    if (n != 3 && n != 4) {
        REPLY(c, "ERROR\r\n");
        return;
    }
    set_noreply(c, t, n);
    if (t[1].n > MOLT_KEY_MAX) {
        REPLY(c, msg_bad_format);
        return;
    }
    uint64_t delta;
    if (!parse_u64(t[2].p, t[2].n, &delta)) {
        REPLY(c, "CLIENT_ERROR invalid numeric delta argument\r\n");
        return;
    }
    uint64_t value;
    molt_counters *k = counters(c);
    molt_status st = molt_storage_arith(storage_of(c), (const uint8_t *)t[1].p,
                                        t[1].n, incr, delta, now_of(c), &value, NULL);
    switch (st) {
    case MOLT_OK: {
        counter_add(incr ? &k->incr_hits : &k->decr_hits, 1);
        char num[24];
        size_t len = format_u64(num, value);
        num[len++] = '\r';
        num[len++] = '\n';
        reply(c, num, len);
        break;
    }
    case MOLT_NOT_FOUND:
        counter_add(incr ? &k->incr_misses : &k->decr_misses, 1);
        REPLY(c, "NOT_FOUND\r\n");
        break;
    case MOLT_NON_NUMERIC:
        REPLY(c, "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
        break;
    case MOLT_NO_MEMORY:
        REPLY(c, "SERVER_ERROR out of memory\r\n");
        break;
    default:
        REPLY(c, "SERVER_ERROR storage failure\r\n");
        break;
    }
}

static void process_delete(molt_conn *c, const token *t, size_t n) {
    if (n < 2 || n > 4) {
        REPLY(c, "ERROR\r\n");
        return;
    }
    set_noreply(c, t, n);
    if (n > 2) {
        int hold_is_zero = tok_is(&t[2], "0");
        int valid = (n == 3 && (hold_is_zero || c->noreply)) ||
                    (n == 4 && hold_is_zero && c->noreply);
        if (!valid) {
            REPLY(c, "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n");
            return;
        }
    }
    if (t[1].n > MOLT_KEY_MAX) {
        REPLY(c, msg_bad_format);
        return;
    }
    molt_counters *k = counters(c);
    if (molt_storage_remove(storage_of(c), (const uint8_t *)t[1].p, t[1].n,
                            now_of(c)) == MOLT_OK) {
        counter_add(&k->delete_hits, 1);
        REPLY(c, "DELETED\r\n");
    } else {
        counter_add(&k->delete_misses, 1);
        REPLY(c, "NOT_FOUND\r\n");
    }
}

static void process_touch(molt_conn *c, const token *t, size_t n) {
    if (n != 3 && n != 4) {
        REPLY(c, "ERROR\r\n");
        return;
    }
    set_noreply(c, t, n);
    if (t[1].n > MOLT_KEY_MAX) {
        REPLY(c, msg_bad_format);
        return;
    }
    int32_t exptime;
    if (!parse_i32(t[2].p, t[2].n, &exptime)) {
        REPLY(c, "CLIENT_ERROR invalid exptime argument\r\n");
        return;
    }
    molt_counters *k = counters(c);
    counter_add(&k->cmd_touch, 1);
    int64_t now = now_of(c);
    if (molt_storage_touch(storage_of(c), (const uint8_t *)t[1].p, t[1].n,
                           proto_absolute_exptime(exptime, now), now) == MOLT_OK) {
        counter_add(&k->touch_hits, 1);
        REPLY(c, "TOUCHED\r\n");
    } else {
        counter_add(&k->touch_misses, 1);
        REPLY(c, "NOT_FOUND\r\n");
    }
}

static void process_flush(molt_conn *c, const token *t, size_t n) {
    if (n > 3) {
        REPLY(c, "ERROR\r\n");
        return;
    }
    set_noreply(c, t, n);
    int32_t delay = 0;
    /* memcached reads a delay whenever one could be there, so
     * "flush_all noreply 1" is an error, "flush_all noreply" is not. */
    if ((n == 3 || (n == 2 && !c->noreply)) && !parse_i32(t[1].p, t[1].n, &delay)) {
        REPLY(c, "CLIENT_ERROR invalid exptime argument\r\n");
        return;
    }
    counter_add(&counters(c)->cmd_flush, 1);
    int64_t now = now_of(c);
    int64_t at = delay > 0 ? proto_absolute_exptime(delay, now) : now;
    molt_storage_flush(storage_of(c), at, now);
    REPLY(c, "OK\r\n");
}

static void process_verbosity(molt_conn *c, const token *t, size_t n) {
    if (n != 2 && n != 3) {
        REPLY(c, "ERROR\r\n");
        return;
    }
    set_noreply(c, t, n);
    uint32_t level;
    if (!parse_u32(t[1].p, t[1].n, &level)) {
        REPLY(c, msg_bad_format);
        return;
    }
    log_setup((int)(level > 2 ? 2 : level)); /* as -v / -vv */
    REPLY(c, "OK\r\n");
}

/* memcached's refresh_certs: reload the TLS certificates for new
 * connections (open ones keep theirs); as SIGHUP does. */
static void process_refresh_certs(molt_conn *c, const token *t, size_t n) {
    set_noreply(c, t, n);
    if (n > 2 || (n == 2 && !c->noreply)) {
        c->noreply = 0;
        REPLY(c, "ERROR\r\n");
        return;
    }
    molt_transport *tr = c->worker->server->transport;
    if (strcmp(molt_transport_name(tr), "tls") != 0) {
        REPLY(c, "CLIENT_ERROR TLS is not enabled\r\n");
        return;
    }
    char err[256] = "";
    if (molt_transport_reload(tr, err, sizeof(err)) != 0) {
        char line[320];
        int len = snprintf(line, sizeof(line), "SERVER_ERROR %s\r\n", err);
        if (len > 0) reply(c, line, (size_t)len < sizeof(line) ? (size_t)len : sizeof(line) - 1);
        return;
    }
    REPLY(c, "OK\r\n");
}

static void process_stats(molt_conn *c, const token *t, size_t n) {
    molt_server *s = c->worker->server;
    if (n == 2 && tok_is(&t[1], "reset")) {
        server_stats_reset(s, now_of(c));
        REPLY(c, "RESET\r\n");
        return;
    }
    if (n == 2) { /* settings, items, slabs; -2: not a known group */
        int rc = server_stats_subreport(s, t[1].p, t[1].n, now_of(c), &c->wbuf, c->wbuf_limit);
        if (rc == -1) c->close_after_write = 1;
        if (rc != -2) return;
    }
    if (n != 1) {
        REPLY(c, "ERROR\r\n");
        return;
    }
    molt_counter_totals totals;
    molt_storage_stats engine;
    server_stats_read(s, now_of(c), &totals, &engine);
    molt_server_facts facts = {
        .now = now_of(c),
        .started = s->started,
        .curr_connections = atomic_load_explicit(&s->curr_conns, memory_order_relaxed),
        .max_connections = s->opts.max_conns,
        .threads = s->nworkers,
        .engine = molt_storage_name(s->storage),
        .transport = molt_transport_name(s->transport),
    };
    molt_transport_stats_read(s->transport, &facts.transport_stats);
    if (stats_report(&c->wbuf, c->wbuf_limit, &facts, &totals, &engine) != 0)
        c->close_after_write = 1;
}

/* Execute one command line (without its line ending). Returns 0 if the
 * command paused and must be re-run on the same line later. */
static int dispatch(molt_conn *c, const char *line, size_t len) {
    size_t i = 0;
    while (i < len && line[i] == ' ') i++;
    size_t cb = i;
    while (i < len && line[i] != ' ') i++;
    token cmd = {line + cb, i - cb};
    c->noreply = 0;
    if (cmd.n == 0) {
        REPLY(c, "ERROR\r\n");
        return 1;
    }
    /* Meta commands: every two-letter word starting with 'm'. */
    if (cmd.n == 2 && cmd.p[0] == 'm') {
        proto_meta_dispatch(c, line, len);
        return 1;
    }
    if (tok_is(&cmd, "get")) return process_get(c, line, len, i, 0, 0);
    if (tok_is(&cmd, "gets")) return process_get(c, line, len, i, 1, 0);
    if (tok_is(&cmd, "gat")) return process_get(c, line, len, i, 0, 1);
    if (tok_is(&cmd, "gats")) return process_get(c, line, len, i, 1, 1);

    token t[MAX_TOKENS];
    size_t n = tokenize(line, len, t, MAX_TOKENS);
    if (tok_is(&cmd, "set")) process_update(c, t, n, MOLT_STORE_SET);
    else if (tok_is(&cmd, "add")) process_update(c, t, n, MOLT_STORE_ADD);
    else if (tok_is(&cmd, "replace")) process_update(c, t, n, MOLT_STORE_REPLACE);
    else if (tok_is(&cmd, "append")) process_update(c, t, n, MOLT_STORE_APPEND);
    else if (tok_is(&cmd, "prepend")) process_update(c, t, n, MOLT_STORE_PREPEND);
    else if (tok_is(&cmd, "cas")) process_update(c, t, n, MOLT_STORE_CAS);
    else if (tok_is(&cmd, "incr")) process_arith(c, t, n, 1);
    else if (tok_is(&cmd, "decr")) process_arith(c, t, n, 0);
    else if (tok_is(&cmd, "delete")) process_delete(c, t, n);
    else if (tok_is(&cmd, "touch")) process_touch(c, t, n);
    else if (tok_is(&cmd, "flush_all")) process_flush(c, t, n);
    else if (tok_is(&cmd, "version")) REPLY(c, "VERSION " MOLT_VERSION_REPLY "\r\n");
    else if (tok_is(&cmd, "verbosity")) process_verbosity(c, t, n);
    else if (tok_is(&cmd, "quit")) c->close_after_write = 1;
    else if (tok_is(&cmd, "stats")) process_stats(c, t, n);
    else if (tok_is(&cmd, "refresh_certs")) process_refresh_certs(c, t, n);
    else REPLY(c, "ERROR\r\n");
    return 1;
}

void proto_process(molt_conn *c) {
    molt_buf *r = &c->rbuf;
    c->input_stalled = 0;
    while (!c->close_after_write) {
        if (c->swallow > 0) {
            size_t n = buf_len(r) < c->swallow ? buf_len(r) : c->swallow;
            buf_consume(r, n);
            c->swallow -= n;
            c->scanned = 0;
            if (c->swallow > 0) return;
            continue;
        }
        if (c->want_data) {
            size_t have = buf_len(r);
            if (have < c->pending.data_len) {
                /* Make the whole block fit so the next reads complete it. */
                if (buf_reserve(r, c->pending.data_len - have, c->rbuf_limit) != 0) {
                    REPLY(c, "SERVER_ERROR out of memory reading request\r\n");
                    c->close_after_write = 1;
                }
                return;
            }
            c->want_data = 0;
            if (c->pending.meta.active)
                proto_meta_complete_store(c, r->data + r->start);
            else
                complete_store(c, r->data + r->start);
            c->noreply = 0;
            buf_consume(r, c->pending.data_len);
            continue;
        }
        if (buf_len(&c->wbuf) >= CONN_WBUF_HIGH) {
            c->input_stalled = 1;
            return;
        }
        char *start = r->data + r->start;
        size_t len = buf_len(r);
        char *nl = memchr(start + c->scanned, '\n', len - c->scanned);
        if (nl == NULL) {
            if (len > CONN_LINE_MAX) {
                REPLY(c, "CLIENT_ERROR line too long\r\n");
                c->close_after_write = 1;
            }
            c->scanned = len;
            return;
        }
        size_t consumed = (size_t)(nl - start) + 1;
        size_t line_len = consumed - 1;
        if (line_len > 0 && start[line_len - 1] == '\r') line_len--;
        if (!dispatch(c, start, line_len)) {
            c->scanned = consumed - 1;
            c->input_stalled = 1;
            return;
        }
        c->scanned = 0;
        buf_consume(r, consumed);
    }
}
