/**
 * The run's inputs: what steps read once per run and share — Argo CD's manifest, the admin password and its
 * hash decision, the Git credentials and the decrypted private key, the VirtualService decision. Each is a
 * typed function of the context, computed once per run (`perRun`); none writes to the cluster. Steps import
 * these, never another step.
 */

import { environmentsOf } from '../config/environments.ts';
import { webhookSettings } from '../config/webhooks.ts';
import { messageOf, StepError } from '../errors.ts';
import { decryptPrivateKey } from '../git/git.ts';
import { describeRef, readSecret, refKey, refOf } from '../kube/objects.ts';
import type { KubeObject } from '../kube/types.ts';
import { application } from '../manifests/application.ts';
import { appProject } from '../manifests/appproject.ts';
import { type LoadedManifest, loadArgocdManifest } from '../manifests/argocd.ts';
import { argocdConfigObjects, knownHostsRef } from '../manifests/argocd-config.ts';
import {
  type AdminPasswordSource,
  ARGOCD_SECRET,
  argocdConfigTargets,
} from '../manifests/argocd-settings.ts';
import { batchObjects, storageSecretSource } from '../manifests/batch.ts';
import {
  type GitCredentials,
  privateKeyProblem,
  repoHost,
  repoTransport,
} from '../manifests/git-credentials.ts';
import type { InventoryMember } from '../manifests/inventory.ts';
import { knownHostsCovers, knownHostsName } from '../manifests/known-hosts.ts';
import { decidePassword, generatePassword, type PasswordDecision } from '../manifests/password.ts';
import { pemBundle } from '../manifests/tls-certs.ts';
import { VIRTUAL_SERVICE_API_VERSIONS } from '../manifests/virtualservice.ts';
import {
  argocdWebhookData,
  type HookRecord,
  parseRecord,
  WEBHOOK_RECORD_KEY,
  WEBHOOK_SECRET_KEY,
} from '../manifests/webhooks.ts';
import { registerSecret } from '../report/redact.ts';
import { perRun, type StepContext } from '../steps/context.ts';
import { bareUuid, type ProviderToken, TOKEN_SCOPES } from '../webhooks/index.ts';

// The steps whose inputs these are: a StepError names the step the user would fix the input for.
const CONFIGURE_ARGOCD = 'configure-argocd';
const GIT_CREDENTIALS = 'git-credentials';

// -------------------------------------------------------------------------------------------- Argo CD

/** The manifest of this run (read and verified once). */
export const argocdManifest = perRun(
  (ctx): Promise<LoadedManifest> =>
    loadArgocdManifest(ctx.config.argocd, {
      ...(ctx.deps.packageRoot ? { root: ctx.deps.packageRoot } : {}),
      ...(ctx.deps.fetch ? { fetch: ctx.deps.fetch } : {}),
      signal: ctx.signal,
    }),
);

export interface AdminPassword extends AdminPasswordSource {
  /** False when it was just generated (the Secret does not exist yet). */
  stored: boolean;
}

/** The admin password from its Secret, or a newly generated one when the Secret is missing and `generate`. */
export const readAdminPassword = perRun(async (ctx): Promise<AdminPassword> => {
  const { secretRef, generate } = ctx.config.argocd.adminPassword;
  const namespace = secretRef.namespace ?? ctx.runNamespace;
  const where = describeRef({ kind: 'Secret', namespace: namespace, name: secretRef.name });
  const data = await readSecret(ctx.kube, namespace, secretRef.name);
  if (data) {
    const password = data[secretRef.key];
    if (!password) {
      throw new StepError(
        CONFIGURE_ARGOCD,
        `${where} has no key "${secretRef.key}" (argocd.adminPassword.secretRef.key): add the admin password under that key`,
      );
    }
    registerSecret(password);
    return { password, stored: true, namespace, name: secretRef.name, key: secretRef.key };
  }
  if (!generate) {
    throw new StepError(
      CONFIGURE_ARGOCD,
      `${where} (argocd.adminPassword.secretRef) does not exist: create it with the admin password under "${secretRef.key}", or set argocd.adminPassword.generate: true`,
    );
  }
  const password = generatePassword();
  registerSecret(password);
  return { password, stored: false, namespace, name: secretRef.name, key: secretRef.key };
});

