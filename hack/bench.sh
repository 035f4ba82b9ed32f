#!/usr/bin/env bash
# `make bench`: every benchmark under bench/, each printing a markdown table of ratios
# against a baseline measured in the same run. Not part of `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc -p bench/tsconfig.json
echo "# annotary benchmarks — $(date -u +%Y-%m-%d), $(node -p 'os.cpus()[0].model') ($(nproc) cores), Node $(node --version)"
echo
echo "## Keystore build throughput"
node dist-bench/bench/keystores.js
echo
echo "## Reload latency"
bash hack/cluster.sh up >&2
node dist-bench/bench/reload.js
