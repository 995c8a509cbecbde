/**
 * What the reliability suite (test/e2e/reliability.test.ts) needs beyond support/bootstrap.ts: the CLI as
 * a child process it can watch and SIGKILL, the audit log followed while a run is in flight, a gate in
 * front of the API server that holds a killed run's last answers, the CLI's child processes read from
 * /proc, the control plane's processes restarted in place, the managed objects as comparable documents,
 * secrets in every encoding, and the table that becomes docs/reliability.md.
 *
 * Figures from other suites (issue #21): docs/reliability.md also shows figures that other test files
 * measure (identities that can grant rights, inputs refused before the first write by class, lost-Lease
 * cases). The interface is one small JSON file per source, written by that source's test when it ran
 * whole, read by `reliabilityDoc` when the reliability suite writes the document:
 *
 * - where: `test-results/reliability/<id>.json` under the repository (FIGURE_DIR; ignored by git), one
 *   per entry of FIGURE_SOURCES (its `id`);
 * - what: a FigureFile — `source` (the test file), `complete` (true only if every case behind the figures
 *   ran and passed; a filtered or skipped run writes `false` or nothing), and `figures`: `{ label, value,
 *   must? }` (`must`: the value the figure has to have, e.g. 0 identities that can grant rights);
 * - how: the source's test calls `writeFigures(id, file)` in its `afterAll`; nothing else is shared;
 * - missing, or `complete: false`: the document says "not run" for that source; a figure whose value is
 *   not its `must` is shown as **not met**.
 *
 * To wire a new source in: add its `{ id, title, figures }` to FIGURE_SOURCES (the labels it is expected
 * to report, shown as "not run" until it does) and call `writeFigures` from its test.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  readSync,
  writeFileSync,
} from 'node:fs';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { ReadinessReport } from '../../../src/report/types.ts';
import { freePort, waitForPort } from '../../../tools/git/net.ts';
import { FIGURE_DIR, type FigureFile } from '../../support/figures.ts';
import { type CliResult, MAIN, repoRoot } from './bootstrap.ts';
import { type AuditEvent, kubectlJson, target } from './target.ts';

export { FIGURE_DIR, type Figure, type FigureFile, writeFigures } from '../../support/figures.ts';

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
  /**
   * For a fault: `survived` — the run under the fault itself exited 0; `repaired` — that run failed (as
   * the row expects) and the next apply converged. Counted apart, never as survived.
   */
  verdict?: 'survived' | 'repaired' | undefined;
  passed: boolean;
}

export interface Totals {
  /** Faults that landed in a run (asserted per row). */
  faults: number;
  /** Of those, runs that themselves exited 0 under the fault. */
  faultsSurvived: number;
  /** Of those, runs that failed under the fault and were repaired by the next apply. */
  faultsRepaired: number;
  /** `retrying …` lines logged by runs under a fault that expects retries. */
  retries: number;
  /** SIGKILLs that landed at the named point (asserted per row) and that the next apply repaired. */
  crashes: number;
  badInputWrites: number;
  secretsFound: number;
  /** Values looked for, and the encodings of each. */
  secretValues: number;
  secretForms: string;
  streams: number;
  processes: number;
  secretsScanned: string;
}

/** Where other suites leave their figures for docs/reliability.md (see the top of this file). */
/** The figure sources the document expects, with the labels each is to report ("not run" until then). */
export const FIGURE_SOURCES: { id: string; title: string; figures: string[] }[] = [
  {
    id: 'rights',
    title: 'Standing power to grant rights',
    figures: [
      'identities that can grant rights after helm install and helm upgrade, with and without the schedule (must be 0)',
      'identity checks (identity × event)',
      'attempts to bind cluster-admin-equivalent rights with a standing identity’s token',
      'of those, refused by the API server',
    ],
  },
  {
    id: 'inputs',
    title: 'Inputs refused before the first write, by class',
    figures: ['input classes', 'generated or example inputs tried, per class'],
  },
  {
    id: 'chart-values',
    title: 'Chart values reach the rendered manifest as data',
    figures: ['generated values rendered by helm template'],
  },
  {
    id: 'lease',
    title: 'Lost Lease',
    figures: ['lost-Lease cases on the real API server', 'writes after the Lease was lost (must be 0)'],
  },
];

