#!/usr/bin/env bash
# `make fuzz`: run every cargo-fuzz target for FUZZ_SECONDS each (default 60) and print a table of
# executions and findings. Needs a nightly toolchain (`rustup toolchain list`); installs the pinned
# cargo-fuzz from crates.io when it is missing. A crash leaves its input in fuzz/artifacts/<target>/
# and fails the run: turn it into a regression test, fix, and run again.
set -euo pipefail
cd "$(dirname "$0")"

CARGO_FUZZ_VERSION=0.13.2
SECONDS_EACH=${FUZZ_SECONDS:-60}
TARGETS=${FUZZ_TARGETS:-"wire_decoder product_json ban_text registry_schema"}

if ! rustup toolchain list | grep -q '^nightly'; then
  echo "fuzz: cargo fuzz needs a nightly toolchain (sanitizer flags); none is installed here." >&2
  echo "      install one with rustup, then run make fuzz again." >&2
  exit 69
fi
if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
  cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
fi

mkdir -p out
printf '%-16s %8s %12s %10s %8s %s\n' target seconds executions exec/s corpus result
status=0
for target in $TARGETS; do
  mkdir -p "corpus/$target" "seeds/$target" "regressions/$target"
  log="out/$target.log"
  # The first corpus directory collects what the run finds; the committed seeds and the inputs
  # that once crashed a target (regressions/, each also a test in its crate) are read only.
  # No sanitizer (-s none): the targets are safe Rust, and AddressSanitizer's C flags reach the
  # vendored zstd that librdkafka's configure then cannot link (every crate links rdkafka through
  # vygoda-common). libFuzzer's coverage guidance and Rust's own checks stay on.
  if cargo +nightly fuzz run -s none "$target" "corpus/$target" "seeds/$target" "regressions/$target" -- \
      -max_total_time="$SECONDS_EACH" -print_final_stats=1 -rss_limit_mb=2048 >"$log" 2>&1; then
    result=ok
  else
    result="CRASH (see fuzz/$log, input in fuzz/artifacts/$target/)"
    status=1
  fi
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  persec=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  corpus=$(find "corpus/$target" -type f | wc -l)
  printf '%-16s %8s %12s %10s %8s %s\n' "$target" "$SECONDS_EACH" "${execs:-?}" "${persec:-?}" "$corpus" "$result"
done
exit $status
