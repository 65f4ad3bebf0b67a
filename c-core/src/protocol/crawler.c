/* protocol/crawler.c - `lru_crawler metadump`: one line per live item, as
 * memcached 1.6 prints it, then END. The engine is walked in slices
 * (molt_storage_walk: at most DUMP_SLICE items per critical section) and
 * the dump pauses when the output passes the high-water mark, so a large
 * cache neither stalls other clients nor grows the output without bound.
 *
 * memcached's other lru_crawler subcommands (crawl, sleep, tocrawl, enable,
 * disable) drive its background crawler thread; molt has none (expired
 * items are reclaimed when met, or with their whole segment), so they
 * answer ERROR. */
#include <string.h>

#include "protocol/session.h"
#include "util/numparse.h"
#include "util/uri.h"

#define DUMP_SLICE 64
#define DUMP_CLASSES 64 /* memcached's class ids: 1..63 */

static const char msg_badclass[] = "BADCLASS invalid class id";

/* A class id as memcached reads it (strtoul: an optional '+', digits). */
static int parse_class(const char *p, size_t n, uint32_t *out) {
    if (n > 0 && p[0] == '+') p++, n--;
    return parse_u32(p, n, out);
}

/* "all", "hash" (the same walk: molt has one order), or class ids
 * separated by commas (empty ones skipped). */
static const char *parse_dump_classes(proto_request *req, const proto_token *arg) {
    req->dump_classes = 0;
    if (proto_token_is(arg, "all") || proto_token_is(arg, "hash")) return NULL;
    size_t i = 0;
    while (i < arg->n) {
        size_t b = i;
        while (i < arg->n && arg->p[i] != ',') i++;
        uint32_t id;
        if (i > b) {
            if (!parse_class(arg->p + b, i - b, &id) || id == 0 || id >= DUMP_CLASSES)
                return msg_badclass;
            req->dump_classes |= (uint64_t)1 << id;
        }
        i++;
    }
    return NULL;
}

const char *proto_parse_lru_crawler(proto_request *req, const proto_token *t, size_t n) {
    if (n != 3 || !proto_token_is(&t[1], "metadump")) return "ERROR";
    const char *error = parse_dump_classes(req, &t[2]);
    if (error == NULL) req->cmd = PROTO_CMD_METADUMP;
    return error;
}

typedef struct dump_ctx {
    proto_out *out;
    uint64_t classes;
    int failed;
} dump_ctx;

static size_t put_field(char *p, const char *name, uint64_t v) {
    size_t h = put_lit(p, name);
    return h + format_u64(p + h, v);
}

/* key=<uri> exp=<abs|-1> la=<abs> cas=N fetch=yes|no cls=N size=N, then a
 * bare LF, as memcached 1.6.18 (no flags field). */
static void dump_item(void *ctx, const molt_walk_item *it) {
    dump_ctx *d = ctx;
    if (d->failed) return;
    if (d->classes != 0 &&
        (it->class_id >= DUMP_CLASSES || !(d->classes & ((uint64_t)1 << it->class_id))))
        return;
    char line[3 * MOLT_KEY_MAX + 160];
    size_t h = put_lit(line, "key=");
    h += uri_encode(line + h, it->key, it->key_len < MOLT_KEY_MAX ? it->key_len : MOLT_KEY_MAX);
    h += put_lit(line + h, " exp=");
    h += it->exptime == 0 ? put_lit(line + h, "-1") : put_i64(line + h, it->exptime);
    h += put_lit(line + h, " la=");
    h += put_i64(line + h, it->last_access);
    h += put_field(line + h, " cas=", it->cas);
    h += put_lit(line + h, it->fetched ? " fetch=yes" : " fetch=no");
    h += put_field(line + h, " cls=", it->class_id);
    h += put_field(line + h, " size=", it->size);
    line[h++] = '\n';
    if (molt_buf_append(d->out->buf, line, h, d->out->limit) != 0) d->failed = 1;
}

int metadump_run(proto_exec *x, const proto_request *req) {
    const molt_protocol_ctx *ctx = x->ctx;
    proto_session *s = x->s;
    molt_buf *out = x->out.buf;
    dump_ctx d = {.out = &x->out, .classes = req->dump_classes};
    if (!s->dumping) {
        memset(&s->dump, 0, sizeof(s->dump));
        s->dumping = 1;
    }
    int slices = 0;
    while (!s->dump.done) {
        if (slices > 0 && out->end - out->start >= ctx->limits.out_high) return 0;
        molt_status st = molt_storage_walk(ctx->storage, ctx->now, &s->dump, DUMP_SLICE,
                                           dump_item, &d);
        slices++;
        if (d.failed || st != MOLT_OK) {
            s->dumping = 0;
            proto_reply_line(&x->out, d.failed ? "SERVER_ERROR out of memory writing dump"
                                               : "SERVER_ERROR storage failure");
            x->out.close = d.failed;
            return 1;
        }
    }
    s->dumping = 0;
    PROTO_REPLY(&x->out, "END\r\n");
    return 1;
}
