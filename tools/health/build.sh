#!/usr/bin/env bash
# Builds (or reuses) lua-health (lua-health/main.go): Argo CD's Lua VM for health scripts — gopher-lua at
# the version Argo CD v3.5.1 pins (v1.1.2, from the Go module proxy, checked against go.sum) with the same
# libraries — so test/unit/seldon-health.test.ts runs the health checks of src/manifests/seldon-health.ts
# as Argo CD would.
#
# Output: prints the bin directory on stdout. The binary lives in the cache outside the repository, keyed
# by the harness's source files (cache root, key and build loop: tools/lib/build-lib.sh).
# Cold: about 1.5 min on 2 shared cores (86 s measured) (`time tools/health/build.sh` with an empty module and build cache for it).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib/build-lib.sh
. "$here/../lib/build-lib.sh"

src="$here/lua-health"
key="$(tools_key "$src/main.go" "$src/go.mod" "$src/go.sum")"
# shellcheck disable=SC2317  # called by tools_build_missing
build_one() {
  go build -ldflags "-s -w" -o "$bin/$b.tmp" .
}
tools_build_missing lua-health "$(tools_cache_root)/lua-health-$key/bin" "$src" lua-health
