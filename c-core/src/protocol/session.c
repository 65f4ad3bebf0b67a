/* protocol/session.c - the C protocol implementation ("c") behind
 * protocol.h: per-connection sessions, and the framing of the input into
 * command lines and data blocks. Each line is parsed (parse.c) and run
 * (classic.c, meta.c); data blocks complete a store (store.c). */
#include "protocol/session.h"

#include <stdlib.h>
#include <string.h>

#include "protocol/implementations.h"

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
    };
    molt_protocol_status status = MOLT_PROTOCOL_MORE;
    size_t pos = 0; /* input consumed so far */
    size_t need = 0;
    while (!x.out.close) {
        size_t have = in_len - pos;
        if (s->swallow > 0) {
            size_t n = have < s->swallow ? have : s->swallow;
            pos += n;
            s->swallow -= n;
            s->scanned = 0;
            if (s->swallow > 0) break;
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
            if (have > ctx->limits.line_max) {
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
