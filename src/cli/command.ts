/**
 * One command against the cluster (or, for `images`, against the config alone): connect, settle the
 * namespace the run runs in, run the steps, and say the result — the plan, or the readiness report on
 * stdout, in its ConfigMap and in the termination message. Returns how the command ended; main.ts maps
 * that to the exit code.
 */
import { runNamespaceProblems } from '../config/guards.ts';
import { isDnsLabel, labelHint } from '../config/schema.ts';
import type { Config, Env } from '../config/types.ts';
import { ApiError, ConfigError, messageOf, UsageError } from '../errors.ts';
import { argocdManifest } from '../inputs/inputs.ts';
import { type ConnectOptions, connect } from '../kube/client.ts';
import type { Kube } from '../kube/types.ts';
import type { Logger } from '../log.ts';
import { loadArgocdManifest } from '../manifests/argocd.ts';
import { runImages } from '../manifests/images.ts';
import { seldonDeployHandoff } from '../manifests/seldon-deploy.ts';
import { argocdUrl } from '../manifests/virtualservice.ts';
import { buildReport } from '../report/build.ts';
import { formatPlan, planJson } from '../report/changes.ts';
import { redact } from '../report/redact.ts';
import type { ReadinessReport } from '../report/types.ts';
import { configMapFor, formatText, TERMINATION_LOG, writeTerminationLog } from '../report/writers.ts';
import { createContext, type Mode, type StepContext, type StepDeps } from '../steps/context.ts';
import { DRIFT_STEPS, runToEnd, STEPS, UNINSTALL_STEPS } from '../steps/runner.ts';
import type { Cli } from './args.ts';

/**
 * How a command ended: `done` (plan, status, images; apply: ready), `not-ready` (a required check is not
 * ready, a step failed, the Lease was lost, the report could not be written), `unreachable` (said once on
 * stderr), `bad-input` (found only once the cluster was read, e.g. the manifest's sha256).
 */
export type Outcome = 'done' | 'not-ready' | 'unreachable' | 'bad-input';

type Out = NodeJS.WritableStream & { isTTY?: boolean };

export interface RunIO {
  env: Record<string, string | undefined>;
  stdout: Out;
  stderr: Out;
  /** Aborts the run (SIGTERM). */
  signal?: AbortSignal;
  /** Test seams. */
  connect?: (opts: ConnectOptions) => Promise<Kube>;
  deps?: StepDeps;
  terminationLog?: string;
  now?: () => Date;
}

/**
 * One request before any step: an API server that cannot be reached, or that refuses the credentials, is
 * said once (the cause: connection refused, host not found, TLS verification, 401) instead of by every check.
 */
async function reachCluster(kube: Kube): Promise<void> {
  try {
    await kube.request('GET', '/version');
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    if (err.status === undefined) throw new UnreachableError(err.message);
    if (err.status === 401) {
      throw new UnreachableError(
        `the Kubernetes API at ${kube.server} refused the credentials (401 Unauthorized): check the user of the kubeconfig context (an expired token?)`,
      );
    }
    // Any other answer (403, 404 of a fake…) means the server is there.
  }
}

export class UnreachableError extends Error {
  override name = 'UnreachableError';
}

/** Runs `cli.command` with the loaded config. Bad input found on the way throws ConfigError or UsageError. */
export async function runCommand(
  cli: Cli,
  config: Config,
  env: Env,
  log: Logger,
  io: RunIO,
): Promise<Outcome> {
  if (cli.command === 'images') return await printImages(cli, config, env, io);
  const command = cli.command;
  const kube = await (io.connect ?? connect)({
    kubeconfig: cli.kubeconfig,
    context: cli.context,
    // Each retry said once (throttling, resets, restarts are otherwise invisible until they fail).
    retry: {
      onRetry: (r) =>
        log.warn(
          `retrying ${r.method} ${new URL(r.url).pathname} in ${r.delayMs} ms after ${r.reason} (attempt ${r.attempt})`,
        ),
    },
  });
  try {
    const runNamespace = runNamespaceOf(cli, env, kube);
    // What only the run knows: its namespace, against the environments and the names that default to it.
    const runProblems = runNamespaceProblems(config, runNamespace);
    if (runProblems.length > 0) throw new ConfigError(runProblems);
    try {
      await reachCluster(kube);
    } catch (err) {
      if (!(err instanceof UnreachableError)) throw err;
      io.stderr.write(`${redact(err.message)}\n`);
      return 'unreachable';
    }
    return await execute({ ...cli, command }, config, env, runNamespace, kube, log, io);
  } finally {
    await (kube as Kube & { close?: () => Promise<void> }).close?.().catch(() => {});
  }
}

/** `--namespace`, else POD_NAMESPACE, else the kubeconfig context's — never a silent "default". */
function runNamespaceOf(cli: Cli, env: Env, kube: Kube): string {
  if (cli.namespace !== undefined) {
    if (!isDnsLabel(cli.namespace))
      throw new UsageError(`--namespace ${cli.namespace}: ${labelHint('seldon-system')}`);
    return cli.namespace;
  }
  if (env.POD_NAMESPACE === undefined && kube.defaultNamespaceSource === 'fallback') {
    // Not silently "default": the Git and admin-password Secrets would be looked for (and a password
    // generated) in a namespace nobody chose.
    throw new UsageError(
      'no namespace to run in: outside a pod, pass --namespace NAME (where Seldon Deploy and the Git credentials Secret are, e.g. seldon-system), set POD_NAMESPACE, or set a namespace in the kubeconfig context',
    );
  }
  return env.POD_NAMESPACE ?? kube.defaultNamespace;
}

