/* options.h - memcached-compatible command line. */
#ifndef MOLT_OPTIONS_H
#define MOLT_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#define MOLT_VERSION "0.1.0"
/* What `version` answers: the memcached protocol level, then molt's own. */
#define MOLT_VERSION_REPLY "1.6.0-molt-" MOLT_VERSION

typedef struct molt_options {
    int port;
    char listen[64];
    uint64_t memory_mb;
    int threads;
    int max_conns;
    uint32_t item_size_max;
    double growth_factor;
    char storage[32];
    int verbose;
} molt_options;

typedef enum options_action {
    OPTIONS_RUN = 0,
    OPTIONS_HELP = 1,
    OPTIONS_VERSION = 2,
    OPTIONS_ERROR = 3
} options_action;

void options_defaults(molt_options *o);
/* Parse argv into o. On OPTIONS_ERROR, err holds a one-line message. */
options_action options_parse(molt_options *o, int argc, char **argv,
                             char *err, size_t err_len);
/* The --help text. */
const char *options_usage(void);

#endif