/**
 * After the Secret of a generated password was applied (by the step that applies its hash, before the hash:
 * the password never exists only as a hash): in apply mode it is stored from now on.
 */
export function passwordStored(ctx: StepContext, pw: AdminPassword): void {
  if (ctx.mode !== 'apply') return;
  pw.stored = true;
  ctx.log.info(
    `generated the Argo CD admin password into ${describeRef({ kind: 'Secret', namespace: pw.namespace, name: pw.name })}`,
  );
}

/** The admin hash of this run, decided once against argocd-secret's (the generated password stored first). */
export const adminPasswordDecision = perRun(async (ctx): Promise<PasswordDecision> => {
  const pw = await readAdminPassword(ctx);
  const live = await readSecret(ctx.kube, ctx.config.argocd.namespace, ARGOCD_SECRET);
  const decision = await decidePassword({
    password: pw.password,
    liveHash: live?.['admin.password'],
    liveMtime: live?.['admin.passwordMtime'],
    now: ctx.now(),
  });
  ctx.log.debug(decision.changed ? 'admin password differs: new hash and mtime' : 'admin password unchanged');
  return decision;
});

// ------------------------------------------------------------------------------------------------ Git

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
    throw new StepError(
      GIT_CREDENTIALS,
      `Secret ${secret} has no ${keys} key${missing.length > 1 ? 's' : ''}: ${why}`,
    );
  }
  if (transport === 'ssh') {
    const passphrase = data.passphrase ?? '';
    const keyProblem = privateKeyProblem(data['ssh-privatekey']!, passphrase);
    if (keyProblem) {
      throw new StepError(
        GIT_CREDENTIALS,
        `Secret ${secret} key "ssh-privatekey" ${keyProblem}: ${
          /passphrase/.test(keyProblem)
            ? 'add its passphrase to the Secret under "passphrase"'
            : 'put the private key file itself under that key (`kubectl create secret generic … --from-file=ssh-privatekey=./deploy-key`)'
        }`,
      );
    }
    const { host, port } = repoHost(repoUrl);
    if (!knownHostsCovers(data.known_hosts, host, port)) {
      const keyscan = `ssh-keyscan ${port && port !== '22' ? `-p ${port} ` : ''}${host}`;
      throw new StepError(
        GIT_CREDENTIALS,
        `Secret ${secret} key "known_hosts" has no host key for ${knownHostsName(host, port)} (the host of git.repoUrl): add the server's keys to it, e.g. from \`${keyscan}\``,
      );
    }
    return {
      kind: 'ssh',
      privateKey: data['ssh-privatekey']!,
      knownHosts: data.known_hosts!,
      passphrase,
      username: data.username || repoHost(repoUrl).user || 'git',
      email,
    };
  }
  return { kind: 'https', username: data.username!, password: data.password!, email };
}

/** The source Secret, read once per run. */
export const readGitCredentials = perRun(async (ctx): Promise<GitCredentials> => {
  const ref = credentialsSecretRef(ctx);
  const data = await readSecret(ctx.kube, ref.namespace, ref.name);
  if (!data) {
    throw new StepError(
      GIT_CREDENTIALS,
      `Secret ${ref.text} (git.credentials.secretRef) does not exist: create it with "ssh-privatekey" and "known_hosts", or "username" and "password"`,
    );
  }
  for (const key of ['ssh-privatekey', 'passphrase', 'password']) registerSecret(data[key]);
  return parseGitCredentials(data, ctx.config.git.repoUrl, ref.text);
});

/**
 * Seldon Deploy's namespace, where `git-creds` goes: it must exist (the bootstrap does not install Seldon
 * Deploy). Checked in preflight, so a wrong name stops the run before Argo CD is installed.
 */
export const requireSeldonDeployNamespace = perRun(async (ctx): Promise<void> => {
  const { namespace } = ctx.config.seldonDeploy;
  const ns = await ctx.kube.get({ apiVersion: 'v1', kind: 'Namespace', name: namespace });
  if (!ns) {
    throw new StepError(
      GIT_CREDENTIALS,
      `namespace ${namespace} (seldonDeploy.namespace) does not exist: install Seldon Deploy first, or set seldonDeploy.namespace to where it runs`,
    );
  }
});

