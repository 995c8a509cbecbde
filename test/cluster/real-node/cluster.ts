/**
 * The real-node cluster: the KWOK cluster's control plane (same binaries, RBAC, admission, audit policy) and
 * one real node instead of KWOK — kubelet and kube-proxy from the same pinned Kubernetes build, Debian's
 * containerd (CRI, on its own socket and state), runc and CNI plugins, CoreDNS as a pod, and Debian's
 * docker-registry standing in for every upstream registry. kind's job, from parts that need no image pull.
 *
 * kwokctl cannot start this: the API server must advertise a node address (the `kubernetes` Service's
 * endpoint, reached from pods) with a serving certificate for that address and the Service's ClusterIP. So
 * this file starts every process itself (pid files under the state directory) and `downRealNode` stops
 * them, removes every pod sandbox through CRI, and undoes every host-wide change (see host.ts).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import * as cfg from './configs.ts';
import {
  allowPodForwarding,
  createCgroupRoot,
  ensureBridgeNetfilter,
  freePort,
  KUBELET_SYSCTLS,
  leftoverCgroups,
  leftoverIptables,
  linkExists,
  logLinksInto,
  mountsUnder,
  nodeAddress,
  readHostRecord,
  readSysctls,
  removeBridge,
  removeCgroupRoot,
  removeHostRecord,
  removeLogLinksInto,
  removeMarkedRules,
  removeNodeIptables,
  restoreSysctls,
  unmountUnder,
  writeHostRecord,
} from './host.ts';
import { pushBinaryImage, removeRegistryTags } from './images.ts';
import {
  CGROUP_ROOT,
  CNI_BRIDGE,
  CONTAINER_LOG_LINKS,
  COREDNS_IMAGE,
  HOST_LOCK,
  HOST_RECORD,
  KUBERNETES_SERVICE_IP,
  type Layout,
  layout,
  NODE_NAME,
  PAUSE_IMAGE,
} from './layout.ts';
import { makePki, pem } from './pki.ts';
import {
  isRunning,
  logTail,
  type PidRecord,
  pidRecords,
  pidsWithArg,
  record,
  startProcess,
  stopPid,
  stopProcess,
  waitFor,
} from './processes.ts';

const here = dirname(fileURLToPath(import.meta.url));
const NODE_TOOLS_BUILD = resolve(here, '../tools/node/build.sh');

export interface RealNodeInfo {
  kubeconfig: string;
  auditLog: string;
  binDir: string;
  kubeVersion: string;
  mode: 'real-node';
  /** host:port of the local registry (`localRef` names images there). */
  registry: string;
  /** The API server's URL (the node address: what the `kubernetes` Service points at). */
  server: string;
  stateDir: string;
  nodeName: string;
  nodeIP: string;
  /** coredns, crictl, pause. */
  nodeBinDir: string;
}

export interface UpOptions {
  stateDir: string;
  /** The pinned Kubernetes binaries (test/cluster/tools/build.sh). */
  binDir: string;
  kubeVersion: string;
  /** The audit policy of the KWOK cluster, so both modes audit the same requests. */
  auditPolicy: string;
  /** Prefer this registry port (keeps `<registry>/…` references valid across a down/up). */
  registryPort?: number;
  /** When another checkout's real node holds the host: wait this long for it to stop (default: fail at once). */
  waitForHostMs?: number;
  log?: (msg: string) => void;
}

/** Processes in start order; `down` stops them in reverse. */
const COMPONENTS = [
  'registry',
  'etcd',
  'kube-apiserver',
  'containerd',
  'kube-controller-manager',
  'kube-scheduler',
  'kubelet',
  'kube-proxy',
] as const;

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * Whether `stateDir` holds a real node (running or not): its cluster.json says so, it owns the host record,
 * or processes were recorded there.
 */
