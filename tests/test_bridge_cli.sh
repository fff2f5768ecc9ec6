#!/usr/bin/env bash
# test_bridge_cli.sh KLAW - `klaw bridge` from the shell, with a real
# nats-server on a free port: two broadcast channels ("two hosts") joined
# through one subject by two bridges, `klaw send` into one and `klaw tail`
# out of the other, every value arriving in order; --stats-interval --json
# lines with exact counters; SIGTERM stops with exit 0 and final counters;
# a config file with a mistake names its place; usage errors exit 2.
# nats-server must be installed (scripts/setup.sh lists it): the test fails
# without it, never skips.
set -u
. "$(dirname "$0")/nats_server.sh"
KLAW=${1:?usage: test_bridge_cli.sh path/to/klaw}
T=$(mktemp -d)
P=tbridge-$$
SERVER=
BRIDGES=()
cleanup() {
    for p in "${BRIDGES[@]}"; do kill "$p" 2>/dev/null; done
    nats_server_stop
    "$KLAW" rm "$P-a" "$P-b" >/dev/null 2>&1
    rm -rf "$T"
}
trap cleanup EXIT
failures=0
fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

nats_server_start "$T"

# ---- usage and config errors -----------------------------------------------------
"$KLAW" bridge >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ] || fail "no operands: exit $rc, want 2"
"$KLAW" bridge --in --out a s >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ] || fail "--in --out: exit $rc, want 2"
"$KLAW" bridge --stats-interval x a s >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ] || fail "--stats-interval x: exit $rc, want 2"
echo '{"bridges": [{"channel": "a", "subject": "s"}, {"channel": "b", "subject": 7}]}' >"$T/bad.json"
"$KLAW" bridge --config "$T/bad.json" >/dev/null 2>"$T/err"; rc=$?
want='klaw: '"$T"'/bad.json: Expected `str`, got `int` - at `$.bridges[1].subject`'
[ $rc -eq 1 ] && [ "$(cat "$T/err")" = "$want" ] || fail "bad config: exit $rc, '$(cat "$T/err")'"
echo '{"bridges": [{"channel": "a", "subject": "s", "capacity": 3}]}' >"$T/bad2.json"
"$KLAW" bridge --config "$T/bad2.json" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 1 ] && grep -q 'unknown field `capacity` - at `$.bridges\[0\]`' "$T/err" || fail "unknown key: $rc $(cat "$T/err")"
echo '{"bridges": [{"channel": "a", "subject": "s", "delivery": "jetstream", "replicas": 9}]}' >"$T/bad3.json"
"$KLAW" bridge --config "$T/bad3.json" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 1 ] && grep -q 'Expected `int` <= 5 - at `$.bridges\[0\].replicas`' "$T/err" || fail "replicas 9: $rc $(cat "$T/err")"
echo '{"bridges": [{"channel": "a", "subject": "s", "delivery": "exactly-once"}]}' >"$T/bad4.json"
"$KLAW" bridge --config "$T/bad4.json" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 1 ] && grep -q 'at `$.bridges\[0\].delivery`' "$T/err" || fail "bad delivery: $rc $(cat "$T/err")"
"$KLAW" bridge --stream S a s >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q 'go with --jetstream' "$T/err" || fail "--stream without --jetstream: $rc $(cat "$T/err")"
"$KLAW" bridge --servers "$URL" "$P-nochannel" s >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 1 ] && grep -q "$P-nochannel" "$T/err" || fail "missing channel: $rc $(cat "$T/err")"

# ---- two hosts through one subject ----------------------------------------------------
"$KLAW" create broadcast "$P-a" --max-frame 256 --policy block --hold >/dev/null 2>"$T/hold-a.err" &
BRIDGES+=($!)
"$KLAW" create broadcast "$P-b" --max-frame 256 --policy block --hold >/dev/null 2>"$T/hold-b.err" &
BRIDGES+=($!)
for i in $(seq 1 100); do [ -e "/dev/shm/klaw.$P-a" ] && [ -e "/dev/shm/klaw.$P-b" ] && break; sleep 0.05; done
cat >"$T/in.json" <<EOF
{"servers": "$URL", "origin": "host-b",
 "bridges": [{"channel": "$P-b", "subject": "$P.subj", "direction": "in"}]}
EOF
"$KLAW" bridge --servers "$URL" --origin host-a --out --stats-interval 1 --json "$P-a" "$P.subj" \
    >"$T/out-a.json" 2>"$T/out-a.err" &
BA=$!
BRIDGES+=($BA)
"$KLAW" bridge --config "$T/in.json" >"$T/in-b.txt" 2>"$T/in-b.err" &
BB=$!
BRIDGES+=($BB)
"$KLAW" tail -f "$P-b" >"$T/tail.out" 2>"$T/tail.err" &
TAIL=$!
BRIDGES+=($TAIL)
sleep 0.7 # the subscriptions reach the server
for i in $(seq 1 50); do
    "$KLAW" send "$P-a" "{\"n\": $i, \"s\": \"frame $i\"}" || fail "send $i"
done
for i in $(seq 1 100); do [ "$(wc -l <"$T/tail.out")" -ge 50 ] && break; sleep 0.1; done
want=$(for i in $(seq 1 50); do echo "{\"n\":$i,\"s\":\"frame $i\"}"; done)
[ "$(cat "$T/tail.out")" = "$want" ] || fail "tail of the far channel: $(head -3 "$T/tail.out") ... ($(wc -l <"$T/tail.out") lines)"

sleep 1.2 # one stats line at least
kill -TERM "$BA" "$BB"
wait "$BA"; rca=$?
wait "$BB"; rcb=$?
[ $rca -eq 0 ] || fail "bridge a: exit $rca after SIGTERM ($(cat "$T/out-a.err"))"
[ $rcb -eq 0 ] || fail "bridge b: exit $rcb after SIGTERM ($(cat "$T/in-b.err"))"
# the JSON lines parse and the last says 50 frames went out, none dropped
/usr/bin/python3 - "$T/out-a.json" <<'PY' || fail "bridge a --json lines"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert len(rows) >= 2, rows                       # an interval line and the final one
last = rows[-1]
assert last["out_frames"] == 50, last
assert last["out_dropped"] == 0 and last["out_too_big"] == 0, last
assert last["in_frames"] == 0, last
PY
grep -q "in 50 frames" "$T/in-b.txt" || fail "bridge b's final counters: $(cat "$T/in-b.txt")"

if [ $failures -ne 0 ]; then
    echo "$failures failure(s)" >&2
    exit 1
fi
echo "klaw bridge: all checks passed"
