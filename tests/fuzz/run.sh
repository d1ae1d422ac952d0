#!/usr/bin/env bash
# Short libFuzzer runs of every keyport fuzz target (tests/fuzz/fuzz_targets), from the
# committed seed corpora, as CI's last step. Prints executions per target and fails on any
# crash, panic, leak, timeout or OOM.
#
#   tests/fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
#
# cargo-fuzz needs nightly-only compiler flags (-Zsanitizer, sanitizer coverage passes);
# keyport builds with the machine's one stable toolchain, so RUSTC_BOOTSTRAP=1 lets that
# stable rustc accept them. Fuzzing builds go to target/fuzz, apart from the test build.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
seconds=${1:-20}
shift || true

export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="$root/target/fuzz"
mkdir -p "$CARGO_TARGET_DIR"
# No sanitizer by default: keyport forbids unsafe code and these targets exercise pure-Rust
# parsers, where AddressSanitizer finds nothing libFuzzer's own checks (panics, overflow with
# debug assertions, timeouts, OOM) miss, while it doubles the build (10 min against 6 on 2
# cores) and runs 4-6x slower. FUZZ_SANITIZER=address for a deeper run; it works on stable.
sanitizer=${FUZZ_SANITIZER:-none}

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo fuzz list --fuzz-dir tests/fuzz)
fi

echo "==> cargo fuzz build (sanitizer $sanitizer)"
if ! cargo fuzz build --fuzz-dir tests/fuzz --sanitizer "$sanitizer" >"$CARGO_TARGET_DIR.build.log" 2>&1; then
    tail -40 "$CARGO_TARGET_DIR.build.log"
    exit 1
fi

bin="$CARGO_TARGET_DIR/$(rustc -vV | sed -n 's/^host: //p')/release"
total=0
for target in "${targets[@]}"; do
    corpus="tests/fuzz/corpus/$target"
    work="$CARGO_TARGET_DIR/corpus/$target"
    mkdir -p "$work" "$CARGO_TARGET_DIR/artifacts/$target"
    log="$CARGO_TARGET_DIR/$target.log"
    # Fresh inputs go to a scratch corpus under target/; the committed seeds stay small.
    # The binary cargo fuzz built, run directly: `cargo fuzz run` would re-check the build
    # for every target.
    if ! "$bin/$target" "$work" "$corpus" \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$CARGO_TARGET_DIR/artifacts/$target/" >"$log" 2>&1; then
        echo "FUZZ FAILURE in $target:"
        tail -60 "$log"
        exit 1
    fi
    execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1)
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+')
    printf '%-18s %10s execs in %ss, coverage %s edges, 0 crashes\n' "$target" "${execs:-?}" "$seconds" "${cov:-?}"
    total=$((total + ${execs:-0}))
done
echo "fuzzing: ${#targets[@]} targets, $total executions, 0 crashes"