/** Where git.caBundle points, or undefined when it is unset. */
export function caBundleSource(
  ctx: StepContext,
): { kind: 'Secret' | 'ConfigMap'; namespace: string; name: string; key: string; path: string } | undefined {
  const ca = ctx.config.git.caBundle;
  const ref = ca?.secretRef ?? ca?.configMapRef;
  if (!ca || !ref) return undefined;
  const kind = ca.secretRef ? 'Secret' : 'ConfigMap';
  const path = `git.caBundle.${ca.secretRef ? 'secretRef' : 'configMapRef'}`;
  return { kind, namespace: ref.namespace ?? ctx.runNamespace, name: ref.name, key: ref.key, path };
}

/** The CA bundle of git.caBundle (PEM, normalised), read once per run; undefined when unset. */
export const readCaBundle = perRun(async (ctx): Promise<string | undefined> => {
  const src = caBundleSource(ctx);
  if (!src) return undefined;
  const where = `${src.kind} ${src.namespace}/${src.name}`;
  let data: Record<string, string> | null;
  if (src.kind === 'Secret') data = await readSecret(ctx.kube, src.namespace, src.name);
  else {
    const cm = await ctx.kube.get<KubeObject & { data?: Record<string, string> }>({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      namespace: src.namespace,
      name: src.name,
    });
    data = cm ? (cm.data ?? {}) : null;
  }
  if (!data) {
    throw new StepError(
      GIT_CREDENTIALS,
      `${where} (${src.path}) does not exist: create it with the CA certificates (PEM) under key "${src.key}"`,
    );
  }
  const text = data[src.key];
  if (text === undefined) {
    const keys = Object.keys(data).sort();
    throw new StepError(
      GIT_CREDENTIALS,
      `${where} (${src.path}) has no key "${src.key}"${keys.length ? ` (it has ${keys.map((k) => `"${k}"`).join(', ')}): set ${src.path}.key` : ''}`,
    );
  }
  const pem = pemBundle(text);
  if (!pem) {
    throw new StepError(
      GIT_CREDENTIALS,
      `${where} key "${src.key}" (${src.path}) holds no PEM certificate (-----BEGIN CERTIFICATE-----): put the CA certificates there`,
    );
  }
  return pem;
});

/** The SSH key without passphrase, for Argo CD and for the repository check (decrypted once per run). */
export const unencryptedPrivateKey = perRun(async (ctx): Promise<string | undefined> => {
  const creds = await readGitCredentials(ctx);
  if (creds.kind !== 'ssh') return undefined;
  try {
    return await decryptPrivateKey(creds.privateKey, creds.passphrase, {
      ...(ctx.deps.git ? { run: ctx.deps.git } : {}),
      signal: ctx.signal,
    });
  } catch (err) {
    const secret = credentialsSecretRef(ctx).text;
    const message = /passphrase is wrong/.test(messageOf(err))
      ? `Secret ${secret} key "passphrase" does not decrypt key "ssh-privatekey" (the passphrase is wrong): put the key's passphrase under "passphrase"`
      : `Secret ${secret} key "ssh-privatekey": ${messageOf(err)}: check the key file and its "passphrase"`;
    throw new StepError(GIT_CREDENTIALS, message, { cause: err });
  }
});

// ------------------------------------------------------------------------------------- VirtualService

/** The first VirtualService API version the cluster serves, or undefined without Istio's CRD. */
export const servedVirtualServiceVersion = perRun(async (ctx): Promise<string | undefined> => {
  for (const apiVersion of VIRTUAL_SERVICE_API_VERSIONS) {
    if (await ctx.kube.hasKind(apiVersion, 'VirtualService')) return apiVersion;
  }
  return undefined;
});

/** Whether this run manages the VirtualService, and with which API version. */
export async function virtualServicePlan(
  ctx: StepContext,
): Promise<{ create: false; reason: string } | { create: true; apiVersion: string }> {
  const { enabled } = ctx.config.argocd.virtualService;
  if (enabled === false) return { create: false, reason: 'disabled (argocd.virtualService.enabled: false)' };
  const apiVersion = await servedVirtualServiceVersion(ctx);
  if (apiVersion) return { create: true, apiVersion };
  if (enabled === 'auto') {
    return {
      create: false,
      reason: 'Istio VirtualService kind not served: not created (argocd.virtualService.enabled: auto)',
    };
  }
  throw new StepError(
    'expose-argocd',
    'argocd.virtualService.enabled is true but the cluster does not serve networking.istio.io VirtualService: install Istio, or set enabled to "auto" or false',
  );
}

