/**
 * A single-node kind cluster started through testcontainers, the way `dajudge/kindcontainer` does for Java:
 * the node image runs as one container (systemd as PID 1, kind's own entrypoint), `kubeadm init` runs in it
 * with kind's config conventions (v1beta4), a static ptp/host-local/portmap CNI config serves the single
 * node, the control-plane taint is removed and `admin.conf` is rewritten to the port Docker mapped 6443 to.
 * No `kind` CLI and no host-wide state: several clusters can run at once, each on its own Docker network.
 *
 * The node image is a setting (`KIND_NODE_IMAGE`): the local build (tools/kind/node-image.ts) here, or the
 * official `kindest/node:v1.36.x` anywhere it can be pulled. Privileged where the host allows it (kind's
 * own way); where `docker run --privileged` fails (a capability bounding set without CAP_SYS_RESOURCE,
 * as on this machine) the container gets every other capability, unconfined seccomp/AppArmor/system paths,
 * and a shim that remounts the read-only cgroup v1 hierarchies writable before kind's entrypoint runs.
 *
 * Teardown: `stop()` removes the container (with its `/var` volume) and the network; every container and
 * network carries the label `sd.kind.cluster=<id>`, and a SIGINT/SIGTERM handler removes them on interrupt.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  GenericContainer,
  Network,
  type StartedNetwork,
  type StartedTestContainer,
  Wait,
} from 'testcontainers';
import { docker } from '../images/docker.ts';

// Ryuk (testcontainers' reaper) is an image that cannot be pulled here; teardown is ours.
process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';

export const KIND_LABEL = 'sd.kind.cluster';
const POD_SUBNET = '10.244.0.0/16';
const NODE_POD_RANGE = '10.244.0.0/24';
const SERVICE_SUBNET = '10.96.0.0/16';
const NODE_NAME = 'kind-control-plane';

export interface KindOptions {
  /** Node image; default `KIND_NODE_IMAGE`. */
  image: string;
  /** Kubernetes version kubeadm installs (must match the image's binaries and images). */
  kubernetesVersion: string;
  /** `true`, `false`, or `auto` (default: `KIND_PRIVILEGED`, else probe whether Docker allows it). */
  privileged?: boolean | 'auto';
  log?: (m: string) => void;
}

let privilegedProbe: boolean | undefined;
/** Whether `docker run --privileged` works on this host (cached per process). */
export function privilegedAllowed(image: string): boolean {
  if (privilegedProbe === undefined) {
    const r = docker(['run', '--rm', '--privileged', '--entrypoint', '/bin/true', image], {
      allowFail: true,
    });
    privilegedProbe = r.status === 0;
  }
  return privilegedProbe;
}

const live = new Set<string>();
let handlersInstalled = false;
/** Removes every container and network of the kind cluster `id` (its `sd.kind.cluster` label). */
export function removeKindCluster(id: string): void {
  removeLabelled(id);
}

function removeLabelled(id: string): void {
  const ps = docker(['ps', '-aq', '--filter', `label=${KIND_LABEL}=${id}`], { allowFail: true });
  const ids = ps.stdout.split('\n').filter(Boolean);
  if (ids.length) docker(['rm', '-f', '-v', ...ids], { allowFail: true });
  const nets = docker(['network', 'ls', '-q', '--filter', `label=${KIND_LABEL}=${id}`], { allowFail: true });
  const nids = nets.stdout.split('\n').filter(Boolean);
  if (nids.length) docker(['network', 'rm', ...nids], { allowFail: true });
}
function installInterruptHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      for (const id of live) removeLabelled(id);
      process.kill(process.pid, sig);
    });
  }
}

