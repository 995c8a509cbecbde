/**
 * The process environment, validated with envalid. Errors become one ConfigError (exit 2) naming each
 * variable, instead of envalid's default of printing and calling process.exit.
 */
import { cleanEnv, EnvError, makeValidator, str } from 'envalid';
import { ConfigError, type ConfigProblem } from '../errors.ts';
import { DURATION_HINT, parseDuration } from './duration.ts';
import { isDnsLabel, labelHint } from './schema.ts';
import type { Env } from './types.ts';
import { CHECKED_PROXY_VARIABLES, proxyCredentialProblem } from './urls.ts';

export const DEFAULT_CONFIG_PATH = '/etc/sd-gitops-bootstrap/config.yaml';

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
const LOG_FORMATS = ['json', 'pretty', 'auto'] as const;

const durationMs = makeValidator<number>((input) => {
  const ms = parseDuration(input);
  if (ms === undefined) throw new EnvError(`${DURATION_HINT} (got "${input}")`);
  return ms;
});

const namespace = makeValidator<string>((input) => {
  if (!isDnsLabel(input)) throw new EnvError(`${labelHint('seldon-system')} (got "${input}")`);
  return input;
});

const specs = {
  SD_BOOTSTRAP_CONFIG: str({
    default: DEFAULT_CONFIG_PATH,
    desc: 'Path of the config file (the --config flag wins over it).',
  }),
  LOG_LEVEL: str({ choices: LOG_LEVELS, default: 'info', desc: 'Log level.' }),
  LOG_FORMAT: str({
    choices: LOG_FORMATS,
    default: undefined,
    desc: 'Log format: json, pretty, or auto (pretty when stderr is a terminal, else json); unset: auto.',
  }),
  SD_BOOTSTRAP_TIMEOUT: durationMs({
    default: parseDuration('15m')!,
    desc: 'Overall deadline of one run ("15m", "90s", "1h30m" or seconds).',
  }),
  POD_NAMESPACE: namespace({
    default: undefined,
    desc: 'The namespace the bootstrap runs in (downward API); the report and Lease live there.',
  }),
  SD_BOOTSTRAP_IMAGE: str({
    default: undefined,
    desc: "The bootstrap's own image (the chart's Job sets it), listed with the images a run needs.",
  }),
};

type Name = keyof typeof specs;

function messageOf(name: Name, err: Error, raw: Record<string, string | undefined>): string {
  const spec: { choices?: readonly unknown[] } = specs[name];
  if (spec.choices && /not in choices/.test(err.message)) {
    return `must be one of ${spec.choices.join(', ')} (got "${raw[name]}")`;
  }
  return err.message;
}

/**
 * Validates the variables the program reads. An empty variable counts as unset (a chart that renders
 * `LOG_FORMAT: ""` means "the default").
 */
export function loadEnv(raw: Record<string, string | undefined> = process.env): Env {
  const present: Record<string, string> = {};
  for (const name of Object.keys(specs)) {
    const v = raw[name];
    if (v !== undefined && v.trim() !== '') present[name] = v.trim();
  }
  // The proxy variables are git's and curl's, not the program's; only a credential in them is refused.
  const proxyProblems: ConfigProblem[] = CHECKED_PROXY_VARIABLES.flatMap((name) => {
    const message = raw[name] ? proxyCredentialProblem(name, raw[name].trim()) : undefined;
    return message ? [{ path: name, message }] : [];
  });
  const env = cleanEnv(present, specs, {
    reporter: ({ errors }) => {
      const problems: ConfigProblem[] = Object.entries(errors).flatMap(([name, err]) =>
        err ? [{ path: name, message: messageOf(name as Name, err, present) }] : [],
      );
      if (problems.length + proxyProblems.length > 0) throw new ConfigError([...problems, ...proxyProblems]);
    },
  });
  return {
    SD_BOOTSTRAP_CONFIG: env.SD_BOOTSTRAP_CONFIG,
    LOG_LEVEL: env.LOG_LEVEL,
    LOG_FORMAT: env.LOG_FORMAT,
    SD_BOOTSTRAP_TIMEOUT_MS: env.SD_BOOTSTRAP_TIMEOUT,
    POD_NAMESPACE: env.POD_NAMESPACE,
    ...(env.SD_BOOTSTRAP_IMAGE ? { SD_BOOTSTRAP_IMAGE: env.SD_BOOTSTRAP_IMAGE } : {}),
  };
}
