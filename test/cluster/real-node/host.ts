/**
 * The host-wide side of the real node: what cannot live in the state directory. `up` changes only what it
 * records here, and `down` undoes exactly that: iptables rules it marked, the CNI bridge, the kubelet's
 * cgroup tree, the sysctls the kubelet rewrites, container log links — and unmounts whatever is still
 * mounted under the state directory.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import {
  CGROUP_ROOT,
  CNI_BRIDGE,
  CNI_NETWORK,
  CONTAINER_LOG_LINKS,
  HOST_RECORD,
  IPTABLES_COMMENT,
  POD_CIDR,
} from './layout.ts';

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function tryRun(cmd: string, args: string[]): { ok: boolean; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

/** The node's address: the source address of the default route, else the first global IPv4 address. */
export function nodeAddress(): string {
  const routes = JSON.parse(sh('ip', ['-j', '-4', 'route', 'show', 'default'])) as {
    dev?: string;
    prefsrc?: string;
  }[];
  const addrs = JSON.parse(sh('ip', ['-j', '-4', 'addr', 'show', 'scope', 'global'])) as {
    ifname: string;
    addr_info: { local: string }[];
  }[];
  const dev = routes[0]?.dev;
  const onDev = addrs.find((a) => a.ifname === dev)?.addr_info[0]?.local;
  const any = addrs.find((a) => a.ifname !== 'docker0' && !a.ifname.startsWith(CNI_BRIDGE))?.addr_info[0]
    ?.local;
  const ip = routes[0]?.prefsrc ?? onDev ?? any;
  if (!ip) throw new Error('no global IPv4 address on this host for the node (see `ip -4 addr`)');
  return ip;
}

export { freePort } from '../../support/net.ts';

// ---------------------------------------------------------------- host record (one real node per host)

export interface HostRecord {
  stateDir: string;
  pid: number;
  /** Original values of the sysctls the kubelet rewrites (it sets its "kernel defaults" when allowed). */
  sysctls: Record<string, string>;
  /** Whether /var/log/containers existed before the kubelet made it. */
  logLinksDirExisted: boolean;
}

export function readHostRecord(): HostRecord | undefined {
  try {
    return JSON.parse(readFileSync(HOST_RECORD, 'utf8')) as HostRecord;
  } catch {
    return undefined;
  }
}

export function writeHostRecord(rec: HostRecord): void {
  mkdirSync(dirname(HOST_RECORD), { recursive: true });
  writeFileSync(HOST_RECORD, `${JSON.stringify(rec, null, 2)}\n`);
}

export function removeHostRecord(): void {
  rmSync(HOST_RECORD, { force: true });
}

/** kubelet's setupKernelTunables (protectKernelDefaults: false) sets these; `down` puts them back. */
export const KUBELET_SYSCTLS = [
  'vm/overcommit_memory',
  'vm/panic_on_oom',
  'kernel/panic',
  'kernel/panic_on_oops',
  'kernel/keys/root_maxkeys',
  'kernel/keys/root_maxbytes',
];

export function readSysctls(names: string[]): Record<string, string> {
  return Object.fromEntries(names.map((n) => [n, readFileSync(`/proc/sys/${n}`, 'utf8').trim()]));
}

export function restoreSysctls(values: Record<string, string>): void {
  for (const [n, v] of Object.entries(values)) {
    try {
      writeFileSync(`/proc/sys/${n}`, v);
    } catch {
      // best effort: a read-only /proc/sys means the kubelet could not change it either
    }
  }
}

/** Bridged pod traffic must pass iptables (kube-proxy's Service rules apply to it). */
export function ensureBridgeNetfilter(): string | undefined {
  const f = '/proc/sys/net/bridge/bridge-nf-call-iptables';
  if (!existsSync(f)) {
    tryRun('modprobe', ['br_netfilter']);
    if (!existsSync(f)) return 'the br_netfilter kernel module is missing (modprobe br_netfilter)';
  }
  writeFileSync(f, '1');
  writeFileSync('/proc/sys/net/ipv4/ip_forward', '1');
  return undefined;
}

// ---------------------------------------------------------------- iptables

function iptablesRules(bin: string, table: string): string[] {
  const r = tryRun(bin, ['-w', '-t', table, '-S']);
  return r.ok ? r.out.split('\n').filter(Boolean) : [];
}

/** Splits an `iptables -S` line into arguments (quoted comments stay one argument). */
function splitRule(line: string): string[] {
  return (line.match(/"(?:[^"\\]|\\.)*"|\S+/g) ?? []).map((a) =>
    a.startsWith('"') ? a.slice(1, -1).replace(/\\"/g, '"') : a,
  );
}

/**
 * Docker sets the FORWARD policy to DROP; pod traffic (bridged, so seen by iptables) must be let through.
 * Docker's documented place for that is the DOCKER-USER chain; without Docker, FORWARD itself.
 */
export function allowPodForwarding(): void {
  removeMarkedRules();
  const chain = iptablesRules('iptables', 'filter').includes('-N DOCKER-USER') ? 'DOCKER-USER' : 'FORWARD';
  for (const dir of ['-d', '-s']) {
    sh('iptables', [
      '-w',
      '-I',
      chain,
      '1',
      dir,
      POD_CIDR,
      '-m',
      'comment',
      '--comment',
      IPTABLES_COMMENT,
      '-j',
      'ACCEPT',
    ]);
  }
}

/** Deletes every rule carrying `IPTABLES_COMMENT`. */
export function removeMarkedRules(): void {
  for (const line of iptablesRules('iptables', 'filter')) {
    if (line.startsWith('-A ') && line.includes(IPTABLES_COMMENT)) {
      tryRun('iptables', ['-w', '-t', 'filter', '-D', ...splitRule(line).slice(1)]);
    }
  }
}

