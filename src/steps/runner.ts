/**
 * The run, top to bottom (Flux's bootstrap runner): reconcile the steps in order and stop at the first
 * failure; then every step reports (read-only) and the checks are gathered. Plan reconciles with dry-runs
 * and reports nothing; status only reports.
 */
import {
  ApiError,
  ConfigError,
  LeaseLostError,
  messageOf,
  PermissionError,
  StepError,
  TimeoutError,
} from '../errors.ts';
import { LeaseHeldError } from '../kube/lease.ts';
import { formatDuration, WaitFailedError } from '../kube/wait.ts';
import { progressLine } from '../log.ts';
import type { Check } from '../report/types.ts';
import { checkRepositoryStep } from './check-repository.ts';
import { configureArgocd } from './configure-argocd.ts';
import { describeChanges, type Step, type StepContext } from './context.ts';
import { exposeArgocd } from './expose-argocd.ts';
import { gitCredentials } from './git-credentials.ts';
import { installArgocd } from './install-argocd.ts';
import { preflight } from './preflight.ts';
import { registerWebhooks } from './register-webhooks.ts';
import { removeInventory } from './remove-inventory.ts';
import { repairDrift } from './repair-drift.ts';
import { setupBatch } from './setup-batch.ts';
import { setupEnvironments } from './setup-environments.ts';
import { waitRollout } from './wait-rollout.ts';

export const STEPS: readonly Step[] = [
  preflight,
  installArgocd,
  configureArgocd,
  exposeArgocd,
  waitRollout,
  gitCredentials,
  checkRepositoryStep,
  setupEnvironments,
  setupBatch,
  registerWebhooks,
];

/** `apply --scope drift` (the scheduled CronJob): the preflight (this scope's permissions), then repair-drift. */
export const DRIFT_STEPS: readonly Step[] = [preflight, repairDrift];

/** `uninstall`: the preflight (its permissions from the inventory), then removing the inventory. */
export const UNINSTALL_STEPS: readonly Step[] = [preflight, removeInventory];

export interface RunResult {
  checks: Check[];
  /** The step that failed, with its sentence and what it threw. */
  failed?: { step: string; message: string; error: unknown };
}

const EXPECTED = [
  ConfigError,
  StepError,
  PermissionError,
  ApiError,
  TimeoutError,
  WaitFailedError,
  LeaseHeldError,
  LeaseLostError,
];

/** The failure as a required check that names the step; an error no step anticipated is called unexpected. */
export function failureCheck(step: Step, err: unknown): Check {
  const expected = EXPECTED.some((cls) => err instanceof cls);
  const message = expected ? messageOf(err) : `unexpected error: ${messageOf(err)}`;
  return {
    id: `step.${step.name}`,
    ready: false,
    required: true,
    message: `${step.name} failed: ${message}`,
  };
}

/** Why the run was cut short: its deadline, or a signal. */
function stopped(ctx: StepContext, err: unknown): StepError {
  const reason: unknown = ctx.signal.reason;
  const why =
    reason instanceof DOMException && reason.name === 'TimeoutError'
      ? `the run's deadline passed (SD_BOOTSTRAP_TIMEOUT, ${formatDuration(ctx.env.SD_BOOTSTRAP_TIMEOUT_MS)})`
      : messageOf(reason);
  // Where it was: the request the deadline cut short, when it was one.
  const during =
    err instanceof ApiError ? ` during ${err.method} ${err.path.split('?')[0]} at ${ctx.kube.server}` : '';
  return new StepError('runner', `stopped: ${why}${during}`);
}

/**
 * After the steps, the report, the Lease's release and the report's write get what is left of the
 * deadline plus this much: enough to say what happened, never an unbounded hang on a stalled API server.
 */
export const REPORT_GRACE_MS = 30_000;

export async function runSteps(ctx: StepContext, steps: readonly Step[] = STEPS): Promise<RunResult> {
  const checks: Check[] = [];
  let failed: RunResult['failed'];
  // Requests in flight end with the run's deadline (or signal), not only the steps between them.
  ctx.kube.useSignal?.(ctx.signal);
  let grace: AbortSignal | undefined;
  const afterSteps = () => {
    grace ??= AbortSignal.timeout(ctx.remainingMs() + REPORT_GRACE_MS);
    ctx.kube.useSignal?.(grace);
  };
  try {
    if (ctx.mode !== 'status') {
      for (const step of steps) {
        const started = Date.now();
        const before = ctx.changeLog.length;
        ctx.log.debug(`${step.name}…`);
        try {
          const summary = await step.reconcile(ctx);
          const changes = describeChanges(ctx.changeLog.slice(before), ctx.mode);
          const detail = [summary, changes].filter(Boolean).join('; ') || 'up to date';
          ctx.log.info(progressLine(true, step.name, Date.now() - started, detail));
        } catch (err) {
          const check = failureCheck(step, ctx.signal.aborted ? stopped(ctx, err) : err);
          failed = { step: step.name, message: check.message, error: err };
          checks.push(check);
          ctx.log.error(progressLine(false, step.name, Date.now() - started, messageOf(err)));
          ctx.log.debug({ err }, `${step.name} failed`);
          break;
        }
      }
    }
    afterSteps();
    if (ctx.mode !== 'plan') {
      for (const step of steps) {
        try {
          checks.push(...(await step.report(ctx)));
        } catch (err) {
          checks.push({
            id: `step.${step.name}.report`,
            ready: false,
            required: true,
            message: messageOf(err),
          });
        }
      }
    }
  } finally {
    afterSteps();
    await ctx.state.lease
      ?.release()
      .catch((err: unknown) => ctx.log.warn(`could not release the Lease: ${messageOf(err)}`));
  }
  return { checks, ...(failed ? { failed } : {}) };
}
