/* test_records.c - klaw-core's records as compiled schemas: every schema
 * compiles, klaw-core's encodings (built by python3-msgpack as msgspec lays
 * them out) decode and re-encode byte for byte, and klaw's own metadata
 * (with its extra keys) reads back in python as klaw-core would see it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "klaw/records.h"

#define PYTHON "/usr/bin/python3"

static const char *src_dir(void)
{
    const char *d = getenv("KLAW_SOURCE_DIR");
    return d ? d : ".";
}

static void require_python_msgpack(void)
{
    if (system(PYTHON " -c 'import msgpack' >/dev/null 2>&1") != 0)
        fail_msg(PYTHON " cannot import msgpack: install python3-msgpack (apt-get install python3-msgpack)");
}

static void every_record_schema_compiles(void **state)
{
    (void)state;
    for (int i = 0; i < KLAW_RECORD_COUNT_; i++) {
        assert_non_null(klaw_record_schema((klaw_record)i));
    }
    assert_null(klaw_record_schema(KLAW_RECORD_COUNT_));
    assert_string_equal(klaw_record_name(KLAW_RECORD_CHANNEL_METADATA), "ChannelMetadata");
    assert_string_equal(klaw_record_name(KLAW_RECORD_BATCH_RESULT), "BatchResult");
    assert_int_equal(klaw_schema_size(klaw_record_schema(KLAW_RECORD_READER_INFO)), sizeof(klaw_reader_info));
}

static const size_t out_size[KLAW_RECORD_COUNT_] = {
    sizeof(klaw_channel_metadata), sizeof(klaw_reader_info), sizeof(klaw_channel_stats),
    sizeof(klaw_single_result), sizeof(klaw_batch_result),
};

static void klaw_core_records_reencode_byte_for_byte(void **state)
{
    (void)state;
    require_python_msgpack();
    char path[] = "/tmp/klaw-records-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, PYTHON " %s/tests/records_interop.py gen 20261121 3000 %s", src_dir(), path);
    assert_int_equal(system(cmd), 0);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static uint8_t arena_mem[1 << 16], out[1 << 16];
    int seen[KLAW_RECORD_COUNT_] = {0};
    size_t n = 0;
    for (;;) {
        uint8_t hdr[5];
        if (fread(hdr, 1, 5, f) != 5)
            break;
        uint32_t len = (uint32_t)hdr[1] << 24 | (uint32_t)hdr[2] << 16 | (uint32_t)hdr[3] << 8 | hdr[4];
        uint8_t *buf = malloc(len ? len : 1);
        assert_int_equal(fread(buf, 1, len, f), len);
        assert_true(hdr[0] < KLAW_RECORD_COUNT_);
        const klaw_schema *s = klaw_record_schema((klaw_record)hdr[0]);
        union {
            klaw_channel_metadata m;
            klaw_reader_info r;
            klaw_channel_stats st;
            klaw_single_result sr;
            klaw_batch_result br;
        } v;
        klaw_arena arena;
        klaw_arena_init(&arena, arena_mem, sizeof arena_mem);
        klaw_schema_error err;
        klaw_status st = klaw_schema_decode(s, buf, len, &v, &arena, 0, &err);
        if (st != KLAW_OK)
            fail_msg("record %zu (%s): %s", n, klaw_record_name((klaw_record)hdr[0]), klaw_schema_error_message(&err));
        assert_int_equal(klaw_schema_size(s), out_size[hdr[0]]);
        klaw_mp_writer w;
        klaw_mp_writer_init(&w, out, sizeof out);
        size_t olen;
        assert_int_equal(klaw_schema_encode(s, &v, &w), KLAW_OK);
        assert_int_equal(klaw_mp_writer_finish(&w, &olen), KLAW_OK);
        if (olen != len || memcmp(out, buf, len) != 0)
            fail_msg("record %zu (%s): klaw re-encodes %zu bytes differently from python's %u", n,
                     klaw_record_name((klaw_record)hdr[0]), olen, len);
        seen[hdr[0]]++;
        free(buf);
        n++;
    }
    fclose(f);
    unlink(path);
    assert_int_equal(n, 3000);
    for (int i = 0; i < KLAW_RECORD_COUNT_; i++)
        assert_true(seen[i] > 100);
}

static void klaws_metadata_reads_in_python_as_klaw_core_sees_it(void **state)
{
    (void)state;
    require_python_msgpack();
    klaw_channel_metadata m = {0};
    m.channel_type = KLAW_CHANNEL_BROADCAST;
    m.capacity = 1024;
    m.has_capacity = true;
    m.has_value_type = true;
    m.value_type = (klaw_str){"Order", 5};
    m.max_frame = 4096;
    m.policy = KLAW_POLICY_OVERWRITE;
    m.name = (klaw_str){"orders", 6};
    m.created_at = (struct timespec){1700000000, 5};
    m.creator = (klaw_str){"host:42", 7};
    uint8_t buf[512];
    klaw_mp_writer w;
    klaw_mp_writer_init(&w, buf, sizeof buf);
    const klaw_schema *s = klaw_record_schema(KLAW_RECORD_CHANNEL_METADATA);
    assert_int_equal(klaw_schema_encode(s, &m, &w), KLAW_OK);
    size_t len;
    assert_int_equal(klaw_mp_writer_finish(&w, &len), KLAW_OK);
    char path[] = "/tmp/klaw-meta-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, buf, len), (ssize_t)len);
    close(fd);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, PYTHON " %s/tests/records_interop.py check %s", src_dir(), path);
    assert_int_equal(system(cmd), 0);
    unlink(path);

    /* and back: every field survives, defaults are left out when default */
    klaw_channel_metadata back;
    klaw_schema_error err;
    assert_int_equal(klaw_schema_decode(s, buf, len, &back, NULL, 0, &err), KLAW_OK);
    assert_int_equal(back.channel_type, KLAW_CHANNEL_BROADCAST);
    assert_int_equal(back.policy, KLAW_POLICY_OVERWRITE);
    assert_int_equal(back.max_frame, 4096);
    assert_int_equal(back.created_at.tv_nsec, 5);
    assert_memory_equal(back.creator.ptr, "host:42", 7);
    klaw_channel_metadata plain = {.channel_type = KLAW_CHANNEL_MPMC, .unbounded = true};
    klaw_mp_writer_init(&w, buf, sizeof buf);
    assert_int_equal(klaw_schema_encode(s, &plain, &w), KLAW_OK);
    assert_int_equal(klaw_mp_writer_finish(&w, &len), KLAW_OK);
    /* {"channel_type":"mpmc","capacity":nil,"unbounded":true,"value_type":nil} */
    static const uint8_t want[] = {0x84, 0xac, 'c', 'h', 'a', 'n', 'n', 'e', 'l', '_', 't', 'y', 'p', 'e', 0xa4,
                                   'm', 'p', 'm', 'c', 0xa8, 'c', 'a', 'p', 'a', 'c', 'i', 't', 'y', 0xc0,
                                   0xa9, 'u', 'n', 'b', 'o', 'u', 'n', 'd', 'e', 'd', 0xc3, 0xaa, 'v', 'a',
                                   'l', 'u', 'e', '_', 't', 'y', 'p', 'e', 0xc0};
    assert_int_equal(len, sizeof want);
    assert_memory_equal(buf, want, sizeof want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_record_schema_compiles),
        cmocka_unit_test(klaw_core_records_reencode_byte_for_byte),
        cmocka_unit_test(klaws_metadata_reads_in_python_as_klaw_core_sees_it),
    };
    return cmocka_run_group_tests_name("records", tests, NULL, NULL);
}
