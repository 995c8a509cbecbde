{{/* Names, labels and the RBAC model of the chart. Every helper is prefixed with the chart name. */}}

{{- define "sd-gitops-bootstrap.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "sd-gitops-bootstrap.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Cluster-scoped objects are shared by all releases: their names carry the release namespace. */}}
{{- define "sd-gitops-bootstrap.clusterName" -}}
{{- printf "%s-%s" .Release.Namespace (include "sd-gitops-bootstrap.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "sd-gitops-bootstrap.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "sd-gitops-bootstrap.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sd-gitops-bootstrap.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "sd-gitops-bootstrap.labels" -}}
helm.sh/chart: {{ include "sd-gitops-bootstrap.chart" . }}
{{ include "sd-gitops-bootstrap.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: sd-gitops-bootstrap
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "sd-gitops-bootstrap.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "sd-gitops-bootstrap.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name: name the existing ServiceAccount the Job runs as when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "sd-gitops-bootstrap.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- $repo := include "sd-gitops-bootstrap.imageRepository" . }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repo .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repo $tag }}
{{- end }}
{{- end }}

{{/*
image.repository under global.image.registry, when set: the registry host of the repository replaced (the
path kept), as config.argocd.images.registry does for Argo CD's images.
*/}}
{{- define "sd-gitops-bootstrap.imageRepository" -}}
{{- $repo := .Values.image.repository -}}
{{- $registry := trimSuffix "/" (default "" ((.Values.global).image).registry) -}}
{{- if $registry }}
{{- $parts := splitList "/" $repo -}}
{{- $first := first $parts -}}
{{- if and (gt (len $parts) 1) (or (contains "." $first) (contains ":" $first) (eq $first "localhost")) }}
{{- $repo = printf "%s/%s" $registry (join "/" (rest $parts)) -}}
{{- else }}
{{- $repo = printf "%s/%s" $registry $repo -}}
{{- end }}
{{- end }}
{{- $repo -}}
{{- end }}

{{/* The pods' imagePullSecrets: global.imagePullSecrets, then imagePullSecrets (YAML list, or nothing). */}}
{{- define "sd-gitops-bootstrap.imagePullSecrets" -}}
{{- $all := concat (default (list) (.Values.global).imagePullSecrets) (default (list) .Values.imagePullSecrets) -}}
{{- if $all }}{{ toYaml (uniq $all) }}{{ end -}}
{{- end }}

{{/*
The ServiceAccount, (Cluster)Roles and bindings are hooks of the same events as the Job, one weight
before it (Helm creates hooks by weight, then kind: ServiceAccount, ClusterRole, ClusterRoleBinding, Role,
RoleBinding, Job). hook-succeeded: once every hook of the event succeeded (the Job completed), Helm deletes
them, so between runs nothing grants the release's ServiceAccount anything. A failed run too: Helm (3.22,
execHook) deletes the hook-succeeded hooks that ran before the failed Job; only the Job stays, for its logs.
before-hook-creation replaces leftovers (e.g. of an interrupted helm) on the next install or upgrade. They must be
post-* like the Job: Helm deletes hook-succeeded hooks at the end of their own event, so pre-* ones would
be gone before a post-install Job starts.
*/}}
{{- define "sd-gitops-bootstrap.rbacHookAnnotations" -}}
helm.sh/hook: post-install,post-upgrade
helm.sh/hook-weight: {{ sub (int .Values.job.hookWeight) 1 | quote }}
helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
{{- end }}

{{/*
The real Kubernetes floor, 1.29 (server-side apply, the Job's podFailurePolicy and the restricted Pod
Security Standard as the chart uses them), checked here rather than in Chart.yaml's kubeVersion: Helm checks
kubeVersion against its compiled-in default (v1.20.0 in a helm built without Helm's release ldflags, e.g.
`go install`) whenever it renders offline, so `helm template` without `--kube-version` would always fail.
Here a version below 1.29 is refused when it is real: discovered from a cluster (an API server always
serves apiregistration.k8s.io/v1; Helm's offline set has no such group) or given as `--kube-version`
(anything but Helm's placeholder v1.20.0 offline).
*/}}
{{- define "sd-gitops-bootstrap.checkKubeVersion" -}}
{{- $v := .Capabilities.KubeVersion.Version }}
{{- $fromCluster := .Capabilities.APIVersions.Has "apiregistration.k8s.io/v1" }}
{{- if and (semverCompare "<1.29.0-0" $v) (or $fromCluster (ne $v "v1.20.0")) }}
{{- fail (printf "sd-gitops-bootstrap needs Kubernetes 1.29 or newer (server-side apply, the Job's podFailurePolicy); this cluster is %s. Upgrade the cluster, or run the program from a laptop against a supported one (README: Compatibility)." $v) }}
{{- end }}
{{- end }}

{{/*
The namespaces the RBAC hooks put a Role in must exist before the hooks are created, or `helm install` stops
at the first Role with Helm's bare `namespaces "…" not found` before the Job can explain anything. Checked
here, naming the key, when `lookup` sees the cluster (install, upgrade, `--dry-run=server`; proven by
kube-system being visible — `helm template` and a client dry-run see nothing and skip it). Not checked: the
release namespace (Helm's own), and Argo CD's when the Job installs Argo CD (argocd-namespace.yaml makes it).
*/}}
{{- define "sd-gitops-bootstrap.checkNamespaces" -}}
{{- if and .Values.rbac.create (lookup "v1" "Namespace" "" "kube-system") }}
{{- $c := .Values.config -}}
{{- $argo := default "argocd" $c.argocd.namespace -}}
{{- $seldon := default "seldon-system" $c.seldonDeploy.namespace -}}
{{- $install := ne (default "bundled" $c.argocd.install.source) "skip" -}}
{{- $rbac := include "sd-gitops-bootstrap.rbacRules" . | fromYaml }}
{{- range $ns, $_ := $rbac.namespaces }}
{{- if and (ne $ns $.Release.Namespace) (not (and $install (eq $ns $argo))) (not (lookup "v1" "Namespace" "" $ns)) }}
{{- if eq $ns $seldon }}
{{- fail (printf "namespace %s (config.seldonDeploy.namespace) does not exist: install Seldon Deploy first, or set config.seldonDeploy.namespace to the namespace it runs in (the Job writes its git-creds Secret there)" $ns) }}
{{- else if eq $ns $argo }}
{{- fail (printf "namespace %s (config.argocd.namespace) does not exist, and config.argocd.install.source is skip: point config.argocd.namespace at the namespace of the Argo CD you run, or let the Job install one (install.source: bundled)" $ns) }}
{{- else }}
{{- fail (printf "namespace %s does not exist: the Job needs a Role there for the Secret the config names in it; create the namespace, or point the secretRef at an existing one" $ns) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* The proxy variables of the values (nothing when no proxy is set), upper and lower case. */}}
{{- define "sd-gitops-bootstrap.proxyEnv" -}}
{{- $p := .Values.proxy -}}
{{- /* A credential in a proxy URL would sit in the pod spec and the release: refused (src/config/urls.ts). */}}
{{- range $key := list "httpsProxy" "httpProxy" }}
{{- $v := index $p $key | default "" }}
{{- if or (regexMatch "^([a-zA-Z][a-zA-Z0-9+.-]*://)?[^/?#]*@" $v) (regexMatch "(?i)[?&#](private_token|access_token|token|api_key|apikey|key|password|secret)=" $v) }}
{{- fail (printf "proxy.%s holds a credential: the proxy URL is stored in the Job's pod spec and the Helm release, readable by whoever can read them; write it without the user name and password (http://host:port) and have the proxy admit the Job by its network address (the bootstrap has no proxy password setting)" $key) }}
{{- end }}
{{- end }}
{{- if or $p.httpsProxy $p.httpProxy }}
{{- $no := "$(KUBERNETES_SERVICE_HOST),.svc,.cluster.local,localhost,127.0.0.1" -}}
{{- if $p.noProxy }}{{ $no = printf "%s,%s" $no $p.noProxy }}{{ end -}}
{{- $env := list -}}
{{- range $name, $value := dict "HTTPS_PROXY" $p.httpsProxy "HTTP_PROXY" $p.httpProxy "NO_PROXY" $no }}
{{- if $value }}
{{- $env = concat $env (list (dict "name" $name "value" $value) (dict "name" (lower $name) "value" $value)) -}}
{{- end }}
{{- end }}
{{- toYaml $env }}
{{- end }}
{{- end }}

{{- define "sd-gitops-bootstrap.configMapName" -}}
{{- printf "%s-config" (include "sd-gitops-bootstrap.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The permissions of the program, as RBAC rules, from the values: the same list the program's preflight asks
the API server about (each step's `needs` in src/steps/, collected by src/steps/preflight.ts);
test/unit/chart-rbac.test.ts checks that the rendered rules and that list are equal, rule for rule. Output (YAML):

  cluster:     rules of the ClusterRole (bound cluster-wide)
  namespaces:  { <namespace>: rules of a Role there }

"apply" below is server-side apply: get + create + patch.
*/}}
{{- define "sd-gitops-bootstrap.rbacRules" -}}
{{- $c := .Values.config -}}
{{- $argo := default "argocd" $c.argocd.namespace -}}
{{- $install := ne (default "bundled" $c.argocd.install.source) "skip" -}}
{{- $vs := $c.argocd.virtualService.enabled -}}
{{- $vsEnabled := or (kindIs "invalid" $vs) (eq (toString $vs) "auto") (eq (toString $vs) "true") -}}
{{- $apply := list "get" "create" "patch" -}}
{{- /* list too where the program reads several objects of a kind in one namespace with one LIST. */ -}}
{{- $applyList := concat $apply (list "list") -}}
{{- $release := .Release.Namespace -}}
{{- $pw := $c.argocd.adminPassword -}}
{{- $pwNs := default $release $pw.secretRef.namespace -}}
{{- $pwGenerate := or (kindIs "invalid" $pw.generate) $pw.generate -}}
{{- $credNs := $release -}}
{{- if and $c.git.credentials $c.git.credentials.secretRef $c.git.credentials.secretRef.namespace }}
{{- $credNs = $c.git.credentials.secretRef.namespace -}}
{{- end }}
{{- $seldonNs := default "seldon-system" $c.seldonDeploy.namespace -}}
{{- /* The namespaces the program applies (the environments, the logging one, Argo CD's when installing):
       get and patch by name; create cannot be limited to names (RBAC authorizes a create before the object
       has a name). Seldon Deploy's namespace is only read (it must exist). */ -}}
{{- $nsNames := list -}}
{{- range $c.environments.namespaces }}
{{- if kindIs "string" . }}{{ $nsNames = append $nsNames . }}{{ else }}{{ $nsNames = append $nsNames .name }}{{ end -}}
{{- end }}
{{- if $c.environments.logging.enabled }}{{ $nsNames = append $nsNames $c.environments.logging.namespace }}{{ end -}}
{{- /* Environments taken out of the config since the last run: the inventory (an ApplySet parent the program
       writes in the release namespace) says which. Their namespaces are given back (get + patch by name) and
       their Applications deleted (by name). `lookup` sees the cluster on install and upgrade only; `helm
       template` renders without it, as for a first install. */ -}}
{{- $appTemplate := default "seldon-gitops-{namespace}" $c.environments.applicationName -}}
{{- $apps := list -}}
{{- range $nsNames }}{{ $apps = append $apps (replace "{namespace}" . $appTemplate) }}{{ end -}}
{{- $removedApps := list -}}
{{- $removedProjects := list -}}
{{- /* A change of argocd.version (the inventory records the installed one): the objects of the manifest
       installed last (the inventory's `argocd` set), by API group and resource. The program deletes those
       the new manifest no longer has, and only while they carry the inventory's label: get and delete by
       name, in the upgrade's run only (the same version keeps its manifest's objects). */ -}}
{{- $manifestResources := dict "ConfigMap" "configmaps" "Secret" "secrets" "Service" "services" "ServiceAccount" "serviceaccounts" "Deployment" "deployments" "StatefulSet" "statefulsets" "NetworkPolicy" "networkpolicies" "Role" "roles" "RoleBinding" "rolebindings" "ClusterRole" "clusterroles" "ClusterRoleBinding" "clusterrolebindings" -}}
{{- $installedMembers := dict -}}
{{- /* Batch objects recorded by earlier runs, by resource: deleted by name when batch is turned off. */ -}}
{{- $batchMembers := dict -}}
{{- $inventory := lookup "v1" "ConfigMap" .Release.Namespace "sd-gitops-bootstrap-inventory" -}}
{{- if and $inventory $inventory.data (hasKey $inventory.data "inventory.json") }}
{{- $doc := index $inventory.data "inventory.json" | fromJson -}}
{{- /* argocd.install.profile switched (ha ↔ standard): the same deletions as a version change. The profile
       installed last is the one whose Redis the inventory holds. */ -}}
{{- $installedHa := false -}}
{{- range $doc.members }}{{ if and (eq .set "argocd") (eq .kind "StatefulSet") (eq .name "argocd-redis-ha-server") }}{{ $installedHa = true }}{{ end }}{{ end -}}
{{- $profileChanged := ne $installedHa (eq (default "standard" $c.argocd.install.profile) "ha") -}}
{{- range $doc.environments }}{{ if not (has .namespace $nsNames) }}{{ $nsNames = append $nsNames .namespace }}{{ end }}{{ end -}}
{{- range $doc.members }}
{{- if and (eq .set "batch") (hasKey $manifestResources .kind) }}{{ $_ := set $batchMembers (get $manifestResources .kind) (append (get $batchMembers (get $manifestResources .kind) | default (list)) .name) }}{{ end -}}
{{- if and (eq .set "environments") (eq .kind "Application") (eq .namespace $argo) (not (has .name $apps)) }}{{ $removedApps = append $removedApps .name }}{{ end -}}
{{- if and (eq .set "environments") (eq .kind "AppProject") (eq .namespace $argo) (ne .name (default "seldon" $c.environments.project)) }}{{ $removedProjects = append $removedProjects .name }}{{ end -}}
{{- if and (eq .set "argocd") (hasKey $manifestResources .kind) $doc.argocd (or $profileChanged (ne $doc.argocd.version (default "v3.5.1" $c.argocd.version))) }}
{{- $group := ternary (first (splitList "/" .apiVersion)) "" (contains "/" .apiVersion) -}}
{{- $key := printf "%s/%s" $group (get $manifestResources .kind) -}}
{{- $_ := set $installedMembers $key (append (get $installedMembers $key | default (list)) .name) -}}
{{- end }}
{{- end }}
{{- end }}
{{- if $install }}{{ $nsNames = append $nsNames $argo }}{{ end -}}
{{- $nsNames = uniq $nsNames -}}

{{- /* In the Argo CD namespace: the settings, the rollout reads, the AppProject and Applications. */ -}}
{{- /* Secrets by name (create cannot be: see namespaces above): argocd-secret, the repository Secret
       and, installing the bundled manifest, its other Secret; a `file` or `url` manifest is the user's, its
       Secrets' names unknown here. */ -}}
{{- $source := default "bundled" $c.argocd.install.source -}}
{{- $bundled := eq $source "bundled" -}}
{{- $argoClusterRoles := list "argocd-application-controller" "argocd-applicationset-controller" "argocd-server" -}}
{{- $argoRoles := concat $argoClusterRoles (list "argocd-dex-server" "argocd-notifications-controller") -}}
{{- /* argocd.install.profile: ha has Redis HA's Roles in place of argocd-redis. */ -}}
{{- $argoRoles = concat $argoRoles (ternary (list "argocd-redis-ha" "argocd-redis-ha-haproxy") (list "argocd-redis") (eq (default "standard" $c.argocd.install.profile) "ha")) -}}
{{- $argoSecrets := list "argocd-secret" "sd-gitops-bootstrap-repo" -}}
{{- if eq $source "bundled" }}{{ $argoSecrets = append $argoSecrets "argocd-notifications-secret" }}{{ end -}}
{{- /* argocd.sso: the client secret's Secret, labelled for Argo CD (only the label is applied). */ -}}
{{- if and $c.argocd.sso $c.argocd.sso.enabled }}{{ $argoSecrets = append $argoSecrets (default "argocd-oidc" (($c.argocd.sso.clientSecret).secretRef).name) }}{{ end -}}
{{- $argoSecretRule := dict "apiGroups" (list "") "resources" (list "secrets") "verbs" (list "get" "patch") "resourceNames" $argoSecrets -}}
{{- if and $install (ne $source "bundled") }}{{ $argoSecretRule = dict "apiGroups" (list "") "resources" (list "secrets") "verbs" (list "get" "patch") }}{{ end -}}
{{- $argoRules := list
  (dict "apiGroups" (list "") "resources" (list "secrets") "verbs" (list "create"))
  $argoSecretRule
  (dict "apiGroups" (list "") "resources" (list "configmaps") "verbs" $applyList)
  (dict "apiGroups" (list "apps") "resources" (list "deployments") "verbs" (concat $apply (list "list")))
  (dict "apiGroups" (list "apps") "resources" (list "statefulsets") "verbs" (ternary (concat $apply (list "list")) (list "get" "list") $install))
  (dict "apiGroups" (list "") "resources" (list "pods") "verbs" (list "list"))
  (dict "apiGroups" (list "argoproj.io") "resources" (list "appprojects") "verbs" $apply)
  (dict "apiGroups" (list "argoproj.io") "resources" (list "applications") "verbs" $applyList)
-}}
{{- if $removedApps }}
{{- $argoRules = append $argoRules (dict "apiGroups" (list "argoproj.io") "resources" (list "applications") "verbs" (list "get" "delete") "resourceNames" $removedApps) -}}
{{- end }}
{{- if $removedProjects }}
{{- $argoRules = append $argoRules (dict "apiGroups" (list "argoproj.io") "resources" (list "appprojects") "verbs" (list "get" "delete") "resourceNames" $removedProjects) -}}
{{- end }}
{{- if $vsEnabled }}
{{- $argoRules = append $argoRules (dict "apiGroups" (list "networking.istio.io") "resources" (list "virtualservices") "verbs" $apply) -}}
{{- end }}
{{- if $install }}
{{- /* The namespaced objects of Argo CD's install manifest. */ -}}
{{- $argoRules = append $argoRules (dict "apiGroups" (list "") "resources" (list "serviceaccounts" "services") "verbs" $applyList) -}}
{{- $argoRules = append $argoRules (dict "apiGroups" (list "networking.k8s.io") "resources" (list "networkpolicies") "verbs" $applyList) -}}
{{- /* escalate: Argo CD's Roles grant what this ServiceAccount does not hold (e.g. `*` on secrets), and
       RBAC refuses to create a Role granting more than its creator has, unless it may `escalate`. bind:
       likewise for its RoleBindings, which bind those Roles. */ -}}
{{- if $bundled }}
{{- /* The bundled manifests' Roles and RoleBindings (the same names in every bundled version; the chart
       test checks them against the manifests): all but create by name. */ -}}
{{- $argoRules = concat $argoRules (list
  (dict "apiGroups" (list "rbac.authorization.k8s.io") "resources" (list "roles" "rolebindings") "verbs" (list "create"))
  (dict "apiGroups" (list "rbac.authorization.k8s.io") "resources" (list "roles") "verbs" (list "get" "patch" "escalate" "bind") "resourceNames" $argoRoles)
  (dict "apiGroups" (list "rbac.authorization.k8s.io") "resources" (list "rolebindings") "verbs" (list "get" "patch") "resourceNames" $argoRoles)) -}}
{{- else }}
{{- $argoRules = append $argoRules (dict "apiGroups" (list "rbac.authorization.k8s.io") "resources" (list "roles") "verbs" (concat $apply (list "escalate" "bind"))) -}}
{{- $argoRules = append $argoRules (dict "apiGroups" (list "rbac.authorization.k8s.io") "resources" (list "rolebindings") "verbs" $apply) -}}
{{- end }}
{{- end }}

{{- /* Cluster-scoped: environment namespaces, CRDs (read; written when installing), Argo CD's ClusterRoles. */ -}}
{{- $cluster := list
  (dict "apiGroups" (list "") "resources" (list "namespaces") "verbs" (list "create"))
  (dict "apiGroups" (list "") "resources" (list "namespaces") "verbs" (list "get" "patch") "resourceNames" $nsNames)
-}}
{{- if not (has $seldonNs $nsNames) }}
{{- $cluster = append $cluster (dict "apiGroups" (list "") "resources" (list "namespaces") "verbs" (list "get") "resourceNames" (list $seldonNs)) -}}
{{- end }}
{{- /* Batch jobs (environments.batch, namespaces[].batch): the `workflow` Role, ServiceAccount and
       RoleBinding and the storage Secret's copy in each batch environment. Those namespaces are the Job's
       to create, so no Role can be there before it runs: the rules are in the ClusterRole, by name except
       create (RBAC authorizes a create before the object has a name). escalate and bind: the Role grants
       what this ServiceAccount does not hold, and the RoleBinding binds it. The source Secret: read by name
       in its namespace. */ -}}
{{- $namespaces := dict -}}
{{- $batchDefault := and $c.environments.batch $c.environments.batch.enabled -}}
{{- $batchNs := list -}}
{{- range $c.environments.namespaces }}
{{- if kindIs "map" . }}{{ if (ternary .batch $batchDefault (hasKey . "batch")) }}{{ $batchNs = append $batchNs .name }}{{ end }}{{ else if $batchDefault }}{{ $batchNs = append $batchNs . }}{{ end -}}
{{- end }}
{{- $storage := and $c.environments.batch $c.environments.batch.storageSecret $c.environments.batch.storageSecret.secretRef -}}
{{- if $batchNs }}
{{- $rbacGroup := list "rbac.authorization.k8s.io" -}}
{{- $cluster = concat $cluster (list
  (dict "apiGroups" $rbacGroup "resources" (list "roles" "rolebindings") "verbs" (list "create"))
  (dict "apiGroups" $rbacGroup "resources" (list "roles") "verbs" (list "get" "patch" "escalate" "bind") "resourceNames" (list "workflow"))
  (dict "apiGroups" $rbacGroup "resources" (list "rolebindings") "verbs" (list "get" "patch") "resourceNames" (list "workflow"))
  (dict "apiGroups" (list "") "resources" (list "serviceaccounts") "verbs" (list "create"))
  (dict "apiGroups" (list "") "resources" (list "serviceaccounts") "verbs" (list "get" "patch") "resourceNames" (list "workflow"))) -}}
{{- if $storage }}
{{- $cluster = concat $cluster (list
  (dict "apiGroups" (list "") "resources" (list "secrets") "verbs" (list "create"))
  (dict "apiGroups" (list "") "resources" (list "secrets") "verbs" (list "get" "patch") "resourceNames" (list $storage.name))) -}}
{{- $storageNs := default $release $storage.namespace -}}
{{- $_ := set $namespaces $storageNs (concat (get $namespaces $storageNs | default (list)) (list (dict "apiGroups" (list "") "resources" (list "secrets") "verbs" (list "get") "resourceNames" (list $storage.name)))) -}}
{{- end }}
{{- end }}
{{- range $res := keys $batchMembers | sortAlpha }}
{{- $cluster = append $cluster (dict "apiGroups" (list (ternary "rbac.authorization.k8s.io" "" (hasPrefix "role" $res))) "resources" (list $res) "verbs" (list "get" "delete") "resourceNames" (get $batchMembers $res | uniq | sortAlpha)) -}}
{{- end }}
{{- /* CRDs: Argo CD's two the program reads; installing the bundled manifest, its three by name. */ -}}
{{- $crd := dict "apiGroups" (list "apiextensions.k8s.io") "resources" (list "customresourcedefinitions") -}}
{{- if not $install }}
{{- $cluster = append $cluster (merge (dict "verbs" (list "get") "resourceNames" (list "applications.argoproj.io" "appprojects.argoproj.io")) $crd) -}}
{{- else if $bundled }}
{{- $cluster = append $cluster (merge (dict "verbs" (list "create")) $crd) -}}
{{- $cluster = append $cluster (merge (dict "verbs" (list "get" "patch") "resourceNames" (list "applications.argoproj.io" "applicationsets.argoproj.io" "appprojects.argoproj.io")) $crd) -}}
{{- else }}
{{- $cluster = append $cluster (merge (dict "verbs" $apply) $crd) -}}
{{- end }}
{{- if $install }}
{{- /* escalate: Argo CD's ClusterRoles grant `*` on `*` (application-controller) and more; creating them
       needs `escalate` unless the creator already holds all of it. bind: its ClusterRoleBindings bind
       those ClusterRoles (and RoleBindings in the Argo CD namespace bind roles there). */ -}}
{{- if $bundled }}
{{- $cluster = concat $cluster (list
  (dict "apiGroups" (list "rbac.authorization.k8s.io") "resources" (list "clusterroles" "clusterrolebindings") "verbs" (list "create"))
  (dict "apiGroups" (list "rbac.authorization.k8s.io") "resources" (list "clusterroles") "verbs" (list "get" "patch" "escalate" "bind") "resourceNames" $argoClusterRoles)
  (dict "apiGroups" (list "rbac.authorization.k8s.io") "resources" (list "clusterrolebindings") "verbs" (list "get" "patch") "resourceNames" $argoClusterRoles)) -}}
{{- else }}
{{- $cluster = append $cluster (dict "apiGroups" (list "rbac.authorization.k8s.io") "resources" (list "clusterroles") "verbs" (concat $apply (list "escalate" "bind"))) -}}
{{- $cluster = append $cluster (dict "apiGroups" (list "rbac.authorization.k8s.io") "resources" (list "clusterrolebindings") "verbs" $apply) -}}
{{- end }}
{{- /* The old manifest's objects an upgrade may delete, by name: cluster-scoped ones in the ClusterRole,
       the rest in the Argo CD namespace's Role. */ -}}
{{- range $key := keys $installedMembers | sortAlpha }}
{{- $gr := splitList "/" $key -}}
{{- $rule := dict "apiGroups" (list (first $gr)) "resources" (list (last $gr)) "verbs" (list "get" "delete") "resourceNames" (get $installedMembers $key | uniq | sortAlpha) -}}
{{- if has (last $gr) (list "clusterroles" "clusterrolebindings") }}
{{- $cluster = append $cluster $rule -}}
{{- else }}
{{- $argoRules = append $argoRules $rule -}}
{{- end }}
{{- end }}
{{- end }}
{{- /* Access to the Argo CD namespace stays inside it, a Role there: with skip it exists (Argo CD is managed
       elsewhere); installing, the chart creates it first when it is absent (argocd-namespace.yaml, a
       pre-install,pre-upgrade hook), before the RBAC hooks. */ -}}
{{- $_ := set $namespaces $argo $argoRules -}}

{{- /* Secrets the program reads and writes outside the Argo CD namespace. */ -}}
{{- $seldonRules := list
  (dict "apiGroups" (list "") "resources" (list "secrets") "verbs" (list "create"))
  (dict "apiGroups" (list "") "resources" (list "secrets") "verbs" (list "get" "patch") "resourceNames" (list (default "git-creds" $c.seldonDeploy.gitCredentialsSecret)))
-}}
{{- $_ := set $namespaces $seldonNs (concat (get $namespaces $seldonNs | default (list)) $seldonRules) -}}
{{- $pwName := list $pw.secretRef.name -}}
{{- $pwRules := list (dict "apiGroups" (list "") "resources" (list "secrets") "verbs" (ternary (list "get" "patch") (list "get") $pwGenerate) "resourceNames" $pwName) -}}
{{- if $pwGenerate }}{{ $pwRules = append $pwRules (dict "apiGroups" (list "") "resources" (list "secrets") "verbs" (list "create")) }}{{ end -}}
{{- $_ := set $namespaces $pwNs (concat (get $namespaces $pwNs | default (list)) $pwRules) -}}
{{- $credRules := list (dict "apiGroups" (list "") "resources" (list "secrets") "verbs" (list "get") "resourceNames" (list $c.git.credentials.secretRef.name)) -}}
{{- $_ := set $namespaces $credNs (concat (get $namespaces $credNs | default (list)) $credRules) -}}
{{- /* git.caBundle: its Secret or ConfigMap, read by name. */ -}}
{{- with $c.git.caBundle }}
{{- $ref := .secretRef | default .configMapRef -}}
{{- $caNs := default $release $ref.namespace -}}
{{- $caRules := list (dict "apiGroups" (list "") "resources" (list (ternary "secrets" "configmaps" (not (empty .secretRef)))) "verbs" (list "get") "resourceNames" (list $ref.name)) -}}
{{- $_ := set $namespaces $caNs (concat (get $namespaces $caNs | default (list)) $caRules) -}}
{{- end }}
{{- /* Webhooks: the provider token Secret (read) and the bootstrap's webhook Secret in the release
       namespace (applied: the generated Argo CD webhook secret and the hook ids). */ -}}
{{- if $c.webhooks.enabled }}
{{- $tok := $c.webhooks.token.secretRef -}}
{{- $tokNs := default $release $tok.namespace -}}
{{- $tokRules := list (dict "apiGroups" (list "") "resources" (list "secrets") "verbs" (list "get") "resourceNames" (list (default "git-webhook-token" $tok.name))) -}}
{{- $_ := set $namespaces $tokNs (concat (get $namespaces $tokNs | default (list)) $tokRules) -}}
{{- $hookRules := list
  (dict "apiGroups" (list "") "resources" (list "secrets") "verbs" (list "create"))
  (dict "apiGroups" (list "") "resources" (list "secrets") "verbs" (list "get" "patch") "resourceNames" (list (default "sd-gitops-bootstrap-webhook" $c.webhooks.secretName)))
-}}
{{- $_ := set $namespaces $release (concat (get $namespaces $release | default (list)) $hookRules) -}}
{{- end }}
{{- /* The release namespace: the report ConfigMap and the Lease that keeps two runs from overlapping. */ -}}
{{- $runRules := list
  (dict "apiGroups" (list "") "resources" (list "configmaps") "verbs" $apply)
  (dict "apiGroups" (list "coordination.k8s.io") "resources" (list "leases") "verbs" (list "get" "create" "update"))
-}}
{{- $_ := set $namespaces $release (concat (get $namespaces $release | default (list)) $runRules) -}}
{{- /* One rule per group/resource with the union of its verbs; nothing in a Role the ClusterRole grants. */ -}}
{{- $cluster = include "sd-gitops-bootstrap.mergeRules" (dict "rules" $cluster "covered" (list)) | fromYamlArray -}}
{{- $merged := dict -}}
{{- range $ns, $rules := $namespaces }}
{{- $r := include "sd-gitops-bootstrap.mergeRules" (dict "rules" $rules "covered" $cluster) | fromYamlArray -}}
{{- if $r }}{{ $_ := set $merged $ns $r }}{{ end -}}
{{- end }}
{{- toYaml (dict "cluster" $cluster "namespaces" $merged) }}
{{- end }}

{{/* Input: rules, and covered (rules already granted elsewhere). Output: a YAML list of merged rules. */}}
{{- define "sd-gitops-bootstrap.mergeRules" -}}
{{- $granted := dict -}}
{{- range .covered }}{{ $rule := . }}{{ if not .resourceNames }}{{ range .resources }}{{ $res := . }}{{ range $rule.apiGroups }}{{ $g := . }}{{ range $rule.verbs }}
{{- $_ := set $granted (printf "%s/%s/%s" $g $res .) true -}}
{{- end }}{{ end }}{{ end }}{{ end }}{{ end -}}
{{- $verbsByKey := dict -}}
{{- $keys := list -}}
{{- range .rules }}
{{- $rule := . -}}
{{- $key := printf "%s|%s|%s" (join "," .apiGroups) (join "," .resources) (join "," (.resourceNames | default (list))) -}}
{{- $verbs := list -}}
{{- range .verbs }}{{ $v := . }}{{ $all := true }}{{ range $rule.resources }}{{ $res := . }}{{ range $rule.apiGroups }}
{{- if not (hasKey $granted (printf "%s/%s/%s" . $res $v)) }}{{ $all = false }}{{ end -}}
{{- end }}{{ end }}{{ if not $all }}{{ $verbs = append $verbs $v }}{{ end }}{{ end -}}
{{- if $verbs }}
{{- if not (hasKey $verbsByKey $key) }}{{ $keys = append $keys (dict "key" $key "apiGroups" .apiGroups "resources" .resources "resourceNames" .resourceNames) }}{{ end -}}
{{- $_ := set $verbsByKey $key (uniq (concat (get $verbsByKey $key | default (list)) $verbs)) -}}
{{- end }}
{{- end }}
{{- $out := list -}}
{{- range $keys }}
{{- $r := dict "apiGroups" .apiGroups "resources" .resources "verbs" (get $verbsByKey .key) -}}
{{- if .resourceNames }}{{ $_ := set $r "resourceNames" .resourceNames }}{{ end -}}
{{- $out = append $out $r -}}
{{- end }}
{{- toYaml $out }}
{{- end }}

{{/*
The rights of the `helm test` pod: the run's rules ("sd-gitops-bootstrap.rbacRules") reduced to their
reads (get, list), by name where the run's are. `status` only reads: the same objects the run wrote,
the source Secrets for the repository check. Output like rbacRules (cluster, namespaces).
*/}}
{{- define "sd-gitops-bootstrap.testRbacRules" -}}
{{- $rbac := include "sd-gitops-bootstrap.rbacRules" . | fromYaml -}}
{{- $read := list "get" "list" -}}
{{- $cluster := list -}}
{{- range $rbac.cluster }}
{{- $verbs := list }}{{ range .verbs }}{{ if has . $read }}{{ $verbs = append $verbs . }}{{ end }}{{ end -}}
{{- if $verbs }}{{ $cluster = append $cluster (set (deepCopy .) "verbs" $verbs) }}{{ end -}}
{{- end }}
{{- $namespaces := dict -}}
{{- range $ns, $rules := $rbac.namespaces }}
{{- $out := list -}}
{{- range $rules }}
{{- $verbs := list }}{{ range .verbs }}{{ if has . $read }}{{ $verbs = append $verbs . }}{{ end }}{{ end -}}
{{- if $verbs }}{{ $out = append $out (set (deepCopy .) "verbs" $verbs) }}{{ end -}}
{{- end }}
{{- if $out }}{{ $_ := set $namespaces $ns $out }}{{ end -}}
{{- end }}
{{- toYaml (dict "cluster" $cluster "namespaces" $namespaces) }}
{{- end }}

{{- define "sd-gitops-bootstrap.testName" -}}
{{- printf "%s-test" (include "sd-gitops-bootstrap.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Test hooks, created by `helm test`. The ServiceAccount and RBAC: deleted when the test passes. The pod
(`"pod" true`): kept until the next `helm test` replaces it, passed or failed, so that `kubectl logs`
shows what a passed test checked (`helm test --logs` cannot: Helm 3 asks every test hook's name for a
log and fails on the RBAC hooks, seen on the kind tier: test/e2e-kind/helm-test.test.ts).
*/}}
{{- define "sd-gitops-bootstrap.testHookAnnotations" -}}
helm.sh/hook: test
helm.sh/hook-weight: {{ .weight | quote }}
helm.sh/hook-delete-policy: {{ ternary "before-hook-creation" "before-hook-creation,hook-succeeded" (default false .pod) }}
{{- end }}

{{/* Argo CD's URL as the program's report has it (src/manifests/virtualservice.ts, argocdUrl): argocd.url
with a trailing slash when set, else the first host without a wildcard, else the path alone. */}}
{{- define "sd-gitops-bootstrap.argocdUrl" -}}
{{- $c := .Values.config -}}
{{- $root := printf "%s/" (trimSuffix "/" (default "/argocd" $c.argocd.server.rootPath)) -}}
{{- $host := "" -}}
{{- range $c.argocd.virtualService.hosts }}{{ if and (not $host) (not (contains "*" .)) }}{{ $host = . }}{{ end }}{{ end -}}
{{- if $c.argocd.url }}{{ printf "%s/" (trimSuffix "/" $c.argocd.url) }}
{{- else if $host }}{{ printf "http://%s%s" $host $root }}{{ else }}{{ $root }}{{ end -}}
{{- end }}

{{/*
The uninstall hooks (uninstall.enabled): pre-delete, so `helm uninstall` runs `sd-gitops-bootstrap uninstall`
before it removes the release; the ServiceAccount and RBAC are hooks one weight before the Job, deleted when
it succeeded (like the install hooks). A failed uninstall Job fails `helm uninstall` and keeps the release,
so it can be run again once the cause is fixed (or skipped with `helm uninstall --no-hooks`).
*/}}
{{- define "sd-gitops-bootstrap.uninstallHookAnnotations" -}}
helm.sh/hook: pre-delete
helm.sh/hook-weight: {{ sub (int .Values.job.hookWeight) 1 | quote }}
helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
{{- end }}

{{- define "sd-gitops-bootstrap.uninstallName" -}}
{{- printf "%s-uninstall" (include "sd-gitops-bootstrap.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "sd-gitops-bootstrap.uninstallClusterName" -}}
{{- printf "%s-uninstall" (include "sd-gitops-bootstrap.clusterName" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The rights of `uninstall`, from those of apply ("sd-gitops-bootstrap.rbacRules"): whatever apply may read or
patch, uninstall may read, patch and delete — by the same names where apply's are by name — except namespaces,
of which only Argo CD's (when the Job installs it) may be deleted: the environments' are given back, never
deleted. The program's preflight asks for less (each inventory member by name) and lists what is missing.
Plus the inventory, report and Lease in the release namespace.
*/}}
{{- define "sd-gitops-bootstrap.uninstallRules" -}}
{{- $rbac := include "sd-gitops-bootstrap.rbacRules" . | fromYaml -}}
{{- $c := .Values.config -}}
{{- $argo := default "argocd" $c.argocd.namespace -}}
{{- $install := ne (default "bundled" $c.argocd.install.source) "skip" -}}
{{- $cluster := list -}}
{{- range $rbac.cluster }}
{{- $r := include "sd-gitops-bootstrap.uninstallRule" . | fromYaml -}}
{{- if $r.verbs }}{{ $cluster = append $cluster $r }}{{ end -}}
{{- end }}
{{- if $install }}
{{- $cluster = append $cluster (dict "apiGroups" (list "") "resources" (list "namespaces") "verbs" (list "delete") "resourceNames" (list $argo)) -}}
{{- end }}
{{- $namespaces := dict -}}
{{- range $ns, $rules := $rbac.namespaces }}
{{- $out := list -}}
{{- range $rules }}
{{- $r := include "sd-gitops-bootstrap.uninstallRule" . | fromYaml -}}
{{- if $r.verbs }}{{ $out = append $out $r }}{{ end -}}
{{- end }}
{{- $_ := set $namespaces $ns $out -}}
{{- end }}
{{- $release := .Release.Namespace -}}
{{- $runRules := list
  (dict "apiGroups" (list "") "resources" (list "configmaps") "verbs" (list "get" "create" "patch" "delete"))
  (dict "apiGroups" (list "coordination.k8s.io") "resources" (list "leases") "verbs" (list "get" "create" "update" "delete"))
-}}
{{- $_ := set $namespaces $release (concat (get $namespaces $release | default (list)) $runRules) -}}
{{- toYaml (dict "cluster" $cluster "namespaces" $namespaces) }}
{{- end }}

{{/* One apply rule as an uninstall rule: get and patch kept, delete added where apply may patch (what apply
only reads, such as your Git credentials Secret, stays read-only); create, list, escalate, bind dropped. */}}
{{- define "sd-gitops-bootstrap.uninstallRule" -}}
{{- $verbs := list -}}
{{- range .verbs }}{{ if has . (list "get" "patch") }}{{ $verbs = append $verbs . }}{{ end }}{{ end -}}
{{- if and (has "patch" $verbs) (not (has "namespaces" .resources)) }}{{ $verbs = append $verbs "delete" }}{{ end -}}
{{- $r := dict "apiGroups" .apiGroups "resources" .resources "verbs" $verbs -}}
{{- if .resourceNames }}{{ $_ := set $r "resourceNames" .resourceNames }}{{ end -}}
{{- toYaml $r }}
{{- end }}

{{/* schedule.enabled: the CronJob's names (its ServiceAccount and RBAC are standing objects). */}}
{{- define "sd-gitops-bootstrap.scheduledName" -}}
{{- printf "%s-scheduled" (include "sd-gitops-bootstrap.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "sd-gitops-bootstrap.scheduledClusterName" -}}
{{- printf "%s-scheduled" (include "sd-gitops-bootstrap.clusterName" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
schedule.enabled: the rights of the scheduled run (`apply --scope drift`), standing release objects, so
nothing here can grant rights, directly or through Argo CD (whose application controller is `*` on `*`): no
create, delete, bind, escalate or impersonate anywhere; in the Argo CD namespace only `get`, and no Secret;
writes only by name, of objects the hook run created: the environment namespaces (patch), Seldon Deploy's
git-creds Secret (patch), the report ConfigMap (patch) and the Lease (update). The same list as the
program's preflight for that scope (what DRIFT_STEPS declare, src/steps/runner.ts);
test/unit/chart-rbac.test.ts checks they are equal. Output like rbacRules (cluster, namespaces).
*/}}
{{- define "sd-gitops-bootstrap.scheduledRules" -}}
{{- $c := .Values.config -}}
{{- $argo := default "argocd" $c.argocd.namespace -}}
{{- $source := default "bundled" $c.argocd.install.source -}}
{{- $install := ne $source "skip" -}}
{{- $bundled := eq $source "bundled" -}}
{{- $vs := $c.argocd.virtualService.enabled -}}
{{- $vsEnabled := or (kindIs "invalid" $vs) (eq (toString $vs) "auto") (eq (toString $vs) "true") -}}
{{- $release := .Release.Namespace -}}
{{- $seldonNs := default "seldon-system" $c.seldonDeploy.namespace -}}
{{- $credNs := $release -}}
{{- if and $c.git.credentials $c.git.credentials.secretRef $c.git.credentials.secretRef.namespace }}
{{- $credNs = $c.git.credentials.secretRef.namespace -}}
{{- end }}
{{- $envs := list -}}
{{- range $c.environments.namespaces }}
{{- if kindIs "string" . }}{{ $envs = append $envs . }}{{ else }}{{ $envs = append $envs .name }}{{ end -}}
{{- end }}
{{- if $c.environments.logging.enabled }}{{ $envs = append $envs $c.environments.logging.namespace }}{{ end -}}
{{- $envs = uniq $envs -}}
{{- $get := list "get" -}}
{{- $cluster := list
  (dict "apiGroups" (list "") "resources" (list "namespaces") "verbs" $get "resourceNames" (uniq (append $envs $seldonNs)))
  (dict "apiGroups" (list "") "resources" (list "namespaces") "verbs" (list "patch") "resourceNames" $envs)
-}}
{{- $argoRules := list
  (dict "apiGroups" (list "") "resources" (list "configmaps") "verbs" $get)
  (dict "apiGroups" (list "apps") "resources" (list "deployments") "verbs" $get)
  (dict "apiGroups" (list "argoproj.io") "resources" (list "appprojects" "applications") "verbs" $get)
-}}
{{- if $vsEnabled }}
{{- $argoRules = append $argoRules (dict "apiGroups" (list "networking.istio.io") "resources" (list "virtualservices") "verbs" $get) -}}
{{- end }}
{{- if $install }}
{{- $argoClusterRoles := list "argocd-application-controller" "argocd-applicationset-controller" "argocd-server" -}}
{{- $argoRoles := concat $argoClusterRoles (list "argocd-dex-server" "argocd-notifications-controller") -}}
{{- /* argocd.install.profile: ha has Redis HA's Roles in place of argocd-redis. */ -}}
{{- $argoRoles = concat $argoRoles (ternary (list "argocd-redis-ha" "argocd-redis-ha-haproxy") (list "argocd-redis") (eq (default "standard" $c.argocd.install.profile) "ha")) -}}
{{- $argoRules = concat $argoRules (list
  (dict "apiGroups" (list "") "resources" (list "serviceaccounts" "services") "verbs" $get)
  (dict "apiGroups" (list "apps") "resources" (list "statefulsets") "verbs" $get)
  (dict "apiGroups" (list "networking.k8s.io") "resources" (list "networkpolicies") "verbs" $get)) -}}
{{- if $bundled }}
{{- $argoRules = append $argoRules (dict "apiGroups" (list "rbac.authorization.k8s.io") "resources" (list "roles" "rolebindings") "verbs" $get "resourceNames" $argoRoles) -}}
{{- $cluster = append $cluster (dict "apiGroups" (list "rbac.authorization.k8s.io") "resources" (list "clusterroles" "clusterrolebindings") "verbs" $get "resourceNames" $argoClusterRoles) -}}
{{- else }}
{{- $argoRules = append $argoRules (dict "apiGroups" (list "rbac.authorization.k8s.io") "resources" (list "roles" "rolebindings") "verbs" $get) -}}
{{- $cluster = append $cluster (dict "apiGroups" (list "rbac.authorization.k8s.io") "resources" (list "clusterroles" "clusterrolebindings") "verbs" $get) -}}
{{- end }}
{{- end }}
{{- $namespaces := dict $argo $argoRules -}}
{{- $gitCreds := default "git-creds" $c.seldonDeploy.gitCredentialsSecret -}}
{{- $_ := set $namespaces $seldonNs (concat (get $namespaces $seldonNs | default (list)) (list (dict "apiGroups" (list "") "resources" (list "secrets") "verbs" (list "get" "patch") "resourceNames" (list $gitCreds)))) -}}
{{- $_ := set $namespaces $credNs (concat (get $namespaces $credNs | default (list)) (list (dict "apiGroups" (list "") "resources" (list "secrets") "verbs" $get "resourceNames" (list $c.git.credentials.secretRef.name)))) -}}
{{- $reportCm := default "sd-gitops-bootstrap-report" $c.report.configMap -}}
{{- $runRules := list
  (dict "apiGroups" (list "") "resources" (list "configmaps") "verbs" $get "resourceNames" (list "sd-gitops-bootstrap-inventory" $reportCm))
  (dict "apiGroups" (list "") "resources" (list "configmaps") "verbs" (list "patch") "resourceNames" (list $reportCm))
  (dict "apiGroups" (list "coordination.k8s.io") "resources" (list "leases") "verbs" (list "get" "update") "resourceNames" (list "sd-gitops-bootstrap"))
-}}
{{- $_ := set $namespaces $release (concat (get $namespaces $release | default (list)) $runRules) -}}
{{- $cluster = include "sd-gitops-bootstrap.mergeRules" (dict "rules" $cluster "covered" (list)) | fromYamlArray -}}
{{- $merged := dict -}}
{{- range $ns, $rules := $namespaces }}
{{- $r := include "sd-gitops-bootstrap.mergeRules" (dict "rules" $rules "covered" $cluster) | fromYamlArray -}}
{{- if $r }}{{ $_ := set $merged $ns $r }}{{ end -}}
{{- end }}
{{- toYaml (dict "cluster" $cluster "namespaces" $merged) }}
{{- end }}
