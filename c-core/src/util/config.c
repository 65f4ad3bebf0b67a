/* config.c - the TOML subset parser (see config.h). Line-oriented: every
 * construct it accepts fits on one line. */
#include "util/config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONFIG_FILE_MAX (1024 * 1024)
#define CONFIG_KEY_MAX 64
#define CONFIG_STR_MAX 4096
#define CONFIG_SEEN_MAX 256

typedef struct parser {
    const char *name;
    unsigned line;
    const char *p, *end; /* the current line, without its line ending */
    char table[CONFIG_KEY_MAX];
    char seen[CONFIG_SEEN_MAX][2 * CONFIG_KEY_MAX + 2];
    size_t nseen;
    char str[CONFIG_STR_MAX];
    char *err;
    size_t err_len;
} parser;

const char *config_kind_name(config_kind kind) {
    switch (kind) {
    case CONFIG_STRING: return "a string";
    case CONFIG_INTEGER: return "an integer";
    case CONFIG_FLOAT: return "a float";
    case CONFIG_BOOL: return "a boolean";
    }
    return "a value";
}

__attribute__((format(printf, 2, 3))) static int fail(parser *ps, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(ps->err, ps->err_len, "config %s:%u: %s", ps->name, ps->line, msg);
    return -1;
}

static void skip_ws(parser *ps) {
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t')) ps->p++;
}

/* Only whitespace or a comment may follow. */
static int expect_eol(parser *ps, const char *after) {
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p != '#')
        return fail(ps, "syntax error: unexpected text after %s", after);
    return 0;
}

static int is_bare(char ch) {
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
           (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
}

static int put_utf8(parser *ps, char *out, size_t *n, unsigned long cp) {
    unsigned char b[4];
    size_t k;
    if (cp == 0) return fail(ps, "NUL characters in strings are not supported");
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return fail(ps, "invalid unicode escape");
    if (cp < 0x80) { b[0] = (unsigned char)cp; k = 1; }
    else if (cp < 0x800) { b[0] = (unsigned char)(0xC0 | (cp >> 6)); b[1] = (unsigned char)(0x80 | (cp & 0x3F)); k = 2; }
    else if (cp < 0x10000) { b[0] = (unsigned char)(0xE0 | (cp >> 12)); b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F)); b[2] = (unsigned char)(0x80 | (cp & 0x3F)); k = 3; }
    else { b[0] = (unsigned char)(0xF0 | (cp >> 18)); b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F)); b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F)); b[3] = (unsigned char)(0x80 | (cp & 0x3F)); k = 4; }
    if (*n + k >= CONFIG_STR_MAX) return fail(ps, "string too long");
    memcpy(out + *n, b, k);
    *n += k;
    return 0;
}

/* A "basic" or 'literal' string at ps->p into out (cap bytes, NUL-ended). */
static int parse_string(parser *ps, char *out, size_t cap) {
    char quote = *ps->p++;
    if (ps->end - ps->p >= 2 && ps->p[0] == quote && ps->p[1] == quote)
        return fail(ps, "multi-line strings are not supported");
    size_t n = 0;
    for (;;) {
        if (ps->p >= ps->end) return fail(ps, "syntax error: unterminated string");
        unsigned char ch = (unsigned char)*ps->p++;
        if (ch == (unsigned char)quote) break;
        if ((ch < 0x20 && ch != '\t') || ch == 0x7F)
            return fail(ps, "control character in string");
        if (ch == '\\' && quote == '"') {
            if (ps->p >= ps->end) return fail(ps, "syntax error: unterminated string");
            char e = *ps->p++;
            unsigned long cp;
            int digits = 0;
            switch (e) {
            case 'b': ch = '\b'; break;
            case 't': ch = '\t'; break;
            case 'n': ch = '\n'; break;
            case 'f': ch = '\f'; break;
            case 'r': ch = '\r'; break;
            case '"': ch = '"'; break;
            case '\\': ch = '\\'; break;
            case 'u': digits = 4; break;
            case 'U': digits = 8; break;
            default:
                return fail(ps, "invalid escape '\\%c' in string", e);
            }
            if (digits) {
                cp = 0;
                for (int i = 0; i < digits; i++) {
                    if (ps->p >= ps->end) return fail(ps, "invalid unicode escape");
                    char h = *ps->p++;
                    int v = (h >= '0' && h <= '9') ? h - '0'
                            : (h >= 'a' && h <= 'f') ? h - 'a' + 10
                            : (h >= 'A' && h <= 'F') ? h - 'A' + 10 : -1;
                    if (v < 0) return fail(ps, "invalid unicode escape");
                    cp = cp * 16 + (unsigned long)v;
                }
                if (n + 4 >= cap) return fail(ps, "string too long");
                if (put_utf8(ps, out, &n, cp) != 0) return -1;
                continue;
            }
        }
        if (n + 1 >= cap) return fail(ps, "string too long");
        out[n++] = (char)ch;
    }
    out[n] = '\0';
    return 0;
}

