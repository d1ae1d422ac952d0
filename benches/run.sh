#!/usr/bin/env bash
# One command for the benchmarks: installs the load generator (Debian's wrk) when missing,
# raises the open-files limit for the thousands of sockets some sections hold, builds
# keyport in release mode, runs benches/load.rs, prints the results, and rewrites the
# results section of BENCHMARKS.md between the `load:begin` / `load:end` markers.
#
#   benches/run.sh                 everything; rewrites BENCHMARKS.md
#   benches/run.sh read burst      only the named sections; prints, writes nothing
#
# Sections: read proxy mcp audit burst idle log refresh scale start cluster. Every server it
# starts listens on 127.0.0.1 and every load run is bounded in time (see the knobs at the top
# of benches/load.rs). A full run takes about five minutes on 2 cores, a third of it creating
# 100,000 connections. For the cluster section (keyport on PostgreSQL, one instance and
# three), it starts a throw-away PostgreSQL cluster (tests/pg-cluster.sh; Debian's
# postgresql package installed when missing), unless LOAD_DATABASE_URL names a server
# already, and removes it on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
if ! command -v wrk >/dev/null && [ -z "${WRK:-}" ]; then
    echo "==> installing Debian package: wrk"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq wrk >/dev/null
fi

# 10,000 idle connections (and 1,000 proxied ones, each with its upstream socket) need
# more than the usual 1,024 open files, in the bench and in keyport, which inherits it.
want=32768
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$want" ]; then
    ulimit -Hn "$want" 2>/dev/null || want=$hard
fi
ulimit -n "$want"
if [ "$(ulimit -n)" -lt 22000 ]; then
    echo "warning: open files limited to $(ulimit -n); the idle section needs about 22000" >&2
fi

out=target/bench
mkdir -p "$out"

echo "==> cargo build --release"
cargo build --release --bins

if [ -z "${LOAD_DATABASE_URL:-}" ] && { [ "$#" -eq 0 ] || printf '%s\n' "$@" | grep -qx cluster; }; then
    . tests/pg-cluster.sh
    pg_cluster_start
    export LOAD_DATABASE_URL="$PG_CLUSTER_URL"
fi

echo "==> cargo bench --bench load $*"
LOAD_OUT="$out/load.md" LOAD_COMMAND="benches/run.sh" cargo bench --bench load -- "$@"

if [ "$#" -ne 0 ]; then
    echo "(sections chosen: BENCHMARKS.md left as it is)"
    exit 0
fi

{
    echo "<!-- load:begin (written by benches/run.sh; edit outside the markers) -->"
    echo
    cat "$out/load.md"
    echo
    echo "<!-- load:end -->"
} > "$out/section.md"

if grep -q '<!-- load:begin' BENCHMARKS.md 2>/dev/null; then
    awk -v section="$out/section.md" '
        /<!-- load:begin/ { while ((getline line < section) > 0) print line; skip = 1; next }
        /<!-- load:end -->/ { skip = 0; next }
        !skip { print }
    ' BENCHMARKS.md > "$out/BENCHMARKS.md.new"
    mv "$out/BENCHMARKS.md.new" BENCHMARKS.md
else
    {
        echo
        echo "## Load: keyport against the limits of this machine (\`benches/load.rs\`)"
        echo
        cat "$out/section.md"
    } >> BENCHMARKS.md
fi
echo "==> BENCHMARKS.md: results section rewritten"
