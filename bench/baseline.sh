#!/usr/bin/env bash
# The seed procedure ("GitOps setup with ArgoCD", Seldon Deploy docs) as a script: what a user would run by
# hand, one `kubectl` process per action, step for step in the document's order, no batching it does not do.
# It is the baseline `npm run bench` (scripts/bench.ts) compares the bootstrap with.
#
# Inputs (environment):
#   KUBECTL               kubectl binary (the bench passes the pinned one from the cluster tools cache)
#   KUBECONFIG            who runs it (the bench: a cluster-admin ServiceAccount, so the audit log counts it)
#   ARGOCD_MANIFEST       Argo CD's install.yaml (the document downloads it from GitHub; the same file, local)
#   GIT_REPO_URL          the GitOps repository without its scheme, e.g. git@host:port/srv/git/gitops.git
#   NAMESPACES            the environments, space-separated (the logging namespace included, as the document
#                         asks for a "system-level GitOps environment" for seldon-logs)
#   ARGOCDINITIALPASS     the admin password
#   GIT_SSH_PATH, GIT_KNOWN_HOSTS_PATH, GIT_USER, GIT_EMAIL, GIT_SSHKEY_PASSPHRASE   the Git credentials
#   WORKDIR               where the YAML files the document writes with `cat << EOF` go
#
# Where the document cannot be followed literally, the nearest faithful equivalent (each marked below):
# - Argo CD >= 3.3 needs `kubectl apply --server-side` (its CRDs are too big for the client-side annotation).
# - argocd-server has `args`, not `command`, since Argo CD 2.x: the JSON patches append to `args`.
# - `argocd repo add` needs a reachable argocd-server (no real pods here): its declarative equivalent, the
#   repository Secret Argo CD documents (label argocd.argoproj.io/secret-type=repository), one process to
#   create it and one to label it.
# - The password hash: `htpasswd -bnBC 10` when installed, else the same bcrypt (cost 10) from node.
# - Skipped, as they need real pods or a load balancer and change nothing: `kubectl get svc
#   istio-ingressgateway`, `kubectl port-forward`, `argocd login`, the `kubectl run … git clone` check, the
#   Git provider webhooks.
# Prints `::rollout-ms <n>` on stderr: the time spent in `kubectl rollout status` (measured apart).
set -euo pipefail
: "${KUBECTL:?}" "${ARGOCD_MANIFEST:?}" "${GIT_REPO_URL:?}" "${NAMESPACES:?}" "${WORKDIR:?}"
: "${ARGOCDINITIALPASS:=12341234}" "${GIT_USER:=git}" "${GIT_EMAIL:=gitops@example.com}"
: "${GIT_SSHKEY_PASSPHRASE:=}"
kubectl() { "$KUBECTL" "$@"; }
mkdir -p "$WORKDIR"
cd "$WORKDIR"
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# ------------------------------------------------------------------------------ ArgoCD Installation
kubectl create namespace argocd || echo "namespace exist"
# Faithful equivalent: server-side, as Argo CD >= 3.3 requires.
kubectl apply -n argocd --server-side --force-conflicts -f "$ARGOCD_MANIFEST" >/dev/null

t0=$(now_ms)
# The document's list, for the workloads of this manifest (the application controller is a StatefulSet).
kubectl rollout status statefulset/argocd-application-controller -n argocd
kubectl rollout status deployment/argocd-repo-server -n argocd
kubectl rollout status deployment/argocd-server -n argocd
kubectl rollout status deployment/argocd-redis -n argocd
kubectl rollout status deployment/argocd-dex-server -n argocd
kubectl rollout status deployment/argocd-applicationset-controller -n argocd
kubectl rollout status deployment/argocd-notifications-controller -n argocd
echo "::rollout-ms $(( $(now_ms) - t0 ))" >&2

# --------------------------------------------------------------------------- Admin user and password
if command -v htpasswd >/dev/null; then
  hash=$(htpasswd -bnBC 10 "" "${ARGOCDINITIALPASS}" | tr -d ':\n')
else
  hash=$(ARGOCDINITIALPASS="$ARGOCDINITIALPASS" node -e 'process.stdout.write(require("bcryptjs").hashSync(process.env.ARGOCDINITIALPASS, 10))')
fi
kubectl patch secret \
    -n argocd argocd-secret \
    -p '{"stringData": { "admin.password": "'"$hash"'"}}'

