/*
 * envelope.c - klaw-core's wire v1 envelope: view, validate, write, JSON
 * (see klaw/envelope.h for the wire and every policy).
 *
 * Reading is one function, parse(), used three ways: lazy (the view: a
 * 3-element DataMessage's payload is the rest of the frame, unlooked at),
 * strict (validate, read: the payload is walked like any Raw field). The
 * hot path is the inline typed reads of mp_reader.h; any failure goes to
 * fault(), out of line, which works out from the reader's error (or by
 * reading the value again) what msgspec would say about it.
 */
#include <stdio.h>
#include <string.h>

#include "klaw/envelope.h"
#include "schema_impl.h" /* ks_wire_type_name */

/* ---- the layout ------------------------------------------------------------ */

/* Elements of each type's array, tag included: all fields, and the fields
 * without a default (msgspec's nrequired). */
static const uint8_t full_len[6] = {0, 3, 4, 3, 4, 5};
static const uint8_t min_len[6] = {0, 3, 3, 2, 2, 2};

/* Defaults: static storage, never inside a frame. */
static const uint8_t nil_byte[1] = {0xc0};
static const char empty_str[1] = "";
static const char ok_str[3] = "ok";

#define HEADER_FIELDS 5u

/* What a field must be; decides what fault() says about a bad value. */
typedef enum want {
    W_ARRAY,  /* the envelope, the header      */
    W_TAG,    /* int 1..5, "Invalid value"     */
    W_KIND,   /* int 1..5, "Invalid enum value" */
    W_U32,    /* int 0..UINT32_MAX             */
    W_U64,    /* int >= 0                      */
    W_I64,    /* int <= INT64_MAX              */
    W_STR,
} want; /* (Raw fields and ignored extra elements fail only with DECODE) */

/* ---- errors (cold) ----------------------------------------------------------- */

static void err_init(klaw_envelope_error *e)
{
    memset(e, 0, sizeof *e);
    e->expected = KLAW_MP_NONE;
    e->got = KLAW_MP_NONE;
}

static void err_path(klaw_envelope_error *e, int p0, int p1)
{
    e->depth = p0 < 0 ? 0 : p1 < 0 ? 1 : 2;
    e->path[0] = p0 < 0 ? 0 : (uint32_t)p0;
    e->path[1] = p1 < 0 ? 0 : (uint32_t)p1;
}

static klaw_status set_fault(klaw_envelope_error *e, klaw_status st, klaw_envelope_fault f, size_t offset,
                             const char *reason, int p0, int p1)
{
    e->status = st;
    e->fault = f;
    e->offset = offset;
    e->reason = reason;
    err_path(e, p0, p1);
    return st;
}

static void set_int(klaw_envelope_error *e, const klaw_mp_item *it)
{
    if (it->type == KLAW_MP_INT) {
        e->negative = true;
        e->value = 0 - (uint64_t)it->v.i; /* magnitude, INT64_MIN included */
    } else {
        e->negative = false;
        e->value = it->v.u;
    }
}

/* The reader's error, as it is. */
KLAW_COLD static klaw_status reader_fault(const klaw_mp_reader *r, klaw_envelope_error *e, int p0, int p1)
{
    err_init(e);
    set_fault(e, r->err.status, KLAW_ENV_FAULT_READER, r->err.offset,
              r->err.reason ? r->err.reason : "malformed", p0, p1);
    e->expected = r->err.expected;
    e->got = r->err.got;
    return e->status;
}

/* A read of the value at `at` (a field wanting w, at path p0/p1) failed, or
 * read a value outside the field's domain: say why as msgspec would. A
 * malformed value keeps the reader's error; anything else is read again
 * from `at` with a fresh reader to find its type and value. */
