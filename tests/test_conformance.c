/* test_conformance.c - the msgpack-test-suite (kawanet/msgpack-test-suite),
 * read at test time from $KLAW_SHARED_DIR/conformance/. Every listed
 * encoding of a value must decode to that value (numbers compare by value:
 * an integer may be listed in float encodings too), and the writer's
 * encoding of the value must be one of those listed.
 *
 * The data file is JSON; a small JSON reader for it lives below. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h" /* hex() */
#include "klaw/klaw.h"

/* ---- a minimal JSON reader ------------------------------------------------ */

typedef enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } jtype;

typedef struct jv {
    jtype t;
    bool b;
    char *s;      /* J_STR: UTF-8 bytes; J_NUM: the number's text        */
    size_t slen;
    struct jv *items; /* J_ARR, J_OBJ values                            */
    char **keys;      /* J_OBJ keys (NUL-terminated)                      */
    size_t n;
} jv;

typedef struct jparser {
    const char *p, *start, *end;
} jparser;

static void jfail(const jparser *jp, const char *what)
{
    fail_msg("conformance JSON: %s at byte %zu", what, (size_t)(jp->p - jp->start));
}

static void jws(jparser *jp)
{
    while (jp->p < jp->end && (*jp->p == ' ' || *jp->p == '\n' || *jp->p == '\r' || *jp->p == '\t'))
        jp->p++;
}

static void put_utf8(char *out, size_t *n, uint32_t cp)
{
    if (cp < 0x80) {
        out[(*n)++] = (char)cp;
    } else if (cp < 0x800) {
        out[(*n)++] = (char)(0xc0 | (cp >> 6));
        out[(*n)++] = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        out[(*n)++] = (char)(0xe0 | (cp >> 12));
        out[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[(*n)++] = (char)(0x80 | (cp & 0x3f));
    } else {
        out[(*n)++] = (char)(0xf0 | (cp >> 18));
        out[(*n)++] = (char)(0x80 | ((cp >> 12) & 0x3f));
        out[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[(*n)++] = (char)(0x80 | (cp & 0x3f));
    }
}

static uint32_t jhex4(jparser *jp)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++, jp->p++) {
        char c = jp->p < jp->end ? *jp->p : 0;
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (uint32_t)(c - 'A' + 10);
        else
            jfail(jp, "bad \\u escape");
    }
    return v;
}