/** The figure files present (by id); a missing or unreadable one is left out. */
export function readFigures(dir = FIGURE_DIR): Map<string, FigureFile> {
  const out = new Map<string, FigureFile>();
  for (const { id } of FIGURE_SOURCES) {
    const file = join(dir, `${id}.json`);
    if (!existsSync(file)) continue;
    try {
      out.set(id, JSON.parse(readFileSync(file, 'utf8')) as FigureFile);
    } catch {
      // unreadable: "not run"
    }
  }
  return out;
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function figureLines(figures: Map<string, FigureFile>): string[] {
  const lines: string[] = [];
  for (const src of FIGURE_SOURCES) {
    const f = figures.get(src.id);
    const file = `test-results/reliability/${src.id}.json`;
    if (!f?.complete) {
      lines.push(`- ${src.title}: **not run** (no complete ${file})`);
      for (const label of src.figures) lines.push(`  - ${label}: not run`);
      continue;
    }
    lines.push(`- ${src.title} (${f.source}):`);
    for (const fig of f.figures) {
      const unmet = fig.must !== undefined && fig.value !== fig.must;
      lines.push(`  - ${fig.label}: **${fig.value}**${unmet ? ` — **not met** (must be ${fig.must})` : ''}`);
    }
  }
  return lines;
}

const RESULT: Record<NonNullable<Row['verdict']>, string> = {
  survived: 'pass: survived',
  repaired: 'pass: failed, repaired by the next run',
};

/** docs/reliability.md, from the rows the suite recorded and the other suites' figure files. */
export function reliabilityDoc(
  rows: Row[],
  totals: Totals,
  command: string,
  figures: Map<string, FigureFile> = readFigures(),
): string {
  const classes = [...new Set(rows.map((r) => r.item))];
  const lines = [
    '# Reliability: faults, crashes, races, users’ edits, secrets',
    '',
    '<!-- Written by the test run, not by hand: test/e2e/reliability.test.ts. -->',
    `Generated by \`${command}\` on the KWOK tier (a real kube-apiserver with an audit log; see`,
    'test/e2e/support/faults.ts). Every row is a case the suite ran and asserted, and the document is',
    'written only when every case ran (a skipped prerequisite or a filtered run leaves it as it was).',
    'Nothing is a timed assertion — exit codes, messages, requests and writes (counted in the audit log),',
    'retries (counted in the run’s log) and object state. Each fault and crash is counted only where the',
    'row asserted that it landed: a retry seen, the last step completed before the kill, the run’s requests',
    'after a restart.',
    '',
    `- cases tried: **${rows.length}** (passed: ${rows.filter((r) => r.passed).length})`,
    `- cases tried per class: ${classes.map((c) => `${c} **${rows.filter((r) => r.item === c).length}**`).join(', ')}`,
    `- faults that landed in a run: **${totals.faults}** — the run itself survived (exit 0): **${totals.faultsSurvived}**; the run failed and the next run repaired it: **${totals.faultsRepaired}**`,
    `- retries observed under the faults that expect them: **${totals.retries}**`,
    `- crashes survived (SIGKILL that landed at the named point, then the next apply converged to the state of an uninterrupted run): **${totals.crashes}**`,
    `- writes by the run's user during runs whose input was bad: **${totals.badInputWrites}**`,
    `- secrets found in any form (${totals.secretValues} values × ${totals.secretForms}) in ${totals.secretsScanned}: **${totals.secretsFound}**`,
    `- streams scanned: **${totals.streams}**; child processes of the CLI scanned (/proc cmdline and environ): **${totals.processes}**`,
    '',
    '## Figures from the other trust suites',
    '',
    'Read from `test-results/reliability/<id>.json`, written by each suite when it ran whole (interface: the',
    'top of test/e2e/support/faults.ts).',
    '',
    ...figureLines(figures),
    '',
    '## Cases',
    '',
    '| # | item | case | injected | expected | outcome | writes | result |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (r, i) =>
        `| ${i + 1} | ${cell(r.item)} | ${cell(r.case)} | ${cell(r.injected)} | ${cell(r.expected)} | ${cell(r.outcome)} | ${r.writes ?? ''} | ${r.passed ? (r.verdict ? RESULT[r.verdict] : 'pass') : '**FAIL**'} |`,
    ),
    '',
  ];
  return `${lines.join('\n')}\n`;
}

