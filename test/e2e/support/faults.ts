/**
 * What the reliability suite (test/e2e/reliability.test.ts) needs beyond support/bootstrap.ts: the CLI as
 * a child process it can watch and SIGKILL, the audit log followed while a run is in flight, the control
 * plane's processes restarted in place, the managed objects as comparable documents, and the table that
 * becomes docs/reliability.md.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, readlinkSync, readSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { ReadinessReport } from '../../../src/report/types.ts';
import { freePort, waitForPort } from '../../support/net.ts';
import { type CliResult, MAIN, repoRoot } from './bootstrap.ts';
import { type AuditEvent, kubectlJson, target } from './target.ts';

/** A CLI run in flight: its stderr log messages as they come, and its end. */
export interface LiveRun {
  child: ChildProcess;
  /** Log messages so far (the `msg` of each JSON line on stderr). */
  messages: string[];
  /** Resolves with the first message matching `re` (rejects if the run ends first). */
  waitFor(re: RegExp): Promise<string>;
  result: Promise<CliResult & { signal: NodeJS.Signals | null }>;
}

export function startCli(
  args: string[],
  opts: { kubeconfig: string; env?: Record<string, string> },
): LiveRun {
  const child = spawn(process.execPath, [MAIN, ...args, '--kubeconfig', opts.kubeconfig], {
    env: { ...process.env, LOG_FORMAT: 'json', LOG_LEVEL: 'info', ...opts.env, KUBECONFIG: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let pending = '';
  const messages: string[] = [];
  const waiters: { re: RegExp; resolve: (m: string) => void; reject: (e: Error) => void }[] = [];
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    const text = d.toString();
    stderr += text;
    pending += text;
    let nl = pending.indexOf('\n');
    while (nl >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      let msg = line;
      try {
        msg = (JSON.parse(line) as { msg?: string }).msg ?? line;
      } catch {
        // not a log line (e.g. the SIGTERM notice)
      }
      messages.push(msg);
      for (const w of [...waiters]) {
        if (w.re.test(msg)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(msg);
        }
      }
      nl = pending.indexOf('\n');
    }
  });
  const result = new Promise<CliResult & { signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => {
      for (const w of waiters.splice(0))
        w.reject(new Error(`the run ended before a message matched ${w.re}`));
      let report: ReadinessReport | undefined;
      if (stdout.trim().startsWith('{')) {
        try {
          const parsed = JSON.parse(stdout) as { kind?: string };
          if (parsed.kind === 'ReadinessReport') report = parsed as ReadinessReport;
        } catch {
          // a killed run may leave half a document
        }
      }
      resolve({ code: code ?? 1, signal, stdout, stderr, report });
    });
  });
  return {
    child,
    messages,
    result,
    waitFor(re) {
      const seen = messages.find((m) => re.test(m));
      if (seen) return Promise.resolve(seen);
      if (child.exitCode !== null || child.signalCode !== null)
        return Promise.reject(new Error(`the run had ended before a message matched ${re}`));
      return new Promise((resolve, reject) => waiters.push({ re, resolve, reject }));
    },
  };
}

/**
 * Follows the audit log from a byte offset: calls `onEvent` for each complete ResponseComplete event as
 * the API server writes it (polling every few milliseconds). Returns a function that stops following.
 */
export function followAudit(since: number, onEvent: (e: AuditEvent) => void): () => void {
  const file = target().auditLog!;
  const fd = openSync(file, 'r');
  let offset = since;
  let rest = '';
  let stopped = false;
  const buf = Buffer.alloc(1 << 20);
  const tick = () => {
    if (stopped) return;
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, offset);
      if (n <= 0) break;
      offset += n;
      rest += buf.subarray(0, n).toString('utf8');
    }
    let nl = rest.indexOf('\n');
    while (nl >= 0) {
      const line = rest.slice(0, nl);
      rest = rest.slice(nl + 1);
      if (line.trim()) {
        const e = JSON.parse(line) as AuditEvent;
        if (e.stage === 'ResponseComplete') onEvent(e);
      }
      nl = rest.indexOf('\n');
    }
    timer = setTimeout(tick, 5);
  };
  let timer = setTimeout(tick, 0);
  return () => {
    stopped = true;
    clearTimeout(timer);
    closeSync(fd);
  };
}

/**
 * A control-plane process of the local KWOK cluster (`etcd`, `kube-apiserver`), restarted in place: the
 * process kwokctl started is SIGKILLed (by the pid kwokctl recorded) and started again with the same
 * command line, working directory and environment, its pid recorded where kwokctl looks for it.
 */
