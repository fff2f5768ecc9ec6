#!/usr/bin/env bash
# test_nats_go.sh KLAW GO_SOURCE_DIR - the bridge against a real Go service:
# tests/go/natsinterop (nats.go + vmihailenco/msgpack v5, built offline from
# Debian's packages: GO111MODULE=off, GOPATH=/usr/share/gocode) on one side,
# klaw channels and `klaw bridge` on the other, a real nats-server between.
#   klaw send --envelope -> channel a -> klaw bridge --out -> subject ->
#     Go decodes every envelope (channel, seq in order, payload)
#   Go publishes envelopes -> subject -> klaw bridge --in -> channel b ->
#     klaw tail prints them, in order
# Fails loudly (never skips) when go, the Go packages or nats-server are
# missing: scripts/setup.sh installs them.
set -u
. "$(dirname "$0")/nats_server.sh"
KLAW=${1:?usage: test_nats_go.sh KLAW GO_SOURCE_DIR}
GOSRC=${2:?usage: test_nats_go.sh KLAW GO_SOURCE_DIR}
T=$(mktemp -d)
P=tgo-$$
PIDS=()
SERVER=
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    nats_server_stop
    "$KLAW" rm "$P-a" "$P-b" >/dev/null 2>&1
    rm -rf "$T"
}
trap cleanup EXIT
die() {
    echo "FAIL: $*" >&2
    exit 1
}

GO=$(command -v go) || die "go is not installed (apt-get install golang-go; scripts/setup.sh lists it)"
[ -d /usr/share/gocode/src/github.com/nats-io/nats.go ] ||
    die "nats.go is not installed (golang-github-nats-io-go-nats-dev)"
[ -d /usr/share/gocode/src/github.com/vmihailenco/msgpack ] ||
    die "msgpack v5 is not installed (golang-github-vmihailenco-msgpack.v5-dev)"

# the Go program, offline, from Debian's packages
mkdir -p "$T/gocache"
if ! GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$T/gocache" GOFLAGS= \
    "$GO" build -o "$T/natsinterop" "$GOSRC/main.go" >"$T/gobuild.log" 2>&1; then
    cat "$T/gobuild.log" >&2
    die "the Go program does not build"
fi

nats_server_start "$T"
N=200

"$KLAW" create broadcast "$P-a" --max-frame 1024 --policy block --hold >/dev/null 2>&1 &
PIDS+=($!)
"$KLAW" create broadcast "$P-b" --max-frame 1024 --policy block --hold >/dev/null 2>&1 &
PIDS+=($!)
for i in $(seq 1 100); do [ -e "/dev/shm/klaw.$P-a" ] && [ -e "/dev/shm/klaw.$P-b" ] && break; sleep 0.05; done
"$KLAW" bridge --servers "$URL" --out "$P-a" "$P.out" >"$T/bridge-a.log" 2>&1 &
PIDS+=($!)
"$KLAW" bridge --servers "$URL" --in "$P-b" "$P.in" >"$T/bridge-b.log" 2>&1 &
PIDS+=($!)

# ---- klaw -> Go ------------------------------------------------------------------
"$T/natsinterop" sub "$URL" "$P.out" "$P-a" "$N" >"$T/gosub.out" 2>"$T/gosub.err" &
GOSUB=$!
PIDS+=($GOSUB)
for i in $(seq 1 100); do grep -q ready "$T/gosub.out" && break; sleep 0.05; done
sleep 0.5 # the bridges' subscriptions reach the server
for i in $(seq 1 "$N"); do echo "{\"n\": $i, \"s\": \"frame $i\"}"; done >"$T/values"
"$KLAW" send --envelope --lines "$P-a" <"$T/values" || die "klaw send --envelope --lines"
wait "$GOSUB" || die "Go subscriber: $(cat "$T/gosub.err")"
grep -q "^ok $N envelopes from $P-a" "$T/gosub.out" || die "Go subscriber said: $(cat "$T/gosub.out")"

# ---- Go -> klaw -------------------------------------------------------------------
"$KLAW" tail -f "$P-b" >"$T/tail.out" 2>"$T/tail.err" &
PIDS+=($!)
sleep 0.3
"$T/natsinterop" pub "$URL" "$P.in" "$P-b" 100 >"$T/gopub.out" 2>&1 || die "Go publisher: $(cat "$T/gopub.out")"
for i in $(seq 1 100); do [ "$(wc -l <"$T/tail.out")" -ge 100 ] && break; sleep 0.1; done
/usr/bin/python3 - "$T/tail.out" "$P-b" <<'PY' || die "klaw tail of the Go envelopes: $(head -3 "$T/tail.out")"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert len(lines) == 100, len(lines)
for i, e in enumerate(lines, 1):
    assert e["type"] == "data", e
    assert e["header"]["channel_id"] == sys.argv[2], e
    assert e["header"]["seq"] == i, e
    assert e["payload"] == {"n": i, "from": "go"}, e
PY
echo "Go interop: $(tail -1 "$T/gosub.out"); 100 envelopes from Go read by klaw tail, in order"
