#!/usr/bin/env bash
# A real local Kubernetes control plane for annotary's tests and demo:
# etcd (Debian) + kube-apiserver + kube-controller-manager built once from Debian's
# `kubernetes` source package and cached outside the repo, keyed by the package version.
#
#   hack/cluster.sh deps     install apt packages (root) and build/cache the binaries
#   hack/cluster.sh up       start everything (idempotent), write .cluster/kubeconfig
#   hack/cluster.sh down     stop everything started by `up` (by pid), leave no process
#   hack/cluster.sh status   print what runs
#   hack/cluster.sh baseline build/cache the client-go baseline of the benchmarks, print its path
#   hack/cluster.sh stop-apiserver | start-apiserver | stop-etcd | start-etcd   (fault tests)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATE=${ANNOTARY_CLUSTER_DIR:-$ROOT/.cluster}
CACHE=${ANNOTARY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/annotary}
ETCD_PORT=${ETCD_PORT:-23790}
ETCD_PEER_PORT=${ETCD_PEER_PORT:-23800}
API_PORT=${API_PORT:-16443}
KCM_PORT=${KCM_PORT:-10357}

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
  sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
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
  apt_update_once
  apt-cache showsrc kubernetes 2>/dev/null | awk '/^Version:/ {print $2; exit}'
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
  have_binaries && return 0
  # one build at a time: checkouts side by side share the cache and its work folder
  exec 9>"$CACHE/build.lock"
  flock 9
  have_binaries || build_binaries
  flock -u 9
}

pid_alive() { [ -f "$STATE/$1.pid" ] && kill -0 "$(cat "$STATE/$1.pid")" 2>/dev/null; }

host_address() { # the apiserver refuses a loopback advertise address; it only advertises, never listens there
  ip -4 -o addr show scope global 2>/dev/null | awk '{split($4,a,"/"); print a[1]; exit}'
}

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
}

write_kubeconfig() {
  local cert_dir=$STATE/apiserver-certs
  cat > "$STATE/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority: $cert_dir/apiserver.crt
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

start_apiserver() {
  pid_alive apiserver && return 0
  local adv; adv=$(host_address); [ -n "$adv" ] || adv=10.255.255.1
  mkdir -p "$STATE/apiserver-certs"
  nohup "$(bin_dir)/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address 127.0.0.1 --secure-port "$API_PORT" --insecure-port 0 \
    --advertise-address "$adv" --cert-dir "$STATE/apiserver-certs" \
    --token-auth-file "$STATE/pki/tokens.csv" --client-ca-file "$STATE/pki/signing-ca.crt" --authorization-mode RBAC \
    --service-account-issuer https://kubernetes.default.svc --service-account-key-file "$STATE/pki/sa.pub" \
    --service-account-signing-key-file "$STATE/pki/sa.key" --api-audiences https://kubernetes.default.svc \
    --service-cluster-ip-range 10.96.0.0/16 --allow-privileged \
    --enable-admission-plugins NamespaceLifecycle,ServiceAccount \
    --watch-cache-sizes "${APISERVER_WATCH_CACHE_SIZES:-}" \
    >"$STATE/apiserver.log" 2>&1 &
  echo $! > "$STATE/apiserver.pid"
  for _ in $(seq 300); do
    [ -f "$STATE/apiserver-certs/apiserver.crt" ] && [ -f "$STATE/kubeconfig" ] || write_kubeconfig
    if curl -sf --cacert "$STATE/apiserver-certs/apiserver.crt" -H "Authorization: Bearer $(cat "$STATE/pki/admin.token")" \
        "https://127.0.0.1:$API_PORT/readyz" >/dev/null 2>&1; then
      write_kubeconfig; return 0
    fi
    pid_alive apiserver || { tail -20 "$STATE/apiserver.log" >&2; exit 1; }
    sleep 0.2
  done
  log "apiserver not ready after 60 s; see $STATE/apiserver.log"; exit 1
}

start_controller_manager() {
  pid_alive controller-manager && return 0
  nohup "$(bin_dir)/kube-controller-manager" --kubeconfig "$STATE/kubeconfig" --leader-elect=false \
    --service-account-private-key-file "$STATE/pki/sa.key" --root-ca-file "$STATE/apiserver-certs/apiserver.crt" \
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
    for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$STATE/$name.pid"
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
  log "ready in $(printf '%.1f' "$(echo "$(date +%s.%N) - $t0" | bc 2>/dev/null || echo 0)") s — kubeconfig: $STATE/kubeconfig"
  echo "export KUBECONFIG=$STATE/kubeconfig" >&2
}

down() {
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
  status) for c in etcd apiserver controller-manager; do pid_alive $c && echo "$c running (pid $(cat "$STATE/$c.pid"))" || echo "$c stopped"; done ;;
  stop-apiserver) stop_pid apiserver ;;
  # the controller-manager restarts with the apiserver: its reflectors back off for up to 30 s
  # after an outage (a Deployment then got its ReplicaSet 9 s late here), and the next test
  # should find a control plane as fresh as after `up`
  start-apiserver) start_apiserver; stop_pid controller-manager; start_controller_manager ;;
  stop-etcd) stop_pid etcd ;;
  start-etcd) start_etcd ;;
  *) sed -n '2,12p' "$0"; exit 2 ;;
esac
