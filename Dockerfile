# The image of the chart's hook Job: `node /app/dist/main.js apply`.
#
#   npm run manifests -- --bundle     # optional: the pinned manifests into manifests/argocd/ (offline build)
#   docker build -t sd-gitops-bootstrap:0.1.0 .
#
# Works with the legacy builder and BuildKit alike (no build contexts or heredocs needed):
# - BASE_IMAGE: the official Node 24 LTS slim image by default; any Debian-based image with Node 24 and npm
#   (the tests pass a locally made one, as no registry can be pulled from there).
# - Argo CD's install manifests (install.source: bundled) come from the build context when present
#   (manifests/argocd/<version>/install.yaml: `npm run manifests -- --bundle` puts them there), else the
#   build fetches them the way a checkout does (src/manifests/upstream.ts): from the Go module proxy
#   (GOPROXY, default https://proxy.golang.org; the module zip of github.com/argoproj/argo-cd/v3 carries
#   manifests/install.yaml), else from the GitHub release (honouring HTTPS_PROXY).
#   Either way each is checked against its sha256 below, which must match BUNDLED_SHA256 in
#   src/manifests/argocd.ts (a unit test keeps the two in step).
ARG BASE_IMAGE=node:24-slim

# ---------------------------------------------------------------------------------------------- build
FROM ${BASE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: nothing the build needs runs an install script (the `node` devDependency would only
# download a second Node binary).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY scripts/bundle.ts ./scripts/
# dist/ (tsc) serves the manifests stage below; the image runs the one-file bundle (scripts/bundle.ts:
# esbuild, whose binary is an optional dependency, so --ignore-scripts above does not lose it).
RUN npm run build && node scripts/bundle.ts

# ---------------------------------------------------------------------------- Argo CD install manifests
FROM build AS manifests
# version=sha256 of upstream manifests/install.yaml at that tag.
ARG ARGOCD_BUNDLED="v3.5.1=795a3a972224da6a7f9d32c3e946445f062b60fb46028476715affeb688236e3 v2.14.21=ee39d40847bbb36154ebcdf2f5c93e0a9001ab60131afb60dbe42981a069699e"
# version=sha256 of upstream manifests/ha/install.yaml at that tag (argocd.install.profile: ha).
ARG ARGOCD_BUNDLED_HA="v3.5.1=1d7b6baa0769ff8a5757c61e2c677ae0939a15e86e149f64df6b12435db5c4b2 v2.14.21=0fd3798afc491023fc4fae35961e976a7cfdcd611a67abbf333443cee720f44c"
ARG GOPROXY=https://proxy.golang.org
COPY manifests/argocd/ /manifests/
RUN set -eu; \
    bundle() { \
      key="$1"; sum="$2"; file="$3"; \
      if [ ! -f "${file}" ]; then \
        mkdir -p "$(dirname "${file}")"; \
        GOPROXY="${GOPROXY}" SD_GITOPS_BOOTSTRAP_CACHE=/tmp/upstream NODE_USE_ENV_PROXY=1 node --input-type=module -e 'const m = await import("/src/dist/manifests/upstream.js"); const { copyFileSync } = await import("node:fs"); copyFileSync(await m.ensureUpstream(process.argv[1], { log: console.log }), process.argv[2]);' "${key}" "${file}"; \
      fi; \
      echo "${sum}  ${file}" | sha256sum -c -; \
      node --input-type=module -e 'const m = await import("/src/dist/manifests/argocd.js"); const { loadAll } = await import("/src/node_modules/js-yaml/dist/js-yaml.mjs"); const { readFileSync } = await import("node:fs"); await m.writeSidecar(process.argv[1], process.argv[2], loadAll(readFileSync(process.argv[1], "utf8")));' "${file}" "${sum}"; \
      test -s "${file}.json"; \
    }; \
    for pair in ${ARGOCD_BUNDLED}; do bundle "argocd/${pair%%=*}" "${pair#*=}" "/manifests/${pair%%=*}/install.yaml"; done; \
    for pair in ${ARGOCD_BUNDLED_HA}; do bundle "argocd-ha/${pair%%=*}" "${pair#*=}" "/manifests/${pair%%=*}/ha/install.yaml"; done; \
    rm -f /manifests/README.md

# ------------------------------------------------------------------------------------------------ runtime
FROM ${BASE_IMAGE}
# git (the repository check) and ssh (git over SSH), without recommends; nothing else is installed. Perl
# goes again (47 MB): git depends on it only for scripts this program never runs (send-email, svn, cvs…);
# `ls-remote`, `clone` and `ls-tree` are C. (Debian's essential perl-base of the base image stays.) The program needs neither npm nor yarn (it is one file, no
# node_modules): they go too, with the packages' documentation.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends git openssh-client ca-certificates \
    && dpkg --purge --force-depends perl libperl5.36 perl-modules-5.36 liberror-perl \
    && git --version && ssh -V \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log \
              /usr/share/doc/* /usr/share/man/* /usr/share/locale/* /usr/share/info/* \
    && rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack /opt/yarn-* \
              /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/yarn /usr/local/bin/yarnpkg /usr/local/bin/corepack \
    # ssh refuses to run for a uid without a passwd entry ("No user exists for uid"): give 10001 one.
    && groupadd --gid 10001 bootstrap \
    && useradd --uid 10001 --gid 10001 --home-dir /tmp --no-create-home --shell /usr/sbin/nologin bootstrap
WORKDIR /app
COPY --from=build /src/dist-bundle/main.js ./dist/main.js
COPY --from=manifests /manifests ./manifests/argocd
# The program finds its manifests beside the nearest package.json.
COPY package.json ./
# A read-only root filesystem: the only writes (git's and ssh's temporary files) go to /tmp, an emptyDir
# in the chart's Job.
ENV NODE_ENV=production \
    HOME=/tmp \
    TMPDIR=/tmp
USER 10001:10001
ENTRYPOINT ["node", "/app/dist/main.js"]
CMD ["--help"]
LABEL org.opencontainers.image.title="sd-gitops-bootstrap" \
      org.opencontainers.image.description="Installs and configures Argo CD and GitOps environments for Seldon Deploy" \
      org.opencontainers.image.licenses="Apache-2.0"
