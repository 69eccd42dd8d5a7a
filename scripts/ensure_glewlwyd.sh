#!/bin/sh
# Makes sure Debian's glewlwyd (the second real OpenID provider of tests/idp/glewlwyd_test.ts) is installed: the
# binary at /usr/bin/glewlwyd and the SQLite seed the test builds its database from. The test writes its own
# config and database into a temporary directory and runs glewlwyd on 127.0.0.1 only; no service is enabled or
# started here.
# Usage: scripts/ensure_glewlwyd.sh            (idempotent; quiet unless something goes wrong)
set -eu
exec sh "$(dirname "$0")/ensure_apt.sh" --no-install-recommends glewlwyd /usr/bin/glewlwyd \
  /usr/share/doc/glewlwyd/database/init.sqlite3.sql.gz
