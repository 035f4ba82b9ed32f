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
export ANNOTARY_SUMMARY_FILE="$ROOT/.cluster/test-summary.txt"
rm -f "$ANNOTARY_SUMMARY_FILE"
node --experimental-vm-modules node_modules/jest/bin/jest.js --runInBand "$@"
rc=$?
[ -n "$started" ] && bash hack/cluster.sh down >/dev/null 2>&1
if [ -f "$ANNOTARY_SUMMARY_FILE" ]; then cat "$ANNOTARY_SUMMARY_FILE"; else echo "0 passed, 1 failed"; rc=1; fi
exit $rc