KLAW_COLD static klaw_status fault(const klaw_mp_reader *r, klaw_envelope_error *e, const uint8_t *at, want w,
                                   int p0, int p1)
{
    if (r->err.status == KLAW_DECODE)
        return reader_fault(r, e, p0, p1);
    err_init(e);
    klaw_mp_reader again;
    klaw_mp_item it;
    klaw_mp_reader_init(&again, r->start, (size_t)(r->end - r->start));
    again.pos = at;
    again.flags = r->flags;
    if (klaw_mp_read(&again, &it) != KLAW_OK)
        return reader_fault(&again, e, p0, p1);
    size_t off = (size_t)(at - r->start);
    bool is_int = it.type == KLAW_MP_UINT || it.type == KLAW_MP_INT;
    if (is_int && (w == W_TAG || w == W_KIND)) {
        set_int(e, &it);
        return set_fault(e, KLAW_VALIDATE, w == W_TAG ? KLAW_ENV_FAULT_TAG : KLAW_ENV_FAULT_KIND, off,
                         w == W_TAG ? "invalid tag" : "invalid kind", p0, p1);
    }
    if (is_int && (w == W_U32 || w == W_U64) && it.type == KLAW_MP_INT) {
        set_int(e, &it);
        e->limit = 0;
        return set_fault(e, KLAW_VALIDATE, KLAW_ENV_FAULT_MIN, off, "integer out of range", p0, p1);
    }
    if (is_int && (w == W_U32 || w == W_I64)) {
        set_int(e, &it);
        e->limit = w == W_U32 ? UINT32_MAX : (uint64_t)INT64_MAX;
        return set_fault(e, KLAW_VALIDATE, KLAW_ENV_FAULT_MAX, off, "integer out of range", p0, p1);
    }
    switch (w) {
    case W_ARRAY: e->expected = KLAW_MP_ARRAY; break;
    case W_STR: e->expected = KLAW_MP_STR; break;
    default: e->expected = KLAW_MP_UINT; break;
    }
    e->got = it.type;
    return set_fault(e, KLAW_VALIDATE, KLAW_ENV_FAULT_TYPE, off, "wrong type", p0, p1);
}

KLAW_COLD static klaw_status too_short(const klaw_mp_reader *r, klaw_envelope_error *e, const uint8_t *at,
                                       uint32_t need, uint32_t got)
{
    err_init(e);
    e->limit = need;
    e->value = got;
    return set_fault(e, KLAW_VALIDATE, KLAW_ENV_FAULT_TOO_SHORT, (size_t)(at - r->start), "array too short", -1,
                     -1);
}

KLAW_COLD static klaw_status mismatch(const klaw_mp_reader *r, klaw_envelope_error *e, const uint8_t *at,
                                      bool kind_present, uint64_t kind, uint64_t tag)
{
    err_init(e);
    e->value = kind;
    e->limit = tag;
    return set_fault(e, KLAW_VALIDATE, KLAW_ENV_FAULT_MISMATCH, (size_t)(at - r->start),
                     "header kind does not match tag", 1, kind_present ? 1 : -1);
}

/* ---- reading --------------------------------------------------------------- */

static inline void str_default(klaw_str *s, const char *lit, uint32_t len)
{
    s->ptr = lit;
    s->len = len;
}

static inline void raw_default(klaw_mp_raw *raw)
{
    raw->ptr = nil_byte;
    raw->len = 1;
}

/* Reads the str at path p0 (p1) into *s; KLAW_OK or the fault. */
static inline klaw_status read_str_field(klaw_mp_reader *r, klaw_envelope_error *e, klaw_str *s, int p0, int p1)
{
    const uint8_t *at = r->pos;
    if (KLAW_UNLIKELY(klaw_mp_read_str(r, &s->ptr, &s->len) != KLAW_OK))
        return fault(r, e, at, W_STR, p0, p1);
    return KLAW_OK;
}

static inline klaw_status read_raw_field(klaw_mp_reader *r, klaw_envelope_error *e, klaw_mp_raw *raw, int p0)
{
    if (KLAW_UNLIKELY(klaw_mp_read_raw(r, raw) != KLAW_OK))
        return reader_fault(r, e, p0, -1);
    return KLAW_OK;
}

/* Skips elements [from, n) of the array at path p0 (-1: the envelope). */
static klaw_status skip_extra(klaw_mp_reader *r, klaw_envelope_error *e, uint32_t from, uint32_t n, int p0)
{
    for (uint32_t i = from; i < n; i++) {
        if (KLAW_UNLIKELY(klaw_mp_skip(r) != KLAW_OK))
            return p0 < 0 ? reader_fault(r, e, (int)i, -1) : reader_fault(r, e, p0, (int)i);
    }
    return KLAW_OK;
}

