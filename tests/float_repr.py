"""float_repr.py KLAW_EXE [SEED] - klaw decode prints every float64 exactly as
Python's repr() does (the shortest text that reads back to the same double):
short decimals (the fast path in codec/json_out.c), powers of ten, random
bit patterns and uniform values, 60,000 of them, seeded. Needs Debian's
/usr/bin/python3 with python3-msgpack; fails loudly without it."""
import random, struct, subprocess, sys, math
try:
    import msgpack
except ImportError:
    sys.exit("FAIL: python3-msgpack is not importable by " + sys.executable + " (apt-get install python3-msgpack)")
random.seed(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
vals = []
for i in range(60000):
    r = random.random()
    if r < 0.4:
        k = random.randint(0, 12); m = random.randint(0, 10**random.randint(1, 15))
        v = m / 10**k
    elif r < 0.6:
        v = random.randint(1, 999) * 10.0 ** random.randint(-12, 20)
    elif r < 0.9:
        v = struct.unpack('<d', struct.pack('<Q', random.getrandbits(64)))[0]
        if not math.isfinite(v): continue
    else:
        v = random.uniform(-1e6, 1e6)
    if random.random() < 0.3: v = -v
    vals.append(v)
data = b''.join(msgpack.packb(v) for v in vals)
out = subprocess.run([sys.argv[1], 'decode', '--stream'], input=data, capture_output=True, check=True).stdout.decode().split('\n')
bad = 0
for v, line in zip(vals, out):
    if repr(v) != line:
        bad += 1
        if bad < 10: print('MISMATCH', repr(v), line)
print(len(vals), 'values', bad, 'mismatches')
sys.exit(1 if bad else 0)
