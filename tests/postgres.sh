#!/usr/bin/env bash
# The suites again, on PostgreSQL: installs Debian's PostgreSQL when missing, starts a
# throw-away cluster in a temporary directory (tests/pg-cluster.sh: 127.0.0.1 only, a free
# port, trust authentication for its one local role), points KEYPORT_TEST_DATABASE_URL at
# it, and runs the store's unit tests (each on both backends) and the integration groups
# chosen by KEYPORT_PG_GROUPS (default: storage, api, proxy, oauth, cli, schemes, cluster,
# migrate), which hold on PostgreSQL; the cluster and its files are removed on exit. Called by
# tests/run.sh; runs alone too (`bash tests/postgres.sh`).
set -euo pipefail
cd "$(dirname "$0")/.."

. tests/pg-cluster.sh
pg_cluster_start
export KEYPORT_TEST_DATABASE_URL="$PG_CLUSTER_URL"

echo "==> cargo test --lib (store and audit log on SQLite and PostgreSQL)"
cargo test --lib store::
cargo test --lib audit::
# Left out here: the approval page's browser test drives Chromium through a page that holds
# nothing the store keeps (held requests live in memory); the first pass has run it.
for group in ${KEYPORT_PG_GROUPS:-storage api proxy oauth cli schemes cluster migrate}; do
    echo "==> cargo test --test it $group (on PostgreSQL)"
    cargo test --test it "$group" -- --skip api::approvals::the_local_page_shows_a_held_request
done
