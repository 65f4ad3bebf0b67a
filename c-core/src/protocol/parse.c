/* protocol/parse.c - classic command lines into requests (see request.h).
 * The token-count rules follow memcached's dispatcher: a wrong count is
 * ERROR, answered even under noreply; every later error is suppressed by a
 * trailing noreply. */
#include "protocol/request.h"

#include "util/numparse.h"

#define MAX_TOKENS 8 /* the most any command other than get* takes is 7 */
#define RELATIVE_EXPTIME_MAX (60 * 60 * 24 * 30)

static const char msg_error[] = "ERROR";
static const char msg_bad_format[] = "CLIENT_ERROR bad command line format";
static const char msg_bad_exptime[] = "CLIENT_ERROR invalid exptime argument";

int64_t proto_absolute_exptime(int64_t exptime, int64_t now) {
    if (exptime == 0) return 0;
    if (exptime < 0) return now; /* already expired */
    if (exptime <= RELATIVE_EXPTIME_MAX) return now + exptime;
    return exptime > now ? exptime : now; /* absolute unix time */
}

size_t proto_tokenize(const char *s, size_t len, proto_token *t, size_t max) {
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

int proto_token_is(const proto_token *t, const char *lit) {
    size_t n = strlen(lit);
    return t->n == n && memcmp(t->p, lit, n) == 0;
}

int proto_keys_valid(const char *line, size_t len, size_t pos) {
    size_t klen;
    for (; proto_next_key(line, len, &pos, &klen); pos += klen)
        if (klen > MOLT_KEY_MAX) return 0;
    return 1;
}

/* A trailing "noreply" token (memcached ignores any other word there). */
static void take_noreply(proto_request *req, const proto_token *t, size_t n) {
    req->noreply = n > 1 && proto_token_is(&t[n - 1], "noreply");
}

/* get/gets/gat/gats; `args` is the offset just past the command word. */
static const char *parse_get(proto_request *req, const char *line, size_t len,
                             size_t args, int with_cas, int touch) {
    size_t pos = args, klen;
    if (touch) {
        if (!proto_next_key(line, len, &pos, &klen)) return msg_error;
        if (!parse_i32(line + pos, klen, &req->exptime)) return msg_bad_exptime;
        pos += klen;
    }
    while (pos < len && line[pos] == ' ') pos++;
    if (pos == len) return msg_error; /* no key */
    req->cmd = PROTO_CMD_GET;
    req->with_cas = with_cas;
    req->touch = touch;
    req->keys = pos;
    return NULL;
}

/* set/add/replace/append/prepend (5 tokens, +1 for noreply) and cas (6/7). */
static const char *parse_store(proto_request *req, const proto_token *t, size_t n,
                               molt_store_mode mode) {
    size_t base = mode == MOLT_STORE_CAS ? 6 : 5;
    if (n != base && n != base + 1) return msg_error;
    take_noreply(req, t, n);
    int32_t value_len;
    req->cas = 0;
    if (t[1].n > MOLT_KEY_MAX || !parse_u32(t[2].p, t[2].n, &req->flags) ||
        !parse_i32(t[3].p, t[3].n, &req->exptime) ||
        !parse_i32(t[4].p, t[4].n, &value_len) || value_len < 0 ||
        (mode == MOLT_STORE_CAS && !parse_u64(t[5].p, t[5].n, &req->cas)))
        return msg_bad_format;
    req->cmd = PROTO_CMD_STORE;
    req->mode = mode;
    req->key = t[1];
    req->value_len = (size_t)value_len;
    return NULL;
}

static const char *parse_arith(proto_request *req, const proto_token *t, size_t n, int incr) {
    if (n != 3 && n != 4) return msg_error;
    take_noreply(req, t, n);
    if (t[1].n > MOLT_KEY_MAX) return msg_bad_format;
    if (!parse_u64(t[2].p, t[2].n, &req->delta))
        return "CLIENT_ERROR invalid numeric delta argument";
    req->cmd = PROTO_CMD_ARITH;
    req->key = t[1];
    req->incr = incr;
    return NULL;
}

static const char *parse_delete(proto_request *req, const proto_token *t, size_t n) {
    if (n < 2 || n > 4) return msg_error;
    take_noreply(req, t, n);
    if (n > 2) {
        /* memcached accepts a hold time of 0, with or without noreply */
        int hold_is_zero = proto_token_is(&t[2], "0");
        int valid = (n == 3 && (hold_is_zero || req->noreply)) ||
                    (n == 4 && hold_is_zero && req->noreply);
        if (!valid)
            return "CLIENT_ERROR bad command line format.  "
                   "Usage: delete <key> [noreply]";
    }
    if (t[1].n > MOLT_KEY_MAX) return msg_bad_format;
    req->cmd = PROTO_CMD_DELETE;
    req->key = t[1];
    return NULL;
}

static const char *parse_touch(proto_request *req, const proto_token *t, size_t n) {
    if (n != 3 && n != 4) return msg_error;
    take_noreply(req, t, n);
    if (t[1].n > MOLT_KEY_MAX) return msg_bad_format;
    if (!parse_i32(t[2].p, t[2].n, &req->exptime)) return msg_bad_exptime;
    req->cmd = PROTO_CMD_TOUCH;
    req->key = t[1];
    return NULL;
}

static const char *parse_flush(proto_request *req, const proto_token *t, size_t n) {
    if (n > 3) return msg_error;
    take_noreply(req, t, n);
    req->exptime = 0;
    /* memcached reads a delay whenever one could be there, so
     * "flush_all noreply 1" is an error, "flush_all noreply" is not. */
    if ((n == 3 || (n == 2 && !req->noreply)) && !parse_i32(t[1].p, t[1].n, &req->exptime))
        return msg_bad_exptime;
    req->cmd = PROTO_CMD_FLUSH;
    return NULL;
}

static const char *parse_verbosity(proto_request *req, const proto_token *t, size_t n) {
    if (n != 2 && n != 3) return msg_error;
    take_noreply(req, t, n);
    if (!parse_u32(t[1].p, t[1].n, &req->level)) return msg_bad_format;
    req->cmd = PROTO_CMD_VERBOSITY;
    return NULL;
}

static const char *parse_refresh_certs(proto_request *req, const proto_token *t, size_t n) {
    take_noreply(req, t, n);
    if (n > 2 || (n == 2 && !req->noreply)) {
        req->noreply = 0;
        return msg_error;
    }
    req->cmd = PROTO_CMD_REFRESH_CERTS;
    return NULL;
}

static const char *parse_stats(proto_request *req, const proto_token *t, size_t n) {
    if (n > 2) return msg_error;
    req->cmd = PROTO_CMD_STATS;
    req->group.p = n == 2 ? t[1].p : NULL;
    req->group.n = n == 2 ? t[1].n : 0;
    return NULL;
}

/* The commands that take a fixed set of tokens, by command word. */
static const char *parse_tokens(proto_request *req, const char *line, size_t len,
                                const proto_token *word) {
    proto_token t[MAX_TOKENS];
    size_t n = proto_tokenize(line, len, t, MAX_TOKENS);
    const char *w = word->p;
    switch (word->n) {
    case 3:
        if (memcmp(w, "set", 3) == 0) return parse_store(req, t, n, MOLT_STORE_SET);
        if (memcmp(w, "add", 3) == 0) return parse_store(req, t, n, MOLT_STORE_ADD);
        if (memcmp(w, "cas", 3) == 0) return parse_store(req, t, n, MOLT_STORE_CAS);
        break;
    case 4:
        if (memcmp(w, "incr", 4) == 0) return parse_arith(req, t, n, 1);
        if (memcmp(w, "decr", 4) == 0) return parse_arith(req, t, n, 0);
        if (memcmp(w, "quit", 4) == 0) {
            req->cmd = PROTO_CMD_QUIT;
            return NULL;
        }
        break;
    case 5:
        if (memcmp(w, "touch", 5) == 0) return parse_touch(req, t, n);
        if (memcmp(w, "stats", 5) == 0) return parse_stats(req, t, n);
        break;
    case 6:
        if (memcmp(w, "delete", 6) == 0) return parse_delete(req, t, n);
        if (memcmp(w, "append", 6) == 0) return parse_store(req, t, n, MOLT_STORE_APPEND);
        break;
    case 7:
        if (memcmp(w, "replace", 7) == 0) return parse_store(req, t, n, MOLT_STORE_REPLACE);
        if (memcmp(w, "prepend", 7) == 0) return parse_store(req, t, n, MOLT_STORE_PREPEND);
        if (memcmp(w, "version", 7) == 0) {
            req->cmd = PROTO_CMD_VERSION;
            return NULL;
        }
        break;
    case 9:
        if (memcmp(w, "flush_all", 9) == 0) return parse_flush(req, t, n);
        if (memcmp(w, "verbosity", 9) == 0) return parse_verbosity(req, t, n);
        break;
    case 13:
        if (memcmp(w, "refresh_certs", 13) == 0) return parse_refresh_certs(req, t, n);
        break;
    default:
        break;
    }
    return msg_error;
}

/* The command word and what follows it; the error line, or NULL when req
 * is ready to run. */
static const char *parse_command(proto_request *req, const char *line, size_t len) {
    size_t i = 0;
    while (i < len && line[i] == ' ') i++;
    size_t begin = i;
    while (i < len && line[i] != ' ') i++;
    proto_token word = {line + begin, i - begin};
    req->noreply = 0;
    /* The get family first: it is most of the traffic. */
    if (word.n == 3 && memcmp(word.p, "get", 3) == 0)
        return parse_get(req, line, len, i, 0, 0);
    if (word.n == 4 && memcmp(word.p, "gets", 4) == 0)
        return parse_get(req, line, len, i, 1, 0);
    if (word.n == 3 && memcmp(word.p, "gat", 3) == 0)
        return parse_get(req, line, len, i, 0, 1);
    if (word.n == 4 && memcmp(word.p, "gats", 4) == 0)
        return parse_get(req, line, len, i, 1, 1);
    /* Meta commands: every two-letter word starting with 'm'. */
    if (word.n == 2 && word.p[0] == 'm') {
        req->cmd = PROTO_CMD_META;
        return NULL;
    }
    if (word.n == 0) return msg_error;
    return parse_tokens(req, line, len, &word);
}

void proto_parse_line(const char *line, size_t len, proto_request *req) {
    const char *error = parse_command(req, line, len);
    if (error != NULL) {
        req->cmd = PROTO_CMD_ERROR;
        req->error = error;
    }
}
