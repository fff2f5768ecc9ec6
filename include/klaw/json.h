/*
 * klaw/json.h - JSON text for people and tools: MessagePack -> JSON and
 * JSON -> MessagePack.
 *
 * Both directions stream: MessagePack is walked with the strict
 * klaw_mp_reader and JSON text comes out through a write callback or into a
 * caller's buffer; JSON is parsed by a strict RFC 8259 parser that writes
 * straight into a klaw_mp_writer. Neither allocates, neither recurses (the
 * nesting stack is a bounded array, so no input can exhaust the C stack),
 * neither prints. Both are thread-safe in the sense that they keep no state
 * between calls: different threads may convert at the same time.
 *
 * ---- MessagePack -> JSON: the mapping ------------------------------------
 *
 * The output is compact (no spaces or newlines) UTF-8.
 *
 *   nil            null
 *   bool           true / false
 *   int            the exact integer, any value of int64 or uint64
 *                  ("18446744073709551615", "-9223372036854775808")
 *   float64        the shortest text that strtod() reads back to the same
 *                  double (fewest significant digits, at most 17), laid
 *                  out as Python's repr() does: positional for magnitudes
 *                  in [1e-4, 1e16), else scientific with a signed exponent
 *                  of at least two digits; always marked as a float: "1.0",
 *                  "-0.0", "0.1", "1000000000000000.0", "1e+16", "1e-05",
 *                  "1e+300", "5e-324". A float never prints as an integer,
 *                  so JSON -> MessagePack gives a float back.
 *   float32        the shortest text that reads back to the same float32
 *                  (up to 9 digits), marked the same way: 0.1f -> "0.1".
 *                  (Read back as JSON it becomes a float64.)
 *   NaN, +-Inf     null (JSON has no such numbers)
 *   str            a JSON string: '"' and '\' escaped, control characters
 *                  as \b \f \n \r \t or \u00XX, everything else (non-ASCII
 *                  UTF-8 included) passed through unchanged
 *   bin            a JSON string holding base64 (standard alphabet, padded)
 *   timestamp      a JSON string, RFC 3339 in UTC: "2021-01-01T00:00:00Z";
 *   (ext -1)       when the nanoseconds are not zero, all nine digits are
 *                  written: "2021-01-01T00:00:00.000000001Z". Seconds before
 *                  1970 count back correctly ("1969-12-31T23:59:59.5..Z").
 *                  Years outside 0000..9999 (possible with the 96-bit form)
 *                  use the ISO 8601 expanded form that ECMAScript's
 *                  Date.toISOString() uses: a sign and at least six digits,
 *                  "+010000-01-01T00:00:00Z", "-000001-12-31T23:59:59Z".
 *   other ext      {"$ext":type,"data":"<base64>"}
 *   array, map     [..], {..}; map pairs keep their order, duplicates kept
 *
 * Map keys must be JSON strings, so a key that is not a str is written as
 * the JSON text of its value inside a string: int 1 -> "1", nil -> "null",
 * true -> "true", 1.5 -> "1.5"; bin and timestamp -> their string content
 * (the base64 / RFC 3339 text, without a second pair of quotes); an ext, an
 * array or a map -> its compact JSON text, escaped as a string:
 * [1,"a"] -> "[1,\"a\"]". Container keys may themselves hold container keys
 * only KLAW_JSON_MAX_KEY_NESTING deep (each level escapes the one inside it
 * again, so the text would otherwise grow exponentially with the input);
 * deeper gives KLAW_VALIDATE "map keys nested too deep for JSON", at the
 * offending key - but only for a value that is otherwise well-formed: the
 * walk goes on to the value's end, and malformed bytes anywhere in it are
 * reported as KLAW_DECODE instead, exactly as the reader reports them. So
 * the text of a value is at most 32 bytes per input byte (a '"' inside four
 * levels of keys), usually at most 6 (a control character in a str).
 *
 * Strictness: every header is read with klaw_mp_read(), so the converter
 * rejects exactly what the reader rejects (0xc1, truncation, bad timestamps,
 * invalid UTF-8 unless the reader has KLAW_MP_TRUSTED_UTF8 - then str bytes
 * are passed through as they are - lengths the input cannot hold, nesting
 * deeper than the reader's max_depth, counted as klaw_mp_skip() counts it)
 * with the same status, byte offset and reason the reader gives.
 *
 * ---- JSON -> MessagePack: the mapping ------------------------------------
 *
 *   null, true, false   nil, bool
 *   integer             (no '.', 'e' or 'E') an exact MessagePack int in the
 *                       smallest encoding; any value of int64 or uint64.
 *                       Outside that range: KLAW_DECODE "integer out of
 *                       range" - never rounded. "-0" is the integer 0.
 *   other numbers       float64, correctly rounded (strtod). A magnitude too
 *                       large for a double (1e400) is KLAW_DECODE "number out
 *                       of range"; one too small underflows to the nearest
 *                       double (1e-400 -> 0.0), as strtod does.
 *   string              str (escapes decoded; a \uD83D\uDE00 pair becomes
 *                       the 4-byte UTF-8 of U+1F600; \u0000 becomes a NUL
 *                       byte inside the str)
 *   array, object       array, map in the smallest encoding; object members
 *                       keep their order, duplicate names are kept as they are
 *
 * The parser follows RFC 8259 strictly and rejects (KLAW_DECODE, with the
 * byte offset in the JSON text and a short reason): leading zeros ("01"),
 * "+1", ".5", "1.", "1e", hex, NaN/Infinity, trailing commas, comments,
 * single quotes, unescaped control characters (< 0x20) in strings, unknown
 * escapes, lone or mismatched surrogates (\uD800, \uDC00, \uD800\u0041),
 * invalid UTF-8 anywhere in the text (overlongs, surrogates, > U+10FFFF,
 * truncated sequences), nesting deeper than KLAW_JSON_MAX_DEPTH, anything but
 * whitespace after the value, and empty input. Whitespace is exactly space,
 * tab, CR and LF. Any scalar may be the top-level value. One UTF-8 byte
 * order mark (EF BB BF) at the very start is skipped, as RFC 8259 section
 * 8.1 allows (offsets still count it).
 *
 * Floats are read with strtod(), which follows the C library's LC_NUMERIC.
 * klaw never calls setlocale(), so in a program that does not either this is
 * the "C" locale; a program that sets a locale with a decimal comma must
 * convert JSON in the "C" locale (uselocale()). Writing floats does not
 * depend on the locale.
 */
