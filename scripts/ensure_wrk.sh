#!/bin/sh
# Makes sure Debian's wrk is at /usr/bin/wrk: `deno task bench` (bench/run.ts) drives its loopback load with it.
# Usage: scripts/ensure_wrk.sh            (idempotent; quiet unless something goes wrong)
set -eu
exec sh "$(dirname "$0")/ensure_apt.sh" wrk /usr/bin/wrk
