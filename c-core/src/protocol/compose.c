/* protocol/compose.c - see compose.h. Words and error strings match
 * memcached 1.6 byte for byte. */
#include "protocol/compose.h"

#include <string.h>

#include "protocol/base64.h"
#include "util/numparse.h"

void proto_reply_line(proto_out *o, const char *s) {
    if (o->noreply) return;
    size_t n = strlen(s);
    if (molt_buf_reserve(o->buf, n + 2, o->limit) != 0) {
        o->close = 1;
        return;
    }
    char *p = o->buf->data + o->buf->end;
    memcpy(p, s, n);
    p[n] = '\r';
    p[n + 1] = '\n';
    o->buf->end += n + 2;
}

size_t put_lit(char *p, const char *s) {
    size_t n = strlen(s);
    memcpy(p, s, n);
    return n;
}

size_t put_i64(char *p, int64_t v) {
    if (v >= 0) return format_u64(p, (uint64_t)v);
    p[0] = '-';
    return 1 + format_u64(p + 1, (uint64_t)0 - (uint64_t)v);
}

size_t put_flag_u64(char *p, char flag, uint64_t v) {
    p[0] = ' ';
    p[1] = flag;
    return 2 + format_u64(p + 2, v);
}

size_t put_key(char *p, const uint8_t *key, size_t key_len, int binary) {
    size_t h = 0;
    p[h++] = ' ';
    p[h++] = 'k';
    if (binary) {
        h += base64_encode(key, key_len, p + h);
        p[h++] = ' ';
        p[h++] = 'b';
    } else {
        memcpy(p + h, key, key_len);
        h += key_len;
    }
    return h;
}

size_t meta_put_echo(char *p, const meta_echo *e, const meta_values *v) {
    static const meta_values unknown = {0};
    if (v == NULL) v = &unknown;
    size_t h = 0;
    for (size_t i = 0; i < e->nflags; i++) {
        char f = e->flags[i];
        unsigned needs;
        uint64_t value;
        switch (f) {
        case 'O':
            p[h++] = ' ';
            memcpy(p + h, e->opaque, e->opaque_len);
            h += e->opaque_len;
            continue;
        case 'k':
            h += put_key(p + h, e->key, e->key_len, e->key_binary);
            continue;
        case 't': /* signed: -1 for no expiry */
            if (!(v->known & META_KNOWN_TTL)) continue;
            p[h++] = ' ';
            p[h++] = 't';
            h += put_i64(p + h, v->ttl);
            continue;
        case 's': needs = META_KNOWN_SIZE, value = v->size; break;
        case 'c': needs = META_KNOWN_CAS, value = v->cas; break;
        case 'f': needs = META_KNOWN_FLAGS, value = v->client_flags; break;
        case 'l': needs = META_KNOWN_IDLE, value = v->idle; break;
        case 'h': needs = META_KNOWN_FETCHED, value = v->fetched ? 1 : 0; break;
        default: continue;
        }
        if (v->known & needs) h += put_flag_u64(p + h, f, value);
    }
    return h;
}

size_t meta_put_head(char *p, int value, size_t size) {
    if (!value) return put_lit(p, "HD");
    size_t h = put_lit(p, "VA ");
    return h + format_u64(p + h, size);
}

void meta_reply_code(proto_out *o, const char *code, const meta_echo *e,
                     const meta_values *v) {
    char line[META_LINE_MAX];
    size_t h = put_lit(line, code);
    h += meta_put_echo(line + h, e, v);
    line[h++] = '\r';
    line[h++] = '\n';
    proto_reply(o, line, h);
}

/* The words a storage status answers with, by dialect. */
enum { WORD_DONE, WORD_NOT_STORED, WORD_EXISTS, WORD_NOT_FOUND, WORD_NONE };

typedef struct classic_word {
    const char *text; /* CRLF included */
    size_t len;
} classic_word;

#define CLASSIC_WORD(lit) {lit "\r\n", sizeof(lit "\r\n") - 1}
static const classic_word classic_words[] = {
    [WORD_DONE] = CLASSIC_WORD("STORED"),
    [WORD_NOT_STORED] = CLASSIC_WORD("NOT_STORED"),
    [WORD_EXISTS] = CLASSIC_WORD("EXISTS"),
    [WORD_NOT_FOUND] = CLASSIC_WORD("NOT_FOUND"),
};
static const char *const meta_words[] = {
    [WORD_DONE] = "HD",
    [WORD_NOT_STORED] = "NS",
    [WORD_EXISTS] = "EX",
    [WORD_NOT_FOUND] = "NF",
};

void proto_reply_status(proto_out *o, molt_status st, proto_op op,
                        const meta_echo *echo, const meta_values *v) {
    int word = WORD_NONE;
    const char *error = "SERVER_ERROR storage failure";
    switch (st) {
    case MOLT_OK:
        word = WORD_DONE;
        break;
    case MOLT_NOT_STORED:
        if (op != PROTO_OP_DELETE) word = WORD_NOT_STORED;
        break;
    case MOLT_EXISTS:
        word = WORD_EXISTS;
        break;
    case MOLT_NOT_FOUND:
        word = WORD_NOT_FOUND;
        break;
    case MOLT_TOO_LARGE:
        /* memcached: an append/prepend that outgrows the limit is simply
         * not stored; anything else too large is a server error. */
        if (op == PROTO_OP_APPEND) word = WORD_NOT_STORED;
        else if (op == PROTO_OP_STORE) error = "SERVER_ERROR object too large for cache";
        break;
    case MOLT_NO_MEMORY:
        if (op == PROTO_OP_ARITH) error = "SERVER_ERROR out of memory";
        else if (op != PROTO_OP_DELETE) error = "SERVER_ERROR out of memory storing object";
        break;
    case MOLT_NON_NUMERIC:
        if (op == PROTO_OP_ARITH)
            error = "CLIENT_ERROR cannot increment or decrement non-numeric value";
        break;
    default:
        break;
    }
    if (word == WORD_NONE) proto_reply_line(o, error);
    else if (echo == NULL) proto_reply(o, classic_words[word].text, classic_words[word].len);
    else meta_reply_code(o, meta_words[word], echo, v);
}