/* The header, at $[1]; then the tag/kind check. */
static inline klaw_status read_header(klaw_mp_reader *r, klaw_envelope_error *e, klaw_envelope_header *h,
                                      uint64_t tag)
{
    const uint8_t *at = r->pos, *kind_at = at;
    uint32_t n;
    uint64_t u;
    if (KLAW_UNLIKELY(klaw_mp_read_array(r, &n) != KLAW_OK))
        return fault(r, e, at, W_ARRAY, 1, -1);
    h->version = KLAW_WIRE_VERSION;
    h->kind = KLAW_ENV_DATA;
    str_default(&h->channel_id, empty_str, 0);
    h->seq = 0;
    h->ts_ms = 0;
    if (n > 0) {
        at = r->pos;
        if (KLAW_UNLIKELY(klaw_mp_read_uint(r, &u) != KLAW_OK || u > UINT32_MAX))
            return fault(r, e, at, W_U32, 1, 0);
        h->version = (uint32_t)u;
    }
    if (n > 1) {
        kind_at = r->pos;
        if (KLAW_UNLIKELY(klaw_mp_read_uint(r, &u) != KLAW_OK || u < 1 || u > 5))
            return fault(r, e, kind_at, W_KIND, 1, 1);
        h->kind = (klaw_envelope_type)u;
    }
    if (n > 2 && read_str_field(r, e, &h->channel_id, 1, 2) != KLAW_OK)
        return e->status;
    if (n > 3) {
        at = r->pos;
        if (KLAW_UNLIKELY(klaw_mp_read_uint(r, &h->seq) != KLAW_OK))
            return fault(r, e, at, W_U64, 1, 3);
    }
    if (n > 4) {
        at = r->pos;
        if (KLAW_UNLIKELY(klaw_mp_read_int(r, &h->ts_ms) != KLAW_OK))
            return fault(r, e, at, W_I64, 1, 4);
    }
    if (KLAW_UNLIKELY(n > HEADER_FIELDS) && skip_extra(r, e, HEADER_FIELDS, n, 1) != KLAW_OK)
        return e->status;
    if (KLAW_UNLIKELY((uint64_t)h->kind != tag))
        return mismatch(r, e, kind_at, n > 1, (uint64_t)h->kind, tag);
    return KLAW_OK;
}

/* One envelope at r's position. lazy: a 3-element DataMessage's payload is
 * the rest of the buffer, unread. Leaves r past the envelope (at the end
 * of the buffer in the lazy DataMessage case). */
static klaw_status parse(klaw_mp_reader *r, klaw_envelope *out, klaw_envelope_error *e, bool lazy)
{
    const uint8_t *at = r->pos;
    uint32_t n;
    uint64_t tag;
    out->origin = r->start;
    if (KLAW_UNLIKELY(klaw_mp_read_array(r, &n) != KLAW_OK))
        return fault(r, e, at, W_ARRAY, -1, -1);
    if (KLAW_UNLIKELY(n == 0))
        return too_short(r, e, at, 1, 0);
    const uint8_t *tag_at = r->pos;
    if (KLAW_UNLIKELY(klaw_mp_read_uint(r, &tag) != KLAW_OK || tag < 1 || tag > 5))
        return fault(r, e, tag_at, W_TAG, 0, -1);
    if (KLAW_UNLIKELY(n < min_len[tag]))
        return too_short(r, e, at, min_len[tag], n);
    out->type = (klaw_envelope_type)tag;
    if (read_header(r, e, &out->header, tag) != KLAW_OK)
        return e->status;

    switch (out->type) {
    case KLAW_ENV_DATA:
        if (lazy && n == 3) {
            /* the constant-time path: the payload is the rest, unread */
            if (KLAW_UNLIKELY(klaw_mp_read_rest(r, &out->data.payload) != KLAW_OK))
                return reader_fault(r, e, 2, -1);
            return KLAW_OK;
        }
        if (read_raw_field(r, e, &out->data.payload, 2) != KLAW_OK)
            return e->status;
        break;
    case KLAW_ENV_CONTROL:
        raw_default(&out->control.metadata);
        if (read_str_field(r, e, &out->control.action, 2, -1) != KLAW_OK)
            return e->status;
        if (n > 3 && read_raw_field(r, e, &out->control.metadata, 3) != KLAW_OK)
            return e->status;
        break;
    case KLAW_ENV_HEARTBEAT:
        str_default(&out->heartbeat.sender_id, empty_str, 0);
        if (n > 2 && read_str_field(r, e, &out->heartbeat.sender_id, 2, -1) != KLAW_OK)
            return e->status;
        break;
    case KLAW_ENV_ACK:
        out->ack.acked_seq = 0;
        str_default(&out->ack.status, ok_str, 2);
        if (n > 2) {
            at = r->pos;
            if (KLAW_UNLIKELY(klaw_mp_read_uint(r, &out->ack.acked_seq) != KLAW_OK))
                return fault(r, e, at, W_U64, 2, -1);
        }
        if (n > 3 && read_str_field(r, e, &out->ack.status, 3, -1) != KLAW_OK)
            return e->status;
        break;
    case KLAW_ENV_ERROR:
        str_default(&out->error.code, empty_str, 0);
        str_default(&out->error.message, empty_str, 0);
        raw_default(&out->error.details);
        if (n > 2 && read_str_field(r, e, &out->error.code, 2, -1) != KLAW_OK)
            return e->status;
        if (n > 3 && read_str_field(r, e, &out->error.message, 3, -1) != KLAW_OK)
            return e->status;
        if (n > 4 && read_raw_field(r, e, &out->error.details, 4) != KLAW_OK)
            return e->status;
        break;
    }
    if (KLAW_UNLIKELY(n > full_len[tag]) && skip_extra(r, e, full_len[tag], n, -1) != KLAW_OK)
        return e->status;
    return KLAW_OK;
}

