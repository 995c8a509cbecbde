# Shared by the tool builds (tools/cluster, tools/argocd, tools/helm-docs, tools/toxiproxy): where the cache
# lives, how a cache key is computed, the Go build environment and the build-what-is-missing loop.
# Pins and build cases stay in each script. Source it; it defines functions and sets nothing else
# until they are called.

# The cache root, outside the repository: $SD_TOOLS_CACHE, else $XDG_CACHE_HOME or ~/.cache.
tools_cache_root() {
  echo "${SD_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sd-gitops-bootstrap}"
}

# tools_key [FILE...] [-- TEXT]: the first 16 hex digits of sha256 over the files' bytes followed by
# TEXT and a newline (no TEXT: the files alone). Same bytes in, same key out: keep it that way, a
# changed key rebuilds everything keyed by it.
tools_key() {
  local files=() text='' has_text=0
  while [[ $# -gt 0 ]]; do
    if [[ $1 == -- ]]; then text="$2"; has_text=1; break; fi
    files+=("$1"); shift
  done
  {
    [[ ${#files[@]} -eq 0 ]] || cat "${files[@]}"
    [[ $has_text -eq 0 ]] || echo "$text"
  } | sha256sum | cut -c1-16
}

# The Go environment of every build: static, reproducible paths.
tools_go_env() {
  export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:--buildvcs=false} -trimpath"
}

# tools_build_missing LOG_TAG BIN DIR WANT...: builds each binary of WANT that is not executable in BIN
# by calling the script's `build_one` (with $b set to the name, in DIR; it writes "$BIN/$b.tmp"), then
# renames it into place, and prints BIN. Exits the script when nothing is missing.
tools_build_missing() {
  local tag="$1" dir="$3"; bin="$2"; shift 3
  local missing=() start t0
  for b in "$@"; do [[ -x "$bin/$b" ]] || missing+=("$b"); done
  if [[ ${#missing[@]} -eq 0 ]]; then echo "$bin"; exit 0; fi
  mkdir -p "$bin"
  tools_go_env
  start=$(date +%s)
  cd "$dir"
  for b in "${missing[@]}"; do
    t0=$(date +%s)
    build_one
    mv "$bin/$b.tmp" "$bin/$b"   # rename last: an interrupted build never leaves a half binary
    echo "[$tag] built $b in $(( $(date +%s) - t0 ))s" >&2
  done
  rm -rf "$bin/.gobin"
  echo "[$tag] built ${#missing[@]} binaries in $(( $(date +%s) - start ))s into $bin" >&2
  echo "$bin"
}

# tools_go_install NAME VERSION FLAGS_VERSION PACKAGE BUILT_AS AS [LDFLAGS]: one binary by `go install
# PACKAGE@VERSION` from the module proxy (checked against the checksum database, as every
# `go install module@version` is), cached in NAME-VERSION-<key of VERSION and FLAGS_VERSION>/bin under
# the name AS (Go writes it as BUILT_AS, the package's last path element). Prints the bin directory.
# LDFLAGS default to `-s -w`; bump FLAGS_VERSION when they change.
tools_go_install() {
  local name="$1" version="$2" flags_version="$3" package="$4" built_as="$5" as="$6" ldflags="${7:--s -w}"
  local key
  key="$(tools_key -- "$version $flags_version")"
  # shellcheck disable=SC2317  # called by tools_build_missing
  build_one() {
    GOBIN="$bin/.gobin" go install -ldflags "$ldflags" "$package@$version"
    mv "$bin/.gobin/$built_as" "$bin/$b.tmp"
  }
  tools_build_missing "$name" "$(tools_cache_root)/$name-$version-$key/bin" "$(pwd)" "$as"
}
