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

# ---- channels: ls, stat, tail, send, rm ---------------------------------------
# chan_helper (tests/chan_helper.c) makes the channels and holds their
# handles; names are unique to this run. Times, ts_ms and the tool's own pid
# vary: norm() masks them, everything else is compared exactly.
HELPER=${2:?usage: test_cli.sh path/to/klaw path/to/chan_helper}
P=cli-$$
HOST=$(uname -n)
helpers=()
cleanup() {
    for p in "${helpers[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${helpers[@]}"; do wait "$p" 2>/dev/null; done
    for n in m b bb bo w o o2 bad ring new cm cb cw co cx hm hb hw lag g1 g2 g3; do rm -f "/dev/shm/klaw.$P-$n"; done
    rm -rf "$T"
}
trap cleanup EXIT

# start_helper ARGS... : runs chan_helper in the background until it says
# "ready"; sets hpid
start_helper() {
    local f="$T/helper.${#helpers[@]}"
    "$HELPER" "$@" >"$f" &
    hpid=$!
    helpers+=("$hpid")
    for _ in $(seq 1 200); do
        [ "$(cat "$f")" = ready ] && return 0
        sleep 0.05
    done
    fail "chan_helper $*: not ready"
}

# stop_helper PID: SIGTERM; the helper frees its handles and exits 0
stop_helper() {
    kill "$1"
    wait "$1" || fail "chan_helper $1 exited $?"
}

norm() {
    sed -E 's/"(created_at|registered_at|last_seen_at)":"[^"]*"/"\1":"T"/g; s/"ts_ms":[0-9]+/"ts_ms":0/g;
            s/^(created_at +).*/\1T/; s/klaw-tail-[0-9]+/klaw-tail-PID/g; s/"last_seen_age_ms":[0-9]+/"last_seen_age_ms":0/g'
}

# runn ARGS... : run with stdout normalised into $outn
runn() {
    run "$@"
    outn=$(norm <"$T/out")
}

# expect_okn DESC WANT : exit 0, empty stderr, normalised stdout WANT
expect_okn() {
    [ "$rc" -eq 0 ] || fail "$1: exit $rc (stderr: $err)"
    [ "$outn" = "$2" ] || fail "$1: stdout '$outn', want '$2'"
    [ -z "$err" ] || fail "$1: stderr not empty: $err"
}

# wait_stat NAME PATTERN : until `klaw stat --json NAME` matches the glob
# PATTERN (10 s at most)
wait_stat() {
    for _ in $(seq 1 200); do
        [[ "$("$KLAW" stat --json "$1" 2>/dev/null)" == $2 ]] && return 0
        sleep 0.05
    done
    fail "stat of $1 never matched $2"
}

# wait_lines FILE N : until FILE has N lines (10 s at most)
wait_lines() {
    for _ in $(seq 1 200); do
        [ "$(wc -l <"$1")" -ge "$2" ] && return 0
        sleep 0.05
    done
    return 1
}

# ---- mpmc ----
M=$P-m
start_helper mpmc "$M" 8 64 Order
mpid=$hpid
META_M="{\"channel_type\":\"mpmc\",\"capacity\":8,\"unbounded\":false,\"value_type\":\"Order\",\"max_frame\":64,\"name\":\"$M\",\"created_at\":\"T\",\"creator\":\"$HOST:$mpid\"}"

runn "$T/empty" ls --json
[ "$rc" -eq 0 ] || fail "ls --json: exit $rc"
[ "$(grep -F "\"name\":\"$M\"" <<<"$outn")" = "$META_M" ] || fail "ls --json: '$outn'"
run "$T/empty" ls
[ "$rc" -eq 0 ] && [ "$(head -1 "$T/out" | tr -s ' ')" = "NAME KIND CAPACITY MAX_FRAME CREATOR" ] || fail "ls header: $(head -1 "$T/out")"
[ "$(awk -v n="$M" '$1 == n { print $2, $3, $4, $5 }' "$T/out")" = "mpmc 8 64 $HOST:$mpid" ] || fail "ls row: $(cat "$T/out")"

runn "$T/empty" stat --json "$M"
expect_okn "stat --json mpmc" "{\"metadata\":$META_M,\"stats\":{\"sender_count\":1,\"receiver_count\":1,\"queue_size\":0,\"capacity\":8,\"senders_closed\":false,\"receivers_closed\":false,\"created_at\":\"T\",\"high_watermark\":0,\"total_sent\":0,\"total_received\":0,\"backend_extras\":{\"max_frame\":64,\"aborted_claims\":0,\"redelivered\":0,\"reaped_handles\":0}},\"readers\":[]}"

run "$T/empty" send "$M" '{"a":[1,2]}'
expect_ok "send an argument" ''
printf '"hello"' >"$T/in"
run "$T/in" send --envelope "$M"
expect_ok "send --envelope from stdin" ''
printf '1\n\n  \n[2]\n{"x":null}' >"$T/in"
run "$T/in" send --lines "$M"
expect_ok "send --lines" ''

