/* options.c - defaults, the --config file, command-line flags (see
 * options.h). Each setting is one key_id: a flag and a TOML key reach the
 * same apply(), so both are validated alike. */
#include "util/options.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/config.h"
#include "util/numparse.h"

typedef enum key_id {
    K_PORT,
    K_LISTEN,
    K_MEMORY,
    K_THREADS,
    K_CONNS,
    K_ITEM_SIZE,
    K_GROWTH,
    K_STORAGE,
    K_SHADOW_STORAGE,
    K_SHADOW_MEMORY,
    K_PROTOCOL,
    K_ADMIN_PORT,
    K_ADMIN_LISTEN,
    K_VERBOSITY,
    K_TLS_CERT,
    K_TLS_KEY,
    K_TLS_CA,
    K_ENABLE_SHUTDOWN,
    K_IDLE_TIMEOUT,
    K_MEMORY_FILE,
    K_COUNT
} key_id;

/* long-only flags */
enum {
    OPT_STORAGE = 1000,
    OPT_SHADOW_STORAGE,
    OPT_SHADOW_MEMORY,
    OPT_PROTOCOL,
    OPT_CONFIG,
    OPT_PRINT_CONFIG,
    OPT_ADMIN_PORT,
    OPT_ADMIN_LISTEN,
    OPT_TLS_CERT,
    OPT_TLS_KEY,
    OPT_TLS_CA,
    OPT_IDLE_TIMEOUT
};

typedef enum key_type { T_INT, T_SIZE, T_FLOAT, T_STRING, T_BOOL } key_type;

static const struct key_def {
    const char *table; /* "" or "tls" */
    const char *name;  /* TOML key */
    key_type type;
    int64_t lo, hi;    /* T_INT range; T_STRING length range */
    const char *what;  /* for flag errors: "invalid <what> '<text>'" */
    const char *hint;  /* "(expected <hint>)" */
} key_defs[K_COUNT] = {
    [K_PORT] = {"", "port", T_INT, 1, 65535, "port", "1-65535"},
    [K_LISTEN] = {"", "listen", T_STRING, 1, 63, "listen address", "an address"},
    [K_MEMORY] = {"", "memory_limit_mb", T_INT, 1, 1024 * 1024, "memory limit",
                  "megabytes, 1-1048576"},
    [K_THREADS] = {"", "threads", T_INT, 1, 256, "thread count", "1-256"},
    [K_CONNS] = {"", "max_connections", T_INT, 1, 1000000, "connection limit",
                 "1-1000000"},
    [K_ITEM_SIZE] = {"", "max_item_size", T_SIZE, 1024, 1024LL * 1024 * 1024,
                     "max item size", "bytes or with k/m suffix, 1k-1024m"},
    [K_GROWTH] = {"", "slab_growth_factor", T_FLOAT, 0, 0, "growth factor",
                  "greater than 1.0, at most 100"},
    [K_STORAGE] = {"", "storage", T_STRING, 1, 31, "storage engine name", "a name"},
    [K_SHADOW_STORAGE] = {"", "shadow_storage", T_STRING, 1, 31, "shadow storage engine name",
                           "a name"},
    [K_SHADOW_MEMORY] = {"", "shadow_memory_limit_mb", T_INT, 0, 1024 * 1024,
                         "shadow memory limit", "megabytes, 0-1048576, 0 = as -m"},
    [K_PROTOCOL] = {"", "protocol", T_STRING, 1, 31, "protocol implementation name",
                    "c or rust"},
    [K_ADMIN_PORT] = {"", "admin_port", T_INT, 0, 65535, "admin port",
                      "0-65535, 0 = off"},
    [K_ADMIN_LISTEN] = {"", "admin_listen", T_STRING, 1, 63, "admin listen address",
                        "an address"},
    [K_VERBOSITY] = {"", "verbosity", T_INT, 0, 2, "verbosity",
                     "0 = warnings, 1 = info, 2 = debug"},
    [K_TLS_CERT] = {"tls", "cert", T_STRING, 1, MOLT_PATH_MAX - 1, "TLS certificate path",
                    "a file"},
    [K_TLS_KEY] = {"tls", "key", T_STRING, 1, MOLT_PATH_MAX - 1, "TLS key path", "a file"},
    [K_TLS_CA] = {"tls", "ca", T_STRING, 1, MOLT_PATH_MAX - 1, "TLS CA path", "a file"},
    [K_ENABLE_SHUTDOWN] = {"", "enable_shutdown", T_BOOL, 0, 1, "enable shutdown",
                           "true or false"},
    [K_IDLE_TIMEOUT] = {"", "idle_timeout", T_INT, 0, INT32_MAX, "idle timeout",
                        "seconds, 0 = off"},
    [K_MEMORY_FILE] = {"", "memory_file", T_STRING, 1, MOLT_PATH_MAX - 1, "memory file path",
                       "a file"},
};

