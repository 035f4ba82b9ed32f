#!/usr/bin/env bash
# `make bench`: every benchmark under bench/ against the local control plane, each figure a
# ratio against a baseline measured in the same run or an absolute count (min / median / max
# over repeats), printed as ONE markdown table at the end (progress and the per-benchmark
# tables go to stderr). Not part of `make test`; nothing here asserts on timing.
#   env: BENCH_REPEATS (3) and the BENCH_* knobs documented at the top of each bench/*.ts;
#   ANNOTARY_CLUSTER_DIR and the port variables of hack/cluster.sh pick another control plane.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
npx tsc -p bench/tsconfig.json
# a control plane started here is stopped at the end, as make test does; a running one is reused
started=""
if ! bash hack/cluster.sh status | grep -q 'apiserver running'; then started=1; fi
bash hack/cluster.sh up >&2
export ANNOTARY_E2E_KUBECONFIG=${ANNOTARY_E2E_KUBECONFIG:-${ANNOTARY_CLUSTER_DIR:-$PWD/.cluster}/kubeconfig}
export BENCH_ROWS
BENCH_ROWS=$(mktemp "${TMPDIR:-/tmp}/annotary-bench.XXXXXX")
trap 'rm -f "$BENCH_ROWS"; if [ -n "$started" ]; then bash hack/cluster.sh down >&2; fi' EXIT

# namespaces of the previous benchmark are finalized by the apiserver in the background: let
# that finish so it does not load the next measurement
settle() {
  for _ in $(seq 1 120); do
    kubectl --kubeconfig "$ANNOTARY_E2E_KUBECONFIG" get ns -o name | grep -q '^namespace/bench-' || return 0
    sleep 1
  done
  echo "bench namespaces still terminating after 120 s" >&2
}

run() {
  local t=$SECONDS
  echo "== $1" >&2
  node "dist-bench/bench/$1.js" >&2
  echo "== $1: $((SECONDS - t)) s" >&2
  settle
}

run keystores
run reload
run keystore-latency
run scale
echo >&2
node dist-bench/bench/table.js "$BENCH_ROWS"
echo
echo "make bench: $((SECONDS - start)) s"
