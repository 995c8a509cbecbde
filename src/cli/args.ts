/**
 * The command line's words: the usage text, the commands and options, and their parsing into a `Cli`
 * (a UsageError, exit 2, for anything else; a mistyped flag gets the closest one suggested).
 */
import { parseArgs } from 'node:util';
import { editDistance } from '../config/load.ts';
import { messageOf, UsageError } from '../errors.ts';
import type { Mode, Scope } from '../steps/context.ts';

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