// ----------------------------------------------------------------------------- secrets, encoded

/**
 * The base64 characters that encode `bytes` whatever precedes and follows them (the three alignments
 * in a larger encoded text), without padding: a substring of every encoding that contains the bytes,
 * padded or not.
 */
function base64Cores(bytes: Buffer, alphabet: 'base64' | 'base64url'): string[] {
  const out: string[] = [];
  for (let o = 0; o < 3; o++) {
    const text = Buffer.concat([Buffer.alloc(o), bytes])
      .toString(alphabet)
      .replace(/=+$/, '');
    const from = Math.ceil((8 * o) / 6);
    const to = Math.floor((8 * (o + bytes.length)) / 6);
    out.push(text.slice(from, to));
  }
  return out;
}

/** The encodings the scan looks for, by name (each value, and each `user:password` pair). */
export const SECRET_FORMS =
  'raw, base64 and base64url (each alignment, padded or not), URL-encoded, hex (lower and upper case), base64 of user:password';

/** Every form of `value` the scan looks for: `[form, text]`, without duplicates. */
export function encodedForms(value: string, users: string[] = []): [string, string][] {
  const bytes = Buffer.from(value, 'utf8');
  const forms: [string, string][] = [
    ['raw', value],
    ...base64Cores(bytes, 'base64').map((t) => ['base64', t] as [string, string]),
    ...base64Cores(bytes, 'base64url').map((t) => ['base64url', t] as [string, string]),
    ['URL-encoded', encodeURIComponent(value)],
    ['URL-encoded (form)', new URLSearchParams({ v: value }).toString().slice(2)],
    ['hex', bytes.toString('hex')],
    ['HEX', bytes.toString('hex').toUpperCase()],
    ...users.flatMap((u) =>
      base64Cores(Buffer.from(`${u}:${value}`, 'utf8'), 'base64').map(
        (t) => [`base64 of ${u}:…`, t] as [string, string],
      ),
    ),
  ];
  const seen = new Set<string>();
  return forms.filter(([, t]) => t.length >= 8 && !seen.has(t) && seen.add(t));
}

// ------------------------------------------------------------------------- child processes (/proc)

export interface ProcSeen {
  pid: number;
  /** argv, NUL-separated as in /proc. */
  cmdline: string;
  environ: string;
}

/**
 * Watches the descendants of `rootPid` while it runs: every `everyMs` the PPid chains of /proc/*\/status
 * are followed, and each descendant (each new command line of a pid: an exec counts again) has its
 * /proc cmdline and environ read. `stop()` returns what was seen.
 */
