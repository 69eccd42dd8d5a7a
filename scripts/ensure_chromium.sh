#!/bin/sh
# Makes sure Debian's chromium is at /usr/bin/chromium (the browser tests drive it with playwright-core).
# CI starts on a fresh Debian machine as root: install the package with apt when it is missing.
# Usage: scripts/ensure_chromium.sh            (idempotent; quiet unless something goes wrong)
set -eu

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure_chromium: $CHROMIUM is missing and apt-get is not available; install Chromium yourself" >&2
  exit 1
fi

SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "ensure_chromium: $CHROMIUM is missing; run as root or install the 'chromium' package" >&2
    exit 1
  fi
fi

LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
echo "ensure_chromium: installing Debian's chromium with apt (once)" >&2
if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$LOG" 2>&1 ||
  ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >>"$LOG" 2>&1; then
  cat "$LOG" >&2
  echo "ensure_chromium: apt-get failed" >&2
  exit 1
fi

if [ ! -x "$CHROMIUM" ]; then
  echo "ensure_chromium: chromium installed but $CHROMIUM is missing" >&2
  exit 1
fi
