/*
 * records.c - klaw-core's records as descriptor tables (see klaw/records.h).
 * The tables follow klaw-core's field order; klaw's additions to
 * ChannelMetadata come last and are omitted from the encoding while they
 * hold their defaults.
 */
#include <pthread.h>

#include "klaw/records.h"

/* ---- ChannelMetadata ------------------------------------------------------- */

static const klaw_enum_entry channel_types[] = {
    {KLAW_CHANNEL_MPMC, "mpmc", 0},
    {KLAW_CHANNEL_BROADCAST, "broadcast", 0},
    {KLAW_CHANNEL_WATCH, "watch", 0},
    {KLAW_CHANNEL_ONESHOT, "oneshot", 0},
};
static const klaw_enum_desc channel_type_enum = {
    .name = "ChannelType", .entries = channel_types, .count = 4, .wire = KLAW_ENUM_STR};

const char *klaw_channel_type_name(int type)
{
    for (size_t i = 0; i < sizeof channel_types / sizeof channel_types[0]; i++)
        if (channel_types[i].value == type)
            return channel_types[i].str;
    return "unknown";
}

static const klaw_enum_entry policies[] = {
    {KLAW_POLICY_NONE, "none", 0},
    {KLAW_POLICY_OVERWRITE, "overwrite", 0},
    {KLAW_POLICY_BLOCK, "block", 0},
};
static const klaw_enum_desc policy_enum = {.name = "Policy", .entries = policies, .count = 3, .wire = KLAW_ENUM_STR};

#define OURS (KLAW_F_DEFAULT | KLAW_F_OMIT_DEFAULT)

static const klaw_field metadata_fields[] = {
    {KLAW_FIELD(klaw_channel_metadata, channel_type, KLAW_K_ENUM), .enm = &channel_type_enum},
    {KLAW_FIELD(klaw_channel_metadata, capacity, KLAW_K_I64), .flags = KLAW_F_NULLABLE,
     .present = KLAW_PRESENT(klaw_channel_metadata, has_capacity)},
    {KLAW_FIELD(klaw_channel_metadata, unbounded, KLAW_K_BOOL)},
    {KLAW_FIELD(klaw_channel_metadata, value_type, KLAW_K_STR), .flags = KLAW_F_OPTIONAL,
     .present = KLAW_PRESENT(klaw_channel_metadata, has_value_type)},
    {KLAW_FIELD(klaw_channel_metadata, max_frame, KLAW_K_U32), .flags = OURS},
    {KLAW_FIELD(klaw_channel_metadata, policy, KLAW_K_ENUM), .enm = &policy_enum, .flags = OURS,
     .def = {.i = KLAW_POLICY_NONE}},
    {KLAW_FIELD(klaw_channel_metadata, name, KLAW_K_STR), .flags = OURS, .def = KLAW_DEF_STR("")},
    {KLAW_FIELD(klaw_channel_metadata, created_at, KLAW_K_TIMESTAMP), .flags = OURS},
    {KLAW_FIELD(klaw_channel_metadata, creator, KLAW_K_STR), .flags = OURS, .def = KLAW_DEF_STR("")},
};
static const klaw_struct_desc metadata_desc = {
    .name = "ChannelMetadata", .size = sizeof(klaw_channel_metadata), KLAW_FIELDS(metadata_fields)};

/* ---- ReaderInfo -------------------------------------------------------------- */

static const klaw_field reader_fields[] = {
    {KLAW_FIELD(klaw_reader_info, reader_id, KLAW_K_STR)},
    {KLAW_FIELD(klaw_reader_info, node_id, KLAW_K_STR)},
    {KLAW_FIELD(klaw_reader_info, registered_at, KLAW_K_TIMESTAMP)},
    {KLAW_FIELD(klaw_reader_info, last_seen_at, KLAW_K_TIMESTAMP)},
    {KLAW_FIELD(klaw_reader_info, total_received, KLAW_K_I64)},
};
static const klaw_struct_desc reader_desc = {
    .name = "ReaderInfo", .size = sizeof(klaw_reader_info), KLAW_FIELDS(reader_fields)};