function kubeadmConfig(o: { version: string; ip: string; host: string; cgroupDriver: string }): string {
  return `apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: ${o.version}
clusterName: kind
controlPlaneEndpoint: ${NODE_NAME}:6443
apiServer:
  certSANs: [localhost, 127.0.0.1, ${NODE_NAME}, ${o.ip}, ${JSON.stringify(o.host)}]
controllerManager:
  extraArgs:
    - name: enable-hostpath-provisioner
      value: "true"
networking:
  podSubnet: ${POD_SUBNET}
  serviceSubnet: ${SERVICE_SUBNET}
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
localAPIEndpoint:
  advertiseAddress: ${o.ip}
  bindPort: 6443
nodeRegistration:
  name: ${NODE_NAME}
  criSocket: unix:///run/containerd/containerd.sock
  kubeletExtraArgs:
    - name: node-ip
      value: ${o.ip}
    - name: provider-id
      value: kind://docker/kind/${NODE_NAME}
  imagePullPolicy: IfNotPresent
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: ${o.cgroupDriver}
cgroupRoot: /kubelet
failSwapOn: false
failCgroupV1: false
containerRuntimeEndpoint: unix:///run/containerd/containerd.sock
imageGCHighThresholdPercent: 100
evictionHard:
  nodefs.available: "0%"
  nodefs.inodesFree: "0%"
  imagefs.available: "0%"
---
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
iptables:
  minSyncPeriod: 1s
conntrack:
  maxPerCore: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
`;
}

