#!/usr/bin/env bash
# Builds (or reuses) the pinned cluster binaries: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kubectl, kubelet, kube-proxy (this
# module), kwok + kwokctl (go install) and helm (go install).
#
# Output: prints the bin directory on stdout. Binaries live in a cache outside
# the repository, keyed by a hash of every pin (go.mod, go.sum, this script), so
# a warm run takes a second and a changed pin never reuses a stale binary. Bump BUILD_FLAGS_VERSION
# when the ldflags below change.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

KUBE_VERSION=v1.36.3
KWOK_VERSION=v0.8.0
HELM_VERSION=v3.22.0

cache_root="${SD_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sd-gitops-bootstrap}"
# The key covers what decides the bytes of the binaries (module pins, tool versions, build flags), not
# this script's wording, so editing a comment or a log line does not force a 10-minute rebuild.
BUILD_FLAGS_VERSION=1
key="$(cat "$here/go.mod" "$here/go.sum" <(echo "$KUBE_VERSION $KWOK_VERSION $HELM_VERSION $BUILD_FLAGS_VERSION") | sha256sum | cut -c1-16)"
bin="$cache_root/tools-$KUBE_VERSION-$key/bin"

want=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy kwok kwokctl helm)
missing=()
for b in "${want[@]}"; do [[ -x "$bin/$b" ]] || missing+=("$b"); done
if [[ ${#missing[@]} -eq 0 ]]; then echo "$bin"; exit 0; fi

mkdir -p "$bin"
export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:--buildvcs=false} -trimpath"
log() { echo "[tools] $*" >&2; }

# The version ldflags make /version, `kubectl version` and helm's kubeVersion
# check see the real release instead of v0.0.0.
minor="${KUBE_VERSION#v1.}"; minor="${minor%%.*}"
ld="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ld+=" -X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
  ld+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
done

start=$(date +%s)
cd "$here"
for b in "${missing[@]}"; do
  t0=$(date +%s)
  case "$b" in
    etcd) go build -ldflags "-s -w" -o "$bin/etcd.tmp" ./etcd ;;
    kwok|kwokctl)
      GOBIN="$bin/.gobin" go install -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=$KUBE_VERSION" "sigs.k8s.io/kwok/cmd/$b@$KWOK_VERSION"
      mv "$bin/.gobin/$b" "$bin/$b.tmp" ;;
    helm)
      GOBIN="$bin/.gobin" go install -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
      mv "$bin/.gobin/helm" "$bin/helm.tmp" ;;
    *) go build -ldflags "$ld" -o "$bin/$b.tmp" "k8s.io/kubernetes/cmd/$b" ;;
  esac
  mv "$bin/$b.tmp" "$bin/$b"   # rename last: an interrupted build never leaves a half binary
  log "built $b in $(( $(date +%s) - t0 ))s"
done
rm -rf "$bin/.gobin"
log "built ${#missing[@]} binaries in $(( $(date +%s) - start ))s into $bin"
echo "$bin"
