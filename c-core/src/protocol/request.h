/* protocol/request.h - requests as the parsers hand them to processing.
 *
 * Parsing reads only the line: no storage, no socket, no clock. A classic
 * command line becomes a proto_request (parse.c), a meta command line a
 * meta_request (meta_parse.c). A request that cannot run carries the error
 * line to answer instead. Requests point into the line, so they live only as
 * long as the line is in the input.
 *
 * The keys of get/gets/gat/gats stay in the line and are walked one by one
 * while the command runs (proto_next_key): memcached answers a bad key only
 * when it reaches it, after the keys before it were read and counted. */
#ifndef MOLT_PROTO_REQUEST_H
#define MOLT_PROTO_REQUEST_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "storage.h"

typedef struct proto_token {
    const char *p;
    size_t n;
} proto_token;

/* Split on spaces, skipping empty tokens, into at most max tokens. Returns
 * the count, or max + 1 when there are more. */
size_t proto_tokenize(const char *s, size_t len, proto_token *t, size_t max);

/* Non-zero when the token is exactly the NUL-terminated lit. */
int proto_token_is(const proto_token *t, const char *lit);

/* The next key at or after *pos in line[0..len): moves *pos to its first
 * byte and sets *key_len; 0 when no key remains. Inline: it runs per key. */
static inline int proto_next_key(const char *line, size_t len, size_t *pos,
                                 size_t *key_len) {
    size_t i = *pos;
    while (i < len && line[i] == ' ') i++;
    if (i == len) return 0;
    const char *space = memchr(line + i, ' ', len - i);
    *pos = i;
    *key_len = space ? (size_t)(space - (line + i)) : len - i;
    return 1;
}

/* memcached's read buffer: a line longer than this, complete when first
 * seen, is one memcached never saw whole; it hangs up on it unless it is a
 * get or gets (see session.c). */
#define MC_READ_BUFFER 16384

/* The ERROR of an unknown command word (compare the pointer), and whether
 * such a line is one memcached hangs up on (see parse.c). */
extern const char proto_msg_unknown[];
int proto_http_request_line(const char *line, size_t len);

/* Non-zero when every key from pos to the end of the line is short enough. */
int proto_keys_valid(const char *line, size_t len, size_t pos);

/* memcached's exptime rules -> storage.h's absolute exptime (0 = never). */
int64_t proto_absolute_exptime(int64_t exptime, int64_t now);

/* ---- classic commands --------------------------------------------------- */

typedef enum proto_command {
    PROTO_CMD_ERROR,         /* answer req.error, nothing else */
    PROTO_CMD_GET,           /* get, gets, gat, gats */
    PROTO_CMD_STORE,         /* set, add, replace, append, prepend, cas */
    PROTO_CMD_ARITH,         /* incr, decr */
    PROTO_CMD_DELETE,
    PROTO_CMD_TOUCH,
    PROTO_CMD_FLUSH,
    PROTO_CMD_VERSION,
    PROTO_CMD_VERBOSITY,
    PROTO_CMD_QUIT,
    PROTO_CMD_STATS,
    PROTO_CMD_REFRESH_CERTS,
    PROTO_CMD_METADUMP,      /* lru_crawler metadump all|hash|<classes> */
    PROTO_CMD_SHUTDOWN,      /* shutdown [graceful] */
    PROTO_CMD_WATCH,         /* watch [kinds] */
    PROTO_CMD_META           /* mg, ms, ...: parse it with meta_parse */
} proto_command;

/* Only the fields of req.cmd are set. */
typedef struct proto_request {
    proto_command cmd;
    const char *error; /* PROTO_CMD_ERROR: the reply line, without CRLF */
    int noreply;       /* every reply of the command is suppressed, errors
                          included (a wrong token count is answered first) */
    /* get family */
    int with_cas;      /* gets, gats */
    int touch;         /* gat, gats */
    size_t keys;       /* offset of the first key in the line */
    /* gat, touch: the exptime as sent; flush_all: the delay (0: none) */
    int32_t exptime;
    /* storage commands; key also for incr/decr, delete, touch */
    molt_store_mode mode;
    proto_token key;
    uint32_t flags;
    size_t value_len;
    uint64_t cas;
    /* incr, decr */
    int incr;
    uint64_t delta;
    /* verbosity */
    uint32_t level;
    /* shutdown: 0 now, 1 graceful, -1 a mode memcached does not know */
    int shutdown_mode;
    /* watch: molt_watch_event bits */
    uint32_t watch_events;
    /* stats: the one word after it (reset, settings...), n = 0 for none */
    proto_token group;
    /* lru_crawler metadump: bit c set for class id c (1..63); 0 = all */
    uint64_t dump_classes;
} proto_request;

/* lru_crawler (crawler.c): the tokens of the whole line; the error line,
 * or NULL when req is ready to run. */
const char *proto_parse_lru_crawler(proto_request *req, const proto_token *t, size_t n);

/* watch (watch.c): the whole line; the error line, or NULL. */
const char *proto_parse_watch(proto_request *req, const char *line, size_t len);

/* Parse one command line (without its line ending). */
void proto_parse_line(const char *line, size_t len, proto_request *req);

/* ---- meta commands ------------------------------------------------------ */

/* Longest meta opaque token (O flag, the O included), as memcached. */
#define META_OPAQUE_MAX 32
/* The return flags a reply may echo: O k s t c f l h, each at most once. */
#define META_RET_MAX 8

typedef struct meta_request {
    char cmd;          /* g s d a n e (the second letter); 0: unknown */
    const char *err;   /* the reply line (no CRLF) instead of running */
    size_t swallow;    /* with err: data-block bytes to discard (ms) */
    size_t data_len;   /* ms: the value's bytes plus CRLF */
    uint8_t key[MOLT_KEY_MAX]; /* decoded when key_binary */
    size_t key_len;
    int key_binary;    /* b */
    int value;         /* v */
    int quiet;         /* q */
    int no_update;     /* u */
    int invalidate;    /* I */
    int has_cas;       /* C */
    int has_new_cas;   /* E */
    int vivify;        /* N */
    int touch;         /* T */
    int recache;       /* R */
    int clear_value;   /* x (md) */
    char mode;         /* M: the mode character */
    molt_store_mode store_mode; /* ms: from M */
    int incr;          /* ma: from M */
    int32_t touch_ttl, vivify_ttl, recache_ttl;
    uint32_t client_flags; /* F */
    uint64_t cas, new_cas, delta, initial;
    /* The flags a reply may echo, in request order (O k s t c f l h). */
    char ret[META_RET_MAX];
    size_t nret;
    const char *opaque; /* the O token (O included), or NULL */
    size_t opaque_len;
} meta_request;

/* Parse one meta command line (without its line ending; its command word
 * is two characters starting with 'm'). Checks and error strings follow
 * memcached 1.6.18, in its order of precedence. */
void meta_parse(const char *line, size_t len, meta_request *m);

#endif
