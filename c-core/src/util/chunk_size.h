/* chunk_size.h - the slab chunk size sequence: each class's chunk is the
 * previous one times the growth factor (-f), rounded up to 8 bytes. One
 * function, so that the slab engine's classes and meta `me`'s cls= follow
 * the same rule and the same -f. */
#ifndef MOLT_CHUNK_SIZE_H
#define MOLT_CHUNK_SIZE_H

#include <stddef.h>

/* The chunk size after `size`: size * factor rounded up to a multiple of 8,
 * and at least 8 bytes more. A factor below 1.01 (or not a number) counts
 * as the default 1.25, as the slab engine takes it. Returns 0 when
 * size * factor exceeds `limit` (the sequence ends there). */
size_t chunk_size_next(size_t size, size_t limit, double factor);

#endif