/* The engine a start without --storage runs: seg where the binary has it
 * (molt, built by cargo), slab in the C-only molt-c. seg became molt's
 * default when it matched or beat slab on every figure (README, "Storage
 * engines"). */
#ifdef MOLT_WITH_SEG
#define DEFAULT_STORAGE "seg"
#else
#define DEFAULT_STORAGE "slab"
#endif

static const char usage_text[] =
    "Usage: molt [options]\n"
    "  -p, --port=PORT            TCP port to listen on (default: 11211)\n"
    "  -l, --listen=ADDR          interface to listen on (default: 127.0.0.1)\n"
    "  -m, --memory-limit=MB      item memory in megabytes (default: 64)\n"
    "  -t, --threads=N            worker threads (default: 4)\n"
    "  -c, --conn-limit=N         max simultaneous connections (default: 1024)\n"
    "  -I, --max-item-size=SIZE   max item size, bytes or with k/m suffix\n"
    "                             (default: 1m, min: 1k, max: 1024m)\n"
    "  -f, --slab-growth-factor=F chunk size growth factor (default: 1.25)\n"
    "      --storage=ENGINE       storage engine (default: " DEFAULT_STORAGE ")\n"
    "      --shadow-storage=ENGINE\n"
    "                             shadow mode: also run every request on ENGINE\n"
    "                             and count where it differs (stats shadow_*)\n"
    "      --shadow-memory-limit=MB\n"
    "                             the shadow engine's item memory (default: -m)\n"
    "      --protocol=IMPL        memcache protocol implementation: c or rust\n"
    "                             (rust: the mixed binary only; default: c)\n"
    "  -U, --udp-port=0           accepted for compatibility; UDP is off\n"
    "      --admin-port=PORT      HTTP admin endpoint (/metrics, /health);\n"
    "                             0 = off (default: 0)\n"
    "      --admin-listen=ADDR    admin endpoint address (default: 127.0.0.1)\n"
    "      --tls-cert=FILE        TLS certificate chain (PEM)\n"
    "      --tls-key=FILE         TLS private key (PEM)\n"
    "      --tls-ca=FILE          CA bundle for client certificates (PEM)\n"
    "  -A, --enable-shutdown      allow the shutdown command (as memcached -A)\n"
    "      --idle-timeout=SECONDS close connections idle longer than this;\n"
    "                             0 = never (default: 0)\n"
    "  -o idle_timeout=SECONDS    the same, memcached's spelling\n"
    "  -e, --memory-file=FILE     warm restart (--storage seg): a graceful stop\n"
    "                             (SIGTERM, SIGINT, SIGUSR1, shutdown graceful)\n"
    "                             saves the items to FILE, the next start loads\n"
    "                             them\n"
    "      --config=FILE          read settings from a TOML file; flags win\n"
    "      --print-config         print the effective settings as TOML and exit\n"
    "  -v, --verbose              log info (-v) or debug (-vv) events to stderr\n"
    "  -h, --help                 print this help and exit\n"
    "  -V, --version              print version and exit\n";

const char *options_usage(void) { return usage_text; }

uint64_t options_shadow_memory_mb(const molt_options *o) {
    return o->shadow_memory_mb ? o->shadow_memory_mb : o->memory_mb;
}

void options_defaults(molt_options *o) {
    memset(o, 0, sizeof(*o));
    o->port = 11211;
    snprintf(o->listen, sizeof(o->listen), "%s", "127.0.0.1");
    o->memory_mb = 64;
    o->threads = 4;
    o->max_conns = 1024;
    o->item_size_max = 1024 * 1024;
    o->growth_factor = 1.25;
    snprintf(o->storage, sizeof(o->storage), "%s", DEFAULT_STORAGE);
    snprintf(o->protocol, sizeof(o->protocol), "%s", "c");
    snprintf(o->admin_listen, sizeof(o->admin_listen), "%s", "127.0.0.1");
}