runn "$T/empty" stat "$M"
expect_okn "stat mpmc" "channel         $M
kind            mpmc
capacity        8
max_frame       64 B
value_type      Order
created_at      T
creator         $HOST:$mpid

senders         1
receivers       1
queue_size      5
high_watermark  5
total_sent      5
total_received  0
closed          no
aborted_claims  0
redelivered     0
reaped_handles  0"

# inspection took no handle and moved nothing
runn "$T/empty" stat --json "$M"
[[ "$outn" == *'"sender_count":1,"receiver_count":1,"queue_size":5,'* ]] || fail "stat changed counts: $outn"

run "$T/empty" tail "$M"
expect_error "tail of an mpmc without --consume" "klaw: '$M' is an mpmc channel: each frame goes to one receiver, so tail would take frames from its consumers; pass --consume to do that"
runn "$T/empty" tail --consume -n 2 "$M"
expect_okn "tail --consume -n 2" "{\"a\":[1,2]}
{\"type\":\"data\",\"header\":{\"version\":1,\"kind\":1,\"channel_id\":\"$M\",\"seq\":1,\"ts_ms\":0},\"payload\":\"hello\"}"
runn "$T/empty" tail --consume "$M"
expect_okn "tail --consume takes the rest" $'1\n[2]\n{"x":null}'
runn "$T/empty" tail --consume "$M"
expect_okn "tail --consume of an empty channel" ''

# --raw shows an envelope as the array it is
run "$T/empty" send --envelope "$M" 7
run "$T/empty" tail --consume --raw "$M"
[ "$rc" -eq 0 ] && [[ "$(cat "$T/out")" =~ ^\[1,\[1,1,\"$M\",5,[0-9]+\],7\]$ ]] || fail "tail --raw: $rc '$(cat "$T/out")'"

# malformed input: nothing sent
run "$T/empty" send "$M" '[1,]'
expect_error "send of malformed JSON" "klaw: encode error at byte 2: trailing comma"
printf '{"a":\n1' >"$T/in"
run "$T/in" send "$M"
expect_error "send of malformed JSON from stdin" "klaw: encode error at byte 7: unexpected end of input"
printf '1\n[1,\n3\n' >"$T/in"
run "$T/in" send --lines "$M"
expect_error "send --lines stops at the bad line" "klaw: encode error at byte 5: unexpected end of input"
runn "$T/empty" tail --consume "$M"
expect_okn "only the line before the bad one was sent" '1'
run "$T/empty" send "$M" "\"$(head -c 100 /dev/zero | tr '\0' a)\""
expect_error "send of a frame over max_frame" "klaw: frame of 102 bytes is larger than the max_frame (64) of '$M'; not sent"

# a full channel and --timeout
seq 1 8 >"$T/in"
run "$T/in" send --lines "$M"
expect_ok "fill the ring" ''
run "$T/empty" send --timeout 0 "$M" 9
expect_error "send to a full channel" "klaw: channel '$M' stayed full; not sent"
run "$T/empty" send --timeout 50 "$M" 9
expect_error "send to a full channel with a timeout" "klaw: channel '$M' stayed full; not sent"
runn "$T/empty" tail --consume -n 100 "$M"
expect_okn "drain" "$(seq 1 8)"

# a frame that is not MessagePack: reported with its seq, tail goes on
printf '\x92\x01\xc1' | "$HELPER" sendraw "$M" || fail "sendraw"
run "$T/empty" send "$M" '"after"'
run "$T/empty" tail --consume "$M"
[ "$rc" -eq 1 ] || fail "tail of a bad frame: exit $rc"
[ "$err" = "klaw: frame 15: decode error at byte 2: invalid byte 0xc1" ] || fail "tail of a bad frame: stderr '$err'"
[ "$(cat "$T/out")" = '"after"' ] || fail "tail after a bad frame: '$(cat "$T/out")'"

# --follow: prints frames as they come, stops on SIGTERM
"$KLAW" tail --consume --follow "$M" >"$T/follow" 2>"$T/follow.err" &
tpid=$!
printf '"f1"\n"f2"\n"f3"\n' >"$T/in"
run "$T/in" send --lines "$M"
wait_lines "$T/follow" 3 || fail "tail --follow: got '$(cat "$T/follow")'"
kill -TERM "$tpid"
wait "$tpid"
trc=$?
[ "$trc" -eq 0 ] && [ "$(cat "$T/follow")" = $'"f1"\n"f2"\n"f3"' ] && [ ! -s "$T/follow.err" ] ||
    fail "tail --follow: exit $trc, '$(cat "$T/follow")' $(cat "$T/follow.err")"
# ... behind a producer killed mid-claim: tail -f waits in short slices, and
# the channel's liveness clock still reaps the dead claim, so the later
# frames come out within about a second (before: nothing, ever)
"$KLAW" tail -f -n 3 --consume "$M" >"$T/follow" 2>"$T/follow.err" &
tpid=$!
"$HELPER" claimdie "$M" || fail "chan_helper claimdie: exit $?"
printf '"k1"\n"k2"\n"k3"\n' >"$T/in"
run "$T/in" send --lines "$M"
t0=$(date +%s%N)
wait_lines "$T/follow" 3 || fail "tail -f behind a dead claim: got '$(cat "$T/follow")'"
t1=$(date +%s%N)
echo "tail -f behind a dead claim: the later frames after $(( (t1 - t0) / 1000000 )) ms"
wait "$tpid"
trc=$?
[ "$trc" -eq 0 ] && [ "$(cat "$T/follow")" = $'"k1"\n"k2"\n"k3"' ] ||
    fail "tail -f behind a dead claim: exit $trc, '$(cat "$T/follow")' $(cat "$T/follow.err")"
runn "$T/empty" stat "$M"
[[ "$outn" == *$'aborted_claims  1'* ]] || fail "stat after a dead claim: $outn"
# ... and ends by itself when the senders close
"$KLAW" tail --consume --follow "$M" >"$T/follow" 2>"$T/follow.err" &
tpid=$!
wait_stat "$M" '*"receiver_count":2,*'
stop_helper "$mpid"
for _ in $(seq 1 100); do kill -0 "$tpid" 2>/dev/null || break; sleep 0.05; done
if kill -0 "$tpid" 2>/dev/null; then
    fail "tail --follow did not end when the senders closed"
    kill "$tpid"
fi
wait "$tpid"
trc=$?
[ "$trc" -eq 0 ] || fail "tail --follow after close: exit $trc"
runn "$T/empty" stat "$M"
[[ "$outn" == *$'senders         0\nreceivers       0'*'closed          senders, receivers'* ]] || fail "stat after close: $outn"
run "$T/empty" send "$M" 1
expect_error "send to a closed channel" "klaw: channel '$M' is closed to senders"
run "$T/empty" rm "$M"
expect_ok "rm" ''
run "$T/empty" stat "$M"
expect_error "stat of a removed channel" "klaw: no channel named '$M' (no /dev/shm/klaw.$M)"
run "$T/empty" rm "$M"
expect_error "rm of a removed channel" "klaw: no channel named '$M' (no /dev/shm/klaw.$M)"
run "$T/empty" tail --consume "$M"
expect_error "tail of a missing channel" "klaw: no channel named '$M' (no /dev/shm/klaw.$M)"
run "$T/empty" send "$M" 1
expect_error "send to a missing channel" "klaw: no channel named '$M' (no /dev/shm/klaw.$M)"
run "$T/empty" stat 'a/b'
expect_error "stat of a bad name" "klaw: invalid channel name 'a/b' (1..200 characters of A-Z a-z 0-9 . _ -)"

# ---- broadcast ----
B=$P-b
start_helper bcast "$B" 4 64 overwrite rdr1
bpid=$hpid
for i in 1 2 3 4 5 6; do run "$T/empty" send "$B" "$i"; expect_ok "broadcast send $i" ''; done
runn "$T/empty" tail -n 3 "$B"
expect_okn "broadcast tail -n 3: the last retained" $'4\n5\n6'
runn "$T/empty" tail "$B"
expect_okn "broadcast tail: all 4 retained" $'3\n4\n5\n6'
runn "$T/empty" stat --json "$B"
expect_okn "stat --json broadcast" "{\"metadata\":{\"channel_type\":\"broadcast\",\"capacity\":4,\"unbounded\":false,\"value_type\":null,\"max_frame\":64,\"policy\":\"overwrite\",\"name\":\"$B\",\"created_at\":\"T\",\"creator\":\"$HOST:$bpid\"},\"stats\":{\"sender_count\":1,\"receiver_count\":1,\"queue_size\":4,\"capacity\":4,\"senders_closed\":false,\"receivers_closed\":false,\"created_at\":\"T\",\"high_watermark\":4,\"total_sent\":6,\"total_received\":8,\"backend_extras\":{\"max_frame\":64,\"policy\":\"overwrite\",\"lagged\":0,\"aborted_claims\":0,\"evicted\":0}},\"readers\":[{\"reader_id\":\"rdr1\",\"node_id\":\"$HOST:$bpid\",\"registered_at\":\"T\",\"last_seen_at\":\"T\",\"total_received\":0,\"lag\":6,\"last_seen_age_ms\":0}]}"
runn "$T/empty" stat "$B"
[[ "$outn" == *$'policy          overwrite\n'* && "$outn" == *$'readers         1\n'*"  rdr1 "*"$HOST:$bpid"* ]] || fail "stat broadcast: $outn"
# each reader's lag (rdr1 read none of the 6 frames) and last-seen age
[[ "$outn" == *'READER_ID'*'LAG'*'LAST_SEEN'*'RECEIVED'*$'REGISTERED_AT\n'* ]] || fail "stat broadcast readers' head: $outn"
[[ "$(grep '  rdr1 ' <<<"$outn" | tr -s ' ')" =~ ^\ rdr1\ $HOST:$bpid\ 6\ [0-9.]+\ (ms|s)\ ago\ 0\ [0-9T:.Z-]+$ ]] ||
    fail "stat broadcast reader row: $(grep '  rdr1 ' <<<"$outn")"
# --follow prints new frames; a reader that fell behind is told on stderr
"$KLAW" tail -n 0 --follow "$B" >"$T/follow" 2>"$T/follow.err" &
tpid=$!
wait_stat "$B" '*"reader_id":"klaw-tail-'"$tpid"'"*'
printf '"g1"\n"g2"\n' >"$T/in"
run "$T/in" send --lines --envelope "$B"
wait_lines "$T/follow" 2 || fail "broadcast tail --follow: '$(cat "$T/follow")'"
runn "$T/empty" stat --json "$B"
[[ "$outn" == *'"reader_id":"klaw-tail-PID"'* ]] || fail "tail's reader is not registered: $outn"
kill -TERM "$tpid"
wait "$tpid"
trc=$?
[ "$trc" -eq 0 ] && [ "$(norm <"$T/follow")" = "{\"type\":\"data\",\"header\":{\"version\":1,\"kind\":1,\"channel_id\":\"$B\",\"seq\":6,\"ts_ms\":0},\"payload\":\"g1\"}
{\"type\":\"data\",\"header\":{\"version\":1,\"kind\":1,\"channel_id\":\"$B\",\"seq\":7,\"ts_ms\":0},\"payload\":\"g2\"}" ] ||
    fail "broadcast tail --follow: exit $trc '$(cat "$T/follow")' $(cat "$T/follow.err")"
runn "$T/empty" stat --json "$B"
[[ "$outn" != *klaw-tail* ]] || fail "tail's reader stayed registered: $outn"
stop_helper "$bpid"

# no readers: overwrite keeps the frame (a note), block sends nothing
BO=$P-bo
start_helper bcast "$BO" 4 64 overwrite
run "$T/empty" send "$BO" 1
[ "$rc" -eq 0 ] && [ "$err" = "klaw: note: broadcast '$BO' has no readers; the frame stays in its ring" ] || fail "overwrite, no readers: $rc $err"
stop_helper "$hpid"
BB=$P-bb
start_helper bcast "$BB" 4 64 block
run "$T/empty" send "$BB" 1
expect_error "block, no readers" "klaw: broadcast '$BB' has no readers (policy block); not sent"
stop_helper "$hpid"

# ---- watch ----
W=$P-w
start_helper watch "$W" 64 '{"v":0}'
runn "$T/empty" tail "$W"
expect_okn "watch tail: the current value" '{"v":0}'
run "$T/empty" send "$W" '{"v":1}'
expect_ok "watch send" ''
run "$T/empty" send --envelope "$W" '{"v":2}'
runn "$T/empty" tail "$W"
expect_okn "watch tail after sends" "{\"type\":\"data\",\"header\":{\"version\":1,\"kind\":1,\"channel_id\":\"$W\",\"seq\":2,\"ts_ms\":0},\"payload\":{\"v\":2}}"
runn "$T/empty" stat --json "$W"
[[ "$outn" == *'"stats":{"sender_count":1,"receiver_count":0,"queue_size":1,"capacity":1,'*'"total_sent":2,'*'"backend_extras":{"max_frame":64,"version":2,'* ]] || fail "watch stat: $outn"
# -f: the current value, then each new one
"$KLAW" tail -f "$W" >"$T/follow" 2>"$T/follow.err" &
tpid=$!
wait_lines "$T/follow" 1 || fail "watch tail -f: no current value"
run "$T/empty" send "$W" '{"v":3}'
wait_lines "$T/follow" 2 || fail "watch tail -f: '$(cat "$T/follow")'"
run "$T/empty" send "$W" '{"v":4}'
wait_lines "$T/follow" 3 || fail "watch tail -f: '$(cat "$T/follow")'"
kill -TERM "$tpid"
wait "$tpid"
trc=$?
[ "$trc" -eq 0 ] && [ "$(norm <"$T/follow" | tail -2)" = $'{"v":3}\n{"v":4}' ] ||
    fail "watch tail -f: exit $trc '$(cat "$T/follow")' $(cat "$T/follow.err")"
stop_helper "$hpid"

# ---- oneshot ----
O=$P-o
start_helper oneshot "$O" 64
run "$T/empty" tail "$O"
expect_error "oneshot tail without --consume" "klaw: '$O' is a oneshot channel: its one value goes to its one receiver, so tail would take the value and the receiver role; pass --consume to do that"
run "$T/empty" tail --consume "$O"
expect_error "oneshot tail before a send" "klaw: oneshot '$O' holds no value (not sent yet)"
run "$T/empty" send "$O" '"once"'
expect_ok "oneshot send" ''
run "$T/empty" send "$O" '"twice"'
expect_error "oneshot second send" "klaw: oneshot '$O' was already sent; not sent"
runn "$T/empty" tail --consume "$O"
expect_okn "oneshot tail --consume" '"once"'
run "$T/empty" tail --consume "$O"
expect_error "oneshot taken" "klaw: oneshot '$O' holds no value (it was taken)"
stop_helper "$hpid"
# --consume --follow waits for the value
O2=$P-o2
start_helper oneshot "$O2" 64
"$KLAW" tail --consume --follow "$O2" >"$T/follow" 2>"$T/follow.err" &
tpid=$!
wait_stat "$O2" '*"receiver_count":1,*'
run "$T/empty" send --envelope "$O2" '[true]'
wait "$tpid"
trc=$?
[ "$trc" -eq 0 ] && [ "$(norm <"$T/follow")" = "{\"type\":\"data\",\"header\":{\"version\":1,\"kind\":1,\"channel_id\":\"$O2\",\"seq\":0,\"ts_ms\":0},\"payload\":[true]}" ] ||
    fail "oneshot tail --follow: exit $trc '$(cat "$T/follow")' $(cat "$T/follow.err")"
stop_helper "$hpid"

# ---- a channel being created ----
start_helper unready "$P-new"
run "$T/empty" ls
[ "$(grep "^$P-new " "$T/out" | tr -s ' ')" = "$P-new ? - - (being created)" ] || fail "ls of a region being created: $(cat "$T/out")"
run "$T/empty" ls --json
grep -qxF "{\"name\":\"$P-new\",\"error\":\"being created\"}" "$T/out" || fail "ls --json of a region being created"
run "$T/empty" stat "$P-new"
expect_error "stat of a region being created" "klaw: channel '$P-new' is still being created"
stop_helper "$hpid"
run "$T/empty" stat "$P-new"
expect_error "stat of a region whose creator gave up" "klaw: channel '$P-new' is corrupt: not a valid klaw region (bad header, size or offsets, or its creator died before it was ready)"
run "$T/empty" rm "$P-new"

# ---- corrupt regions ----
"$HELPER" badmeta "$P-bad" || fail "badmeta"
"$HELPER" badring "$P-ring" || fail "badring"
run "$T/empty" ls
[ "$(grep "^$P-bad " "$T/out" | tr -s ' ')" = "$P-bad ? - - (corrupt: metadata record does not decode as a ChannelMetadata)" ] || fail "ls of a corrupt region: $(cat "$T/out")"
run "$T/empty" ls --json
grep -qxF "{\"name\":\"$P-bad\",\"error\":\"metadata record does not decode as a ChannelMetadata\"}" "$T/out" || fail "ls --json of a corrupt region: $(cat "$T/out")"
run "$T/empty" stat "$P-bad"
expect_error "stat of a corrupt region" "klaw: channel '$P-bad' is corrupt: metadata record does not decode as a ChannelMetadata"
run "$T/empty" stat --json "$P-ring"
[ "$rc" -eq 1 ] && [ "$err" = "klaw: channel '$P-ring' is corrupt: its mpmc layout fails validation" ] || fail "stat of a bad ring: $rc $err"
[[ "$(norm <"$T/out")" == '{"metadata":{"channel_type":"mpmc",'*'"stats":null,"readers":[]}' ]] || fail "stat of a bad ring: $(cat "$T/out")"
run "$T/empty" send "$P-ring" 1
expect_error "send to a bad ring" "klaw: channel '$P-ring' is corrupt: its mpmc layout fails validation"
run "$T/empty" rm "$P-bad" "$P-ring"
expect_ok "rm of corrupt regions" ''

# ---- create ----
# every kind, then what it made, as stat sees it
run "$T/empty" create mpmc "$P-cm" --capacity 5 --max-frame 1KiB --value-type Order --single-reader
expect_ok "create mpmc" ''
runn "$T/empty" stat --json "$P-cm"
[[ "$outn" == '{"metadata":{"channel_type":"mpmc","capacity":8,"unbounded":false,"value_type":"Order","max_frame":1024,'*'"stats":{"sender_count":0,"receiver_count":0,'* ]] ||
    fail "create mpmc: $outn"
[ "$(stat -c %a "/dev/shm/klaw.$P-cm")" = 600 ] || fail "create mpmc: mode $(stat -c %a "/dev/shm/klaw.$P-cm"), want 600"
run "$T/empty" create broadcast "$P-cb" --capacity=16 --max-frame 64 --policy block --max-readers 4 --max-writers 2
expect_ok "create broadcast" ''
runn "$T/empty" stat --json "$P-cb"
[[ "$outn" == '{"metadata":{"channel_type":"broadcast","capacity":16,'*'"max_frame":64,"policy":"block",'* ]] || fail "create broadcast: $outn"
run "$T/empty" create watch "$P-cw" --max-frame 64 --slots 4 --initial '{"v":0}'
expect_ok "create watch" ''
runn "$T/empty" tail "$P-cw"
expect_okn "create watch: tail shows --initial" '{"v":0}'
run "$T/empty" create oneshot "$P-co" --max-frame 4K
expect_ok "create oneshot" ''
runn "$T/empty" stat "$P-co"
[[ "$outn" == *$'kind            oneshot\n'*$'max_frame       4 KiB\n'* ]] || fail "create oneshot: $outn"

# create -> send -> tail, each kind, by other processes
run "$T/empty" send "$P-cm" '{"id":1}'
expect_ok "send to a created mpmc" ''
runn "$T/empty" tail --consume "$P-cm"
expect_okn "tail of a created mpmc" '{"id":1}'
run "$T/empty" send "$P-cw" '{"v":1}'
runn "$T/empty" tail "$P-cw"
expect_okn "tail of a created watch" '{"v":1}'
run "$T/empty" send "$P-co" '"once"'
runn "$T/empty" tail --consume "$P-co"
expect_okn "tail of a created oneshot" '"once"'
# (broadcast, block: a reader first)
"$KLAW" tail -n 0 --follow "$P-cb" >"$T/follow" 2>"$T/follow.err" &
tpid=$!
wait_stat "$P-cb" '*"reader_id":"klaw-tail-'"$tpid"'"*'
printf '1\n2\n' >"$T/in"
run "$T/in" send --lines "$P-cb"
expect_ok "send to a created broadcast" ''
wait_lines "$T/follow" 2 || fail "tail of a created broadcast: '$(cat "$T/follow")'"
wait "$tpid" # (the one sender left: closed, tail ends by itself)
[ "$?" -eq 0 ] && [ "$(cat "$T/follow")" = $'1\n2' ] || fail "tail of a created broadcast: '$(cat "$T/follow")'"
# without --hold, a side closes for good once its one process left
run "$T/empty" send "$P-cm" 2
expect_error "send to a created mpmc whose first sender left" "klaw: channel '$P-cm' is closed to senders"
run "$T/empty" create mpmc "$P-cm"
expect_error "create of a name that is taken" "klaw: a channel named '$P-cm' exists already (/dev/shm/klaw.$P-cm)"
run "$T/empty" rm "$P-cm" "$P-cb" "$P-cw" "$P-co"
expect_ok "rm of created channels" ''

# --hold keeps the sides open for many short-lived commands
for k in mpmc:hm broadcast:hb watch:hw; do
    "$KLAW" create "${k%%:*}" "$P-${k##*:}" --hold --max-frame 64 >"$T/hold.out" 2>"$T/hold.err" &
    hold=$!
    wait_stat "$P-${k##*:}" '*"sender_count":1,*'
    for i in 1 2 3; do run "$T/empty" send "$P-${k##*:}" "$i" 2>/dev/null; [ "$rc" -eq 0 ] || fail "--hold ${k%%:*}: send $i: $rc $err"; done
    case ${k%%:*} in
        mpmc) runn "$T/empty" tail --consume "$P-hm"; expect_okn "--hold mpmc: frames" $'1\n2\n3'
              run "$T/empty" send "$P-hm" 4; expect_ok "--hold mpmc: send after a tail" '' ;;
        broadcast) runn "$T/empty" tail "$P-hb"; expect_okn "--hold broadcast: retained" $'1\n2\n3' ;;
        watch) runn "$T/empty" tail "$P-hw"; expect_okn "--hold watch: the last value" '3' ;;
    esac
    kill -TERM "$hold"
    wait "$hold"
    hrc=$?
    [ "$hrc" -eq 0 ] && [ ! -s "$T/hold.out" ] && [ ! -s "$T/hold.err" ] || fail "--hold ${k%%:*}: exit $hrc $(cat "$T/hold.err")"
    runn "$T/empty" stat "$P-${k##*:}"
    [[ "$outn" == *$'\nclosed          senders'* ]] || fail "--hold ${k%%:*}: not closed once stopped: $outn"
    run "$T/empty" rm "$P-${k##*:}"
done

# bad options: exit 2, a usage message, nothing created
create_usage() { # WANT-STDERR ARGS...
    local want=$1
    shift
    run "$T/empty" create "$@"
    [ "$rc" -eq 2 ] && [ "$err" = "$want" ] && [ -z "$(cat "$T/out")" ] || fail "create $*: exit $rc, stderr '$err'"
    [ ! -e "/dev/shm/klaw.$P-cx" ] || { fail "create $*: made a channel"; rm -f "/dev/shm/klaw.$P-cx"; }
}
create_usage "klaw create: which kind and name? (see klaw create --help)"
create_usage "klaw create: which name? (see klaw create --help)" mpmc
create_usage "klaw create: unexpected argument 'extra' (see klaw create --help)" mpmc "$P-cx" extra
create_usage "klaw create: unknown kind 'queue' (mpmc, broadcast, watch or oneshot) (see klaw create --help)" queue "$P-cx"
create_usage "klaw create: unknown option '--colour' (see klaw create --help)" mpmc "$P-cx" --colour
create_usage "klaw create: option '--capacity' needs a value (see klaw create --help)" mpmc "$P-cx" --capacity
create_usage "klaw create: --policy does not apply to an mpmc channel (see klaw create --help)" mpmc "$P-cx" --policy block
create_usage "klaw create: --capacity does not apply to a watch channel (see klaw create --help)" watch "$P-cx" --capacity 8
create_usage "klaw create: --initial does not apply to a broadcast channel (see klaw create --help)" broadcast "$P-cx" --initial 1
create_usage "klaw create: --single-reader does not apply to a broadcast channel (see klaw create --help)" broadcast "$P-cx" --single-reader
create_usage "klaw create: --hold does not apply to a oneshot channel (see klaw create --help)" oneshot "$P-cx" --hold
create_usage "klaw create: --slots does not apply to a oneshot channel (see klaw create --help)" oneshot "$P-cx" --slots 4
create_usage "klaw create: --policy is overwrite or block, not 'drop' (see klaw create --help)" broadcast "$P-cx" --policy drop
create_usage "klaw create: --capacity wants a number from 1 to 1073741824, not '0' (see klaw create --help)" mpmc "$P-cx" --capacity 0
create_usage "klaw create: --capacity wants a number from 1 to 1073741824, not '-1' (see klaw create --help)" mpmc "$P-cx" --capacity -1
create_usage "klaw create: --max-frame wants a size from 1 to 1GiB (4096, 64K, 1MiB), not '2GiB' (see klaw create --help)" mpmc "$P-cx" --max-frame 2GiB
create_usage "klaw create: --slots wants a number from 2 to 1024, not '1' (see klaw create --help)" watch "$P-cx" --slots 1
create_usage "klaw create: --mode wants octal permission bits with owner read and write (0600, 0660), not '0440' (see klaw create --help)" mpmc "$P-cx" --mode 0440
create_usage "klaw create: --mode wants octal permission bits with owner read and write (0600, 0660), not '0668' (see klaw create --help)" mpmc "$P-cx" --mode 0668
create_usage "klaw create: no group named 'no-such-group-$$' (see klaw create --help)" mpmc "$P-cx" --group "no-such-group-$$"
create_usage "klaw create: --hold holds a sender handle: with --single-writer no other process could open one (see klaw create --help)" broadcast "$P-cx" --hold --single-writer
create_usage "klaw create: --single-writer allows one writer, not --max-writers 2 (see klaw create --help)" broadcast "$P-cx" --single-writer --max-writers 2
create_usage "klaw create: --initial is 5 bytes of MessagePack, more than the max frame (4) (see klaw create --help)" watch "$P-cx" --max-frame 4 --initial '"abcd"'
run "$T/empty" create watch "$P-cx" --initial '[1,'
expect_error "create watch --initial of bad JSON" "klaw: --initial: encode error at byte 3: unexpected end of input"
run "$T/empty" create mpmc 'a/b'
expect_error "create of a bad name" "klaw: invalid channel name 'a/b' (1..200 characters of A-Z a-z 0-9 . _ -)"

# stat: a reader's lag and last-seen age, numbers for people
"$KLAW" create broadcast "$P-lag" --capacity 1024 --hold &
hold=$!
wait_stat "$P-lag" '*"sender_count":1,*'
"$KLAW" tail -n 0 --follow "$P-lag" >/dev/null 2>&1 &
tpid=$!
wait_stat "$P-lag" '*"reader_id":"klaw-tail-'"$tpid"'"*'
kill -STOP "$tpid" # alive, registered, reading nothing
seq 1 100000 >"$T/in"
run "$T/in" send --lines "$P-lag"
expect_ok "send 100000 frames" ''
sleep 1
run "$T/empty" stat --json "$P-lag"
[[ "$(cat "$T/out")" == *'"total_sent":100000,'*'"reader_id":"klaw-tail-'"$tpid"'",'*'"total_received":0,"lag":100000,"last_seen_age_ms":'* ]] ||
    fail "stat --json lag: $(cat "$T/out")"
age=$(grep -o '"last_seen_age_ms":[0-9]*' "$T/out" | cut -d: -f2)
[ "${age:-0}" -ge 800 ] || fail "stat --json: a reader stopped for 1 s was last seen $age ms ago"
run "$T/empty" stat "$P-lag"
[[ "$(cat "$T/out")" == *$'max_frame       4 KiB\n'*$'total_sent      100 k\n'* ]] || fail "stat: numbers for people: $(cat "$T/out")"
[[ "$(grep "klaw-tail-$tpid" "$T/out" | tr -s ' ')" =~ ^\ klaw-tail-$tpid\ $HOST:$tpid\ 100\ k\ [0-9.]+\ s\ ago\ 0\  ]] ||
    fail "stat: reader row: $(grep "klaw-tail-$tpid" "$T/out")"
kill -CONT "$tpid"
kill -TERM "$tpid" "$hold"
wait "$tpid" "$hold"
run "$T/empty" rm "$P-lag"

# mode and group; as root, users in and out of the group
run "$T/empty" create mpmc "$P-g1" --group "$(id -gn)"
expect_ok "create --group (own group, by name)" ''
[ "$(stat -c '%a %G' "/dev/shm/klaw.$P-g1")" = "660 $(id -gn)" ] || fail "--group: $(stat -c '%a %G' "/dev/shm/klaw.$P-g1"), want 660 $(id -gn)"
run "$T/empty" create watch "$P-g2" --mode 0640
[ "$(stat -c '%a %g' "/dev/shm/klaw.$P-g2")" = "640 $(id -g)" ] || fail "--mode: $(stat -c '%a %g' "/dev/shm/klaw.$P-g2")"
run "$T/empty" rm "$P-g1" "$P-g2"
if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null; then
    echo "SKIP (loud): users in and out of a channel's group need root and setpriv" >&2
else
    G=64201 # made-up ids: the kernel needs no /etc/group entry
    "$KLAW" create mpmc "$P-g3" --group "$G" --hold &
    hold=$!
    wait_stat "$P-g3" '*"sender_count":1,*'
    [ "$(stat -c '%a %g' "/dev/shm/klaw.$P-g3")" = "660 $G" ] || fail "--group $G: $(stat -c '%a %g' "/dev/shm/klaw.$P-g3")"
    member() { setpriv --reuid 64202 --regid 64202 --groups "$G" "$@"; }
    stranger() { setpriv --reuid 64203 --regid 64203 --clear-groups "$@"; }
    member "$KLAW" send "$P-g3" '"from a member"' >"$T/out" 2>"$T/err"
    [ "$?" -eq 0 ] && [ ! -s "$T/err" ] || fail "a member of the group sends: $(cat "$T/err")"
    stranger "$KLAW" send "$P-g3" '"from a stranger"' >"$T/out" 2>"$T/err"
    rc=$?
    [ "$rc" -eq 1 ] && [ "$(cat "$T/err")" = "klaw: channel '$P-g3': permission denied" ] || fail "a stranger sends: exit $rc $(cat "$T/err")"
    member "$KLAW" tail --consume "$P-g3" >"$T/out" 2>"$T/err"
    [ "$?" -eq 0 ] && [ "$(cat "$T/out")" = '"from a member"' ] || fail "a member of the group tails: $(cat "$T/out") $(cat "$T/err")"
    # a group the creator is not in: refused, nothing left behind
    setpriv --reuid 64202 --regid 64202 --clear-groups "$KLAW" create oneshot "$P-g2" --group "$G" >"$T/out" 2>"$T/err"
    rc=$?
    [ "$rc" -eq 1 ] && [ "$(cat "$T/err")" = "klaw: cannot create channel '$P-g2': permission denied (giving it group $G needs root or membership of the group)" ] &&
        [ ! -e "/dev/shm/klaw.$P-g2" ] || fail "create with a group one is not in: exit $rc $(cat "$T/err")"
    kill -TERM "$hold"
    wait "$hold"
    run "$T/empty" rm "$P-g3"
fi

# ---- usage -------
run "$T/empty" stat
[ "$rc" -eq 2 ] || fail "stat without a name: exit $rc"
run "$T/empty" tail -n x "$P"
[ "$rc" -eq 2 ] && [ "$err" = "klaw tail: -n wants a count, not 'x'" ] || fail "tail -n x: $rc $err"
run "$T/empty" send --lines "$P" 1
[ "$rc" -eq 2 ] || fail "send --lines with an argument: exit $rc"
run "$T/empty" ls extra
[ "$rc" -eq 2 ] || fail "ls with an argument: exit $rc"
for c in decode encode ls stat create tail send rm; do
    run "$T/empty" "$c" --help
    [ "$rc" -eq 0 ] && grep -q "usage: klaw $c" "$T/out" || fail "$c --help"
    run "$T/empty" --help
    grep -q "^  $c " "$T/out" || fail "--help does not list $c"
done

if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed" >&2
    exit 1
fi
echo "all CLI checks passed"
