/* options.h - molt's settings: defaults, then the --config file (TOML, see
 * config.h), then command-line flags, which win regardless of order. This
 * module owns the option model: every setting has one TOML key and one long
 * flag, validated by the same code. */
#ifndef MOLT_OPTIONS_H
#define MOLT_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "util/version.h"

#define MOLT_PATH_MAX 4096

typedef struct molt_options {
    int port;
    char listen[64];
    uint64_t memory_mb;
    int threads;
    int max_conns;
    uint32_t item_size_max;
    double growth_factor;
    char storage[32];
    /* shadow mode: "" for none; the shadow's memory in MiB, 0 = as -m */
    char shadow_storage[32];
    uint64_t shadow_memory_mb;
    char protocol[32];      /* protocol.h implementation: "c", "rust" */
    int verbose;            /* 0 warn, 1 info (-v), 2 debug (-vv) */
    int admin_port;         /* 0: no admin HTTP endpoint */
    char admin_listen[64];  /* admin address, loopback unless set */
    /* TLS: paths as given; "" when unset. tls_requested is non-zero when
     * any of them is set, so the server can refuse a build without TLS. */
    char tls_cert[MOLT_PATH_MAX];
    char tls_key[MOLT_PATH_MAX];
    char tls_ca[MOLT_PATH_MAX];
    int tls_requested;
    int enable_shutdown;    /* -A: the shutdown command is allowed */
    int idle_timeout;       /* seconds; 0: idle connections stay open */
    char config_path[MOLT_PATH_MAX]; /* "" when no --config */
    /* -e: warm restart through this file (seg); "" when unset */
    char memory_file[MOLT_PATH_MAX];
} molt_options;

typedef enum options_action {
    OPTIONS_RUN = 0,
    OPTIONS_HELP = 1,
    OPTIONS_VERSION = 2,
    OPTIONS_ERROR = 3,
    OPTIONS_PRINT_CONFIG = 4
} options_action;

void options_defaults(molt_options *o);
/* Parse argv (and the --config file it names) into o. On OPTIONS_ERROR,
 * err holds a one-line message (config errors name the file and line). */
options_action options_parse(molt_options *o, int argc, char **argv,
                             char *err, size_t err_len);
/* The shadow engine's memory in MiB: --shadow-memory-limit, else -m. */
uint64_t options_shadow_memory_mb(const molt_options *o);
/* The --help text. */
const char *options_usage(void);
/* The effective settings as a TOML config file (what --print-config
 * prints; loading it with --config gives the same settings). Returns the
 * length written, or -1 if it did not fit. */
int options_to_toml(const molt_options *o, char *out, size_t out_len);

#endif
