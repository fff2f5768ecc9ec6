#!/usr/bin/env bash
# scripts/setup.sh - shared by the two quick-start commands: installs the
# Debian packages klaw needs when they are missing, configures meson into
# build/ and builds. Sourced, not run.
set -euo pipefail

KLAW_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KLAW_BUILD=${KLAW_BUILD:-$KLAW_ROOT/build}

# Everything the build, the tests and the benchmark peers use (libnats-dev:
# libklaw-nats and klaw bridge; nats-server: their tests start real ones; Go
# and its NATS and msgpack packages: the interop test's Go service; libuv:
# the event-loop example docs/eventloops.md; python3-dev and python3-pytest:
# the klaw Python package, built for /usr/bin/python3, and its tests;
# iceoryx and its C binding: the zero-copy peer of klaw-bench fanout and
# latency - meson finds the binding through its CMake files, hence cmake).
KLAW_PACKAGES=(
  build-essential meson ninja-build pkg-config
  liburcu-dev libck-dev libcmocka-dev
  libmsgpack-dev libjson-c-dev libzmq3-dev python3-msgpack
  scdoc
  libnats-dev nats-server
  golang-go golang-github-nats-io-go-nats-dev golang-github-vmihailenco-msgpack.v5-dev
  libuv1-dev
  python3-dev python3-pytest
  iceoryx libiceoryx-binding-c-dev cmake
)

# What building the Debian packages adds (scripts/package-test, .ci/run):
# debian/control's Build-Depends are the packages above (less cmocka), plus
# these (dh-python: dh_python3, for python3-klaw).
KLAW_PACKAGING_PACKAGES=(
  dpkg-dev debhelper dh-python lintian
)

klaw_install_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "klaw: installing missing Debian packages: ${missing[*]}" >&2
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "klaw: not root and no sudo; install: ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
  fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

klaw_build() {
  klaw_install_packages "${KLAW_PACKAGES[@]}"
  cd "$KLAW_ROOT"
  if [ -f "$KLAW_BUILD/build.ninja" ]; then
    meson setup --reconfigure "$KLAW_BUILD" "$@" >/dev/null
  else
    meson setup "$KLAW_BUILD" "$@"
  fi
  ninja -C "$KLAW_BUILD"
}
