/*
 * src/meta.h - internal: the ChannelMetadata record every channel writes
 * into its region before READY (DESIGN.md "Registries as immutable
 * records"). Public reading: klaw/channel.h.
 */
#ifndef KLAW_SRC_META_H
#define KLAW_SRC_META_H

#include <stdint.h>

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

#endif /* KLAW_SRC_META_H */