static klaw_status finish(klaw_mp_reader *r, klaw_envelope_error *e)
{
    if (KLAW_UNLIKELY(klaw_mp_reader_finish(r) != KLAW_OK))
        return reader_fault(r, e, -1, -1);
    return KLAW_OK;
}

klaw_status klaw_envelope_view(const void *frame, size_t len, klaw_envelope *out, klaw_envelope_error *err)
{
    klaw_mp_reader r;
    klaw_envelope_error scratch;
    klaw_envelope_error *e = err ? err : &scratch;
    klaw_mp_reader_init(&r, frame, len);
    e->status = KLAW_OK;
    e->fault = KLAW_ENV_FAULT_NONE;
    klaw_status st = parse(&r, out, e, true);
    if (st == KLAW_OK)
        st = finish(&r, e); /* a no-op after the lazy payload: r is at the end */
    return st;
}

klaw_status klaw_envelope_validate(const void *frame, size_t len, klaw_envelope *out, klaw_envelope_error *err)
{
    klaw_mp_reader r;
    klaw_envelope scratch_env;
    klaw_envelope_error scratch;
    klaw_envelope_error *e = err ? err : &scratch;
    klaw_mp_reader_init(&r, frame, len);
    e->status = KLAW_OK;
    e->fault = KLAW_ENV_FAULT_NONE;
    klaw_status st = parse(&r, out ? out : &scratch_env, e, false);
    if (st == KLAW_OK)
        st = finish(&r, e);
    return st;
}

klaw_status klaw_envelope_read(klaw_mp_reader *r, klaw_envelope *out, klaw_envelope_error *err)
{
    klaw_envelope_error scratch;
    klaw_envelope_error *e = err ? err : &scratch;
    e->status = KLAW_OK;
    e->fault = KLAW_ENV_FAULT_NONE;
    if (KLAW_UNLIKELY(r->err.status != KLAW_OK))
        return reader_fault(r, e, -1, -1);
    return parse(r, out, e, false);
}

/* ---- writing ----------------------------------------------------------------- */

static inline void write_header(klaw_mp_writer *w, const klaw_envelope_header *h, klaw_envelope_type type)
{
    if (KLAW_UNLIKELY(h->kind != 0 && h->kind != type))
        klaw_mp_writer_inval_(w);
    klaw_mp_write_array(w, HEADER_FIELDS);
    klaw_mp_write_uint(w, h->version);
    klaw_mp_write_uint(w, (uint64_t)type);
    klaw_mp_write_str(w, h->channel_id.ptr, h->channel_id.len);
    klaw_mp_write_uint(w, h->seq);
    klaw_mp_write_int(w, h->ts_ms);
}

