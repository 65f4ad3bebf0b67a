/* protocol/meta.c - memcached 1.6's meta commands (see meta.h).
 *
 *   mg <key> <flag>*            VA <size> <flag>* / HD <flag>* / EN
 *   ms <key> <datalen> <flag>*  HD / NS / EX / NF  (then a data block)
 *   md <key> <flag>*            HD / NF / EX
 *   ma <key> <flag>*            HD / VA <size> / NF / NS / EX
 *   mn                          MN
 *   me <key> [b]                ME <key> exp=.. la=.. cas=.. fetch=.. cls=.. size=..
 *
 * Parsing follows memcached 1.6.18 so that clients see the same answers:
 * the same tokenizer limits (flags counted with the command, key and
 * arguments, at most 20 tokens), one flag per first character (a repeat is
 * an error), the same error strings in the same precedence, and q
 * suppressing only the "nominal" reply (EN for mg, HD for ms/md/ma and ma's
 * VA) while errors, NF, NS and EX are always sent. Return flags are echoed
 * in request order; mg appends Z (win already handed out), X (stale) and W
 * (this request won) in that order.
 *
 * Beyond 1.6.18 (later memcached versions have them): E (explicit new cas)
 * on every command, x on md, and N on ms append/prepend (vivify).
 *
 * Deliberate differences from 1.6.18, each harmless for a client:
 *  - memcached applies T/N while it walks the flags, so "mg k t T30" reports
 *    the TTL from before the touch and "mg k R30 T10" tests R against the
 *    old TTL; here the flags that change the item (T, N) act before those
 *    that read it (t, R), whatever the order (what protocol.txt describes).
 *  - memcached checks an over-long opaque only while writing the reply,
 *    after a touch/vivify/arith already happened; here every check comes
 *    before the command acts.
 *  - memcached remembers that a key was stored with b and then base64-
 *    encodes it in k/me replies even for requests without b; here the
 *    request decides (same answers whenever a key is always used with b).
 *  - ma vivifying a missing key counts as an incr/decr hit here and its HD
 *    is hidden by q (the storage seam does not say whether it created the
 *    item); memcached counts nothing and answers HD even under q.
 *
 * No allocation: the line is split into a fixed token array, flags parse
 * into a fixed struct and a base64 key decodes into a stack buffer. */
#include "protocol/meta.h"

#include <string.h>

#include "protocol/base64.h"
#include "util/numparse.h"
#include "protocol/text.h"
#include "server/server.h"
#include "admin/stats.h"
#include "server/worker.h"

/* memcached's tokenizer keeps 23 tokens (plus the unparsed rest) and counts
 * a terminal token; meta commands refuse more than 20 counted tokens. */
#define MC_MAX_TOKENS 24
#define MC_MAX_META_TOKENS 20
/* Room for the longest reply line: "VA <u32>", every flag once with a
 * 20-digit number, a 250-byte key base64-encoded, a 32-byte opaque. */
#define META_HEAD_MAX 1024

typedef struct mtok {
    const char *p;
    size_t n;
} mtok;

static const char err_bad_format[] = "CLIENT_ERROR bad command line format";
static const char err_bad_token[] = "CLIENT_ERROR bad token in command line format";
static const char err_opaque[] = "CLIENT_ERROR opaque token too long";

/* Split like memcached's tokenize_command: returns its token count (the
 * real tokens, at most 23, plus one terminal token). */
static size_t meta_tokenize(const char *s, size_t len, mtok *t) {
    size_t n = 0, i = 0;
    while (i < len) {
        while (i < len && s[i] == ' ') i++;
        if (i == len) break;
        if (n == MC_MAX_TOKENS - 1) return MC_MAX_TOKENS;
        size_t b = i;
        while (i < len && s[i] != ' ') i++;
        t[n].p = s + b;
        t[n].n = i - b;
        n++;
    }
    return n + 1;
}

/* ---- output ------------------------------------------------------------- */

static void out(molt_conn *c, const char *s, size_t n) {
    if (buf_append(&c->wbuf, s, n, c->wbuf_limit) != 0) c->close_after_write = 1;
}

