/*
 * channel.c - kind-independent inspection of a channel by name (see
 * klaw/channel.h): the region's header, its ChannelMetadata record, and the
 * kind's stats and readers through the kinds' read-only entry points
 * (channels/inspect.h).
 *
 * Trust: klaw_region_open() validates the header once, but the region
 * stays writable by every process that maps it, so nothing here re-reads a
 * header field after checking it: the kind, meta_off and meta_len are read
 * once into locals, bounds-checked again, and the record is copied into the
 * handle before it is decoded. Everything after open works on that copy.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "klaw/channel.h"
#include "klaw/mp_writer.h"
#include "klaw/region.h"
#include "klaw/registry.h"
#include "inspect.h"

#define SHM_DIR "/dev/shm"
#define SHM_PREFIX "klaw."
#define EXTRAS_CAP 256u

struct klaw_channel {
    klaw_region *region;
    klaw_channel_type kind;
    klaw_channel_metadata meta; /* strings point into meta_bytes            */
    uint8_t *meta_bytes;        /* the record, copied out of the region     */
    size_t meta_len;
    uint8_t extras[EXTRAS_CAP]; /* the last stats call's backend_extras     */
    klaw_reader_snapshot *readers; /* the last readers call's records       */
    uint64_t readers_tail;         /* the writers' tail read with them      */
    char name[KLAW_REGION_NAME_MAX + 1];
};

/* ---- helpers -------------------------------------------------------------- */

static klaw_status fail(klaw_status st, const char **why, const char *reason)
{
    if (why)
        *why = reason ? reason : klaw_strerror(st);
    return st;
}

static int64_t clamp_i64(uint64_t v) { return v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v; }

/* ---- open / close --------------------------------------------------------- */

klaw_status klaw_channel_open(const char *name, uint32_t timeout_ms, klaw_channel **out, const char **why)
{
    *out = NULL;
    if (why)
        *why = NULL;
    klaw_region *r;
    klaw_status st = klaw_region_open(name, 0, timeout_ms, &r);
    if (st != KLAW_OK) {
        const char *reason = NULL;
        if (st == KLAW_CORRUPT)
            reason = "not a valid klaw region (bad header, size or offsets, or its creator died before it "
                     "was ready)";
        else if (st == KLAW_VERSION)
            reason = "region of another layout version or byte order";
        return fail(st, why, reason);
    }
    uint8_t *base = klaw_region_base(r);
    size_t size = klaw_region_size(r);
    const volatile klaw_region_header *h = (const volatile klaw_region_header *)klaw_region_hdr(r);
    /* one read of each field we follow; checked again here, since the
     * header may have changed since klaw_region_open() looked */
    uint32_t kind = h->kind;
    uint64_t moff = h->meta_off, mlen = h->meta_len;

    const char *reason = NULL;
    const uint8_t *src = NULL;
    if (kind < KLAW_CHANNEL_MPMC || kind > KLAW_CHANNEL_ONESHOT)
        reason = "region holds no channel kind klaw knows";
    else if (mlen == 0)
        reason = "region has no metadata record";
    else if (mlen > KLAW_CHANNEL_META_MAX)
        reason = "metadata record is too long";
    else if (!(src = klaw_region_at(base, size, moff, mlen)))
        reason = "metadata record lies outside the region";
    if (reason) {
        klaw_region_close(r);
        return fail(KLAW_CORRUPT, why, reason);
    }

    klaw_channel *ch = calloc(1, sizeof *ch);
    uint8_t *copy = malloc((size_t)mlen);
    if (!ch || !copy) {
        free(ch);
        free(copy);
        klaw_region_close(r);
        return fail(KLAW_NOMEM, why, NULL);
    }
    memcpy(copy, src, (size_t)mlen);
    ch->region = r;
    ch->kind = (klaw_channel_type)kind;
    ch->meta_bytes = copy;
    ch->meta_len = (size_t)mlen;
    snprintf(ch->name, sizeof ch->name, "%s", name);

    const klaw_schema *s = klaw_record_schema(KLAW_RECORD_CHANNEL_METADATA);
    if (!s) {
        klaw_channel_close(ch);
        return fail(KLAW_NOMEM, why, NULL);
    }
    /* strict: UTF-8 checked, no trailing bytes, nothing needs an arena */
    st = klaw_schema_decode(s, copy, (size_t)mlen, &ch->meta, NULL, 0, NULL);
    if (st != KLAW_OK)
        reason = "metadata record does not decode as a ChannelMetadata";
    else if (ch->meta.channel_type != (int)kind)
        reason = "metadata record's channel_type is not the region's kind";
    else if (ch->meta.policy != KLAW_POLICY_NONE && kind != KLAW_CHANNEL_BROADCAST)
        reason = "metadata record gives a policy to a channel that is not a broadcast";
    if (reason) {
        klaw_channel_close(ch);
        return fail(KLAW_CORRUPT, why, reason);
    }
    *out = ch;
    return KLAW_OK;
}