/**
 * What kube-proxy, the kubelet and the CNI plugins leave in iptables once the node is gone. `kube-proxy
 * --cleanup` removes its own chains; the kubelet's canary and firewall chains (KUBE-*) and the CNI
 * plugins' chains for this network (CNI-*, comments naming it) are removed here. There is one real node per
 * host (`HOST_RECORD`), so KUBE-* chains on this host are this node's.
 */
export function removeNodeIptables(): void {
  for (const bin of ['iptables', 'ip6tables']) {
    for (const table of ['filter', 'nat', 'mangle']) {
      const rules = iptablesRules(bin, table);
      const ours = (chain: string) => chain.startsWith('KUBE-') || chain.startsWith('CNI-');
      // 1. Rules in other chains that jump to ours or name our CNI network.
      for (const line of rules) {
        if (!line.startsWith('-A ')) continue;
        const args = splitRule(line);
        const chain = args[1]!;
        const target = args[args.indexOf('-j') + 1] ?? '';
        if (ours(chain)) continue;
        if (
          ours(target) ||
          line.includes(`name: \\"${CNI_NETWORK}\\"`) ||
          line.includes(`name: "${CNI_NETWORK}"`)
        ) {
          tryRun(bin, ['-w', '-t', table, '-D', ...args.slice(1)]);
        }
      }
      // 2. Our chains: flush all, then delete all (they may reference each other).
      const chains = rules.filter((l) => l.startsWith('-N ')).map((l) => l.slice(3).trim());
      const mine = chains.filter(ours);
      for (const c of mine) tryRun(bin, ['-w', '-t', table, '-F', c]);
      for (const c of mine) tryRun(bin, ['-w', '-t', table, '-X', c]);
    }
  }
}

/** Lines of `iptables-save`/`ip6tables-save` that belong to a real node (for the "left nothing" test). */
export function leftoverIptables(): string[] {
  const out: string[] = [];
  for (const bin of ['iptables', 'ip6tables']) {
    for (const table of ['filter', 'nat', 'mangle']) {
      for (const line of iptablesRules(bin, table)) {
        if (/KUBE-|CNI-/.test(line) || line.includes(IPTABLES_COMMENT) || line.includes(CNI_NETWORK)) {
          out.push(`${bin} -t ${table} ${line}`);
        }
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------- network links

export function linkExists(name: string): boolean {
  return tryRun('ip', ['link', 'show', name]).ok;
}

export function removeBridge(): void {
  if (linkExists(CNI_BRIDGE)) tryRun('ip', ['link', 'delete', CNI_BRIDGE]);
}

// ---------------------------------------------------------------- cgroups (v1 hierarchies, or v2)

function cgroupHierarchies(): string[] {
  const root = '/sys/fs/cgroup';
  if (existsSync(join(root, 'cgroup.controllers'))) return [root]; // unified (v2)
  return readdirSync(root)
    .map((d) => join(root, d))
    .filter((d) => {
      try {
        return lstatSync(d).isDirectory() && existsSync(join(d, 'cgroup.procs'));
      } catch {
        return false;
      }
    });
}

/** The kubelet's `cgroupRoot` must exist in every hierarchy; cpuset needs its cpus/mems filled in (v1). */
export function createCgroupRoot(): void {
  for (const h of cgroupHierarchies()) {
    const dir = join(h, CGROUP_ROOT);
    mkdirSync(dir, { recursive: true });
    for (const f of ['cpuset.cpus', 'cpuset.mems']) {
      const parent = join(h, f);
      if (existsSync(parent) && readFileSync(join(dir, f), 'utf8').trim() === '') {
        writeFileSync(join(dir, f), readFileSync(parent, 'utf8').trim());
      }
    }
  }
}

/** Cgroup directories left under `cgroupRoot` (empty when `down` succeeded). */
export function leftoverCgroups(): string[] {
  return cgroupHierarchies()
    .map((h) => join(h, CGROUP_ROOT))
    .filter((d) => existsSync(d));
}

/** Removes the kubelet's cgroup tree (deepest first). Cgroups with processes in them cannot be removed. */
export function removeCgroupRoot(): string[] {
  const failed: string[] = [];
  const remove = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) remove(join(dir, e.name));
    }
    try {
      rmdirSync(dir);
    } catch (err) {
      failed.push(`${dir}: ${(err as Error).message}`);
    }
  };
  for (const d of leftoverCgroups()) remove(d);
  return failed;
}

// ---------------------------------------------------------------- mounts

/** Mount points at or under `dir`, deepest first. */
export function mountsUnder(dir: string): string[] {
  const unoctal = (s: string) =>
    s.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => unoctal(l.split(' ')[4]!))
    .filter((m) => m === dir || m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

export function unmountUnder(dir: string): string[] {
  for (let pass = 0; pass < 3; pass++) {
    const mounts = mountsUnder(dir);
    if (mounts.length === 0) return [];
    for (const m of mounts) {
      if (!tryRun('umount', [m]).ok) tryRun('umount', ['-l', m]);
    }
  }
  return mountsUnder(dir);
}

// ---------------------------------------------------------------- container log links

/** The kubelet's links in /var/log/containers that point into `dir`. */
export function logLinksInto(dir: string): string[] {
  if (!existsSync(CONTAINER_LOG_LINKS)) return [];
  return readdirSync(CONTAINER_LOG_LINKS)
    .map((f) => join(CONTAINER_LOG_LINKS, f))
    .filter((p) => {
      try {
        return lstatSync(p).isSymbolicLink() && readlinkSync(p).startsWith(`${dir}/`);
      } catch {
        return false;
      }
    });
}

export function removeLogLinksInto(dir: string): void {
  for (const p of logLinksInto(dir)) rmSync(p, { force: true });
}