/** One node, one range: ptp + host-local + portmap from the node's CNI plugins. */
const CNI_CONFLIST = JSON.stringify(
  {
    cniVersion: '0.4.0',
    name: 'kind-ptp',
    plugins: [
      {
        type: 'ptp',
        ipMasq: true,
        mtu: 1500,
        ipam: { type: 'host-local', ranges: [[{ subnet: NODE_POD_RANGE }]], routes: [{ dst: '0.0.0.0/0' }] },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  },
  null,
  2,
);

export class StartedKindCluster {
  readonly id: string;
  readonly node: StartedTestContainer;
  readonly network: StartedNetwork;
  /** admin.conf with the server at the mapped port on the Docker host. */
  readonly kubeconfig: string;
  /** admin.conf as inside the Docker network (server https://kind-control-plane:6443). */
  readonly internalKubeconfig: string;
  constructor(
    id: string,
    node: StartedTestContainer,
    network: StartedNetwork,
    kubeconfig: string,
    internalKubeconfig: string,
  ) {
    this.id = id;
    this.node = node;
    this.network = network;
    this.kubeconfig = kubeconfig;
    this.internalKubeconfig = internalKubeconfig;
  }

  get containerId(): string {
    return this.node.getId();
  }

  /** Runs a command in the node; throws with its output when it fails. */
  async exec(cmd: string[]): Promise<string> {
    return execOk(this.node, cmd);
  }

  /** `kubectl` in the node, with the admin kubeconfig. */
  async kubectl(...args: string[]): Promise<string> {
    return this.exec(['kubectl', '--kubeconfig=/etc/kubernetes/admin.conf', ...args]);
  }

  /** Like `kind load docker-image`: `docker save` piped into `ctr -n k8s.io images import`. */
  async loadImage(image: string): Promise<void> {
    await loadImageInto(this.containerId, image);
  }

  async stop(): Promise<void> {
    try {
      await this.node.stop({ remove: true, removeVolumes: true, timeout: 5_000 });
    } finally {
      await this.network.stop().catch(() => {});
      removeLabelled(this.id);
      live.delete(this.id);
    }
  }
}

/**
 * Loads a local Docker image into a kind node's containerd the way `kind load docker-image` does
 * (`docker save` piped into `ctr -n k8s.io images import`), under every name it has in Docker.
 */
export function loadImageInto(containerId: string, image: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const save = spawn('docker', ['save', image], { stdio: ['ignore', 'pipe', 'pipe'] });
    const imp = spawn(
      'docker',
      ['exec', '-i', containerId, 'ctr', '-n', 'k8s.io', 'images', 'import', '--digests', '-'],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let err = '';
    save.stderr.on('data', (d: Buffer) => (err += d.toString()));
    imp.stderr.on('data', (d: Buffer) => (err += d.toString()));
    imp.stdout.on('data', () => {});
    save.stdout.pipe(imp.stdin);
    // Both must have ended: the import can see the end of its input and exit before `docker save` reports
    // its own exit (seen: "save null, import 0").
    const exited = (p: ChildProcess) => new Promise<number | null>((r) => p.on('close', (c) => r(c)));
    void Promise.all([exited(save), exited(imp)]).then(([saved, imported]) => {
      if (imported === 0 && saved === 0) resolve();
      else
        reject(
          new Error(`loading ${image} into the kind node failed (save ${saved}, import ${imported}): ${err}`),
        );
    });
  });
}

async function execOk(c: StartedTestContainer, cmd: string[]): Promise<string> {
  const r = await c.exec(cmd);
  if (r.exitCode !== 0) {
    throw new Error(
      `${cmd.join(' ')} exited ${r.exitCode}:\n${r.output.trim().split('\n').slice(-40).join('\n')}`,
    );
  }
  return r.output;
}

async function until(what: string, timeoutMs: number, f: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await f().catch(() => false)) return;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

export class KindContainer extends GenericContainer {
  readonly clusterId = randomBytes(4).toString('hex');
  private readonly opts: KindOptions;
  private readonly privileged: boolean;

  constructor(opts: KindOptions) {
    super(opts.image);
    this.opts = opts;
    const p = opts.privileged ?? envPrivileged();
    this.privileged = p === 'auto' ? privilegedAllowed(opts.image) : p;
    this.withName(`sd-kind-${this.clusterId}`)
      .withHostname(NODE_NAME)
      .withLabels({ [KIND_LABEL]: this.clusterId })
      .withExposedPorts(6443)
      .withTmpFs({ '/run': 'rw', '/tmp': 'rw' })
      .withEnvironment({ container: 'docker' })
      .withPullPolicy({ shouldPull: () => false })
      .withStartupTimeout(120_000)
      .withWaitStrategy(
        // systemd reports no status on a console that is not a terminal: ask it.
        Wait.forSuccessfulCommand(
          "systemctl is-system-running 2>/dev/null | grep -qE '^(running|degraded)$'",
        ),
      );
    if (this.privileged) {
      this.withPrivilegedMode();
    } else {
      this.withAddedCapabilities('ALL')
        .withDroppedCapabilities('SYS_RESOURCE')
        .withSecurityOpt('seccomp=unconfined', 'apparmor=unconfined')
        .withEntrypoint(['/kind/bin/sd-cgroup-shim.sh', '/sbin/init']);
      // `--security-opt systempaths=unconfined` is the CLI's spelling of empty masked/read-only paths.
      this.hostConfig.MaskedPaths = [];
      this.hostConfig.ReadonlyPaths = [];
      // Privileged pods (kube-proxy) get "a *:* rwm" in their devices cgroup: the node's must allow it.
      this.hostConfig.DeviceCgroupRules = ['a *:* rwm'];
      // kubelet reads the kernel log (OOM events); --privileged would bring every host device.
      if (existsSync('/dev/kmsg')) {
        this.hostConfig.Devices = [
          { PathOnHost: '/dev/kmsg', PathInContainer: '/dev/kmsg', CgroupPermissions: 'r' },
        ];
      }
    }
    if (existsSync('/lib/modules'))
      this.withBindMounts([{ source: '/lib/modules', target: '/lib/modules', mode: 'ro' }]);
    // What the builder has no method for: kind's private cgroup namespace and the anonymous /var volume.
    // (dockerode's HostConfig type predates CgroupnsMode; Docker's API has it since 1.41.)
    (this.hostConfig as { CgroupnsMode?: string }).CgroupnsMode = 'private';
    this.createOpts.Volumes = { ...(this.createOpts.Volumes ?? {}), '/var': {} };
  }

  get isPrivileged(): boolean {
    return this.privileged;
  }

  override async start(): Promise<StartedTestContainer> {
    throw new Error('use startCluster()');
  }

  async startCluster(): Promise<StartedKindCluster> {
    const log = this.opts.log ?? (() => {});
    installInterruptHandlers();
    live.add(this.clusterId);
    const network = await new Network().start();
    // Label the network for the interrupt sweep (testcontainers names it; docker cannot relabel, so record it).
    let node: StartedTestContainer | undefined;
    try {
      this.withNetwork(network).withNetworkAliases(NODE_NAME, `sd-kind-${this.clusterId}`);
      const t0 = Date.now();
      node = await super.start();
      log(
        `node container up, systemd running in ${((Date.now() - t0) / 1000).toFixed(1)}s (privileged: ${this.privileged})`,
      );
      const ip = node.getIpAddress(network.getName());
      // Registry mirrors in /etc/containerd/certs.d (read at every pull), as kind's containerdConfigPatches
      // set for a local registry: tools/kind/registry.ts writes them.
      const patches = [
        `printf '\\n[plugins."io.containerd.grpc.v1.cri".registry]\\n  config_path = "/etc/containerd/certs.d"\\n' >> /etc/containerd/config.toml`,
      ];
      if (!this.privileged) {
        // Lowering an oom_score_adj needs CAP_SYS_RESOURCE, the capability this container lacks: runc would
        // fail every pod ("can't get final child's PID from pipe") writing -998. containerd's rootless switch
        // keeps pods' scores at or above its own instead.
        patches.push(
          "sed -i 's/restrict_oom_score_adj = false/restrict_oom_score_adj = true/' /etc/containerd/config.toml",
        );
      }
      await execOk(node, ['sh', '-c', `${patches.join(' && ')} && systemctl restart containerd`]);
      await until('containerd', 60_000, async () => (await node!.exec(['ctr', 'version'])).exitCode === 0);
      const preload = await node.exec(['test', '-f', '/kind/images/control-plane.tar']);
      if (preload.exitCode === 0) {
        const t1 = Date.now();
        await execOk(node, [
          'ctr',
          '-n',
          'k8s.io',
          'images',
          'import',
          '--digests',
          '/kind/images/control-plane.tar',
        ]);
        log(`control-plane images imported in ${((Date.now() - t1) / 1000).toFixed(1)}s`);
      }
      const cgroupDriver = 'systemd';
      await node.copyContentToContainer([
        {
          content: kubeadmConfig({
            version: this.opts.kubernetesVersion,
            ip,
            host: node.getHost(),
            cgroupDriver,
          }),
          target: '/kind/kubeadm.conf',
        },
        { content: CNI_CONFLIST, target: '/etc/cni/net.d/10-kind-ptp.conflist' },
      ]);
      // The official image's default CNI (kindnet) would be applied from /kind/manifests; the static
      // conflist serves the single node on both images, so the paths are the same.
      await execOk(node, ['rm', '-f', '/kind/manifests/default-cni.yaml']);
      const t2 = Date.now();
      await execOk(node, [
        'kubeadm',
        'init',
        '--skip-phases=preflight',
        '--config=/kind/kubeadm.conf',
        '--skip-token-print',
        '-v=1',
      ]);
      log(`kubeadm init in ${((Date.now() - t2) / 1000).toFixed(1)}s`);
      const k = (...a: string[]) =>
        execOk(node!, ['kubectl', '--kubeconfig=/etc/kubernetes/admin.conf', ...a]);
      await k('taint', 'nodes', '--all', 'node-role.kubernetes.io/control-plane-');
      await k('wait', '--for=condition=Ready', 'node', '--all', '--timeout=180s');
      // Pods need their namespace's ServiceAccount, which the controller manager makes a moment after
      // start: until then a pod in `default` is refused ("serviceaccount default not found").
      await until(
        'the default ServiceAccount',
        60_000,
        async () =>
          (
            await node!.exec([
              'kubectl',
              '--kubeconfig=/etc/kubernetes/admin.conf',
              'get',
              'serviceaccount',
              'default',
              '-n',
              'default',
            ])
          ).exitCode === 0,
      );
      const internal = await execOk(node, ['cat', '/etc/kubernetes/admin.conf']);
      const external = internal.replace(
        /server: https:\/\/[^\s]+/,
        `server: https://${node.getHost()}:${node.getMappedPort(6443)}`,
      );
      return new StartedKindCluster(this.clusterId, node, network, external, internal);
    } catch (e) {
      if (node && process.env.KIND_KEEP_ON_FAILURE) {
        log(`KIND_KEEP_ON_FAILURE: node ${node.getId()} kept`);
        throw e;
      }
      if (node) {
        const logs = await node
          .exec(['journalctl', '--no-pager', '-n', '60', '-u', 'kubelet', '-u', 'containerd'])
          .catch(() => undefined);
        if (logs) log(`node journal (last lines):\n${logs.output}`);
        await node.stop({ remove: true, removeVolumes: true, timeout: 2_000 }).catch(() => {});
      }
      await network.stop().catch(() => {});
      removeLabelled(this.clusterId);
      live.delete(this.clusterId);
      throw e;
    }
  }
}

function envPrivileged(): boolean | 'auto' {
  const v = process.env.KIND_PRIVILEGED;
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  return 'auto';
}