void klaw_channel_close(klaw_channel *ch)
{
    if (!ch)
        return;
    klaw_region_close(ch->region);
    klaw_reader_snapshot_free(ch->readers);
    free(ch->meta_bytes);
    free(ch);
}

const char *klaw_channel_name(const klaw_channel *ch) { return ch->name; }

klaw_channel_type klaw_channel_kind(const klaw_channel *ch) { return ch->kind; }

const klaw_channel_metadata *klaw_channel_meta(const klaw_channel *ch) { return &ch->meta; }

klaw_mp_raw klaw_channel_meta_raw(const klaw_channel *ch) { return (klaw_mp_raw){ch->meta_bytes, ch->meta_len}; }

klaw_status klaw_channel_meta_json(const klaw_channel *ch, klaw_json_write_fn fn, void *ctx)
{
    klaw_mp_reader r;
    klaw_mp_reader_init(&r, ch->meta_bytes, ch->meta_len);
    /* decoded strictly at open: this cannot fail but through fn */
    return klaw_json_from_mp(&r, fn, ctx);
}

/* ---- stats ---------------------------------------------------------------------- */

/* backend_extras: a map of up to 8 str -> int pairs, into ch->extras. */
typedef struct extra {
    const char *key;
    int64_t val;
} extra;

static klaw_status put_extras(klaw_channel *ch, const extra *e, size_t n, klaw_channel_stats *out)
{
    klaw_mp_writer w;
    klaw_mp_writer_init(&w, ch->extras, sizeof ch->extras);
    klaw_mp_write_map(&w, n);
    for (size_t i = 0; i < n; i++) {
        klaw_mp_write_cstr(&w, e[i].key);
        klaw_mp_write_int(&w, e[i].val);
    }
    size_t len;
    klaw_status st = klaw_mp_writer_finish(&w, &len);
    if (st == KLAW_OK)
        out->backend_extras = (klaw_mp_raw){ch->extras, len};
    return st;
}

static klaw_status mpmc_stats(klaw_channel *ch, klaw_channel_stats *out)
{
    klaw_mpmc_stats ms;
    klaw_status st = klaw__mpmc_inspect(ch->region, &ms);
    if (st != KLAW_OK)
        return st;
    out->sender_count = ms.senders;
    out->receiver_count = ms.receivers;
    /* committed and not yet received: the ring's depth also counts slots
     * still being written and aborted ones not yet passed */
    out->queue_size = clamp_i64(ms.total_sent > ms.total_received ? ms.total_sent - ms.total_received : 0);
    out->capacity = ms.capacity;
    out->has_capacity = true;
    out->senders_closed = ms.senders_closed != 0;
    out->receivers_closed = ms.receivers_closed != 0;
    out->high_watermark = clamp_i64(ms.high_watermark);
    out->total_sent = clamp_i64(ms.total_sent);
    out->total_received = clamp_i64(ms.total_received);
    const extra e[] = {
        {"max_frame", ms.max_frame},
        {"aborted_claims", clamp_i64(ms.aborted_claims)},
        {"redelivered", clamp_i64(ms.redelivered)},
        {"reaped_handles", clamp_i64(ms.reaped_handles)},
    };
    return put_extras(ch, e, sizeof e / sizeof e[0], out);
}

