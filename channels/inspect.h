/*
 * channels/inspect.h - internal: read-only inspection of a channel region
 * another process created (klaw/channel.h, the `klaw` tool). These never
 * take a handle or change counts; they validate the region's layout as an
 * open would (KLAW_CORRUPT on a bad one) and may reap dead processes'
 * handles (maintenance every open does too).
 */
#ifndef KLAW_CHANNELS_INSPECT_H
#define KLAW_CHANNELS_INSPECT_H

#include "klaw/broadcast.h"
#include "klaw/mpmc.h"
#include "klaw/oneshot.h"
#include "klaw/watch.h"
#include "klaw/region.h"
#include "klaw/registry.h"

/* r stays owned by the caller. */
klaw_status klaw__mpmc_inspect(klaw_region *r, klaw_mpmc_stats *out);
klaw_status klaw__watch_inspect(klaw_region *r, klaw_watch_stats *out);
klaw_status klaw__oneshot_inspect(klaw_region *r, klaw_oneshot_stats *out);
klaw_status klaw__bcast_inspect(klaw_region *r, klaw_bcast_stats *out);
/* The reader registry's records (*out: free with klaw_reader_snapshot_free)
 * and the writers' tail, read after them (every cursor in *out is at most
 * *tail unless the region lies). */
klaw_status klaw__bcast_inspect_readers(klaw_region *r, klaw_reader_snapshot **out, uint64_t *tail);

#endif /* KLAW_CHANNELS_INSPECT_H */
