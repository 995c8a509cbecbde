/**
 * `npm run bench`: the bootstrap side by side with the seed procedure as a script (bench/baseline.sh), at
 * N ∈ {1, 10, 50, 100, 300} environments, each case on a freshly started local KWOK cluster. Writes
 * docs/benchmarks.md (tables, ratios, machine, command) and docs/benchmarks.svg, plus the raw figures as
 * JSON beside them.
 *
 *   npm run bench                        # the full run (N = 1 … 300, 5 no-op repetitions); about an hour
 *   npm run bench -- --quick --out DIR   # N = 1 and 10, one repetition: what CI runs (test/e2e/bench.test.ts)
 *   npm run bench -- --sizes 1,50 --reps 3
 *   npm run bench -- --entry src/main.ts  # the sources instead of the bundle the image runs
 *   npm run bench -- --from docs/benchmarks.json   # render the tables and plot again, measuring nothing
 *
 * Per case: wall time; API requests and mutating requests by the run's ServiceAccount (kube-apiserver's
 * audit log; dry-runs and access reviews are not mutating); objects whose resourceVersion moved (every
 * object of the kinds either side writes, outside kube-system, the run's Lease and report ConfigMap aside);
 * peak RSS (GNU time's maximum resident set; for the baseline, its largest kubectl process). The wait for
 * Argo CD's rollout is timed apart (`kubectl rollout status` on one side, the wait-rollout step on the
 * other), as is the bootstrap's repository check (git over SSH to the local test server).
 *
 * Clusters live in `$SD_E2E_STATE_DIR` (default `.e2e-bench/`), so the test cluster in `.e2e/` is left alone.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { dump } from 'js-yaml';
import { ensureUpstream } from '../src/manifests/upstream.ts';
import type { Measure } from '../tools/bench.ts';
import { sourceSecret, startGitSshServer } from '../tools/git/git-ssh-server.ts';
import { ARGOCD_VERSION, KUBE_VERSION } from '../tools/versions.ts';
import { bundle } from './bundle.ts';

const root = join(import.meta.dirname, '..');
const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    sizes: { type: 'string' },
    reps: { type: 'string' },
    out: { type: 'string' },
    entry: { type: 'string' },
    from: { type: 'string' },
  },
});
const quick = args.quick === true;
const sizes = (args.sizes ?? (quick ? '1,10' : '1,10,50,100,300')).split(',').map(Number);
const reps = Number(args.reps ?? (quick ? 1 : 5));
const outDir = resolve(args.out ?? join(root, 'docs'));
/**
 * The program to measure: by default the one-file bundle the image runs (scripts/bundle.ts, built first);
 * `--entry src/main.ts` measures the sources under Node's type stripping instead.
 */
process.env.SD_E2E_STATE_DIR ??= join(root, '.e2e-bench');
const stateDir = process.env.SD_E2E_STATE_DIR;
// This run's own bundle: a second bench (the e2e test) may be bundling at the same time.
const entry = args.entry
  ? resolve(args.entry)
  : await bundle(join(mkdtempSync(join(tmpdir(), 'sd-bench-bundle-')), 'main.js'));
// Imported after the state directory is chosen: cluster.ts reads it when loaded.
const { down, up } = await import('../tools/cluster/local.ts');

const RUN_NS = 'seldon-system';
const SA = 'bench';
const USER = `system:serviceaccount:${RUN_NS}:${SA}`;
const GNU_TIME = '/usr/bin/time';

function log(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}

// ------------------------------------------------------------------------------------------- one cluster

interface Case {
  kubectl: (args: string[], input?: string) => string;
  kubectlBin: string;
  auditLog: string;
  kubeconfig: string;
  work: string;
  repoUrl: string;
  git: Awaited<ReturnType<typeof startGitSshServer>>;
  manifest: string;
}

const envNames = (n: number) => Array.from({ length: n }, (_, i) => `env-${String(i + 1).padStart(3, '0')}`);

