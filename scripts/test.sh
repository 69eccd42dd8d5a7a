#!/usr/bin/env bash
# The whole test suite: Debian's chromium for the browser tests (installed when missing), then every Deno test
# in parallel, then the packed-tarball consumer test (tests/package/consumer_test.ts) on its own, so its npm, tsc
# and wrangler processes do not compete with the browser and e2e tests for the CPU. Ends with a plain
# "tests: N passed, N failed" line over both runs; the exit code is non-zero when either run failed.
set -uo pipefail
cd "$(dirname "$0")/.."
# Deno, wrangler and tsc come from the npm install, also when this script is run directly rather than by npm test.
export PATH="$PWD/node_modules/.bin:$PATH"
export WRANGLER_SEND_METRICS=false
bash scripts/ensure_chromium.sh || exit 1
bash scripts/ensure_glewlwyd.sh || exit 1
CONSUMER=tests/package/consumer_test.ts
log=$(mktemp)
trap 'rm -f "$log"' EXIT

deno test -A --parallel --ignore="$CONSUMER" tests/ 2>&1 | tee "$log"
rc_suite=${PIPESTATUS[0]}
deno test -A "$CONSUMER" 2>&1 | tee -a "$log"
rc_consumer=${PIPESTATUS[0]}

passed=0
failed=0
runs=0
while read -r line; do
  passed=$((passed + $(echo "$line" | sed -E 's/.*\| ([0-9]+) passed.*/\1/')))
  failed=$((failed + $(echo "$line" | sed -E 's/.*\| ([0-9]+) failed.*/\1/')))
  runs=$((runs + 1))
done < <(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^(ok|FAILED) \| [0-9]+ passed')
if [ "$runs" -gt 0 ]; then echo "tests: ${passed} passed, ${failed} failed"; fi
if [ "$rc_suite" -ne 0 ]; then exit "$rc_suite"; fi
exit "$rc_consumer"
