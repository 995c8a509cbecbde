/**
 * The cluster's host processes: started detached (they outlive `npm run cluster:up`), each with a log file
 * and a pid file that records the process start time, so `down` stops exactly the processes `up` started —
 * never a process that merely reused the pid, never anything found by name.
 */
import { spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Layout } from './layout.ts';

export interface PidRecord {
  name: string;
  pid: number;
  /** Field 22 of /proc/<pid>/stat: with the pid, identifies one process for its whole life. */
  start: string;
  cmd: string[];
}

function procStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: count fields after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Whether the recorded process still runs (and is not a zombie). */
export function isRunning(rec: Pick<PidRecord, 'pid' | 'start'>): boolean {
  if (procStart(rec.pid) !== rec.start) return false;
  try {
    const stat = readFileSync(`/proc/${rec.pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

export function logPath(l: Layout, name: string): string {
  return join(l.logs, `${name}.log`);
}

/** The last lines of a component's log, for error messages a person can act on. */
export function logTail(l: Layout, name: string, lines = 15): string {
  try {
    const text = readFileSync(logPath(l, name), 'utf8').trimEnd().split('\n');
    return text.slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export function startProcess(
  l: Layout,
  name: string,
  bin: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): PidRecord {
  mkdirSync(l.logs, { recursive: true });
  mkdirSync(l.run, { recursive: true });
  const fd = openSync(logPath(l, name), 'a');
  const child = spawn(bin, args, {
    detached: true,
    stdio: ['ignore', fd, fd],
    env: opts.env ?? process.env,
    cwd: opts.cwd ?? l.stateDir,
  });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`could not start ${name} (${bin})`);
  child.unref();
  const rec: PidRecord = { name, pid: child.pid, start: procStart(child.pid) ?? '', cmd: [bin, ...args] };
  writeFileSync(join(l.run, `${name}.json`), `${JSON.stringify(rec)}\n`);
  return rec;
}

export function pidRecords(l: Layout): PidRecord[] {
  if (!existsSync(l.run)) return [];
  return readdirSync(l.run)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(l.run, f), 'utf8')) as PidRecord);
}

export function record(l: Layout, name: string): PidRecord | undefined {
  return pidRecords(l).find((r) => r.name === name);
}

/** SIGTERM, then SIGKILL after `graceMs`; removes the pid file. */
export async function stopProcess(l: Layout, name: string, graceMs = 10_000): Promise<void> {
  const rec = record(l, name);
  if (!rec) return;
  await stopPid(rec, graceMs);
  rmSync(join(l.run, `${name}.json`), { force: true });
}

export async function stopPid(rec: Pick<PidRecord, 'pid' | 'start'>, graceMs = 10_000): Promise<void> {
  if (!isRunning(rec)) return;
  try {
    process.kill(rec.pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isRunning(rec)) return;
    await sleep(100);
  }
  try {
    process.kill(rec.pid, 'SIGKILL');
  } catch {
    return;
  }
  while (isRunning(rec)) await sleep(50);
}

/**
 * Pids of processes whose command line contains `needle` (e.g. containerd's socket path in a shim's
 * `-address` flag): how `down` finds the shims its containerd started, which re-parent to init.
 */
export function pidsWithArg(needle: string): PidRecord[] {
  const out: PidRecord[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const pid = Number(d);
    if (pid === process.pid) continue;
    let cmd: string[];
    try {
      cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').filter(Boolean);
    } catch {
      continue;
    }
    if (cmd.some((a) => a.includes(needle))) {
      const start = procStart(pid);
      if (start) out.push({ name: cmd[0] ?? '?', pid, start, cmd });
    }
  }
  return out;
}

export class WaitTimeoutError extends Error {}

/**
 * Polls `probe` until it returns a value other than undefined. Fails at the deadline with the last error,
 * and at once if `alive` (the processes the wait depends on) reports one of them dead.
 */
export async function waitFor<T>(
  description: string,
  probe: () => Promise<T | undefined> | T | undefined,
  opts: { timeoutMs: number; intervalMs?: number; alive?: () => string | undefined },
): Promise<T> {
  const started = Date.now();
  let last: unknown;
  for (let attempt = 1; ; attempt++) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
      last = undefined;
    } catch (err) {
      last = err;
    }
    const dead = opts.alive?.();
    if (dead) throw new Error(`${description}: ${dead}`);
    if (Date.now() - started > opts.timeoutMs) {
      const why = last instanceof Error ? last.message : last === undefined ? 'not yet' : String(last);
      throw new WaitTimeoutError(
        `${description}: still not done after ${((Date.now() - started) / 1000).toFixed(0)}s (${attempt} attempts); last: ${why}`,
        { cause: last },
      );
    }
    await sleep(opts.intervalMs ?? 250);
  }
}
