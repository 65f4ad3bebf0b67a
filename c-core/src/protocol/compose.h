/* protocol/compose.h - replies into the output buffer: plain lines, the
 * answer to a storage status (classic and meta words), and the pieces of a
 * meta reply line (return-flag echo, VA/HD head). */
#ifndef MOLT_PROTO_COMPOSE_H
#define MOLT_PROTO_COMPOSE_H

#include <stddef.h>
#include <stdint.h>

#include "protocol.h"

/* Where the current command writes. */
typedef struct proto_out {
    molt_buf *buf;
    size_t limit;
    int noreply; /* the command's replies are suppressed (classic noreply) */
    int close;   /* a reply did not fit: close once the output is written */
} proto_out;

/* Append s[0..n) unless suppressed. Inline: every request answers. */
static inline void proto_reply(proto_out *o, const char *s, size_t n) {
    if (o->noreply) return;
    if (molt_buf_append(o->buf, s, n, o->limit) != 0) o->close = 1;
}
/* A string literal (its CRLF included). */
#define PROTO_REPLY(o, lit) proto_reply((o), (lit), sizeof(lit) - 1)

/* The NUL-terminated s, then CRLF, unless suppressed. */
void proto_reply_line(proto_out *o, const char *s);

/* ---- composing a line in a stack buffer: each returns bytes written ---- */

/* Room for the longest meta reply line: "VA <u32>", every return flag once
 * with a 20-digit number, a 250-byte key base64-encoded, a 32-byte opaque. */
#define META_LINE_MAX 1024

size_t put_lit(char *p, const char *s);
size_t put_i64(char *p, int64_t v);
/* " <flag><v>" */
size_t put_flag_u64(char *p, char flag, uint64_t v);
/* " k<key>", or " k<base64 key> b" for a binary key. */
size_t put_key(char *p, const uint8_t *key, size_t key_len, int binary);

/* ---- meta replies ------------------------------------------------------- */

/* What a meta reply echoes whatever the outcome: O and k. */
typedef struct meta_echo {
    const char *flags; /* return flag letters in request order */
    size_t nflags;
    const char *opaque; /* the O token, O included */
    size_t opaque_len;
    const uint8_t *key;
    size_t key_len;
    int key_binary;
} meta_echo;

/* Which item values a reply can report (meta_values.known). */
enum {
    META_KNOWN_SIZE = 1,    /* s */
    META_KNOWN_TTL = 2,     /* t */
    META_KNOWN_CAS = 4,     /* c */
    META_KNOWN_FLAGS = 8,   /* f */
    META_KNOWN_IDLE = 16,   /* l */
    META_KNOWN_FETCHED = 32 /* h */
};

typedef struct meta_values {
    unsigned known; /* META_KNOWN_* */
    uint64_t size, cas, client_flags, idle;
    int64_t ttl;    /* -1: never expires */
    int fetched;
} meta_values;

/* The return flags, each " <flag>[value]": O and k always, the others when
 * v (may be NULL) knows their value, else left out. */
size_t meta_put_echo(char *p, const meta_echo *e, const meta_values *v);
/* "VA <size>" when the value follows, else "HD". */
size_t meta_put_head(char *p, int value, size_t size);
/* code, the echo, CRLF. */
void meta_reply_code(proto_out *o, const char *code, const meta_echo *e,
                     const meta_values *v);

/* ---- storage outcomes --------------------------------------------------- */

typedef enum proto_op {
    PROTO_OP_STORE,  /* set/add/replace/cas, ms */
    PROTO_OP_APPEND, /* append/prepend: too large is just not stored */
    PROTO_OP_ARITH,  /* incr/decr, ma (success answers itself) */
    PROTO_OP_DELETE  /* md (classic delete answers itself) */
} proto_op;

/* Answer a storage status: its word (STORED NOT_STORED EXISTS NOT_FOUND,
 * or with an echo the meta HD NS EX NF followed by the echo), or the error
 * line the status stands for in this operation. */
void proto_reply_status(proto_out *o, molt_status st, proto_op op,
                        const meta_echo *echo, const meta_values *v);

#endif
