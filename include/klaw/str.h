/*
 * klaw/str.h - klaw_str, the string view every codec module shares.
 *
 * A klaw_str names len bytes at ptr; it owns nothing. The bytes are not
 * NUL-terminated (a view into a frame points at the str's data inside the
 * MessagePack bytes). ptr may be NULL only when len is 0.
 *
 * This header only defines the type, so that the envelope and the schema
 * layer can both use it and a program can include both: define klaw_str
 * here and nowhere else.
 */
#ifndef KLAW_STR_H
#define KLAW_STR_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct klaw_str {
    const char *ptr;
    uint32_t len;
} klaw_str;

/* An initializer for a string literal: klaw_str s = KLAW_STR_LIT("ok"); */
#define KLAW_STR_LIT(s) {(s), (uint32_t)(sizeof(s) - 1)}

#ifdef __cplusplus
}
#endif

#endif /* KLAW_STR_H */