/** A fresh cluster with the run namespace, a cluster-admin ServiceAccount, Istio's CRDs and a Git server. */
async function freshCase(n: number): Promise<Case> {
  down();
  const cluster = up();
  const kubectlBin = join(cluster.binDir, 'kubectl');
  const kubectl = (a: string[], input?: string) =>
    execFileSync(kubectlBin, ['--kubeconfig', cluster.kubeconfig, ...a], {
      input,
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
  const work = join(stateDir, 'bench');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const git = await startGitSshServer({ root: join(work, 'git') });
  const files: Record<string, string> = {};
  for (const ns of [...envNames(n + 1), 'seldon-logs'])
    files[`${ns}/cm.yaml`] = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n';
  const repoUrl = git.createRepo('gitops', files);

  kubectl(['create', 'namespace', RUN_NS]);
  kubectl(['create', 'serviceaccount', SA, '-n', RUN_NS]);
  kubectl([
    'create',
    'clusterrolebinding',
    SA,
    '--clusterrole=cluster-admin',
    `--serviceaccount=${RUN_NS}:${SA}`,
  ]);
  kubectl(['apply', '--server-side', '-f', await ensureUpstream('istio/networking-crds')]);
  for (let i = 0; ; i++) {
    // Right after the apply the CRD may have no conditions yet, which `kubectl wait` treats as an error.
    const r = spawnSync(kubectlBin, [
      '--kubeconfig',
      cluster.kubeconfig,
      'wait',
      '--for=condition=Established',
      'crd/virtualservices.networking.istio.io',
    ]);
    if (r.status === 0) break;
    if (i === 20) throw new Error(`Istio's CRDs not established: ${r.stderr}`);
    spawnSync('sleep', ['0.5']);
  }
  kubectl(['apply', '-f', '-'], JSON.stringify(sourceSecret(git, RUN_NS)));
  const server = JSON.parse(kubectl(['config', 'view', '--raw', '--minify', '-o', 'json'])).clusters[0]
    .cluster;
  const token = kubectl(['create', 'token', SA, '-n', RUN_NS, '--duration', '2h']).trim();
  const kubeconfig = join(work, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: server }],
      users: [{ name: 'u', user: { token } }],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u', namespace: RUN_NS } }],
      'current-context': 'x',
    }),
    { mode: 0o600 },
  );
  return {
    kubectl,
    kubectlBin,
    auditLog: cluster.auditLog,
    kubeconfig,
    work,
    repoUrl,
    git,
    manifest: await ensureUpstream(`argocd/${ARGOCD_VERSION}`),
  };
}

// ------------------------------------------------------------------------------------------ the counters

/** The kinds either side writes; their resourceVersions are compared before and after each run. */
const WATCHED_KINDS = [
  'namespaces',
  'customresourcedefinitions',
  'clusterroles',
  'clusterrolebindings',
  'configmaps',
  'secrets',
  'serviceaccounts',
  'services',
  'deployments',
  'statefulsets',
  'roles',
  'rolebindings',
  'networkpolicies',
].join(',');
/** Custom kinds, listed only once served (before the install they are not). */
const CUSTOM_KINDS = [
  'applications.argoproj.io',
  'appprojects.argoproj.io',
  'virtualservices.networking.istio.io',
];
const IGNORED_NAMESPACES = new Set(['kube-system', 'kube-node-lease', 'kube-public']);
const RUN_OWN = new Set([`ConfigMap/${RUN_NS}/sd-gitops-bootstrap-report`]);

function resourceVersions(c: Case): Map<string, string> {
  const columns =
    'custom-columns=K:.kind,NS:.metadata.namespace,N:.metadata.name,RV:.metadata.resourceVersion';
  const served = c.kubectl(['api-resources', '-o', 'name']).split('\n');
  const kinds = [WATCHED_KINDS, ...CUSTOM_KINDS.filter((k) => served.includes(k))].join(',');
  const out = c.kubectl(['get', kinds, '-A', '--no-headers', '-o', columns]);
  const rvs = new Map<string, string>();
  for (const line of out.split('\n')) {
    const [kind, ns, name, rv] = line.trim().split(/\s+/);
    if (!kind || !name || !rv || IGNORED_NAMESPACES.has(ns!)) continue;
    const key = `${kind}/${ns === '<none>' ? '' : ns}/${name}`;
    if (!RUN_OWN.has(key)) rvs.set(key, rv);
  }
  return rvs;
}