/* [tag, header, ... the array and the first two elements. */
static inline void write_start(klaw_mp_writer *w, const klaw_envelope_header *h, klaw_envelope_type type)
{
    klaw_mp_write_array(w, full_len[type]);
    klaw_mp_write_uint(w, (uint64_t)type);
    write_header(w, h, type);
}

static inline void write_raw(klaw_mp_writer *w, klaw_mp_raw raw)
{
    if (raw.len == 0)
        klaw_mp_write_nil(w);
    else
        klaw_mp_write_bytes(w, raw.ptr, raw.len);
}

void klaw_envelope_begin_data(klaw_mp_writer *w, const klaw_envelope_header *h)
{
    write_start(w, h, KLAW_ENV_DATA);
}

void klaw_envelope_write_data(klaw_mp_writer *w, const klaw_envelope_header *h, klaw_mp_raw payload)
{
    write_start(w, h, KLAW_ENV_DATA);
    write_raw(w, payload);
}

void klaw_envelope_write_control(klaw_mp_writer *w, const klaw_envelope_header *h, const char *action,
                                 size_t action_len, klaw_mp_raw metadata)
{
    write_start(w, h, KLAW_ENV_CONTROL);
    klaw_mp_write_str(w, action, action_len);
    write_raw(w, metadata);
}

void klaw_envelope_write_heartbeat(klaw_mp_writer *w, const klaw_envelope_header *h, const char *sender_id,
                                   size_t sender_id_len)
{
    write_start(w, h, KLAW_ENV_HEARTBEAT);
    klaw_mp_write_str(w, sender_id, sender_id_len);
}

void klaw_envelope_write_ack(klaw_mp_writer *w, const klaw_envelope_header *h, uint64_t acked_seq,
                             const char *status, size_t status_len)
{
    write_start(w, h, KLAW_ENV_ACK);
    klaw_mp_write_uint(w, acked_seq);
    klaw_mp_write_str(w, status, status_len);
}

void klaw_envelope_write_error(klaw_mp_writer *w, const klaw_envelope_header *h, const char *code,
                               size_t code_len, const char *message, size_t message_len, klaw_mp_raw details)
{
    write_start(w, h, KLAW_ENV_ERROR);
    klaw_mp_write_str(w, code, code_len);
    klaw_mp_write_str(w, message, message_len);
    write_raw(w, details);
}

void klaw_envelope_write(klaw_mp_writer *w, const klaw_envelope *env)
{
    const klaw_envelope_header *h = &env->header;
    switch (env->type) {
    case KLAW_ENV_DATA: klaw_envelope_write_data(w, h, env->data.payload); break;
    case KLAW_ENV_CONTROL:
        klaw_envelope_write_control(w, h, env->control.action.ptr, env->control.action.len, env->control.metadata);
        break;
    case KLAW_ENV_HEARTBEAT:
        klaw_envelope_write_heartbeat(w, h, env->heartbeat.sender_id.ptr, env->heartbeat.sender_id.len);
        break;
    case KLAW_ENV_ACK:
        klaw_envelope_write_ack(w, h, env->ack.acked_seq, env->ack.status.ptr, env->ack.status.len);
        break;
    case KLAW_ENV_ERROR:
        klaw_envelope_write_error(w, h, env->error.code.ptr, env->error.code.len, env->error.message.ptr,
                                  env->error.message.len, env->error.details);
        break;
    default: klaw_mp_writer_inval_(w); break;
    }
}

/* ---- JSON ---------------------------------------------------------------------- */

typedef struct jctx {
    klaw_json_write_fn fn;
    void *ctx;
    klaw_status st;
} jctx;

static void jput(jctx *j, const char *s, size_t n)
{
    if (j->st == KLAW_OK && n)
        j->st = j->fn(j->ctx, s, n);
}

static void jputs(jctx *j, const char *s) { jput(j, s, strlen(s)); }

/* A JSON string, escaped as json.h says klaw_json_from_mp() escapes a str:
 * '"' and '\' escaped, control characters as \b \f \n \r \t or \u00XX,
 * everything else passed through. Runs of plain bytes go out in one call. */
