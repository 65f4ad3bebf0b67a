/* protocol/session.c - the C protocol implementation ("c") behind
 * protocol.h: per-connection sessions, and the framing of the input into
 * command lines and data blocks. Each line is parsed (parse.c) and run
 * (classic.c, meta.c); data blocks complete a store (store.c). */
#include "protocol/session.h"

#include <stdlib.h>
#include <string.h>

#include "protocol/implementations.h"

/* memcached reads a line into a 16 KiB buffer and, whenever the buffered
 * part of a line without its end passes 2,048 bytes, hangs up unless the
 * line is a get or gets (after at most 100 spaces): a long line is most
 * likely the data of a storage line it refused. Replies queued in the same
 * read are lost with the connection. A line that is complete when first
 * seen is run if memcached could have seen it whole (<= 16 KiB); a longer
 * one is hung up on where it is refused (classic.c's errors, meta.c), off
 * the get path. */
#define MC_LINE_CHECK 2048
#define MC_GET_SPACES_MAX 100

int proto_long_line_allowed(const char *line, size_t len) {
    size_t i = 0;
    while (i < len && line[i] == ' ') i++;
    if (i > MC_GET_SPACES_MAX) return 0;
    return (len - i >= 4 && memcmp(line + i, "get ", 4) == 0) ||
           (len - i >= 5 && memcmp(line + i, "gets ", 5) == 0);
}

void proto_hang_up(proto_exec *x) {
    x->out.buf->end = x->out.buf->start + x->kept;
    x->out.close = 1;
}

static void *c_session_new(void) { return calloc(1, sizeof(proto_session)); }

static void c_session_free(void *session) { free(session); }

static molt_protocol_status c_process(void *session, const molt_protocol_ctx *ctx,
                                      const char *in, size_t in_len, molt_buf *out,
                                      molt_protocol_progress *progress) {
    proto_session *s = session;
    proto_exec x = {
        .out = {.buf = out, .limit = ctx->limits.out_limit},
        .ctx = ctx,
        .s = s,
        .kept = out->end - out->start,
        /* the one cost of watch per call: a relaxed load (protocol.h) */
        .watching = __atomic_load_n(ctx->host->watching, __ATOMIC_RELAXED),
    };
    /* A block awaited since an earlier call: memcached reads the rest of
     * it straight from the socket, finds its buffer empty after it and
     * flushes; so does it after a block too big for its buffer. */
    int awaited = s->want_data || s->swallow > 0;
    molt_protocol_status status = MOLT_PROTOCOL_MORE;
    size_t pos = 0; /* input consumed so far */
    size_t need = 0;
    /* a log stream (after `watch`): memcached reads no more commands */
    if (s->watching) {
        progress->consumed = in_len;
        progress->need = 0;
        return MOLT_PROTOCOL_MORE;
    }
    while (!x.out.close) {
        size_t have = in_len - pos;
        if (s->swallow > 0) {
            size_t n = have < s->swallow ? have : s->swallow;
            pos += n;
            s->swallow -= n;
            s->scanned = 0;
            if (s->swallow > 0) break;
            if (awaited || n > MC_READ_BUFFER) x.kept = out->end - out->start;
            awaited = 0;
            continue;
        }
        if (s->want_data) {
            size_t data_len = s->pending.data_len;
            if (have < data_len) {
                need = data_len - have;
                break;
            }
            s->want_data = 0;
            store_complete(&x, in + pos);
            pos += data_len;
            if (awaited || data_len > MC_READ_BUFFER) x.kept = out->end - out->start;
            awaited = 0;
            continue;
        }
        if (out->end - out->start >= ctx->limits.out_high) {
            status = MOLT_PROTOCOL_PAUSED;
            break;
        }
        const char *line = in + pos;
        const char *nl =
            have > s->scanned ? memchr(line + s->scanned, '\n', have - s->scanned) : NULL;
        if (nl == NULL) {
            if (have > MC_LINE_CHECK && !proto_long_line_allowed(line, have)) {
                proto_hang_up(&x);
            } else if (have > ctx->limits.line_max) {
                x.out.noreply = 0;
                proto_reply_line(&x.out, "CLIENT_ERROR line too long");
                x.out.close = 1;
            }
            s->scanned = have;
            break;
        }
        size_t line_end = (size_t)(nl - line);
        size_t line_len = line_end;
        if (line_len > 0 && line[line_len - 1] == '\r') line_len--;
        proto_request req;
        proto_parse_line(line, line_len, &req);
        if (!classic_run(&x, &req, line, line_len)) {
            s->scanned = line_end; /* the line stays: run it again */
            status = MOLT_PROTOCOL_PAUSED;
            break;
        }
        s->scanned = 0;
        pos += line_end + 1;
    }
    if (x.out.close && s->watching) {
        /* the line was `watch` (it ends the loop as a close would): the
         * rest is not read as commands, the connection stays open */
        pos = in_len;
        x.out.close = 0;
    }
    if (x.out.close) status = MOLT_PROTOCOL_CLOSE;
    progress->consumed = pos;
    progress->need = status == MOLT_PROTOCOL_MORE ? need : 0;
    return status;
}

const molt_protocol_ops molt_protocol_c_ops = {
    .name = "c",
    .session_new = c_session_new,
    .session_free = c_session_free,
    .process = c_process,
};
