/* protocol/parse.c - classic command lines into requests (see request.h).
 * The token-count rules follow memcached's dispatcher: a wrong count is
 * ERROR, answered even under noreply; every later error is suppressed by a
 * trailing noreply. */
#include "protocol/request.h"

#include "util/numparse.h"

#define MAX_TOKENS 8 /* the most any command other than get* takes is 7 */
#define RELATIVE_EXPTIME_MAX (60 * 60 * 24 * 30)

static const char msg_error[] = "ERROR";
const char proto_msg_unknown[] = "ERROR"; /* an unknown command word */
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
    /* a long gat line: the error path hangs up on it (classic.c) */
    if (touch && len > MC_READ_BUFFER) return msg_error;
    if (touch) {
        if (!proto_next_key(line, len, &pos, &klen)) return msg_error;
        if (!parse_mc_i32(line + pos, klen, &req->exptime)) return msg_bad_exptime;
        pos += klen;
    }
    while (pos < len && line[pos] == ' ') pos++;
    if (pos == len && !touch) return msg_error; /* no key; gat <exptime>: END */
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
    /* memcached's bounds: the length plus its CRLF must fit an int */
    if (t[1].n > MOLT_KEY_MAX || !parse_mc_u32(t[2].p, t[2].n, &req->flags) ||
        !parse_mc_i32(t[3].p, t[3].n, &req->exptime) ||
        !parse_mc_i32(t[4].p, t[4].n, &value_len) || value_len < 0 ||
        value_len > INT32_MAX - 2 ||
        (mode == MOLT_STORE_CAS && !parse_mc_u64(t[5].p, t[5].n, &req->cas)))
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
    if (!parse_mc_u64(t[2].p, t[2].n, &req->delta))
        return "CLIENT_ERROR invalid numeric delta argument";
    req->cmd = PROTO_CMD_ARITH;
    req->key = t[1];
    req->incr = incr;
    return NULL;
}

static const char *parse_delete(proto_request *req, const proto_token *t, size_t n) {
    if (n < 2 || n > 4) return msg_error;
    /* "delete noreply": memcached takes the only argument as the key */
    if (n > 2) {
        take_noreply(req, t, n);
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
    if (!parse_mc_i32(t[2].p, t[2].n, &req->exptime)) return msg_bad_exptime;
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
    if ((n == 3 || (n == 2 && !req->noreply)) && !parse_mc_i32(t[1].p, t[1].n, &req->exptime))
        return msg_bad_exptime;
    req->cmd = PROTO_CMD_FLUSH;
    return NULL;
}

static const char *parse_verbosity(proto_request *req, const proto_token *t, size_t n) {
    if (n != 2 && n != 3) return msg_error;
    take_noreply(req, t, n);
    if (!parse_mc_u32(t[1].p, t[1].n, &req->level)) return msg_bad_format;
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

/* memcached answers a wrong mode only once shutdown is known to be
 * enabled, so the mode is judged when the command runs. */
static const char *parse_shutdown(proto_request *req, const proto_token *t, size_t n) {
    req->cmd = PROTO_CMD_SHUTDOWN;
    req->shutdown_mode = n == 1 ? 0 : n == 2 && proto_token_is(&t[1], "graceful") ? 1 : -1;
    return NULL;
}

static const char *parse_stats(proto_request *req, const proto_token *t, size_t n) {
    /* memcached resets whatever follows "stats reset" */
    if (n > 2 && !proto_token_is(&t[1], "reset")) return msg_error;
    req->cmd = PROTO_CMD_STATS;
    req->group.p = n >= 2 ? t[1].p : NULL;
    req->group.n = n >= 2 ? t[1].n : 0;
    return NULL;
}

/* The commands that take a fixed set of tokens. */
typedef enum token_kind {
    KIND_STORE, KIND_ARITH, KIND_DELETE, KIND_TOUCH, KIND_FLUSH, KIND_VERSION,
    KIND_VERBOSITY, KIND_QUIT, KIND_STATS, KIND_REFRESH_CERTS, KIND_LRU_CRAWLER,
    KIND_SHUTDOWN, KIND_WATCH
} token_kind;

static const struct {
    const char *word;
    size_t len;
    token_kind kind;
    int arg; /* the store mode; for arith, incr */
} token_commands[] = {
    {"set", 3, KIND_STORE, MOLT_STORE_SET},
    {"add", 3, KIND_STORE, MOLT_STORE_ADD},
    {"replace", 7, KIND_STORE, MOLT_STORE_REPLACE},
    {"append", 6, KIND_STORE, MOLT_STORE_APPEND},
    {"prepend", 7, KIND_STORE, MOLT_STORE_PREPEND},
    {"cas", 3, KIND_STORE, MOLT_STORE_CAS},
    {"incr", 4, KIND_ARITH, 1},
    {"decr", 4, KIND_ARITH, 0},
    {"delete", 6, KIND_DELETE, 0},
    {"touch", 5, KIND_TOUCH, 0},
    {"flush_all", 9, KIND_FLUSH, 0},
    {"version", 7, KIND_VERSION, 0},
    {"verbosity", 9, KIND_VERBOSITY, 0},
    {"quit", 4, KIND_QUIT, 0},
    {"stats", 5, KIND_STATS, 0},
    {"refresh_certs", 13, KIND_REFRESH_CERTS, 0},
    {"lru_crawler", 11, KIND_LRU_CRAWLER, 0},
    {"shutdown", 8, KIND_SHUTDOWN, 0},
    {"watch", 5, KIND_WATCH, 0},
};

/* A short word compared in line: cheaper than a call to memcmp. */
static int same_word(const char *a, const char *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i]) return 0;
    return 1;
}

