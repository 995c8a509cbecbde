#!/usr/bin/env bash
# Builds (or reuses) the pinned cluster binaries: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kubectl, kubelet, kube-proxy, kubeadm (this
# module), kwok + kwokctl (go install) and helm (go install).
#
# Output: prints the bin directory on stdout. Binaries live in a cache outside
# the repository, keyed by a hash of every pin (go.mod, go.sum, the versions below,
# BUILD_FLAGS_VERSION; not this script), so a warm run takes a second and a changed pin never reuses a
# stale binary. Bump BUILD_FLAGS_VERSION when the ldflags below change. Cache root, key and build loop:
# tools/lib/build-lib.sh.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib/build-lib.sh
. "$here/../lib/build-lib.sh"
# KUBE_VERSION, KWOK_VERSION, HELM_VERSION
# shellcheck source=../versions.sh
. "$here/../versions.sh"

cache_root="$(tools_cache_root)"
# The key covers what decides the bytes of the binaries (module pins, tool versions, build flags), not
# this script's wording, so editing a comment or a log line does not force a 10-minute rebuild.
BUILD_FLAGS_VERSION=1
key="$(tools_key "$here/go.mod" "$here/go.sum" -- "$KUBE_VERSION $KWOK_VERSION $HELM_VERSION $BUILD_FLAGS_VERSION")"
bin="$cache_root/tools-$KUBE_VERSION-$key/bin"

want=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy kubeadm kwok kwokctl helm)

# The version ldflags make /version, `kubectl version` and helm's kubeVersion
# check see the real release instead of v0.0.0.
minor="${KUBE_VERSION#v1.}"; minor="${minor%%.*}"
ld="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ld+=" -X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
  ld+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
done

# Builds "$bin/$b.tmp" (called by tools_build_missing, in $here).
build_one() {
  case "$b" in
    etcd) go build -ldflags "-s -w" -o "$bin/etcd.tmp" ./etcd ;;
    kwok|kwokctl)
      GOBIN="$bin/.gobin" go install -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=$KUBE_VERSION" "sigs.k8s.io/kwok/cmd/$b@$KWOK_VERSION"
      mv "$bin/.gobin/$b" "$bin/$b.tmp" ;;
    helm)
      GOBIN="$bin/.gobin" go install -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
      mv "$bin/.gobin/helm" "$bin/helm.tmp" ;;
    kubeadm)
      # kubeadm's own dependencies (corefile-migration, system-validators) are not in go.sum; their sums
      # live in kubeadm.go.sum, merged into a side modfile, so go.mod/go.sum and the cache key stay as they are.
      side="$(mktemp -d)"; cp go.mod "$side/kubeadm.mod"; cat go.sum kubeadm.go.sum >"$side/kubeadm.sum"
      go build -modfile="$side/kubeadm.mod" -ldflags "$ld" -o "$bin/$b.tmp" "k8s.io/kubernetes/cmd/$b"
      rm -rf "$side" ;;
    *) go build -ldflags "$ld" -o "$bin/$b.tmp" "k8s.io/kubernetes/cmd/$b" ;;
  esac
}
tools_build_missing tools "$bin" "$here" "${want[@]}"
