/*
 * test_json_diff.c - klaw's JSON parser against json-c, on many generated
 * documents and on mutations of them.
 *
 * json-c (strict mode, UTF-8 validation on) is the reference where it is
 * right: on every generated valid document both must accept and agree on
 * every value (ints exactly, doubles bit for bit, strings byte for byte,
 * arrays and objects member by member). On a mutated document:
 *   - klaw accepts  -> json-c accepts too, with the same values (klaw must
 *     never be more lenient than json-c's strict mode; the one deliberate
 *     difference, a leading byte order mark, is not generated);
 *   - klaw rejects, json-c accepts -> only where json-c is known to be
 *     lenient: raw control characters in strings, lone surrogates, UTF-8
 *     that encodes surrogates or overlongs, NaN/Infinity, leading zeros
 *     ("00.1"), numbers missing digits ("-.5", "1."), integers out of range (json-c clamps them), doubles out of
 *     range (json-c gives inf).
 * Only this test links json-c; klaw itself does not use it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "klaw/klaw.h"

static uint64_t rng = 0x2545f4914f6cdd1dull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
static unsigned pick(unsigned n) { return (unsigned)(rnd() % n); }

/* ---- a generator of valid JSON --------------------------------------------- */

typedef struct text {
    char b[1 << 16];
    size_t n;
} text;

static void put(text *t, const char *s) { t->n += (size_t)snprintf(t->b + t->n, sizeof t->b - t->n, "%s", s); }

static void ws(text *t)
{
    static const char *const w[] = {"", "", "", " ", "\n", "\t", "\r\n  "};
    put(t, w[pick(7)]);
}

static void gen_string(text *t, unsigned salt)
{
    static const char *const pieces[] = {
        "a", "xyz", " ", "\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t", "\\u0041", "\\u00e9",
        "\\u20AC", "\\uFFFF", "\\ud83d\\ude00", "\\uDBFF\\uDFFF", "\\u0001", "\xc3\xa9", "\xe2\x82\xac",
        "\xf0\x9f\x98\x80", "\xef\xbf\xbd", "/", "'", "\x7f",
    };
    put(t, "\"");
    if (salt) {
        char k[16];
        snprintf(k, sizeof k, "k%u", salt);
        put(t, k);
    }
    for (unsigned i = pick(8); i; i--)
        put(t, pieces[pick(sizeof pieces / sizeof pieces[0])]);
    put(t, "\"");
}

static void gen_number(text *t)
{
    char b[64];
    static const char *const edge[] = {
        "0", "-0", "9223372036854775807", "9223372036854775808", "18446744073709551615",
        "-9223372036854775808", "-9223372036854775807", "0.0", "-0.0", "1e308", "2.2250738585072014e-308",
        "5e-324", "4.9e-324", "1.7976931348623157e308", "1E+2", "1e-7", "0.1", "123456789012345678901234567890.5",
    };
    switch (pick(5)) {
    case 0: snprintf(b, sizeof b, "%s", edge[pick(sizeof edge / sizeof edge[0])]); break;
    case 1: snprintf(b, sizeof b, "%s%llu", pick(2) ? "-" : "", (unsigned long long)(rnd() >> (1 + pick(63)))); break;
    case 2: snprintf(b, sizeof b, "%llu", (unsigned long long)rnd()); break;
    case 3: {
        double d;
        uint64_t bits = rnd();
        memcpy(&d, &bits, 8);
        if (!isfinite(d))
            d = 1.5;
        snprintf(b, sizeof b, "%.*g", 1 + (int)pick(17), d);
        if (strchr(b, 'n') || strchr(b, 'i'))
            snprintf(b, sizeof b, "2.5");
        break;
    }
    default:
        snprintf(b, sizeof b, "%s%u.%u%s%d", pick(2) ? "-" : "", pick(1000), pick(100000), pick(2) ? "e" : "E",
                 (int)pick(600) - 300);
        break;
    }
    put(t, b);
}