/* "1048576", "512k", "1m" (case-insensitive), like memcached's -I. */
static int parse_size(const char *s, uint64_t *out) {
    size_t n = strlen(s);
    uint64_t mult = 1;
    if (n > 0) {
        char last = s[n - 1];
        if (last == 'k' || last == 'K') mult = 1024;
        if (last == 'm' || last == 'M') mult = 1024 * 1024;
        if (mult != 1) n--;
    }
    uint64_t v;
    if (!parse_u64(s, n, &v) || v > UINT64_MAX / mult) return 0;
    *out = v * mult;
    return 1;
}

/* Where a value comes from: a flag's text, or a typed TOML value. */
typedef struct source {
    const char *text;        /* flag argument, or NULL */
    const config_value *val; /* config value, or NULL */
    int *item_size_set;
} source;

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t err_len,
                                                      const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
    return -1;
}

static void full_name(key_id k, char *out, size_t n) {
    const struct key_def *d = &key_defs[k];
    snprintf(out, n, "%s%s%s", d->table, d->table[0] ? "." : "", d->name);
}

static int wrong_type(key_id k, const char *expected, const config_value *v,
                      char *err, size_t err_len) {
    char name[64];
    full_name(k, name, sizeof(name));
    return fail(err, err_len, "'%s' must be %s, not %s", name, expected,
                config_kind_name(v->kind));
}

static int out_of_range(key_id k, const char *shown, char *err, size_t err_len) {
    char name[64];
    full_name(k, name, sizeof(name));
    return fail(err, err_len, "'%s' out of range: %s (expected %s)", name, shown,
                key_defs[k].hint);
}

static int get_int(key_id k, const source *src, int64_t *out, char *err, size_t err_len) {
    const struct key_def *d = &key_defs[k];
    if (src->text) {
        uint64_t v;
        if (!parse_u64(src->text, strlen(src->text), &v) || v < (uint64_t)d->lo ||
            v > (uint64_t)d->hi)
            return fail(err, err_len, "invalid %s '%s' (expected %s)", d->what, src->text,
                        d->hint);
        *out = (int64_t)v;
        return 0;
    }
    if (src->val->kind != CONFIG_INTEGER)
        return wrong_type(k, "an integer", src->val, err, err_len);
    if (src->val->integer < d->lo || src->val->integer > d->hi) {
        char shown[32];
        snprintf(shown, sizeof(shown), "%lld", (long long)src->val->integer);
        return out_of_range(k, shown, err, err_len);
    }
    *out = src->val->integer;
    return 0;
}

static int get_string(key_id k, const source *src, char *out, size_t cap, char *err,
                      size_t err_len) {
    const struct key_def *d = &key_defs[k];
    const char *s = src->text;
    if (s == NULL) {
        if (src->val->kind != CONFIG_STRING)
            return wrong_type(k, "a string", src->val, err, err_len);
        s = src->val->str;
    }
    size_t n = strlen(s);
    if (n < (size_t)d->lo || n > (size_t)d->hi || n >= cap) {
        if (src->text) return fail(err, err_len, "invalid %s '%s'", d->what, s);
        char name[64];
        full_name(k, name, sizeof(name));
        return fail(err, err_len, "'%s' must be %s of 1 to %lld characters", name,
                    "a string", (long long)d->hi);
    }
    memcpy(out, s, n + 1);
    return 0;
}