static char *jstring(jparser *jp, size_t *len)
{
    /* output is never longer than the input */
    const char *q = ++jp->p;
    while (q < jp->end && *q != '"')
        q += *q == '\\' ? 2 : 1;
    if (q >= jp->end)
        jfail(jp, "unterminated string");
    char *out = malloc((size_t)(q - jp->p) + 1);
    size_t n = 0;
    assert_non_null(out);
    while (*jp->p != '"') {
        char c = *jp->p++;
        if (c != '\\') {
            out[n++] = c;
            continue;
        }
        c = *jp->p++;
        switch (c) {
        case '"': case '\\': case '/': out[n++] = c; break;
        case 'b': out[n++] = '\b'; break;
        case 'f': out[n++] = '\f'; break;
        case 'n': out[n++] = '\n'; break;
        case 'r': out[n++] = '\r'; break;
        case 't': out[n++] = '\t'; break;
        case 'u': {
            uint32_t cp = jhex4(jp);
            if (cp >= 0xd800 && cp < 0xdc00) {
                if (jp->p + 1 >= jp->end || jp->p[0] != '\\' || jp->p[1] != 'u')
                    jfail(jp, "lone high surrogate");
                jp->p += 2;
                uint32_t lo = jhex4(jp);
                if (lo < 0xdc00 || lo > 0xdfff)
                    jfail(jp, "bad low surrogate");
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            put_utf8(out, &n, cp);
            break;
        }
        default: jfail(jp, "bad escape");
        }
    }
    jp->p++;
    out[n] = 0;
    *len = n;
    return out;
}

static void jvalue(jparser *jp, jv *v)
{
    memset(v, 0, sizeof *v);
    jws(jp);
    if (jp->p >= jp->end)
        jfail(jp, "unexpected end");
    char c = *jp->p;
    if (c == '{' || c == '[') {
        bool obj = c == '{';
        size_t cap = 4;
        v->t = obj ? J_OBJ : J_ARR;
        v->items = malloc(cap * sizeof *v->items);
        v->keys = obj ? malloc(cap * sizeof *v->keys) : NULL;
        assert_non_null(v->items);
        jp->p++;
        jws(jp);
        if (jp->p < jp->end && *jp->p == (obj ? '}' : ']')) {
            jp->p++;
            return;
        }
        for (;;) {
            if (v->n == cap) {
                cap *= 2;
                v->items = realloc(v->items, cap * sizeof *v->items);
                assert_non_null(v->items);
                if (obj) {
                    v->keys = realloc(v->keys, cap * sizeof *v->keys);
                    assert_non_null(v->keys);
                }
            }
            if (obj) {
                size_t klen;
                jws(jp);
                if (jp->p >= jp->end || *jp->p != '"')
                    jfail(jp, "expected a key");
                v->keys[v->n] = jstring(jp, &klen);
                jws(jp);
                if (jp->p >= jp->end || *jp->p != ':')
                    jfail(jp, "expected ':'");
                jp->p++;
            }
            jvalue(jp, &v->items[v->n++]);
            jws(jp);
            if (jp->p < jp->end && *jp->p == ',') {
                jp->p++;
                continue;
            }
            if (jp->p < jp->end && *jp->p == (obj ? '}' : ']')) {
                jp->p++;
                return;
            }
            jfail(jp, "expected ',' or a closing bracket");
        }
    }
    if (c == '"') {
        v->t = J_STR;
        v->s = jstring(jp, &v->slen);
        return;
    }
    if (jp->end - jp->p >= 4 && memcmp(jp->p, "null", 4) == 0) {
        v->t = J_NULL;
        jp->p += 4;
        return;
    }
    if (jp->end - jp->p >= 4 && memcmp(jp->p, "true", 4) == 0) {
        v->t = J_BOOL;
        v->b = true;
        jp->p += 4;
        return;
    }
    if (jp->end - jp->p >= 5 && memcmp(jp->p, "false", 5) == 0) {
        v->t = J_BOOL;
        jp->p += 5;
        return;
    }
    const char *q = jp->p;
    while (q < jp->end && strchr("+-0123456789.eE", *q))
        q++;
    if (q == jp->p)
        jfail(jp, "unexpected character");
    v->t = J_NUM;
    v->slen = (size_t)(q - jp->p);
    v->s = malloc(v->slen + 1);
    assert_non_null(v->s);
    memcpy(v->s, jp->p, v->slen);
    v->s[v->slen] = 0;
    jp->p = q;
}

static void jfree(jv *v)
{
    for (size_t i = 0; i < v->n; i++) {
        jfree(&v->items[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->s);
}

static const jv *jget(const jv *obj, const char *key)
{
    for (size_t i = 0; i < obj->n; i++)
        if (strcmp(obj->keys[i], key) == 0)
            return &obj->items[i];
    return NULL;
}

/* ---- expected values ---------------------------------------------------- */

typedef enum { K_NIL, K_BOOL, K_BINARY, K_NUMBER, K_BIGNUM, K_STRING, K_ARRAY, K_MAP, K_TIMESTAMP, K_EXT } kind;

static kind kind_of_json(const jv *v)
{
    switch (v->t) {
    case J_NULL: return K_NIL;
    case J_BOOL: return K_BOOL;
    case J_NUM: return K_NUMBER;
    case J_STR: return K_STRING;
    case J_ARR: return K_ARRAY;
    default: return K_MAP;
    }
}

/* "00-ff" -> bytes (caller frees) */
static uint8_t *dash_hex(const char *s, size_t *len)
{
    size_t cap = strlen(s) / 2 + 1;
    uint8_t *out = malloc(cap);
    assert_non_null(out);
    *len = hex(s, out, cap);
    return out;
}

/* An exact integer: sign and magnitude. */
typedef struct bigint {
    bool neg;
    uint64_t mag;
} bigint;

static bool parse_int(const char *s, bigint *out)
{
    out->neg = *s == '-';
    if (out->neg)
        s++;
    if (!*s || strpbrk(s, ".eE"))
        return false;
    errno = 0;
    char *end;
    out->mag = strtoull(s, &end, 10);
    if (errno || *end)
        fail_msg("integer out of range in suite: %s", s);
    return true;
}

/* A decoded number equals an exact integer. */
static bool int_matches(const klaw_mp_item *it, bigint want)
{
    switch (it->type) {
    case KLAW_MP_UINT: return !want.neg && it->v.u == want.mag;
    case KLAW_MP_INT: return want.neg && (uint64_t)(-(it->v.i + 1)) + 1 == want.mag;
    case KLAW_MP_FLOAT32:
    case KLAW_MP_FLOAT64: {
        double f = it->type == KLAW_MP_FLOAT32 ? (double)it->v.f : it->v.d;
        double a = fabs(f);
        if (f != floor(f) || a >= 18446744073709551616.0 || (f < 0) != want.neg)
            return false;
        return (uint64_t)a == want.mag;
    }
    default: return false;
    }
}

static bool match(klaw_mp_reader *r, kind k, const jv *v, char *why, size_t wsz);

static bool match_number(const klaw_mp_item *it, const char *text, char *why, size_t wsz)
{
    bigint bi;
    if (parse_int(text, &bi)) {
        if (!int_matches(it, bi)) {
            snprintf(why, wsz, "%s: decoded %s does not equal %s", "number", klaw_mp_type_name(it->type), text);
            return false;
        }
        return true;
    }
    double want = strtod(text, NULL);
    double got;
    switch (it->type) {
    case KLAW_MP_UINT: got = (double)it->v.u; break;
    case KLAW_MP_INT: got = (double)it->v.i; break;
    case KLAW_MP_FLOAT32: got = it->v.f; break;
    case KLAW_MP_FLOAT64: got = it->v.d; break;
    default: snprintf(why, wsz, "expected a number, got %s", klaw_mp_type_name(it->type)); return false;
    }
    if (got != want) {
        snprintf(why, wsz, "number %.17g, want %s", got, text);
        return false;
    }
    return true;
}

static bool match(klaw_mp_reader *r, kind k, const jv *v, char *why, size_t wsz)
{
    klaw_mp_item it;
    if (klaw_mp_read(r, &it) != KLAW_OK) {
        snprintf(why, wsz, "decode failed at byte %zu: %s", r->err.offset, r->err.reason);
        return false;
    }
    switch (k) {
    case K_NIL:
        if (it.type == KLAW_MP_NIL)
            return true;
        break;
    case K_BOOL:
        if (it.type == KLAW_MP_BOOL && it.v.b == v->b)
            return true;
        break;
    case K_BINARY: {
        size_t n;
        uint8_t *want = dash_hex(v->s, &n);
        bool ok = it.type == KLAW_MP_BIN && it.len == n && (n == 0 || memcmp(it.data, want, n) == 0);
        free(want);
        if (ok)
            return true;
        break;
    }
    case K_NUMBER:
    case K_BIGNUM: return match_number(&it, v->s, why, wsz);
    case K_STRING:
        if (it.type == KLAW_MP_STR && it.len == v->slen && memcmp(it.data, v->s, v->slen) == 0)
            return true;
        break;
    case K_ARRAY:
        if (it.type != KLAW_MP_ARRAY || it.len != v->n)
            break;
        for (size_t i = 0; i < v->n; i++)
            if (!match(r, kind_of_json(&v->items[i]), &v->items[i], why, wsz))
                return false;
        return true;
    case K_MAP: {
        if (it.type != KLAW_MP_MAP || it.len != v->n)
            break;
        bool seen[64] = {false};
        assert_true(v->n <= 64);
        for (size_t i = 0; i < v->n; i++) {
            const char *key;
            uint32_t klen;
            if (klaw_mp_read_str(r, &key, &klen) != KLAW_OK) {
                snprintf(why, wsz, "map key is not a str");
                return false;
            }
            size_t j = 0;
            while (j < v->n && (strlen(v->keys[j]) != klen || memcmp(v->keys[j], key, klen) != 0))
                j++;
            if (j == v->n || seen[j]) {
                snprintf(why, wsz, "unexpected map key \"%.*s\"", (int)klen, key);
                return false;
            }
            seen[j] = true;
            if (!match(r, kind_of_json(&v->items[j]), &v->items[j], why, wsz))
                return false;
        }
        return true;
    }
    case K_TIMESTAMP: {
        bigint sec, nsec;
        assert_true(v->t == J_ARR && v->n == 2);
        assert_true(parse_int(v->items[0].s, &sec) && parse_int(v->items[1].s, &nsec));
        int64_t want_sec = sec.neg ? -(int64_t)sec.mag : (int64_t)sec.mag;
        if (it.type == KLAW_MP_TIMESTAMP && it.v.ts.sec == want_sec && it.v.ts.nsec == nsec.mag)
            return true;
        break;
    }
    case K_EXT: {
        bigint type;
        size_t n;
        assert_true(v->t == J_ARR && v->n == 2 && parse_int(v->items[0].s, &type));
        uint8_t *want = dash_hex(v->items[1].s, &n);
        bool ok = it.type == KLAW_MP_EXT && it.ext_type == (type.neg ? -(int)type.mag : (int)type.mag) &&
                  it.len == n && (n == 0 || memcmp(it.data, want, n) == 0);
        free(want);
        if (ok)
            return true;
        break;
    }
    }
    snprintf(why, wsz, "decoded %s does not match the value", klaw_mp_type_name(it.type));
    return false;
}

static void encode(klaw_mp_writer *w, kind k, const jv *v)
{
    switch (k) {
    case K_NIL: klaw_mp_write_nil(w); break;
    case K_BOOL: klaw_mp_write_bool(w, v->b); break;
    case K_BINARY: {
        size_t n;
        uint8_t *b = dash_hex(v->s, &n);
        klaw_mp_write_bin(w, b, n);
        free(b);
        break;
    }
    case K_NUMBER:
    case K_BIGNUM: {
        bigint bi;
        if (!parse_int(v->s, &bi))
            klaw_mp_write_double(w, strtod(v->s, NULL));
        else if (bi.neg)
            klaw_mp_write_int(w, bi.mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)bi.mag);
        else
            klaw_mp_write_uint(w, bi.mag);
        break;
    }
    case K_STRING: klaw_mp_write_str(w, v->s, v->slen); break;
    case K_ARRAY:
        klaw_mp_write_array(w, v->n);
        for (size_t i = 0; i < v->n; i++)
            encode(w, kind_of_json(&v->items[i]), &v->items[i]);
        break;
    case K_MAP:
        klaw_mp_write_map(w, v->n);
        for (size_t i = 0; i < v->n; i++) {
            klaw_mp_write_cstr(w, v->keys[i]);
            encode(w, kind_of_json(&v->items[i]), &v->items[i]);
        }
        break;
    case K_TIMESTAMP: {
        bigint sec, nsec;
        assert_true(parse_int(v->items[0].s, &sec) && parse_int(v->items[1].s, &nsec));
        klaw_mp_write_timestamp(w, sec.neg ? -(int64_t)sec.mag : (int64_t)sec.mag, (uint32_t)nsec.mag);
        break;
    }
    case K_EXT: {
        bigint type;
        size_t n;
        assert_true(parse_int(v->items[0].s, &type));
        uint8_t *b = dash_hex(v->items[1].s, &n);
        klaw_mp_write_ext(w, (int8_t)(type.neg ? -(int)type.mag : (int)type.mag), b, n);
        free(b);
        break;
    }
    }
}

/* ---- the test ------------------------------------------------------------- */

static char *read_suite(size_t *len)
{
    const char *dir = getenv("KLAW_SHARED_DIR");
    char path[4096];
    if (!dir || !*dir)
        fail_msg("KLAW_SHARED_DIR is not set: run this test through `meson test`, which points it at ../shared");
    snprintf(path, sizeof path, "%s/conformance/msgpack-test-suite.json", dir);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open the conformance suite %s: %s", path, strerror(errno));
    char *data = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? 2 * cap : 65536;
            data = realloc(data, cap);
            assert_non_null(data);
        }
        size_t got = fread(data + n, 1, cap - n, f);
        if (got == 0)
            break;
        n += got;
    }
    fclose(f);
    *len = n;
    return data;
}