static void jstr(jctx *j, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;
    jput(j, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[6];
        size_t elen = 2;
        esc[0] = '\\';
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            if (c >= 0x20)
                continue;
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            elen = 6;
            break;
        }
        jput(j, s + run, i - run);
        jput(j, esc, elen);
        run = i + 1;
    }
    jput(j, s + run, n - run);
    jput(j, "\"", 1);
}

static void jkey(jctx *j, const char *key)
{
    jputs(j, ",\"");
    jputs(j, key);
    jputs(j, "\":");
}

static void juint(jctx *j, uint64_t v)
{
    char b[24];
    int n = snprintf(b, sizeof b, "%llu", (unsigned long long)v);
    jput(j, b, (size_t)n);
}

static void jint(jctx *j, int64_t v)
{
    char b[24];
    int n = snprintf(b, sizeof b, "%lld", (long long)v);
    jput(j, b, (size_t)n);
}

/* A Raw field as JSON: exactly one valid value filling raw (checked here:
 * the payload of a lazy view was never looked at). */
static klaw_status jraw(jctx *j, const klaw_envelope *env, klaw_mp_raw raw, int p0, klaw_envelope_error *e)
{
    klaw_mp_reader r;
    if (j->st != KLAW_OK)
        return j->st;
    if (raw.len == 0 || raw.ptr == nil_byte) {
        /* absent (the writers' convention) or the static default */
        jput(j, "null", 4);
        return j->st;
    }
    /* offsets count from the origin (when the span lies after it); the
     * reader may not look outside the span */
    const uint8_t *origin = raw.ptr;
    if (env->origin && (uintptr_t)env->origin <= (uintptr_t)raw.ptr)
        origin = env->origin;
    klaw_mp_reader_init(&r, origin, (size_t)(raw.ptr - origin) + raw.len);
    r.pos = raw.ptr;
    klaw_status st = klaw_json_from_mp(&r, j->fn, j->ctx);
    if (st == KLAW_OK)
        st = klaw_mp_reader_finish(&r);
    if (st == KLAW_OK)
        return KLAW_OK;
    if (st == KLAW_VALIDATE) {
        /* map keys too deep for JSON - unless the span is malformed after
         * all (trailing bytes of a lazy payload): that is reported first,
         * as validate reports it */
        klaw_mp_reader v;
        klaw_mp_reader_init(&v, origin, (size_t)(raw.ptr - origin) + raw.len);
        v.pos = raw.ptr;
        klaw_mp_skip(&v);
        if (klaw_mp_reader_finish(&v) == KLAW_DECODE)
            return reader_fault(&v, e, p0, -1);
    }
    if (r.err.status != KLAW_OK)
        return reader_fault(&r, e, p0, -1);
    j->st = st;
    return st;
}

klaw_status klaw_envelope_to_json(const klaw_envelope *env, klaw_json_write_fn fn, void *ctx,
                                  klaw_envelope_error *err)
{
    klaw_envelope_error scratch;
    klaw_envelope_error *e = err ? err : &scratch;
    jctx j = {fn, ctx, KLAW_OK};
    const klaw_envelope_header *h = &env->header;
    klaw_status st = KLAW_OK;
    err_init(e);
    if (env->type < KLAW_ENV_DATA || env->type > KLAW_ENV_ERROR)
        return set_fault(e, KLAW_INVAL, KLAW_ENV_FAULT_OUTPUT, 0, "invalid envelope type", -1, -1);

    jputs(&j, "{\"type\":\"");
    jputs(&j, klaw_envelope_type_name(env->type));
    jputs(&j, "\",\"header\":{\"version\":");
    juint(&j, h->version);
    jkey(&j, "kind");
    juint(&j, (uint64_t)h->kind);
    jkey(&j, "channel_id");
    jstr(&j, h->channel_id.ptr, h->channel_id.len);
    jkey(&j, "seq");
    juint(&j, h->seq);
    jkey(&j, "ts_ms");
    jint(&j, h->ts_ms);
    jput(&j, "}", 1);
    switch (env->type) {
    case KLAW_ENV_DATA:
        jkey(&j, "payload");
        st = jraw(&j, env, env->data.payload, 2, e);
        break;
    case KLAW_ENV_CONTROL:
        jkey(&j, "action");
        jstr(&j, env->control.action.ptr, env->control.action.len);
        jkey(&j, "metadata");
        st = jraw(&j, env, env->control.metadata, 3, e);
        break;
    case KLAW_ENV_HEARTBEAT:
        jkey(&j, "sender_id");
        jstr(&j, env->heartbeat.sender_id.ptr, env->heartbeat.sender_id.len);
        break;
    case KLAW_ENV_ACK:
        jkey(&j, "acked_seq");
        juint(&j, env->ack.acked_seq);
        jkey(&j, "status");
        jstr(&j, env->ack.status.ptr, env->ack.status.len);
        break;
    case KLAW_ENV_ERROR:
        jkey(&j, "code");
        jstr(&j, env->error.code.ptr, env->error.code.len);
        jkey(&j, "message");
        jstr(&j, env->error.message.ptr, env->error.message.len);
        jkey(&j, "details");
        st = jraw(&j, env, env->error.details, 4, e);
        break;
    }
    if (st == KLAW_OK)
        jput(&j, "}", 1);
    if (st == KLAW_OK && j.st != KLAW_OK)
        st = j.st;
    if (st != KLAW_OK && e->status == KLAW_OK)
        set_fault(e, st, KLAW_ENV_FAULT_OUTPUT, 0, "output failed", -1, -1);
    return st;
}

