#!/usr/bin/env bash
# Fuzzes what Klieg reads from strangers with cargo fuzz (libFuzzer): each target for SECONDS
# (default 60) on a copy of its fixed corpus in fuzz/corpus/, so the repo's corpus stays as it
# is. Stable Rust is enough (RUSTC_BOOTSTRAP lets cargo fuzz pass its flags); no sanitizer is
# needed for safe Rust, whose bugs are panics. A crash fails the run and leaves its input in
# fuzz/artifacts/TARGET/: copy it to fuzz/regressions/TARGET/ once fixed, and the test suite
# runs it for good (tests/fuzz_regressions.rs).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
seconds="${1:-60}"
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$HOME/.cache/klieg/fuzz-target}"
export RUSTC_BOOTSTRAP=1
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked --version 0.13.2
fi
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
export scratch seconds
# One target, its output kept apart; prints its figures, or its failure and the input.
fuzz_one() {
  local target="$1" status=0
  mkdir -p "$scratch/$target"
  cargo fuzz run -O --sanitizer none "$target" "$scratch/$target" "corpus/$target" -- \
    -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    >"$scratch/$target.log" 2>&1 || status=$?
  echo "== $target, ${seconds} s: $(grep -E '^stat::number_of_executed_units' "$scratch/$target.log" | awk '{print $2}') runs"
  if [ "$status" -ne 0 ]; then
    tail -n 60 "$scratch/$target.log"
    return "$status"
  fi
}
export -f fuzz_one
targets=$(cargo fuzz list)
first=$(echo "$targets" | head -n 1)
# The first run builds every target's dependencies; the rest then run two at a time (libFuzzer
# uses one core each).
fuzz_one "$first"
echo "$targets" | tail -n +2 | xargs -P 2 -I{} bash -c 'fuzz_one "$@"' _ {}
