#!/usr/bin/env bash
# Builds and runs every ```c block of README.md against the built library,
# so the user's guide cannot drift from the API. Each block is a whole
# program; a block that fails to compile, or exits non-zero, fails the test.
# usage: readme_examples.sh README.md BUILD_DIR CC...
set -euo pipefail
readme=$1 build=$2
shift 2
src=$(dirname "$readme")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
awk -v dir="$tmp" '
  /^```c[[:space:]]*$/ { n++; f = sprintf("%s/example_%02d.c", dir, n); inside = 1; next }
  /^```/ && inside { inside = 0; close(f); next }
  inside { print > f }
' "$readme"
count=0
for f in "$tmp"/example_*.c; do
  [ -e "$f" ] || continue
  count=$((count + 1))
  exe=${f%.c}
  if ! "$@" -std=c11 -Wall -Wextra -Werror -I"$src/include" -I"$build/include" "$f" \
      "$build/libklaw.a" -lurcu-bp -lurcu-common -lck -lm -lpthread -o "$exe"; then
    echo "FAIL: README example $(basename "$f") does not compile" >&2
    exit 1
  fi
  if ! (cd "$tmp" && "$exe" >"$exe.out" 2>&1); then
    cat "$exe.out"
    echo "FAIL: README example $(basename "$f") exited non-zero" >&2
    exit 1
  fi
  echo "ok: README example $(basename "$f")"
done
if [ "$count" -eq 0 ]; then
  echo "FAIL: README.md has no \`\`\`c examples" >&2
  exit 1
fi
echo "$count passed, 0 failed"
