/**
 * The local test cluster behind `npm run cluster:up` / `npm run cluster:down` (scripts/cluster.ts) and the
 * e2e project's global setup.
 *
 * A real control plane (etcd, kube-apiserver with RBAC + admission + an audit log, kube-controller-manager,
 * kube-scheduler) built from the upstream Go modules at pinned versions (tools/cluster), started by
 * kwokctl's `binary` runtime with every binary pointing at those local builds, and KWOK simulating nodes
 * and pod lifecycles. Nothing is downloaded: no image registry or release site is reachable here.
 *
 * `cluster:up -- --kind` starts a kind cluster instead (tools/kind/cluster.ts, the same start as the
 * e2e-kind tier's: one node container through testcontainers, from the offline node image or `KIND_NODE_IMAGE`):
 * pods really run there, and `npm run images` loads the images into it.
 *
 * State lives in `.e2e/` (git-ignored): `kubeconfig` (admin), `cluster.json` (paths the tests read,
 * e.g. the audit log), and kwokctl's work directory, or `kind.json` for kind. Both commands are safe to
 * run twice.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { docker } from '../images/docker.ts';
import { startKindCluster } from '../kind/cluster.ts';
import { removeKindCluster } from '../kind/kind-container.ts';
import { KUBE_VERSION } from '../versions.ts';
import { toolsBin } from './bin.ts';

const root = resolve(import.meta.dirname, '../..');
// SD_E2E_STATE_DIR lets a second cluster run beside the usual one (e.g. `npm run bench` on a fresh cluster
// while the test cluster keeps running). Each state directory is its own cluster.
const stateDir = resolve(process.env.SD_E2E_STATE_DIR ?? join(root, '.e2e'));
const kwokWorkdir = join(stateDir, 'kwok');
const clusterName = process.env.SD_E2E_STATE_DIR ? `sd-${basename(stateDir).replace(/^\.+/, '')}` : 'sd-e2e';
const clusterDir = join(kwokWorkdir, 'clusters', clusterName);
const kubeconfigPath = join(stateDir, 'kubeconfig');
const infoPath = join(stateDir, 'cluster.json');
const kindInfoPath = join(stateDir, 'kind.json');

/** What `up` leaves for the tests and benchmarks (`.e2e/cluster.json`). */
export interface ClusterInfo {
  kubeconfig: string;
  auditLog: string;
  binDir: string;
  kubeVersion: string;
  mode: 'kwok' | 'kind';
}

/** What `up --kind` leaves in `.e2e/kind.json`. */
export interface KindClusterInfo {
  /** The cluster id: the `sd.kind.cluster` label of its containers. */
  id: string;
  container: string;
  network: string;
  kubeconfig: string;
  /** admin.conf as seen from containers on the cluster's network. */
  internalKubeconfig: string;
  binDir: string;
  /** `localhost:<port>` of the cluster's local registry (the node pulls the mirrored registries from it). */
  registry: string;
}

function log(msg: string): void {
  process.stderr.write(`[cluster] ${msg}\n`);
}

function kwokctl(bin: string, args: string[], opts: { check?: boolean } = {}): number {
  const res = spawnSync(join(bin, 'kwokctl'), args, {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: {
      ...process.env,
      KWOK_WORKDIR: kwokWorkdir,
      KWOK_KUBE_VERSION: KUBE_VERSION,
      KWOK_KUBECTL_BINARY: join(bin, 'kubectl'),
    },
  });
  if (opts.check !== false && res.status !== 0) {
    throw new Error(`kwokctl ${args.join(' ')} failed (exit ${res.status})`);
  }
  return res.status ?? 1;
}