function moved(before: Map<string, string>, after: Map<string, string>): number {
  const keys = [...after].filter(([key, rv]) => before.get(key) !== rv).map(([key]) => key);
  if (process.env.BENCH_DEBUG && keys.length > 0 && keys.length < 20) log(`moved: ${keys.join(', ')}`);
  return keys.length;
}

const MUTATING = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);
const REVIEWS = /reviews$/;

interface AuditEvent {
  stage: string;
  verb: string;
  requestURI: string;
  user: { username: string };
  objectRef?: { resource?: string };
}

function auditSince(c: Case, since: number): { requests: number; mutating: number } {
  const file = readFileSync(c.auditLog);
  // kube-apiserver rotates its audit log at 100 MB: an offset past the end means a new file, all of it newer.
  const raw = file.subarray(since > file.length ? 0 : since).toString('utf8');
  const events = raw
    .slice(0, raw.lastIndexOf('\n') + 1)
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as AuditEvent)
    .filter((e) => e.stage === 'ResponseComplete' && e.user.username === USER);
  const mutating = events.filter(
    (e) =>
      MUTATING.has(e.verb) &&
      !/[?&]dryRun=All/.test(e.requestURI) &&
      !REVIEWS.test(e.objectRef?.resource ?? ''),
  );
  if (process.env.BENCH_DEBUG && mutating.length > 0 && mutating.length < 30)
    log(`mutating: ${mutating.map((e) => `${e.verb} ${e.requestURI.split('?')[0]}`).join(', ')}`);
  return { requests: events.length, mutating: mutating.length };
}

/** The audit backend writes in batches: wait until the log stops growing. */
function auditSettled(c: Case): void {
  let size = -1;
  for (let i = 0; i < 20; i++) {
    spawnSync('sleep', ['0.5']);
    const now = readFileSync(c.auditLog).length;
    if (now === size) return;
    size = now;
  }
}

interface Timed {
  seconds: number;
  rssMiB: number | undefined;
  stdout: string;
  stderr: string;
  code: number;
}

/** Runs a command under GNU time (peak RSS) when installed; wall time from here. */
function timed(cmd: string, argv: string[], env: NodeJS.ProcessEnv, cwd = root): Timed {
  const rssFile = join(stateDir, 'rss');
  rmSync(rssFile, { force: true });
  const useTime = existsSync(GNU_TIME);
  const t0 = process.hrtime.bigint();
  const res = spawnSync(
    useTime ? GNU_TIME : cmd,
    useTime ? ['-f', '%M', '-o', rssFile, cmd, ...argv] : argv,
    {
      env,
      cwd,
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
    },
  );
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const rss =
    useTime && existsSync(rssFile) ? Number(readFileSync(rssFile, 'utf8').trim().split('\n').pop()) : NaN;
  return {
    seconds,
    rssMiB: Number.isFinite(rss) ? Math.round(rss / 1024) : undefined,
    stdout: res.stdout ?? '',
    stderr: res.stderr ?? '',
    code: res.status ?? 1,
  };
}

function measured(
  c: Case,
  run: string,
  n: number,
  fn: () => Timed & { rolloutSeconds?: number; repoCheckSeconds?: number; steps?: Record<string, number> },
): Measure {
  const before = resourceVersions(c);
  const since = readFileSync(c.auditLog).length;
  const t = fn();
  auditSettled(c);
  const m: Measure = {
    run,
    n,
    seconds: t.seconds,
    ...auditSince(c, since),
    moved: moved(before, resourceVersions(c)),
    rssMiB: t.rssMiB,
    ...(t.rolloutSeconds !== undefined && { rolloutSeconds: t.rolloutSeconds }),
    ...(t.repoCheckSeconds !== undefined && { repoCheckSeconds: t.repoCheckSeconds }),
    ...(t.steps && { steps: t.steps }),
  };
  if (process.env.BENCH_DEBUG && t.steps) log(`steps: ${JSON.stringify(t.steps)}`);
  log(
    `N=${n} ${run}: ${m.seconds.toFixed(2)} s, ${m.requests} requests, ${m.mutating} mutating, ${m.moved} moved, ${m.rssMiB} MiB`,
  );
  return m;
}

