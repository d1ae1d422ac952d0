# A throw-away PostgreSQL cluster, for scripts that source this file (tests/postgres.sh,
# benches/run.sh): `pg_cluster_start` installs Debian's PostgreSQL when missing, runs
# initdb into a temporary directory (trust authentication for its one role, `keyport`),
# starts the server on 127.0.0.1 at a free port with its socket in that directory, and sets
# PG_CLUSTER_URL (`postgres://keyport@127.0.0.1:PORT/postgres`, a role that may create
# databases); the cluster is stopped and its files removed when the script exits. As root,
# initdb and the server (which refuse to run as root) run as Debian's `postgres` user.

pg_cluster_start() {
    local sudo=""
    if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
    pg_bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
    if [ -z "$pg_bindir" ]; then
        echo "==> installing Debian packages: postgresql"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
        pg_bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    fi
    # The package may start its own cluster; this one is separate from it.

    pg_dir=$(mktemp -d /tmp/keyport-pg.XXXXXX)
    local port
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    if [ "$(id -u)" = 0 ]; then chown postgres "$pg_dir"; fi
    trap pg_cluster_stop EXIT

    echo "==> PostgreSQL $("$pg_bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port ($pg_dir)"
    pg_as_owner "$pg_bindir/initdb" -D "$pg_dir/data" -A trust -U keyport --no-sync >"$pg_dir/initdb.log"
    pg_as_owner "$pg_bindir/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w start \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $pg_dir -c max_connections=300" >/dev/null
    PG_CLUSTER_URL="postgres://keyport@127.0.0.1:$port/postgres"
}

pg_as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_cluster_stop() {
    if [ -n "${pg_dir:-}" ]; then
        pg_as_owner "$pg_bindir/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
        rm -rf "$pg_dir"
    fi
}
