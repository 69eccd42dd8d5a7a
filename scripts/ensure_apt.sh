#!/bin/sh
# Makes sure a Debian package is installed, judged by files it provides; installs it with apt when any is missing.
# CI starts on a fresh Debian machine as root. Idempotent; quiet unless something goes wrong.
# Usage: scripts/ensure_apt.sh [--no-install-recommends] PACKAGE FILE [FILE…]
set -eu

RECOMMENDS=""
if [ "${1:-}" = "--no-install-recommends" ]; then
  RECOMMENDS="--no-install-recommends"
  shift
fi
if [ "$#" -lt 2 ]; then
  echo "usage: scripts/ensure_apt.sh [--no-install-recommends] PACKAGE FILE [FILE…]" >&2
  exit 2
fi
PACKAGE=$1
shift

missing() {
  for file in "$@"; do
    [ -e "$file" ] || return 0
  done
  return 1
}

if ! missing "$@"; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure_apt: $* missing and apt-get is not available; install the '$PACKAGE' package yourself" >&2
  exit 1
fi

SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "ensure_apt: $* missing; run as root or install the '$PACKAGE' package" >&2
    exit 1
  fi
fi

LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
echo "ensure_apt: installing Debian's $PACKAGE with apt (once)" >&2
# Noninteractive: a package that asks debconf questions (glewlwyd asks about a database) gets the defaults.
if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$LOG" 2>&1 ||
  ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $RECOMMENDS "$PACKAGE" >>"$LOG" 2>&1; then
  cat "$LOG" >&2
  echo "ensure_apt: apt-get failed for $PACKAGE" >&2
  exit 1
fi

if missing "$@"; then
  echo "ensure_apt: $PACKAGE installed but one of $* is missing" >&2
  exit 1
fi