static int get_item_size(const source *src, uint32_t *out, char *err, size_t err_len) {
    uint64_t v;
    char shown[64];
    if (src->text) {
        if (!parse_size(src->text, &v))
            return fail(err, err_len, "invalid max item size '%s' (bytes, or with k/m suffix)",
                        src->text);
        if (v < 1024) return fail(err, err_len, "item max size cannot be less than 1024 bytes");
        if (v > 1024ULL * 1024 * 1024)
            return fail(err, err_len, "cannot set item size limit higher than 1 gigabyte");
        *out = (uint32_t)v;
        return 0;
    }
    const config_value *cv = src->val;
    if (cv->kind == CONFIG_INTEGER) {
        if (cv->integer < 0) {
            snprintf(shown, sizeof(shown), "%lld", (long long)cv->integer);
            return out_of_range(K_ITEM_SIZE, shown, err, err_len);
        }
        v = (uint64_t)cv->integer;
        snprintf(shown, sizeof(shown), "%llu", (unsigned long long)v);
    } else if (cv->kind == CONFIG_STRING) {
        if (!parse_size(cv->str, &v))
            return fail(err, err_len,
                        "'max_item_size' must be bytes or a size like \"512k\" or \"1m\", "
                        "not \"%.40s\"",
                        cv->str);
        snprintf(shown, sizeof(shown), "\"%.40s\"", cv->str);
    } else {
        return wrong_type(K_ITEM_SIZE, "an integer or a size string like \"1m\"", cv, err,
                          err_len);
    }
    if (v < 1024 || v > 1024ULL * 1024 * 1024)
        return out_of_range(K_ITEM_SIZE, shown, err, err_len);
    *out = (uint32_t)v;
    return 0;
}

static int get_growth(const source *src, double *out, char *err, size_t err_len) {
    double f;
    if (src->text) {
        char *end = NULL;
        errno = 0;
        f = strtod(src->text, &end);
        if (errno != 0 || end == src->text || *end != '\0' || !(f > 1.0) || f > 100.0)
            return fail(err, err_len, "invalid growth factor '%s' (must be greater than 1.0)",
                        src->text);
        *out = f;
        return 0;
    }
    const config_value *cv = src->val;
    if (cv->kind == CONFIG_FLOAT) f = cv->number;
    else if (cv->kind == CONFIG_INTEGER) f = (double)cv->integer;
    else return wrong_type(K_GROWTH, "a number", cv, err, err_len);
    if (!(f > 1.0) || f > 100.0) {
        char shown[64];
        snprintf(shown, sizeof(shown), "%g", f);
        return out_of_range(K_GROWTH, shown, err, err_len);
    }
    *out = f;
    return 0;
}

/* A flag that takes no argument arrives as the text "true". */
static int get_bool(key_id k, const source *src, int *out, char *err, size_t err_len) {
    if (src->text) {
        *out = strcmp(src->text, "true") == 0;
        return 0;
    }
    if (src->val->kind != CONFIG_BOOL) return wrong_type(k, "true or false", src->val, err, err_len);
    *out = src->val->boolean;
    return 0;
}

static int apply(molt_options *o, key_id k, const source *src, char *err, size_t err_len) {
    int64_t v = 0;
    switch (k) {
    case K_PORT:
        if (get_int(k, src, &v, err, err_len) != 0) return -1;
        o->port = (int)v;
        return 0;
    case K_LISTEN:
        return get_string(k, src, o->listen, sizeof(o->listen), err, err_len);
    case K_MEMORY:
        if (get_int(k, src, &v, err, err_len) != 0) return -1;
        o->memory_mb = (uint64_t)v;
        return 0;
    case K_THREADS:
        if (get_int(k, src, &v, err, err_len) != 0) return -1;
        o->threads = (int)v;
        return 0;
    case K_CONNS:
        if (get_int(k, src, &v, err, err_len) != 0) return -1;
        o->max_conns = (int)v;
        return 0;
    case K_ITEM_SIZE:
        if (get_item_size(src, &o->item_size_max, err, err_len) != 0) return -1;
        *src->item_size_set = 1;
        return 0;
    case K_GROWTH:
        return get_growth(src, &o->growth_factor, err, err_len);
    case K_STORAGE:
        return get_string(k, src, o->storage, sizeof(o->storage), err, err_len);
    case K_SHADOW_STORAGE:
        return get_string(k, src, o->shadow_storage, sizeof(o->shadow_storage), err, err_len);
    case K_SHADOW_MEMORY:
        if (get_int(k, src, &v, err, err_len) != 0) return -1;
        o->shadow_memory_mb = (uint64_t)v;
        return 0;
    case K_PROTOCOL:
        return get_string(k, src, o->protocol, sizeof(o->protocol), err, err_len);
    case K_ADMIN_PORT:
        if (get_int(k, src, &v, err, err_len) != 0) return -1;
        o->admin_port = (int)v;
        return 0;
    case K_ADMIN_LISTEN:
        return get_string(k, src, o->admin_listen, sizeof(o->admin_listen), err, err_len);
    case K_VERBOSITY:
        if (get_int(k, src, &v, err, err_len) != 0) return -1;
        o->verbose = (int)v;
        return 0;
    case K_TLS_CERT:
        o->tls_requested = 1;
        return get_string(k, src, o->tls_cert, sizeof(o->tls_cert), err, err_len);
    case K_TLS_KEY:
        o->tls_requested = 1;
        return get_string(k, src, o->tls_key, sizeof(o->tls_key), err, err_len);
    case K_TLS_CA:
        o->tls_requested = 1;
        return get_string(k, src, o->tls_ca, sizeof(o->tls_ca), err, err_len);
    case K_ENABLE_SHUTDOWN:
        return get_bool(k, src, &o->enable_shutdown, err, err_len);
    case K_IDLE_TIMEOUT:
        if (get_int(k, src, &v, err, err_len) != 0) return -1;
        o->idle_timeout = (int)v;
        return 0;
    case K_MEMORY_FILE:
        return get_string(k, src, o->memory_file, sizeof(o->memory_file), err, err_len);
    case K_COUNT:
        break;
    }
    return fail(err, err_len, "internal error: unknown setting");
}