/* An error line: always sent, q or not (as memcached's out_errstring). */
static void out_line(molt_conn *c, const char *s) {
    size_t n = strlen(s);
    if (buf_reserve(&c->wbuf, n + 2, c->wbuf_limit) != 0) {
        c->close_after_write = 1;
        return;
    }
    char *p = c->wbuf.data + c->wbuf.end;
    memcpy(p, s, n);
    p[n] = '\r';
    p[n + 1] = '\n';
    c->wbuf.end += n + 2;
}

static size_t put_lit(char *p, const char *s) {
    size_t n = strlen(s);
    memcpy(p, s, n);
    return n;
}

static size_t put_i64(char *p, int64_t v) {
    if (v >= 0) return format_u64(p, (uint64_t)v);
    p[0] = '-';
    return 1 + format_u64(p + 1, (uint64_t)0 - (uint64_t)v);
}

/* " <flag char><u64>" */
static size_t put_flag_u64(char *p, char flag, uint64_t v) {
    p[0] = ' ';
    p[1] = flag;
    return 2 + format_u64(p + 2, v);
}

/* " k<key>", or " k<base64 key> b" for a binary key. */
static size_t put_key(char *p, const uint8_t *key, size_t key_len, int binary) {
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

/* " <opaque token>" (the token includes its O). */
static size_t put_tok(char *p, const mtok *t) {
    p[0] = ' ';
    memcpy(p + 1, t->p, t->n);
    return 1 + t->n;
}

/* ---- flags -------------------------------------------------------------- */

typedef struct meta_opts {
    const char *err; /* the reply when parsing fails */
    const mtok *flags;
    size_t nflags;
    uint8_t key[MOLT_KEY_MAX];
    size_t key_len;
    int key_binary;  /* b */
    int value;       /* v */
    int quiet;       /* q */
    int no_update;   /* u */
    int invalidate;  /* I */
    int has_cas;     /* C */
    int has_new_cas; /* E */
    int vivify;      /* N */
    int touch;       /* T */
    int recache;     /* R */
    int clear_value; /* x (md) */
    char mode;       /* M */
    int32_t touch_ttl, vivify_ttl, recache_ttl;
    uint32_t client_flags; /* F */
    uint64_t cas, new_cas, delta, initial;
} meta_opts;

/* memcached's safe_strtol: a decimal that fits a long, silently truncated
 * to 32 bits. */
static int num_i32(const mtok *t, int32_t *out) {
    int64_t v;
    if (!parse_i64(t->p + 1, t->n - 1, &v)) return 0;
    *out = (int32_t)(uint32_t)(uint64_t)v;
    return 1;
}

/* memcached's safe_strtoull: strtoull (an optional sign, a negative value
 * wraps) refusing only a '-' whose result looks negative as a signed
 * number; so "-0" is 0 but "-1" is an error. */
static int num_u64(const mtok *t, uint64_t *out) {
    const char *s = t->p + 1;
    size_t n = t->n - 1;
    int neg = 0;
    if (n > 1 && (s[0] == '+' || s[0] == '-')) {
        neg = s[0] == '-';
        s++;
        n--;
    }
    uint64_t v;
    if (!parse_u64(s, n, &v)) return 0;
    if (neg) {
        v = (uint64_t)0 - v;
        if (v > (uint64_t)INT64_MAX) return 0;
    }
    *out = v;
    return 1;
}

/* Parse the flags of a meta command, as memcached's _meta_flag_preparse:
 * an unknown or repeated flag fails at once; other bad values are noted
 * (the last message wins) and parsing goes on. `key` is the key token;
 * the (decoded) key lands in o->key. Returns 0 or -1 with o->err set. */
static int meta_parse(meta_opts *o, const mtok *key, const mtok *f, size_t nf,
                      char cmd) {
    uint8_t seen[128] = {0};
    int bad = 0;
    memset(o, 0, sizeof(*o));
    o->err = err_bad_format;
    o->flags = f;
    o->nflags = nf;
    o->delta = 1;
    memcpy(o->key, key->p, key->n); /* key->n <= MOLT_KEY_MAX, checked */
    o->key_len = key->n;
    for (size_t i = 0; i < nf; i++) {
        unsigned char ch = (unsigned char)f[i].p[0];
        if (ch >= 127 || seen[ch]) {
            o->err = "CLIENT_ERROR duplicate flag";
            return -1;
        }
        seen[ch] = 1;
        switch (ch) {
        case 'b':
            o->key_len = base64_decode(key->p, key->n, o->key, sizeof(o->key));
            if (o->key_len == 0) {
                o->err = "CLIENT_ERROR error decoding key";
                bad = 1;
            }
            o->key_binary = 1;
            break;
        case 'N':
            o->vivify = 1;
            if (!num_i32(&f[i], &o->vivify_ttl)) {
                o->err = err_bad_token;
                bad = 1;
            }
            break;
        case 'T':
            o->touch = 1;
            if (!num_i32(&f[i], &o->touch_ttl)) {
                o->err = err_bad_token;
                bad = 1;
            }
            break;
        case 'R':
            o->recache = 1;
            if (!num_i32(&f[i], &o->recache_ttl)) {
                o->err = err_bad_token;
                bad = 1;
            }
            break;
        case 'v':
            o->value = 1;
            break;
        case 'u':
            o->no_update = 1;
            break;
        case 'q':
            o->quiet = 1;
            break;
        case 'I':
            o->invalidate = 1;
            break;
        case 'F': {
            uint64_t v;
            /* memcached's safe_strtoul: truncated to 32 bits; its failure
             * keeps whatever message an earlier flag set. */
            if (num_u64(&f[i], &v)) o->client_flags = (uint32_t)v;
            else bad = 1;
            break;
        }
        case 'C':
            if (num_u64(&f[i], &o->cas)) {
                o->has_cas = 1;
            } else {
                o->err = err_bad_token;
                bad = 1;
            }
            break;
        case 'E':
            if (num_u64(&f[i], &o->new_cas)) {
                o->has_new_cas = 1;
            } else {
                o->err = err_bad_token;
                bad = 1;
            }
            break;
        case 'M':
            if (f[i].n != 2) {
                o->err = "CLIENT_ERROR incorrect length for M token";
                bad = 1;
            } else {
                o->mode = f[i].p[1];
            }
            break;
        case 'J':
            if (!num_u64(&f[i], &o->initial)) {
                o->err = "CLIENT_ERROR invalid numeric initial value";
                bad = 1;
            }
            break;
        case 'D':
            if (!num_u64(&f[i], &o->delta)) {
                o->err = "CLIENT_ERROR invalid numeric delta value";
                bad = 1;
            }
            break;
        case 'x':
            if (cmd != 'd') goto invalid;
            o->clear_value = 1;
            break;
        /* known, nothing to parse: return flags and reserved ones */
        case 'O': case 'P': case 'L': case 'k': case 's': case 't':
        case 'c': case 'f': case 'l': case 'h':
            break;
        default:
        invalid:
            o->err = "CLIENT_ERROR invalid flag";
            return -1;
        }
    }
    return bad ? -1 : 0;
}

/* Non-zero when an O flag is longer than memcached allows. */
static int opaque_too_long(const meta_opts *o) {
    for (size_t i = 0; i < o->nflags; i++)
        if (o->flags[i].p[0] == 'O' && o->flags[i].n > MOLT_META_OPAQUE_MAX) return 1;
    return 0;
}

/* A reply line made of `code` and the O/k return flags (the reply of a
 * miss, and of md/ma). */
static void out_code_ok(molt_conn *c, const char *code, const meta_opts *o) {
    char head[META_HEAD_MAX];
    size_t h = put_lit(head, code);
    for (size_t i = 0; i < o->nflags; i++) {
        const mtok *f = &o->flags[i];
        if (f->p[0] == 'O') h += put_tok(head + h, f);
        else if (f->p[0] == 'k') h += put_key(head + h, o->key, o->key_len, o->key_binary);
    }
    head[h++] = '\r';
    head[h++] = '\n';
    out(c, head, h);
}

static molt_counters *counters(molt_conn *c) { return &c->worker->counters; }
static int64_t now_of(molt_conn *c) { return c->worker->now; }
static molt_storage *storage_of(molt_conn *c) { return c->worker->server->storage; }

static int64_t abs_exptime(int32_t ttl, int64_t now) {
    return proto_absolute_exptime(ttl, now);
}

/* t's value: remaining seconds, -1 for an item that never expires. */
static int64_t ttl_left(int64_t exptime, int64_t now) {
    if (exptime == 0) return -1;
    return exptime > now ? exptime - now : 0;
}

/* ---- mg ----------------------------------------------------------------- */

typedef struct mg_ctx {
    molt_conn *c;
    const meta_opts *o;
    int64_t now;
    int failed;
} mg_ctx;

static void mg_sink(void *ctx, const molt_item_info *info, const uint8_t *value,
                    size_t value_len) {
    mg_ctx *x = ctx;
    const meta_opts *o = x->o;
    char head[META_HEAD_MAX];
    size_t h;
    if (o->value) {
        h = put_lit(head, "VA ");
        h += format_u64(head + h, value_len);
    } else {
        h = put_lit(head, "HD");
    }
    for (size_t i = 0; i < o->nflags; i++) {
        const mtok *f = &o->flags[i];
        switch (f->p[0]) {
        case 's':
            h += put_flag_u64(head + h, 's', value_len);
            break;
        case 't':
            head[h++] = ' ';
            head[h++] = 't';
            h += put_i64(head + h, ttl_left(info->exptime, x->now));
            break;
        case 'c':
            h += put_flag_u64(head + h, 'c', info->cas);
            break;
        case 'f':
            h += put_flag_u64(head + h, 'f', info->flags);
            break;
        case 'l':
            h += put_flag_u64(head + h, 'l', info->last_access < x->now
                                                 ? (uint64_t)(x->now - info->last_access)
                                                 : 0);
            break;
        case 'h':
            h += put_flag_u64(head + h, 'h', info->fetched ? 1 : 0);
            break;
        case 'O':
            h += put_tok(head + h, f);
            break;
        case 'k':
            h += put_key(head + h, o->key, o->key_len, o->key_binary);
            break;
        default:
            break;
        }
    }
    if (info->win_taken) h += put_lit(head + h, " Z");
    if (info->stale) h += put_lit(head + h, " X");
    if (info->win) h += put_lit(head + h, " W");
    head[h++] = '\r';
    head[h++] = '\n';
    molt_buf *w = &x->c->wbuf;
    size_t total = h + (o->value ? value_len + 2 : 0);
    if (buf_reserve(w, total, x->c->wbuf_limit) != 0) {
        x->failed = 1;
        return;
    }
    char *p = w->data + w->end;
    memcpy(p, head, h);
    if (o->value) {
        memcpy(p + h, value, value_len);
        p[h + value_len] = '\r';
        p[h + value_len + 1] = '\n';
    }
    w->end += total;
}

static void meta_get(molt_conn *c, const mtok *t, size_t ntok) {
    if (ntok < 3) {
        out_line(c, "ERROR");
        return;
    }
    if (t[1].n > MOLT_KEY_MAX) {
        out_line(c, err_bad_format);
        return;
    }
    if (ntok > MC_MAX_META_TOKENS) {
        out_line(c, "CLIENT_ERROR options flags are too long");
        return;
    }
    meta_opts o;
    if (meta_parse(&o, &t[1], &t[2], ntok - 3, 'g') != 0) {
        out_line(c, o.err);
        return;
    }
    if (opaque_too_long(&o)) {
        out_line(c, err_opaque);
        return;
    }
    int64_t now = now_of(c);
    molt_meta_get_opts g = {
        .touch = o.touch,
        .touch_exptime = o.touch ? abs_exptime(o.touch_ttl, now) : 0,
        .no_bump = o.no_update,
        .vivify = o.vivify,
        .vivify_exptime = o.vivify ? abs_exptime(o.vivify_ttl, now) : 0,
        .recache = o.recache,
        .has_new_cas = o.has_new_cas,
        .new_cas = o.new_cas,
    };
    if (o.recache) {
        int64_t at = abs_exptime(o.recache_ttl, now);
        g.recache_ttl = at > now ? at - now : 0;
    }
    mg_ctx x = {.c = c, .o = &o, .now = now};
    molt_status st =
        molt_storage_meta_get(storage_of(c), o.key, o.key_len, now, &g, mg_sink, &x);
    molt_counters *k = counters(c);
    if (x.failed) {
        out_line(c, "SERVER_ERROR out of memory writing get response");
        c->close_after_write = 1;
        return;
    }
    if (st == MOLT_OK) {
        /* As memcached: a hit with T counts as a touch, else as a get (a
         * vivified miss counts as a hit). */
        if (o.touch) {
            counter_add(&k->cmd_touch, 1);
            counter_add(&k->touch_hits, 1);
        } else {
            counter_add(&k->cmd_get, 1);
            counter_add(&k->get_hits, 1);
        }
        return;
    }
    if (st != MOLT_NOT_FOUND && st != MOLT_NO_MEMORY) {
        out_line(c, "SERVER_ERROR storage failure");
        return;
    }
    counter_add(&k->cmd_get, 1);
    counter_add(&k->get_misses, 1);
    if (!o.quiet) out_code_ok(c, "EN", &o);
}

/* ---- ms ----------------------------------------------------------------- */

static void meta_set(molt_conn *c, const mtok *t, size_t ntok) {
    if (ntok < 3) {
        out_line(c, "ERROR");
        return;
    }
    if (t[1].n > MOLT_KEY_MAX || ntok == 3) {
        out_line(c, err_bad_format);
        return;
    }
    if (ntok > MC_MAX_META_TOKENS) {
        out_line(c, "CLIENT_ERROR options flags too long");
        return;
    }
    int32_t vlen;
    if (!parse_i32(t[2].p, t[2].n, &vlen) || vlen < 0 || vlen > INT32_MAX - 2) {
        out_line(c, err_bad_format);
        return;
    }
    /* From here on the data block is discarded after an error. */
    size_t data_len = (size_t)vlen + 2;
    meta_opts o;
    const char *err = NULL;
    if (meta_parse(&o, &t[1], &t[3], ntok - 4, 's') != 0) {
        err = o.err;
    } else {
        if (opaque_too_long(&o)) err = err_opaque;
        molt_store_mode mode = MOLT_STORE_SET;
        switch (o.mode) {
        case 0: case 'S': mode = MOLT_STORE_SET; break;
        case 'E': mode = MOLT_STORE_ADD; break;
        case 'A': mode = MOLT_STORE_APPEND; break;
        case 'P': mode = MOLT_STORE_PREPEND; break;
        case 'R': mode = MOLT_STORE_REPLACE; break;
        default: err = "CLIENT_ERROR invalid mode for ms M token"; break;
        }
        if (err == NULL &&
            molt_item_size(o.key_len, o.client_flags, (size_t)vlen) >
                c->worker->server->opts.item_size_max) {
            counter_add(&counters(c)->store_too_large, 1);
            err = "SERVER_ERROR object too large for cache";
            /* memcached drops the old value whatever the mode. */
            molt_storage_remove(storage_of(c), o.key, o.key_len, now_of(c));
        }
        if (err == NULL) {
            pending_store *p = &c->pending;
            pending_meta *m = &p->meta;
            int64_t now = now_of(c);
            p->mode = mode;
            memcpy(p->key, o.key, o.key_len);
            p->key_len = o.key_len;
            p->flags = o.client_flags;
            p->exptime = o.touch ? abs_exptime(o.touch_ttl, now) : 0;
            p->cas = 0;
            p->data_len = data_len;
            p->noreply = 0;
            memset(m, 0, sizeof(*m));
            m->active = 1;
            m->quiet = o.quiet;
            m->key_binary = o.key_binary;
            /* As memcached: C turns set/replace into a cas (I then lets an
             * older cas store a stale value), append/prepend check it, add
             * ignores it. */
            if (o.has_cas && mode != MOLT_STORE_ADD) {
                m->has_compare_cas = 1;
                m->compare_cas = o.cas;
                m->invalidate = o.invalidate &&
                                (mode == MOLT_STORE_SET || mode == MOLT_STORE_REPLACE);
            }
            m->has_new_cas = o.has_new_cas;
            m->new_cas = o.new_cas;
            m->vivify = o.vivify;
            m->vivify_exptime = o.vivify ? abs_exptime(o.vivify_ttl, now) : 0;
            for (size_t i = 0; i < o.nflags; i++) {
                char f = o.flags[i].p[0];
                if (f != 'O' && f != 'k' && f != 'c') continue;
                m->ret[m->nret++] = f; /* each at most once: duplicates refused */
                if (f == 'O') {
                    m->opaque_len = (uint8_t)o.flags[i].n;
                    memcpy(m->opaque, o.flags[i].p, o.flags[i].n);
                }
            }
            c->want_data = 1;
            return;
        }
    }
    out_line(c, err);
    c->swallow = data_len;
}

void proto_meta_complete_store(molt_conn *c, const char *data) {
    pending_store *p = &c->pending;
    pending_meta *m = &p->meta;
    m->active = 0;
    c->noreply = 0;
    size_t vlen = p->data_len - 2;
    if (data[vlen] != '\r' || data[vlen + 1] != '\n') {
        out_line(c, "CLIENT_ERROR bad data chunk"); /* even under q */
        return;
    }
    molt_counters *k = counters(c);
    counter_add(&k->cmd_set, 1);
    molt_meta_store_req req = {
        .mode = p->mode,
        .key = p->key,
        .key_len = p->key_len,
        .value = (const uint8_t *)data,
        .value_len = vlen,
        .flags = p->flags,
        .exptime = p->exptime,
        .has_compare_cas = m->has_compare_cas,
        .compare_cas = m->compare_cas,
        .has_new_cas = m->has_new_cas,
        .new_cas = m->new_cas,
        .invalidate = m->invalidate,
        .vivify = m->vivify,
        .vivify_exptime = m->vivify_exptime,
    };
    uint64_t cas = 0;
    molt_status st = molt_storage_meta_store(storage_of(c), &req, now_of(c), &cas);
    int cas_mode = m->has_compare_cas &&
                   (p->mode == MOLT_STORE_SET || p->mode == MOLT_STORE_REPLACE);
    const char *code;
    switch (st) {
    case MOLT_OK:
        if (cas_mode) counter_add(&k->cas_hits, 1);
        if (m->quiet) return;
        code = "HD";
        break;
    case MOLT_NOT_STORED:
        code = "NS";
        break;
    case MOLT_EXISTS:
        if (cas_mode) counter_add(&k->cas_badval, 1);
        code = "EX";
        break;
    case MOLT_NOT_FOUND:
        if (cas_mode) counter_add(&k->cas_misses, 1);
        code = "NF";
        break;
    case MOLT_TOO_LARGE:
        counter_add(&k->store_too_large, 1);
        /* an append/prepend outgrowing the limit is just not stored */
        if (p->mode == MOLT_STORE_APPEND || p->mode == MOLT_STORE_PREPEND) {
            code = "NS";
            break;
        }
        out_line(c, "SERVER_ERROR object too large for cache");
        return;
    case MOLT_NO_MEMORY:
        counter_add(&k->store_no_memory, 1);
        out_line(c, "SERVER_ERROR out of memory storing object");
        return;
    default:
        out_line(c, "SERVER_ERROR storage failure");
        return;
    }
    if (st != MOLT_OK) cas = 0; /* memcached answers c0 when nothing was stored */
    char head[META_HEAD_MAX];
    size_t h = put_lit(head, code);
    for (size_t i = 0; i < m->nret; i++) {
        switch (m->ret[i]) {
        case 'O':
            head[h++] = ' ';
            memcpy(head + h, m->opaque, m->opaque_len);
            h += m->opaque_len;
            break;
        case 'k':
            h += put_key(head + h, p->key, p->key_len, m->key_binary);
            break;
        case 'c':
            h += put_flag_u64(head + h, 'c', cas);
            break;
        default:
            break;
        }
    }
    head[h++] = '\r';
    head[h++] = '\n';
    out(c, head, h);
}

/* ---- md ----------------------------------------------------------------- */

/* The checks md and ma share; 0 when the command may go ahead. */
static int meta_prepare(molt_conn *c, const mtok *t, size_t ntok, meta_opts *o,
                        char cmd) {
    if (ntok < 3) {
        out_line(c, "ERROR");
        return -1;
    }
    if (t[1].n > MOLT_KEY_MAX) {
        out_line(c, err_bad_format);
        return -1;
    }
    if (ntok > MC_MAX_META_TOKENS) {
        out_line(c, "CLIENT_ERROR options flags too long");
        return -1;
    }
    if (meta_parse(o, &t[1], &t[2], ntok - 3, cmd) != 0) {
        /* md/ma answer one message for every flag problem */
        out_line(c, "CLIENT_ERROR invalid or duplicate flag");
        return -1;
    }
    return 0;
}

static void meta_delete(molt_conn *c, const mtok *t, size_t ntok) {
    meta_opts o;
    if (meta_prepare(c, t, ntok, &o, 'd') != 0) return;
    if (opaque_too_long(&o)) {
        out_line(c, err_opaque);
        return;
    }
    int64_t now = now_of(c);
    molt_meta_delete_opts d = {
        .has_compare_cas = o.has_cas,
        .compare_cas = o.cas,
        .has_new_cas = o.has_new_cas,
        .new_cas = o.new_cas,
        .invalidate = o.invalidate,
        /* memcached reads T only when marking stale */
        .touch = o.invalidate && o.touch,
        .touch_exptime = o.invalidate && o.touch ? abs_exptime(o.touch_ttl, now) : 0,
        .clear_value = o.clear_value,
    };
    molt_status st = molt_storage_meta_delete(storage_of(c), o.key, o.key_len, now, &d);
    molt_counters *k = counters(c);
    switch (st) {
    case MOLT_OK:
        /* a stale mark or a cleared value is not a delete hit */
        if (!o.invalidate && !o.clear_value) counter_add(&k->delete_hits, 1);
        if (!o.quiet) out_code_ok(c, "HD", &o);
        break;
    case MOLT_NOT_FOUND:
        counter_add(&k->delete_misses, 1);
        out_code_ok(c, "NF", &o);
        break;
    case MOLT_EXISTS:
        counter_add(&k->delete_misses, 1);
        out_code_ok(c, "EX", &o);
        break;
    default:
        out_line(c, "SERVER_ERROR storage failure");
        break;
    }
}

/* ---- ma ----------------------------------------------------------------- */

static void meta_arith(molt_conn *c, const mtok *t, size_t ntok) {
    meta_opts o;
    if (meta_prepare(c, t, ntok, &o, 'a') != 0) return;
    int incr;
    switch (o.mode) {
    case 0: case 'I': case '+': incr = 1; break;
    case 'D': case '-': incr = 0; break;
    default:
        out_line(c, "CLIENT_ERROR invalid mode for ma M token");
        return;
    }
    if (opaque_too_long(&o)) {
        out_line(c, err_opaque);
        return;
    }
    int64_t now = now_of(c);
    molt_meta_arith_opts a = {
        .incr = incr,
        .delta = o.delta,
        .has_compare_cas = o.has_cas,
        .compare_cas = o.cas,
        .has_new_cas = o.has_new_cas,
        .new_cas = o.new_cas,
        .vivify = o.vivify,
        .vivify_exptime = o.vivify ? abs_exptime(o.vivify_ttl, now) : 0,
        .initial = o.initial,
        .touch = o.touch,
        .touch_exptime = o.touch ? abs_exptime(o.touch_ttl, now) : 0,
    };
    molt_meta_arith_result r = {0};
    molt_status st = molt_storage_meta_arith(storage_of(c), o.key, o.key_len, now, &a, &r);
    molt_counters *k = counters(c);
    switch (st) {
    case MOLT_OK:
        break;
    case MOLT_NOT_FOUND:
        counter_add(incr ? &k->incr_misses : &k->decr_misses, 1);
        out_code_ok(c, "NF", &o);
        return;
    case MOLT_EXISTS:
        out_code_ok(c, "EX", &o);
        return;
    case MOLT_NOT_STORED:
        out_code_ok(c, "NS", &o);
        return;
    case MOLT_NON_NUMERIC:
        out_line(c, "CLIENT_ERROR cannot increment or decrement non-numeric value");
        return;
    case MOLT_NO_MEMORY:
        out_line(c, "SERVER_ERROR out of memory");
        return;
    default:
        out_line(c, "SERVER_ERROR storage failure");
        return;
    }
    counter_add(incr ? &k->incr_hits : &k->decr_hits, 1);
    if (o.quiet) return;
    char num[24];
    size_t nlen = format_u64(num, r.value);
    char head[META_HEAD_MAX];
    size_t h;
    if (o.value) {
        h = put_lit(head, "VA ");
        h += format_u64(head + h, nlen);
    } else {
        h = put_lit(head, "HD");
    }
    for (size_t i = 0; i < o.nflags; i++) {
        const mtok *f = &o.flags[i];
        switch (f->p[0]) {
        case 'c':
            h += put_flag_u64(head + h, 'c', r.cas);
            break;
        case 't':
            head[h++] = ' ';
            head[h++] = 't';
            h += put_i64(head + h, ttl_left(r.exptime, now));
            break;
        case 'O':
            h += put_tok(head + h, f);
            break;
        case 'k':
            h += put_key(head + h, o.key, o.key_len, o.key_binary);
            break;
        default:
            break;
        }
    }
    head[h++] = '\r';
    head[h++] = '\n';
    if (o.value) {
        memcpy(head + h, num, nlen);
        h += nlen;
        head[h++] = '\r';
        head[h++] = '\n';
    }
    out(c, head, h);
}

/* ---- me ----------------------------------------------------------------- */

typedef struct me_ctx {
    molt_item_info info;
    size_t value_len;
} me_ctx;

static void me_sink(void *ctx, const molt_item_info *info, const uint8_t *value,
                    size_t value_len) {
    (void)value;
    me_ctx *x = ctx;
    x->info = *info;
    x->value_len = value_len;
}

/* A slab class number for me's cls= (memcached's classes with its default
 * growth factor: 96-byte chunks growing by 1.25, 8-byte aligned). Only a
 * debugging aid: the seg engine has no classes. */
static unsigned me_class(size_t size) {
    unsigned cls = 1;
    double chunk = 96;
    while (size > (size_t)chunk && cls < 63) {
        chunk *= 1.25;
        size_t aligned = ((size_t)chunk + 7) & ~(size_t)7;
        chunk = (double)aligned;
        cls++;
    }
    return cls;
}

static void meta_debug(molt_conn *c, const mtok *t, size_t ntok) {
    if (ntok < 3 || t[1].n > MOLT_KEY_MAX) {
        out_line(c, err_bad_format);
        return;
    }
    uint8_t key[MOLT_KEY_MAX];
    size_t key_len = t[1].n;
    int binary = ntok >= 4 && t[2].n == 1 && t[2].p[0] == 'b';
    if (binary) {
        key_len = base64_decode(t[1].p, t[1].n, key, sizeof(key));
        if (key_len == 0) {
            out_line(c, err_bad_format);
            return;
        }
    } else {
        memcpy(key, t[1].p, key_len);
    }
    int64_t now = now_of(c);
    molt_meta_get_opts g = {.no_bump = 1};
    me_ctx x;
    memset(&x, 0, sizeof(x));
    molt_status st = molt_storage_meta_get(storage_of(c), key, key_len, now, &g, me_sink, &x);
    counter_add(&counters(c)->cmd_meta, 1);
    if (st != MOLT_OK) {
        out_line(c, "EN");
        return;
    }
    char line[META_HEAD_MAX];
    size_t h = put_lit(line, "ME ");
    if (binary) {
        h += base64_encode(key, key_len, line + h);
    } else {
        memcpy(line + h, key, key_len);
        h += key_len;
    }
    size_t size = molt_item_size(key_len, x.info.flags, x.value_len);
    /* exp as memcached prints it: now - exptime (negative while live),
     * -1 for an item without expiry */
    h += put_lit(line + h, " exp=");
    h += put_i64(line + h, x.info.exptime == 0 ? -1 : now - x.info.exptime);
    h += put_lit(line + h, " la=");
    h += put_i64(line + h, now > x.info.last_access ? now - x.info.last_access : 0);
    h += put_lit(line + h, " cas=");
    h += format_u64(line + h, x.info.cas);
    h += put_lit(line + h, x.info.fetched ? " fetch=yes" : " fetch=no");
    h += put_lit(line + h, " cls=");
    h += format_u64(line + h, me_class(size));
    h += put_lit(line + h, " size=");
    h += format_u64(line + h, size);
    line[h++] = '\r';
    line[h++] = '\n';
    out(c, line, h);
}

/* ---- entry -------------------------------------------------------------- */

void proto_meta_dispatch(molt_conn *c, const char *line, size_t len) {
    mtok t[MC_MAX_TOKENS];
    size_t ntok = meta_tokenize(line, len, t);
    c->noreply = 0;
    switch (t[0].p[1]) {
    case 'g': meta_get(c, t, ntok); break;
    case 's': meta_set(c, t, ntok); break;
    case 'd': meta_delete(c, t, ntok); break;
    case 'a': meta_arith(c, t, ntok); break;
    case 'n': out(c, "MN\r\n", 4); break;
    case 'e': meta_debug(c, t, ntok); break;
    default: out_line(c, "ERROR"); break;
    }
}
