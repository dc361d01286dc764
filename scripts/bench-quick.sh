#!/usr/bin/env bash
# A short development run of `make bench` (small sizes, every system),
# results under bench/quick/ so the committed full-run results stay.
set -euo pipefail
cd "$(dirname "$0")/.."
make bench BENCH_ARGS="--quick --out bench/quick $*"
