// natsinterop - a Go service of the platform, as the klaw bridge's peer:
// it speaks klaw-core's wire v1 envelopes over NATS with the packages the
// platform's Go services use (nats.go, vmihailenco/msgpack v5), built
// offline from Debian's packages (GO111MODULE=off, GOPATH=/usr/share/gocode).
//
//	natsinterop sub URL SUBJECT CHANNEL N   receive N messages; each must be a
//	                                       DataMessage [1, [1, 1, CHANNEL, seq,
//	                                       ts_ms], {"n": i, "s": "frame i"}] with
//	                                       seq and i counting up from the first
//	natsinterop pub URL SUBJECT CHANNEL N   publish N DataMessages
//	                                       [1, [1, 1, CHANNEL, i, ts_ms],
//	                                       {"n": i, "from": "go"}], i = 1..N
//
// Exit status 0 and "ok ..." on stdout, or 1 and the reason on stderr.
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/vmihailenco/msgpack/v5"
)

func die(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "natsinterop: "+format+"\n", a...)
	os.Exit(1)
}

// toInt64 takes the integer kinds msgpack decodes into interface{}.
func toInt64(v interface{}) (int64, bool) {
	switch x := v.(type) {
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint64:
		return int64(x), true
	}
	return 0, false
}

func main() {
	if len(os.Args) != 6 {
		die("usage: natsinterop sub|pub URL SUBJECT CHANNEL N")
	}
	mode, url, subject, channel := os.Args[1], os.Args[2], os.Args[3], os.Args[4]
	n, err := strconv.Atoi(os.Args[5])
	if err != nil || n <= 0 {
		die("N: %v", os.Args[5])
	}
	nc, err := nats.Connect(url, nats.Name("klaw-interop-go"))
	if err != nil {
		die("connect %s: %v", url, err)
	}
	defer nc.Close()
	switch mode {
	case "sub":
		sub, err := nc.SubscribeSync(subject)
		if err != nil {
			die("subscribe: %v", err)
		}
		nc.Flush()
		fmt.Println("ready")
		os.Stdout.Sync()
		var firstSeq int64 = -1
		for k := 0; k < n; k++ {
			m, err := sub.NextMsg(20 * time.Second)
			if err != nil {
				die("message %d of %d: %v", k+1, n, err)
			}
			var env []interface{}
			if err := msgpack.Unmarshal(m.Data, &env); err != nil {
				die("message %d: not MessagePack: %v", k+1, err)
			}
			if len(env) < 3 {
				die("message %d: %d elements, want [tag, header, payload]", k+1, len(env))
			}
			if tag, ok := toInt64(env[0]); !ok || tag != 1 {
				die("message %d: tag %v, want 1 (DataMessage)", k+1, env[0])
			}
			hdr, ok := env[1].([]interface{})
			if !ok || len(hdr) < 5 {
				die("message %d: header %v", k+1, env[1])
			}
			if v, ok := toInt64(hdr[0]); !ok || v != 1 {
				die("message %d: version %v", k+1, hdr[0])
			}
			if hdr[2] != channel {
				die("message %d: channel_id %v, want %s", k+1, hdr[2], channel)
			}
			seq, ok := toInt64(hdr[3])
			if !ok {
				die("message %d: seq %v", k+1, hdr[3])
			}
			if firstSeq < 0 {
				firstSeq = seq
			}
			if seq != firstSeq+int64(k) {
				die("message %d: seq %d, want %d (in order, none lost)", k+1, seq, firstSeq+int64(k))
			}
			payload, ok := env[2].(map[string]interface{})
			if !ok {
				die("message %d: payload %v", k+1, env[2])
			}
			i, ok := toInt64(payload["n"])
			if !ok || i != int64(k+1) {
				die("message %d: n = %v, want %d", k+1, payload["n"], k+1)
			}
			if payload["s"] != fmt.Sprintf("frame %d", k+1) {
				die("message %d: s = %v", k+1, payload["s"])
			}
			// the bridge's headers
			if m.Header.Get("Klaw-Seq") == "" || m.Header.Get("Klaw-Origin") == "" {
				die("message %d: no Klaw-Seq / Klaw-Origin header", k+1)
			}
		}
		fmt.Printf("ok %d envelopes from %s, seq %d..%d\n", n, channel, firstSeq, firstSeq+int64(n)-1)
	case "pub":
		for i := 1; i <= n; i++ {
			env := []interface{}{1, []interface{}{1, 1, channel, i, time.Now().UnixMilli()},
				map[string]interface{}{"n": i, "from": "go"}}
			b, err := msgpack.Marshal(env)
			if err != nil {
				die("marshal: %v", err)
			}
			if err := nc.Publish(subject, b); err != nil {
				die("publish %d: %v", i, err)
			}
		}
		if err := nc.Flush(); err != nil {
			die("flush: %v", err)
		}
		fmt.Printf("ok %d envelopes published\n", n)
	default:
		die("mode %q: sub or pub", mode)
	}
}
