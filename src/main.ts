#!/usr/bin/env node
/**
 * The command line: parse the arguments, load the env and the config, run the command, map how it ended
 * to the exit code — the only place that decides it: 0 ready (plan, status, images: done), 1 not ready, a
 * step failed or the cluster out of reach, 2 bad config or usage. stdout carries only the result (report,
 * plan or images); logs go to stderr.
 */
// First: refuses an old Node before any other module runs.
import './node-version.ts';
import { parseCli, USAGE } from './cli/args.ts';
import { type Outcome, type RunIO, runCommand } from './cli/command.ts';
import { loadEnv } from './config/env.ts';
import { loadConfigFile } from './config/load.ts';
import { ConfigError, messageOf, UsageError } from './errors.ts';
import { createLogger, type Logger } from './log.ts';
import { redact } from './report/redact.ts';

export type { RunIO };
export { parseCli, USAGE };

const EXIT: Record<Outcome, number> = { done: 0, 'not-ready': 1, unreachable: 1, 'bad-input': 2 };

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
    return EXIT[await runCommand(cli, config, env, log, io)];
  } catch (err) {
    if (err instanceof ConfigError || err instanceof UsageError) {
      const hint =
        err instanceof UsageError && !parsed ? '\nRun "sd-gitops-bootstrap --help" for usage.' : '';
      io.stderr.write(`${redact(err.message)}${hint}\n`);
      return 2;
    }
    if (log) log.error({ err }, `✗ ${messageOf(err)}`);
    else io.stderr.write(`error: ${redact(messageOf(err))}\n`);
    return 1;
  }
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
