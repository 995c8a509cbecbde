/**
 * Step 6: Git credentials, made from the one source Secret the user names. Reconciled means: Argo CD's
 * repository Secret for exactly `git.repoUrl`, the Git server's host keys in argocd-ssh-known-hosts-cm
 * (existing entries kept), and Seldon Deploy's `git-creds` Secret, all matching the source Secret.
 */
import { ApiError, messageOf } from '../errors.ts';
import {
  readCaBundle,
  readGitCredentials,
  requireSeldonDeployNamespace,
  unencryptedPrivateKey,
} from '../inputs/inputs.ts';
import { describeRef } from '../kube/objects.ts';
import type { KubeObject } from '../kube/types.ts';
import { argocdRepositorySecret, repoHost, seldonGitCredsSecret } from '../manifests/git-credentials.ts';
import {
  decodeHelmRelease,
  HELM_OWNER_SELECTOR,
  type HelmRelease,
  latestReleaseSecrets,
} from '../manifests/helm-release.ts';
import {
  KNOWN_HOSTS_CONFIGMAP,
  KNOWN_HOSTS_KEY,
  knownHostsConfigMap,
  knownHostsEntries,
  mergeKnownHosts,
} from '../manifests/known-hosts.ts';
import { withOwnedFields } from '../manifests/ownership.ts';
import { GITOPS_SECRET_CHECK, gitopsSecretCheck, SELDON_DEPLOY_CHART } from '../manifests/seldon-deploy.ts';
import { pemBundle, TLS_CERTS_CONFIGMAP, tlsCertsConfigMap } from '../manifests/tls-certs.ts';
import { argocdUrl } from '../manifests/virtualservice.ts';
import type { Check } from '../report/types.ts';
import type { Step, StepContext } from './context.ts';

const NAME = 'git-credentials';

type ConfigMap = KubeObject & { data?: Record<string, string> };

async function liveKnownHosts(ctx: StepContext): Promise<string | undefined> {
  const cm = await ctx.kube.get<ConfigMap>({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    namespace: ctx.config.argocd.namespace,
    name: KNOWN_HOSTS_CONFIGMAP,
  });
  return cm?.data?.[KNOWN_HOSTS_KEY];
}

/** The three objects, as they should be now. */
export async function desiredCredentialObjects(ctx: StepContext): Promise<KubeObject[]> {
  const creds = await readGitCredentials(ctx);
  const key = await unencryptedPrivateKey(ctx);
  const objects = [
    argocdRepositorySecret(ctx.config, creds, key !== undefined ? { unencryptedPrivateKey: key } : {}),
    seldonGitCredsSecret(ctx.config, creds),
  ];
  if (creds.kind === 'ssh') {
    const live = await ctx.kube.get<ConfigMap>({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      namespace: ctx.config.argocd.namespace,
      name: KNOWN_HOSTS_CONFIGMAP,
    });
    const merged = mergeKnownHosts(live?.data?.[KNOWN_HOSTS_KEY], creds.knownHosts);
    const patch = knownHostsConfigMap(ctx.config.argocd.namespace, merged.text);
    // Argo CD's own ConfigMap: with `skip`, keep what an earlier install applied (labels).
    objects.push(ctx.config.argocd.install.source === 'skip' ? withOwnedFields(live, patch) : patch);
  }
  const ca = await caBundleObject(ctx);
  if (ca) objects.push(ca.patch);
  return objects;
}

/**
 * git.caBundle for Argo CD: the bundle under the repository's host in argocd-tls-certs-cm (the other
 * servers' keys untouched), or undefined when git.caBundle is unset.
 */
