#!/usr/bin/env bash
# Builds (or reuses) helm-docs, which generates helm/sd-gitops-bootstrap/README.md from values.yaml's
# `# --` comments and README.md.gotmpl (`npm run chart-docs`; test/unit/chart-readme.test.ts fails on drift).
# `go install` at a pinned version from the Go module proxy (go.sum of that version, checked against the
# checksum database as every `go install module@version` is).
#
# Output: prints the bin directory on stdout. The binary lives in a cache outside the repository, keyed by
# its version and build flags (not this script's wording), so a warm run takes a second. Cache root, key
# and build loop: test/lib/build-lib.sh. Cold: about a minute on 2 cores (measured: README, Development).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../lib/build-lib.sh
. "$here/../../lib/build-lib.sh"

HELM_DOCS_VERSION=v1.14.2
BUILD_FLAGS_VERSION=1

key="$(tools_key -- "$HELM_DOCS_VERSION $BUILD_FLAGS_VERSION")"
bin="$(tools_cache_root)/helm-docs-$HELM_DOCS_VERSION-$key/bin"

# Builds "$bin/$b.tmp" (called by tools_build_missing, in $here).
build_one() {
  GOBIN="$bin/.gobin" go install -ldflags "-s -w -X main.version=${HELM_DOCS_VERSION#v}" \
    "github.com/norwoodj/helm-docs/cmd/helm-docs@$HELM_DOCS_VERSION"
  mv "$bin/.gobin/helm-docs" "$bin/$b.tmp"
}
tools_build_missing helm-docs "$bin" "$here" helm-docs
