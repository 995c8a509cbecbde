#!/usr/bin/env bash
# Builds (or reuses) Toxiproxy's server, the real TCP fault proxy the reliability suite puts between a run
# and the API server (test/e2e/reliability.test.ts: latency, connection resets, a stall), from the Go
# module proxy at a pinned version (`go install …@version` checks it against the checksum database).
#
# Output: prints the bin directory on stdout. The binary lives in the cache outside the repository,
# keyed by the version and BUILD_FLAGS_VERSION (cache root, key and build loop: tools/lib/build-lib.sh).
# Cold: about 30 s on 2 cores (`time tools/toxiproxy/build.sh` with empty module and build caches for it).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib/build-lib.sh
. "$here/../lib/build-lib.sh"

TOXIPROXY_VERSION=v2.5.0
BUILD_FLAGS_VERSION=1
tools_go_install toxiproxy "$TOXIPROXY_VERSION" "$BUILD_FLAGS_VERSION" \
  github.com/Shopify/toxiproxy/v2/cmd/server server toxiproxy-server