static void gen_value(text *t, int depth)
{
    switch (pick(depth < 5 ? 9 : 6)) {
    case 0: put(t, "null"); break;
    case 1: put(t, pick(2) ? "true" : "false"); break;
    case 2:
    case 3: gen_number(t); break;
    case 4:
    case 5: gen_string(t, 0); break;
    case 6:
    case 7: {
        put(t, "[");
        unsigned n = pick(6);
        for (unsigned i = 0; i < n; i++) {
            if (i)
                put(t, ",");
            ws(t);
            gen_value(t, depth + 1);
            ws(t);
        }
        put(t, "]");
        break;
    }
    default: {
        put(t, "{");
        unsigned n = pick(6);
        for (unsigned i = 0; i < n; i++) {
            if (i)
                put(t, ",");
            ws(t);
            gen_string(t, i + 1); /* unique keys: json-c keeps only the last of duplicates */
            ws(t);
            put(t, ":");
            ws(t);
            gen_value(t, depth + 1);
            ws(t);
        }
        put(t, "}");
        break;
    }
    }
}

/* ---- comparing -------------------------------------------------------------- */

/* json-c's parse of s[0, n) (strict, UTF-8 checked) into *out (NULL is
 * JSON null); false when it rejects. A NUL after the text tells json-c a
 * top-level number is done. */
static bool jc_parse(const char *s, size_t n, json_object **out)
{
    static char copy[1 << 16];
    memcpy(copy, s, n);
    copy[n] = '\0';
    struct json_tokener *tok = json_tokener_new_ex(2048);
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *o = json_tokener_parse_ex(tok, copy, (int)n + 1);
    enum json_tokener_error e = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    *out = NULL;
    if (e != json_tokener_success || end < n) {
        json_object_put(o);
        return false;
    }
    *out = o;
    return true;
}

/* Whether json-c's string j equals klaw's k. json-c 0.16 decodes about 3%
 * of valid surrogate pairs (\ud836\ude60, \ud877\udc00, ...) to U+FFFD
 * instead of the supplementary character; where json-c has U+FFFD and
 * klaw a 4-byte sequence, json-c is the one that is wrong (Python's json
 * gives F0 9D A9 A0 for \ud836\ude60, as klaw does), so the two are
 * taken as equal there and nowhere else. */
static bool same_str(const uint8_t *j, size_t jl, const uint8_t *k, size_t kl)
{
    size_t a = 0, b = 0;
    while (a < jl && b < kl) {
        if (jl - a >= 3 && kl - b >= 4 && memcmp(j + a, "\xef\xbf\xbd", 3) == 0 && k[b] >= 0xf0) {
            a += 3;
            b += 4;
        } else if (j[a] == k[b]) {
            a++;
            b++;
        } else {
            return false;
        }
    }
    return a == jl && b == kl;
}

/* Whether the map at r (header already read, `pairs` pairs) has only
 * distinct keys; r is not moved. */
static bool keys_distinct(const klaw_mp_reader *r0, uint32_t pairs)
{
    klaw_mp_reader r = *r0;
    const char *k[64];
    uint32_t kl[64];
    if (pairs > 64)
        return false;
    for (uint32_t i = 0; i < pairs; i++) {
        if (klaw_mp_read_str(&r, &k[i], &kl[i]) != KLAW_OK || klaw_mp_skip(&r) != KLAW_OK)
            return false;
        for (uint32_t j = 0; j < i; j++)
            if (kl[j] == kl[i] && memcmp(k[j], k[i], kl[i]) == 0)
                return false;
    }
    return true;
}

/* Compares the value at r with o; returns false on the first difference,
 * or sets *skip (and stops: r is then somewhere inside) when the value
 * cannot be compared: a map with duplicate keys, which json-c collapses,
 * or a key with a NUL, which json-c's lookup cannot take. */
