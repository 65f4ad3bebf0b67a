/* latency.c - see latency.h. */
#include "admin/latency.h"

#include <time.h>

static void add(_Atomic uint64_t *c, uint64_t n) {
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

int latency_bucket_of(uint64_t ns) {
    if (ns < (1ULL << LATENCY_MIN_SHIFT)) return 0;
    int msb = 63 - __builtin_clzll(ns);
    if (msb >= LATENCY_MAX_SHIFT) return LATENCY_BUCKETS - 1;
    int sub = (int)((ns >> (msb - 2)) & (LATENCY_SUB - 1));
    return 1 + (msb - LATENCY_MIN_SHIFT) * LATENCY_SUB + sub;
}

uint64_t latency_bucket_upper_ns(int i) {
    if (i <= 0) return 1ULL << LATENCY_MIN_SHIFT;
    if (i >= LATENCY_BUCKETS - 1) return UINT64_MAX;
    int msb = LATENCY_MIN_SHIFT + (i - 1) / LATENCY_SUB;
    uint64_t sub = (uint64_t)((i - 1) % LATENCY_SUB);
    return (LATENCY_SUB + sub + 1) << (msb - 2);
}

void latency_record(molt_latency *h, uint64_t ns) {
    add(&h->bucket[latency_bucket_of(ns)], 1);
    add(&h->sum_ns, ns);
}

void latency_sum(const molt_latency *h, molt_latency_totals *t) {
    for (int i = 0; i < LATENCY_BUCKETS; i++) {
        uint64_t n = atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
        t->bucket[i] += n;
        t->count += n;
    }
    t->sum_ns += atomic_load_explicit(&h->sum_ns, memory_order_relaxed);
}

uint64_t latency_quantile_ns(const molt_latency_totals *t, double q) {
    if (t->count == 0) return 0;
    uint64_t rank = (uint64_t)(q * (double)t->count + 0.5);
    if (rank < 1) rank = 1;
    if (rank > t->count) rank = t->count;
    uint64_t seen = 0;
    for (int i = 0; i < LATENCY_BUCKETS; i++) {
        seen += t->bucket[i];
        if (seen >= rank) return latency_bucket_upper_ns(i);
    }
    return UINT64_MAX;
}

uint64_t latency_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}
