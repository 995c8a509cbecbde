#!/usr/bin/env node
/**
 * The command line: load the config, run the steps, print the result, write the report. The only place that
 * decides the exit code: 0 ready (plan and status: done), 1 not ready or a step failed, 2 bad config or usage.
 * stdout carries only the result (report or plan); logs go to stderr.
 */
// First: refuses an old Node before any other module runs.
import './node-version.ts';
import { parseArgs } from 'node:util';
import { loadEnv } from './config/env.ts';
import { runNamespaceProblems } from './config/guards.ts';
import { loadConfigFile } from './config/load.ts';
import { isDnsLabel, labelHint } from './config/schema.ts';
import type { Config, Env } from './config/types.ts';
import {
  ApiError,
  ConfigError,
  LeaseLostError,
  leaseLostIn,
  messageOf,
  PermissionError,
  UsageError,
} from './errors.ts';
import { argocdManifest } from './inputs/inputs.ts';
import { type ConnectOptions, connect } from './kube/client.ts';
import { LeaseHeldError } from './kube/lease.ts';
import type { Kube } from './kube/types.ts';
import { createLogger, type Logger } from './log.ts';
import { loadArgocdManifest } from './manifests/argocd.ts';
import { runImages } from './manifests/images.ts';
import { seldonDeployHandoff } from './manifests/seldon-deploy.ts';
import { argocdUrl } from './manifests/virtualservice.ts';
import { buildReport } from './report/build.ts';
import { formatPlan, planJson } from './report/plan.ts';
import { redact } from './report/redact.ts';
import type { ReadinessReport } from './report/types.ts';
import { configMapFor, formatText, TERMINATION_LOG, writeTerminationLog } from './report/writers.ts';
import { createContext, type Mode, type Scope, type StepContext, type StepDeps } from './steps/context.ts';
import { LEASE_NAME } from './steps/preflight.ts';
import { DRIFT_STEPS, runSteps, STEPS, UNINSTALL_STEPS } from './steps/runner.ts';

export const USAGE = `Usage: sd-gitops-bootstrap <apply|plan|status|uninstall|images> [options]

Installs and configures Argo CD and the GitOps environments of Seldon Deploy, and reports readiness.

Commands:
  apply    converge the cluster, write the readiness report (exit 0 ready, 1 not ready)
  plan     print what apply would create / update / leave unchanged (server-side dry-run; no writes)
  status   print the readiness report of the cluster as it is (no writes)
  uninstall  delete what the inventory says this program created (Applications without what they deployed,
           unless environments.deleteRemovedResources), give back the namespaces it labelled; needs --yes
  images   print only the container images a run needs, one per line (what a site mirrors); reads the
           config and Argo CD's manifest, no cluster

Options:
  --config FILE       config file (default: $SD_BOOTSTRAP_CONFIG or /etc/sd-gitops-bootstrap/config.yaml)
  --kubeconfig FILE   kubeconfig (default: the pod's ServiceAccount, $KUBECONFIG or ~/.kube/config)
  --context NAME      kubeconfig context
  --namespace NAME    namespace the bootstrap runs in: source Secrets, report, Lease (default: $POD_NAMESPACE,
                      else the kubeconfig context's namespace; outside a pod one of the three is required)
  --output text|json  result format on stdout (default: text)
  --require-ready     status: exit 1 unless the report is ready (what \`helm test\` runs)
  --scope full|drift  apply: full (default) converges everything; drift (the chart's scheduled run) only
                      sets back existing environment namespaces and the git-creds Secret, compares the
                      rest read-only and reports what differs (repair: helm upgrade); needs no right to
                      create, to write in Argo CD's namespace or to read its Secrets
  --yes               uninstall: really delete (nothing else asks)
  --help              show this help

Environment: SD_BOOTSTRAP_CONFIG, LOG_LEVEL, LOG_FORMAT (auto|json|pretty), SD_BOOTSTRAP_TIMEOUT, POD_NAMESPACE.
Exit codes: 0 ready (plan, status: done; status --require-ready: ready), 1 not ready or a step failed,
2 bad configuration or usage.
`;

