#!/usr/bin/env bash
# test_cli.sh KLAW - the klaw tool's behaviour seen from outside: output,
# exit status, the error message format, empty stdout on error, --stream,
# and hostile inputs that must end quickly with exit status 1.
set -u
KLAW=${1:?usage: test_cli.sh path/to/klaw}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
failures=0

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# run NAME STDIN-FILE ARGS... : runs klaw with a 20 s limit; sets rc, out, err
run() {
    local input=$1
    shift
    timeout 20 "$KLAW" "$@" <"$input" >"$T/out" 2>"$T/err"
    rc=$?
    out=$(od -An -v -tx1 "$T/out" | tr -d ' \n')
    err=$(cat "$T/err")
}

# expect_ok DESC WANT-STDOUT-TEXT
expect_ok() {
    local desc=$1 want=$2
    [ "$rc" -eq 0 ] || fail "$desc: exit $rc (stderr: $err)"
    [ "$(cat "$T/out")" = "$want" ] || fail "$desc: stdout '$(cat "$T/out")', want '$want'"
    [ -z "$err" ] || fail "$desc: stderr not empty: $err"
}

# expect_error DESC WANT-STDERR [WANT-STDOUT-TEXT]
expect_error() {
    local desc=$1 want=$2 want_out=${3-}
    [ "$rc" -eq 1 ] || fail "$desc: exit $rc, want 1"
    [ "$err" = "$want" ] || fail "$desc: stderr '$err', want '$want'"
    [ "$(cat "$T/out")" = "$want_out" ] || fail "$desc: stdout '$(cat "$T/out")', want '$want_out'"
}

bytes() { printf "$1" >"$T/in"; }

