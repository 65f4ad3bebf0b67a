/* protocol/meta_parse.c - meta command lines into meta_requests (see
 * request.h and meta.c for the commands).
 *
 * Parsing follows memcached 1.6.18 so that clients see the same answers:
 * the same tokenizer limits (flags counted with the command, key and
 * arguments, at most 20 tokens), one flag per first character (a repeat is
 * an error), and the same error strings in the same precedence. Beyond
 * 1.6.18 (later memcached versions have them): E on every command, x on md.
 *
 * No allocation: the line is split into a fixed token array, flags parse
 * into the request and a base64 key decodes into the request's key. */
#include "protocol/request.h"

#include "protocol/base64.h"
#include "util/numparse.h"

/* memcached's tokenizer keeps 23 tokens (plus the unparsed rest) and counts
 * a terminal token; meta commands refuse more than 20 counted tokens. */
#define MC_MAX_TOKENS 24
#define MC_MAX_META_TOKENS 20

static const char err_error[] = "ERROR";
static const char err_bad_format[] = "CLIENT_ERROR bad command line format";
static const char err_bad_token[] = "CLIENT_ERROR bad token in command line format";
static const char err_opaque[] = "CLIENT_ERROR opaque token too long";
static const char err_flags_too_long[] = "CLIENT_ERROR options flags too long";

/* memcached's safe_strtol: a decimal that fits a long, silently truncated
 * to 32 bits. */
static int num_i32(const proto_token *t, int32_t *out) {
    return parse_mc_i32(t->p + 1, t->n - 1, out);
}

/* A flag's number as memcached's safe_strtoull reads it. */
static int num_u64(const proto_token *t, uint64_t *out) {
    return parse_mc_u64(t->p + 1, t->n - 1, out);
}

/* A flag that switches something on and carries a number (N T R C E):
 * sets *on (only when the number is good, for has_*), notes a bad one. */
static void number_flag(const proto_token *t, int *on, int on_when_bad, int32_t *ttl,
                        uint64_t *value, const char **err, int *bad) {
    int ok = ttl ? num_i32(t, ttl) : num_u64(t, value);
    if (ok || on_when_bad) *on = 1;
    if (!ok) {
        *err = err_bad_token;
        *bad = 1;
    }
}

/* The flags f[0..nf) of command `cmd`, as memcached's _meta_flag_preparse:
 * an unknown or repeated flag fails at once; other bad values are noted
 * (the last message wins) and parsing goes on. `key` is the key token; the
 * (decoded) key lands in m->key. Returns the error line or NULL. */
static const char *parse_flags(meta_request *m, const proto_token *key,
                               const proto_token *f, size_t nf, char cmd) {
    uint8_t seen[128] = {0};
    char last_ttl_flag = 0; /* 'N' or 'T', whichever came last */
    const char *err = err_bad_format;
    int bad = 0;
    m->delta = 1;
    memcpy(m->key, key->p, key->n); /* key->n <= MOLT_KEY_MAX, checked */
    m->key_len = key->n;
    for (size_t i = 0; i < nf; i++) {
        unsigned char ch = (unsigned char)f[i].p[0];
        if (ch >= 127 || seen[ch]) return "CLIENT_ERROR duplicate flag";
        seen[ch] = 1;
        switch (ch) {
        case 'b':
            m->key_len = base64_decode(key->p, key->n, m->key, sizeof(m->key));
            if (m->key_len == 0) {
                err = "CLIENT_ERROR error decoding key";
                bad = 1;
            }
            m->key_binary = 1;
            break;
        case 'N':
            number_flag(&f[i], &m->vivify, 1, &m->vivify_ttl, NULL, &err, &bad);
            last_ttl_flag = 'N';
            break;
        case 'T':
            number_flag(&f[i], &m->touch, 1, &m->touch_ttl, NULL, &err, &bad);
            last_ttl_flag = 'T';
            break;
        case 'R':
            number_flag(&f[i], &m->recache, 1, &m->recache_ttl, NULL, &err, &bad);
            break;
        case 'v':
            m->value = 1;
            break;
        case 'u':
            m->no_update = 1;
            break;
        case 'q':
            m->quiet = 1;
            break;
        case 'I':
            m->invalidate = 1;
            break;
        case 'F': {
            uint64_t v;
            /* memcached's safe_strtoul: truncated to 32 bits; its failure
             * keeps whatever message an earlier flag set. */
            if (num_u64(&f[i], &v)) m->client_flags = (uint32_t)v;
            else bad = 1;
            break;
        }
        case 'C':
            number_flag(&f[i], &m->has_cas, 0, NULL, &m->cas, &err, &bad);
            break;
        case 'E':
            number_flag(&f[i], &m->has_new_cas, 0, NULL, &m->new_cas, &err, &bad);
            break;
        case 'M':
            if (f[i].n != 2) {
                err = "CLIENT_ERROR incorrect length for M token";
                bad = 1;
            } else {
                m->mode = f[i].p[1];
            }
            break;
        case 'J':
            if (!num_u64(&f[i], &m->initial)) {
                err = "CLIENT_ERROR invalid numeric initial value";
                bad = 1;
            }
            break;
        case 'D':
            if (!num_u64(&f[i], &m->delta)) {
                err = "CLIENT_ERROR invalid numeric delta value";
                bad = 1;
            }
            break;
        case 'x':
            if (cmd != 'd') return "CLIENT_ERROR invalid flag";
            m->clear_value = 1;
            break;
        case 'O':
            m->opaque = f[i].p;
            m->opaque_len = f[i].n;
            m->ret[m->nret++] = 'O';
            break;
        /* return flags: echoed in request order by the reply */
        case 'k': case 's': case 't': case 'c': case 'f': case 'l': case 'h':
            m->ret[m->nret++] = (char)ch;
            break;
        /* known, nothing to parse: reserved */
        case 'P': case 'L':
            break;
        default:
            return "CLIENT_ERROR invalid flag";
        }
    }
    /* memcached keeps one exptime for N and T: the later flag's TTL both
     * vivifies and touches (mg k N1000 T-1 creates an item that is
     * already expired). */
    if (m->vivify && m->touch) {
        int32_t ttl = last_ttl_flag == 'N' ? m->vivify_ttl : m->touch_ttl;
        m->vivify_ttl = ttl;
        m->touch_ttl = ttl;
    }
    return bad ? err : NULL;
}

