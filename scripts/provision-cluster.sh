#!/usr/bin/env bash
# Builds the local control plane's binaries from the Go module proxy at pinned versions:
# kube-apiserver, kube-controller-manager and kube-scheduler (k8s.io/kubernetes), etcd, KWOK,
# Velero with its AWS plugin, and versitygw (the local S3 server Velero writes to).
# Each is cached machine-wide under ${XDG_CACHE_HOME:-$HOME/.cache}/changectl/tools/<name>-<version>/,
# so a fresh clone on a machine that built them once starts at once. Idempotent.
# Prints the cache folder's bin path of each tool on success; CHANGECTL_CLUSTER_TOOLS=<dir> is
# where the links to all of them are made (default .tools/cluster).
set -euo pipefail

KUBERNETES_VERSION=v1.34.2
ETCD_VERSION=v3.6.8
KWOK_VERSION=v0.8.0
VELERO_VERSION=v1.18.3
VELERO_AWS_PLUGIN_VERSION=v1.14.3
VERSITYGW_VERSION=v1.8.0
# Bumped when scripts/cluster-tools/velero changes, so the cached build is replaced.
VELERO_BUILD="$VELERO_VERSION-2"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
modules="$root/scripts/cluster-tools"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/changectl/tools"
links="${CHANGECTL_CLUSTER_TOOLS:-$root/.tools/cluster}"
mkdir -p "$cache" "$links"

if ! command -v go >/dev/null 2>&1; then
  echo "provision: Go is needed to build the local control plane (kube-apiserver, etcd, KWOK, Velero); install Go 1.24 or later, or run the demo against your own cluster with --kubeconfig" >&2
  exit 1
fi
export GOTOOLCHAIN=local GOFLAGS="${GOFLAGS:--buildvcs=false}"

elapsed() { local s=$(( $(date +%s) - $1 )); printf '%dm%02ds' $((s / 60)) $((s % 60)); }

# ready <name> <version> <binary...>: true when every binary is cached for that version.
ready() {
  local dir="$cache/$1-$2/bin"; shift 2
  local b
  for b in "$@"; do [[ -x "$dir/$b" ]] || return 1; done
}

link() {
  local dir="$cache/$1-$2/bin"; shift 2
  local b
  for b in "$@"; do ln -sfn "$dir/$b" "$links/$b"; done
}

announce() {
  echo "provision: building $1 $2, first run on this machine, $3 (cached in $cache afterwards)"
}

# build_module <name> <version> <module folder> <ldflags> <package=binary...>: builds our small
# main module (it requires the upstream module and repeats its replace directives) in a copy.
build_module() {
  local name="$1" version="$2" src="$3" ldflags="$4"; shift 4
  local out="$cache/$name-$version/bin" work="$cache/$name-$version/src" started pkg bin
  started=$(date +%s)
  rm -rf "$work" && mkdir -p "$work" "$out.partial"
  cp -R "$modules/$src/." "$work/"
  (
    cd "$work"
    go mod download
    for spec in "$@"; do
      pkg="${spec%%=*}" bin="${spec##*=}"
      echo "provision:   go build $bin"
      go build -mod=mod -trimpath -ldflags "-s -w $ldflags" -o "$out.partial/$bin" "$pkg"
    done
  )
  rm -rf "$out" && mv "$out.partial" "$out" && rm -rf "$work"
  echo "provision: built $name $version in $(elapsed "$started")"
}

# install_module <name> <version> <module@version> <binary>: go install of a module without replaces.
install_module() {
  local name="$1" version="$2" module="$3" bin="$4"
  local out="$cache/$name-$version/bin" started
  started=$(date +%s)
  rm -rf "$out.partial" && mkdir -p "$out.partial"
  GOBIN="$out.partial" go install -trimpath -ldflags "-s -w" "$module"
  rm -rf "$out" && mv "$out.partial" "$out"
  echo "provision: built $name $version in $(elapsed "$started")"
}

