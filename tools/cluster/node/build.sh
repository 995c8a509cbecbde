#!/usr/bin/env bash
# Builds (or reuses) the real node's extra binaries: coredns and crictl
# (`go install <module>@<version>`: each with its own pinned dependency graph)
# and pause (./pause in this module).
#
# Output: prints the bin directory on stdout. Separate from ../build.sh and its
# cache key on purpose: changing a pin here never rebuilds Kubernetes.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

COREDNS_VERSION=v1.14.2   # what kubeadm v1.36 deploys (cmd/kubeadm/app/constants)
CRICTL_VERSION=v1.36.0    # sigs.k8s.io/cri-tools, same minor as the kubelet

cache_root="${SD_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sd-gitops-bootstrap}"
key="$(cat "$here/go.mod" "$here/build.sh" "$here/pause/main.go" | sha256sum | cut -c1-16)"
bin="$cache_root/node-tools-$key/bin"

want=(coredns crictl pause)
missing=()
for b in "${want[@]}"; do [[ -x "$bin/$b" ]] || missing+=("$b"); done
if [[ ${#missing[@]} -eq 0 ]]; then echo "$bin"; exit 0; fi

mkdir -p "$bin"
export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:--buildvcs=false} -trimpath"
log() { echo "[node-tools] $*" >&2; }

start=$(date +%s)
cd "$here"
for b in "${missing[@]}"; do
  t0=$(date +%s)
  case "$b" in
    coredns)
      GOBIN="$bin/.gobin" go install -ldflags "-s -w -X github.com/coredns/coredns/coremain.GitCommit=$COREDNS_VERSION" "github.com/coredns/coredns@$COREDNS_VERSION"
      mv "$bin/.gobin/coredns" "$bin/coredns.tmp" ;;
    crictl)
      GOBIN="$bin/.gobin" go install -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL_VERSION" "sigs.k8s.io/cri-tools/cmd/crictl@$CRICTL_VERSION"
      mv "$bin/.gobin/crictl" "$bin/crictl.tmp" ;;
    pause) go build -ldflags "-s -w" -o "$bin/pause.tmp" ./pause ;;
  esac
  mv "$bin/$b.tmp" "$bin/$b"   # rename last: an interrupted build never leaves a half binary
  log "built $b in $(( $(date +%s) - t0 ))s"
done
rm -rf "$bin/.gobin"
log "built ${#missing[@]} binaries in $(( $(date +%s) - start ))s into $bin"
echo "$bin"
