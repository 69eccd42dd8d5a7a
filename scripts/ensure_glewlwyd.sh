#!/bin/sh
# Makes sure Debian's glewlwyd (the second real OpenID provider of tests/idp/glewlwyd_test.ts) is installed: the
# binary at /usr/bin/glewlwyd and the SQLite seed the test builds its database from.
# CI starts on a fresh Debian machine as root: install the package with apt when it is missing. The test writes
# its own config and database into a temporary directory and runs glewlwyd on 127.0.0.1 only; no service is
# enabled or started here.
# Usage: scripts/ensure_glewlwyd.sh            (idempotent; quiet unless something goes wrong)
set -eu

GLEWLWYD=/usr/bin/glewlwyd
SEED=/usr/share/doc/glewlwyd/database/init.sqlite3.sql.gz

if [ -x "$GLEWLWYD" ] && [ -f "$SEED" ]; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure_glewlwyd: $GLEWLWYD is missing and apt-get is not available; install glewlwyd yourself" >&2
  exit 1
fi

SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "ensure_glewlwyd: $GLEWLWYD is missing; run as root or install the 'glewlwyd' package" >&2
    exit 1
  fi
fi

LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
echo "ensure_glewlwyd: installing Debian's glewlwyd with apt (once)" >&2
# The package asks debconf about a database; the test brings its own, so answer nothing (noninteractive).
if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$LOG" 2>&1 ||
  ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends glewlwyd >>"$LOG" 2>&1; then
  cat "$LOG" >&2
  echo "ensure_glewlwyd: apt-get failed" >&2
  exit 1
fi

if [ ! -x "$GLEWLWYD" ] || [ ! -f "$SEED" ]; then
  echo "ensure_glewlwyd: glewlwyd installed but $GLEWLWYD or $SEED is missing" >&2
  exit 1
fi
