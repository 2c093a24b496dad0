#!/usr/bin/env bash
# Installs TimescaleDB into PostgreSQL 15 where it is missing: the distribution's package when
# the machine's package sources have one, otherwise built from a source tarball
# (IOC_TIMESCALEDB_SOURCE, by default the one in ../shared/vendor/timescaledb/). Idempotent: a
# second run finds it installed and does nothing. When neither way works it says why and exits
# 0: the stack then runs on plain PostgreSQL and says so (`ioc info`, /readyz).
#
#   deploy/timescaledb.sh          install when missing
#   deploy/timescaledb.sh check    exit 0 when installed, 1 when not
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOGS=${IOC_STACK_DIR:-$ROOT/.stack}/logs
PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
CONTROL=/usr/share/postgresql/15/extension/timescaledb.control
LIBRARY=/usr/lib/postgresql/15/lib/timescaledb.so
SOURCE=${IOC_TIMESCALEDB_SOURCE:-}
# The distribution's names for it (Debian's own, then Timescale's repository's).
PACKAGES=(postgresql-15-timescaledb timescaledb-2-postgresql-15)
BUILD_DEPENDENCIES=(postgresql-server-dev-15 cmake gcc make libssl-dev libkrb5-dev)

say() { printf 'timescaledb: %s\n' "$*"; }
fallback() {
  say "not installed: $*"
  say "the stack runs on plain PostgreSQL (the fallback mode); see docs/adr/2026-11-29-timescaledb-first.md"
  exit 0
}

installed() { [ -f "$CONTROL" ] && [ -f "$LIBRARY" ]; }

is_root() { [ "$(id -u)" = 0 ]; }

# The vendored source beside the checkout, or beside the checkout it was cloned from (a CI run
# clones the working checkout into a directory of its own).
default_source() {
  local origin base vendored
  origin=$(git -C "$ROOT" remote get-url origin 2>/dev/null || true)
  for base in "$ROOT/.." "$origin/.."; do
    vendored=$(ls "$base"/shared/vendor/timescaledb/timescaledb-*.tar.gz 2>/dev/null | sort -V | tail -n 1)
    if [ -n "$vendored" ]; then echo "$vendored"; return; fi
  done
}

from_package() {
  local package
  for package in "${PACKAGES[@]}"; do
    if apt-cache show "$package" >/dev/null 2>&1; then
      say "installing $package from the machine's package sources"
      apt-get install -y -q "$package" >"$LOGS/timescaledb.log" 2>&1 && return 0
      say "installing $package failed (see $LOGS/timescaledb.log)"
    fi
  done
  return 1
}

from_source() {
  local tarball=$1
  [ -f "$tarball" ] || fallback "no package in the machine's sources and no source tarball at '$tarball' (set IOC_TIMESCALEDB_SOURCE)"
  say "installing the build dependencies (${BUILD_DEPENDENCIES[*]}) from Debian's packages"
  if ! apt-get install -y -q "${BUILD_DEPENDENCIES[@]}" >"$LOGS/timescaledb.log" 2>&1; then
    apt-get update -q >>"$LOGS/timescaledb.log" 2>&1 || true
    apt-get install -y -q "${BUILD_DEPENDENCIES[@]}" >>"$LOGS/timescaledb.log" 2>&1 \
      || fallback "its build dependencies could not be installed (see $LOGS/timescaledb.log)"
  fi
  BUILD_DIR=$(mktemp -d)
  trap 'rm -rf "$BUILD_DIR"' EXIT
  tar -xzf "$tarball" -C "$BUILD_DIR" --strip-components=1
  say "building $(basename "$tarball") (about 5 minutes on 2 cores; log: $LOGS/timescaledb.log)"
  (
    cd "$BUILD_DIR"
    ./bootstrap -DPG_CONFIG="$PG_CONFIG" -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF \
      -DWARNINGS_AS_ERRORS=OFF -DCMAKE_BUILD_TYPE=Release
    make -C build -j"$(nproc)" install
  ) >>"$LOGS/timescaledb.log" 2>&1 || fallback "the build failed (see $LOGS/timescaledb.log)"
  say "installed $(sed -n "s/^default_version = '\(.*\)'/\1/p" "$CONTROL")"
}

main() {
  if [ "${1:-}" = check ]; then installed; return; fi
  if installed; then return 0; fi
  mkdir -p "$LOGS"
  is_root || fallback "it is missing and this is not root (install TimescaleDB for PostgreSQL 15, or run as root)"
  from_package || from_source "${SOURCE:-$(default_source)}"
  installed || fallback "the install finished but $CONTROL is missing (see $LOGS/timescaledb.log)"
}

main "$@"
