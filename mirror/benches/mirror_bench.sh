#!/usr/bin/env bash
# Mirror throughput on the local platform (starts it if needed): fills a fresh prod topic, times
# the copy to analytics, prints records/s. Options: --records N --partitions P --value-bytes B.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec cargo run --release -q -p vygoda-mirror --example mirror_bench -- "$@"
