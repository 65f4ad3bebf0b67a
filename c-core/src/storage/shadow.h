/* storage/shadow.h - shadow mode: two engines behind one storage.h handle.
 *
 * The primary answers every request; each write is mirrored to the shadow
 * as the primary's outcome (not the shadow's own cas checks), each read is
 * run on the shadow too and the two results are compared (status, value
 * bytes, flags, remaining TTL within 1 s; never cas). The counters are
 * reported as engine figures (`stats`, /metrics: shadow_*). The shadow never
 * changes a reply and never fails a request. See docs/ARCHITECTURE.md,
 * "Shadow mode", for what each operation does on the shadow. Not read by
 * bindgen: the server opens it, every caller then sees a plain handle. */
#ifndef MOLT_STORAGE_SHADOW_H
#define MOLT_STORAGE_SHADOW_H

#include "storage.h"

/* Open `primary` (with primary_cfg, whose eviction sink keeps receiving the
 * primary's evictions) and `shadow` (shadow_cfg, its own memory limit; its
 * eviction sink is ignored) and join them into one handle. On failure
 * *failed names the engine that could not be opened (NULL when the failure
 * is the pair's own, e.g. no memory). */
molt_status molt_shadow_open(const char *primary, const molt_storage_config *primary_cfg,
                             const char *shadow, const molt_storage_config *shadow_cfg,
                             molt_storage **out, const char **failed);

#endif
