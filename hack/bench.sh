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
# status into a variable first: under pipefail `status | grep -q` fails whenever grep exits at
# the match before status has written everything (SIGPIPE), and a running control plane would
# look stopped, to be stopped at the end (test/ops/hack-scripts.test.ts)
status=$(bash hack/cluster.sh status)
[[ $status == *'apiserver running'* ]] || started=1
# (a control plane started here: its controller-manager at 400 requests a second, see hack/cluster.sh)
KCM_API_QPS=${KCM_API_QPS:-400} bash hack/cluster.sh up >&2
# the client-go controller vs-clientgo compares with (#20): built once, cached (hack/cluster.sh)
export BENCH_CLIENTGO=${BENCH_CLIENTGO:-$(bash hack/cluster.sh baseline)}
export ANNOTARY_E2E_KUBECONFIG=${ANNOTARY_E2E_KUBECONFIG:-${ANNOTARY_CLUSTER_DIR:-$PWD/.cluster}/kubeconfig}
export BENCH_ROWS
BENCH_ROWS=$(mktemp "${TMPDIR:-/tmp}/annotary-bench.XXXXXX")
trap 'rm -f "$BENCH_ROWS"; if [ -n "$started" ]; then bash hack/cluster.sh down >&2; fi' EXIT

# namespaces of the previous benchmark are finalized by the apiserver in the background: let
# that finish so it does not load the next measurement
settle() {
  for _ in $(seq 1 120); do
    # (into a variable first, as status above: a pipe into grep -q would end the wait early)
    local names
    names=$(kubectl --kubeconfig "$ANNOTARY_E2E_KUBECONFIG" get ns -o name) || return 0
    grep -q '^namespace/bench-' <<<"$names" || return 0
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
run growth
run issuance
run renewal-storm
run trust-bundles
run vs-clientgo
echo >&2
node dist-bench/bench/table.js "$BENCH_ROWS"
echo
echo "make bench: $((SECONDS - start)) s"