static const struct {
    const char *key;
    kind k;
} kinds[] = {
    {"bignum", K_BIGNUM}, /* before "number": entries with both compare exactly */
    {"nil", K_NIL},       {"bool", K_BOOL},     {"binary", K_BINARY},       {"number", K_NUMBER},
    {"string", K_STRING}, {"array", K_ARRAY},   {"map", K_MAP},             {"timestamp", K_TIMESTAMP},
    {"ext", K_EXT},
};

static void every_suite_encoding_decodes_to_its_value_and_ours_is_one_of_them(void **state)
{
    (void)state;
    size_t len;
    char *text = read_suite(&len);
    jparser jp = {text, text, text + len};
    jv root;
    jvalue(&jp, &root);
    jws(&jp);
    if (jp.p != jp.end)
        jfail(&jp, "trailing text");
    assert_int_equal(root.t, J_OBJ);

    size_t groups = 0, entries = 0, encodings = 0;
    for (size_t g = 0; g < root.n; g++) {
        const jv *group = &root.items[g];
        assert_int_equal(group->t, J_ARR);
        if (group->n == 0)
            fail_msg("%s: no entries", root.keys[g]);
        groups++;
        for (size_t e = 0; e < group->n; e++) {
            const jv *entry = &group->items[e];
            const jv *mp = jget(entry, "msgpack");
            const jv *val = NULL;
            kind k = K_NIL;
            assert_non_null(mp);
            assert_int_equal(mp->t, J_ARR);
            for (size_t i = 0; i < sizeof kinds / sizeof kinds[0] && !val; i++)
                if ((val = jget(entry, kinds[i].key)) != NULL)
                    k = kinds[i].k;
            if (!val)
                fail_msg("%s entry %zu: no value of a known kind", root.keys[g], e);
            entries++;

            /* our encoding */
            uint8_t ours[256];
            size_t ours_len;
            klaw_mp_writer w;
            klaw_mp_writer_init(&w, ours, sizeof ours);
            encode(&w, k, val);
            assert_int_equal(klaw_mp_writer_finish(&w, &ours_len), KLAW_OK);
            bool ours_listed = false;

            for (size_t m = 0; m < mp->n; m++) {
                size_t n;
                uint8_t *bytes = dash_hex(mp->items[m].s, &n);
                uint8_t *exact = malloc(n); /* exact size: ASan sees overreads */
                assert_non_null(exact);
                memcpy(exact, bytes, n);
                encodings++;

                char why[256] = "";
                klaw_mp_reader r;
                klaw_mp_reader_init(&r, exact, n);
                if (!match(&r, k, val, why, sizeof why))
                    fail_msg("%s entry %zu, encoding %s: %s", root.keys[g], e, mp->items[m].s, why);
                if (klaw_mp_reader_finish(&r) != KLAW_OK)
                    fail_msg("%s entry %zu, encoding %s: bytes left over", root.keys[g], e, mp->items[m].s);

                klaw_mp_error err;
                if (klaw_mp_validate(exact, n, 0, 0, &err) != KLAW_OK)
                    fail_msg("%s entry %zu, encoding %s: validate: %s at %zu", root.keys[g], e,
                             mp->items[m].s, err.reason, err.offset);
                /* every proper prefix is truncated */
                for (size_t cut = 0; cut < n; cut++)
                    if (klaw_mp_validate(exact, cut, 0, 0, NULL) != KLAW_DECODE)
                        fail_msg("%s entry %zu, encoding %s: a %zu-byte prefix validated", root.keys[g], e,
                                 mp->items[m].s, cut);

                if (n == ours_len && memcmp(bytes, ours, n) == 0)
                    ours_listed = true;
                free(bytes);
                free(exact);
            }
            if (!ours_listed) {
                char h[600];
                size_t o = 0;
                for (size_t i = 0; i < ours_len && o + 4 < sizeof h; i++)
                    o += (size_t)snprintf(h + o, sizeof h - o, i ? "-%02x" : "%02x", ours[i]);
                fail_msg("%s entry %zu: our encoding %s is not among those listed", root.keys[g], e, h);
            }
        }
    }
    print_message("conformance: %zu groups, %zu values, %zu encodings\n", groups, entries, encodings);
    /* the suite has 15 groups (nil .. ext); fewer means a damaged file */
    assert_true(groups >= 15);
    assert_true(encodings > entries);
    jfree(&root);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_suite_encoding_decodes_to_its_value_and_ours_is_one_of_them),
    };
    return cmocka_run_group_tests_name("conformance", tests, NULL, NULL);
}
