/* log.h - leveled, timestamped log lines on stderr.
 *
 * One line per event: "2024-05-01T12:00:00.123Z info  message". The level is
 * set once at start-up (log_setup) and read with a relaxed load, so a call
 * below the threshold costs one compare. Each line is written with a single
 * write(2), so lines from different threads do not interleave. Never call
 * these per request: they are for start-up, shutdown and per-connection
 * events. */
#ifndef MOLT_LOG_H
#define MOLT_LOG_H

typedef enum molt_log_level {
    MOLT_LOG_ERROR = 0,
    MOLT_LOG_WARN = 1,
    MOLT_LOG_INFO = 2,
    MOLT_LOG_DEBUG = 3
} molt_log_level;

/* verbosity: 0 = warn and error (the default), 1 = info (-v),
 * 2 or more = debug (-vv). */
void log_setup(int verbosity);
/* Back to the default (warn); for symmetry with log_setup. */
void log_teardown(void);
int log_enabled(molt_log_level level);
void log_msg(molt_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
const char *log_level_name(molt_log_level level);

#endif
