#!/usr/bin/env bash
# The suites again, on PostgreSQL: installs Debian's PostgreSQL when missing, starts a
# throw-away cluster in a temporary directory (tests/pg-cluster.sh: 127.0.0.1 only, a free
# port, trust authentication for its one local role), points KEYPORT_TEST_DATABASE_URL at
# it, and runs the store's unit tests (each on both backends) and the whole integration
# suite (or the groups KEYPORT_PG_GROUPS names, e.g. "cluster migrate"); the cluster and its
# files are removed on exit. Called by tests/run.sh; runs alone too (`bash tests/postgres.sh`).
set -euo pipefail
cd "$(dirname "$0")/.."

. tests/pg-cluster.sh
pg_cluster_start
export KEYPORT_TEST_DATABASE_URL="$PG_CLUSTER_URL"

echo "==> cargo test --lib (store and audit log on SQLite and PostgreSQL)"
cargo test --lib store::
cargo test --lib audit::
# The whole integration suite (or the groups KEYPORT_PG_GROUPS names), but for the approval
# page's browser test: it drives Chromium through a page that holds nothing the store keeps
# (held requests live in memory); the first pass has run it. Tests of the SQLite file
# itself say they have nothing to check; the several-instance ones run only here.
skip=api::approvals::the_local_page_shows_a_held_request
if [ -z "${KEYPORT_PG_GROUPS:-}" ]; then
    echo "==> cargo test --test it (on PostgreSQL)"
    cargo test --test it -- --show-output --skip "$skip"
else
    for group in $KEYPORT_PG_GROUPS; do
        echo "==> cargo test --test it $group (on PostgreSQL)"
        cargo test --test it "$group" -- --show-output --skip "$skip"
    done
fi