static int opaque_too_long(const meta_request *m) {
    return m->opaque_len > META_OPAQUE_MAX;
}

/* mg <key> <flag>* */
static const char *parse_mg(meta_request *m, const proto_token *t, size_t ntok) {
    if (ntok < 3) return err_error;
    if (t[1].n > MOLT_KEY_MAX) return err_bad_format;
    if (ntok > MC_MAX_META_TOKENS) return "CLIENT_ERROR options flags are too long";
    const char *err = parse_flags(m, &t[1], &t[2], ntok - 3, 'g');
    if (err == NULL && opaque_too_long(m)) err = err_opaque;
    return err;
}

/* ms <key> <datalen> <flag>*: errors found before the length was read
 * leave the data block to be parsed as a command; later ones discard it. */
static const char *parse_ms(meta_request *m, const proto_token *t, size_t ntok) {
    if (ntok < 3) return err_error;
    if (t[1].n > MOLT_KEY_MAX || ntok == 3) return err_bad_format;
    if (ntok > MC_MAX_META_TOKENS) return err_flags_too_long;
    int32_t value_len;
    if (!parse_mc_i32(t[2].p, t[2].n, &value_len) || value_len < 0 ||
        value_len > INT32_MAX - 2)
        return err_bad_format;
    m->data_len = (size_t)value_len + 2;
    m->swallow = m->data_len;
    const char *err = parse_flags(m, &t[1], &t[3], ntok - 4, 's');
    if (err != NULL) return err;
    if (opaque_too_long(m)) err = err_opaque;
    switch (m->mode) {
    case 0: case 'S': m->store_mode = MOLT_STORE_SET; break;
    case 'E': m->store_mode = MOLT_STORE_ADD; break;
    case 'A': m->store_mode = MOLT_STORE_APPEND; break;
    case 'P': m->store_mode = MOLT_STORE_PREPEND; break;
    case 'R': m->store_mode = MOLT_STORE_REPLACE; break;
    default: err = "CLIENT_ERROR invalid mode for ms M token"; break;
    }
    return err;
}

/* What md and ma check first. */
static const char *parse_md_ma(meta_request *m, const proto_token *t, size_t ntok, char cmd) {
    if (ntok < 3) return err_error;
    if (t[1].n > MOLT_KEY_MAX) return err_bad_format;
    if (ntok > MC_MAX_META_TOKENS) return err_flags_too_long;
    /* md/ma answer one message for every flag problem */
    if (parse_flags(m, &t[1], &t[2], ntok - 3, cmd) != NULL)
        return "CLIENT_ERROR invalid or duplicate flag";
    return NULL;
}

/* md <key> <flag>* */
static const char *parse_md(meta_request *m, const proto_token *t, size_t ntok) {
    const char *err = parse_md_ma(m, t, ntok, 'd');
    if (err == NULL && opaque_too_long(m)) err = err_opaque;
    return err;
}

/* ma <key> <flag>* */
static const char *parse_ma(meta_request *m, const proto_token *t, size_t ntok) {
    const char *err = parse_md_ma(m, t, ntok, 'a');
    if (err != NULL) return err;
    switch (m->mode) {
    case 0: case 'I': case '+': m->incr = 1; break;
    case 'D': case '-': m->incr = 0; break;
    default: return "CLIENT_ERROR invalid mode for ma M token";
    }
    return opaque_too_long(m) ? err_opaque : NULL;
}

/* me <key> [b]: only a lone b right after the key decodes it. */
static const char *parse_me(meta_request *m, const proto_token *t, size_t ntok) {
    if (ntok < 3 || t[1].n > MOLT_KEY_MAX) return err_bad_format;
    m->key_binary = ntok >= 4 && t[2].n == 1 && t[2].p[0] == 'b';
    if (m->key_binary) {
        m->key_len = base64_decode(t[1].p, t[1].n, m->key, sizeof(m->key));
        if (m->key_len == 0) return err_bad_format;
    } else {
        memcpy(m->key, t[1].p, t[1].n);
        m->key_len = t[1].n;
    }
    return NULL;
}

void meta_parse(const char *line, size_t len, meta_request *m) {
    proto_token t[MC_MAX_TOKENS - 1];
    size_t n = proto_tokenize(line, len, t, MC_MAX_TOKENS - 1);
    /* memcached's count: the real tokens plus a terminal one */
    size_t ntok = n > MC_MAX_TOKENS - 1 ? MC_MAX_TOKENS : n + 1;
    memset(m, 0, sizeof(*m));
    m->cmd = t[0].p[1];
    switch (m->cmd) {
    case 'g': m->err = parse_mg(m, t, ntok); break;
    case 's': m->err = parse_ms(m, t, ntok); break;
    case 'd': m->err = parse_md(m, t, ntok); break;
    case 'a': m->err = parse_ma(m, t, ntok); break;
    case 'e': m->err = parse_me(m, t, ntok); break;
    case 'n': break;
    default:
        m->cmd = 0;
        m->err = err_error;
        break;
    }
    /* only an error found after ms read its length discards the block */
    if (m->err == NULL) m->swallow = 0;
}