static klaw_status bcast_stats(klaw_channel *ch, klaw_channel_stats *out)
{
    klaw_bcast_stats bs;
    klaw_status st = klaw__bcast_inspect(ch->region, &bs);
    if (st != KLAW_OK)
        return st;
    out->sender_count = bs.writers;
    out->receiver_count = bs.readers;
    out->queue_size = clamp_i64(bs.depth);
    out->capacity = bs.capacity;
    out->has_capacity = true;
    out->senders_closed = bs.writers_closed != 0;
    out->receivers_closed = false; /* receivers may always subscribe */
    out->high_watermark = clamp_i64(bs.high_watermark);
    out->total_sent = clamp_i64(bs.total_sent);
    out->total_received = clamp_i64(bs.total_received);
    /* policy by name, as the metadata record spells it */
    const extra e[] = {
        {"lagged", clamp_i64(bs.lagged)},
        {"aborted_claims", clamp_i64(bs.aborted_claims)},
        {"evicted", clamp_i64(bs.evicted)},
    };
    klaw_mp_writer w;
    klaw_mp_writer_init(&w, ch->extras, sizeof ch->extras);
    klaw_mp_write_map(&w, 2 + sizeof e / sizeof e[0]);
    klaw_mp_write_cstr(&w, "max_frame");
    klaw_mp_write_uint(&w, bs.max_frame);
    klaw_mp_write_cstr(&w, "policy");
    klaw_mp_write_cstr(&w, bs.policy == KLAW_POLICY_BLOCK ? "block" : "overwrite");
    for (size_t i = 0; i < sizeof e / sizeof e[0]; i++) {
        klaw_mp_write_cstr(&w, e[i].key);
        klaw_mp_write_int(&w, e[i].val);
    }
    size_t len;
    st = klaw_mp_writer_finish(&w, &len);
    if (st == KLAW_OK)
        out->backend_extras = (klaw_mp_raw){ch->extras, len};
    return st;
}

static klaw_status watch_stats(klaw_channel *ch, klaw_channel_stats *out)
{
    klaw_watch_stats ws;
    klaw_status st = klaw__watch_inspect(ch->region, &ws);
    if (st != KLAW_OK)
        return st;
    out->sender_count = ws.senders;
    out->receiver_count = ws.receivers;
    out->queue_size = 1; /* one current value, always */
    out->capacity = 1;
    out->has_capacity = true;
    out->senders_closed = ws.senders_closed != 0;
    out->receivers_closed = false;
    out->high_watermark = 1;
    out->total_sent = clamp_i64(ws.version); /* values sent after the initial one */
    out->total_received = 0;                 /* a watch does not count its readers' looks */
    const extra e[] = {
        {"max_frame", ws.max_frame},
        {"version", clamp_i64(ws.version)},
        {"value_len", ws.value_len},
        {"slots", ws.slots},
        {"lagged_borrows", clamp_i64(ws.lagged_borrows)},
        {"read_retries", clamp_i64(ws.read_retries)},
        {"reaped_handles", clamp_i64(ws.reaped_handles)},
    };
    return put_extras(ch, e, sizeof e / sizeof e[0], out);
}

static klaw_status oneshot_stats(klaw_channel *ch, klaw_channel_stats *out)
{
    klaw_oneshot_stats os;
    klaw_status st = klaw__oneshot_inspect(ch->region, &os);
    if (st != KLAW_OK)
        return st;
    out->sender_count = os.sender_held != 0;
    out->receiver_count = os.receiver_held != 0;
    out->queue_size = os.sent && !os.received;
    out->capacity = 1;
    out->has_capacity = true;
    out->senders_closed = os.sender_closed != 0;
    out->receivers_closed = os.receiver_closed != 0;
    out->high_watermark = os.sent != 0;
    out->total_sent = os.sent != 0;
    out->total_received = os.received != 0;
    const extra e[] = {
        {"max_frame", os.max_frame},
        {"value_len", os.sent ? (int64_t)os.value_len : 0},
    };
    return put_extras(ch, e, sizeof e / sizeof e[0], out);
}

klaw_status klaw_channel_read_stats(klaw_channel *ch, klaw_channel_stats *out)
{
    memset(out, 0, sizeof *out);
    klaw_status st;
    switch (ch->kind) {
    case KLAW_CHANNEL_MPMC: st = mpmc_stats(ch, out); break;
    case KLAW_CHANNEL_BROADCAST: st = bcast_stats(ch, out); break;
    case KLAW_CHANNEL_WATCH: st = watch_stats(ch, out); break;
    case KLAW_CHANNEL_ONESHOT: st = oneshot_stats(ch, out); break;
    default: return KLAW_INVAL;
    }
    if (st != KLAW_OK) {
        memset(out, 0, sizeof *out);
        return st;
    }
    const klaw_region_header *h = klaw_region_hdr(ch->region);
    int64_t ns = h->created_at_ns;
    out->created_at.tv_sec = (time_t)(ns / 1000000000);
    out->created_at.tv_nsec = (long)(ns % 1000000000);
    if (out->created_at.tv_nsec < 0) {
        out->created_at.tv_sec -= 1;
        out->created_at.tv_nsec += 1000000000;
    }
    return KLAW_OK;
}