export function hasRealNodeState(stateDir: string): boolean {
  const l = layout(resolve(stateDir));
  return !!readInfo(l) || readHostRecord()?.stateDir === l.stateDir || existsSync(l.node);
}

/** `downRealNode` for synchronous callers (scripts/cluster.ts): runs it as a child process. */
export function stopRealNodeSync(stateDir: string): void {
  const r = spawnSync(process.execPath, [join(here, 'cli.ts'), 'down', resolve(stateDir)], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (r.status !== 0)
    throw new Error(`stopping the real-node cluster in ${stateDir} failed (exit ${r.status})`);
}

/** Builds or reuses coredns, crictl and pause; returns their directory. */
export function nodeToolsBin(): string {
  const out = execFileSync(NODE_TOOLS_BUILD, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return out.trim().split('\n').pop()!;
}

/**
 * What this host lacks for a real node, as one line naming what to install; undefined when nothing is.
 */
export function realNodeMissing(): string | undefined {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('root (containerd, the kubelet and iptables need it)');
  const which = (c: string) => spawnSync('sh', ['-c', `command -v ${c}`], { env: { PATH } }).status === 0;
  const pkgs: [string, string][] = [
    ['containerd', 'containerd'],
    ['containerd-shim-runc-v2', 'containerd'],
    ['runc', 'runc'],
    ['docker-registry', 'docker-registry'],
    ['debootstrap', 'debootstrap'],
    ['docker', 'docker.io'],
    ['iptables', 'iptables'],
    ['openssl', 'openssl'],
    ['ip', 'iproute2'],
  ];
  const apt = new Set<string>();
  for (const [cmd, pkg] of pkgs) if (!which(cmd)) apt.add(pkg);
  for (const p of ['bridge', 'host-local', 'portmap', 'loopback']) {
    if (!existsSync(`/usr/lib/cni/${p}`)) apt.add('containernetworking-plugins');
  }
  if (apt.size) missing.push(`apt-get install ${[...apt].join(' ')}`);
  else if (spawnSync('docker', ['info'], { stdio: 'ignore' }).status !== 0) {
    missing.push('a running Docker daemon (start dockerd)');
  }
  return missing.length ? `the real-node cluster needs: ${missing.join('; ')}` : undefined;
}

// ---------------------------------------------------------------- talking to the API server

function apiGet<T>(l: Layout, server: string, path: string): Promise<T> {
  const admin = pem(l.pki, 'admin');
  return new Promise((resolvePromise, reject) => {
    const req = request(
      `${server}${path}`,
      { ca: readFileSync(join(l.pki, 'ca.crt')), cert: admin.cert, key: admin.key, timeout: 5000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => {
          if (res.statusCode === 200) {
            try {
              resolvePromise((res.headers['content-type']?.includes('json') ? JSON.parse(body) : body) as T);
            } catch (err) {
              reject(err);
            }
          } else reject(new Error(`GET ${path}: HTTP ${res.statusCode} ${body.slice(0, 200)}`));
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: timed out`)));
    req.on('error', reject);
    req.end();
  });
}

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

function kubectl(o: { binDir: string; l: Layout }, args: string[], input?: string): string {
  return execFileSync(join(o.binDir, 'kubectl'), ['--kubeconfig', o.l.kubeconfig, ...args], {
    encoding: 'utf8',
    input,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

// ---------------------------------------------------------------- up

function readInfo(l: Layout): RealNodeInfo | undefined {
  try {
    const info = JSON.parse(readFileSync(l.info, 'utf8')) as RealNodeInfo;
    return info.mode === 'real-node' ? info : undefined;
  } catch {
    return undefined;
  }
}

/** A running real node in `stateDir` whose processes all live and whose API server is ready. */
export async function healthyRealNode(stateDir: string): Promise<RealNodeInfo | undefined> {
  const l = layout(stateDir);
  const info = readInfo(l);
  if (!info) return undefined;
  const recs = pidRecords(l);
  if (COMPONENTS.some((c) => !recs.find((r) => r.name === c && isRunning(r)))) return undefined;
  try {
    return (await apiGet<string>(l, info.server, '/readyz')) === 'ok' ? info : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Starts the real-node cluster in `stateDir` (or returns the one already running there). Refuses to start
 * a second real node on a host that runs one from another state directory.
 */
export async function upRealNode(o: UpOptions): Promise<RealNodeInfo> {
  const log = o.log ?? ((m: string) => process.stderr.write(`[real-node] ${m}\n`));
  const missing = realNodeMissing();
  if (missing) throw new Error(missing);
  const deadline = Date.now() + (o.waitForHostMs ?? 0);
  let waiting = false;
  for (;;) {
    const busy = await withHostLock(async () => {
      const host = readHostRecord();
      const l = layout(resolve(o.stateDir));
      if (host && host.stateDir !== l.stateDir && pidRecords(layout(host.stateDir)).some(isRunning)) {
        return host.stateDir;
      }
      return startLocked(o, log);
    });
    if (typeof busy !== 'string') return busy;
    const msg =
      `a real-node cluster from ${busy} runs on this host (one per host: kube-proxy owns the KUBE-* iptables ` +
      `chains); stop it first: npm run cluster:down in ${dirname(busy)}`;
    if (Date.now() > deadline) throw new Error(msg);
    if (!waiting) log(`waiting up to ${((o.waitForHostMs ?? 0) / 60_000).toFixed(0)} min: ${msg}`);
    waiting = true;
    await sleep(5000);
  }
}

/**
 * Runs `fn` holding the host-wide lock file (created exclusively; taken over when its holder died), so two
 * checkouts, or two test runs in one checkout, never start or stop a real node at the same time.
 */
export async function withHostLock<T>(fn: () => Promise<T>): Promise<T> {
  mkdirSync(dirname(HOST_LOCK), { recursive: true });
  const me = { pid: process.pid, start: procStartOf(process.pid) };
  for (;;) {
    try {
      writeFileSync(HOST_LOCK, JSON.stringify(me), { flag: 'wx' });
      break;
    } catch {
      try {
        const holder = JSON.parse(readFileSync(HOST_LOCK, 'utf8')) as { pid: number; start: string };
        if (!isRunning(holder)) rmSync(HOST_LOCK, { force: true });
      } catch {
        rmSync(HOST_LOCK, { force: true }); // half-written by a holder that died
      }
      await sleep(250);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(HOST_LOCK, { force: true });
  }
}

function procStartOf(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
}

/** Test runs using the real node in `stateDir` (live ones only). */
export function liveUsers(stateDir: string): string[] {
  const l = layout(resolve(stateDir));
  if (!existsSync(l.users)) return [];
  return readdirSync(l.users).filter((f) => {
    const [pid, start] = f.split('-');
    return isRunning({ pid: Number(pid), start: start ?? '' });
  });
}

/**
 * A test run's use of a real node: starts it or joins the one running in `stateDir`, and records this
 * process as a user. `release` stops the cluster when the last user leaves (unless `keep`).
 */
export async function acquireRealNode(
  o: UpOptions,
): Promise<{ info: RealNodeInfo; release: (opts?: { keep?: boolean }) => Promise<void> }> {
  const info = await upRealNode(o);
  const l = layout(info.stateDir);
  const me = `${process.pid}-${procStartOf(process.pid)}`;
  await withHostLock(async () => {
    mkdirSync(l.users, { recursive: true });
    writeFileSync(join(l.users, me), '');
  });
  return {
    info,
    release: (opts = {}) =>
      withHostLock(async () => {
        rmSync(join(l.users, me), { force: true });
        if (!opts.keep && liveUsers(l.stateDir).length === 0 && existsSync(l.stateDir)) {
          await downRealNode(l.stateDir, { log: o.log });
        }
      }),
  };
}

/** The body of `upRealNode`, run under the host lock once the host is free for `o.stateDir`. */
async function startLocked(o: UpOptions, log: (msg: string) => void): Promise<RealNodeInfo> {
  const l = layout(resolve(o.stateDir));
  const t0 = Date.now();
  const running = await healthyRealNode(l.stateDir);
  if (running) {
    log(`already running (${l.kubeconfig})`);
    return running;
  }
  const host = readHostRecord();
  if (host && host.stateDir !== l.stateDir) {
    log(`cleaning up after a real-node cluster that stopped without cluster:down (${host.stateDir})`);
    await downRealNode(host.stateDir, { log });
  }
  if (existsSync(l.stateDir) || readHostRecord()) {
    await downRealNode(l.stateDir, { log });
  }

  const nodeBinDir = nodeToolsBin();
  const nodeIP = nodeAddress();
  const ports: cfg.Ports = {
    etcdClient: await freePort(),
    etcdPeer: await freePort(),
    apiserver: await freePort('0.0.0.0'),
    controllerManager: await freePort(),
    scheduler: await freePort(),
    kubelet: await freePort('0.0.0.0'),
    kubeletHealthz: await freePort(),
    kubeProxyMetrics: await freePort(),
    kubeProxyHealthz: await freePort(),
    registry: await freePort('127.0.0.1', o.registryPort),
  };
  const registry = `127.0.0.1:${ports.registry}`;
  const p: cfg.Params = { l, nodeIP, ports, registry };
  const server = `https://${nodeIP}:${ports.apiserver}`;

  // The host record first: from here on, `down` knows what to restore even if `up` fails half-way.
  writeHostRecord({
    stateDir: l.stateDir,
    pid: process.pid,
    sysctls: readSysctls(KUBELET_SYSCTLS),
    logLinksDirExisted: existsSync(CONTAINER_LOG_LINKS),
  });
  for (const d of [
    l.logs,
    l.run,
    l.config,
    l.etcdData,
    l.registryData,
    l.cniConfDir,
    l.cniIpamDir,
    l.kubeletRoot,
  ]) {
    mkdirSync(d, { recursive: true });
  }
  writeFileSync(l.auditPolicy, o.auditPolicy);
  writeFileSync(l.registryFile, `${registry}\n`);

  log(`PKI and configuration (node ${NODE_NAME} at ${nodeIP}, API server ${server})`);
  makePki(l.pki, {
    nodeName: NODE_NAME,
    nodeIP,
    kubernetesServiceIP: KUBERNETES_SERVICE_IP,
    clusterDomain: 'cluster.local',
  });
  const ca = readFileSync(join(l.pki, 'ca.crt'), 'utf8');
  const users: Record<string, string> = {
    admin: 'kubernetes-admin',
    'controller-manager': 'system:kube-controller-manager',
    scheduler: 'system:kube-scheduler',
    'kube-proxy': 'system:kube-proxy',
    'kubelet-client': `system:node:${NODE_NAME}`,
  };
  for (const [name, user] of Object.entries(users)) {
    const file =
      name === 'admin' ? l.kubeconfig : join(l.config, `${name.replace('-client', '')}.kubeconfig`);
    writeFileSync(file, cfg.kubeconfig(server, ca, user, pem(l.pki, name)), { mode: 0o600 });
  }
  writeFileSync(join(l.config, 'containerd.toml'), cfg.containerdConfig(p));
  for (const [host, toml] of Object.entries(cfg.hostsTomls(registry))) {
    mkdirSync(join(l.certsD, host), { recursive: true });
    writeFileSync(join(l.certsD, host, 'hosts.toml'), toml);
  }
  writeFileSync(join(l.cniConfDir, '10-sd-real-node.conflist'), cfg.cniConflist(p));
  writeFileSync(join(l.config, 'kubelet.json'), cfg.kubeletConfig(p));
  writeFileSync(join(l.config, 'kube-proxy.json'), cfg.kubeProxyConfig(p));
  writeFileSync(join(l.config, 'registry.json'), cfg.registryConfig(p));
  writeFileSync(
    join(l.config, 'crictl.yaml'),
    `runtime-endpoint: unix://${l.containerdSocket}\nimage-endpoint: unix://${l.containerdSocket}\ntimeout: 30\n`,
  );

  const env = { ...process.env, PATH: `${PATH}:${process.env.PATH ?? ''}` };
  const bin = (b: string) => join(o.binDir, b);
  const start = (name: (typeof COMPONENTS)[number], b: string, args: string[]) =>
    startProcess(l, name, b, args, { env });
  /** Fails a wait at once, with the log tail, when a component it depends on died. */
  const alive =
    (...names: string[]) =>
    () => {
      for (const n of names) {
        const r = record(l, n);
        if (r && !isRunning(r))
          return `${n} exited; last lines of ${join(l.logs, `${n}.log`)}:\n${logTail(l, n)}`;
      }
      return undefined;
    };

  try {
    start('registry', 'docker-registry', ['serve', join(l.config, 'registry.json')]);
    start('etcd', bin('etcd'), cfg.etcdArgs(p));
    await waitFor(
      'etcd healthy',
      async () => ((await fetch(`http://127.0.0.1:${ports.etcdClient}/health`)).ok ? true : undefined),
      { timeoutMs: 30_000, alive: alive('etcd') },
    );
    start('kube-apiserver', bin('kube-apiserver'), cfg.apiserverArgs(p));

    // While the API server starts: the host side of the node, containerd, and the two images every node needs.
    const bridgeProblem = ensureBridgeNetfilter();
    if (bridgeProblem) throw new Error(bridgeProblem);
    allowPodForwarding();
    createCgroupRoot();
    start('containerd', 'containerd', ['--config', join(l.config, 'containerd.toml')]);
    await waitFor(
      'registry serving',
      async () => ((await fetch(`http://${registry}/v2/`)).ok ? true : undefined),
      { timeoutMs: 30_000, alive: alive('registry') },
    );
    pushBinaryImage(registry, PAUSE_IMAGE, join(nodeBinDir, 'pause'));
    pushBinaryImage(registry, COREDNS_IMAGE, join(nodeBinDir, 'coredns'));

    await waitFor(
      'kube-apiserver ready',
      () => apiGet<string>(l, server, '/readyz').then((b) => b === 'ok' || undefined),
      {
        timeoutMs: 90_000,
        alive: alive('etcd', 'kube-apiserver'),
      },
    );
    start('kube-controller-manager', bin('kube-controller-manager'), cfg.controllerManagerArgs(p));
    start('kube-scheduler', bin('kube-scheduler'), cfg.schedulerArgs(p));
    await waitFor('containerd serving CRI', () => (existsSync(l.containerdSocket) ? true : undefined), {
      timeoutMs: 30_000,
      alive: alive('containerd'),
    });
    start('kubelet', bin('kubelet'), cfg.kubeletArgs(p));
    start('kube-proxy', bin('kube-proxy'), ['--config', join(l.config, 'kube-proxy.json'), '--v=1']);

    kubectl(
      { binDir: o.binDir, l },
      ['apply', '--server-side', '--field-manager=sd-e2e-real-node', '-f', '-'],
      cfg.corednsManifest(),
    );
    const everything = alive(...COMPONENTS);
    await waitFor(
      `node ${NODE_NAME} Ready`,
      async () => {
        const node = await apiGet<{ status?: { conditions?: Condition[] } }>(
          l,
          server,
          `/api/v1/nodes/${NODE_NAME}`,
        );
        const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
        if (ready?.status === 'True') return true;
        throw new Error(ready ? `Ready=${ready.status}: ${ready.reason} ${ready.message}` : 'not registered');
      },
      { timeoutMs: 120_000, alive: everything },
    );
    // CoreDNS becomes ready only once its kubernetes plugin has synced through the `kubernetes` Service:
    // this proves pod networking, kube-proxy's Service rules, the serving certificate and RBAC.
    await waitFor(
      'CoreDNS available',
      async () => {
        const d = await apiGet<{ status?: { availableReplicas?: number; conditions?: Condition[] } }>(
          l,
          server,
          '/apis/apps/v1/namespaces/kube-system/deployments/coredns',
        );
        if ((d.status?.availableReplicas ?? 0) >= 1) return true;
        const pods = await apiGet<{
          items: { status?: { phase?: string; containerStatuses?: unknown[] } }[];
        }>(l, server, '/api/v1/namespaces/kube-system/pods?labelSelector=k8s-app%3Dkube-dns');
        throw new Error(
          `pods: ${JSON.stringify(pods.items.map((i) => i.status?.containerStatuses ?? i.status?.phase))}`,
        );
      },
      { timeoutMs: 180_000, intervalMs: 500, alive: everything },
    );
  } catch (err) {
    log(`failed; logs are in ${l.logs} (stop with cluster:down)`);
    throw err;
  }

  const info: RealNodeInfo = {
    kubeconfig: l.kubeconfig,
    auditLog: l.auditLog,
    binDir: o.binDir,
    kubeVersion: o.kubeVersion,
    mode: 'real-node',
    registry,
    server,
    stateDir: l.stateDir,
    nodeName: NODE_NAME,
    nodeIP,
    nodeBinDir,
  };
  writeFileSync(l.info, `${JSON.stringify(info, null, 2)}\n`);
  log(`up in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  return info;
}

// ---------------------------------------------------------------- down

/** What a real node leaves on the host, for the "down leaves nothing behind" check (empty = clean). */
export interface Leftovers {
  processes: string[];
  mounts: string[];
  iptables: string[];
  links: string[];
  cgroups: string[];
  logLinks: string[];
  files: string[];
}

/**
 * Everything host-wide that belongs to the real node in `stateDir`, plus the given processes (recorded
 * before `down`: pod processes live in the kubelet's cgroups, which `down` removes).
 */
export function leftovers(
  stateDir: string,
  processes: Pick<PidRecord, 'pid' | 'start' | 'cmd'>[] = [],
): Leftovers {
  const l = layout(resolve(stateDir));
  const procs = [...processes, ...pidRecords(l), ...pidsWithArg(l.stateDir)];
  return {
    processes: [...new Set(procs.filter(isRunning).map((p) => `${p.pid} ${p.cmd.join(' ').slice(0, 120)}`))],
    mounts: mountsUnder(l.stateDir),
    iptables: leftoverIptables(),
    links: linkExists(CNI_BRIDGE) ? [CNI_BRIDGE] : [],
    cgroups: leftoverCgroups(),
    logLinks: logLinksInto(l.stateDir),
    files: [l.stateDir, HOST_RECORD].filter((f) => existsSync(f)),
  };
}

/** Pids of every process in the kubelet's cgroup tree (the pods' processes). */
export function podProcesses(): PidRecord[] {
  const root = `/sys/fs/cgroup/pids/${CGROUP_ROOT}`;
  if (!existsSync(root)) return [];
  const out = spawnSync('find', [root, '-name', 'cgroup.procs', '-exec', 'cat', '{}', '+'], {
    encoding: 'utf8',
  });
  return [...new Set(out.stdout.split('\n').filter(Boolean).map(Number))].flatMap((pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
      return [{ name: cmd[0] ?? '?', pid, start, cmd }];
    } catch {
      return [];
    }
  });
}

/**
 * Stops the real node in `stateDir` and removes everything it made: pod sandboxes (through CRI: network
 * namespaces, CNI state), containers, processes, mounts, iptables rules, the bridge, cgroups, log links,
 * sysctl changes, and the state directory. Safe to run twice, and after a crash.
 */
export async function downRealNode(
  stateDir: string,
  opts: { log?: (m: string) => void } = {},
): Promise<Leftovers> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`[real-node] ${m}\n`));
  const l = layout(resolve(stateDir));
  const info = readInfo(l);
  const host = readHostRecord();
  const ours = host?.stateDir === l.stateDir;
  const env = {
    ...process.env,
    PATH: `${PATH}:${process.env.PATH ?? ''}`,
    CRI_CONFIG_FILE: join(l.config, 'crictl.yaml'),
  };

  // 1. Nothing may recreate pods while they are removed.
  await stopProcess(l, 'kubelet');
  // 2. Every pod sandbox through CRI: containerd stops the containers, runs CNI DEL (the pod's veth, IP,
  //    iptables chains) and unmounts the sandbox's network namespace and /dev/shm.
  const containerd = record(l, 'containerd');
  const crictl = info?.nodeBinDir ? join(info.nodeBinDir, 'crictl') : undefined;
  if (containerd && isRunning(containerd) && crictl && existsSync(crictl)) {
    const r = spawnSync(crictl, ['rmp', '--all', '--force'], { env, encoding: 'utf8', timeout: 120_000 });
    if (r.status !== 0) log(`crictl rmp: ${(r.stderr || r.stdout).trim().split('\n').pop()}`);
  }
  await stopProcess(l, 'kube-proxy');
  await stopProcess(l, 'containerd');
  // 3. Shims of this containerd (they re-parent to init) and containers whose shim is gone: runc directly.
  for (const shim of pidsWithArg(l.containerdSocket)) await stopPid(shim, 5000);
  const runcRoot = join(l.runcRoot, 'k8s.io');
  if (existsSync(runcRoot)) {
    const list = spawnSync('runc', ['--root', runcRoot, 'list', '-q'], { env, encoding: 'utf8' });
    for (const id of list.stdout?.split('\n').filter(Boolean) ?? []) {
      spawnSync('runc', ['--root', runcRoot, 'kill', id, 'KILL'], { env });
      spawnSync('runc', ['--root', runcRoot, 'delete', '--force', id], { env });
    }
  }
  // 4. The control plane and the registry (and anything else `up` recorded).
  for (const name of [...COMPONENTS].reverse()) await stopProcess(l, name);
  for (const rec of pidRecords(l)) await stopProcess(l, rec.name);

  // 5. Host-wide state: kube-proxy's rules first (its own cleanup), then ours, the kubelet's and CNI's.
  if (
    info &&
    existsSync(join(info.binDir, 'kube-proxy')) &&
    leftoverIptables().some((x) => x.includes('KUBE-'))
  ) {
    spawnSync(join(info.binDir, 'kube-proxy'), ['--cleanup', '--v=0'], {
      env,
      stdio: 'ignore',
      timeout: 60_000,
    });
  }
  const stuckMounts = unmountUnder(l.stateDir);
  removeMarkedRules();
  removeNodeIptables();
  removeBridge();
  const stuckCgroups = removeCgroupRoot();
  removeLogLinksInto(l.stateDir);
  if (ours && host) {
    restoreSysctls(host.sysctls);
    if (!host.logLinksDirExisted) spawnSync('rmdir', [CONTAINER_LOG_LINKS]);
  }
  const registry =
    info?.registry ?? (existsSync(l.registryFile) ? readFileSync(l.registryFile, 'utf8').trim() : '');
  if (registry) removeRegistryTags(registry);
  if (stuckMounts.length === 0) rmSync(l.stateDir, { recursive: true, force: true });
  else log(`not removing ${l.stateDir}: still mounted: ${stuckMounts.join(', ')}`);
  if (ours || !host) removeHostRecord();
  if (stuckCgroups.length) log(`cgroups still busy: ${stuckCgroups.join('; ')}`);
  return leftovers(l.stateDir);
}