# ----------------------------------------------------------------------------------- SSL Termination
# Faithful equivalent: `args` (argocd-server has no `command`).
kubectl patch deploy argocd-server \
    -n argocd \
    -p '[{"op": "add", "path": "/spec/template/spec/containers/0/args/-", "value": "--insecure"}]' \
    --type json

# ------------------------------------------------------------------------ Exposing ArgoCD (rootpath, VS)
kubectl patch deploy argocd-server \
    -n argocd \
    -p '[{"op": "add", "path": "/spec/template/spec/containers/0/args/-", "value": "--rootpath"}, {"op": "add", "path": "/spec/template/spec/containers/0/args/-", "value": "/argocd"}]' \
    --type json

cat << YAML > ./argocd-vs.yaml
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata:
  name: argocd-server
  namespace: argocd
spec:
  gateways:
  - istio-system/seldon-gateway
  hosts:
  - '*'
  http:
  - match:
    - uri:
        prefix: /argocd/
    route:
    - destination:
        host: argocd-server
        port:
          number: 80
YAML
kubectl apply -f argocd-vs.yaml

# ------------------------------------------------------------------ GitOps environment creation (each)
done_ns=()
for namespace in $NAMESPACES; do
  done_ns+=("$namespace")
  # The AppProject file, as the document writes it, with a destination for every environment so far (one
  # AppProject "seldon" serves them all: a file naming only this namespace would drop the others).
  {
    cat << YAML
apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata:
  name: seldon
  namespace: argocd
spec:
  description: Seldon Deploy Project
  sourceRepos:
  - https://${GIT_REPO_URL}
  destinations:
YAML
    for ns in "${done_ns[@]}"; do
      printf '  - namespace: %s\n    server: https://kubernetes.default.svc\n' "$ns"
    done
    cat << YAML
  clusterResourceWhitelist:
  - group: '*'
    kind: '*'
  roles:
  - name: seldon-admin
    policies:
    - p, proj:seldon:seldon-admin, applications, get, seldon/*, allow
    - p, proj:seldon:seldon-admin, applications, create, seldon/*, allow
    - p, proj:seldon:seldon-admin, applications, update, seldon/*, allow
    - p, proj:seldon:seldon-admin, applications, delete, seldon/*, allow
    - p, proj:seldon:seldon-admin, applications, sync, seldon/*, allow
YAML
  } > ./argocd-project.yaml
  kubectl apply -f argocd-project.yaml

  ARGO_APP_NAME=seldon-gitops-"${namespace}"
  cat << YAML > ./argocd-application.yaml
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: ${ARGO_APP_NAME}
  namespace: argocd
spec:
  project: seldon
  destination:
    namespace: ${namespace}
    server: https://kubernetes.default.svc
  source:
    directory:
      recurse: true
    path: ${namespace}
    repoURL: https://${GIT_REPO_URL}
  syncPolicy:
    automated: {}
YAML
  kubectl apply -f argocd-application.yaml

  kubectl create ns "$namespace" || echo "namespace $namespace already exists"
  kubectl label ns "$namespace" seldon.restricted=false --overwrite=true
  kubectl label namespace "$namespace" seldon.gitops=enabled --overwrite=true
  kubectl annotate namespace "$namespace" git-repo="https://${GIT_REPO_URL}" --overwrite=true
done

# ------------------------------------------------------------------------- Git credentials: Argo CD
# Faithful equivalent of `argocd repo add "ssh://${GIT_REPO_URL}" --ssh-private-key-path … --upsert`.
kubectl create secret generic repo-gitops -n argocd \
  --from-literal=type=git \
  --from-literal=url="ssh://${GIT_REPO_URL}" \
  --from-file=sshPrivateKey="${GIT_SSH_PATH}" \
  --dry-run=client -o yaml | kubectl apply -f -
kubectl label secret repo-gitops -n argocd argocd.argoproj.io/secret-type=repository --overwrite=true

# ------------------------------------------------------------------- Git credentials: Seldon Deploy
kubectl create secret generic git-creds -n seldon-system \
  --from-file "${GIT_SSH_PATH}" \
  --from-file "${GIT_KNOWN_HOSTS_PATH}" \
  --from-literal=passphrase="${GIT_SSHKEY_PASSPHRASE}" \
  --from-literal=username="${GIT_USER}" \
  --from-literal=email="${GIT_EMAIL}"  \
  --dry-run=client -o yaml | kubectl apply -f -
