/* options.c - parse the command line (see options.h). */
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "numparse.h"

enum { OPT_STORAGE = 1000 };

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
    "      --storage=ENGINE       storage engine (default: slab)\n"
    "  -U, --udp-port=0           accepted for compatibility; UDP is off\n"
    "  -v, --verbose              more logging (-vv for more)\n"
    "  -h, --help                 print this help and exit\n"
    "  -V, --version              print version and exit\n";

const char *options_usage(void) { return usage_text; }

void options_defaults(molt_options *o) {
    memset(o, 0, sizeof(*o));
    o->port = 11211;
    snprintf(o->listen, sizeof(o->listen), "%s", "127.0.0.1");
    o->memory_mb = 64;
    o->threads = 4;
    o->max_conns = 1024;
    o->item_size_max = 1024 * 1024;
    o->growth_factor = 1.25;
    snprintf(o->storage, sizeof(o->storage), "%s", "slab");
}

static int parse_range(const char *s, uint64_t lo, uint64_t hi, uint64_t *out) {
    uint64_t v;
    if (!parse_u64(s, strlen(s), &v) || v < lo || v > hi) return 0;
    *out = v;
    return 1;
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

#define FAIL(...)                              \
    do {                                       \
        snprintf(err, err_len, __VA_ARGS__);   \
        return OPTIONS_ERROR;                  \
    } while (0)

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
        {"udp-port", required_argument, NULL, 'U'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    uint64_t v;
    int item_size_set = 0;
    optind = 1;
    opterr = 0;
    for (;;) {
        int c = getopt_long(argc, argv, ":p:l:m:t:c:I:f:U:vhV", longopts, NULL);
        if (c == -1) break;
        switch (c) {
        case 'p':
            if (!parse_range(optarg, 1, 65535, &v))
                FAIL("invalid port '%s' (expected 1-65535)", optarg);
            o->port = (int)v;
            break;
        case 'l':
            if (strlen(optarg) == 0 || strlen(optarg) >= sizeof(o->listen))
                FAIL("invalid listen address '%s'", optarg);
            snprintf(o->listen, sizeof(o->listen), "%s", optarg);
            break;
        case 'm':
            if (!parse_range(optarg, 1, 1024 * 1024, &v))
                FAIL("invalid memory limit '%s' (expected megabytes, 1-1048576)", optarg);
            o->memory_mb = v;
            break;
        case 't':
            if (!parse_range(optarg, 1, 256, &v))
                FAIL("invalid thread count '%s' (expected 1-256)", optarg);
            o->threads = (int)v;
            break;
        case 'c':
            if (!parse_range(optarg, 1, 1000000, &v))
                FAIL("invalid connection limit '%s' (expected 1-1000000)", optarg);
            o->max_conns = (int)v;
            break;
        case 'I':
            if (!parse_size(optarg, &v))
                FAIL("invalid max item size '%s' (bytes, or with k/m suffix)", optarg);
            if (v < 1024) FAIL("item max size cannot be less than 1024 bytes");
            if (v > 1024ULL * 1024 * 1024)
                FAIL("cannot set item size limit higher than 1 gigabyte");
            o->item_size_max = (uint32_t)v;
            item_size_set = 1;
            break;
        case 'f': {
            char *end = NULL;
            errno = 0;
            double f = strtod(optarg, &end);
            if (errno != 0 || end == optarg || *end != '\0' || !(f > 1.0) || f > 100.0)
                FAIL("invalid growth factor '%s' (must be greater than 1.0)", optarg);
            o->growth_factor = f;
            break;
        }
        case OPT_STORAGE:
            if (strlen(optarg) == 0 || strlen(optarg) >= sizeof(o->storage))
                FAIL("invalid storage engine name '%s'", optarg);
            snprintf(o->storage, sizeof(o->storage), "%s", optarg);
            break;
        case 'U':
            if (strcmp(optarg, "0") != 0)
                FAIL("UDP is not supported: only -U 0 is accepted");
            break;
        case 'v':
            o->verbose++;
            break;
        case 'h':
            return OPTIONS_HELP;
        case 'V':
            return OPTIONS_VERSION;
        case ':':
            FAIL("option '%s' requires an argument", argv[optind - 1]);
        default:
            FAIL("unknown option '%s' (see --help)", argv[optind - 1]);
        }
    }
    if (optind < argc) FAIL("unexpected argument '%s' (see --help)", argv[optind]);
    if (item_size_set && (uint64_t)o->item_size_max > o->memory_mb * 1024 * 1024 / 2)
        FAIL("cannot set item size limit higher than 1/2 of memory max");
    return OPTIONS_RUN;
}
