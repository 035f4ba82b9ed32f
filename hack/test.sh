#!/usr/bin/env bash
# Runs every test (unit + e2e) on the local control plane. Starts the control plane if it
# is not running and stops it afterwards in that case. The last line printed is the plain
# summary "N passed, N failed[, N skipped]" that CI reads.
# With a node in the cluster (hack/cluster.sh up starts one where it can, #18) it also builds the
# operator's image (hack/image.sh, which loads it into the node) while the other e2e files run,
# then runs the files of the operator in pods (e2e/in-pod-*). Around an up/down of its own it
# checks that `down` left the host as it found it (hack/host-state.sh): one more test in the sum.
# With a node the walkthrough's services run as pods too, from a Java image made beside the rest.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
STATE=${ANNOTARY_CLUSTER_DIR:-$ROOT/.cluster}
started=
# status into a variable first: under pipefail `status | grep -q` fails whenever grep exits at
# the match before status has written everything (SIGPIPE), and a running control plane would
# look stopped, to be stopped at the end (test/ops/hack-scripts.test.ts)
status=$(bash hack/cluster.sh status)
[[ $status == *'apiserver running'* ]] || started=1
hoststate=$(mktemp -d)
# another cluster's node changes the host meanwhile (its pods' mounts, links, kube-proxy's rules)
hostcheck=$started
[[ $status != *"another cluster's node"* ]] || hostcheck=
[ -z "$hostcheck" ] || bash hack/host-state.sh snapshot "$STATE" >"$hoststate/before"
bash hack/cluster.sh up || { echo "0 passed, 1 failed"; exit 1; }
summary=$STATE/test-summary
rm -f "$summary".*
status=$(bash hack/cluster.sh status)
node=
[[ $status == *'node '*' ready'* ]] && node=1
jest() { ANNOTARY_SUMMARY_FILE="$summary.$1" node --experimental-vm-modules node_modules/jest/bin/jest.js "${@:2}"; }
# The walkthrough's services as pods (e2e/walkthrough.test.ts): their Java image (hack/image.sh
# java; minutes cold, the cached archive warm) is made and imported into the node in the background
# from the start; the demo calls hack/image.sh java again, which waits for this one (a lock) and
# finds it done. A failure shows in the walkthrough's live tests, and its log at the end.
java_image=
if [ -n "$node" ]; then
  bash hack/image.sh java >"$summary.java-image-log" 2>&1 &
  java_image=$!
fi
# With a node the e2e files run in three phases (each file once; `f` = e2e/f.test.ts):
#   1. alone: the files that stop the apiserver (resilience, operator), that count what happens to
#      cluster-scoped objects (csr, ca-injection), which the in-pod operators' controllers see too,
#      or that count the apiserver's own writes of a resource (keystores, routes);
#   2. two runs side by side: the other files, and beside them (once the image is in the node) rbac
#      and the in-pod files (rbac applies the base into annotary-system, where in-pod-kustomize
#      installs it) with a share of the longer files, so that both runs take about as long;
#   3. alone, last, one after the other, with no image build beside them: trust-bundles (it counts
#      the apiserver's ConfigMap writes, and every new namespace gets one) and in-pod-no-routes,
#      which removes the Route CRD for its time.
e2e_files() { printf '/e2e/(%s)\\.test\\.ts$' "$1"; }
ALONE='resilience|operator|csr|ca-injection|keystores|routes'
BESIDE='rbac|in-pod-helm|in-pod-kustomize|walkthrough|generated-secrets|hardening|renewal'
LAST='trust-bundles|in-pod-no-routes'
if [ $# -eq 0 ]; then
  # Everything: the unit project needs no control plane and the e2e files mostly wait on it, so
  # the two run side by side (unit on one worker, its output printed after). Without a node the
  # e2e files run one at a time (one restarts the control plane); the in-pod files skip themselves.
  jest unit --selectProjects unit --maxWorkers=1 >"$summary.unit-log" 2>&1 &
  unit=$!
  parts=(unit)
  rc=0
  if [ -z "$node" ]; then
    jest e2e --selectProjects e2e --runInBand || rc=1
    parts+=(e2e)
  else
    bash hack/image.sh >"$summary.image-log" 2>&1 &
    image=$!
    jest alone --selectProjects e2e --runInBand "$(e2e_files "$ALONE")" || rc=1
    # its output after it ends, whole (two runs writing at once would interleave)
    jest e2e --selectProjects e2e --runInBand --testPathIgnorePatterns "$(e2e_files "$ALONE|$BESIDE|$LAST")" >"$summary.e2e-log" 2>&1 &
    rest=$!
    if ! wait "$image"; then
      cat "$summary.image-log"
      echo "hack/image.sh failed: the in-pod files fail without the image"
      rc=1
    fi
    jest beside --selectProjects e2e --runInBand "$(e2e_files "$BESIDE")" || rc=1
    wait "$rest" || rc=1
    cat "$summary.e2e-log"
    jest last --selectProjects e2e --runInBand "$(e2e_files "$LAST")" || rc=1
    parts+=(alone e2e beside last)
  fi
  wait "$unit" || rc=1
  cat "$summary.unit-log"
else
  imaged=0
  [ -z "$node" ] || bash hack/image.sh >"$summary.image-log" 2>&1 || { cat "$summary.image-log"; imaged=1; }
  jest all --runInBand "$@"
  rc=$?
  [ "$imaged" = 0 ] || rc=1
  parts=(all)
fi
[ -z "$java_image" ] || wait "$java_image" || { echo "[test] hack/image.sh java failed:"; cat "$summary.java-image-log"; }
[ -z "$started" ] || bash hack/cluster.sh down >/dev/null 2>&1
if [ -n "$hostcheck" ]; then
  bash hack/host-state.sh snapshot "$STATE" >"$hoststate/after"
  # counted as one test: passed when the host is as before `up`, failed (with the differences) if not
  if bash hack/host-state.sh compare "$hoststate/before" "$hoststate/after" >"$hoststate/diff"; then
    echo "1 passed, 0 failed" >"$summary.host"
  else
    echo "hack/cluster.sh down left the host changed (hack/host-state.sh):"
    cat "$hoststate/diff"
    echo "0 passed, 1 failed" >"$summary.host"
    rc=1
  fi
  parts+=(host)
else
  if [ -z "$started" ]; then
    echo "host check skipped: the cluster ran before this run (it checks only an up/down of its own)"
  else
    echo "host check skipped: another cluster's node runs on this machine and changes the host meanwhile"
  fi
  echo "0 passed, 0 failed, 1 skipped" >"$summary.host"
  parts+=(host)
fi
rm -rf "$hoststate"
# one closing line for CI, the sum of the runs' own; a run that wrote none (it crashed) fails
passed=0 failed=0 skipped=0
for part in "${parts[@]}"; do
  line=$(cat "$summary.$part" 2>/dev/null) || { failed=$((failed + 1)); rc=1; continue; }
  [[ $line =~ ([0-9]+)\ passed,\ ([0-9]+)\ failed(,\ ([0-9]+)\ skipped)? ]] || { failed=$((failed + 1)); rc=1; continue; }
  passed=$((passed + BASH_REMATCH[1])) failed=$((failed + BASH_REMATCH[2])) skipped=$((skipped + ${BASH_REMATCH[4]:-0}))
done
echo "$passed passed, $failed failed$([ "$skipped" -gt 0 ] && echo ", $skipped skipped")"
exit $rc
