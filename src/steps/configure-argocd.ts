/**
 * Step 3: Argo CD's settings. Reconciled means: `argocd-secret` holds the bcrypt hash of the admin password
 * (replaced, with a new `admin.passwordMtime`, only when the password really changed), argocd-cmd-params-cm
 * has `server.insecure` and `server.rootpath`, and argocd-server's pod template carries the hash of those
 * two values (so it restarts exactly when they change).
 *
 * When this program installs Argo CD, these patches are merged into the install manifest's objects and
 * applied with it (see install-argocd.ts): applying the manifest's argocd-secret without them would remove
 * fields our field manager owns, and restart the server twice per run. So this step only applies them
 * itself when Argo CD is managed elsewhere (`install.source: skip`).
 */
import { messageOf, StepError } from '../errors.ts';
import { describeRef, readSecret } from '../kube/objects.ts';
import type { KubeObject } from '../kube/types.ts';
import {
  ARGOCD_SECRET,
  ARGOCD_SERVER,
  argocdSecretPatch,
  CMD_PARAMS_CONFIGMAP,
  cmdParamsConfigMap,
  SERVER_CONFIG_HASH_ANNOTATION,
  serverConfigHash,
  serverParams,
  serverRestartPatch,
} from '../manifests/argocd-settings.ts';
import { b64, MANAGED_BY_LABELS } from '../manifests/common.ts';
import {
  decidePassword,
  generatePassword,
  type PasswordDecision,
  passwordMatches,
} from '../manifests/password.ts';
import { registerSecret } from '../report/redact.ts';
import type { Check } from '../report/types.ts';
import type { Step, StepContext } from './context.ts';
import { withOwnedFields } from './ownership.ts';

const NAME = 'configure-argocd';

export interface AdminPassword {
  password: string;
  /** False when it was just generated (the Secret does not exist yet). */
  stored: boolean;
  namespace: string;
  name: string;
  key: string;
}

/** The admin password from its Secret, or a newly generated one when the Secret is missing and `generate`. */
export function readAdminPassword(ctx: StepContext): Promise<AdminPassword> {
  return ctx.once('admin-password', async () => {
    const { secretRef, generate } = ctx.config.argocd.adminPassword;
    const namespace = secretRef.namespace ?? ctx.runNamespace;
    const where = describeRef({ kind: 'Secret', namespace: namespace, name: secretRef.name });
    const data = await readSecret(ctx.kube, namespace, secretRef.name);
    if (data) {
      const password = data[secretRef.key];
      if (!password) {
        throw new StepError(
          NAME,
          `${where} has no key "${secretRef.key}" (argocd.adminPassword.secretRef.key): add the admin password under that key`,
        );
      }
      registerSecret(password);
      return { password, stored: true, namespace, name: secretRef.name, key: secretRef.key };
    }
    if (!generate) {
      throw new StepError(
        NAME,
        `${where} (argocd.adminPassword.secretRef) does not exist: create it with the admin password under "${secretRef.key}", or set argocd.adminPassword.generate: true`,
      );
    }
    const password = generatePassword();
    registerSecret(password);
    return { password, stored: false, namespace, name: secretRef.name, key: secretRef.key };
  });
}

/** The Secret a generated password is kept in, readable by the user (`kubectl get secret … -o jsonpath`). */
export function adminPasswordSecret(pw: AdminPassword): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: pw.name,
      namespace: pw.namespace,
      labels: { ...MANAGED_BY_LABELS },
      annotations: { 'sd-gitops-bootstrap/generated': 'Argo CD admin password, generated on the first run' },
    },
    type: 'Opaque',
    data: { [pw.key]: b64(pw.password) },
  };
}

/**
 * Decides the admin hash once per run. A generated password is stored in its Secret first (dry-run in plan
 * mode), so the password never exists only as a hash.
 */
export function adminPasswordDecision(ctx: StepContext): Promise<PasswordDecision> {
  return ctx.once('admin-password-decision', async () => {
    const pw = await readAdminPassword(ctx);
    if (!pw.stored) {
      await ctx.apply([adminPasswordSecret(pw)]);
      if (ctx.mode === 'apply') {
        pw.stored = true;
        ctx.log.info(
          `generated the Argo CD admin password into ${describeRef({ kind: 'Secret', namespace: pw.namespace, name: pw.name })}`,
        );
      }
    }
    const live = await readSecret(ctx.kube, ctx.config.argocd.namespace, ARGOCD_SECRET);
    const decision = await decidePassword({
      password: pw.password,
      liveHash: live?.['admin.password'],
      liveMtime: live?.['admin.passwordMtime'],
      now: ctx.now(),
    });
    ctx.log.debug(
      decision.changed ? 'admin password differs: new hash and mtime' : 'admin password unchanged',
    );
    return decision;
  });
}

/** The three apply patches of this step (argocd-secret, argocd-cmd-params-cm, argocd-server). */
export async function argocdConfigPatches(ctx: StepContext): Promise<KubeObject[]> {
  const decision = await adminPasswordDecision(ctx);
  return [
    argocdSecretPatch(ctx.config.argocd.namespace, decision),
    cmdParamsConfigMap(ctx.config),
    serverRestartPatch(ctx.config),
  ];
}

async function reconcile(ctx: StepContext): Promise<string | undefined> {
  const { namespace, install } = ctx.config.argocd;
  if (install.source !== 'skip') {
    return 'applied with the install manifest';
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
  const patches = await Promise.all(
    (await argocdConfigPatches(ctx)).map(async (patch) => {
      const live = await ctx.kube.get({
        apiVersion: patch.apiVersion,
        kind: patch.kind,
        namespace: patch.metadata.namespace,
        name: patch.metadata.name,
      });
      return withOwnedFields(live, patch);
    }),
  );
  await ctx.apply(patches);
  return undefined;
}

async function report(ctx: StepContext): Promise<Check[]> {
  return [await passwordCheck(ctx), await serverConfigCheck(ctx)];
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

async function serverConfigCheck(ctx: StepContext): Promise<Check> {
  const check = { id: 'argocd.server-config', required: true };
  const { namespace } = ctx.config.argocd;
  const want = serverParams(ctx.config);
  const wantText = Object.entries(want)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  try {
    const cm = await ctx.kube.get<KubeObject & { data?: Record<string, string> }>({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      namespace,
      name: CMD_PARAMS_CONFIGMAP,
    });
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

export const configureArgocd: Step = { name: NAME, reconcile, report };