// ------------------------------------------------------------------------------------------- Webhooks

const REGISTER_WEBHOOKS = 'register-webhooks';

/** The provider API token from its Secret (webhooks.token.secretRef), read once per run. */
export const readWebhookToken = perRun(async (ctx): Promise<ProviderToken> => {
  const s = webhookSettings(ctx.config, ctx.runNamespace);
  if (!s) throw new Error('bug: readWebhookToken without enabled webhooks');
  const { namespace, name, key } = s.token;
  const where = `Secret ${namespace}/${name}`;
  const data = await readSecret(ctx.kube, namespace, name);
  if (!data) {
    throw new StepError(
      REGISTER_WEBHOOKS,
      `${where} (webhooks.token.secretRef) does not exist: create it with the ${s.provider} API token under "${key}" (${TOKEN_SCOPES[s.provider]})`,
    );
  }
  const token = data[key]?.trim();
  if (!token) {
    throw new StepError(
      REGISTER_WEBHOOKS,
      `${where} has no key "${key}" (webhooks.token.secretRef.key): put the ${s.provider} API token there`,
    );
  }
  registerSecret(token);
  const username = data.username?.trim() || undefined;
  return { token, username, source: `${where} (key ${key})` };
});

export interface WebhookState {
  /** The generated Argo CD webhook secret, when stored. */
  secret?: string | undefined;
  record?: HookRecord | undefined;
}

/** The bootstrap's webhook Secret (webhooks.secretName in the run's namespace) as it is now; never generates. */
export async function liveWebhookState(ctx: StepContext): Promise<WebhookState> {
  const data = await readSecret(ctx.kube, ctx.runNamespace, ctx.config.webhooks.secretName);
  const secret = data?.[WEBHOOK_SECRET_KEY] || undefined;
  registerSecret(secret);
  return { secret, record: parseRecord(data?.[WEBHOOK_RECORD_KEY]) };
}

/** The same, as it was when the run first read it (what the steps before register-webhooks keep). */
export const readWebhookState = perRun(liveWebhookState);

/**
 * The webhook key argocd-secret should keep, from what the webhook step stored on an earlier run (the
 * secret, or Bitbucket's hook UUID). `{}` with webhooks disabled or nothing stored yet.
 */
export const storedArgocdWebhookData = perRun(async (ctx): Promise<Record<string, string>> => {
  const s = webhookSettings(ctx.config, ctx.runNamespace);
  if (!s) return {};
  const state = await readWebhookState(ctx);
  if (s.provider === 'bitbucket') {
    const uuid = state.record?.provider === 'bitbucket' ? state.record.hooks.argocd : undefined;
    return uuid ? argocdWebhookData('bitbucket', bareUuid(uuid)) : {};
  }
  return state.secret ? argocdWebhookData(s.provider, state.secret) : {};
});

const decidedWebhookData = new WeakMap<StepContext, Record<string, string>>();

/**
 * register-webhooks, which runs before Argo CD is installed or configured, says here what argocd-secret
 * must hold for Argo CD to check the deliveries (the secret it stored, Bitbucket's hook UUID once the
 * hook exists): the step that writes argocd-secret puts it there in the same run.
 */
export function webhookKeyDecided(ctx: StepContext, data: Record<string, string>): void {
  decidedWebhookData.set(ctx, data);
}

/** argocd-secret's webhook key for this run: as register-webhooks decided it, else as stored. */
export async function argocdWebhookDataOfRun(ctx: StepContext): Promise<Record<string, string>> {
  return decidedWebhookData.get(ctx) ?? (await storedArgocdWebhookData(ctx));
}

/**
 * Argo CD's configuration objects as they should be now (src/manifests/argocd-config.ts), with the live
 * known hosts kept; `manifest`: the install manifest's objects they are merged into. Read again on every
 * call (the live known hosts), never cached.
 */
export async function desiredArgocdConfig(
  ctx: StepContext,
  manifest?: readonly KubeObject[],
): Promise<KubeObject[]> {
  const live = await ctx.kube.get(knownHostsRef(ctx.config.argocd.namespace));
  const creds = await readGitCredentials(ctx);
  return argocdConfigObjects(ctx.config, {
    decision: await adminPasswordDecision(ctx),
    webhookData: await argocdWebhookDataOfRun(ctx),
    gitKnownHosts: creds.kind === 'ssh' ? creds.knownHosts : undefined,
    caBundle: await readCaBundle(ctx),
    liveKnownHosts: live,
    manifest,
  });
}

