#!/usr/bin/env bash
# Profiles the production topology under the mixed load with perf (software
# clock sampling) and writes flat per-service reports to bench/profile-*.txt.
# Usage: scripts/bench-profile.sh [extra bench run flags]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v perf >/dev/null || { echo "perf missing: apt-get install -y linux-perf" >&2; exit 1; }
make bench BENCH_ARGS="--quick --profile --systems prod --scenarios deactivation --out bench/profile $*"
ls bench/profile/profile-*.txt
