/* protocol/counters.h - the hot-path form of molt_counters_add (protocol.h)
 * and the counting rules classic and meta commands share (memcached's). */
#ifndef MOLT_PROTO_COUNTERS_H
#define MOLT_PROTO_COUNTERS_H

#include "protocol.h"

/* Single-writer increment: a relaxed load and store, no lock prefix. The
 * __atomic builtins make the other threads' relaxed reads well defined on a
 * plain uint64_t, which keeps molt_counters readable by bindgen. */
static inline void counter_add(molt_counters *c, molt_counter which, uint64_t n) {
    uint64_t *v = &c->value[which];
    __atomic_store_n(v, __atomic_load_n(v, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

/* A read of one key: gat/gats (and mg hits with T) count as touches. */
static inline void count_read(molt_counters *c, int touch, int hit) {
    if (touch) {
        counter_add(c, MOLT_COUNTER_CMD_TOUCH, 1);
        counter_add(c, hit ? MOLT_COUNTER_TOUCH_HITS : MOLT_COUNTER_TOUCH_MISSES, 1);
    } else {
        counter_add(c, MOLT_COUNTER_CMD_GET, 1);
        counter_add(c, hit ? MOLT_COUNTER_GET_HITS : MOLT_COUNTER_GET_MISSES, 1);
    }
}

/* incr/decr and ma: a hit or a miss; other outcomes count nothing. */
static inline void count_arith(molt_counters *c, molt_status st, int incr) {
    if (st == MOLT_OK)
        counter_add(c, incr ? MOLT_COUNTER_INCR_HITS : MOLT_COUNTER_DECR_HITS, 1);
    else if (st == MOLT_NOT_FOUND)
        counter_add(c, incr ? MOLT_COUNTER_INCR_MISSES : MOLT_COUNTER_DECR_MISSES, 1);
}

#endif
