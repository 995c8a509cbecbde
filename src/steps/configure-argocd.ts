/**
 * Step 4: Argo CD's settings. Reconciled means: `argocd-secret` holds the bcrypt hash of the admin password
 * (replaced, with a new `admin.passwordMtime`, only when the password really changed), argocd-cmd-params-cm
 * has `server.insecure` and `server.rootpath`, and argocd-server's pod template carries the hash of those
 * two values (so it restarts exactly when they change).
 *
 * These are Argo CD's configuration objects (src/manifests/argocd-config.ts, with the Git server's host keys
 * and CA and the webhook key), each written by one step. When this program installs Argo CD they are
 * merged into the install manifest's objects and applied with it (install-argocd.ts): applying the
 * manifest's argocd-secret without them would remove fields our field manager owns, and restart the server
 * twice per run. So this step applies them itself only when Argo CD is managed elsewhere
 * (`install.source: skip`), with the admin password Secret when it generates the password.
 */

import type { Config } from '../config/types.ts';
import { messageOf, StepError } from '../errors.ts';
import {
  desiredArgocdConfig,
  passwordStored,
  readAdminPassword,
  readCaBundle,
  readGitCredentials,
} from '../inputs/inputs.ts';
import { describeRef, readSecret } from '../kube/objects.ts';
import { applyNamedPermissions, applyPermissions, type Permission } from '../kube/rbac.ts';
import type { KubeObject } from '../kube/types.ts';
import { knownHostsRef } from '../manifests/argocd-config.ts';
import {
  ARGOCD_CM,
  ARGOCD_SECRET,
  ARGOCD_SERVER,
  adminPasswordSecret,
  argocdCmData,
  CMD_PARAMS_CONFIGMAP,
  RBAC_CONFIGMAP,
  SERVER_CONFIG_HASH_ANNOTATION,
  serverConfigHash,
  serverParams,
  ssoSecretLabelPatch,
} from '../manifests/argocd-settings.ts';
import { repoHost } from '../manifests/git-credentials.ts';
import { KNOWN_HOSTS_CONFIGMAP, KNOWN_HOSTS_KEY, knownHostsEntries } from '../manifests/known-hosts.ts';
import { withOwnedFields } from '../manifests/ownership.ts';
import { passwordMatches } from '../manifests/password.ts';
import { pemBundle, TLS_CERTS_CONFIGMAP } from '../manifests/tls-certs.ts';
import { adminCheck, anonymousCheck, insecureCheck, type SeenData } from '../report/posture.ts';
import type { Check } from '../report/types.ts';
import type { NeedsInputs, Step, StepContext } from './context.ts';

const NAME = 'configure-argocd';

/**
 * The SSO client secret's Secret gets the label Argo CD requires of a `$<secret>:<key>` reference (only the
 * label: the Secret is the user's). A Secret not there yet is not an error here: the `argocd.sso` check says
 * what to create, and the next run labels it.
 */
async function labelSsoSecret(ctx: StepContext): Promise<string | undefined> {
  const [patch] = ssoSecretLabelPatch(ctx.config);
  if (!patch) return undefined;
  const ref = {
    apiVersion: 'v1',
    kind: 'Secret',
    namespace: patch.metadata.namespace,
    name: patch.metadata.name,
  };
  if (!(await ctx.kube.get(ref))) return `SSO client secret ${describeRef(ref)} not there yet`;
  await ctx.apply([patch], { set: false });
  return undefined;
}