typedef struct config_ctx {
    molt_options *o;
    int *item_size_set;
} config_ctx;

static int config_entry(void *ctx, const char *table, const char *key,
                        const config_value *v, char *err, size_t err_len) {
    config_ctx *cc = ctx;
    if (key == NULL) { /* a [table] header */
        for (int k = 0; k < K_COUNT; k++)
            if (key_defs[k].table[0] && strcmp(key_defs[k].table, table) == 0) return 0;
        return fail(err, err_len, "unknown table [%s]", table);
    }
    for (int k = 0; k < K_COUNT; k++) {
        if (strcmp(key_defs[k].table, table) == 0 && strcmp(key_defs[k].name, key) == 0) {
            source src = {NULL, v, cc->item_size_set};
            return apply(cc->o, (key_id)k, &src, err, err_len);
        }
    }
    return fail(err, err_len, "unknown key '%s%s%s'", table, table[0] ? "." : "", key);
}

/* The flag -> setting map; 0 for flags that are not settings. */
static key_id flag_key(int c) {
    switch (c) {
    case 'p': return K_PORT;
    case 'l': return K_LISTEN;
    case 'm': return K_MEMORY;
    case 't': return K_THREADS;
    case 'c': return K_CONNS;
    case 'I': return K_ITEM_SIZE;
    case 'f': return K_GROWTH;
    case OPT_STORAGE: return K_STORAGE;
    case OPT_SHADOW_STORAGE: return K_SHADOW_STORAGE;
    case OPT_SHADOW_MEMORY: return K_SHADOW_MEMORY;
    case OPT_PROTOCOL: return K_PROTOCOL;
    case OPT_ADMIN_PORT: return K_ADMIN_PORT;
    case OPT_ADMIN_LISTEN: return K_ADMIN_LISTEN;
    case OPT_TLS_CERT: return K_TLS_CERT;
    case OPT_TLS_KEY: return K_TLS_KEY;
    case OPT_TLS_CA: return K_TLS_CA;
    case 'A': return K_ENABLE_SHUTDOWN;
    case OPT_IDLE_TIMEOUT: return K_IDLE_TIMEOUT;
    case 'e': return K_MEMORY_FILE;
    default: return K_COUNT;
    }
}

/* memcached's -o: comma-separated name=value settings; molt knows
 * idle_timeout. */
static int apply_extended(molt_options *o, const char *list, int *item_size_set, char *err,
                          size_t err_len) {
    char copy[256];
    if (strlen(list) >= sizeof(copy)) return fail(err, err_len, "-o argument too long");
    snprintf(copy, sizeof(copy), "%s", list);
    char *save = NULL;
    for (char *opt = strtok_r(copy, ",", &save); opt; opt = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(opt, '=');
        if (eq == NULL || strncmp(opt, "idle_timeout", (size_t)(eq - opt)) != 0 ||
            eq - opt != 12)
            return fail(err, err_len, "unknown -o setting '%s' (molt knows idle_timeout=N)",
                        opt);
        source src = {eq + 1, NULL, item_size_set};
        if (apply(o, K_IDLE_TIMEOUT, &src, err, err_len) != 0) return -1;
    }
    return 0;
}

