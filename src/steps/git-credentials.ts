/**
 * Step 6: Git credentials, made from the one source Secret the user names. Reconciled means: Argo CD's
 * repository Secret for exactly `git.repoUrl`, the Git server's host keys in argocd-ssh-known-hosts-cm
 * (existing entries kept), and Seldon Deploy's `git-creds` Secret, all matching the source Secret.
 */
import { messageOf, StepError } from '../errors.ts';
import { describeRef, readSecret } from '../kube/objects.ts';
import type { KubeObject } from '../kube/types.ts';
import {
  argocdRepositorySecret,
  type GitCredentials,
  repoHost,
  repoTransport,
  seldonGitCredsSecret,
} from '../manifests/git-credentials.ts';
import {
  KNOWN_HOSTS_CONFIGMAP,
  KNOWN_HOSTS_KEY,
  knownHostsConfigMap,
  knownHostsEntries,
  mergeKnownHosts,
} from '../manifests/known-hosts.ts';
import { registerSecret } from '../report/redact.ts';
import type { Check } from '../report/types.ts';
import type { Step, StepContext } from './context.ts';
import { decryptPrivateKey } from './git.ts';
import { withOwnedFields } from './ownership.ts';

const NAME = 'git-credentials';

/** Where the source Secret is: its namespace defaults to the run's. */
export function credentialsSecretRef(ctx: StepContext): { namespace: string; name: string; text: string } {
  const ref = ctx.config.git.credentials.secretRef;
  const namespace = ref.namespace ?? ctx.runNamespace;
  return { namespace, name: ref.name, text: `${namespace}/${ref.name}` };
}

/**
 * The credentials in a source Secret's (decoded) data, for `repoUrl`'s transport. Every missing key is
 * named at once; values never appear in messages.
 */
export function parseGitCredentials(
  data: Record<string, string>,
  repoUrl: string,
  secret: string,
): GitCredentials {
  const transport = repoTransport(repoUrl);
  const email = data.email ?? '';
  const need = transport === 'ssh' ? ['ssh-privatekey', 'known_hosts'] : ['username', 'password'];
  const missing = need.filter((key) => !data[key]?.trim());
  if (missing.length > 0) {
    const why =
      transport === 'ssh'
        ? `${repoUrl} is an SSH URL: the Secret needs "ssh-privatekey" (as in kubernetes.io/ssh-auth) and "known_hosts" (the server's host keys, e.g. from \`ssh-keyscan ${repoHost(repoUrl).host}\`)`
        : `${repoUrl} is an HTTPS URL: the Secret needs "username" and "password" (a token), as in kubernetes.io/basic-auth`;
    const keys = missing.map((k) => `"${k}"`).join(' and ');
    throw new StepError(NAME, `Secret ${secret} has no ${keys} key${missing.length > 1 ? 's' : ''}: ${why}`);
  }
  if (transport === 'ssh') {
    return {
      kind: 'ssh',
      privateKey: data['ssh-privatekey']!,
      knownHosts: data.known_hosts!,
      passphrase: data.passphrase ?? '',
      username: data.username || repoHost(repoUrl).user || 'git',
      email,
    };
  }
  return { kind: 'https', username: data.username!, password: data.password!, email };
}

/** The source Secret, read once per run. */
export function readGitCredentials(ctx: StepContext): Promise<GitCredentials> {
  return ctx.once('git-credentials', async () => {
    const ref = credentialsSecretRef(ctx);
    const data = await readSecret(ctx.kube, ref.namespace, ref.name);
    if (!data) {
      throw new StepError(
        NAME,
        `Secret ${ref.text} (git.credentials.secretRef) does not exist: create it with "ssh-privatekey" and "known_hosts", or "username" and "password"`,
      );
    }
    for (const key of ['ssh-privatekey', 'passphrase', 'password']) registerSecret(data[key]);
    return parseGitCredentials(data, ctx.config.git.repoUrl, ref.text);
  });
}

/** The SSH key without passphrase, for Argo CD and for the repository check (decrypted once per run). */
export function unencryptedPrivateKey(ctx: StepContext): Promise<string | undefined> {
  return ctx.once('git-private-key', async () => {
    const creds = await readGitCredentials(ctx);
    if (creds.kind !== 'ssh') return undefined;
    try {
      return await decryptPrivateKey(creds.privateKey, creds.passphrase, {
        ...(ctx.deps.git ? { run: ctx.deps.git } : {}),
        signal: ctx.signal,
      });
    } catch (err) {
      throw new StepError(NAME, `Secret ${credentialsSecretRef(ctx).text}: ${messageOf(err)}`, {
        cause: err,
      });
    }
  });
}

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
  return objects;
}

async function reconcile(ctx: StepContext): Promise<string> {
  const { namespace } = ctx.config.seldonDeploy;
  const ns = await ctx.kube.get({ apiVersion: 'v1', kind: 'Namespace', name: namespace });
  if (!ns) {
    throw new StepError(
      NAME,
      `namespace ${namespace} (seldonDeploy.namespace) does not exist: install Seldon Deploy first, or set seldonDeploy.namespace to where it runs`,
    );
  }
  await ctx.apply(await desiredCredentialObjects(ctx));
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
  return checks;
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
