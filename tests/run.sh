#!/usr/bin/env bash
# keyport's whole test suite, from a fresh machine: installs the test peers (Debian's
# Chromium, the npm authorization server and browser driver, the current Composio TS SDK and
# the MCP Inspector with the Node 22 they need, the PyPI verifiers, both Composio Python SDKs
# and the MCP Python SDK), then runs formatting, lints and every test. Safe to re-run; installs are skipped when present.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
# CI builds once from scratch: incremental state would only take disk (the test build is
# kept small by the dev profile in Cargo.toml; see there).
if [ -n "${CI:-}" ]; then export CARGO_INCREMENTAL=0; fi
df -h . | awk 'NR == 2 { print "==> disk: " $4 " free of " $2 }'

sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi

apt_need=()
[ -x /usr/bin/chromium ] || apt_need+=(chromium)
command -v node >/dev/null || apt_need+=(nodejs)
command -v npm >/dev/null || apt_need+=(npm)
python3 -c 'import venv, ensurepip' 2>/dev/null || apt_need+=(python3-venv)
if [ ${#apt_need[@]} -gt 0 ]; then
    echo "==> installing Debian packages: ${apt_need[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${apt_need[@]}" >/dev/null
fi

for peer in tests/peers/*/; do
    if [ -f "$peer/package-lock.json" ]; then
        if [ ! -d "$peer/node_modules" ] || [ "$peer/package-lock.json" -nt "$peer/node_modules" ]; then
            echo "==> npm ci in $peer"
            (cd "$peer" && npm ci --no-audit --no-fund --loglevel=error)
            touch "$peer/node_modules"
        fi
    fi
done

venv="$root/target/test-venv"
if [ -f tests/peers/requirements.txt ]; then
    if [ ! -x "$venv/bin/python" ] || [ tests/peers/requirements.txt -nt "$venv/.installed" ]; then
        echo "==> Python test peers into $venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q --disable-pip-version-check -r tests/peers/requirements.txt
        touch "$venv/.installed"
    fi
    export KEYPORT_TEST_PYTHON="$venv/bin/python"
fi

# The current Composio SDK conflicts with the legacy one above: a second venv (the MCP Python
# SDK shares it).
venv3="$root/target/test-venv-v3"
if [ -f tests/peers/requirements-v3.txt ]; then
    if [ ! -x "$venv3/bin/python" ] || [ tests/peers/requirements-v3.txt -nt "$venv3/.installed" ]; then
        echo "==> Python v3 SDK peers into $venv3"
        python3 -m venv "$venv3"
        "$venv3/bin/pip" install -q --disable-pip-version-check -r tests/peers/requirements-v3.txt
        touch "$venv3/.installed"
    fi
    export KEYPORT_TEST_PYTHON_V3="$venv3/bin/python"
fi

echo "==> cargo fmt --check"
cargo fmt --check
echo "==> cargo clippy"
cargo clippy --all-targets --quiet -- -D warnings
echo "==> no function over 80 lines (tests/long_fns.py)"
python3 tests/long_fns.py src tests benches
echo "==> cargo test"
# --show-output: the hardening, storage and load tests print their figures when they pass.
cargo test --all-targets -- --show-output

# The same store and API tests on the PostgreSQL backend, in a throw-away cluster.
bash tests/postgres.sh

# Fuzzing last (its build is separate and slow): a short run of every target from the
# committed seeds. cargo-fuzz drives libFuzzer; it is installed here when missing.
if ! command -v cargo-fuzz >/dev/null; then
    echo "==> cargo install cargo-fuzz"
    cargo install cargo-fuzz --version 0.13.2 --locked --quiet
fi
df -h . | awk 'NR == 2 { print "==> disk: " $4 " free of " $2 }'
echo "==> fuzzing (tests/fuzz/run.sh)"
bash tests/fuzz/run.sh "${KEYPORT_FUZZ_SECONDS:-20}"