static bool same(klaw_mp_reader *r, json_object *o, bool *skip)
{
    klaw_mp_item it;
    if (klaw_mp_read(r, &it) != KLAW_OK)
        return false;
    enum json_type jt = json_object_get_type(o);
    switch (it.type) {
    case KLAW_MP_NIL: return jt == json_type_null;
    case KLAW_MP_BOOL: return jt == json_type_boolean && json_object_get_boolean(o) == it.v.b;
    case KLAW_MP_UINT: return jt == json_type_int && json_object_get_uint64(o) == it.v.u;
    case KLAW_MP_INT: return jt == json_type_int && json_object_get_int64(o) == it.v.i;
    case KLAW_MP_FLOAT64: {
        if (jt != json_type_double)
            return false;
        double d = json_object_get_double(o);
        return memcmp(&d, &it.v.d, 8) == 0;
    }
    case KLAW_MP_STR:
        return jt == json_type_string && same_str((const uint8_t *)json_object_get_string(o),
                                                  (size_t)json_object_get_string_len(o), it.data, it.len);
    case KLAW_MP_ARRAY:
        if (jt != json_type_array || json_object_array_length(o) != it.len)
            return false;
        for (uint32_t i = 0; i < it.len && !*skip; i++)
            if (!same(r, json_object_array_get_idx(o, i), skip))
                return false;
        return true;
    case KLAW_MP_MAP:
        if (jt != json_type_object)
            return false;
        if (!keys_distinct(r, it.len)) {
            *skip = true;
            return true;
        }
        if ((uint32_t)json_object_object_length(o) != it.len)
            return false;
        for (uint32_t i = 0; i < it.len && !*skip; i++) {
            const char *k;
            uint32_t kl;
            char key[4096];
            json_object *v;
            if (klaw_mp_read_str(r, &k, &kl) != KLAW_OK || kl >= sizeof key || memchr(k, 0, kl)) {
                *skip = true;
                return true;
            }
            memcpy(key, k, kl);
            key[kl] = '\0';
            if (!json_object_object_get_ex(o, key, &v))
                return false;
            if (!same(r, v, skip))
                return false;
        }
        return true;
    default: return false;
    }
}

static uint8_t mp[1 << 18];

/* Parses with klaw; returns the status, fills err and the reader's view. */
static klaw_status klaw_parse(const char *s, size_t n, size_t *mp_len, klaw_json_error *err)
{
    klaw_mp_writer w;
    klaw_mp_writer_init(&w, mp, sizeof mp);
    klaw_status st = klaw_json_to_mp(s, n, &w, err);
    *mp_len = klaw_mp_writer_len(&w);
    return st;
}

static bool agree(const char *s, size_t n, json_object *o, size_t mp_len)
{
    klaw_mp_reader r;
    bool skip = false;
    klaw_mp_reader_init(&r, mp, mp_len);
    bool ok = same(&r, o, &skip);
    if (!ok)
        fprintf(stderr, "values differ for: %.*s\njson-c: %s\n", (int)n, s, json_object_to_json_string(o));
    return ok;
}

/* Whether json-c accepting what klaw rejected is one of json-c's known
 * leniencies (see the top). */
static bool known_leniency(const char *s, size_t n, const klaw_json_error *e)
{
    const char *r = e->reason;
    const char *at = s + e->offset;
    if (strcmp(r, "unescaped control character in string") == 0 || strcmp(r, "lone low surrogate") == 0 ||
        strcmp(r, "high surrogate not followed by a low surrogate") == 0 || strcmp(r, "invalid UTF-8") == 0 ||
        strcmp(r, "integer out of range") == 0 || strcmp(r, "number out of range") == 0 ||
        strcmp(r, "leading zero in number") == 0 || strcmp(r, "expected a digit after '.'") == 0)
        return true;
    /* "-.5" */
    if (strcmp(r, "invalid number") == 0 && e->offset < n && *at == '.')
        return true;
    /* NaN, Infinity, -Infinity (json-c also takes some lower-case forms) */
    if (e->offset < n && (strchr("NnIi", *at) != NULL))
        return true;
    return false;
}

/* ---- the tests ---------------------------------------------------------------- */

static void generated_valid_documents_parse_the_same_as_in_json_c(void **state)
{
    (void)state;
    static text t;
    for (int i = 0; i < 20000; i++) {
        t.n = 0;
        ws(&t);
        gen_value(&t, 0);
        ws(&t);
        size_t mp_len;
        klaw_json_error e;
        klaw_status st = klaw_parse(t.b, t.n, &mp_len, &e);
        json_object *o;
        if (!jc_parse(t.b, t.n, &o))
            fail_msg("json-c rejected a generated document: %s", t.b);
        if (st != KLAW_OK)
            fail_msg("klaw rejected at %zu (%s): %s", e.offset, e.reason, t.b);
        assert_true(agree(t.b, t.n, o, mp_len));
        json_object_put(o);
    }
}

