/**
 * Step 2 (optional): the Git provider's webhooks for Argo CD and Seldon Deploy. Reconciled means: the
 * repository has exactly one hook per configured URL (webhooks.argocdUrl, webhooks.seldonDeployUrl) with
 * this program's settings — push events, JSON, TLS verified unless insecureSkipTlsVerify, Argo CD's
 * carrying the webhook secret — and argocd-secret holds what Argo CD checks deliveries against
 * (`webhook.github.secret`, `webhook.gitlab.secret`: the secret generated once and kept in the bootstrap's
 * Secret webhooks.secretName; `webhook.bitbucket.uuid`: the hook's UUID). Never the admin password.
 *
 * It runs right after preflight: argocd-secret has one writer (install-argocd, or configure-argocd with
 * `skip`), which puts the key this step decided (`webhookKeyDecided`) there in the same run — Bitbucket's
 * UUID exists only once the hook does.
 *
 * Hooks are found by URL, or — after a URL changed — by the id recorded in that Secret; a missing one is
 * created, one whose settings differ is updated, every other hook of the repository is left alone. Plan
 * lists the hooks (GET only) and says what it would create or update; status only reads.
 */

import type { Config } from '../config/types.ts';
import { ARGOCD_WEBHOOK_KEYS, type WebhookSettings, webhookSettings } from '../config/webhooks.ts';
import { messageOf, StepError } from '../errors.ts';
import { liveWebhookState, readWebhookState, readWebhookToken, webhookKeyDecided } from '../inputs/inputs.ts';
import { describeRef, readSecret } from '../kube/objects.ts';
import { applyNamedPermissions, type Permission } from '../kube/rbac.ts';
import type { ObjectRef } from '../kube/types.ts';
import { ARGOCD_SECRET } from '../manifests/argocd-settings.ts';
import { b64 } from '../manifests/common.ts';
import {
  argocdWebhookData,
  generateWebhookSecret,
  type HookRecord,
  webhookStateSecret,
} from '../manifests/webhooks.ts';
import { registerSecret } from '../report/redact.ts';
import type { Check } from '../report/types.ts';
import {
  applyDecisions,
  bareUuid,
  type DesiredHook,
  decideHooks,
  type HookDecision,
  type HookRole,
  type ProviderClient,
  ProviderError,
  providerClient,
} from '../webhooks/index.ts';
import type { NeedsInputs, Step, StepContext } from './context.ts';

const NAME = 'register-webhooks';
const ROLE_NAME: Record<HookRole, string> = { argocd: 'argocd', seldonDeploy: 'seldon-deploy' };
const ROLE_TEXT: Record<HookRole, string> = { argocd: 'Argo CD', seldonDeploy: 'Seldon Deploy' };
const ACTION = { create: 'created', update: 'updated', unchanged: 'unchanged' } as const;

/** How a hook shows in the progress line and the plan: `Webhook.github acme/gitops/argocd`. */
export function hookRef(s: WebhookSettings, role: HookRole): ObjectRef {
  return {
    apiVersion: `${s.provider}/hooks`,
    kind: 'Webhook',
    namespace: s.repository,
    name: ROLE_NAME[role],
  };
}

function client(ctx: StepContext, s: WebhookSettings): Promise<ProviderClient> {
  return readWebhookToken(ctx).then((token) =>
    providerClient(s, token, {
      signal: ctx.signal,
      onRequest: (method, url) => ctx.log.debug(`${s.provider}: ${method} ${new URL(url).pathname}`),
    }),
  );
}

function desiredHooks(s: WebhookSettings, secret: string | undefined): DesiredHook[] {
  return s.targets.map((t) => ({
    role: t.role,
    url: t.url,
    // Bitbucket's hook carries no secret: Argo CD checks its UUID.
    secret: t.role === 'argocd' && s.provider !== 'bitbucket' ? secret : undefined,
    insecureSsl: s.insecureSkipTlsVerify,
  }));
}

/** The recorded hook ids, when they are of this provider and repository. */
function recordedIds(s: WebhookSettings, record: HookRecord | undefined): HookRecord['hooks'] {
  if (
    !record ||
    record.provider !== s.provider ||
    record.apiUrl !== s.apiUrl ||
    record.repository !== s.repository
  )
    return {};
  return record.hooks;
}