// -------------------------------------------------------------------------------------------- baseline

function baseline(n: number, c: Case): Measure {
  const keyFile = join(c.work, 'id_gitops');
  const knownHostsFile = join(c.work, 'known_hosts');
  writeFileSync(keyFile, c.git.privateKey, { mode: 0o600 });
  writeFileSync(knownHostsFile, c.git.knownHosts);
  return measured(c, 'baseline', n, () => {
    const t = timed('bash', [join(root, 'bench/baseline.sh')], {
      PATH: process.env.PATH,
      HOME: c.work,
      // A first-time user: kubectl's discovery cache starts empty, then each process reuses it.
      KUBECACHEDIR: join(c.work, 'kubectl-cache'),
      NODE_PATH: join(root, 'node_modules'),
      KUBECTL: c.kubectlBin,
      KUBECONFIG: c.kubeconfig,
      ARGOCD_MANIFEST: c.manifest,
      GIT_REPO_URL: c.repoUrl.replace(/^ssh:\/\//, ''),
      NAMESPACES: [...envNames(n), 'seldon-logs'].join(' '),
      GIT_SSH_PATH: keyFile,
      GIT_KNOWN_HOSTS_PATH: knownHostsFile,
      WORKDIR: join(c.work, 'baseline'),
    });
    if (t.code !== 0) throw new Error(`baseline failed (exit ${t.code}):\n${t.stderr.slice(-3000)}`);
    const ms = /::rollout-ms (\d+)/.exec(t.stderr)?.[1];
    return { ...t, ...(ms !== undefined && { rolloutSeconds: Number(ms) / 1000 }) };
  });
}

// ------------------------------------------------------------------------------------------- bootstrap

function writeBootstrapConfig(c: Case, n: number): string {
  const file = join(c.work, `config-${n}.yaml`);
  writeFileSync(
    file,
    dump({
      // install.source bundled (the default, as in the image): the pinned manifest from the upstream cache.
      git: { repoUrl: c.repoUrl },
      environments: { namespaces: envNames(n), waitForSync: false },
    }),
  );
  return file;
}

/** Seconds of one step from its progress line (`✔ wait-rollout (0.4s): …`) in the JSON log. */
function stepSeconds(stderr: string, step: string): number | undefined {
  const re = new RegExp(`[✔✗] ${step} \\((\\d+(?:\\.\\d+)?)s\\)`);
  for (const line of stderr.split('\n')) {
    const m = re.exec(line);
    if (m) return Number(m[1]);
  }
  return undefined;
}

function cli(
  c: Case,
  command: string,
  config: string,
): Timed & { rolloutSeconds?: number; repoCheckSeconds?: number; steps?: Record<string, number> } {
  const t = timed(
    process.execPath,
    [entry, command, '--config', config, '--kubeconfig', c.kubeconfig, '--output', 'json'],
    { ...process.env, POD_NAMESPACE: RUN_NS, LOG_LEVEL: 'info', LOG_FORMAT: 'json', KUBECONFIG: '' },
  );
  if (t.code !== 0) throw new Error(`${command} failed (exit ${t.code}):\n${t.stderr.slice(-3000)}`);
  if (command !== 'plan' && JSON.parse(t.stdout).ready !== true) throw new Error(`${command}: not ready`);
  const rollout = stepSeconds(t.stderr, 'wait-rollout');
  const repo = stepSeconds(t.stderr, 'check-repository');
  const steps: Record<string, number> = {};
  for (const m of t.stderr.matchAll(/[✔✗] ([a-z-]+) \((\d+(?:\.\d+)?)s\)/g)) steps[m[1]!] = Number(m[2]);
  return {
    ...t,
    steps,
    ...(command === 'apply' && rollout !== undefined && { rolloutSeconds: rollout }),
    ...(repo !== undefined && { repoCheckSeconds: repo }),
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function bootstrap(n: number, c: Case): Measure[] {
  const config = writeBootstrapConfig(c, n);
  const out = [measured(c, 'apply fresh', n, () => cli(c, 'apply', config))];
  const noops: Measure[] = [];
  for (let i = 0; i < reps; i++) noops.push(measured(c, 'no-op apply', n, () => cli(c, 'apply', config)));
  const pick = (f: (m: Measure) => number | undefined) => {
    const xs = noops.map(f).filter((x): x is number => x !== undefined);
    return xs.length ? median(xs) : undefined;
  };
  const secs = noops.map((m) => m.seconds);
  out.push({
    run: 'no-op apply',
    n,
    seconds: median(secs),
    min: Math.min(...secs),
    max: Math.max(...secs),
    reps,
    requests: pick((m) => m.requests)!,
    mutating: Math.max(...noops.map((m) => m.mutating)),
    moved: Math.max(...noops.map((m) => m.moved)),
    rssMiB: pick((m) => m.rssMiB),
    ...(pick((m) => m.rolloutSeconds) !== undefined && { rolloutSeconds: pick((m) => m.rolloutSeconds)! }),
    ...(pick((m) => m.repoCheckSeconds) !== undefined && {
      repoCheckSeconds: pick((m) => m.repoCheckSeconds)!,
    }),
  });
  const more = writeBootstrapConfig(c, n + 1);
  out.push(measured(c, 'apply +1 environment', n, () => cli(c, 'apply', more)));
  out.push(measured(c, 'plan', n, () => cli(c, 'plan', more)));
  out.push(measured(c, 'status', n, () => cli(c, 'status', more)));
  return out;
}

// ------------------------------------------------------------------------------------------------ output

const f1 = (x: number | undefined) => (x === undefined ? '–' : x.toFixed(x < 10 ? 2 : 1));
const ratio = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(a / b < 10 ? 1 : 0)}×` : '∞');

function machine(): string {
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  return `${cpus().length} cores (${cpu}), ${Math.round(totalmem() / 2 ** 30)} GiB RAM, shared with other builds; Node ${process.versions.node}; Kubernetes ${KUBE_VERSION} (local KWOK cluster, simulated pods); Argo CD ${ARGOCD_VERSION} manifest`;
}

function table(rows: Measure[]): string[] {
  return [
    '| N | run | wall (s) | spread (s) | rollout wait (s) | repo check (s) | requests | mutating | objects moved | peak RSS (MiB) |',
    '| ---: | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (r) =>
        `| ${r.n} | ${r.run} | ${f1(r.seconds)} | ${r.min !== undefined ? `${f1(r.min)}–${f1(r.max)} (${r.reps} runs)` : ''} | ${f1(r.rolloutSeconds)} | ${f1(r.repoCheckSeconds)} | ${r.requests} | ${r.mutating} | ${r.moved} | ${r.rssMiB ?? '–'} |`,
    ),
  ];
}

function ratios(rows: Measure[]): string[] {
  const lines = [
    '| N | baseline wall (s) | apply fresh wall (s) | wall ratio | apply phase ratio (rollout wait excluded) | requests ratio | mutating ratio | no-op apply wall (s) | baseline / no-op wall | baseline / no-op requests |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const n of sizes) {
    const b = rows.find((r) => r.n === n && r.run === 'baseline');
    const a = rows.find((r) => r.n === n && r.run === 'apply fresh');
    const z = rows.find((r) => r.n === n && r.run === 'no-op apply');
    if (!b || !a || !z) continue;
    const phase = (m: Measure) => m.seconds - (m.rolloutSeconds ?? 0);
    lines.push(
      `| ${n} | ${f1(b.seconds)} | ${f1(a.seconds)} | ${ratio(b.seconds, a.seconds)} | ${ratio(phase(b), phase(a))} | ${ratio(b.requests, a.requests)} | ${ratio(b.mutating, a.mutating)} | ${f1(z.seconds)} | ${ratio(b.seconds, z.seconds)} | ${ratio(b.requests, z.requests)} |`,
    );
  }
  return lines;
}

/** A hand-made SVG: wall time and requests against N (log scales), baseline vs. bootstrap. */
export function plot(rows: Measure[]): string {
  const series = [
    { run: 'baseline', color: '#c0392b', dash: '' },
    { run: 'apply fresh', color: '#2471a3', dash: '' },
    { run: 'no-op apply', color: '#229954', dash: '6 3' },
  ];
  const ns = [...new Set(rows.map((r) => r.n))].sort((a, b) => a - b);
  const W = 420;
  const H = 300;
  const pad = { l: 56, r: 16, t: 30, b: 44 };
  const panel = (title: string, value: (m: Measure) => number, x0: number): string => {
    const vals = rows
      .filter((r) => series.some((s) => s.run === r.run))
      .map(value)
      .filter((v) => v > 0);
    const lo = Math.floor(Math.log10(Math.min(...vals)));
    const hi = Math.ceil(Math.log10(Math.max(...vals)));
    const nlo = Math.log10(ns[0]!);
    const nhi = Math.log10(ns.at(-1)!) || 1;
    const x = (n: number) => x0 + pad.l + ((Math.log10(n) - nlo) / (nhi - nlo || 1)) * (W - pad.l - pad.r);
    const y = (v: number) => pad.t + (1 - (Math.log10(v) - lo) / (hi - lo || 1)) * (H - pad.t - pad.b);
    const parts = [`<text x="${x0 + W / 2}" y="18" text-anchor="middle" font-weight="bold">${title}</text>`];
    for (let e = lo; e <= hi; e++) {
      parts.push(
        `<line x1="${x0 + pad.l}" x2="${x0 + W - pad.r}" y1="${y(10 ** e)}" y2="${y(10 ** e)}" stroke="#ddd"/>`,
        `<text x="${x0 + pad.l - 6}" y="${y(10 ** e) + 4}" text-anchor="end">${10 ** e}</text>`,
      );
    }
    for (const n of ns) {
      parts.push(
        `<line x1="${x(n)}" x2="${x(n)}" y1="${pad.t}" y2="${H - pad.b}" stroke="#eee"/>`,
        `<text x="${x(n)}" y="${H - pad.b + 16}" text-anchor="middle">${n}</text>`,
      );
    }
    parts.push(`<text x="${x0 + W / 2}" y="${H - 8}" text-anchor="middle">environments (N)</text>`);
    for (const s of series) {
      const pts = ns
        .map((n) => rows.find((r) => r.n === n && r.run === s.run))
        .filter((m): m is Measure => m !== undefined && value(m) > 0)
        .map((m) => `${x(m.n).toFixed(1)},${y(value(m)).toFixed(1)}`);
      if (pts.length === 0) continue;
      parts.push(
        `<polyline fill="none" stroke="${s.color}" stroke-width="2" stroke-dasharray="${s.dash}" points="${pts.join(' ')}"/>`,
        ...pts.map(
          (p) => `<circle cx="${p.split(',')[0]}" cy="${p.split(',')[1]}" r="3" fill="${s.color}"/>`,
        ),
      );
    }
    return parts.join('\n');
  };
  const legend = series
    .map(
      (s, i) =>
        `<line x1="${70 + i * 170}" x2="${95 + i * 170}" y1="${H + 14}" y2="${H + 14}" stroke="${s.color}" stroke-width="2" stroke-dasharray="${s.dash}"/><text x="${100 + i * 170}" y="${H + 18}">${s.run === 'baseline' ? 'baseline script' : `bootstrap ${s.run}`}</text>`,
    )
    .join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * W}" height="${H + 30}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="white"/>
${panel('wall time (s)', (m) => m.seconds, 0)}
${panel('API requests', (m) => m.requests, W)}
${legend}
</svg>
`;
}

function targets(rows: Measure[]): string[] {
  const at = (n: number, run: string) => rows.find((r) => r.n === n && r.run === run);
  const ns = [...new Set(rows.map((r) => r.n))].sort((a, b) => a - b);
  const noop = ns.map((n) => at(n, 'no-op apply')).filter((m): m is Measure => m !== undefined);
  const mark = (ok: boolean | undefined) => (ok === undefined ? '–' : ok ? 'met' : 'missed');
  const lines = ['| target | measured | |', '| --- | --- | --- |'];
  const mut = noop.map((m) => `${m.mutating} at N=${m.n}`).join(', ');
  lines.push(
    `| no-op re-run: mutating requests ≤ 3 (Lease and report), independent of N | ${mut} | ${mark(noop.length > 0 && noop.every((m) => m.mutating <= 3 && m.mutating === noop[0]!.mutating))} |`,
  );
  lines.push(
    `| no-op re-run: zero objects moved | ${noop.map((m) => `${m.moved} at N=${m.n}`).join(', ')} | ${mark(noop.length > 0 && noop.every((m) => m.moved === 0))} |`,
  );
  if (noop.length > 1) {
    const a = noop[0]!;
    const b = noop.at(-1)!;
    const slope = (b.requests - a.requests) / (b.n - a.n);
    lines.push(
      `| no-op re-run: requests grow with kinds, not objects | ${noop.map((m) => `${m.requests} at N=${m.n}`).join(', ')}: ${slope.toFixed(1)} per environment (its namespace is read by name, twice: RBAC grants namespaces by name only) | ${mark(slope < 1)} |`,
    );
  }
  const z100 = at(100, 'no-op apply');
  lines.push(
    `| no-op re-run under 1.5 s at N=100, repository check included | ${z100 ? `${f1(z100.seconds)} s (repository check ${f1(z100.repoCheckSeconds)} s)` : 'not run'} | ${mark(z100 && z100.seconds < 1.5)} |`,
  );
  const b50 = at(50, 'baseline');
  const a50 = at(50, 'apply fresh');
  if (b50 && a50) {
    const phase = (m: Measure) => m.seconds - (m.rolloutSeconds ?? 0);
    const r = phase(b50) / phase(a50);
    lines.push(
      `| fresh apply at N=50: apply phase (rollout wait excluded) ≥ 10× faster than the baseline, fewer requests | ${f1(phase(b50))} s vs ${f1(phase(a50))} s: ${r.toFixed(1)}×; ${b50.requests} vs ${a50.requests} requests | ${mark(r >= 10 && a50.requests < b50.requests)} |`,
    );
  } else lines.push('| fresh apply at N=50: ≥ 10× faster than the baseline | not run | – |');
  const a100 = at(100, 'apply fresh');
  const rss = a100?.rssMiB;
  lines.push(
    `| peak RSS under 120 MB (114 MiB) for apply at N=100 | ${rss === undefined ? 'not measured' : `${rss} MiB (fresh apply); no-op ${z100?.rssMiB ?? '–'} MiB`} | ${mark(rss === undefined ? undefined : rss < 114.4)} |`,
  );
  return lines;
}

function markdown(
  rows: Measure[],
  command: string,
  machineText: string,
  repetitions: number,
  partial = false,
): string {
  const done = [...new Set(rows.map((r) => r.n))].join(', ');
  return [
    '# Benchmarks',
    '',
    `Generated by \`${command}\` (scripts/bench.ts); do not edit by hand. The baseline is the seed procedure`,
    "as a script (bench/baseline.sh: one `kubectl` process per action, in the document's order); the",
    'bootstrap is the one-file bundle the image runs (scripts/bundle.ts), run as the CLI under a',
    'cluster-admin ServiceAccount like the baseline. Each case starts on a fresh local KWOK cluster. Requests',
    "and mutating requests are those of the run's ServiceAccount in the API server's audit log (dry-runs and",
    'access reviews are not mutating); "objects moved" counts objects of the kinds either side writes whose',
    "resourceVersion changed or that are new (the run's report ConfigMap and Lease aside; a new namespace",
    "brings its `kube-root-ca.crt` and `default` ServiceAccount); peak RSS is GNU time's maximum resident set",
    '(for the baseline, its largest `kubectl` process). The rollout wait (`kubectl rollout status` / the',
    'wait-rollout step; pods are simulated, so it is short on both sides) and the repository check (git over',
    'SSH to a local server) are shown apart; both are included in the wall time. Wall times depend on the',
    'machine and its load (on a machine shared with other builds the same case varies up to 3× between',
    'runs: compare within an N, and trust the counts); the counts do not.',
    '',
    `Machine: ${machineText}.`,
    '',
    ...(partial
      ? [
          `**Partial run**: the command was stopped after the cases of N = ${done}; the sizes after those are not measured here.`,
          '',
        ]
      : []),
    `No-op apply: the median of ${repetitions} runs (spread: min–max); its counts are the median (mutating, moved: the maximum).`,
    '"apply +1 environment", "plan" and "status" run with N + 1 environments after the no-op runs.',
    'Every N has one more environment: the logging namespace (seldon-logs), on both sides.',
    '',
    '## Results',
    '',
    ...table(rows),
    '',
    '## Baseline / bootstrap',
    '',
    ...ratios(rows),
    '',
    '![wall time and API requests against N](benchmarks.svg)',
    '',
    '## Targets (issue #11)',
    '',
    ...targets(rows),
    '',
    'Not measured here: the image (its own layers, `docker history`: see docs/chart.md), the preflight (a constant',
    'number of SelfSubjectRulesReviews: src/steps/preflight.test.ts), and the first sync on real pods (the',
    'real-pod tier).',
    '',
  ].join('\n');
}

// ------------------------------------------------------------------------------------------------- main

const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
if (args.from) {
  // Render again from a run's JSON (the tables and the plot), without measuring.
  const saved = JSON.parse(readFileSync(resolve(args.from), 'utf8')) as {
    machine: string;
    command: string;
    reps?: number;
    partial?: boolean;
    rows: Measure[];
  };
  const savedReps = saved.reps ?? Math.max(1, ...saved.rows.map((r) => r.reps ?? 1));
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'benchmarks.svg'), plot(saved.rows));
  writeFileSync(
    join(outDir, 'benchmarks.md'),
    markdown(saved.rows, saved.command, saved.machine, savedReps, saved.partial === true),
  );
  log(`rendered ${join(outDir, 'benchmarks.md')} from ${args.from}`);
  process.exit(0);
}
if (!existsSync(GNU_TIME)) log(`${GNU_TIME} not found (Debian package "time"): peak RSS is not measured`);
const rows: Measure[] = [];
try {
  for (const n of sizes) {
    {
      const c = await freshCase(n);
      try {
        rows.push(baseline(n, c));
        write(rows, true); // what is measured so far, in case a long run is cut short
      } finally {
        await c.git.stop();
      }
    }
    {
      const c = await freshCase(n);
      try {
        rows.push(...bootstrap(n, c));
        write(rows, true);
      } finally {
        await c.git.stop();
      }
    }
  }
} finally {
  down();
}
write(rows, false);

function write(measured: Measure[], partial: boolean): void {
  mkdirSync(outDir, { recursive: true });
  writeFileSync(
    join(outDir, 'benchmarks.json'),
    `${JSON.stringify({ machine: machine(), command, reps, partial, rows: measured }, null, 2)}\n`,
  );
  writeFileSync(join(outDir, 'benchmarks.svg'), plot(measured));
  writeFileSync(join(outDir, 'benchmarks.md'), markdown(measured, command, machine(), reps, partial));
  log(`wrote ${join(outDir, 'benchmarks.md')}${partial ? ' (so far)' : ''}`);
}
