#!/usr/bin/env bash
# One command for the load benchmarks: builds keyport in release mode, runs benches/load.rs
# (and benches/proxy.rs when Cargo.toml registers it), prints the results, and rewrites the
# results section of BENCHMARKS.md between the `load:begin` / `load:end` markers.
#
#   benches/run.sh                 everything; rewrites BENCHMARKS.md
#   benches/run.sh read refresh    only the named sections of load.rs; prints, writes nothing
#
# Every server it starts listens on 127.0.0.1 and every load loop is bounded in count and
# time (see the knobs at the top of benches/load.rs). A full run takes a few minutes on
# 2 cores, most of it creating 100,000 connections.
set -euo pipefail
cd "$(dirname "$0")/.."

out=target/bench
mkdir -p "$out"

echo "==> cargo build --release"
cargo build --release --bins

echo "==> cargo bench --bench load $*"
LOAD_OUT="$out/load.md" LOAD_COMMAND="benches/run.sh" cargo bench --bench load -- "$@"

proxy_section=""
if [ "$#" -eq 0 ] && grep -Eq '^name = "proxy"' Cargo.toml; then
    echo "==> cargo bench --bench proxy"
    cargo bench --bench proxy | tee "$out/proxy.txt"
    proxy_section=$(sed -n '/^sequential:/,$p' "$out/proxy.txt")
fi

if [ "$#" -ne 0 ]; then
    echo "(sections chosen: BENCHMARKS.md left as it is)"
    exit 0
fi

{
    echo "<!-- load:begin (written by benches/run.sh; edit outside the markers) -->"
    echo
    cat "$out/load.md"
    if [ -n "$proxy_section" ]; then
        echo
        echo "\`benches/proxy.rs\` in the same run:"
        echo
        echo "$proxy_section"
    fi
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