function providerFailure(err: unknown): never {
  if (err instanceof ProviderError) throw new StepError(NAME, err.message, { cause: err });
  throw err;
}

async function reconcile(ctx: StepContext): Promise<string> {
  const s = webhookSettings(ctx.config, ctx.runNamespace);
  if (!s) return 'disabled (webhooks.enabled: false)';
  const api = await client(ctx, s);
  const stored = await readWebhookState(ctx);
  const usesSecret = s.provider !== 'bitbucket';
  const rotate = usesSecret && stored.secret === undefined;
  // Kept once generated, also while the provider is Bitbucket (which checks the hook's UUID instead): a
  // switch of webhooks.provider never drops the secret that argocd-secret still holds for the previous one.
  const secret = stored.secret ?? (usesSecret ? generateWebhookSecret() : undefined);
  registerSecret(secret);
  const ns = ctx.runNamespace;
  const secretName = s.secretName;
  // The secret is stored before any hook carries it: a hook never holds a secret kept nowhere.
  if (rotate) {
    await ctx.apply([webhookStateSecret(ns, secretName, { secret, record: stored.record })]);
    if (ctx.mode === 'apply')
      ctx.log.info(`generated the Argo CD webhook secret into Secret ${ns}/${secretName}`);
  }

  const desired = desiredHooks(s, secret);
  let decisions: HookDecision[];
  let ids: HookRecord['hooks'];
  try {
    const live = await api.list();
    decisions = decideHooks(live, desired, api, {
      recorded: recordedIds(s, stored.record),
      rotateSecret: rotate,
    });
    ids = ctx.mode === 'apply' ? await applyDecisions(api, decisions, desired) : {};
  } catch (err) {
    ctx.state.webhooks = { error: messageOf(err) };
    providerFailure(err);
  }
  if (ctx.mode !== 'apply') {
    for (const d of decisions) if (d.id) ids[d.role] = d.id;
  }
  for (const d of decisions) {
    ctx.record({
      ref: hookRef(s, d.role),
      action: ACTION[d.action],
      ...(d.action === 'update' ? { fields: d.fields } : {}),
      ...(ctx.mode === 'plan' ? { note: d.url } : {}),
    });
  }
  ctx.state.webhooks = {
    hooks: decisions.map((d) => ({ role: d.role, url: d.url, id: ids[d.role], duplicates: d.duplicates })),
  };

  const record: HookRecord = { provider: s.provider, apiUrl: s.apiUrl, repository: s.repository, hooks: ids };
  await ctx.apply([webhookStateSecret(ns, secretName, { secret, record })]);

  // What Argo CD checks deliveries against. Bitbucket's UUID exists once the hook does (not in a plan
  // that would create it).
  const key = usesSecret ? secret : ids.argocd ? bareUuid(ids.argocd) : undefined;
  // Written into argocd-secret by the step that writes argocd-secret (install-argocd, or configure-argocd
  // with `skip`), which runs after this one.
  webhookKeyDecided(ctx, key !== undefined ? argocdWebhookData(s.provider, key) : {});
  const counts = describeDecisions(decisions, ctx.mode === 'plan');
  return `${s.provider} ${s.repository}: ${counts}`;
}

function describeDecisions(decisions: readonly HookDecision[], plan: boolean): string {
  return decisions
    .map(
      (d) =>
        `${ROLE_TEXT[d.role]} hook ${plan && d.action !== 'unchanged' ? `to ${d.action}` : ACTION[d.action]}`,
    )
    .join(', ');
}

async function report(ctx: StepContext): Promise<Check[]> {
  const s = webhookSettings(ctx.config, ctx.runNamespace);
  if (!s) return [];
  const checks: Check[] = [];
  if (s.insecureSkipTlsVerify) {
    checks.push({
      id: 'webhooks.tls',
      ready: false,
      required: false,
      message: `webhooks.insecureSkipTlsVerify is true: ${s.provider} does not verify the certificate of the webhook URLs and this program does not verify ${s.apiUrl}'s; use trusted certificates and set it to false`,
    });
  }
  checks.push(...(await hookChecks(ctx, s)));
  checks.push(await argocdSecretCheck(ctx, s));
  return checks;
}

