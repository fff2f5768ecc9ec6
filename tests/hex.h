/* hex.h - bytes written as hex in tests (cmocka): "cd ff 00", "cd-ff-00"
 * or "cdff00" parsed into a buffer, and an assertion that prints both
 * sides as hex when bytes differ. */
#ifndef KLAW_TEST_HEX_H
#define KLAW_TEST_HEX_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#define HEX_UNUSED __attribute__((unused))

/* Parses s (pairs of hex digits; spaces and dashes between them are
 * skipped) into out[0, cap); returns the length. Fails the calling test on
 * a bad digit or when out is too small. */
HEX_UNUSED static size_t hex(const char *s, uint8_t *out, size_t cap)
{
    const char *all = s;
    size_t n = 0;
    while (*s) {
        if (*s == ' ' || *s == '-') {
            s++;
            continue;
        }
        unsigned v;
        if (sscanf(s, "%2x", &v) != 1 || !s[1])
            fail_msg("bad hex at %zu: %s", (size_t)(s - all), all);
        if (n >= cap)
            fail_msg("more than %zu bytes: %s", cap, all);
        out[n++] = (uint8_t)v;
        s += 2;
    }
    return n;
}

/* Prints p[0, n) as hex (the first 64 bytes), after what. */
HEX_UNUSED static void hex_dump(const char *what, const uint8_t *p, size_t n)
{
    print_error("%s (%zu bytes):", what, n);
    for (size_t i = 0; i < n && i < 64; i++)
        print_error(" %02x", p[i]);
    print_error("%s\n", n > 64 ? " ..." : "");
}

HEX_UNUSED static void assert_bytes(const uint8_t *got, size_t glen, const uint8_t *want, size_t wlen)
{
    if (glen != wlen || memcmp(got, want, wlen) != 0) {
        hex_dump("got ", got, glen);
        hex_dump("want", want, wlen);
        fail_msg("encoding differs");
    }
}

/* got[0, glen) is exactly the bytes want_hex spells (at most 64). */
HEX_UNUSED static void assert_hex(const uint8_t *got, size_t glen, const char *want_hex)
{
    uint8_t want[64];
    size_t wlen = hex(want_hex, want, sizeof want);
    assert_bytes(got, glen, want, wlen);
}

#endif