static int parse_key(parser *ps, char *out) {
    if (ps->p < ps->end && (*ps->p == '"' || *ps->p == '\'')) {
        if (parse_string(ps, out, CONFIG_KEY_MAX) != 0) return -1;
    } else {
        size_t n = 0;
        while (ps->p < ps->end && is_bare(*ps->p)) {
            if (n + 1 >= CONFIG_KEY_MAX) return fail(ps, "key too long");
            out[n++] = *ps->p++;
        }
        out[n] = '\0';
        if (n == 0) {
            if (ps->p < ps->end)
                return fail(ps, "syntax error: expected a key, found '%c'", *ps->p);
            return fail(ps, "syntax error: expected a key");
        }
    }
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '.')
        return fail(ps, "dotted keys are not supported (use a [table])");
    return 0;
}

static int mark_seen(parser *ps, const char *table, const char *key, int is_table) {
    char full[sizeof(ps->seen[0])];
    snprintf(full, sizeof(full), "%s%s%s", table, table[0] ? "." : "", key);
    for (size_t i = 0; i < ps->nseen; i++) {
        if (strcmp(ps->seen[i], full) == 0)
            return is_table ? fail(ps, "table [%s] defined twice", full)
                            : fail(ps, "duplicate key '%s'", full);
    }
    if (ps->nseen == CONFIG_SEEN_MAX) return fail(ps, "too many keys");
    memcpy(ps->seen[ps->nseen++], full, sizeof(full));
    return 0;
}

static int digit_ok(char ch, int base) {
    if (base == 16)
        return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
    return ch >= '0' && ch < '0' + base;
}

/* A number or boolean token [tok, tok+n). */
static int parse_scalar(parser *ps, const char *tok, size_t n, config_value *v) {
    if (n == 4 && memcmp(tok, "true", 4) == 0) {
        v->kind = CONFIG_BOOL;
        v->boolean = 1;
        return 0;
    }
    if (n == 5 && memcmp(tok, "false", 5) == 0) {
        v->kind = CONFIG_BOOL;
        v->boolean = 0;
        return 0;
    }
    if (memchr(tok, ':', n) || (n >= 5 && tok[4] == '-' && tok[0] >= '0' && tok[0] <= '9'))
        return fail(ps, "dates and times are not supported");
    char clean[128];
    size_t k = 0;
    const char *s = tok, *e = tok + n;
    int neg = 0, base = 10;
    if (s < e && (*s == '+' || *s == '-')) {
        neg = *s == '-';
        clean[k++] = *s++;
    }
    if (e - s == 3 && (memcmp(s, "inf", 3) == 0 || memcmp(s, "nan", 3) == 0)) {
        v->kind = CONFIG_FLOAT;
        v->number = s[0] == 'i' ? (neg ? -INFINITY : INFINITY) : NAN;
        return 0;
    }
    if (e - s > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o' || s[1] == 'b')) {
        if (k) return fail(ps, "invalid number '%.*s'", (int)n, tok);
        base = s[1] == 'x' ? 16 : s[1] == 'o' ? 8 : 2;
        s += 2;
    }
    int is_float = 0;
    char prev = 0;
    if (s == e) return fail(ps, "invalid value '%.*s'", (int)n, tok);
    if (base == 10 && e - s > 1 && s[0] == '0' && s[1] >= '0' && s[1] <= '9')
        return fail(ps, "invalid number '%.*s' (leading zeros are not allowed)", (int)n, tok);
    for (const char *q = s; q < e; q++) {
        char ch = *q;
        if (ch == '_') {
            if (!digit_ok(prev, base) || q + 1 == e || !digit_ok(q[1], base))
                return fail(ps, "invalid number '%.*s'", (int)n, tok);
        } else if (digit_ok(ch, base)) {
            if (k + 1 >= sizeof(clean)) return fail(ps, "number too long");
            clean[k++] = ch;
        } else if (base == 10 && (ch == '.' || ch == 'e' || ch == 'E' ||
                                  ((ch == '+' || ch == '-') && (prev == 'e' || prev == 'E')))) {
            if (ch == '.' && (!digit_ok(prev, 10) || q + 1 == e || !digit_ok(q[1], 10)))
                return fail(ps, "invalid number '%.*s'", (int)n, tok);
            is_float = 1;
            if (k + 1 >= sizeof(clean)) return fail(ps, "number too long");
            clean[k++] = ch;
        } else if (n > 0 && ((tok[0] >= 'a' && tok[0] <= 'z') || (tok[0] >= 'A' && tok[0] <= 'Z'))) {
            return fail(ps, "invalid value '%.*s' (strings must be quoted)", (int)n, tok);
        } else {
            return fail(ps, "invalid number '%.*s'", (int)n, tok);
        }
        prev = ch;
    }
    clean[k] = '\0';
    char *endp = NULL;
    errno = 0;
    if (is_float) {
        double d = strtod(clean, &endp);
        if (endp == clean || *endp != '\0' || errno == ERANGE)
            return fail(ps, "invalid number '%.*s'", (int)n, tok);
        v->kind = CONFIG_FLOAT;
        v->number = d;
        return 0;
    }
    const char *digits = clean + (clean[0] == '+' || clean[0] == '-');
    unsigned long long u = strtoull(digits, &endp, base);
    if (endp == digits || *endp != '\0')
        return fail(ps, "invalid number '%.*s'", (int)n, tok);
    if (errno == ERANGE || u > (unsigned long long)INT64_MAX + (neg ? 1u : 0u))
        return fail(ps, "integer '%.*s' out of range", (int)n, tok);
    v->kind = CONFIG_INTEGER;
    v->integer = neg ? (int64_t)(0 - u) : (int64_t)u;
    return 0;
}