async function caBundleObject(ctx: StepContext): Promise<{ patch: KubeObject; host: string } | undefined> {
  const pem = await readCaBundle(ctx);
  if (pem === undefined) return undefined;
  const { host } = repoHost(ctx.config.git.repoUrl);
  const patch = tlsCertsConfigMap(ctx.config.argocd.namespace, host, pem);
  if (ctx.config.argocd.install.source !== 'skip') return { patch, host };
  // Argo CD's own ConfigMap: with `skip`, keep what an earlier install applied (labels).
  const live = await ctx.kube.get<ConfigMap>({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    namespace: ctx.config.argocd.namespace,
    name: TLS_CERTS_CONFIGMAP,
  });
  return { patch: withOwnedFields(live, patch), host };
}

async function reconcile(ctx: StepContext): Promise<string> {
  await requireSeldonDeployNamespace(ctx);
  const objects = await desiredCredentialObjects(ctx);
  const knownHosts = (o: KubeObject) => o.kind === 'ConfigMap' && o.metadata.name === KNOWN_HOSTS_CONFIGMAP;
  await ctx.apply(
    objects.filter((o) => !knownHosts(o)),
    { set: 'credentials' },
  );
  // Argo CD's own ConfigMap: a member only when the install created it, never through this step (with
  // `skip`, Argo CD and its objects are someone else's).
  await ctx.apply(objects.filter(knownHosts), { set: false });
  const creds = await readGitCredentials(ctx);
  return creds.kind === 'ssh' ? 'SSH key and host keys' : 'HTTPS username and token';
}

type SecretObject = KubeObject & { data?: Record<string, string> };

async function report(ctx: StepContext): Promise<Check[]> {
  let desired: KubeObject[];
  try {
    desired = await desiredCredentialObjects(ctx);
  } catch (err) {
    const message = messageOf(err);
    return ['git.credentials.argocd', 'git.credentials.seldon-deploy', 'git.known-hosts'].map((id) => ({
      id,
      ready: false,
      required: true,
      message,
    }));
  }
  const [repoSecret, gitCreds] = desired as [SecretObject, SecretObject];
  const checks = [
    await secretCheck(
      ctx,
      'git.credentials.argocd',
      repoSecret,
      `Argo CD repository for ${ctx.config.git.repoUrl}`,
    ),
    await secretCheck(ctx, 'git.credentials.seldon-deploy', gitCreds, 'Seldon Deploy Git credentials'),
  ];
  const creds = await readGitCredentials(ctx);
  if (creds.kind !== 'ssh') {
    checks.push({
      id: 'git.known-hosts',
      ready: true,
      required: false,
      message: 'not needed for an HTTPS repository',
    });
  } else {
    const present = new Set(knownHostsEntries(await liveKnownHosts(ctx)));
    const missing = knownHostsEntries(creds.knownHosts).filter((e) => !present.has(e));
    const where = `${ctx.config.argocd.namespace}/${KNOWN_HOSTS_CONFIGMAP}`;
    checks.push(
      missing.length === 0
        ? {
            id: 'git.known-hosts',
            ready: true,
            required: true,
            message: `${where} has the host keys of the source Secret`,
          }
        : {
            id: 'git.known-hosts',
            ready: false,
            required: true,
            message: `${where} lacks ${missing.length} host key(s) of the source Secret (${missing.map((e) => e.split(' ').slice(0, 2).join(' ')).join('; ')})`,
          },
    );
  }
  const ca = await caBundleObject(ctx).catch((err: unknown) => err as Error);
  if (ca instanceof Error) {
    checks.push({ id: 'git.tls-certs', ready: false, required: true, message: messageOf(ca) });
  } else if (ca) {
    const where = `${ctx.config.argocd.namespace}/${TLS_CERTS_CONFIGMAP}`;
    const live = await ctx.kube.get<ConfigMap>({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      namespace: ctx.config.argocd.namespace,
      name: TLS_CERTS_CONFIGMAP,
    });
    const want = (ca.patch as ConfigMap).data?.[ca.host];
    const have = live?.data?.[ca.host];
    checks.push(
      have !== undefined && pemBundle(have) === want
        ? {
            id: 'git.tls-certs',
            ready: true,
            required: true,
            message: `${where} trusts the CA bundle of git.caBundle for ${ca.host}`,
          }
        : {
            id: 'git.tls-certs',
            ready: false,
            required: true,
            message: `${where} ${have === undefined ? `has no entry for ${ca.host}` : `has another CA bundle for ${ca.host}`}: Argo CD would not trust the Git server`,
          },
    );
  }
  if (ctx.mode === 'status') checks.push(await seldonDeployReleaseCheck(ctx));
  return checks;
}

