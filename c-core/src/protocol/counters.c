/* protocol/counters.c - molt_counters (see protocol.h). */
#include "protocol/counters.h"

void molt_counters_add(molt_counters *c, molt_counter which, uint64_t n) {
    if (c != NULL && (unsigned)which < MOLT_COUNTER_COUNT) counter_add(c, which, n);
}

uint64_t molt_counters_get(const molt_counters *c, molt_counter which) {
    if (c == NULL || (unsigned)which >= MOLT_COUNTER_COUNT) return 0;
    return __atomic_load_n(&c->value[which], __ATOMIC_RELAXED);
}

const char *molt_counter_name(molt_counter which) {
    /* No default: -Wswitch (in -Wall) then names a counter left out. */
    switch (which) {
    case MOLT_COUNTER_CMD_GET: return "cmd_get";
    case MOLT_COUNTER_CMD_SET: return "cmd_set";
    case MOLT_COUNTER_CMD_FLUSH: return "cmd_flush";
    case MOLT_COUNTER_CMD_TOUCH: return "cmd_touch";
    case MOLT_COUNTER_CMD_META: return "cmd_meta";
    case MOLT_COUNTER_GET_HITS: return "get_hits";
    case MOLT_COUNTER_GET_MISSES: return "get_misses";
    case MOLT_COUNTER_DELETE_MISSES: return "delete_misses";
    case MOLT_COUNTER_DELETE_HITS: return "delete_hits";
    case MOLT_COUNTER_INCR_MISSES: return "incr_misses";
    case MOLT_COUNTER_INCR_HITS: return "incr_hits";
    case MOLT_COUNTER_DECR_MISSES: return "decr_misses";
    case MOLT_COUNTER_DECR_HITS: return "decr_hits";
    case MOLT_COUNTER_CAS_MISSES: return "cas_misses";
    case MOLT_COUNTER_CAS_HITS: return "cas_hits";
    case MOLT_COUNTER_CAS_BADVAL: return "cas_badval";
    case MOLT_COUNTER_TOUCH_HITS: return "touch_hits";
    case MOLT_COUNTER_TOUCH_MISSES: return "touch_misses";
    case MOLT_COUNTER_STORE_TOO_LARGE: return "store_too_large";
    case MOLT_COUNTER_STORE_NO_MEMORY: return "store_no_memory";
    case MOLT_COUNTER_BYTES_READ: return "bytes_read";
    case MOLT_COUNTER_BYTES_WRITTEN: return "bytes_written";
    case MOLT_COUNTER_COUNT: break;
    }
    return NULL;
}