#ifndef KLAW_JSON_H
#define KLAW_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "klaw/export.h"
#include "klaw/mp_reader.h"
#include "klaw/mp_writer.h"
#include "klaw/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The deepest JSON nesting klaw_json_to_mp() accepts: 1024 nested arrays
 * or objects are fine, 1025 are not (the reader's default limit, counted
 * the same way, so whatever JSON -> MessagePack produces the default reader
 * takes, and the other way round). */
#define KLAW_JSON_MAX_DEPTH KLAW_MP_DEFAULT_MAX_DEPTH

/* How many container (array, map, ext) map keys may enclose one another in
 * MessagePack -> JSON (see "Map keys" above). */
#define KLAW_JSON_MAX_KEY_NESTING 4u

/* Receives the next len bytes of JSON text (not NUL-terminated; len > 0).
 * Returns KLAW_OK to go on; any other status stops the conversion, which
 * then returns that status. */
typedef klaw_status (*klaw_json_write_fn)(void *ctx, const char *data, size_t len);

/* Where JSON -> MessagePack failed. */
typedef struct klaw_json_error {
    klaw_status status; /* KLAW_OK, KLAW_DECODE, KLAW_TOOBIG or KLAW_INVAL   */
    size_t offset;      /* DECODE: byte offset in the JSON text             */
    const char *reason; /* static string; NULL when status is KLAW_OK       */
} klaw_json_error;

/* ---- MessagePack -> JSON ------------------------------------------------ */