klaw_status klaw_channel_readers(klaw_channel *ch, klaw_reader_info *out, size_t cap, size_t *n)
{
    *n = 0;
    if (ch->kind != KLAW_CHANNEL_BROADCAST)
        return KLAW_OK; /* no registry: mpmc receivers compete anonymously */
    klaw_reader_snapshot *snap;
    uint64_t tail;
    klaw_status st = klaw__bcast_inspect_readers(ch->region, &snap, &tail);
    if (st != KLAW_OK)
        return st;
    /* the records' strings live in the snapshot: keep it until the next
     * call or close */
    klaw_reader_snapshot_free(ch->readers);
    ch->readers = snap;
    ch->readers_tail = tail;
    *n = snap->count;
    for (size_t i = 0; i < snap->count && i < cap; i++)
        out[i] = snap->readers[i];
    return KLAW_OK;
}

size_t klaw_channel_reader_lags(const klaw_channel *ch, uint64_t *lag, size_t cap)
{
    const klaw_reader_snapshot *snap = ch->readers;
    if (!snap)
        return 0;
    for (size_t i = 0; i < snap->count && i < cap; i++) {
        uint64_t c = snap->cursors[i];
        /* a cursor past the tail is a lie of the region's: shown as 0 */
        lag[i] = c < ch->readers_tail ? ch->readers_tail - c : 0;
    }
    return snap->count;
}

/* ---- records as JSON ------------------------------------------------------------ */

klaw_status klaw_record_json(klaw_record which, const void *rec, klaw_json_write_fn fn, void *ctx)
{
    const klaw_schema *s = klaw_record_schema(which);
    if (!s)
        return KLAW_INVAL;
    uint8_t stack[1024];
    uint8_t *buf = stack;
    size_t cap = sizeof stack;
    klaw_status st;
    for (;;) {
        klaw_mp_writer w;
        klaw_mp_writer_init(&w, buf, cap);
        st = klaw_schema_encode(s, rec, &w);
        if (st == KLAW_TOOBIG && buf == stack) {
            cap = klaw_mp_writer_needed(&w);
            buf = malloc(cap);
            if (!buf)
                return KLAW_NOMEM;
            continue;
        }
        if (st != KLAW_OK)
            break;
        klaw_mp_reader r;
        klaw_mp_reader_init(&r, buf, klaw_mp_writer_len(&w));
        st = klaw_json_from_mp(&r, fn, ctx);
        /* a Raw field (backend_extras) is written unchecked: a record that
         * does not read back is the caller's bad value */
        if (st == KLAW_DECODE || st == KLAW_VALIDATE)
            st = KLAW_INVAL;
        break;
    }
    if (buf != stack)
        free(buf);
    return st;
}

/* ---- listing ---------------------------------------------------------------------- */

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

klaw_status klaw_channel_list(klaw_channel_list_fn fn, void *ctx)
{
    DIR *d = opendir(SHM_DIR);
    if (!d)
        return KLAW_SYS;
    char **names = NULL;
    size_t n = 0, cap = 0;
    klaw_status st = KLAW_OK;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (!e) {
            if (errno)
                st = KLAW_SYS;
            break;
        }
        if (strncmp(e->d_name, SHM_PREFIX, sizeof SHM_PREFIX - 1) != 0)
            continue;
        const char *nm = e->d_name + sizeof SHM_PREFIX - 1;
        if (!klaw_region_name_ok(nm) || (e->d_type != DT_REG && e->d_type != DT_UNKNOWN))
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **p = realloc(names, ncap * sizeof *p);
            if (!p) {
                st = KLAW_NOMEM;
                break;
            }
            names = p;
            cap = ncap;
        }
        if (!(names[n] = strdup(nm))) {
            st = KLAW_NOMEM;
            break;
        }
        n++;
    }
    int e = errno;
    closedir(d);
    if (st == KLAW_OK) {
        if (n > 1)
            qsort(names, n, sizeof *names, cmp_names);
        for (size_t i = 0; i < n && st == KLAW_OK; i++)
            st = fn(ctx, names[i]);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (st == KLAW_SYS)
        errno = e;
    return st;
}
