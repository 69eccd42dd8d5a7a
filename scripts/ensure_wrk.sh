#!/bin/sh
# Makes sure Debian's wrk is at /usr/bin/wrk: `deno task bench` (bench/run.ts) drives its loopback load with it.
# CI starts on a fresh Debian machine as root: install the package with apt when it is missing.
# Usage: scripts/ensure_wrk.sh            (idempotent; quiet unless something goes wrong)
set -eu

WRK=/usr/bin/wrk

if [ -x "$WRK" ]; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure_wrk: $WRK is missing and apt-get is not available; install the 'wrk' package yourself" >&2
  exit 1
fi

SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "ensure_wrk: $WRK is missing; run as root or install the 'wrk' package" >&2
    exit 1
  fi
fi

LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
echo "ensure_wrk: installing Debian's wrk with apt (once)" >&2
if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$LOG" 2>&1 ||
  ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >>"$LOG" 2>&1; then
  cat "$LOG" >&2
  echo "ensure_wrk: apt-get failed" >&2
  exit 1
fi

if [ ! -x "$WRK" ]; then
  echo "ensure_wrk: wrk installed but $WRK is missing" >&2
  exit 1
fi