function kubectl(bin: string, args: string[], input?: string): string {
  return execFileSync(join(bin, 'kubectl'), ['--kubeconfig', kubeconfigPath, ...args], {
    encoding: 'utf8',
    input,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

function isUp(bin: string): boolean {
  if (!existsSync(kubeconfigPath) || !existsSync(infoPath)) return false;
  const res = spawnSync(join(bin, 'kubectl'), ['--kubeconfig', kubeconfigPath, 'get', '--raw', '/readyz'], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  return res.status === 0 && res.stdout.trim() === 'ok';
}

/**
 * The namespace whose ServiceAccounts are audited with bodies (RequestResponse): the reliability suite
 * (test/e2e/reliability.test.ts) runs the bootstrap as one of them and scans every non-Secret request and
 * response for secret values. Secrets themselves stay at Metadata (their bodies are the secrets), and
 * CRDs too (megabytes per run, never a secret).
 */
export const BODY_AUDITED_NAMESPACE = 'sd-reliability';

/**
 * Audit policy: request metadata (user, verb, resource, status, never bodies) for every request, so tests
 * and benchmarks can count requests and writes per user. Watches and the control plane's own reads are
 * left out: they are noise and would make the file grow without bound. ServiceAccounts of
 * BODY_AUDITED_NAMESPACE get bodies too.
 */
export const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: None
    verbs: [watch]
  - level: None
    users: [system:kube-scheduler, system:kube-controller-manager, system:apiserver]
    verbs: [get, list]
  - level: None
    nonResourceURLs: ['/healthz*', '/readyz*', '/livez*', '/metrics']
  - level: Metadata
    userGroups: ['system:serviceaccounts:${BODY_AUDITED_NAMESPACE}']
    resources:
      - { group: '', resources: [secrets] }
      - { group: apiextensions.k8s.io, resources: [customresourcedefinitions] }
  - level: RequestResponse
    userGroups: ['system:serviceaccounts:${BODY_AUDITED_NAMESPACE}']
  - level: Metadata
`;

/** A KWOK node: the kwok controller (kwokctl's default) manages nodes annotated kwok.x-k8s.io/node=fake. */
function kwokNode(name: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'kubernetes.io/role': 'agent',
        type: 'kwok',
      },
    },
    spec: {},
    status: {
      allocatable: { cpu: '32', memory: '256Gi', pods: '250' },
      capacity: { cpu: '32', memory: '256Gi', pods: '250' },
      nodeInfo: { architecture: 'amd64', kubeletVersion: 'fake', operatingSystem: 'linux' },
      phase: 'Running',
    },
  });
}

export function up(): ClusterInfo {
  const t0 = Date.now();
  const bin = toolsBin();
  if (existsSync(kindInfoPath)) {
    log('stopping the kind cluster in .e2e first');
    downKind();
  }
  if (isUp(bin)) {
    log(`already running (${kubeconfigPath})`);
    return JSON.parse(readFileSync(infoPath, 'utf8')) as ClusterInfo;
  }
  // A half-started or stopped cluster from an earlier run: remove it first so `up` always converges.
  if (existsSync(clusterDir)) {
    log('removing a stale cluster');
    kwokctl(bin, ['delete', 'cluster', '--name', clusterName], { check: false });
  }
  rmSync(stateDir, { recursive: true, force: true });
  mkdirSync(stateDir, { recursive: true });
  const policyPath = join(stateDir, 'audit-policy.yaml');
  writeFileSync(policyPath, AUDIT_POLICY);

  log(`starting Kubernetes ${KUBE_VERSION} from ${bin}`);
  kwokctl(bin, [
    'create',
    'cluster',
    '--name',
    clusterName,
    '--runtime',
    'binary',
    '--etcd-binary',
    join(bin, 'etcd'),
    '--kube-apiserver-binary',
    join(bin, 'kube-apiserver'),
    '--kube-controller-manager-binary',
    join(bin, 'kube-controller-manager'),
    '--kube-scheduler-binary',
    join(bin, 'kube-scheduler'),
    '--kwok-controller-binary',
    join(bin, 'kwok'),
    '--kube-authorization=true',
    '--kube-admission=true',
    '--kube-audit-policy',
    policyPath,
    '--kubeconfig',
    join(stateDir, 'kwokctl-merged-kubeconfig'),
    '--wait',
    '2m',
    '--quiet-pull',
  ]);
  writeFileSync(kubeconfigPath, readFileSync(join(clusterDir, 'kubeconfig.yaml')), { mode: 0o600 });
  kubectl(bin, ['apply', '-f', '-'], kwokNode('kwok-node-0'));
  const info: ClusterInfo = {
    kubeconfig: kubeconfigPath,
    auditLog: join(clusterDir, 'logs', 'audit.log'),
    binDir: bin,
    kubeVersion: KUBE_VERSION,
    mode: 'kwok',
  };
  writeFileSync(infoPath, `${JSON.stringify(info, null, 2)}\n`);
  log(`up in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  process.stderr.write(
    `\nUse it:\n  export KUBECONFIG=${kubeconfigPath}\n  ${join(bin, 'kubectl')} get nodes\n` +
      `Audit log: ${info.auditLog}\nStop it: npm run cluster:down\n`,
  );
  return info;
}

/** The kind cluster `up --kind` started, if its node container still runs. */
export function runningKind(): KindClusterInfo | undefined {
  if (!existsSync(kindInfoPath)) return undefined;
  const info = JSON.parse(readFileSync(kindInfoPath, 'utf8')) as KindClusterInfo;
  const r = docker(['inspect', '--format', '{{.State.Running}}', info.container], { allowFail: true });
  return r.stdout.trim() === 'true' ? info : undefined;
}

/** `cluster:up -- --kind`: one kind node through testcontainers, left running until `cluster:down`. */
export async function upKind(): Promise<KindClusterInfo> {
  const t0 = Date.now();
  const bin = toolsBin();
  if (existsSync(clusterDir)) down();
  const running = runningKind();
  if (running) {
    log(`kind cluster ${running.id} already running (${running.kubeconfig})`);
    return running;
  }
  if (existsSync(kindInfoPath)) downKind();
  const { cluster, registry, kubeconfig, internalKubeconfig } = await startKindCluster({
    dir: stateDir,
    log,
  });
  const info: KindClusterInfo = {
    id: cluster.id,
    container: cluster.containerId,
    network: cluster.network.getName(),
    kubeconfig,
    internalKubeconfig,
    binDir: bin,
    registry: registry.pushTo,
  };
  writeFileSync(kindInfoPath, `${JSON.stringify(info, null, 2)}\n`);
  log(`kind cluster ${cluster.id} up in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  process.stderr.write(
    `\nUse it:\n  export KUBECONFIG=${kubeconfigPath}\n  ${join(bin, 'kubectl')} get nodes\n` +
      `Images: npm run images (builds the project's and Argo CD's: the first loaded into the node, Argo CD's\n  pushed to the cluster's registry)\n` +
      'Stop it: npm run cluster:down\n',
  );
  return info;
}

function downKind(): void {
  if (existsSync(kindInfoPath)) {
    const info = JSON.parse(readFileSync(kindInfoPath, 'utf8')) as KindClusterInfo;
    removeKindCluster(info.id);
  }
}

export function down(): void {
  downKind();
  if (existsSync(clusterDir)) {
    const bin = toolsBin();
    kwokctl(bin, ['delete', 'cluster', '--name', clusterName], { check: false });
  }
  // kwokctl stops the processes it recorded; anything still bound to this state directory is ours too.
  spawnSync('pkill', ['-f', kwokWorkdir]);
  rmSync(stateDir, { recursive: true, force: true });
  log('down');
}