kube_minor="${KUBERNETES_VERSION#v1.}"; kube_minor="${kube_minor%%.*}"
kube_ldflags="-X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$kube_minor -X k8s.io/component-base/version.gitTreeState=clean"
kube_bins=(kube-apiserver kube-controller-manager kube-scheduler)
if ! ready kubernetes "$KUBERNETES_VERSION" "${kube_bins[@]}"; then
  announce "kube-apiserver, kube-controller-manager, kube-scheduler" "$KUBERNETES_VERSION" "about 8 minutes"
  build_module kubernetes "$KUBERNETES_VERSION" kubernetes "$kube_ldflags" \
    ./cmd/kube-apiserver=kube-apiserver ./cmd/kube-controller-manager=kube-controller-manager \
    ./cmd/kube-scheduler=kube-scheduler
fi
link kubernetes "$KUBERNETES_VERSION" "${kube_bins[@]}"

if ! ready etcd "$ETCD_VERSION" etcd; then
  announce etcd "$ETCD_VERSION" "about a minute"
  build_module etcd "$ETCD_VERSION" etcd "" .=etcd
fi
link etcd "$ETCD_VERSION" etcd

if ! ready kwok "$KWOK_VERSION" kwok; then
  announce kwok "$KWOK_VERSION" "about 3 minutes"
  install_module kwok "$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" kwok
  # KWOK's stages (node and pod lifecycles) live in its module's kustomize folder.
  mod_dir="$(GOFLAGS=-mod=mod go list -m -f '{{.Dir}}' "sigs.k8s.io/kwok@$KWOK_VERSION" 2>/dev/null || true)"
  [[ -n "$mod_dir" ]] || mod_dir="$(go env GOMODCACHE)/sigs.k8s.io/kwok@$KWOK_VERSION"
  mkdir -p "$cache/kwok-$KWOK_VERSION/stages"
  cp -R "$mod_dir/kustomize/stage/." "$cache/kwok-$KWOK_VERSION/stages/"
  chmod -R u+w "$cache/kwok-$KWOK_VERSION/stages"
fi
link kwok "$KWOK_VERSION" kwok
ln -sfn "$cache/kwok-$KWOK_VERSION/stages" "$links/kwok-stages"

if ! ready velero "$VELERO_BUILD" velero; then
  announce velero "$VELERO_VERSION" "about 4 minutes"
  build_module velero "$VELERO_BUILD" velero "-X github.com/vmware-tanzu/velero/pkg/buildinfo.Version=$VELERO_VERSION" .=velero
fi
link velero "$VELERO_BUILD" velero

if ! ready velero-plugin-for-aws "$VELERO_AWS_PLUGIN_VERSION" velero-plugin-for-aws; then
  announce velero-plugin-for-aws "$VELERO_AWS_PLUGIN_VERSION" "about 3 minutes"
  install_module velero-plugin-for-aws "$VELERO_AWS_PLUGIN_VERSION" \
    "github.com/vmware-tanzu/velero-plugin-for-aws/velero-plugin-for-aws@$VELERO_AWS_PLUGIN_VERSION" velero-plugin-for-aws
fi
link velero-plugin-for-aws "$VELERO_AWS_PLUGIN_VERSION" velero-plugin-for-aws

if ! ready versitygw "$VERSITYGW_VERSION" versitygw; then
  announce versitygw "$VERSITYGW_VERSION" "about 2 minutes"
  install_module versitygw "$VERSITYGW_VERSION" "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION" versitygw
fi
link versitygw "$VERSITYGW_VERSION" versitygw

echo "provision: control plane tools ready in $links (kubernetes $KUBERNETES_VERSION, etcd $ETCD_VERSION, kwok $KWOK_VERSION, velero $VELERO_VERSION, aws plugin $VELERO_AWS_PLUGIN_VERSION, versitygw $VERSITYGW_VERSION)"