/** The commands: a run's modes, and `images`, which reads no cluster. */
export type Command = Mode | 'images';

export interface Cli {
  command: Command;
  config?: string | undefined;
  kubeconfig?: string | undefined;
  context?: string | undefined;
  namespace?: string | undefined;
  output: 'text' | 'json';
  /** status: exit 1 unless ready. */
  requireReady?: boolean;
  /** apply: `drift` for the scheduled run's narrow rights (default full). */
  scope?: Scope;
  help: boolean;
  yes?: boolean;
}

const COMMANDS: readonly Command[] = ['apply', 'plan', 'status', 'uninstall', 'images'];

export function parseCli(argv: string[]): Cli {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>>;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(
      withFlagSuggestion(messageOf(err).replace(/\. To specify a positional argument.*$/s, '')),
    );
  }
  const { values, positionals } = parsed;
  if (values.help) return { command: 'status', output: 'text', help: true };
  const [command, ...extra] = positionals;
  if (command === undefined)
    throw new UsageError('missing command: apply, plan, status, uninstall or images');
  if (!COMMANDS.includes(command as Command))
    throw new UsageError(`unknown command "${command}": use apply, plan, status, uninstall or images`);
  if (command === 'uninstall' && !values.yes)
    throw new UsageError(
      'uninstall deletes what the inventory lists (Argo CD too, when this program installed it): add --yes to go ahead',
    );
  if (values.yes && command !== 'uninstall') throw new UsageError('--yes is only for uninstall');
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
  if (command === 'images') {
    const clusterFlag = (['kubeconfig', 'context', 'namespace'] as const).find(
      (f) => values[f] !== undefined,
    );
    if (clusterFlag) throw new UsageError(`--${clusterFlag}: images reads no cluster, drop it`);
  }
  const output = values.output ?? 'text';
  if (output !== 'text' && output !== 'json') throw new UsageError(`--output ${output}: use text or json`);
  if (values['require-ready'] && command !== 'status')
    throw new UsageError(`--require-ready is for status (apply already exits 1 unless ready)`);
  const scope = values.scope;
  if (scope !== undefined) {
    if (command !== 'apply') throw new UsageError('--scope is only for apply');
    if (scope !== 'full' && scope !== 'drift') throw new UsageError(`--scope ${scope}: use full or drift`);
  }
  return {
    command: command as Command,
    config: values.config,
    kubeconfig: values.kubeconfig,
    context: values.context,
    namespace: values.namespace,
    output,
    ...(values['require-ready'] ? { requireReady: true } : {}),
    ...(scope === 'drift' ? { scope: 'drift' as const } : {}),
    help: false,
    ...(values.yes ? { yes: true } : {}),
  };
}

const OPTIONS = {
  config: { type: 'string' },
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  namespace: { type: 'string', short: 'n' },
  output: { type: 'string', short: 'o' },
  'require-ready': { type: 'boolean' },
  scope: { type: 'string' },
  yes: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** "Unknown option '--kubeconfg'" → "… (did you mean --kubeconfig?)" when one flag is close. */
export function withFlagSuggestion(message: string): string {
  const m = /^Unknown option '--?([^'=]+)'/.exec(message);
  if (!m) return message;
  const typed = m[1]!.toLowerCase();
  const scored = Object.keys(OPTIONS)
    .map((name) => ({ name, d: editDistance(typed, name) }))
    .filter(({ name, d }) => d <= Math.max(2, Math.floor(name.length / 3)))
    .sort((a, b) => a.d - b.d);
  return scored[0] ? `${message} (did you mean --${scored[0].name}?)` : message;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
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

class UnreachableError extends Error {
  override name = 'UnreachableError';
}

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

