#!/usr/bin/env bash
# The whole test suite: Debian's chromium for the browser tests (installed when missing), then every Deno test,
# in parallel, the packed-tarball consumer test (tests/package/) among them. Ends with a plain
# "tests: N passed, N failed" line; the exit code is deno test's.
set -uo pipefail
cd "$(dirname "$0")/.."
# Deno, wrangler and tsc come from the npm install, also when this script is run directly rather than by npm test.
export PATH="$PWD/node_modules/.bin:$PATH"
bash scripts/ensure_chromium.sh || exit 1
log=$(mktemp)
WRANGLER_SEND_METRICS=false deno test -A --parallel tests/ 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
summary=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^(ok|FAILED) \| [0-9]+ passed' | tail -n 1)
rm -f "$log"
passed=$(echo "$summary" | sed -E 's/.*\| ([0-9]+) passed.*/\1/')
failed=$(echo "$summary" | sed -E 's/.*\| ([0-9]+) failed.*/\1/')
if [ -n "$summary" ]; then echo "tests: ${passed} passed, ${failed} failed"; fi
exit "$rc"