export function watchDescendants(rootPid: number, everyMs = 25): { stop(): ProcSeen[] } {
  const seen = new Map<string, ProcSeen>();
  const read = (f: string) => {
    try {
      return readFileSync(f, 'utf8');
    } catch {
      return undefined; // gone already
    }
  };
  const tick = () => {
    const parent = new Map<number, number>();
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      const status = read(`/proc/${d}/status`);
      const ppid = status && /^PPid:\s*(\d+)/m.exec(status)?.[1];
      if (ppid) parent.set(Number(d), Number(ppid));
    }
    for (const pid of parent.keys()) {
      let p = parent.get(pid);
      for (let depth = 0; p !== undefined && p !== rootPid && depth < 64; depth++) p = parent.get(p);
      if (p !== rootPid) continue;
      const cmdline = read(`/proc/${pid}/cmdline`);
      if (cmdline === undefined || seen.has(`${pid} ${cmdline}`)) continue;
      const environ = read(`/proc/${pid}/environ`);
      if (environ === undefined) continue;
      seen.set(`${pid} ${cmdline}`, { pid, cmdline, environ });
    }
  };
  const timer = setInterval(tick, everyMs);
  tick();
  return {
    stop() {
      clearInterval(timer);
      return [...seen.values()];
    },
  };
}

// --------------------------------------------------------------------------------------- the gate

/**
 * A TCP relay in front of the API server (TLS passes through) for runs that are SIGKILLed at a named
 * point: every chunk the server sends back is held `delayMs` before it reaches the run, and `freeze()`
 * (called just before the kill) drops everything from then on. A run cannot finish a request it sent
 * after the point it was killed at: what it had logged when the kill was decided is what it had done.
 */
export interface Gate {
  listen: string;
  kubeconfigThrough(kubeconfig: string, file: string): string;
  freeze(): void;
  /** Opens the gate again and closes every connection through it. */
  reset(): void;
  close(): void;
}

/** A copy of the kubeconfig `source` at `file` whose cluster is reached through the proxy at `listen`. */
function kubeconfigThrough(listen: string, source: string, file: string): string {
  const c = JSON.parse(readFileSync(source, 'utf8')) as { clusters: { cluster: { server: string } }[] };
  c.clusters[0]!.cluster.server = `https://${listen}`;
  writeFileSync(file, JSON.stringify(c), { mode: 0o600 });
  return file;
}

export async function startGate(kubeconfig: string, delayMs = 40): Promise<Gate> {
  const cfg = JSON.parse(readFileSync(kubeconfig, 'utf8')) as { clusters: { cluster: { server: string } }[] };
  const upstream = new URL(cfg.clusters[0]!.cluster.server);
  let frozen = false;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const up = connect(Number(upstream.port || 443), upstream.hostname);
    sockets.add(client);
    sockets.add(up);
    const end = () => {
      client.destroy();
      up.destroy();
      sockets.delete(client);
      sockets.delete(up);
    };
    client.on('data', (d) => {
      if (!frozen) up.write(d);
    });
    up.on('data', (d) => {
      if (frozen) return;
      setTimeout(() => {
        if (!frozen && !client.destroyed) client.write(d);
      }, delayMs);
    });
    client.on('error', end);
    up.on('error', end);
    client.on('close', end);
    up.on('close', () => setTimeout(end, delayMs + 5));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const listen = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    listen,
    kubeconfigThrough: (source, file) => kubeconfigThrough(listen, source, file),
    freeze() {
      frozen = true;
    },
    reset() {
      for (const s of sockets) s.destroy();
      sockets.clear();
      frozen = false;
    },
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
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
 * Toxiproxy's server (built by tools/toxiproxy/build.sh from the Go module proxy, cached), with one proxy in
 * front of the API server of `kubeconfig`. Undefined outside CI when Go is not installed.
 */
export async function startToxiproxy(kubeconfig: string): Promise<Toxiproxy | undefined> {
  let bin: string;
  try {
    bin = execFileSync(join(repoRoot, 'tools/toxiproxy/build.sh'), {
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
    kubeconfigThrough: (source, file) => kubeconfigThrough(listen, source, file),
    add: (toxic) =>
      call('POST', '/proxies/apiserver/toxics', { stream: 'downstream', toxicity: 1, ...toxic }),
    remove: (name) => call('DELETE', `/proxies/apiserver/toxics/${name}`),
    stop: () => {
      server.kill('SIGTERM');
    },
  };
}
