# The pinned versions of the local clusters, one place for the tool builds (sourced by tools/cluster/build.sh)
# and the TypeScript tooling (read by tools/versions.ts). KEY=value lines only. A changed pin changes the
# cache keys that cover it, so the next run rebuilds what depends on it. Argo CD's versions are the
# product's: src/config/bundled.ts (BUNDLED_VERSIONS; the first is the default).
KUBE_VERSION=v1.36.3
KWOK_VERSION=v0.8.0
HELM_VERSION=v3.22.0
KIND_VERSION=v0.33.0
