/**
 * The run, top to bottom (Flux's bootstrap runner): reconcile the steps in order and stop at the first
 * failure; then every step reports (read-only) and the checks are gathered. Plan reconciles with dry-runs
 * and reports nothing; status only reports.
 */
import {
  ApiError,
  ConfigError,
  LeaseLostError,
  leaseLostIn,
  messageOf,
  PermissionError,
  StepError,
  TimeoutError,
} from '../errors.ts';
import { deleteLease, LEASE_NAME, LeaseHeldError } from '../kube/lease.ts';
import { formatDuration, WaitFailedError } from '../kube/wait.ts';
import { progressLine } from '../log.ts';
import { describeChanges } from '../report/changes.ts';
import type { Check } from '../report/types.ts';
import { checkRepositoryStep } from './check-repository.ts';
import { configureArgocd } from './configure-argocd.ts';
import type { Step, StepContext } from './context.ts';
import { exposeArgocd } from './expose-argocd.ts';
import { gitCredentials } from './git-credentials.ts';
import { installArgocd } from './install-argocd.ts';
import { preflightFor } from './preflight.ts';
import { registerWebhooks } from './register-webhooks.ts';
import { removeInventory } from './remove-inventory.ts';
import { repairDrift } from './repair-drift.ts';
import { setupBatch } from './setup-batch.ts';
import { setupEnvironments } from './setup-environments.ts';
import { waitRollout } from './wait-rollout.ts';

/**
 * The steps of `apply` and `plan` after the preflight, which reviews what they declare (`Step.needs`).
 * register-webhooks comes before Argo CD is installed or configured: argocd-secret's webhook key (for
 * Bitbucket, the hook's UUID) is known only once the hooks are, and argocd-secret has one writer.
 */
const FULL_STEPS: readonly Step[] = [
  registerWebhooks,
  installArgocd,
  configureArgocd,
  exposeArgocd,
  waitRollout,
  gitCredentials,
  checkRepositoryStep,
  setupEnvironments,
  setupBatch,
];

export const STEPS: readonly Step[] = [preflightFor(FULL_STEPS), ...FULL_STEPS];

/** `apply --scope drift` (the scheduled CronJob): the preflight (this scope's permissions), then repair-drift. */
export const DRIFT_STEPS: readonly Step[] = [preflightFor([repairDrift]), repairDrift];

/** `uninstall`: the preflight (its permissions from the inventory), then removing the inventory. */
export const UNINSTALL_STEPS: readonly Step[] = [preflightFor([removeInventory]), removeInventory];

export interface RunResult {
  checks: Check[];
  /** The step that failed, with its sentence and what it threw. */
  failed?: { step: string; message: string; error: unknown };
}

/** A run to its end: the steps' result, and what the run's writing came to. */
export interface RunEnd extends RunResult {
  /**
   * apply and uninstall: whether the run wrote anything. Every write waits for the Lease (preflight takes
   * it last), so a run that never held it wrote nothing — bad input, missing permissions, another run.
   */
  wrote: boolean;
  /** Another run took the Lease: this run stopped before its next write (the report's, at the latest). */
  lost?: LeaseLostError;
  /** apply and uninstall: why the run's report must not be written (it wrote nothing, or lost the Lease). */
  noReport?: string;
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

/**
 * The run from its first step to its end: `runSteps`, then the Lease deleted after a clean uninstall
 * (nothing of the run stays), and whether the run wrote anything and may write its report.
 */
export async function runToEnd(ctx: StepContext, steps: readonly Step[] = STEPS): Promise<RunEnd> {
  const result = await runSteps(ctx, steps);
  const lost = leaseLost(ctx, result.failed?.error);
  if (ctx.mode === 'uninstall' && !result.failed && !lost) {
    // The report ConfigMap and the inventory went with the rest; the Lease (released by runSteps) goes last.
    await deleteLease(ctx.kube, ctx.runNamespace).catch((err: unknown) =>
      ctx.log.warn(`could not delete the Lease: ${messageOf(err)}`),
    );
  }
  const wrote = ctx.state.lease !== undefined;
  const error = result.failed?.error;
  const noReport = lost
    ? 'another run took the Lease and writes its own'
    : wrote || (ctx.mode !== 'apply' && ctx.mode !== 'uninstall')
      ? undefined
      : error instanceof LeaseHeldError
        ? 'another run holds the Lease and writes its own'
        : error instanceof PermissionError
          ? 'preflight found missing permissions, so this run writes nothing'
          : 'preflight found bad input, so this run writes nothing';
  return { ...result, wrote, ...(lost ? { lost } : {}), ...(noReport ? { noReport } : {}) };
}

/** The Lease lost to another run: said by the step it stopped, or found by renewal after the steps. */
function leaseLost(ctx: StepContext, error: unknown): LeaseLostError | undefined {
  const lease = ctx.state.lease;
  return (
    leaseLostIn(error) ??
    (lease?.lost
      ? new LeaseLostError({
          lease: LEASE_NAME,
          holder: lease.lostTo?.holder,
          at: lease.lostTo?.at ?? ctx.now().toISOString(),
          write: `the report ConfigMap ${ctx.runNamespace}/${ctx.config.report.configMap}`,
        })
      : undefined)
  );
}