async function reconcile(ctx: StepContext): Promise<string | undefined> {
  const { namespace, install } = ctx.config.argocd;
  const sso = await labelSsoSecret(ctx);
  if (install.source !== 'skip') {
    return ['applied with the install manifest', sso].filter(Boolean).join('; ');
  }
  const server = await ctx.kube.get({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    namespace,
    name: ARGOCD_SERVER,
  });
  if (!server) {
    throw new StepError(
      NAME,
      `Argo CD is not installed in namespace ${namespace} (no Deployment ${ARGOCD_SERVER}) and argocd.install.source is "skip": install it first, or set argocd.install.source to "bundled"`,
    );
  }
  const pw = await readAdminPassword(ctx);
  if (!pw.stored) {
    await ctx.apply([adminPasswordSecret(pw)], { set: 'credentials' });
    passwordStored(ctx, pw);
  }
  const desired = await desiredArgocdConfig(ctx);
  const patches = await Promise.all(
    desired.map(async (patch) => {
      const live = await ctx.kube.get({
        apiVersion: patch.apiVersion,
        kind: patch.kind,
        namespace: patch.metadata.namespace,
        name: patch.metadata.name,
      });
      return withOwnedFields(live, patch);
    }),
  );
  // Argo CD is managed elsewhere: its objects are never members of the inventory.
  await ctx.apply(patches, { set: false });
  return undefined;
}

type DataObject = KubeObject & { data?: Record<string, string> };

/** A ConfigMap of argocd.namespace, or the error reading it (each check then says it). */
async function readConfigMap(
  ctx: StepContext,
  name: string,
): Promise<DataObject | null | { error: unknown }> {
  try {
    return await ctx.kube.get<DataObject>({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      namespace: ctx.config.argocd.namespace,
      name,
    });
  } catch (error) {
    return { error };
  }
}

type SeenConfigMap = Awaited<ReturnType<typeof readConfigMap>>;

const failedRead = (seen: SeenConfigMap): seen is { error: unknown } => seen !== null && 'error' in seen;

/** A posture check from a ConfigMap read once for several checks (argocd-cm, argocd-cmd-params-cm). */
function postureOf(
  ctx: StepContext,
  seen: SeenConfigMap,
  id: string,
  check: (config: StepContext['config'], data: SeenData) => Check,
): Check {
  if (failedRead(seen)) return { id, ready: false, required: true, message: messageOf(seen.error) };
  return check(ctx.config, seen ? (seen.data ?? {}) : null);
}

async function report(ctx: StepContext): Promise<Check[]> {
  // Each ConfigMap read once for every check on it (no request per check).
  const [cm, cmdParams] = await Promise.all([
    readConfigMap(ctx, ARGOCD_CM),
    readConfigMap(ctx, CMD_PARAMS_CONFIGMAP),
  ]);
  return [
    await passwordCheck(ctx),
    await serverConfigCheck(ctx, cmdParams),
    ...(ctx.config.argocd.sso.enabled ? [await ssoCheck(ctx, cm)] : []),
    postureOf(ctx, cm, 'argocd.posture.admin', adminCheck),
    postureOf(ctx, cm, 'argocd.posture.anonymous', anonymousCheck),
    postureOf(ctx, cmdParams, 'argocd.posture.server-insecure', insecureCheck),
    await knownHostsCheck(ctx),
    ...(ctx.config.git.caBundle ? [await tlsCertsCheck(ctx)] : []),
  ];
}

/** argocd-ssh-known-hosts-cm has every host key of the source Secret (SSH repositories). */
async function knownHostsCheck(ctx: StepContext): Promise<Check> {
  const id = 'git.known-hosts';
  try {
    const creds = await readGitCredentials(ctx);
    if (creds.kind !== 'ssh')
      return { id, ready: true, required: false, message: 'not needed for an HTTPS repository' };
    const live = await ctx.kube.get<DataObject>(knownHostsRef(ctx.config.argocd.namespace));
    const present = new Set(knownHostsEntries(live?.data?.[KNOWN_HOSTS_KEY]));
    const missing = knownHostsEntries(creds.knownHosts).filter((e) => !present.has(e));
    const where = `${ctx.config.argocd.namespace}/${KNOWN_HOSTS_CONFIGMAP}`;
    return missing.length === 0
      ? { id, ready: true, required: true, message: `${where} has the host keys of the source Secret` }
      : {
          id,
          ready: false,
          required: true,
          message: `${where} lacks ${missing.length} host key(s) of the source Secret (${missing.map((e) => e.split(' ').slice(0, 2).join(' ')).join('; ')})`,
        };
  } catch (err) {
    return { id, ready: false, required: true, message: messageOf(err) };
  }
}

