#!/usr/bin/env bash
# Builds (or reuses) the binaries of the Argo CD image of the real-node tests:
#   argocd     Argo CD v3.5.1 from its Go module through this wrapper module (go.mod: argo-cd's own
#              replace directives plus the gitops-engine pin). One binary; the image links it under
#              every component name (cmd/main.go dispatches on the base name of argv[0]).
#              ARGOCD_VERSION=v2.14.21: Argo CD v2.14.21 instead (module argo-cd/v2, wrapper module in
#              ./v2), for the upgrade test of the kind tier. kustomize and dex stay the same.
#   kustomize  `go install` at the version Argo CD's hack/tool-versions.sh names.
#   dex        only with ARGOCD_TOOLS_DEX=1: dex from its Go module through ./dex (its own wrapper
#              module). It does not build from what the module proxy serves today (README.md), so it is
#              off by default; a failed build is reported on stderr, remembered per pin, and leaves no
#              `dex` in the bin directory instead of failing the script.
# helm is not built here: the image reuses the one tools/cluster/build.sh makes.
#
# Output: prints the bin directory on stdout. Each binary lives in a cache outside the repository,
# keyed by what decides its bytes (go.mod, go.sum, versions, build flags), so a warm run takes a second
# and a changed pin never reuses a stale binary. Bump BUILD_FLAGS_VERSION when the ldflags change.
#
# Cold: argocd is a large build (about 1,700 packages); it runs under `nice` so that a shared machine
# stays usable. Set ARGOCD_BUILD_NICE=0 to build at normal priority.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib/build-lib.sh
. "$here/../lib/build-lib.sh"

# Default: the product's default Argo CD version, the first of BUNDLED_VERSIONS (src/config/bundled.ts).
ARGOCD_VERSION="${ARGOCD_VERSION:-$(sed -n "s/^export const BUNDLED_VERSIONS = \['\(v[^']*\)'.*/\1/p" "$here/../../src/config/bundled.ts")}"
[[ -n $ARGOCD_VERSION ]] || { echo "[argocd-tools] no BUNDLED_VERSIONS in src/config/bundled.ts" >&2; exit 2; }
# Per version: the wrapper module's directory, Argo CD's module path, and the tag's committer time as the
# module proxy reports it (`go list -m -json <module>@<version>`: Time), which is Argo CD's `buildDate`.
case "$ARGOCD_VERSION" in
  v3.5.1) argocd_mod_dir="$here" argocd_module=github.com/argoproj/argo-cd/v3 ARGOCD_BUILD_DATE=2026-08-12T11:24:40Z ;;
  v2.14.21) argocd_mod_dir="$here/v2" argocd_module=github.com/argoproj/argo-cd/v2 ARGOCD_BUILD_DATE=2025-11-04T14:56:45Z ;;
  *) echo "[argocd-tools] ARGOCD_VERSION=$ARGOCD_VERSION: no wrapper module for it (v3.5.1, v2.14.21)" >&2; exit 2 ;;
esac
KUSTOMIZE_VERSION=v5.8.1
BUILD_FLAGS_VERSION=1
KUSTOMIZE_FLAGS_VERSION=2
DEX_FLAGS_VERSION=1

cache_root="$(tools_cache_root)"
argocd_key="$(tools_key "$argocd_mod_dir/go.mod" "$argocd_mod_dir/go.sum" -- "$ARGOCD_VERSION $ARGOCD_BUILD_DATE $BUILD_FLAGS_VERSION")"
kustomize_key="$(tools_key -- "$KUSTOMIZE_VERSION $KUSTOMIZE_FLAGS_VERSION")"
dex_key="$(tools_key "$here/dex/go.mod" "$here/dex/go.sum" -- "$DEX_FLAGS_VERSION")"
dex_version="$(sed -n 's#^require github.com/dexidp/dex \(v[^ ]*\)$#\1#p' "$here/dex/go.mod")"
declare -A dir=(
  [argocd]="$cache_root/argocd-$ARGOCD_VERSION-$argocd_key"
  [kustomize]="$cache_root/kustomize-$KUSTOMIZE_VERSION-$kustomize_key"
  [dex]="$cache_root/dex-$dex_key"
)
want=(argocd kustomize)
[[ "${ARGOCD_TOOLS_DEX:-}" != 1 ]] || want+=(dex)
# The directory printed: links to each binary's own cache entry.
bin="$cache_root/argocd-tools-$(tools_key -- "$argocd_key $kustomize_key ${want[*]} $dex_key")/bin"

