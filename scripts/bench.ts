/**
 * `npm run bench`: measures a fresh `apply` and no-op re-runs on a freshly started local cluster, and
 * prints a markdown table (copied into docs/benchmarks.md). Wall time varies with the machine; the request
 * and write counts come from the API server's audit log (by the run's ServiceAccount) and are stable.
 *
 * It starts its own cluster in `.e2e-bench/` (SD_E2E_STATE_DIR), so "fresh" really is fresh and the test
 * cluster in `.e2e/` is left alone; it stops that cluster at the end.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dump } from 'js-yaml';
import { ensureUpstream } from '../src/manifests/upstream.ts';
import { startGitSshServer } from '../test/support/git-ssh-server.ts';

const root = join(import.meta.dirname, '..');
process.env.SD_E2E_STATE_DIR ??= join(root, '.e2e-bench');
// Imported after the state directory is chosen: cluster.ts reads it when loaded.
const { down, up } = await import('./cluster.ts');
const reruns = Number(process.env.BENCH_RERUNS ?? 3);

down();
const cluster = up();
const kubectl = (args: string[], input?: string) =>
  execFileSync(join(cluster.binDir, 'kubectl'), ['--kubeconfig', cluster.kubeconfig, ...args], {
    input,
    encoding: 'utf8',
  });

const work = join(process.env.SD_E2E_STATE_DIR, 'bench');
mkdirSync(work, { recursive: true });
const git = await startGitSshServer({ root: join(work, 'git') });
const envs = ['staging', 'production'];
const files: Record<string, string> = {};
for (const ns of [...envs, 'seldon-logs'])
  files[`${ns}/cm.yaml`] = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n';
const repoUrl = git.createRepo('gitops', files);

const runNs = 'seldon-system';
kubectl(['create', 'namespace', runNs]);
kubectl(['create', 'serviceaccount', 'bench', '-n', runNs]);
kubectl([
  'create',
  'clusterrolebinding',
  'bench',
  '--clusterrole=cluster-admin',
  `--serviceaccount=${runNs}:bench`,
]);
kubectl(
  ['apply', '-f', '-'],
  JSON.stringify({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'gitops-source-creds', namespace: runNs },
    stringData: { 'ssh-privatekey': git.privateKey, known_hosts: git.knownHosts },
  }),
);
const server = JSON.parse(kubectl(['config', 'view', '--raw', '--minify', '-o', 'json'])).clusters[0].cluster;
const token = kubectl(['create', 'token', 'bench', '-n', runNs, '--duration', '1h']).trim();
const kubeconfig = join(work, 'kubeconfig');
writeFileSync(
  kubeconfig,
  JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster: server }],
    users: [{ name: 'u', user: { token } }],
    contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
    'current-context': 'x',
  }),
);
const configFile = join(work, 'config.yaml');
writeFileSync(
  configFile,
  dump({
    argocd: { install: { source: 'file', file: await ensureUpstream('argocd/v3.5.1') } },
    git: { repoUrl },
    environments: { namespaces: envs, waitForSync: false },
  }),
);

interface Row {
  run: string;
  seconds: number;
  requests: number;
  writes: number;
  created: number;
  updated: number;
  unchanged: number;
}

function auditCounts(since: number): { requests: number; writes: number } {
  const events = readFileSync(cluster.auditLog)
    .subarray(since)
    .toString()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .filter(
      (e) => e.stage === 'ResponseComplete' && e.user.username === `system:serviceaccount:${runNs}:bench`,
    );
  const writes = events.filter(
    (e) =>
      ['create', 'update', 'patch', 'delete'].includes(e.verb) &&
      !e.requestURI.includes('dryRun=All') &&
      !/reviews$/.test(e.objectRef?.resource ?? ''),
  );
  return { requests: events.length, writes: writes.length };
}

function measure(name: string): Row {
  const since = readFileSync(cluster.auditLog).length;
  const t0 = process.hrtime.bigint();
  const out = execFileSync(
    process.execPath,
    [
      join(root, 'src/main.ts'),
      'apply',
      '--config',
      configFile,
      '--kubeconfig',
      kubeconfig,
      '--output',
      'json',
    ],
    {
      env: { ...process.env, POD_NAMESPACE: runNs, LOG_LEVEL: 'warn', KUBECONFIG: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const report = JSON.parse(out.toString());
  if (!report.ready) throw new Error(`${name}: not ready`);
  // Let the audit backend flush its buffered events before counting.
  execFileSync('sleep', ['1']);
  return { run: name, seconds, ...auditCounts(since), ...report.changes };
}

/** Peak RSS (MiB) of one `status` run, from GNU time (Debian package `time`), when installed. */
function peakRss(): number | undefined {
  if (!existsSync('/usr/bin/time')) return undefined;
  const res = execFileSync(
    'sh',
    [
      '-c',
      `/usr/bin/time -f %M "${process.execPath}" "${join(root, 'src/main.ts')}" status --config "${configFile}" --kubeconfig "${kubeconfig}" --output json 2>&1 >/dev/null | tail -1`,
    ],
    { env: { ...process.env, POD_NAMESPACE: runNs, LOG_LEVEL: 'silent', KUBECONFIG: '' } },
  );
  return Math.round(Number(res.toString().trim()) / 1024);
}

const rows: Row[] = [measure('fresh apply')];
for (let i = 1; i <= reruns; i++) rows.push(measure(`no-op apply #${i}`));
const rss = peakRss();
await git.stop();
down();

const lines = [
  `Machine: ${execFileSync('nproc').toString().trim()} cores; Kubernetes ${cluster.kubeVersion} (local KWOK cluster); Argo CD v3.5.1 manifest; 2 environments + logging.`,
  '',
  '| run | wall time (s) | API requests | writes | created | updated | unchanged |',
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...rows.map(
    (r) =>
      `| ${r.run} | ${r.seconds.toFixed(1)} | ${r.requests} | ${r.writes} | ${r.created} | ${r.updated} | ${r.unchanged} |`,
  ),
  '',
  rss === undefined ? '' : `Peak RSS of one \`status\` run: ${rss} MiB.`,
];
process.stdout.write(`${lines.join('\n')}\n`);
