/**
 * `npm run demo`: a newcomer's first run. Starts the local cluster if it is not up, serves a GitOps
 * repository from a real SSH Git server on loopback, creates the Git credentials Secret the config names,
 * and runs `sd-gitops-bootstrap apply` with examples/config.yaml (its repoUrl pointed at that server).
 * Prints the readiness report. Run it twice: the second run changes nothing.
 *
 * `npm run demo -- --kind`: the same on real pods, through the Helm chart (scripts/demo-kind.ts).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dump, load } from 'js-yaml';
import { run } from '../src/main.ts';
import { ensureUpstream } from '../src/manifests/upstream.ts';
import { up } from '../tools/cluster/local.ts';
import { sourceSecret, startGitSshServer } from '../tools/git/git-ssh-server.ts';
import { ensureAll } from '../tools/manifests.ts';

const root = join(import.meta.dirname, '..');
if (process.argv.includes('--kind')) {
  // Real pods: the chart's hook Job installs Argo CD, which syncs every environment (scripts/demo-kind.ts).
  await import('./demo-kind.ts');
  process.exit();
}
// The pinned upstream files (Argo CD's manifest for `install.source: bundled`, Istio's CRDs), into the
// cache outside the repository: a fresh clone needs nothing beside it.
await ensureAll((line) => process.stderr.write(`[manifests] ${line}\n`));
const cluster = up();
const kubectl = (args: string[], input?: string) =>
  execFileSync(join(cluster.binDir, 'kubectl'), ['--kubeconfig', cluster.kubeconfig, ...args], {
    input,
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'inherit'],
  });

// The repository: one folder per environment, each with a real manifest Argo CD would sync.
const stateDir = join(root, '.e2e', 'demo');
mkdirSync(stateDir, { recursive: true });
// A fixed port and a kept host key: the repoUrl and known_hosts stay the same, so a second demo run is a
// true no-op.
const git = await startGitSshServer({ root: join(stateDir, 'git'), port: 2222 });
try {
  const config = load(readFileSync(join(root, 'examples/config.yaml'), 'utf8')) as {
    git: { repoUrl: string };
    environments: { namespaces: ({ name: string } | string)[]; logging?: { namespace?: string } };
    argocd: { install: { file?: string } };
    seldonDeploy?: { namespace?: string };
  };
  const envs = config.environments.namespaces.map((n) => (typeof n === 'string' ? n : n.name));
  const folders = [...envs, config.environments.logging?.namespace ?? 'seldon-logs'];
  const files: Record<string, string> = {};
  for (const ns of folders) {
    files[`${ns}/welcome.yaml`] =
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: gitops-welcome\ndata:\n  environment: ${ns}\n`;
  }
  config.git.repoUrl = git.createRepo('gitops', files);
  if (config.argocd.install.file) {
    config.argocd.install.file = join(root, 'examples', config.argocd.install.file);
  }
  const configFile = join(stateDir, 'config.yaml');
  writeFileSync(configFile, dump(config));

  // What a platform engineer prepares before `helm install`: Seldon Deploy's namespace (the bootstrap runs
  // there), the Git credentials Secret, and — optional — Istio's CRDs so the VirtualService is made too.
  const runNs = config.seldonDeploy?.namespace ?? 'seldon-system';
  kubectl(['apply', '-f', '-'], kubectl(['create', 'namespace', runNs, '--dry-run=client', '-o', 'yaml']));
  kubectl(['apply', '--server-side', '-f', await ensureUpstream('istio/networking-crds')]);
  kubectl(['apply', '-f', '-'], JSON.stringify(sourceSecret(git, runNs)));

  process.stderr.write(`\n$ sd-gitops-bootstrap apply --config ${configFile}\n\n`);
  const code = await run(['apply', '--config', configFile, '--kubeconfig', cluster.kubeconfig], {
    env: { ...process.env, POD_NAMESPACE: runNs, LOG_FORMAT: process.env.LOG_FORMAT ?? 'pretty' },
    stdout: process.stdout,
    stderr: process.stderr,
  });
  process.stderr.write(
    `\nexit code ${code}. The report is also in the ConfigMap:\n` +
      `  kubectl --kubeconfig ${cluster.kubeconfig} -n ${runNs} get configmap sd-gitops-bootstrap-report -o jsonpath='{.data.report\\.json}'\n` +
      `Admin password (generated once): kubectl -n ${runNs} get secret argocd-admin-password -o jsonpath='{.data.password}' | base64 -d\n` +
      'KWOK simulates the pods, so the Applications stay unsynced here (waitForSync: false in the example).\n',
  );
  process.exitCode = code;
} finally {
  await git.stop();
}