/* memcached's commands that molt does not run: ERROR, never the hang-up. */
static const char *const unknown_but_answered[] = {"watch", "lru", "lru_crawler", "extstore"};

/* memcached hangs up, without a reply, on an unknown command whose last
 * token (of the first 23, the most its tokenizer splits off) starts with
 * "HTTP/": a browser's or a forged request line. Words that start like one
 * of memcached's command families (a c d g i s t), of one byte, or named
 * above get ERROR as usual. */
int proto_http_request_line(const char *line, size_t len) {
    size_t i = 0;
    while (i < len && line[i] == ' ') i++;
    size_t begin = i;
    while (i < len && line[i] != ' ') i++;
    const proto_token w = {line + begin, i - begin}, *word = &w;
    if (word->n < 2 || memchr("acdgist", word->p[0], 7) != NULL) return 0;
    for (size_t k = 0; k < sizeof(unknown_but_answered) / sizeof(unknown_but_answered[0]); k++)
        if (proto_token_is(word, unknown_but_answered[k])) return 0;
    proto_token last = *word;
    size_t tokens = 1;
    while (tokens < 23) {
        while (i < len && line[i] == ' ') i++;
        if (i == len) break;
        size_t b = i;
        while (i < len && line[i] != ' ') i++;
        last.p = line + b;
        last.n = i - b;
        tokens++;
    }
    return last.n >= 5 && memcmp(last.p, "HTTP/", 5) == 0;
}

static const char *parse_tokens(proto_request *req, const char *line, size_t len,
                                const proto_token *word) {
    size_t i = 0, count = sizeof(token_commands) / sizeof(token_commands[0]);
    while (i < count && !(token_commands[i].len == word->n &&
                          same_word(token_commands[i].word, word->p, word->n)))
        i++;
    if (i == count) return proto_msg_unknown;
    proto_token t[MAX_TOKENS];
    size_t n = proto_tokenize(line, len, t, MAX_TOKENS);
    int arg = token_commands[i].arg;
    switch (token_commands[i].kind) {
    case KIND_STORE: return parse_store(req, t, n, (molt_store_mode)arg);
    case KIND_ARITH: return parse_arith(req, t, n, arg);
    case KIND_DELETE: return parse_delete(req, t, n);
    case KIND_TOUCH: return parse_touch(req, t, n);
    case KIND_FLUSH: return parse_flush(req, t, n);
    case KIND_VERBOSITY: return parse_verbosity(req, t, n);
    case KIND_STATS: return parse_stats(req, t, n);
    case KIND_REFRESH_CERTS: return parse_refresh_certs(req, t, n);
    case KIND_LRU_CRAWLER: return proto_parse_lru_crawler(req, t, n);
    case KIND_SHUTDOWN: return parse_shutdown(req, t, n);
    case KIND_WATCH: return proto_parse_watch(req, line, len); /* its own limits */
    case KIND_VERSION: req->cmd = PROTO_CMD_VERSION; return NULL;
    case KIND_QUIT: req->cmd = PROTO_CMD_QUIT; return NULL;
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