static int parse_value(parser *ps, config_value *v) {
    memset(v, 0, sizeof(*v));
    if (ps->p >= ps->end || *ps->p == '#') return fail(ps, "syntax error: missing value");
    char ch = *ps->p;
    if (ch == '"' || ch == '\'') {
        if (parse_string(ps, ps->str, sizeof(ps->str)) != 0) return -1;
        v->kind = CONFIG_STRING;
        v->str = ps->str;
        return 0;
    }
    if (ch == '[') return fail(ps, "arrays are not supported");
    if (ch == '{') return fail(ps, "inline tables are not supported");
    const char *tok = ps->p;
    while (ps->p < ps->end && *ps->p != ' ' && *ps->p != '\t' && *ps->p != '#') ps->p++;
    return parse_scalar(ps, tok, (size_t)(ps->p - tok), v);
}

static int parse_line(parser *ps, config_entry_fn fn, void *ctx) {
    for (const char *q = ps->p; q < ps->end; q++) {
        unsigned char ch = (unsigned char)*q;
        if ((ch < 0x20 && ch != '\t') || ch == 0x7F)
            return fail(ps, "control character in line");
    }
    skip_ws(ps);
    if (ps->p == ps->end || *ps->p == '#') return 0;
    char key[CONFIG_KEY_MAX];
    char msg[512];
    if (*ps->p == '[') {
        ps->p++;
        if (ps->p < ps->end && *ps->p == '[')
            return fail(ps, "arrays of tables ([[...]]) are not supported");
        skip_ws(ps);
        if (parse_key(ps, key) != 0) return -1;
        if (ps->p >= ps->end || *ps->p != ']')
            return fail(ps, "syntax error: expected ']' after table name");
        ps->p++;
        if (expect_eol(ps, "the table header") != 0) return -1;
        if (mark_seen(ps, "", key, 1) != 0) return -1;
        snprintf(ps->table, sizeof(ps->table), "%s", key);
        msg[0] = '\0';
        if (fn(ctx, key, NULL, NULL, msg, sizeof(msg)) != 0) return fail(ps, "%s", msg);
        return 0;
    }
    if (parse_key(ps, key) != 0) return -1;
    if (ps->p >= ps->end || *ps->p != '=')
        return fail(ps, "syntax error: expected '=' after key '%s'", key);
    ps->p++;
    skip_ws(ps);
    config_value v;
    if (parse_value(ps, &v) != 0) return -1;
    if (expect_eol(ps, "the value") != 0) return -1;
    if (mark_seen(ps, ps->table, key, 0) != 0) return -1;
    msg[0] = '\0';
    if (fn(ctx, ps->table, key, &v, msg, sizeof(msg)) != 0) return fail(ps, "%s", msg);
    return 0;
}

int config_parse(const char *text, size_t len, const char *name,
                 config_entry_fn fn, void *ctx, char *err, size_t err_len) {
    parser *ps = calloc(1, sizeof(*ps));
    if (ps == NULL) {
        snprintf(err, err_len, "config %s: out of memory", name);
        return -1;
    }
    ps->name = name;
    ps->err = err;
    ps->err_len = err_len;
    const char *p = text, *end = text + len;
    int rc = 0;
    if (end - p >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3; /* BOM */
    while (p < end && rc == 0) {
        ps->line++;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        ps->p = p;
        ps->end = le;
        if (ps->end > ps->p && ps->end[-1] == '\r') ps->end--;
        rc = parse_line(ps, fn, ctx);
        p = nl ? nl + 1 : end;
    }
    free(ps);
    return rc;
}

int config_load(const char *path, config_entry_fn fn, void *ctx, char *err,
                size_t err_len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, err_len, "config %s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    char *text = malloc(CONFIG_FILE_MAX + 1);
    if (text == NULL) {
        fclose(f);
        snprintf(err, err_len, "config %s: out of memory", path);
        return -1;
    }
    size_t n = fread(text, 1, CONFIG_FILE_MAX + 1, f);
    int bad = ferror(f);
    fclose(f);
    int rc;
    if (bad) {
        snprintf(err, err_len, "config %s: cannot read: %s", path, strerror(errno));
        rc = -1;
    } else if (n > CONFIG_FILE_MAX) {
        snprintf(err, err_len, "config %s: file too large (over %d bytes)", path,
                 CONFIG_FILE_MAX);
        rc = -1;
    } else if (memchr(text, '\0', n) != NULL) {
        snprintf(err, err_len, "config %s: not a text file (contains NUL bytes)", path);
        rc = -1;
    } else {
        rc = config_parse(text, n, path, fn, ctx, err, err_len);
    }
    free(text);
    return rc;
}
