/* chunk_size.c - see chunk_size.h. */
#include "util/chunk_size.h"

#define FACTOR_MIN 1.01
#define FACTOR_DEFAULT 1.25

size_t chunk_size_next(size_t size, size_t limit, double factor) {
    if (!(factor >= FACTOR_MIN)) factor = FACTOR_DEFAULT; /* also NaN */
    double next = (double)size * factor;
    if (!(next <= (double)limit)) return 0; /* also inf */
    size_t aligned = ((size_t)next + 7) & ~(size_t)7;
    return aligned > size ? aligned : size + 8;
}
