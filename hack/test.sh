#!/usr/bin/env bash
# Runs every test (unit + e2e) on the local control plane. Starts the control plane if it
# is not running and stops it afterwards in that case. The last line printed is the plain
# summary "N passed, N failed[, N skipped]" that CI reads.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
started=
# status into a variable first: under pipefail `status | grep -q` fails whenever grep exits at
# the match before status has written everything (SIGPIPE), and a running control plane would
# look stopped, to be stopped at the end (test/ops/hack-scripts.test.ts)
status=$(bash hack/cluster.sh status)
[[ $status == *'apiserver running'* ]] || started=1
bash hack/cluster.sh up || { echo "0 passed, 1 failed"; exit 1; }
summary=$ROOT/.cluster/test-summary
rm -f "$summary".*
jest() { ANNOTARY_SUMMARY_FILE="$summary.$1" node --experimental-vm-modules node_modules/jest/bin/jest.js "${@:2}"; }

# With a Ready node the walkthrough's services run as pods (e2e/walkthrough.test.ts): their Java
# image (hack/image.sh java; minutes cold, the cached archive warm) is made and imported into the
# node in the background while the tests run; the demo calls hack/image.sh java again, which waits
# for this one (a lock) and finds it done. Without a node those tests are skipped and nothing is
# built. The listing goes into a variable first (a `kubectl | grep -q` under pipefail can fail on
# SIGPIPE, see `status` above).
java_image=
nodes=$(kubectl --kubeconfig "${ANNOTARY_CLUSTER_DIR:-$ROOT/.cluster}/kubeconfig" get nodes \
  -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' 2>/dev/null)
if [[ $'\n'$nodes$'\n' == *$'\nTrue\n'* ]]; then
  bash hack/image.sh java >"$summary.java-image-log" 2>&1 &
  java_image=$!
fi
if [ $# -eq 0 ]; then
  # Everything: the unit project needs no control plane and the e2e files mostly wait on it, so
  # the two run side by side (unit on one worker, its output printed after); e2e files one at a
  # time, as they share the control plane (one restarts it).
  jest unit --selectProjects unit --maxWorkers=1 >"$summary.unit-log" 2>&1 &
  unit=$!
  jest e2e --selectProjects e2e --runInBand
  rc=$?
  wait "$unit" || rc=1
  cat "$summary.unit-log"
  parts=(unit e2e)
else
  jest all --runInBand "$@"
  rc=$?
  parts=(all)
fi
# its failure shows in the walkthrough's live tests; the log says why
[ -z "$java_image" ] || wait "$java_image" || { echo "[test] hack/image.sh java failed:"; cat "$summary.java-image-log"; }
[ -n "$started" ] && bash hack/cluster.sh down >/dev/null 2>&1
# one closing line for CI, the sum of the runs' own; a run that wrote none (it crashed) fails
passed=0 failed=0 skipped=0
for part in "${parts[@]}"; do
  line=$(cat "$summary.$part" 2>/dev/null) || { failed=$((failed + 1)); rc=1; continue; }
  [[ $line =~ ([0-9]+)\ passed,\ ([0-9]+)\ failed(,\ ([0-9]+)\ skipped)? ]] || { failed=$((failed + 1)); rc=1; continue; }
  passed=$((passed + BASH_REMATCH[1])) failed=$((failed + BASH_REMATCH[2])) skipped=$((skipped + ${BASH_REMATCH[4]:-0}))
done
echo "$passed passed, $failed failed$([ "$skipped" -gt 0 ] && echo ", $skipped skipped")"
exit $rc
