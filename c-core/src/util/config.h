/* config.h - a small TOML subset, enough for molt's config file.
 *
 * Supported: comments, bare and quoted keys, one level of [table], basic
 * strings with escapes, literal strings, integers (decimal with '_', 0x/0o/
 * 0b), floats, booleans. Anything else (arrays, inline tables, dotted keys,
 * nested tables, multi-line strings, dates) is refused with an error naming
 * the line. The parser knows nothing of molt's keys: it hands every
 * key = value to a callback (options.c maps them onto molt_options). */
#ifndef MOLT_CONFIG_H
#define MOLT_CONFIG_H

#include <stddef.h>
#include <stdint.h>

typedef enum config_kind {
    CONFIG_STRING = 0,
    CONFIG_INTEGER = 1,
    CONFIG_FLOAT = 2,
    CONFIG_BOOL = 3
} config_kind;

typedef struct config_value {
    config_kind kind;
    const char *str; /* CONFIG_STRING: NUL-terminated, valid during the call */
    int64_t integer;
    double number;   /* CONFIG_FLOAT */
    int boolean;
} config_value;

/* Called for each [table] header (key == NULL) and each key = value
 * (table is "" at the top level). Return 0, or -1 with a message in err;
 * the parser prefixes it with "config PATH:LINE: ". */
typedef int (*config_entry_fn)(void *ctx, const char *table, const char *key,
                               const config_value *v, char *err, size_t err_len);

/* Parse text (len bytes; name is used in messages). Returns 0, or -1 with a
 * one-line message in err. */
int config_parse(const char *text, size_t len, const char *name,
                 config_entry_fn fn, void *ctx, char *err, size_t err_len);
/* Read and parse the file at path. */
int config_load(const char *path, config_entry_fn fn, void *ctx, char *err,
                size_t err_len);
/* "a string", "an integer", ... for type errors. */
const char *config_kind_name(config_kind kind);

#endif
