/**
 * Step 7: Git credentials, made from the one source Secret the user names. Reconciled means: Argo CD's
 * repository Secret for exactly `git.repoUrl` and Seldon Deploy's `git-creds` Secret, both matching the
 * source Secret.
 * The Git server's host keys and CA go into Argo CD's own ConfigMaps with the rest of its configuration
 * (src/manifests/argocd-config.ts; written by install-argocd, or configure-argocd with `skip`).
 */

import type { Config } from '../config/types.ts';
import { ApiError, messageOf } from '../errors.ts';
import {
  readCaBundle,
  readGitCredentials,
  requireSeldonDeployNamespace,
  unencryptedPrivateKey,
} from '../inputs/inputs.ts';
import { describeRef } from '../kube/objects.ts';
import { applyNamedPermissions, type Permission } from '../kube/rbac.ts';
import type { KubeObject } from '../kube/types.ts';
import {
  argocdRepositorySecret,
  REPOSITORY_SECRET_NAME,
  seldonGitCredsSecret,
} from '../manifests/git-credentials.ts';
import {
  decodeHelmRelease,
  HELM_OWNER_SELECTOR,
  type HelmRelease,
  latestReleaseSecrets,
} from '../manifests/helm-release.ts';
import { GITOPS_SECRET_CHECK, gitopsSecretCheck, SELDON_DEPLOY_CHART } from '../manifests/seldon-deploy.ts';
import { argocdUrl } from '../manifests/virtualservice.ts';
import type { Check } from '../report/types.ts';
import type { NeedsInputs, Step, StepContext } from './context.ts';

const NAME = 'git-credentials';

/** The two Secrets, as they should be now. */
export async function desiredCredentialObjects(ctx: StepContext): Promise<KubeObject[]> {
  const creds = await readGitCredentials(ctx);
  const key = await unencryptedPrivateKey(ctx);
  return [
    argocdRepositorySecret(ctx.config, creds, key !== undefined ? { unencryptedPrivateKey: key } : {}),
    seldonGitCredsSecret(ctx.config, creds),
  ];
}

async function reconcile(ctx: StepContext): Promise<string> {
  await requireSeldonDeployNamespace(ctx);
  await ctx.apply(await desiredCredentialObjects(ctx), { set: 'credentials' });
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
    return ['git.credentials.argocd', 'git.credentials.seldon-deploy'].map((id) => ({
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

/**
 * The repository Secret in Argo CD's namespace (by name); the source Secret and the CA bundle's Secret or
 * ConfigMap (read, by name; argocd-tls-certs-cm is among configure-argocd's ConfigMaps); Seldon Deploy's
 * namespace (read) and its git-creds Secret (applied, by name).
 */
function needs(config: Config, inputs: NeedsInputs): Permission[] {
  if (inputs.run !== 'full') return [];
  const perms = applyNamedPermissions('', 'secrets', config.argocd.namespace, [REPOSITORY_SECRET_NAME]);
  perms.push({
    verb: 'get',
    group: '',
    resource: 'secrets',
    namespace: inputs.credentialsNamespace,
    names: [config.git.credentials.secretRef.name],
  });
  const ca = config.git.caBundle;
  const caRef = ca?.secretRef ?? ca?.configMapRef;
  if (ca && caRef) {
    perms.push({
      verb: 'get',
      group: '',
      resource: ca.secretRef ? 'secrets' : 'configmaps',
      namespace: caRef.namespace ?? inputs.runNamespace,
      names: [caRef.name],
    });
  }
  perms.push({ verb: 'get', group: '', resource: 'namespaces', names: [config.seldonDeploy.namespace] });
  perms.push(
    ...applyNamedPermissions('', 'secrets', config.seldonDeploy.namespace, [
      config.seldonDeploy.gitCredentialsSecret,
    ]),
  );
  return perms;
}

/**
 * The source Secret and its keys, the SSH key (decrypted with its passphrase), the CA bundle, the known hosts
 * of the repository's host, Seldon Deploy's namespace.
 */
async function inputs(ctx: StepContext): Promise<void> {
  await readGitCredentials(ctx);
  await unencryptedPrivateKey(ctx);
  await readCaBundle(ctx);
  await requireSeldonDeployNamespace(ctx);
}

export const gitCredentials: Step = { name: NAME, needs, inputs, reconcile, report };
