/**
 * The logger: pino to stderr (stdout carries only the command's result). `auto` (the default): pretty when
 * stderr is a terminal, JSON otherwise; LOG_FORMAT `pretty` or `json` forces one (the chart's Job sets
 * `pretty`, uncoloured, so `kubectl logs` reads as sentences). pino-pretty runs as a plain stream in this
 * thread, not as a transport, so no worker thread is started and nothing is lost when the process exits.
 */
import { pino } from 'pino';
import pretty from 'pino-pretty';
import { redact } from './report/redact.ts';

export type Logger = pino.Logger;
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

/** Keys whose values are secrets wherever they appear in a logged object (one or two levels deep). */
const SECRET_KEYS = [
  'password',
  'token',
  'passphrase',
  'sshPrivateKey',
  'privateKey',
  'ssh-privatekey',
  'secret',
  'authorization',
  'data',
  'stringData',
];
export const REDACT_PATHS = SECRET_KEYS.flatMap((key) => {
  const k = /^[A-Za-z_$][\w$]*$/.test(key) ? key : `["${key}"]`;
  const child = k.startsWith('[') ? k : `.${k}`;
  return [k, `*${child}`, `*.*${child}`];
});

export interface LoggerOptions {
  level?: LogLevel;
  format?: 'json' | 'pretty' | 'auto' | undefined;
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const stream = opts.stream ?? process.stderr;
  const format =
    opts.format === undefined || opts.format === 'auto' ? (stream.isTTY ? 'pretty' : 'json') : opts.format;
  const options: pino.LoggerOptions = {
    level: opts.level ?? 'info',
    base: undefined,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: {
      err: (err: unknown) => {
        const serialized = pino.stdSerializers.err(err as Error);
        return JSON.parse(redact(JSON.stringify(serialized))) as unknown;
      },
    },
    hooks: {
      logMethod(args, method) {
        const cleaned = args.map((arg) => (typeof arg === 'string' ? redact(arg) : arg));
        method.apply(this, cleaned as Parameters<typeof method>);
      },
    },
  };
  if (format === 'pretty') {
    const prettyStream = pretty({
      destination: stream,
      sync: true,
      colorize: Boolean(stream.isTTY),
      ignore: 'pid,hostname',
      translateTime: 'HH:MM:ss',
    });
    return pino(options, prettyStream);
  }
  return pino(options, stream);
}

/** `✔ install-argocd (3.2s): 54 unchanged` */
export function progressLine(ok: boolean, name: string, durationMs: number, detail?: string): string {
  const seconds = `${(durationMs / 1000).toFixed(1)}s`;
  return `${ok ? '✔' : '✗'} ${name} (${seconds})${detail ? `: ${detail}` : ''}`;
}
