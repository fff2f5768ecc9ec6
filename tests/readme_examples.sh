#!/usr/bin/env bash
# Builds and runs every ```c block of README.md and of docs/*.md (the
# reference beside it) against the built library, so the user's guide cannot
# drift from the API. Each block is a whole program; a block that fails to
# compile, or exits non-zero, fails the test. Text that is not meant to
# compile goes in another fence (```sh) or an indented block.
# usage: readme_examples.sh README.md BUILD_DIR CC...
set -euo pipefail
readme=$1 build=$2
shift 2
src=$(dirname "$readme")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

docs=("$readme")
for f in "$src"/docs/*.md; do
  [ -e "$f" ] && docs+=("$f")
done

count=0
for doc in "${docs[@]}"; do
  rel=${doc#"$src"/}
  stem=$(printf '%s' "$rel" | tr '/.' '__')
  awk -v dir="$tmp" -v stem="$stem" '
    /^```c[[:space:]]*$/ { n++; f = sprintf("%s/%s_%02d.c", dir, stem, n); inside = 1; next }
    /^```/ && inside { inside = 0; close(f); next }
    inside { print > f }
  ' "$doc"
  if [ "$rel" = README.md ] && ! compgen -G "$tmp/${stem}_*.c" >/dev/null; then
    echo "FAIL: README.md has no \`\`\`c examples" >&2
    exit 1
  fi
  for f in "$tmp/${stem}"_*.c; do
    [ -e "$f" ] || continue
    count=$((count + 1))
    n=${f##*_}
    what="$rel example ${n%.c}"
    exe=${f%.c}
    # an example of the NATS bridge links libklaw-nats and nats.c too
    extra=()
    if grep -q '#include <klaw/nats.h>' "$f"; then
      if [ ! -e "$build/nats/libklaw-nats.a" ]; then
        echo "SKIP: $what needs libklaw-nats (this build has no nats.c)" >&2
        continue
      fi
      extra=("$build/nats/libklaw-nats.a" -lnats)
    fi
    # the libuv example (docs/eventloops.md): libuv1-dev, which
    # scripts/setup.sh installs - missing, the test fails rather than skips
    if grep -q '#include <uv.h>' "$f"; then
      if [ ! -e /usr/include/uv.h ]; then
        echo "FAIL: $what needs libuv (apt-get install libuv1-dev; scripts/setup.sh lists it)" >&2
        exit 1
      fi
      extra+=(-luv)
    fi
    if ! "$@" -std=c11 -Wall -Wextra -Werror -I"$src/include" -I"$build/include" "$f" \
        "${extra[@]}" "$build/libklaw.a" -lurcu-bp -lurcu-common -lck -lm -lpthread -o "$exe"; then
      echo "FAIL: $what does not compile" >&2
      exit 1
    fi
    if ! (cd "$tmp" && "$exe" >"$exe.out" 2>&1); then
      cat "$exe.out"
      echo "FAIL: $what exited non-zero" >&2
      exit 1
    fi
    echo "ok: $what"
  done
done
echo "$count passed, 0 failed"