/** argocd-tls-certs-cm trusts git.caBundle under the repository's host. */
async function tlsCertsCheck(ctx: StepContext): Promise<Check> {
  const id = 'git.tls-certs';
  try {
    const pem = await readCaBundle(ctx);
    if (pem === undefined) return { id, ready: true, required: false, message: 'git.caBundle is not set' };
    const { host } = repoHost(ctx.config.git.repoUrl);
    const where = `${ctx.config.argocd.namespace}/${TLS_CERTS_CONFIGMAP}`;
    const live = await readConfigMap(ctx, TLS_CERTS_CONFIGMAP);
    if (failedRead(live)) throw live.error;
    const have = live?.data?.[host];
    return have !== undefined && pemBundle(have) === pem
      ? {
          id,
          ready: true,
          required: true,
          message: `${where} trusts the CA bundle of git.caBundle for ${host}`,
        }
      : {
          id,
          ready: false,
          required: true,
          message: `${where} ${have === undefined ? `has no entry for ${host}` : `has another CA bundle for ${host}`}: Argo CD would not trust the Git server`,
        };
  } catch (err) {
    return { id, ready: false, required: true, message: messageOf(err) };
  }
}

/** SSO as written: oidc.config, the group lines, admin disabled if asked, the client secret there and labelled. */
async function ssoCheck(ctx: StepContext, seenCm: SeenConfigMap): Promise<Check> {
  const check = { id: 'argocd.sso', required: true };
  const { namespace, sso } = ctx.config.argocd;
  try {
    const get = (name: string, kind = 'ConfigMap') =>
      ctx.kube.get<DataObject>({ apiVersion: 'v1', kind, namespace, name });
    if (failedRead(seenCm)) throw seenCm.error;
    const cm = seenCm;
    const want = argocdCmData(ctx.config);
    const wrongCm = Object.keys(want).filter((k) => cm?.data?.[k] !== want[k]);
    if (wrongCm.length > 0)
      return { ...check, ready: false, message: `${ARGOCD_CM} lacks ${wrongCm.join(', ')} as configured` };
    const rbac = await get(RBAC_CONFIGMAP);
    const policy = rbac?.data?.['policy.csv'] ?? '';
    const missing = Object.entries(sso.groups).filter(
      ([g, r]) => !policy.split('\n').includes(`g, ${g}, ${r}`),
    );
    if (missing.length > 0)
      return {
        ...check,
        ready: false,
        message: `${RBAC_CONFIGMAP} policy.csv lacks ${missing.map(([g, r]) => `g, ${g}, ${r}`).join('; ')}`,
      };
    const { name, key } = sso.clientSecret.secretRef;
    const secret = await get(name, 'Secret');
    const where = `Secret ${namespace}/${name}`;
    if (!secret)
      return {
        ...check,
        ready: false,
        message: `${where} (argocd.sso.clientSecret.secretRef) does not exist: create it with the OIDC client secret under "${key}"; the next run labels it for Argo CD`,
      };
    if (!secret.data?.[key])
      return {
        ...check,
        ready: false,
        message: `${where} has no key "${key}": put the OIDC client secret there`,
      };
    if (secret.metadata.labels?.['app.kubernetes.io/part-of'] !== 'argocd')
      return {
        ...check,
        ready: false,
        message: `${where} lacks the label app.kubernetes.io/part-of=argocd (run apply)`,
      };
    const groups = Object.keys(sso.groups).length;
    return {
      ...check,
      ready: true,
      message: `OIDC ${sso.issuer} (client ${sso.clientID}, secret ${where} key ${key}, redirect URI ${want.url}/auth/callback), ${groups} group mappings${sso.disableAdmin ? ', local admin disabled' : ''}`,
    };
  } catch (err) {
    return { ...check, ready: false, message: messageOf(err) };
  }
}

