/**
 * `npm run demo -- --kind`: the main job as users see it, on real pods. Starts (or reuses) the kind cluster
 * of `npm run cluster:up -- --kind`, builds the project image from the Dockerfile and Argo CD's images and
 * loads them into the node, serves a GitOps repository from a real SSH Git server in a container on the
 * cluster's network (reached by name, as a site's Git host is), creates the Git credentials Secret, and runs
 * `helm upgrade --install` of the chart with examples/config.yaml (its repoUrl pointed at that server): the
 * hook Job installs Argo CD, which rolls out and syncs every environment. Prints the Job's log, the report
 * and the Applications. Run it twice: the second run changes nothing.
 *
 * The Git host stays up with the cluster (Argo CD keeps polling it) until `npm run cluster:down`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dump, load } from 'js-yaml';
import type { ReadinessReport } from '../src/report/types.ts';
import { formatText } from '../src/report/writers.ts';
import { runningKind, upKind } from '../tools/cluster/local.ts';
import { sourceSecret, startGitSshServer } from '../tools/git/git-ssh-server.ts';
import { GIT_HOST_NAME, startGitHost } from '../tools/hosts/git-host.ts';
import { docker } from '../tools/images/docker.ts';
import { ensureImages } from '../tools/images/project.ts';
import { ensureAll } from '../tools/manifests.ts';

const root = join(import.meta.dirname, '..');
const say = (m: string) => process.stderr.write(`[demo] ${m}\n`);

await ensureAll((line) => say(line));
const cluster = runningKind() ?? (await upKind());
const kubectl = (args: string[], input?: string) =>
  execFileSync(join(cluster.binDir, 'kubectl'), ['--kubeconfig', cluster.kubeconfig, ...args], {
    input,
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'inherit'],
  });
const helm = (args: string[]) =>
  spawnSync(join(cluster.binDir, 'helm'), [...args, '--kubeconfig', cluster.kubeconfig], {
    stdio: ['ignore', 'inherit', 'inherit'],
  }).status ?? 1;

const t0 = Date.now();
const images = await ensureImages({
  kind: { container: cluster.container, registry: cluster.registry },
  argocd: true,
});
say(`images built and loaded in ${((Date.now() - t0) / 1000).toFixed(0)}s`);

// The Git host: one container per cluster, kept (Argo CD polls it); its keys too, so a re-run is a no-op.
const stateDir = join(root, '.e2e', 'demo-kind');
mkdirSync(stateDir, { recursive: true });
docker(['rm', '-f', `sd-git-${cluster.id}`], { allowFail: true });
const gitHost = await startGitHost({
  network: cluster.network,
  clusterId: cluster.id,
  dir: stateDir,
  name: `sd-git-${cluster.id}`,
  persistent: true,
  log: say,
});
const git = await startGitSshServer({ on: gitHost, root: join(stateDir, 'git'), port: 2222 });

const config = load(readFileSync(join(root, 'examples/config.yaml'), 'utf8')) as {
  git: { repoUrl: string };
  environments: { namespaces: ({ name: string } | string)[]; logging?: { namespace?: string } };
  argocd: {
    namespace?: string;
    version?: string;
    install: { source?: string; file?: string };
    components?: Record<string, { replicas?: number }>;
  };
  seldonDeploy?: { namespace?: string };
};
const envs = config.environments.namespaces.map((n) => (typeof n === 'string' ? n : n.name));
const files: Record<string, string> = {};
for (const ns of [...envs, config.environments.logging?.namespace ?? 'seldon-logs']) {
  files[`${ns}/welcome.yaml`] =
    `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: gitops-welcome\ndata:\n  environment: ${ns}\n`;
}
// A repository that exists keeps its history: a re-run must not make a new commit.
const bare = join(stateDir, 'git', 'repos', 'gitops.git');
config.git.repoUrl =
  spawnSync('test', ['-d', bare]).status === 0 ? `${git.baseUrl}${bare}` : git.createRepo('gitops', files);
// In a pod the manifest comes from the image (bundled); waiting for the sync shows Argo CD really working.
config.argocd.install = { source: 'bundled' };
const runNs = config.seldonDeploy?.namespace ?? 'seldon-system';

kubectl(['apply', '-f', '-'], kubectl(['create', 'namespace', runNs, '--dry-run=client', '-o', 'yaml']));
// dex (Argo CD's own SSO server) cannot be built from the Go module proxy (tools/argocd/README.md).
// Without its image the demo runs it at zero replicas through the product's own `argocd.components`
// setting, as a site that does not use dex would.
if (images.argocd.missing.some((i) => i.startsWith('ghcr.io/dexidp/dex:'))) {
  config.argocd.components = { ...config.argocd.components, 'argocd-dex-server': { replicas: 0 } };
  say('no dex image: argocd.components sets argocd-dex-server to zero replicas (no SSO in the demo)');
}
kubectl(['apply', '-f', '-'], JSON.stringify(sourceSecret(git, runNs)));
const [repository, tag] = [
  images.project.upstream.replace(/:[^:/]+$/, ''),
  images.project.upstream.replace(/^.*:/, ''),
];
const valuesFile = join(stateDir, 'values.yaml');
writeFileSync(
  valuesFile,
  dump({
    image: { repository, tag, pullPolicy: 'Never' },
    config: { ...config, environments: { ...config.environments, waitForSync: true } },
  }),
);

const release = 'sd-gitops-bootstrap';
process.stderr.write(
  `\n$ helm upgrade --install ${release} helm/sd-gitops-bootstrap -n ${runNs} -f ${valuesFile} --wait --timeout 20m\n\n`,
);
const t1 = Date.now();
const code = helm([
  'upgrade',
  '--install',
  release,
  join(root, 'helm', 'sd-gitops-bootstrap'),
  '-n',
  runNs,
  '-f',
  valuesFile,
  '--wait',
  '--timeout',
  '20m',
]);
say(`helm: exit ${code} in ${((Date.now() - t1) / 1000).toFixed(0)}s`);
const job = release; // the chart's fullname: the release name contains the chart's
const logs = spawnSync(
  join(cluster.binDir, 'kubectl'),
  ['--kubeconfig', cluster.kubeconfig, '-n', runNs, 'logs', `job/${job}`, '--tail=60'],
  { encoding: 'utf8' },
);
process.stderr.write(`\n$ kubectl -n ${runNs} logs job/${job}\n${logs.stdout}${logs.stderr}\n`);
const report = spawnSync(
  join(cluster.binDir, 'kubectl'),
  [
    '--kubeconfig',
    cluster.kubeconfig,
    '-n',
    runNs,
    'get',
    'configmap',
    'sd-gitops-bootstrap-report',
    '-o',
    'jsonpath={.data.report\\.json}',
  ],
  { encoding: 'utf8' },
);
if (report.status === 0 && report.stdout.trim())
  process.stdout.write(`${formatText(JSON.parse(report.stdout) as ReadinessReport)}\n`);
process.stderr.write(
  `\n$ kubectl -n argocd get applications\n${kubectl(['-n', 'argocd', 'get', 'applications.argoproj.io'])}\n` +
    `Git host: ${GIT_HOST_NAME} (a container on the cluster's network), repository ${config.git.repoUrl}\n` +
    `Argo CD UI: kubectl --kubeconfig ${cluster.kubeconfig} -n argocd port-forward svc/argocd-server 8080:80, ` +
    'then http://localhost:8080/argocd (user admin; password: ' +
    `kubectl -n ${runNs} get secret argocd-admin-password -o jsonpath='{.data.password}' | base64 -d)\n` +
    'Stop everything: npm run cluster:down\n',
);
process.exitCode = code;