static void mutated_documents_are_never_accepted_where_json_c_rejects(void **state)
{
    (void)state;
    static text t;
    static const char alphabet[] = "[]{}\",:\\ 0123456789-+.eEtrufalsn\x00\x01\t\n\x7f\x80\xc3\xa9\xed\xff/u'";
    int both = 0, neither = 0, json_c_lenient = 0;
    for (int i = 0; i < 40000; i++) {
        t.n = 0;
        gen_value(&t, 0);
        for (unsigned m = 1 + pick(3); m; m--) {
            size_t at = t.n ? pick((unsigned)t.n) : 0;
            char c = alphabet[pick(sizeof alphabet - 1)];
            switch (pick(3)) {
            case 0:
                if (t.n)
                    t.b[at] = c;
                break;
            case 1:
                if (t.n) {
                    memmove(t.b + at, t.b + at + 1, t.n - at - 1);
                    t.n--;
                }
                break;
            default:
                if (t.n + 1 < sizeof t.b) {
                    memmove(t.b + at + 1, t.b + at, t.n - at);
                    t.b[at] = c;
                    t.n++;
                }
                break;
            }
        }
        if (t.n >= 3 && memcmp(t.b, "\xef\xbb\xbf", 3) == 0)
            continue; /* klaw skips a BOM by design; json-c refuses it */
        size_t mp_len;
        klaw_json_error e;
        klaw_status st = klaw_parse(t.b, t.n, &mp_len, &e);
        json_object *o;
        bool jc_ok = jc_parse(t.b, t.n, &o);
        if (st == KLAW_OK) {
            if (!jc_ok)
                fail_msg("klaw accepted what json-c rejects: %.*s", (int)t.n, t.b);
            assert_true(agree(t.b, t.n, o, mp_len));
            both++;
        } else if (jc_ok) {
            assert_int_equal(st, KLAW_DECODE);
            if (!known_leniency(t.b, t.n, &e))
                fail_msg("json-c accepted, klaw rejected at %zu (%s): %.*s", e.offset, e.reason, (int)t.n, t.b);
            json_c_lenient++;
        } else {
            assert_int_equal(st, KLAW_DECODE);
            assert_true(e.offset <= t.n);
            neither++;
        }
        json_object_put(o);
    }
    /* the mutations exercise all three outcomes */
    print_message("mutated: both accept %d, both reject %d, only json-c accepts %d\n", both, neither,
                  json_c_lenient);
    assert_true(both > 1000 && neither > 1000 && json_c_lenient > 10);
}

static void json_c_reads_klaws_json_output_to_the_same_values(void **state)
{
    (void)state;
    /* the other direction: JSON that MessagePack -> JSON writes, read by
     * json-c, holds the values of the MessagePack it came from */
    static text t;
    static char out[1 << 17];
    for (int i = 0; i < 5000; i++) {
        t.n = 0;
        gen_value(&t, 0);
        size_t mp_len, len;
        klaw_json_error e;
        klaw_mp_error me;
        if (klaw_parse(t.b, t.n, &mp_len, &e) != KLAW_OK)
            continue;
        assert_int_equal(klaw_json_from_mp_buf(mp, mp_len, out, sizeof out, &len, &me), KLAW_OK);
        json_object *o;
        if (!jc_parse(out, len, &o))
            fail_msg("json-c rejected klaw's output: %s", out);
        assert_true(agree(out, len, o, mp_len));
        json_object_put(o);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(generated_valid_documents_parse_the_same_as_in_json_c),
        cmocka_unit_test(mutated_documents_are_never_accepted_where_json_c_rejects),
        cmocka_unit_test(json_c_reads_klaws_json_output_to_the_same_values),
    };
    return cmocka_run_group_tests_name("json_diff", tests, NULL, NULL);
}