async function passwordCheck(ctx: StepContext): Promise<Check> {
  const check = { id: 'argocd.admin-password', required: true };
  try {
    const pw = await readAdminPassword(ctx);
    const source = `${describeRef({ kind: 'Secret', namespace: pw.namespace, name: pw.name })} (key ${pw.key})`;
    if (!pw.stored) {
      return { ...check, ready: false, message: `${source} does not exist yet: apply generates it` };
    }
    const live = await readSecret(ctx.kube, ctx.config.argocd.namespace, ARGOCD_SECRET);
    if (!live)
      return {
        ...check,
        ready: false,
        message: `Secret ${ctx.config.argocd.namespace}/${ARGOCD_SECRET} does not exist`,
      };
    if (!(await passwordMatches(pw.password, live['admin.password']))) {
      return {
        ...check,
        ready: false,
        message: `argocd-secret admin.password is not the password in ${source}`,
      };
    }
    return { ...check, ready: true, message: `admin password is the one in ${source}` };
  } catch (err) {
    return { ...check, ready: false, message: messageOf(err) };
  }
}

async function serverConfigCheck(ctx: StepContext, seenCmdParams: SeenConfigMap): Promise<Check> {
  const check = { id: 'argocd.server-config', required: true };
  const { namespace } = ctx.config.argocd;
  const want = serverParams(ctx.config);
  const wantText = Object.entries(want)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  try {
    if (failedRead(seenCmdParams)) throw seenCmdParams.error;
    const cm = seenCmdParams;
    if (!cm)
      return {
        ...check,
        ready: false,
        message: `ConfigMap ${namespace}/${CMD_PARAMS_CONFIGMAP} does not exist`,
      };
    const wrong = Object.entries(want).filter(([k, v]) => cm.data?.[k] !== v);
    if (wrong.length > 0) {
      const got = wrong.map(([k]) => `${k}=${cm.data?.[k] ?? '(unset)'}`).join(', ');
      return { ...check, ready: false, message: `${CMD_PARAMS_CONFIGMAP} has ${got}; want ${wantText}` };
    }
    const server = await ctx.kube.get<
      KubeObject & { spec?: { template?: { metadata?: { annotations?: Record<string, string> } } } }
    >({ apiVersion: 'apps/v1', kind: 'Deployment', namespace, name: ARGOCD_SERVER });
    const annotation = server?.spec?.template?.metadata?.annotations?.[SERVER_CONFIG_HASH_ANNOTATION];
    if (annotation !== serverConfigHash(ctx.config)) {
      return {
        ...check,
        ready: false,
        message: `${wantText} set, but ${ARGOCD_SERVER} has not been restarted with them`,
      };
    }
    return {
      ...check,
      ready: true,
      message: `${wantText} (${CMD_PARAMS_CONFIGMAP}), ${ARGOCD_SERVER} restarted with them`,
    };
  } catch (err) {
    return { ...check, ready: false, message: messageOf(err) };
  }
}

/**
 * The settings (also merged into the install): argocd-secret by name, the SSO client secret's Secret (only
 * its label), the ConfigMaps (one LIST), argocd-server; the admin password Secret (read, by name; applied
 * when this run generates it).
 */
function needs(config: Config, inputs: NeedsInputs): Permission[] {
  if (inputs.run !== 'full') return [];
  const argo = config.argocd.namespace;
  const perms = applyNamedPermissions('', 'secrets', argo, [ARGOCD_SECRET]);
  if (config.argocd.sso.enabled)
    perms.push(
      ...applyNamedPermissions('', 'secrets', argo, [config.argocd.sso.clientSecret.secretRef.name]),
    );
  perms.push(...applyPermissions('', 'configmaps', argo), {
    verb: 'list',
    group: '',
    resource: 'configmaps',
    namespace: argo,
  });
  perms.push(...applyPermissions('apps', 'deployments', argo));
  const pwName = config.argocd.adminPassword.secretRef.name;
  perms.push({
    verb: 'get',
    group: '',
    resource: 'secrets',
    namespace: inputs.adminPasswordNamespace,
    names: [pwName],
  });
  if (inputs.createAdminPasswordSecret)
    perms.push(...applyNamedPermissions('', 'secrets', inputs.adminPasswordNamespace, [pwName]));
  return perms;
}

/** The admin password: its Secret and key (or the decision to generate it). */
async function inputs(ctx: StepContext): Promise<void> {
  await readAdminPassword(ctx);
}

export const configureArgocd: Step = { name: NAME, needs, inputs, reconcile, report };
