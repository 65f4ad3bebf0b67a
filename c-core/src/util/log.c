/* log.c - see log.h. The threshold is this module's only state. */
#include "util/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static _Atomic int log_threshold = MOLT_LOG_WARN;

void log_setup(int verbosity) {
    int level = MOLT_LOG_WARN + (verbosity < 0 ? 0 : verbosity);
    if (level > MOLT_LOG_DEBUG) level = MOLT_LOG_DEBUG;
    atomic_store_explicit(&log_threshold, level, memory_order_relaxed);
}

void log_teardown(void) {
    atomic_store_explicit(&log_threshold, MOLT_LOG_WARN, memory_order_relaxed);
}

int log_enabled(molt_log_level level) {
    return (int)level <= atomic_load_explicit(&log_threshold, memory_order_relaxed);
}

const char *log_level_name(molt_log_level level) {
    switch (level) {
    case MOLT_LOG_ERROR: return "error";
    case MOLT_LOG_WARN: return "warn";
    case MOLT_LOG_INFO: return "info";
    case MOLT_LOG_DEBUG: return "debug";
    }
    return "?";
}

void log_msg(molt_log_level level, const char *fmt, ...) {
    if (!log_enabled(level)) return;
    char line[1024];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L,
                     log_level_name(level));
    if (n < 0) return;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0) return;
    size_t len = (size_t)n + (size_t)m;
    if (len > sizeof(line) - 2) len = sizeof(line) - 2; /* truncated */
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