// -------------------------------------------------------------------------------------------- removals

/**
 * Members of the previous Argo CD manifest that this run's no longer has — except CRDs (deleting one deletes
 * every object of its kind, the Applications included: only uninstall removes them) and Namespaces. Namespaced
 * objects first. None with `install.source: skip` (Argo CD handed over: nothing is pruned).
 */
export async function droppedManifestMembers(ctx: StepContext): Promise<InventoryMember[]> {
  const { config } = ctx;
  if (config.argocd.install.source === 'skip') return [];
  const manifest = await argocdManifest(ctx);
  const wanted = new Set([...manifest.objects, ...argocdConfigTargets(config)].map((o) => refKey(refOf(o))));
  return (await ctx.inventory.members('argocd'))
    .filter((m) => !wanted.has(refKey(m)) && m.kind !== 'CustomResourceDefinition' && m.kind !== 'Namespace')
    .sort((a, b) => Number(!a.namespace) - Number(!b.namespace));
}

/**
 * What left the environments since the inventory was written: the Applications (and an AppProject renamed
 * away) this program created, and the namespaces of the environments that are gone.
 */
export async function removedEnvironments(
  ctx: StepContext,
): Promise<{ members: InventoryMember[]; namespaces: string[] }> {
  const envs = environmentsOf(ctx.config);
  const desired = new Set(
    [appProject(ctx.config), ...envs.map((e) => application(ctx.config, e))].map((o) => refKey(refOf(o))),
  );
  const current = new Set(envs.map((e) => e.namespace));
  const previous = await ctx.inventory.previous();
  return {
    members: previous.members.filter((m) => m.set === 'environments' && !desired.has(refKey(m))),
    namespaces: previous.environments.map((e) => e.namespace).filter((ns) => !current.has(ns)),
  };
}

/** Everything this run deletes or gives back, for the preflight's permissions. */
export async function plannedRemovals(
  ctx: StepContext,
): Promise<{ delete: InventoryMember[]; release: string[] }> {
  const envs = await removedEnvironments(ctx);
  return {
    delete: [...(await droppedManifestMembers(ctx)), ...envs.members, ...(await removedBatchMembers(ctx))],
    release: envs.namespaces,
  };
}

// -------------------------------------------------------------------------------------------- batch jobs

const SETUP_BATCH = 'setup-batch';

/**
 * The storage-initializer Secret's source data (base64, as stored), read once; undefined when
 * environments.batch.storageSecret is unset or no environment has batch jobs. Every value is registered
 * for redaction. A missing source is a StepError naming the key.
 */
export const readStorageSecret = perRun(async (ctx): Promise<Record<string, string> | undefined> => {
  const source = storageSecretSource(ctx.config, ctx.runNamespace);
  if (!source || batchObjects(ctx.config, ctx.runNamespace, undefined).length === 0) return undefined;
  const secret = await ctx.kube.get<KubeObject & { data?: Record<string, string> }>({
    apiVersion: 'v1',
    kind: 'Secret',
    namespace: source.namespace,
    name: source.name,
  });
  if (!secret)
    throw new StepError(
      SETUP_BATCH,
      `Secret ${source.namespace}/${source.name} (environments.batch.storageSecret.secretRef) does not exist: create it with the RCLONE_CONFIG_<remote>_<var> keys your buckets need, or unset environments.batch.storageSecret`,
    );
  const data = secret.data ?? {};
  for (const v of Object.values(data)) registerSecret(Buffer.from(v, 'base64').toString('utf8'));
  return { ...data };
});

/** Batch objects this program created that the config no longer wants (batch turned off, environment gone). */
export async function removedBatchMembers(ctx: StepContext): Promise<InventoryMember[]> {
  const source = storageSecretSource(ctx.config, ctx.runNamespace);
  // The refs wanted: the data does not matter, only which objects.
  const wanted = new Set(
    batchObjects(ctx.config, ctx.runNamespace, source ? {} : undefined).map((o) => refKey(refOf(o))),
  );
  const previous = await ctx.inventory.previous();
  return previous.members.filter((m) => m.set === 'batch' && !wanted.has(refKey(m)));
}