/** Runs one command in-process and returns its exit code. */
export async function run(argv: string[], io: RunIO): Promise<number> {
  let log: Logger | undefined;
  let parsed = false;
  try {
    const cli = parseCli(argv);
    parsed = true;
    if (cli.help) {
      io.stdout.write(USAGE);
      return 0;
    }
    const env = loadEnv(io.env);
    const config = await loadConfigFile(cli.config ?? env.SD_BOOTSTRAP_CONFIG);
    log = createLogger({ level: env.LOG_LEVEL, format: env.LOG_FORMAT, stream: io.stderr });
    if (cli.command === 'images') return await printImages(cli, config, env, io);
    const command = cli.command;
    const logger = log;
    const kube = await (io.connect ?? connect)({
      kubeconfig: cli.kubeconfig,
      context: cli.context,
      // Each retry said once (throttling, resets, restarts are otherwise invisible until they fail).
      retry: {
        onRetry: (r) =>
          logger.warn(
            `retrying ${r.method} ${new URL(r.url).pathname} in ${r.delayMs} ms after ${r.reason} (attempt ${r.attempt})`,
          ),
      },
    });
    try {
      if (cli.namespace !== undefined) {
        if (!isDnsLabel(cli.namespace))
          throw new UsageError(`--namespace ${cli.namespace}: ${labelHint('seldon-system')}`);
        env.POD_NAMESPACE = cli.namespace;
      } else if (env.POD_NAMESPACE === undefined && kube.defaultNamespaceSource === 'fallback') {
        // Not silently "default": the Git and admin-password Secrets would be looked for (and a password
        // generated) in a namespace nobody chose.
        throw new UsageError(
          'no namespace to run in: outside a pod, pass --namespace NAME (where Seldon Deploy and the Git credentials Secret are, e.g. seldon-system), set POD_NAMESPACE, or set a namespace in the kubeconfig context',
        );
      }
      // What only the run knows: its namespace, against the environments and the names that default to it.
      const runProblems = runNamespaceProblems(config, env.POD_NAMESPACE ?? kube.defaultNamespace);
      if (runProblems.length > 0) throw new ConfigError(runProblems);
      await reachCluster(kube);
      return await execute({ ...cli, command }, config, env, kube, log, io);
    } finally {
      await (kube as Kube & { close?: () => Promise<void> }).close?.().catch(() => {});
    }
  } catch (err) {
    if (err instanceof ConfigError || err instanceof UsageError) {
      const hint =
        err instanceof UsageError && !parsed ? '\nRun "sd-gitops-bootstrap --help" for usage.' : '';
      io.stderr.write(`${redact(err.message)}${hint}\n`);
      return 2;
    }
    if (err instanceof UnreachableError) {
      io.stderr.write(`${redact(err.message)}\n`);
      return 1;
    }
    if (log) log.error({ err }, `✗ ${messageOf(err)}`);
    else io.stderr.write(`error: ${redact(messageOf(err))}\n`);
    return 1;
  }
}

/**
 * `images`: the run's images, one per line (`--output json`: a document), exit 0. The manifest the config
 * selects is read as apply reads it (bundled, file, or url with its sha256); with `install.source: skip`
 * only the bootstrap's own image, when SD_BOOTSTRAP_IMAGE names it (the chart's Job sets it).
 */