/**
 * `images`: the run's images, one per line (`--output json`: a document), exit 0. The manifest the config
 * selects is read as apply reads it (bundled, file, or url with its sha256); with `install.source: skip`
 * only the bootstrap's own image, when SD_BOOTSTRAP_IMAGE names it (the chart's Job sets it).
 */
async function printImages(cli: Cli, config: Config, env: Env, io: RunIO): Promise<Outcome> {
  const manifest =
    config.argocd.install.source === 'skip'
      ? undefined
      : await loadArgocdManifest(config.argocd, {
          ...(io.deps?.packageRoot ? { root: io.deps.packageRoot } : {}),
          ...(io.deps?.fetch ? { fetch: io.deps.fetch } : {}),
          ...(io.signal ? { signal: io.signal } : {}),
        });
  const images = runImages(manifest?.objects, env.SD_BOOTSTRAP_IMAGE);
  io.stdout.write(
    cli.output === 'json'
      ? `${JSON.stringify({ kind: 'ImageList', version: 1, images }, null, 2)}\n`
      : images.map((i) => `${i}\n`).join(''),
  );
  return 'done';
}

/**
 * The images the run needs, for plan and status: from the manifest when this run has it at hand (bundled,
 * file; url only once apply or plan downloaded it), plus the bootstrap's own image when known.
 */
async function imagesOfRun(ctx: StepContext): Promise<string[] | undefined> {
  const { source } = ctx.config.argocd.install;
  if (source === 'url' && ctx.mode === 'status') return undefined;
  try {
    const manifest = source === 'skip' ? undefined : await argocdManifest(ctx);
    return runImages(manifest?.objects, ctx.env.SD_BOOTSTRAP_IMAGE);
  } catch {
    return undefined; // a manifest that cannot be read is install-argocd's failure, said there
  }
}

async function execute(
  cli: Cli & { command: Mode },
  config: Config,
  env: Env,
  runNamespace: string,
  kube: Kube,
  log: Logger,
  io: RunIO,
): Promise<Outcome> {
  const now = io.now ?? (() => new Date());
  const startedAt = now();
  const ctx = createContext({
    mode: cli.command,
    ...(cli.scope ? { scope: cli.scope } : {}),
    config,
    env,
    runNamespace,
    kube,
    log,
    now,
    ...(io.signal ? { signal: io.signal } : {}),
    ...(io.deps ? { deps: io.deps } : {}),
  });
  log.info(
    `${cli.command}${cli.scope ? ` --scope ${cli.scope}` : ''}: cluster ${kube.server}, Argo CD in ${config.argocd.namespace}, report in ${ctx.runNamespace}`,
  );
  const steps = cli.command === 'uninstall' ? UNINSTALL_STEPS : cli.scope === 'drift' ? DRIFT_STEPS : STEPS;
  const result = await runToEnd(ctx, steps);
  const images = cli.command === 'uninstall' ? undefined : await imagesOfRun(ctx);

  if (cli.command === 'plan') {
    io.stdout.write(cli.output === 'json' ? planJson(ctx.changes, images) : formatPlan(ctx.changes, images));
    return result.failed ? (result.failed.error instanceof ConfigError ? 'bad-input' : 'not-ready') : 'done';
  }

  const report: ReadinessReport = buildReport({
    checks: result.checks.map((c) => ({ ...c, message: redact(c.message) })),
    changes: ctx.changes,
    argocd: {
      namespace: config.argocd.namespace,
      version: ctx.state.argocdVersion ?? config.argocd.version,
      url: argocdUrl(config),
    },
    seldonDeploy: seldonDeployHandoff(config, argocdUrl(config)),
    ...(images ? { images } : {}),
    startedAt,
    finishedAt: now(),
  });
  let outcome: Outcome =
    (cli.command === 'status' && !cli.requireReady) || report.ready ? 'done' : 'not-ready';
  // Bad input found in preflight (e.g. argocd.install.sha256 against the manifest): exit 2, nothing written.
  if (result.failed?.error instanceof ConfigError) outcome = 'bad-input';
  if (result.lost) {
    log.error(`✗ ${result.lost.message}`);
    outcome = 'not-ready';
  }
  if (cli.command === 'apply') {
    // A run that wrote nothing writes no report either: it holds no Lease, so writing the report would race
    // (and overwrite) the run that does; bad input, missing permissions and a Lease held by another run
    // all end here. Why is said on stderr, stdout and the termination message.
    if (result.noReport) {
      log.warn(`report not written: ${result.noReport}`);
    } else {
      // Through the run's apply, so it is in the change set (after the report's counts were taken: a run
      // that changes nothing else says so).
      const where = `ConfigMap ${ctx.runNamespace}/${config.report.configMap}`;
      try {
        await ctx.apply([configMapFor(report, config.report.configMap, ctx.runNamespace)], { set: false });
        log.info(`report written to ${where}`);
      } catch (err) {
        log.error(`✗ could not write the report to ${where}: ${messageOf(err)}`);
        outcome = 'not-ready';
      }
    }
  }
  if (cli.command === 'uninstall')
    await writeTerminationLog(report, io.terminationLog ?? TERMINATION_LOG).catch(() => {});
  if (cli.command === 'apply')
    await writeTerminationLog(report, io.terminationLog ?? TERMINATION_LOG).catch((err: unknown) =>
      log.warn(`could not write the termination message: ${messageOf(err)}`),
    );
  io.stdout.write(cli.output === 'json' ? `${JSON.stringify(report, null, 2)}\n` : formatText(report));
  const failing = report.checks.filter((c) => c.required && !c.ready).map((c) => c.id);
  log.info(report.ready ? '✔ ready' : `✗ not ready: ${failing.join(', ')}`);
  return outcome;
}