async function hookChecks(ctx: StepContext, s: WebhookSettings): Promise<Check[]> {
  const idOf = (role: HookRole) => `webhooks.${ROLE_NAME[role]}`;
  const fail = (message: string) =>
    s.targets.map((t) => ({ id: idOf(t.role), ready: false, required: true, message }));
  // A refusal in this run is said once, not asked again (a rate limit would only wait again).
  if (ctx.state.webhooks?.error) return fail(ctx.state.webhooks.error);
  let decisions: HookDecision[];
  try {
    const api = await client(ctx, s);
    const stored = await liveWebhookState(ctx);
    const desired = desiredHooks(s, stored.secret);
    decisions = decideHooks(await api.list(), desired, api, { recorded: recordedIds(s, stored.record) });
  } catch (err) {
    return fail(messageOf(err));
  }
  const checks: Check[] = [];
  for (const d of decisions) {
    const what = `${ROLE_TEXT[d.role]} hook ${d.url} on ${s.provider} ${s.repository}`;
    if (d.action === 'create')
      checks.push({ id: idOf(d.role), ready: false, required: true, message: `no ${what}` });
    else if (d.action === 'update')
      checks.push({
        id: idOf(d.role),
        ready: false,
        required: true,
        message: `${what} (id ${d.id}) differs: ${d.fields.join(', ')}`,
      });
    else checks.push({ id: idOf(d.role), ready: true, required: true, message: `${what} (id ${d.id})` });
    if (d.duplicates.length > 0) {
      checks.push({
        id: `${idOf(d.role)}.duplicates`,
        ready: false,
        required: false,
        message: `${d.duplicates.length} more hook(s) with the URL ${d.url} (id ${d.duplicates.join(', ')}), not made by this program: each delivery is sent twice; delete them in ${s.provider}'s settings`,
      });
    }
  }
  return checks;
}

async function argocdSecretCheck(ctx: StepContext, s: WebhookSettings): Promise<Check> {
  const key = ARGOCD_WEBHOOK_KEYS[s.provider];
  const id = 'webhooks.argocd-secret';
  const where = `${describeRef({ kind: 'Secret', namespace: ctx.config.argocd.namespace, name: ARGOCD_SECRET })} ${key}`;
  try {
    const stored = await liveWebhookState(ctx);
    const want =
      s.provider === 'bitbucket'
        ? stored.record?.hooks.argocd && bareUuid(stored.record.hooks.argocd)
        : stored.secret;
    if (!want) {
      return {
        id,
        ready: false,
        required: true,
        message: `Secret ${ctx.runNamespace}/${s.secretName} holds no ${s.provider === 'bitbucket' ? 'hook UUID' : 'webhook secret'} yet: apply registers the hook`,
      };
    }
    const live = await readSecret(ctx.kube, ctx.config.argocd.namespace, ARGOCD_SECRET);
    const value = live?.[key];
    if (value === undefined) return { id, ready: false, required: true, message: `${where} is not set` };
    if (b64(value) !== b64(want)) {
      return {
        id,
        ready: false,
        required: true,
        message: `${where} is not the one in Secret ${ctx.runNamespace}/${s.secretName}: Argo CD would refuse the hook's deliveries`,
      };
    }
    return {
      id,
      ready: true,
      required: true,
      message: `${where} is set (from Secret ${ctx.runNamespace}/${s.secretName})`,
    };
  } catch (err) {
    return { id, ready: false, required: true, message: messageOf(err) };
  }
}

/**
 * With webhooks configured: the token Secret (read), the bootstrap's webhook Secret (applied, also in plan:
 * a dry-run); argocd-secret is configure-argocd's.
 */
function needs(config: Config, inputs: NeedsInputs): Permission[] {
  if (inputs.run !== 'full') return [];
  const hooks = webhookSettings(config, inputs.runNamespace);
  if (!hooks) return [];
  return [
    {
      verb: 'get',
      group: '',
      resource: 'secrets',
      namespace: hooks.token.namespace,
      names: [hooks.token.name],
    },
    ...applyNamedPermissions('', 'secrets', inputs.runNamespace, [hooks.secretName]),
  ];
}

/** The provider token's Secret, when webhooks are configured. */
async function inputs(ctx: StepContext): Promise<void> {
  if (webhookSettings(ctx.config, ctx.runNamespace)) await readWebhookToken(ctx);
}

export const registerWebhooks: Step = { name: NAME, needs, inputs, reconcile, report };
