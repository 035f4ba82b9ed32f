#!/usr/bin/env bash
# `make image`: builds the project's Dockerfile, unchanged, with buildah (daemonless; a Debian
# package) and writes a docker-archive that `ctr images import` or `docker load` takes.
# The Dockerfile's base (its FROM) cannot be pulled on an offline machine, so it is made here once
# and cached: a Debian bookworm rootfs (debootstrap --variant=minbase) with this machine's Node and
# npm placed where the official node image has them (/usr/local), tagged as the FROM names it.
#   hack/image.sh          build (the base only when missing or made with another Node), print the archive's path;
#                          load it into the local cluster's node when one runs (hack/cluster.sh load-image)
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

for tool in buildah debootstrap; do
  command -v "$tool" >/dev/null && continue
  [ "$(id -u)" = 0 ] || { log "$tool missing: apt-get install buildah debootstrap"; exit 1; }
  log "apt-get install $tool"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$tool" >/dev/null
done
mkdir -p "$W"
B=(buildah --root "$W/storage" --runroot "$W/run" --storage-driver vfs)

# the FROM of the last stage (every stage uses the same base), fully qualified as buildah stores it
from=$(awk 'toupper($1) == "FROM" {print $2}' Dockerfile | tail -1)
case $from in */*) base=$from ;; *) base=docker.io/library/$from ;; esac
node_bin=$(command -v node)
node_ver=$(node -v)

if [ ! -d "$W/rootfs" ]; then
  log "debootstrap --variant=minbase bookworm (once)"
  rm -rf "$W/rootfs.tmp"
  debootstrap --variant=minbase bookworm "$W/rootfs.tmp" "$MIRROR" >"$W/debootstrap.log" 2>&1 ||
    { log "debootstrap failed; see $W/debootstrap.log"; exit 1; }
  rm -rf "$W/rootfs.tmp"/var/cache/apt/archives/*.deb "$W/rootfs.tmp"/var/lib/apt/lists/*
  mv "$W/rootfs.tmp" "$W/rootfs"
fi

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
# into the node's containerd when the local cluster has one (same ANNOTARY_CLUSTER_DIR): its pods
# find the image there (imagePullPolicy IfNotPresent or Never; there is no registry)
status=$(bash hack/cluster.sh status 2>/dev/null || true)
[[ $status != *'containerd running'* ]] || bash hack/cluster.sh load-image "$out"
echo "$out"