export function controlPlaneProcess(component: 'etcd' | 'kube-apiserver') {
  const clusterDir = dirname(dirname(target().auditLog!));
  const pidFile = join(clusterDir, 'pids', `${component}.pid`);
  const logFile = join(clusterDir, 'logs', `${component}.log`);
  const pid = () => Number(readFileSync(pidFile, 'utf8').trim());
  return {
    pid,
    /**
     * SIGKILL, then the same command again once its ports are free (a killed Go process holds its
     * listeners until its last thread is gone, after its main thread already shows as a zombie).
     */
    async restart(): Promise<number> {
      const old = pid();
      const argv = readFileSync(`/proc/${old}/cmdline`, 'utf8').split('\0').filter(Boolean);
      const cwd = readlinkSync(`/proc/${old}/cwd`);
      const env = Object.fromEntries(
        readFileSync(`/proc/${old}/environ`, 'utf8')
          .split('\0')
          .filter(Boolean)
          .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
      );
      const ports = argv.flatMap((a) =>
        [...a.matchAll(/^--(?:secure-port=|listen-(?:client|peer)-urls=\S*?:)(\d+)/g)].map((m) =>
          Number(m[1]),
        ),
      );
      process.kill(old, 'SIGKILL');
      for (const port of ports) {
        for (let i = 0; i < 400 && !(await portFree(port)); i++) await new Promise((r) => setTimeout(r, 25));
      }
      const out = openSync(logFile, 'a');
      const child = spawn(argv[0]!, argv.slice(1), { cwd, env, detached: true, stdio: ['ignore', out, out] });
      child.unref();
      closeSync(out);
      writeFileSync(pidFile, String(child.pid));
      return child.pid!;
    },
  };
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '0.0.0.0', () => server.close(() => resolve(true)));
  });
}

// ---------------------------------------------------------------------------------- managed objects

interface Obj {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    managedFields?: { manager?: string }[];
    annotations?: Record<string, string>;
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

/** Server bookkeeping, not state: dropped before comparing. */
function normalise(o: Obj): Obj {
  const {
    managedFields: _m,
    resourceVersion: _rv,
    uid: _u,
    creationTimestamp: _c,
    generation: _g,
    selfLink: _s,
    ...metadata
  } = o.metadata;
  const annotations = { ...(metadata.annotations ?? {}) };
  delete annotations['deployment.kubernetes.io/revision'];
  // Labels are compared whole, the ApplySet's `applyset.kubernetes.io/part-of` included.
  const out: Obj = { ...o, metadata: { ...metadata, annotations } };
  delete out.status;
  const spec = out.spec as Record<string, unknown> | undefined;
  if (o.kind === 'Service' && spec) {
    // Allocated by the API server when the Service is created.
    const { clusterIP: _ip, clusterIPs: _ips, ...rest } = spec;
    out.spec = rest;
  }
  return out;
}

/**
 * Every object the bootstrap manages (a managedFields entry of its field manager) in the given
 * namespaces and cluster-wide, normalised, by `kind namespace/name`. The run's own report ConfigMap and
 * Lease are left out: they record the run.
 */
export async function managedState(namespaces: string[], runNamespace: string): Promise<Map<string, Obj>> {
  const out = new Map<string, Obj>();
  const kinds =
    'configmaps,secrets,serviceaccounts,services,deployments.apps,statefulsets.apps,roles,rolebindings,' +
    'networkpolicies,applications.argoproj.io,appprojects.argoproj.io,virtualservices.networking.istio.io';
  // One kubectl per namespace and one for the cluster-scoped kinds, at once.
  const lists = (
    await Promise.all([
      ...namespaces.map((ns) =>
        kubectlJson<{ items: Obj[] }>(['get', kinds, '-n', ns, '--show-managed-fields']),
      ),
      kubectlJson<{ items: Obj[] }>([
        'get',
        'namespaces,crd,clusterroles,clusterrolebindings',
        '--show-managed-fields',
      ]),
    ])
  ).flatMap((l) => l.items);
  for (const o of lists) {
    if (!o.metadata.managedFields?.some((f) => f.manager === 'sd-gitops-bootstrap')) continue;
    if (o.metadata.namespace === runNamespace) continue;
    out.set(
      `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`,
      normalise(o),
    );
  }
  return out;
}

/** The paths where two values differ (`data.server.rootpath`), at most `limit`; values are never shown. */
export function diffPaths(a: unknown, b: unknown, path = '', limit = 20, out: string[] = []): string[] {
  if (out.length >= limit || isDeepStrictEqual(a, b)) return out;
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
  if (isObj(a) && isObj(b) && Array.isArray(a) === Array.isArray(b)) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)]))
      diffPaths(a[k], b[k], path ? `${path}.${k}` : k, limit, out);
    return out;
  }
  out.push(path || '(root)');
  return out;
}

/** `kind ns/name: field, field` for every object that differs between two states (both ways). */
export function stateDiff(want: Map<string, Obj>, got: Map<string, Obj>): string[] {
  const out: string[] = [];
  for (const [k, v] of want) {
    const g = got.get(k);
    if (!g) out.push(`${k}: missing`);
    else if (!isDeepStrictEqual(v, g)) out.push(`${k}: ${diffPaths(v, g).join(', ')}`);
  }
  for (const k of got.keys()) if (!want.has(k)) out.push(`${k}: not in the reference`);
  return out;
}

// ------------------------------------------------------------------------------------ the table