#define FAIL(...)                              \
    do {                                       \
        snprintf(err, err_len, __VA_ARGS__);   \
        return OPTIONS_ERROR;                  \
    } while (0)

/* Two passes over argv: the first finds --config, --help, --version,
 * --print-config and unknown flags; the file is read next; the second pass
 * applies the flags, so a flag beats the file wherever it stands. */
options_action options_parse(molt_options *o, int argc, char **argv,
                             char *err, size_t err_len) {
    static const struct option longopts[] = {
        {"port", required_argument, NULL, 'p'},
        {"listen", required_argument, NULL, 'l'},
        {"memory-limit", required_argument, NULL, 'm'},
        {"threads", required_argument, NULL, 't'},
        {"conn-limit", required_argument, NULL, 'c'},
        {"max-item-size", required_argument, NULL, 'I'},
        {"slab-growth-factor", required_argument, NULL, 'f'},
        {"storage", required_argument, NULL, OPT_STORAGE},
        {"shadow-storage", required_argument, NULL, OPT_SHADOW_STORAGE},
        {"shadow-memory-limit", required_argument, NULL, OPT_SHADOW_MEMORY},
        {"protocol", required_argument, NULL, OPT_PROTOCOL},
        {"udp-port", required_argument, NULL, 'U'},
        {"admin-port", required_argument, NULL, OPT_ADMIN_PORT},
        {"admin-listen", required_argument, NULL, OPT_ADMIN_LISTEN},
        {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
        {"tls-key", required_argument, NULL, OPT_TLS_KEY},
        {"tls-ca", required_argument, NULL, OPT_TLS_CA},
        {"enable-shutdown", no_argument, NULL, 'A'},
        {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
        {"memory-file", required_argument, NULL, 'e'},
        {"extended", required_argument, NULL, 'o'},
        {"config", required_argument, NULL, OPT_CONFIG},
        {"print-config", no_argument, NULL, OPT_PRINT_CONFIG},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    static const char shortopts[] = ":p:l:m:t:c:I:f:U:o:e:AvhV";
    int item_size_set = 0, print_config = 0, verbose_flags = 0;
    opterr = 0;
    for (int pass = 0; pass < 2; pass++) {
        optind = 0; /* glibc: full re-initialisation */
        for (;;) {
            int c = getopt_long(argc, argv, shortopts, longopts, NULL);
            if (c == -1) break;
            key_id k = flag_key(c);
            if (pass == 1) {
                if (k != K_COUNT) {
                    source src = {c == 'A' ? "true" : optarg, NULL, &item_size_set};
                    if (apply(o, k, &src, err, err_len) != 0) return OPTIONS_ERROR;
                } else if (c == 'o') {
                    if (apply_extended(o, optarg, &item_size_set, err, err_len) != 0)
                        return OPTIONS_ERROR;
                } else if (c == 'v') {
                    verbose_flags++;
                }
                continue;
            }
            switch (c) {
            case 'U':
                if (strcmp(optarg, "0") != 0)
                    FAIL("UDP is not supported: only -U 0 is accepted");
                break;
            case OPT_CONFIG:
                if (strlen(optarg) == 0 || strlen(optarg) >= sizeof(o->config_path))
                    FAIL("invalid config file name '%s'", optarg);
                if (o->config_path[0]) FAIL("--config given twice");
                snprintf(o->config_path, sizeof(o->config_path), "%s", optarg);
                break;
            case OPT_PRINT_CONFIG:
                print_config = 1;
                break;
            case 'h':
                return OPTIONS_HELP;
            case 'V':
                return OPTIONS_VERSION;
            case ':':
                FAIL("option '%s' requires an argument", argv[optind - 1]);
            case '?':
                FAIL("unknown option '%s' (see --help)", argv[optind - 1]);
            default:
                break;
            }
        }
        if (pass == 0) {
            if (optind < argc) FAIL("unexpected argument '%s' (see --help)", argv[optind]);
            if (o->config_path[0]) {
                config_ctx cc = {o, &item_size_set};
                if (config_load(o->config_path, config_entry, &cc, err, err_len) != 0)
                    return OPTIONS_ERROR;
            }
        }
    }
    if (verbose_flags > 0) o->verbose = verbose_flags > 2 ? 2 : verbose_flags;
    if (item_size_set && (uint64_t)o->item_size_max > o->memory_mb * 1024 * 1024 / 2)
        FAIL("cannot set item size limit higher than 1/2 of memory max");
    return print_config ? OPTIONS_PRINT_CONFIG : OPTIONS_RUN;
}

/* A TOML basic string. */
static int put_str(char *out, size_t len, size_t *pos, const char *key, const char *s) {
    int n = snprintf(out + *pos, len - *pos, "%s = \"", key);
    if (n < 0 || (size_t)n >= len - *pos) return -1;
    *pos += (size_t)n;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        if (*p == '"' || *p == '\\') snprintf(esc, sizeof(esc), "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7F) snprintf(esc, sizeof(esc), "\\u%04x", *p);
        else snprintf(esc, sizeof(esc), "%c", *p);
        size_t k = strlen(esc);
        if (*pos + k >= len) return -1;
        memcpy(out + *pos, esc, k);
        *pos += k;
    }
    if (*pos + 2 >= len) return -1;
    memcpy(out + *pos, "\"\n", 3);
    *pos += 2;
    return 0;
}

__attribute__((format(printf, 4, 5))) static int put(char *out, size_t len, size_t *pos,
                                                     const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out + *pos, len - *pos, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= len - *pos) return -1;
    *pos += (size_t)n;
    return 0;
}

int options_to_toml(const molt_options *o, char *out, size_t len) {
    size_t pos = 0;
    int rc = 0;
    char growth[64];
    snprintf(growth, sizeof(growth), "%.17g", o->growth_factor);
    /* Shortest form that reads back exactly. */
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(growth, sizeof(growth), "%.*g", prec, o->growth_factor);
        if (strtod(growth, NULL) == o->growth_factor) break;
    }
    if (!strpbrk(growth, ".eE")) strncat(growth, ".0", sizeof(growth) - strlen(growth) - 1);
    char item[32];
    uint32_t is = o->item_size_max;
    if (is % (1024 * 1024) == 0) snprintf(item, sizeof(item), "\"%um\"", is / (1024 * 1024));
    else if (is % 1024 == 0) snprintf(item, sizeof(item), "\"%uk\"", is / 1024);
    else snprintf(item, sizeof(item), "%u", is);
    rc |= put(out, len, &pos, "# molt %s: effective configuration\n", MOLT_VERSION);
    rc |= put(out, len, &pos, "port = %d\n", o->port);
    rc |= put_str(out, len, &pos, "listen", o->listen);
    rc |= put(out, len, &pos, "memory_limit_mb = %llu\n", (unsigned long long)o->memory_mb);
    rc |= put(out, len, &pos, "threads = %d\n", o->threads);
    rc |= put(out, len, &pos, "max_connections = %d\n", o->max_conns);
    rc |= put(out, len, &pos, "max_item_size = %s\n", item);
    rc |= put(out, len, &pos, "slab_growth_factor = %s\n", growth);
    rc |= put_str(out, len, &pos, "storage", o->storage);
    if (o->shadow_storage[0]) { /* absent unless set: the default is none */
        rc |= put_str(out, len, &pos, "shadow_storage", o->shadow_storage);
        rc |= put(out, len, &pos, "shadow_memory_limit_mb = %llu\n",
                  (unsigned long long)o->shadow_memory_mb);
    }
    rc |= put_str(out, len, &pos, "protocol", o->protocol);
    rc |= put(out, len, &pos, "admin_port = %d\n", o->admin_port);
    rc |= put_str(out, len, &pos, "admin_listen", o->admin_listen);
    rc |= put(out, len, &pos, "verbosity = %d\n", o->verbose);
    rc |= put(out, len, &pos, "enable_shutdown = %s\n", o->enable_shutdown ? "true" : "false");
    rc |= put(out, len, &pos, "idle_timeout = %d\n", o->idle_timeout);
    if (o->memory_file[0]) rc |= put_str(out, len, &pos, "memory_file", o->memory_file);
    if (o->tls_requested) {
        rc |= put(out, len, &pos, "\n[tls]\n");
        if (o->tls_cert[0]) rc |= put_str(out, len, &pos, "cert", o->tls_cert);
        if (o->tls_key[0]) rc |= put_str(out, len, &pos, "key", o->tls_key);
        if (o->tls_ca[0]) rc |= put_str(out, len, &pos, "ca", o->tls_ca);
    }
    return rc ? -1 : (int)pos;
}
