#!/usr/bin/env bash
# The suites again, on PostgreSQL: installs Debian's PostgreSQL when missing, starts a
# throw-away cluster under a temporary directory (127.0.0.1 only, a free port, trust
# authentication for its one local role), points KEYPORT_TEST_DATABASE_URL at it, and runs
# the store's unit tests (each on both backends) and the integration groups chosen by
# KEYPORT_PG_GROUPS (default: storage, api, proxy, oauth, cli, schemes, cluster, migrate),
# which hold on PostgreSQL; the cluster and its files are removed on exit. Called by tests/run.sh; runs
# alone too (`bash tests/postgres.sh`).
set -euo pipefail
cd "$(dirname "$0")/.."

sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$bindir" ]; then
    echo "==> installing Debian packages: postgresql"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
    bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
fi
# The package may start its own cluster; keyport's tests do not use it.

dir=$(mktemp -d /tmp/keyport-pg.XXXXXX)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# initdb and the server refuse to run as root: as root, they run as Debian's postgres user.
as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi
stop() {
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap stop EXIT

echo "==> PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port ($dir)"
as_owner "$bindir/initdb" -D "$dir/data" -A trust -U keyport --no-sync >"$dir/initdb.log"
as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=300" >/dev/null
export KEYPORT_TEST_DATABASE_URL="postgres://keyport@127.0.0.1:$port/postgres"

echo "==> cargo test --lib (store and audit log on SQLite and PostgreSQL)"
cargo test --lib store::
cargo test --lib audit::
# Left out here: the approval page's browser test drives Chromium through a page that holds
# nothing the store keeps (held requests live in memory); the first pass has run it.
for group in ${KEYPORT_PG_GROUPS:-storage api proxy oauth cli schemes cluster migrate}; do
    echo "==> cargo test --test it $group (on PostgreSQL)"
    cargo test --test it "$group" -- --skip api::approvals::the_local_page_shows_a_held_request
done
