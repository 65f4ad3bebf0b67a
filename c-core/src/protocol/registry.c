/* protocol/registry.c - the implementation registry and the dispatch behind
 * protocol.h. */
#include "protocol.h"

#include <stdlib.h>
#include <string.h>

#include "protocol/implementations.h"

struct molt_protocol {
    const molt_protocol_ops *ops;
};

struct molt_protocol_session {
    const molt_protocol_ops *ops;
    void *state;
};

static const molt_protocol_ops *const implementations[] = {
    &molt_protocol_c_ops,
#ifdef MOLT_WITH_RUST_PROTOCOL
    &molt_protocol_rust_ops,
#endif
};

static const char *const implementation_names[] = {
    "c",
#ifdef MOLT_WITH_RUST_PROTOCOL
    "rust",
#endif
    NULL,
};

/* Implementations written in Rust: a C-only build knows their names, to
 * say why it cannot open them. */
static const char *const rust_implementation_names[] = {"rust", NULL};

const char *const *molt_protocol_names(void) { return implementation_names; }

int molt_protocol_needs_rust(const char *name) {
    if (name == NULL) return 0;
    for (const char *const *p = implementation_names; *p; p++)
        if (strcmp(*p, name) == 0) return 0;
    for (const char *const *p = rust_implementation_names; *p; p++)
        if (strcmp(*p, name) == 0) return 1;
    return 0;
}

molt_status molt_protocol_open(const char *name, molt_protocol **out) {
    if (name == NULL || out == NULL) return MOLT_INVALID;
    for (size_t i = 0; i < sizeof(implementations) / sizeof(implementations[0]); i++) {
        if (strcmp(implementations[i]->name, name) != 0) continue;
        molt_protocol *p = malloc(sizeof(*p));
        if (p == NULL) return MOLT_NO_MEMORY;
        p->ops = implementations[i];
        *out = p;
        return MOLT_OK;
    }
    return MOLT_INVALID;
}

void molt_protocol_free(molt_protocol *p) { free(p); }

const char *molt_protocol_name(const molt_protocol *p) { return p ? p->ops->name : NULL; }

molt_status molt_protocol_session_new(molt_protocol *p, molt_protocol_session **out) {
    if (p == NULL || out == NULL) return MOLT_INVALID;
    molt_protocol_session *s = malloc(sizeof(*s));
    if (s == NULL) return MOLT_NO_MEMORY;
    s->ops = p->ops;
    s->state = p->ops->session_new();
    if (s->state == NULL) {
        free(s);
        return MOLT_NO_MEMORY;
    }
    *out = s;
    return MOLT_OK;
}

void molt_protocol_session_free(molt_protocol_session *s) {
    if (s == NULL) return;
    s->ops->session_free(s->state);
    free(s);
}

molt_protocol_status molt_protocol_process(molt_protocol_session *s,
                                           const molt_protocol_ctx *ctx,
                                           const char *in, size_t in_len,
                                           molt_buf *out,
                                           molt_protocol_progress *progress) {
    if (progress == NULL) return MOLT_PROTOCOL_CLOSE;
    progress->consumed = 0;
    progress->need = 0;
    if (s == NULL || ctx == NULL || out == NULL || (in == NULL && in_len > 0))
        return MOLT_PROTOCOL_CLOSE;
    return s->ops->process(s->state, ctx, in, in_len, out, progress);
}
