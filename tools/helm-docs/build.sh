#!/usr/bin/env bash
# Builds (or reuses) helm-docs, which generates helm/sd-gitops-bootstrap/README.md from values.yaml's
# `# --` comments and README.md.gotmpl (`npm run chart-docs`; test/unit/chart-readme.test.ts fails on drift).
# `go install` at a pinned version from the Go module proxy (go.sum of that version, checked against the
# checksum database as every `go install module@version` is).
#
# Output: prints the bin directory on stdout. The binary lives in a cache outside the repository, keyed by
# its version and build flags (not this script's wording), so a warm run takes a second. Cache root, key
# and build loop: tools/lib/build-lib.sh. Cold: about a minute on 2 cores (measured: docs/development.md).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib/build-lib.sh
. "$here/../lib/build-lib.sh"

HELM_DOCS_VERSION=v1.14.2
BUILD_FLAGS_VERSION=1

tools_go_install helm-docs "$HELM_DOCS_VERSION" "$BUILD_FLAGS_VERSION" \
  github.com/norwoodj/helm-docs/cmd/helm-docs helm-docs helm-docs "-s -w -X main.version=${HELM_DOCS_VERSION#v}"