# ---- the tool itself ---------------------------------------------------------
: >"$T/empty"
run "$T/empty" --version
[ "$rc" -eq 0 ] && [[ "$(cat "$T/out")" =~ ^klaw\ [0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "--version: '$(cat "$T/out")' exit $rc"
run "$T/empty" --help
[ "$rc" -eq 0 ] && grep -q 'decode' "$T/out" && grep -q 'encode' "$T/out" || fail "--help lists no commands"
run "$T/empty"
[ "$rc" -eq 2 ] && [ -z "$(cat "$T/out")" ] || fail "no command: exit $rc, want 2"
run "$T/empty" frobnicate
[ "$rc" -eq 2 ] && [ "$err" = "klaw: unknown command 'frobnicate' (see klaw --help)" ] || fail "unknown command: $rc $err"
run "$T/empty" decode --bogus
[ "$rc" -eq 2 ] || fail "unknown option: exit $rc, want 2"
run "$T/empty" decode --help
[ "$rc" -eq 0 ] && grep -q -- '--stream' "$T/out" || fail "decode --help"
run "$T/empty" decode "$T/no-such-file"
[ "$rc" -eq 1 ] && [[ "$err" == "klaw: cannot open $T/no-such-file: "* ]] || fail "missing file: $rc $err"

# ---- decode ----------------------------------------------------------------
bytes '\x93\x01\xa1a\xc3'
run "$T/in" decode
expect_ok "decode from stdin" '[1,"a",true]'
run "$T/empty" decode "$T/in"
expect_ok "decode from a file" '[1,"a",true]'
run "$T/in" decode -
expect_ok "decode from - (stdin)" '[1,"a",true]'
bytes '\x82\xa1t\xd7\xff\x00\x00\x00\x04\x5f\xee\x66\x00\x01\xc4\x03\x01\x02\x03'
run "$T/in" decode
expect_ok "decode of timestamp and a bin key" '{"t":"2021-01-01T00:00:00.000000001Z","1":"AQID"}'

bytes '\x93\x01\x02\xc1'
run "$T/in" decode
expect_error "0xc1" "klaw: decode error at byte 3: invalid byte 0xc1"
bytes '\x01\x02'
run "$T/in" decode
expect_error "trailing bytes" "klaw: decode error at byte 1: trailing bytes after value"
run "$T/empty" decode
expect_error "empty input" "klaw: decode error at byte 0: unexpected end of input"
bytes '\xa2\xc3\x28'
run "$T/in" decode
expect_error "invalid UTF-8" "klaw: decode error at byte 1: invalid UTF-8 in str"

# ---- decode --stream -------------------------------------------------------
bytes '\x01\xa1a\x90\x81\x01\xc0'
run "$T/in" decode --stream
expect_ok "--stream" $'1\n"a"\n[]\n{"1":null}'
run "$T/empty" decode --stream
expect_ok "--stream of nothing" ''
bytes '\x01\x92\x02\x03\x92\x04\xc1\x05'
run "$T/in" decode --stream
expect_error "--stream stops at the bad value" "klaw: decode error at byte 6: invalid byte 0xc1" $'1\n[2,3]'

# values of 128 KiB, each printed whole (the tool's no-copy path)
{ printf '\xdb\x00\x02\x00\x00'; head -c 131072 /dev/zero | tr '\0' a; printf '\x01\xdb\x00\x02\x00\x00'; head -c 131072 /dev/zero | tr '\0' b; } >"$T/in"
run "$T/in" decode --stream
[ "$rc" -eq 0 ] && [ "$(awk '{ print length($0) }' "$T/out" | tr '\n' ' ')" = "131074 1 131074 " ] || fail "--stream of big values: exit $rc"
[ "$(head -c 3 "$T/out")" = '"aa' ] && [ "$(tail -c 4 "$T/out" | od -An -tx1 | tr -d ' ')" = 6262220a ] || fail "--stream of big values: wrong text"

# ---- decode --envelope (klaw-core's wire v1) -----------------------------------
run "$T/empty" decode --help
grep -q -- '--envelope' "$T/out" || fail "decode --help does not mention --envelope"
bytes '\x93\x01\x95\x01\x01\xa4chan\x05\xcf\x00\x00\x01\x8b\xcf\xe5\x68\x00\x81\xa1a\x92\x01\x02'
run "$T/in" decode --envelope
expect_ok "--envelope data" '{"type":"data","header":{"version":1,"kind":1,"channel_id":"chan","seq":5,"ts_ms":1700000000000},"payload":{"a":[1,2]}}'
bytes '\x94\x02\x95\x01\x02\xa1c\x06\xff\xa5close\xc0'
run "$T/in" decode --envelope
expect_ok "--envelope control" '{"type":"control","header":{"version":1,"kind":2,"channel_id":"c","seq":6,"ts_ms":-1},"action":"close","metadata":null}'
# a heartbeat with its sender_id absent, a data message, an ack of defaults
bytes '\x92\x03\x95\x01\x03\xa0\x00\x00\x93\x01\x90\x01\x92\x04\x92\x01\x04'
run "$T/in" decode --envelope --stream
expect_ok "--envelope --stream" '{"type":"heartbeat","header":{"version":1,"kind":3,"channel_id":"","seq":0,"ts_ms":0},"sender_id":""}
{"type":"data","header":{"version":1,"kind":1,"channel_id":"","seq":0,"ts_ms":0},"payload":1}
{"type":"ack","header":{"version":1,"kind":4,"channel_id":"","seq":0,"ts_ms":0},"acked_seq":0,"status":"ok"}'
bytes '\x95\x05\x92\x01\x05\xa1E\xa1m\x81\xa1k\xa1v'
run "$T/in" decode --stream --envelope
expect_ok "--envelope error" '{"type":"error","header":{"version":1,"kind":5,"channel_id":"","seq":0,"ts_ms":0},"code":"E","message":"m","details":{"k":"v"}}'
bytes '\x93\x02\x95\x01\x01\xa1c\x05\x00\xc0'
run "$T/in" decode --envelope
expect_error "--envelope tag/kind mismatch" 'klaw: validation error at byte 4: Header kind 1 (data) does not match tag 2 (control) - at `$[1][1]`'
bytes '\x93\x01\x95\x01\x01\x07\x00\x00\xc0'
run "$T/in" decode --envelope
expect_error "--envelope channel_id not a str" 'klaw: validation error at byte 5: Expected `str`, got `int` - at `$[1][2]`'
bytes '\x93\x06\x90\xc0'
run "$T/in" decode --envelope
expect_error "--envelope unknown tag" 'klaw: validation error at byte 1: Invalid value 6 - at `$[0]`'
bytes '\x92\x01\x90'
run "$T/in" decode --envelope
expect_error "--envelope too short" 'klaw: validation error at byte 0: Expected `array` of at least length 3, got 2 - at `$`'
bytes '\x93\x01\x90\x91\xc1'
run "$T/in" decode --envelope
expect_error "--envelope malformed payload" "klaw: decode error at byte 4: invalid byte 0xc1"
bytes '\x93\x01\x90\x01\x02'
run "$T/in" decode --envelope
expect_error "--envelope trailing bytes" "klaw: decode error at byte 4: trailing bytes after value"
bytes '\x93\x01\x90\x01\x93\x01\x90\x02\x93\x01\x92\x01\x02\x03'
run "$T/in" decode --envelope --stream
expect_error "--envelope --stream stops at the bad envelope" 'klaw: validation error at byte 12: Header kind 2 (control) does not match tag 1 (data) - at `$[1][1]`' '{"type":"data","header":{"version":1,"kind":1,"channel_id":"","seq":0,"ts_ms":0},"payload":1}
{"type":"data","header":{"version":1,"kind":1,"channel_id":"","seq":0,"ts_ms":0},"payload":2}'
run "$T/empty" decode --envelope
expect_error "--envelope of nothing" "klaw: decode error at byte 0: unexpected end of input"
head -c 2000000 /dev/urandom >"$T/in"
run "$T/in" decode --envelope --stream
[ "$rc" -le 1 ] || fail "--envelope of random bytes: exit $rc (crash or timeout?)"

# ---- hostile input ----------------------------------------------------------
bytes '\xdd\xff\xff\xff\xff'
run "$T/in" decode
expect_error "array32 of 4 billion" "klaw: decode error at byte 0: array length exceeds input"
bytes '\xdf\xff\xff\xff\xff\x01\x01'
run "$T/in" decode --stream
expect_error "map32 of 4 billion" "klaw: decode error at byte 0: map length exceeds input"
head -c 100000 /dev/zero | tr '\0' '\221' >"$T/in"
printf '\x90' >>"$T/in"
run "$T/in" decode
expect_error "100k nested arrays" "klaw: decode error at byte 1024: nesting too deep"
head -c 100000 /dev/zero | tr '\0' '\201' >"$T/in"
run "$T/in" decode
[ "$rc" -eq 1 ] && [ ! -s "$T/out" ] || fail "100k nested maps: exit $rc"
head -c 2000000 /dev/urandom >"$T/in"
run "$T/in" decode --stream
[ "$rc" -le 1 ] || fail "random bytes: exit $rc (crash or timeout?)"
# ~ quotes inside container keys inside container keys: refused, not blown up
{ printf '\x81\x81\x81\x81\x81\x91\xdb\x00\x10\x00\x00'; head -c 1048576 /dev/zero | tr '\0' '"'; printf '\xc0\xc0\xc0\xc0\xc0'; } >"$T/in"
run "$T/in" decode
expect_error "deeply nested keys" "klaw: validation error at byte 5: map keys nested too deep for JSON"

# ---- encode ------------------------------------------------------------------
printf '{"a":[1,-2,3.5,"x"],"b":null}' >"$T/in"
run "$T/in" encode
[ "$rc" -eq 0 ] && [ "$out" = "82a1619401fecb400c000000000000a178a162c0" ] || fail "encode: $rc '$out' $err"
run "$T/empty" encode "$T/in"
[ "$rc" -eq 0 ] && [ "$out" = "82a1619401fecb400c000000000000a178a162c0" ] || fail "encode FILE: $rc '$out' $err"
# encode | decode gives back canonical text
printf '{"k":[1,18446744073709551615,-9223372036854775808,0.1,1e+300,"\\u0001\xc3\xa9"],"e":{}}' >"$T/in"
"$KLAW" encode "$T/in" >"$T/mp" && "$KLAW" decode "$T/mp" >"$T/back" || fail "encode | decode failed"
[ "$(cat "$T/back")" = "$(cat "$T/in")" ] || fail "round trip: '$(cat "$T/back")'"

printf '[1,]' >"$T/in"
run "$T/in" encode
expect_error "encode: trailing comma" "klaw: encode error at byte 2: trailing comma"
printf '{"a":18446744073709551616}' >"$T/in"
run "$T/in" encode
expect_error "encode: integer out of range" "klaw: encode error at byte 5: integer out of range"
printf '["\xff"]' >"$T/in"
run "$T/in" encode
expect_error "encode: invalid UTF-8" "klaw: encode error at byte 2: invalid UTF-8"
run "$T/empty" encode
expect_error "encode: empty input" "klaw: encode error at byte 0: unexpected end of input"
head -c 100000 /dev/zero | tr '\0' '[' >"$T/in"
run "$T/in" encode
expect_error "encode: 100k open brackets" "klaw: encode error at byte 1024: nesting too deep"
# a document of many floats and empty arrays (MessagePack bigger than the text)
{ printf '['; for i in $(seq 1 2000); do printf '1.0,[],'; done; printf '0]'; } >"$T/in"
run "$T/in" encode
[ "$rc" -eq 0 ] || fail "encode of floats and empty arrays: exit $rc $err"

if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed" >&2
    exit 1
fi
echo "all CLI checks passed"