/* Converts the one value at r's position to JSON text, passed to fn in
 * pieces (the converter stages output in a small buffer on its stack and
 * calls fn when it fills and at the end; fn is never called with len 0).
 * r is left just past the value, so calling again converts the next value
 * of a sequence; trailing bytes are not this call's business (see
 * klaw_mp_reader_finish()). Stack: about 2.5 KiB, plus a 32 KiB nesting
 * stack (a cold path) for values nested more than 32 deep.
 *
 * Returns KLAW_OK when the whole value was converted and written;
 *   KLAW_DECODE when the bytes are malformed, and KLAW_VALIDATE when they
 *     are not but map keys nest too deep for JSON: the error (offset,
 *     reason) is in r->err, sticky as every reader error is; r's position
 *     is then unspecified;
 *   the status fn returned, when fn failed (r->err is not touched; r's
 *     position is then somewhere inside the value).
 * On an error fn may already have received part of the text: a caller that
 * must not show a partial value buffers it (as the klaw tool does).
 * Does not allocate. r is used by this call only for its duration. */
KLAW_API klaw_status klaw_json_from_mp(klaw_mp_reader *r, klaw_json_write_fn fn, void *ctx);

/* Converts mp[0, len), which must be exactly one MessagePack value (a strict
 * reader with default settings; trailing bytes are KLAW_DECODE), into
 * out[0, cap). out may be NULL when cap is 0 (to measure).
 *
 * Returns KLAW_OK: *out_len is the text's length, and out[*out_len] is a NUL
 *     when cap > *out_len (the NUL is not counted and not required);
 *   KLAW_TOOBIG: the text did not fit; the input was still checked to the
 *     end and *out_len is the length the text needs (call again with
 *     cap >= *out_len, or *out_len + 1 for the NUL). out holds a prefix;
 *   KLAW_DECODE / KLAW_VALIDATE: *err (if not NULL) holds the status, the
 *     byte offset in mp and the reason; *out_len is 0. A malformed input
 *     reports DECODE even when the output also overflowed.
 * out_len and err may be NULL. Never writes at or past out + cap. On
 * success err->status is KLAW_OK. */
KLAW_API klaw_status klaw_json_from_mp_buf(const void *mp, size_t len, char *out, size_t cap, size_t *out_len,
                                           klaw_mp_error *err);

/* ---- JSON -> MessagePack ------------------------------------------------ */

/* Parses json[0, len) (need not be NUL-terminated; a NUL byte outside a
 * string is an error) as exactly one JSON value and appends its MessagePack
 * encoding to w, in the smallest encoding for every value, container
 * headers included.
 *
 * How: containers get a 5-byte array32/map32 header while their elements
 * are written (the count is known only at the closing bracket), and a final
 * forward pass over the new bytes rewrites each header in its smallest form,
 * moving the bytes after it down (the write point never passes the read
 * point, so this is done in place). So the writer needs room for the
 * uncompacted form while converting - up to 4 bytes more per array or
 * object than the result.
 *
 * Returns KLAW_OK: the value was appended; w->pos grew by its length;
 *   KLAW_DECODE: the text is not valid JSON (or an integer is out of range,
 *     or nesting exceeds KLAW_JSON_MAX_DEPTH): err holds the byte offset in
 *     json and a short reason; w is restored to its state at the call (its
 *     position and status), though bytes past that position may have been
 *     overwritten;
 *   KLAW_TOOBIG: the text is valid but w ran out of room (sticky in w, as
 *     always): klaw_mp_writer_needed(w) is the capacity that is enough for
 *     the call to succeed (the uncompacted size, counting from w's start);
 *   KLAW_INVAL: a string longer than MessagePack allows (2^32-1 bytes), or
 *     an array/object of more than 2^32-1 elements; or w was already failed
 *     with KLAW_INVAL.
 * If w had already failed with KLAW_TOOBIG before the call, the text is
 * still checked and counted, and the call returns KLAW_TOOBIG (or DECODE).
 * err may be NULL; on success err->status is KLAW_OK. Does not allocate.
 * Stack: under 1 KiB for values nested up to 32 deep; deeper ones move the
 * nesting stack to a 16 KiB array (a cold path). */
KLAW_API klaw_status klaw_json_to_mp(const char *json, size_t len, klaw_mp_writer *w, klaw_json_error *err);

#ifdef __cplusplus
}
#endif

#endif /* KLAW_JSON_H */
