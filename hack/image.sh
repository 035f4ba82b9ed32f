#!/usr/bin/env bash
# `make image`: builds the project's Dockerfile, unchanged, with buildah (daemonless; a Debian
# package) and writes a docker-archive that `ctr images import` or `docker load` takes.
# The Dockerfile's base (its FROM) cannot be pulled on an offline machine, so it is made here once
# and cached: a Debian bookworm rootfs (debootstrap --variant=minbase) with this machine's Node and
# npm placed where the official node image has them (/usr/local), tagged as the FROM names it.
#   hack/image.sh          build (the base only when missing or made with another Node), print the archive's path;
#                          load it into the local cluster's node when one runs (hack/cluster.sh load-image)
#   hack/image.sh java     the walkthrough's Java image (see its block below): build it if needed,
#                          import it into the local cluster's node if one runs and lacks it, print the archive's path
#   hack/image.sh java-ref print that image's reference (it names its content), build nothing
# Environment: ANNOTARY_CACHE (default ~/.cache/annotary; everything lives in its image/ folder),
# IMAGE (default annotary:<package.json version>), DEBIAN_MIRROR (default http://deb.debian.org/debian).
# Runs as root in a container: storage driver vfs (no overlay mounts) and --isolation chroot (no
# user namespaces needed). hack/test.sh runs it when the cluster has a node (the operator-in-a-pod e2e).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
CACHE=${ANNOTARY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/annotary}
W=$CACHE/image
IMAGE=${IMAGE:-annotary:$(node -p "require('./package.json').version")}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
log() { printf '[image] %s\n' "$*" >&2; }

need_tools() {
  for tool in buildah debootstrap; do
    command -v "$tool" >/dev/null && continue
    [ "$(id -u)" = 0 ] || { log "$tool missing: apt-get install buildah debootstrap"; exit 1; }
    log "apt-get install $tool"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$tool" >/dev/null
  done
  mkdir -p "$W"
}
B=(buildah --root "$W/storage" --runroot "$W/run" --storage-driver vfs)
# the local cluster (same ANNOTARY_CLUSTER_DIR as hack/cluster.sh) has a node: images go into its
# containerd, where its pods find them (imagePullPolicy IfNotPresent or Never; there is no registry)
node_runs() {
  local status
  status=$(bash hack/cluster.sh status 2>/dev/null || true)
  [[ $status == *'containerd running'* ]]
}

