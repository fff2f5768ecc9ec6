/*
 * src/meta.h - internal: the ChannelMetadata record every channel writes
 * into its region before READY (DESIGN.md "Registries as immutable
 * records"). Public reading: klaw/channel.h.
 */
#ifndef KLAW_SRC_META_H
#define KLAW_SRC_META_H

#include <stdint.h>
#include <sys/types.h>

#include "klaw/records.h"
#include "klaw/region.h"
#include "klaw/status.h"

/* Bytes a channel reserves at the end of its region for the record
 * (channel name <= 200 bytes, value type <= 256, creator <= 300). */
#define KLAW_META_RESERVE 2048u
#define KLAW_META_VALUE_TYPE_MAX 256u

/* Fills m for a channel being created in r (name from the region's header,
 * created_at now, creator "host:pid" into creator_buf[300]) and encodes it
 * at [off, off + KLAW_META_RESERVE) of r; *len gets the encoded length.
 * value_type NULL: none. Returns KLAW_OK, KLAW_INVAL (value_type too long),
 * or KLAW_TOOBIG (cannot happen with the limits above). Call before
 * klaw_region_publish(r, off, *len, ...). */
klaw_status klaw__meta_write(klaw_region *r, uint64_t off, int channel_type, int64_t capacity,
                             uint32_t max_frame, int policy, const char *value_type, uint64_t *len);

/* ---- the create sequence every kind shares ----------------------------------
 * A kind lays out its region, then: klaw__chan_region_create(), fill its
 * control block (and klaw__life_init), klaw__chan_publish(); on any
 * failure after the region exists, klaw__chan_discard(). Named regions are
 * created O_EXCL, so the name discarded is this call's own. */

/* The channel's region: total bytes (KLAW_INVAL past 2^40), the region
 * kind, mode, and the group when set_group (klaw_region_create_group). */
klaw_status klaw__chan_region_create(const char *name, uint64_t total, uint32_t kind, mode_t mode, int set_group,
                                     gid_t group, klaw_region **out);

/* The ChannelMetadata record at moff (klaw__meta_write), then READY with
 * the kind's control block [ctl_off, ctl_off + ctl_len) as the body. */
klaw_status klaw__chan_publish(klaw_region *r, uint64_t moff, int channel_type, int64_t capacity,
                               uint32_t max_frame, int policy, const char *value_type, uint64_t ctl_off,
                               uint64_t ctl_len);

/* A create that failed: r closed (NULL: the caller's attachment already
 * closed it) and the name, if any, removed - never a name left behind that
 * opens as something half made. */
void klaw__chan_discard(klaw_region *r, const char *name);

#endif /* KLAW_SRC_META_H */
