#!/bin/sh
# Makes sure Debian's chromium is at /usr/bin/chromium (the browser tests drive it with playwright-core).
# Usage: scripts/ensure_chromium.sh            (idempotent; quiet unless something goes wrong)
set -eu
exec sh "$(dirname "$0")/ensure_apt.sh" chromium /usr/bin/chromium
