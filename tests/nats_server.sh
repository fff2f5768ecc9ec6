# tests/nats_server.sh - sourced by the shell tests of the NATS bridge:
# nats_server_start DIR starts a real nats-server on a free loopback port
# (its log in DIR/server.log) and sets SERVER (its pid) and URL; it fails
# the test, loudly, when nats-server is not installed (scripts/setup.sh
# installs it). nats_server_stop kills it.
nats_server_start() {
    local dir=$1 bin port i
    bin=$(command -v nats-server || ls /usr/sbin/nats-server 2>/dev/null)
    if [ -z "$bin" ]; then
        echo "FAIL: nats-server is not installed (scripts/setup.sh lists it)" >&2
        exit 1
    fi
    port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    "$bin" -a 127.0.0.1 -p "$port" >"$dir/server.log" 2>&1 &
    SERVER=$!
    for i in $(seq 1 200); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        sleep 0.05
    done
    URL=nats://127.0.0.1:$port
}

nats_server_stop() {
    [ -n "${SERVER:-}" ] && { kill -9 "$SERVER"; wait "$SERVER"; } 2>/dev/null
    SERVER=
}
