/* hashfn.h - the 64-bit key hash used by the slab engine's table. */
#ifndef MOLT_SLAB_HASHFN_H
#define MOLT_SLAB_HASHFN_H

#include <stddef.h>
#include <stdint.h>

/* A wyhash-style multiply-mix hash: 8 or 16 bytes per step. */
uint64_t slab_hashfn(const void *key, size_t len, uint64_t seed);

#endif