/**
 * `status` only: Seldon Deploy's Helm release (Helm's Secrets in its namespace, label owner=helm) points at
 * the credentials Secret and Argo CD. Not in `apply`: Seldon Deploy is installed after this bootstrap, with
 * the values the report gives, and listing Secrets is a right the install Job does not hold (Secrets by name
 * only). A refused LIST is said, not required.
 */
async function seldonDeployReleaseCheck(ctx: StepContext): Promise<Check> {
  const ns = ctx.config.seldonDeploy.namespace;
  let secrets: SecretObject[];
  try {
    secrets = await ctx.kube.list<SecretObject>('v1', 'Secret', {
      namespace: ns,
      labelSelector: HELM_OWNER_SELECTOR,
    });
  } catch (err) {
    const refused = err instanceof ApiError && err.status === 403;
    return {
      id: GITOPS_SECRET_CHECK,
      ready: false,
      required: false,
      message: refused
        ? `not checked: this identity cannot list Secrets in ${ns}, where Helm keeps Seldon Deploy's release (run status with one that can, e.g. your own kubeconfig)`
        : `not checked: ${messageOf(err)}`,
    };
  }
  const releases: HelmRelease[] = [];
  for (const s of latestReleaseSecrets(secrets)) {
    let release: HelmRelease;
    try {
      release = decodeHelmRelease(s.data!.release!);
    } catch (err) {
      ctx.log.warn(
        `${describeRef({ kind: 'Secret', namespace: ns, name: s.metadata.name })} is not a readable Helm release: ${messageOf(err)}`,
      );
      continue;
    }
    if (release.chart?.metadata?.name === SELDON_DEPLOY_CHART && release.info?.status !== 'uninstalled')
      releases.push(release);
  }
  return gitopsSecretCheck(ctx.config, argocdUrl(ctx.config), releases);
}

/** Exists, with the desired labels and every desired key equal to the source (values compared, never shown). */
async function secretCheck(
  ctx: StepContext,
  id: string,
  desired: SecretObject,
  what: string,
): Promise<Check> {
  const { namespace, name } = desired.metadata;
  const where = describeRef({ kind: 'Secret', namespace: namespace, name: name });
  try {
    const live = await ctx.kube.get<SecretObject>({ apiVersion: 'v1', kind: 'Secret', namespace, name });
    if (!live) return { id, ready: false, required: true, message: `${where} does not exist` };
    const stale = Object.entries(desired.data ?? {})
      .filter(([k, v]) => live.data?.[k] !== v)
      .map(([k]) => k);
    const labels = Object.entries(desired.metadata.labels ?? {}).filter(
      ([k, v]) => live.metadata.labels?.[k] !== v,
    );
    if (stale.length > 0 || labels.length > 0) {
      const parts = [...stale.map((k) => `key ${k}`), ...labels.map(([k]) => `label ${k}`)];
      return {
        id,
        ready: false,
        required: true,
        message: `${where} differs from the source Secret (${parts.join(', ')})`,
      };
    }
    return {
      id,
      ready: true,
      required: true,
      message: `${where}: ${what} (${Object.keys(desired.data ?? {})
        .sort()
        .join(', ')})`,
    };
  } catch (err) {
    return { id, ready: false, required: true, message: messageOf(err) };
  }
}

export const gitCredentials: Step = { name: NAME, reconcile, report };