log() { echo "[argocd-tools] $*" >&2; }
tools_go_env
nice_=(nice -n "${ARGOCD_BUILD_NICE:-10}")

# The version ldflags of Argo CD's Makefile. The module carries no commit hash, so `argocd version`
# reads "v3.5.1+unknown"; extraBuildInfo says where the binary came from. gitops-engine: v3 nests it
# (argo-cd/gitops-engine, pinned by a replace), v2 requires github.com/argoproj/gitops-engine.
mod_version() { (cd "$argocd_mod_dir" && go list -m -f '{{with .Replace}}{{.Version}}{{else}}{{.Version}}{{end}}' "$1"); }
if [[ $argocd_module == */v3 ]]; then gitops_engine="$(mod_version github.com/argoproj/argo-cd/gitops-engine)"
else gitops_engine="$(mod_version github.com/argoproj/gitops-engine)"; fi
kubectl_version="$(mod_version k8s.io/client-go)"
p=$argocd_module/common
argocd_ld="-s -w -X $p.version=${ARGOCD_VERSION#v} -X $p.buildDate=$ARGOCD_BUILD_DATE -X $p.gitTag=$ARGOCD_VERSION"
argocd_ld+=" -X $p.gitTreeState=clean -X $p.kubectlVersion=$kubectl_version"
argocd_ld+=" -X '$p.extraBuildInfo=built from the Go module proxy: argo-cd/${argocd_module##*/}@$ARGOCD_VERSION, gitops-engine@$gitops_engine'"

start=$(date +%s)
built=0
for b in "${want[@]}"; do
  out="${dir[$b]}/$b"
  if [[ -f "$out.failed" ]]; then
    log "$b: an earlier build with these pins failed ($out.failed); skipped"
    continue
  fi
  if [[ ! -x "$out" ]]; then
    mkdir -p "${dir[$b]}"
    t0=$(date +%s)
    log "building $b (cold; this takes a while)"
    case "$b" in
      argocd)
        (cd "$argocd_mod_dir" && GODEBUG=tarinsecurepath=0,zipinsecurepath=0 "${nice_[@]}" go build \
          -ldflags "$argocd_ld" -o "$out.tmp" "$argocd_module/cmd") ;;
      kustomize)
        # Release builds set `kustomize/vX.Y.Z`; Argo CD parses the version out of `kustomize version`.
        (cd "$here" && GOBIN="${dir[$b]}/.gobin" "${nice_[@]}" go install -ldflags "-s -w \
          -X sigs.k8s.io/kustomize/api/provenance.version=kustomize/$KUSTOMIZE_VERSION \
          -X sigs.k8s.io/kustomize/api/provenance.buildDate=1970-01-01T00:00:00Z" \
          "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION")
        mv "${dir[$b]}/.gobin/kustomize" "$out.tmp"; rm -rf "${dir[$b]}/.gobin" ;;
      dex)
        # A failure is remembered (per key), so that later runs do not spend minutes on it again.
        if ! (cd "$here/dex" && "${nice_[@]}" go build -ldflags "-s -w -X main.version=$dex_version" \
          -o "$out.tmp" github.com/dexidp/dex/cmd/dex) 2>"$out.log"; then
          cat "$out.log" >&2; mv "$out.log" "$out.failed"; rm -f "$out.tmp"
          log "dex did not build (above; kept in $out.failed): going on without it, Argo CD runs without dex"
          continue
        fi
        rm -f "$out.log" ;;
    esac
    mv "$out.tmp" "$out"   # rename last: an interrupted build never leaves a half binary
    built=$((built + 1))
    log "built $b in $(( $(date +%s) - t0 ))s"
  fi
  mkdir -p "$bin"
  ln -sfn "$out" "$bin/$b"
done
[[ $built -eq 0 ]] || log "built $built binaries in $(( $(date +%s) - start ))s; links in $bin"
echo "$bin"
