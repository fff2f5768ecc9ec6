/* records_file.h - the files the python interop helpers and the C tests
 * exchange: records of a 4-byte big-endian length, then that many bytes.
 * Header-only, for cmocka tests (failures end the test). */
#ifndef KLAW_TESTS_RECORDS_FILE_H
#define KLAW_TESTS_RECORDS_FILE_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct records_file {
    uint8_t *data;
    size_t len;
} records_file;

/* Reads a whole file (freed by the caller). */
static inline void records_read(const char *path, records_file *out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s: %s", path, strerror(errno));
    size_t cap = 1 << 20, n = 0;
    uint8_t *data = malloc(cap);
    assert_non_null(data);
    for (;;) {
        if (n == cap) {
            cap *= 2;
            data = realloc(data, cap);
            assert_non_null(data);
        }
        size_t got = fread(data + n, 1, cap - n, f);
        if (got == 0)
            break;
        n += got;
    }
    fclose(f);
    out->data = data;
    out->len = n;
}

/* The next record (pointer, length) from *pos; false at the end. */
static inline bool records_next(const records_file *rs, size_t *pos, const uint8_t **p, size_t *n)
{
    if (*pos == rs->len)
        return false;
    assert_true(rs->len - *pos >= 4);
    const uint8_t *h = rs->data + *pos;
    *n = ((size_t)h[0] << 24) | ((size_t)h[1] << 16) | ((size_t)h[2] << 8) | h[3];
    assert_true(rs->len - *pos - 4 >= *n);
    *p = h + 4;
    *pos += 4 + *n;
    return true;
}

/* Appends one record. */
static inline void records_write(FILE *f, const uint8_t *p, size_t n)
{
    uint8_t h[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
    assert_int_equal(fwrite(h, 1, 4, f), 4);
    assert_int_equal(fwrite(p, 1, n, f), n);
}

#endif /* KLAW_TESTS_RECORDS_FILE_H */