export interface Row {
  item: string;
  case: string;
  /** What was done to the run: the fault, crash, edit or bad input. */
  injected: string;
  expected: string;
  /** What happened, as observed (exit code, message, counts). */
  outcome: string;
  /** Writes by the run's user in the audit log, where the case counts them. */
  writes?: number | undefined;
  passed: boolean;
}

export interface Totals {
  cases: number;
  faults: number;
  crashes: number;
  badInputWrites: number;
  secretsFound: number;
  secretsScanned: string;
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** docs/reliability.md, from the rows the suite recorded. */
export function reliabilityDoc(rows: Row[], totals: Totals, command: string): string {
  const lines = [
    '# Reliability: faults, crashes, races, users’ edits, secrets',
    '',
    '<!-- Written by the test run, not by hand: test/e2e/reliability.test.ts. -->',
    `Generated by \`${command}\` on the KWOK tier (a real kube-apiserver with an audit log; see`,
    'test/e2e/support/faults.ts). Every row is a case the suite ran and asserted; nothing is a timed',
    'assertion — exit codes, messages, requests and writes (counted in the audit log) and object state.',
    '',
    `- cases tried: **${totals.cases}** (passed: ${rows.filter((r) => r.passed).length})`,
    `- faults injected: **${totals.faults}**`,
    `- crashes survived (SIGKILL, then the next apply converged to the state of an uninterrupted run): **${totals.crashes}**`,
    `- writes by the run's user during runs whose input was bad: **${totals.badInputWrites}**`,
    `- secret values found in ${totals.secretsScanned}: **${totals.secretsFound}**`,
    '',
    '| # | item | case | injected | expected | outcome | writes | result |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (r, i) =>
        `| ${i + 1} | ${cell(r.item)} | ${cell(r.case)} | ${cell(r.injected)} | ${cell(r.expected)} | ${cell(r.outcome)} | ${r.writes ?? ''} | ${r.passed ? 'pass' : '**FAIL**'} |`,
    ),
    '',
  ];
  return `${lines.join('\n')}\n`;
}

// ------------------------------------------------------------------------------------- Toxiproxy

export interface Toxic {
  name: string;
  type: 'latency' | 'reset_peer' | 'timeout' | 'bandwidth' | 'slow_close' | 'limit_data';
  stream?: 'upstream' | 'downstream';
  toxicity?: number;
  attributes: Record<string, number>;
}

export interface Toxiproxy {
  /** host:port the proxy listens on, forwarding to the API server. */
  listen: string;
  /** A copy of `kubeconfig` whose server is the proxy (same credentials, same CA: TLS passes through). */
  kubeconfigThrough(kubeconfig: string, file: string): string;
  add(toxic: Toxic): Promise<void>;
  remove(name: string): Promise<void>;
  stop(): void;
}

/**
 * Toxiproxy's server (built by test/faults/build.sh from the Go module proxy, cached), with one proxy in
 * front of the API server of `kubeconfig`. Undefined outside CI when Go is not installed.
 */
export async function startToxiproxy(kubeconfig: string): Promise<Toxiproxy | undefined> {
  let bin: string;
  try {
    bin = execFileSync(join(repoRoot, 'test/faults/build.sh'), {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    })
      .trim()
      .split('\n')
      .pop()!;
  } catch (err) {
    if (process.env.CI) throw err;
    process.stderr.write('skipping the Toxiproxy cases: install Go (>= 1.26) to build Toxiproxy\n');
    return undefined;
  }
  const apiPort = await freePort();
  const server = spawn(join(bin, 'toxiproxy-server'), ['-host', '127.0.0.1', '-port', String(apiPort)], {
    stdio: 'ignore',
  });
  await waitForPort('toxiproxy-server', '127.0.0.1', apiPort, () =>
    server.exitCode !== null ? `toxiproxy-server exited with ${server.exitCode}` : undefined,
  );
  const api = `http://127.0.0.1:${apiPort}`;
  const cfg = JSON.parse(readFileSync(kubeconfig, 'utf8')) as {
    clusters: { cluster: { server: string } }[];
  };
  const upstream = new URL(cfg.clusters[0]!.cluster.server);
  const listen = `127.0.0.1:${await freePort()}`;
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${api}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    if (!res.ok) throw new Error(`toxiproxy ${method} ${path}: ${res.status} ${await res.text()}`);
  };
  await call('POST', '/proxies', { name: 'apiserver', listen, upstream: upstream.host, enabled: true });
  return {
    listen,
    kubeconfigThrough(source, file) {
      const c = JSON.parse(readFileSync(source, 'utf8')) as { clusters: { cluster: { server: string } }[] };
      c.clusters[0]!.cluster.server = `https://${listen}`;
      writeFileSync(file, JSON.stringify(c), { mode: 0o600 });
      return file;
    },
    add: (toxic) =>
      call('POST', '/proxies/apiserver/toxics', { stream: 'downstream', toxicity: 1, ...toxic }),
    remove: (name) => call('DELETE', `/proxies/apiserver/toxics/${name}`),
    stop: () => {
      server.kill('SIGTERM');
    },
  };
}