# $W/$1: a Debian bookworm rootfs (debootstrap --variant=minbase), with the packages $2 (comma
# separated) when given; made once, without apt's caches and lists (nothing in an image runs apt)
rootfs() {
  [ -d "$W/$1" ] && return 0
  log "debootstrap --variant=minbase${2:+ --include=$2} bookworm (once)"
  rm -rf "$W/$1.tmp"
  debootstrap --variant=minbase ${2:+"--include=$2"} bookworm "$W/$1.tmp" "$MIRROR" >"$W/$1.log" 2>&1 ||
    { log "debootstrap failed; see $W/$1.log"; exit 1; }
  rm -rf "$W/$1.tmp"/var/cache/apt/archives/*.deb "$W/$1.tmp"/var/lib/apt/lists/*
  mv "$W/$1.tmp" "$W/$1"
}

# ---------------------------------------------------------------------------- hack/image.sh java
# The walkthrough's three services as live pods (hack/demo.sh with a node, e2e/walkthrough.test.ts):
# no registry here to pull a Java image from, so a bookworm rootfs with the headless JRE, trimmed
# (no docs, man pages, locales: 480 → 300 MB), plus the demo's TLS service (TlsServer --serve,
# compiled with this machine's JDK). It starts a JVM the way the examples' Deployments configure
# one: JAVA_OPTS names the stores (the standard javax.net.ssl properties), KEYSTORE_PASSWORD is
# their password; TLS on 8443. The tag is a digest of what goes into the image (the packages, the
# program, this recipe), so the archive is the cache (a warm run builds nothing) and a node that
# lists the tag has an image made from the same inputs. The whole runs under a lock: hack/test.sh starts it in the
# background and the walkthrough's demo calls it again, to wait for it and find everything done.
JAVA_PKGS=openjdk-17-jre-headless
java_ref() { echo "localhost/annotary-walkthrough:$({ echo "$JAVA_PKGS"; cat test/java/TlsServer.java; declare -f java_build; } | sha256sum | cut -c1-12)"; }
java_build() { # $1 the image's reference, $2 the archive to write
  local ref=$1 out=$2 classes ctr mnt
  need_tools
  rootfs "rootfs-$JAVA_PKGS" "$JAVA_PKGS"
  rm -rf "$W/rootfs-$JAVA_PKGS"/usr/share/{doc,man,locale}/*
  log "image $ref: bookworm + $JAVA_PKGS + TlsServer"
  classes=$(mktemp -d)
  javac --release 17 -d "$classes" test/java/TlsServer.java
  ctr=$("${B[@]}" from scratch)
  mnt=$("${B[@]}" mount "$ctr")
  cp -a "$W/rootfs-$JAVA_PKGS/." "$mnt/"
  install -d "$mnt/app" && install -m 0644 "$classes"/*.class "$mnt/app/"
  rm -rf "$classes"
  "${B[@]}" umount "$ctr" >/dev/null
  # exec: the JVM is the container's pid 1 and gets the kubelet's SIGTERM (it exits on it)
  "${B[@]}" config --user 65532:65532 --workingdir /app --port 8443 \
    --entrypoint '["/bin/sh","-c","exec java $JAVA_OPTS -Djavax.net.ssl.keyStorePassword=\"$KEYSTORE_PASSWORD\" -cp /app TlsServer --serve 8443"]' \
    "$ctr"
  # only one walkthrough image is kept (in buildah's storage, a full copy each): this one
  "${B[@]}" images --format '{{.Name}}:{{.Tag}}' | grep '^localhost/annotary-walkthrough:' |
    xargs -r "${B[@]}" rmi >/dev/null 2>&1 || true
  rm -f "$W"/localhost_annotary-walkthrough_*.tar
  "${B[@]}" commit --quiet --rm "$ctr" "$ref" >/dev/null
  "${B[@]}" push --quiet "$ref" "docker-archive:$out.tmp:$ref" >/dev/null
  mv "$out.tmp" "$out" # complete or absent: a warm run trusts it
}
# build unless the archive exists; import into the node when one runs and does not list the tag
java_image() {
  local ref out sock
  ref=$(java_ref)
  out=$W/${ref//[:\/]/_}.tar
  [ -f "$out" ] || java_build "$ref" "$out"
  sock=${ANNOTARY_CLUSTER_DIR:-$ROOT/.cluster}/node/containerd/containerd.sock
  if node_runs && [ -z "$(ctr --address "$sock" -n k8s.io images ls -q "name==$ref" 2>/dev/null)" ]; then
    log "importing $ref into the node"
    bash hack/cluster.sh load-image "$out" >&2
  fi
  echo "$out"
}
case ${1:-} in
  java) mkdir -p "$W"; exec {lock}>"$W/walkthrough.lock"; flock "$lock"; java_image; exit 0 ;;
  java-ref) java_ref; exit 0 ;;
  '') ;;
  *) sed -n '2,15p' "$0" >&2; exit 2 ;;
esac

# ---------------------------------------------------------------------------- hack/image.sh (annotary)
need_tools

# the FROM of the last stage (every stage uses the same base), fully qualified as buildah stores it
from=$(awk 'toupper($1) == "FROM" {print $2}' Dockerfile | tail -1)
case $from in */*) base=$from ;; *) base=docker.io/library/$from ;; esac
node_bin=$(command -v node)
node_ver=$(node -v)

rootfs rootfs

# the base is remade when this machine's Node changes (its version is a label of the image)
if [ "$("${B[@]}" inspect --type image --format '{{index .OCIv1.Config.Labels "annotary.base-node"}}' "$base" 2>/dev/null)" != "$node_ver" ]; then
  log "base $base: bookworm rootfs + Node $node_ver from $node_bin"
  npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")") # …/node_modules/npm
  ctr=$("${B[@]}" from scratch)
  mnt=$("${B[@]}" mount "$ctr")
  cp -a "$W/rootfs/." "$mnt/"
  install -D -m 0755 "$node_bin" "$mnt/usr/local/bin/node"
  mkdir -p "$mnt/usr/local/lib/node_modules"
  cp -a "$npm_dir" "$mnt/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$mnt/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$mnt/usr/local/bin/npx"
  "${B[@]}" umount "$ctr" >/dev/null
  "${B[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd node \
    --label "annotary.base-node=$node_ver" "$ctr"
  "${B[@]}" commit --quiet --rm "$ctr" "$base" >/dev/null
fi

# Build-time only, mounted into the RUN steps and not into the image: this machine's CA bundle
# (npm ci behind a TLS-inspecting proxy), an npmrc that uses it, and the npm cache (prefer-offline).
npmrc=$W/npmrc
printf 'cafile=/etc/ssl/certs/ca-certificates.crt\nprefer-offline=true\n' >"$npmrc"
mkdir -p "$HOME/.npm"
log "buildah build -t $IMAGE (the Dockerfile as it is)"
# no --layers: with vfs every cached layer is a full copy of the tree (4.5 GB, and slower than
# building again: 4 min against 1 min here); the npm cache makes npm ci the cheap part
"${B[@]}" build --quiet --isolation chroot --pull=never \
  -v "$npmrc:/usr/local/etc/npmrc:ro" -v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro \
  -v "$HOME/.npm:/root/.npm" -t "$IMAGE" -f Dockerfile . >/dev/null

"${B[@]}" rmi --prune >/dev/null 2>&1 || true # the previous build's image, untagged now

out=$W/${IMAGE//[:\/]/_}.tar
rm -f "$out"
"${B[@]}" push --quiet "$IMAGE" "docker-archive:$out:$IMAGE" >/dev/null
! node_runs || bash hack/cluster.sh load-image "$out"
echo "$out"
