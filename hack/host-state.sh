#!/usr/bin/env bash
# What a local cluster with a node (hack/cluster.sh, #18) could leave on the host, as sorted lines,
# so that a snapshot before `up` and one after `down` can be compared (hack/test.sh does; the
# comparison has unit tests in test/ops/host-state.test.ts).
#   hack/host-state.sh snapshot [STATE_DIR] > FILE   processes of the node's programs (and any naming
#                                                    STATE_DIR), mounts, iptables/ip6tables rules of
#                                                    filter/nat/mangle, links, top-level cgroups, sysctls,
#                                                    the top-level entries of /var/lib, /var/log, /run, /opt
#                                                    (but two tools' own state, see below)
#   hack/host-state.sh compare BEFORE AFTER          prints each difference; exits 1 if there is one
# Left out because they change on their own: process ids, sysctls that count (dentries, inodes,
# open files, conntrack entries, the last pid, random), per-interface sysctls (a link's go with it).
set -euo pipefail

snapshot() {
  local state=${1:-}
  # programs of the node, and every process that names the cluster's folder (its control plane)
  local ps; ps=$(ps -eo comm=,args=) # first: the awk below names the folder too
  awk -v s="$state" '
    $1 ~ /^(containerd|containerd-shim.*|runc|kubelet|kube-proxy|kube-scheduler)$/ || (s != "" && index($0, s)) {
      $1 = $1; print "process " $0 }' <<<"$ps"
  awk '{print "mount " $5 " " $9}' /proc/self/mountinfo
  local t
  for t in filter nat mangle; do
    iptables -t "$t" -S 2>/dev/null | sed "s/^/iptables $t /"
    ip6tables -t "$t" -S 2>/dev/null | sed "s/^/ip6tables $t /"
  done
  ip -o link show | awk -F': ' '{sub(/@.*/, "", $2); print "link " $2}'
  awk '$3 == "cgroup" || $3 == "cgroup2" {print $2}' /proc/mounts | while read -r r; do
    find "$r" -mindepth 1 -maxdepth 1 -type d | sed 's/^/cgroup /'
  done
  sysctl -a 2>/dev/null | awk '
    $1 ~ /^(fs\.(dentry-state|file-nr|inode-nr|inode-state|aio-nr)|kernel\.(ns_last_pid|random\..*|pty\.nr)|fs\.quota\..*|net\.netfilter\.nf_conntrack_count)$/ {next}
    /^net\.ipv[46]\.(conf|neigh)\./ { split($1, k, "."); if (k[4] != "all" && k[4] != "default") next }
    {print "sysctl " $0}'

  # left out: state that a tool's first use on a host creates once and nothing removes, holding
  # nothing of a cluster: libmount's /run/mount (utab; the mounts themselves are compared above)
  # and containers/image's blob-info cache in /var/lib/containers (buildah's storage is under
  # hack/image.sh's own folder; that cache's place cannot be moved). Seen on a fresh host (#20).
  find /var/lib /var/log /run /opt -mindepth 1 -maxdepth 1 2>/dev/null | grep -vx -e /run/mount -e /var/lib/containers | sed 's/^/path /'
}

compare() {
  local before=$1 after=$2 out
  out=$(diff <(sed '/^$/d' "$before" | sort -u) <(sed '/^$/d' "$after" | sort -u) | sed -n 's/^> /left behind: /p; s/^< /gone: /p') || true
  [ -z "$out" ] && return 0
  echo "$out"
  return 1
}

case "${1:-}" in
  snapshot) snapshot "${2:-}" | LC_ALL=C sort -u ;;
  compare) compare "${2:?BEFORE}" "${3:?AFTER}" ;;
  *) sed -n '2,12p' "$0"; exit 2 ;;
esac
