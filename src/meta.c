/*
 * meta.c - writes the ChannelMetadata record into a region being created.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "klaw/mp_writer.h"
#include "meta.h"

klaw_status klaw__meta_write(klaw_region *r, uint64_t off, int channel_type, int64_t capacity,
                             uint32_t max_frame, int policy, const char *value_type, uint64_t *len)
{
    *len = 0;
    size_t vt_len = value_type ? strlen(value_type) : 0;
    if (vt_len > KLAW_META_VALUE_TYPE_MAX)
        return KLAW_INVAL;
    uint8_t *dst = klaw_region_at(klaw_region_base(r), klaw_region_size(r), off, KLAW_META_RESERVE);
    if (!dst)
        return KLAW_INVAL;
    const klaw_region_header *h = klaw_region_hdr(r);

    char host[256] = "";
    if (gethostname(host, sizeof host - 1) != 0)
        strcpy(host, "localhost");
    host[sizeof host - 1] = '\0';
    char creator[300];
    int n = snprintf(creator, sizeof creator, "%s:%ld", host, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof creator)
        n = (int)sizeof creator - 1;

    klaw_channel_metadata m;
    memset(&m, 0, sizeof m);
    m.channel_type = channel_type;
    m.capacity = capacity;
    m.has_capacity = true;
    m.unbounded = false;
    m.has_value_type = value_type != NULL;
    m.value_type = (klaw_str){value_type, (uint32_t)vt_len};
    m.max_frame = max_frame;
    m.policy = policy;
    m.name = (klaw_str){h->name, (uint32_t)strnlen(h->name, sizeof h->name)};
    m.created_at.tv_sec = (time_t)(h->created_at_ns / 1000000000);
    m.created_at.tv_nsec = (long)(h->created_at_ns % 1000000000);
    m.creator = (klaw_str){creator, (uint32_t)n};

    const klaw_schema *s = klaw_record_schema(KLAW_RECORD_CHANNEL_METADATA);
    if (!s)
        return KLAW_NOMEM;
    klaw_mp_writer w;
    klaw_mp_writer_init(&w, dst, KLAW_META_RESERVE);
    klaw_status st = klaw_schema_encode(s, &m, &w);
    if (st != KLAW_OK)
        return st;
    *len = klaw_mp_writer_len(&w);
    return KLAW_OK;
}

klaw_status klaw__chan_region_create(const char *name, uint64_t total, uint32_t kind, mode_t mode, int set_group,
                                     gid_t group, klaw_region **out)
{
    *out = NULL;
    if (total > ((uint64_t)1 << 40))
        return KLAW_INVAL;
    return klaw_region_create_group(name, (size_t)total, kind, mode, set_group ? group : (gid_t)-1, out);
}

klaw_status klaw__chan_publish(klaw_region *r, uint64_t moff, int channel_type, int64_t capacity,
                               uint32_t max_frame, int policy, const char *value_type, uint64_t ctl_off,
                               uint64_t ctl_len)
{
    uint64_t mlen = 0;
    klaw_status st = klaw__meta_write(r, moff, channel_type, capacity, max_frame, policy, value_type, &mlen);
    if (st == KLAW_OK)
        st = klaw_region_publish(r, moff, mlen, ctl_off, ctl_len);
    return st;
}

void klaw__chan_discard(klaw_region *r, const char *name)
{
    if (r)
        klaw_region_close(r);
    if (name)
        klaw_region_unlink(name);
}