/* ---- names and messages ----------------------------------------------------------- */

const char *klaw_envelope_type_name(klaw_envelope_type t)
{
    switch (t) {
    case KLAW_ENV_DATA: return "data";
    case KLAW_ENV_CONTROL: return "control";
    case KLAW_ENV_HEARTBEAT: return "heartbeat";
    case KLAW_ENV_ACK: return "ack";
    case KLAW_ENV_ERROR: return "error";
    default: return "unknown";
    }
}

int klaw_envelope_error_path(const klaw_envelope_error *err, char *buf, size_t size)
{
    if (err->depth == 0)
        return snprintf(buf, size, "$");
    if (err->depth == 1)
        return snprintf(buf, size, "$[%u]", (unsigned)err->path[0]);
    return snprintf(buf, size, "$[%u][%u]", (unsigned)err->path[0], (unsigned)err->path[1]);
}

int klaw_envelope_error_format(const klaw_envelope_error *err, char *buf, size_t size)
{
    char msg[160], path[32];
    const char *sign = err->negative ? "-" : "";
    unsigned long long v = (unsigned long long)err->value, lim = (unsigned long long)err->limit;
    if (err->status == KLAW_OK)
        return snprintf(buf, size, "no error");
    if (err->status == KLAW_DECODE)
        return snprintf(buf, size, "decode error at byte %zu: %s", err->offset, err->reason);
    if (err->status != KLAW_VALIDATE)
        return snprintf(buf, size, "%s", klaw_strerror(err->status));
    switch (err->fault) {
    case KLAW_ENV_FAULT_TYPE:
        snprintf(msg, sizeof msg, "Expected `%s`, got `%s`", ks_wire_type_name(err->expected),
                 ks_wire_type_name(err->got));
        break;
    case KLAW_ENV_FAULT_TOO_SHORT:
        snprintf(msg, sizeof msg, "Expected `array` of at least length %llu, got %llu", lim, v);
        break;
    case KLAW_ENV_FAULT_TAG: snprintf(msg, sizeof msg, "Invalid value %s%llu", sign, v); break;
    case KLAW_ENV_FAULT_KIND: snprintf(msg, sizeof msg, "Invalid enum value %s%llu", sign, v); break;
    case KLAW_ENV_FAULT_MIN: snprintf(msg, sizeof msg, "Expected `int` >= %llu", lim); break;
    case KLAW_ENV_FAULT_MAX: snprintf(msg, sizeof msg, "Expected `int` <= %llu", lim); break;
    case KLAW_ENV_FAULT_MISMATCH:
        snprintf(msg, sizeof msg, "Header kind %llu (%s) does not match tag %llu (%s)", v,
                 klaw_envelope_type_name((klaw_envelope_type)err->value), lim,
                 klaw_envelope_type_name((klaw_envelope_type)err->limit));
        break;
    default: snprintf(msg, sizeof msg, "%s", err->reason ? err->reason : "invalid"); break;
    }
    klaw_envelope_error_path(err, path, sizeof path);
    return snprintf(buf, size, "validation error at byte %zu: %s - at `%s`", err->offset, msg, path);
}