async function printImages(cli: Cli, config: Config, env: Env, io: RunIO): Promise<number> {
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
  return 0;
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
  kube: Kube,
  log: Logger,
  io: RunIO,
): Promise<number> {
  const now = io.now ?? (() => new Date());
  const startedAt = now();
  const ctx = createContext({
    mode: cli.command,
    ...(cli.scope ? { scope: cli.scope } : {}),
    config,
    env,
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
  const result = await runSteps(ctx, steps);
  const images = cli.command === 'uninstall' ? undefined : await imagesOfRun(ctx);

  if (cli.command === 'plan') {
    io.stdout.write(cli.output === 'json' ? planJson(ctx.changes, images) : formatPlan(ctx.changes, images));
    return result.failed ? (result.failed.error instanceof ConfigError ? 2 : 1) : 0;
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
  let code = (cli.command === 'status' && !cli.requireReady) || report.ready ? 0 : 1;
  // Bad input found in preflight (e.g. argocd.install.sha256 against the manifest): exit 2, nothing written.
  if (result.failed?.error instanceof ConfigError) code = 2;
  // Another run took the Lease: this one stopped before its next write (the report's, at the latest).
  const lease = ctx.state.lease;
  const lost =
    leaseLostIn(result.failed?.error) ??
    (lease?.lost
      ? new LeaseLostError({
          lease: LEASE_NAME,
          holder: lease.lostTo?.holder,
          at: lease.lostTo?.at ?? now().toISOString(),
          write: `the report ConfigMap ${ctx.runNamespace}/${config.report.configMap}`,
        })
      : undefined);
  if (lost) {
    log.error(`✗ ${lost.message}`);
    code = 1;
  }
  if (cli.command === 'uninstall') {
    // Nothing of the run stays: the report ConfigMap and the inventory went with the rest; the Lease
    // (released by the runner) goes last.
    if (!result.failed && !lost)
      await kube
        .delete({
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          namespace: ctx.runNamespace,
          name: LEASE_NAME,
        })
        .catch((err: unknown) => log.warn(`could not delete the Lease: ${messageOf(err)}`));
    await writeTerminationLog(report, io.terminationLog ?? TERMINATION_LOG).catch(() => {});
  }
  if (cli.command === 'apply') {
    // A run that fails in preflight writes nothing, the report ConfigMap included: it holds no Lease, so
    // writing the report would race (and overwrite) the run that does; bad input, missing permissions and
    // a Lease held by another run all end here. Why is said on stderr, stdout and the termination message.
    if (lost) {
      log.warn('report not written: another run took the Lease and writes its own');
    } else if (result.failed?.error instanceof LeaseHeldError) {
      log.warn('report not written: another run holds the Lease and writes its own');
    } else if (result.failed?.error instanceof PermissionError) {
      log.warn('report not written: preflight found missing permissions, so this run writes nothing');
    } else if (result.failed?.step === 'preflight') {
      log.warn('report not written: preflight found bad input, so this run writes nothing');
    } else {
      const where = `ConfigMap ${ctx.runNamespace}/${config.report.configMap}`;
      try {
        await kube.apply(configMapFor(report, config.report.configMap, ctx.runNamespace));
        log.info(`report written to ${where}`);
      } catch (err) {
        log.error(`✗ could not write the report to ${where}: ${messageOf(err)}`);
        code = 1;
      }
    }
    await writeTerminationLog(report, io.terminationLog ?? TERMINATION_LOG).catch((err: unknown) =>
      log.warn(`could not write the termination message: ${messageOf(err)}`),
    );
  }
  io.stdout.write(cli.output === 'json' ? `${JSON.stringify(report, null, 2)}\n` : formatText(report));
  const failing = report.checks.filter((c) => c.required && !c.ready).map((c) => c.id);
  log.info(report.ready ? '✔ ready' : `✗ not ready: ${failing.join(', ')}`);
  return code;
}

if (import.meta.main) {
  const controller = new AbortController();
  const stop = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write(`${signal}: stopping (the Lease is released; send again to exit at once)\n`);
    controller.abort(new Error(`interrupted by ${signal}`));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  const code = await run(process.argv.slice(2), {
    env: process.env,
    stdout: process.stdout,
    stderr: process.stderr,
    signal: controller.signal,
  });
  process.exitCode = code;
  // Nothing should keep the process alive now; if something does (a stuck socket), do not hang the Job.
  setTimeout(() => process.exit(code), 2000).unref();
}
