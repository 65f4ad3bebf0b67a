/* latency.h - a fixed-bucket, log-linear latency histogram.
 *
 * One per worker thread, which is its only writer (relaxed load + store, no
 * locked instruction); readers sum every worker's histogram. Buckets: one
 * for everything under 1024 ns, then 4 linear sub-buckets per power of two
 * up to 2^34 ns (~17 s), then an overflow bucket: a value is placed within
 * 25% of its size. Recording costs a count-leading-zeros and three
 * relaxed read-modify-writes. */
#ifndef MOLT_LATENCY_H
#define MOLT_LATENCY_H

#include <stdatomic.h>
#include <stdint.h>

#define LATENCY_MIN_SHIFT 10 /* first octave starts at 1024 ns */
#define LATENCY_MAX_SHIFT 34 /* last octave ends at 2^34 ns */
#define LATENCY_SUB 4        /* sub-buckets per octave */
#define LATENCY_BUCKETS (1 + (LATENCY_MAX_SHIFT - LATENCY_MIN_SHIFT) * LATENCY_SUB + 1)

typedef struct molt_latency {
    _Atomic uint64_t bucket[LATENCY_BUCKETS];
    _Atomic uint64_t sum_ns;
} molt_latency;

typedef struct molt_latency_totals {
    uint64_t bucket[LATENCY_BUCKETS];
    uint64_t count;
    uint64_t sum_ns;
} molt_latency_totals;

/* Single writer: the owning worker only. */
void latency_record(molt_latency *h, uint64_t ns);
/* Adds h into t (t starts zeroed). */
void latency_sum(const molt_latency *h, molt_latency_totals *t);
/* Bucket i holds values below this many ns (UINT64_MAX for overflow). */
uint64_t latency_bucket_upper_ns(int i);
/* Index of the bucket a value falls in. */
int latency_bucket_of(uint64_t ns);
/* Estimated q-quantile (0 < q <= 1) in ns: the upper bound of the bucket
 * where the rank falls; 0 when empty. */
uint64_t latency_quantile_ns(const molt_latency_totals *t, double q);
/* Monotonic clock in ns (CLOCK_MONOTONIC). */
uint64_t latency_now_ns(void);

#endif