/* ---- ChannelStats --------------------------------------------------------------- */

static const klaw_field stats_fields[] = {
    {KLAW_FIELD(klaw_channel_stats, sender_count, KLAW_K_I64)},
    {KLAW_FIELD(klaw_channel_stats, receiver_count, KLAW_K_I64)},
    {KLAW_FIELD(klaw_channel_stats, queue_size, KLAW_K_I64)},
    {KLAW_FIELD(klaw_channel_stats, capacity, KLAW_K_I64), .flags = KLAW_F_NULLABLE,
     .present = KLAW_PRESENT(klaw_channel_stats, has_capacity)},
    {KLAW_FIELD(klaw_channel_stats, senders_closed, KLAW_K_BOOL)},
    {KLAW_FIELD(klaw_channel_stats, receivers_closed, KLAW_K_BOOL)},
    {KLAW_FIELD(klaw_channel_stats, created_at, KLAW_K_TIMESTAMP)},
    {KLAW_FIELD(klaw_channel_stats, high_watermark, KLAW_K_I64)},
    {KLAW_FIELD(klaw_channel_stats, total_sent, KLAW_K_I64)},
    {KLAW_FIELD(klaw_channel_stats, total_received, KLAW_K_I64)},
    /* dict[str, Any] | None = None, kept verbatim (an empty raw is None) */
    {KLAW_FIELD(klaw_channel_stats, backend_extras, KLAW_K_RAW), .flags = KLAW_F_DEFAULT},
};
static const klaw_struct_desc stats_desc = {
    .name = "ChannelStats", .size = sizeof(klaw_channel_stats), KLAW_FIELDS(stats_fields)};

/* ---- SingleResult / BatchResult ------------------------------------------------- */

static const klaw_field single_fields[] = {
    {KLAW_FIELD(klaw_single_result, status, KLAW_K_STR)},
    {KLAW_FIELD(klaw_single_result, value, KLAW_K_RAW), .flags = KLAW_F_DEFAULT},
};
static const klaw_struct_desc single_desc = {
    .name = "SingleResult", .size = sizeof(klaw_single_result), KLAW_FIELDS(single_fields)};

static const klaw_field raw_item = {KLAW_ELEM(klaw_mp_raw, KLAW_K_RAW)};
static const klaw_field batch_fields[] = {
    {KLAW_FIELD(klaw_batch_result, status, KLAW_K_STR)},
    {KLAW_FIELD(klaw_batch_result, items, KLAW_K_ARRAY), .flags = KLAW_F_DEFAULT, .elem = &raw_item},
};
static const klaw_struct_desc batch_desc = {
    .name = "BatchResult", .size = sizeof(klaw_batch_result), KLAW_FIELDS(batch_fields)};

/* ---- compiled once --------------------------------------------------------------- */

static const klaw_struct_desc *const descs[KLAW_RECORD_COUNT_] = {
    &metadata_desc, &reader_desc, &stats_desc, &single_desc, &batch_desc,
};
static klaw_schema *schemas[KLAW_RECORD_COUNT_];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void compile_all(void)
{
    for (int i = 0; i < KLAW_RECORD_COUNT_; i++)
        if (klaw_schema_compile(descs[i], &schemas[i], NULL) != KLAW_OK)
            schemas[i] = NULL;
}

const klaw_schema *klaw_record_schema(klaw_record which)
{
    if ((unsigned)which >= KLAW_RECORD_COUNT_)
        return NULL;
    pthread_once(&once, compile_all);
    return schemas[which];
}

const char *klaw_record_name(klaw_record which)
{
    if ((unsigned)which >= KLAW_RECORD_COUNT_)
        return "?";
    return descs[which]->name;
}
