/**
 * Names, addresses and paths of the real-node cluster: one place, so `up`, `down` and the tests that check
 * what `down` left behind agree on them.
 *
 * Everything the cluster writes lives under its state directory (`.e2e/` for `npm run cluster:up --
 * --real-node`), including containerd's root and state, the kubelet's root, every mount and every network
 * namespace (containerd's `netns_mounts_under_state_dir`). Outside it there are only host-wide things that
 * cannot be moved — iptables rules, the CNI bridge, cgroups, a few sysctls, `/var/log/containers` links — and
 * `down` removes or restores each of them; `HOST_RECORD` remembers them even if the state directory is gone.
 */
import { join } from 'node:path';

export const NODE_NAME = 'real-node-0';
export const CLUSTER_DOMAIN = 'cluster.local';
export const SERVICE_CIDR = '10.96.0.0/16';
/** The `kubernetes` Service's ClusterIP: the first address of SERVICE_CIDR. */
export const KUBERNETES_SERVICE_IP = '10.96.0.1';
export const DNS_SERVICE_IP = '10.96.0.10';
export const POD_CIDR = '10.244.0.0/16';
/** The only node's share of POD_CIDR (host-local IPAM on the CNI bridge). */
export const NODE_POD_CIDR = '10.244.0.0/24';
/** CNI network name: also the marker in the iptables comments the bridge/portmap plugins write. */
export const CNI_NETWORK = 'sd-real-node';
export const CNI_BRIDGE = 'sdrn0';
/** Comment on every iptables rule `up` adds itself (Docker's FORWARD policy is DROP). */
export const IPTABLES_COMMENT = 'sd-gitops-bootstrap real-node';
/** The kubelet's cgroup parent in every hierarchy (`cgroupRoot`), like kind's `/kubelet`. */
export const CGROUP_ROOT = 'sd-real-node';
/** Where the kubelet links container logs: a constant of the kubelet, not configurable. */
export const CONTAINER_LOG_LINKS = '/var/log/containers';
/**
 * Host-wide record of a running real node: which state directory owns the host (there can be one real
 * node per machine — kube-proxy owns the KUBE-* iptables chains) and the sysctls to restore.
 */
export const HOST_RECORD = '/run/sd-gitops-bootstrap/real-node.json';
/** Held while a real node starts (or a test run joins or leaves one): serialises them across checkouts. */
export const HOST_LOCK = '/run/sd-gitops-bootstrap/real-node.lock';

export const PAUSE_IMAGE = 'registry.k8s.io/pause:3.10.2';
export const COREDNS_IMAGE = 'registry.k8s.io/coredns/coredns:v1.14.2';
/** Registries containerd is told to read from the local registry instead (`hosts.toml`). */
export const MIRRORED_REGISTRIES = ['docker.io', 'quay.io', 'ghcr.io', 'public.ecr.aws', 'registry.k8s.io'];

/** Every path of one real-node cluster, derived from its state directory. */
export function layout(stateDir: string) {
  const node = join(stateDir, 'node');
  const containerd = join(node, 'containerd');
  return {
    stateDir,
    kubeconfig: join(stateDir, 'kubeconfig'),
    info: join(stateDir, 'cluster.json'),
    registryFile: join(stateDir, 'registry'),
    /** One file per test run using the cluster: the last one to leave stops it. */
    users: join(stateDir, 'users'),
    auditPolicy: join(stateDir, 'audit-policy.yaml'),
    auditLog: join(stateDir, 'logs', 'audit.log'),
    logs: join(stateDir, 'logs'),
    /** One JSON pid file per process `up` started. */
    run: join(stateDir, 'run'),
    pki: join(stateDir, 'pki'),
    config: join(stateDir, 'config'),
    etcdData: join(stateDir, 'etcd'),
    registryData: join(stateDir, 'registry-data'),
    node,
    containerdRoot: join(containerd, 'root'),
    containerdState: join(containerd, 'state'),
    containerdSocket: join(containerd, 'containerd.sock'),
    /** runc's state (the shim's `Root`): containerd's default is shared by every containerd on the host. */
    runcRoot: join(containerd, 'runc'),
    certsD: join(containerd, 'certs.d'),
    cniConfDir: join(node, 'cni', 'net.d'),
    cniIpamDir: join(node, 'cni', 'ipam'),
    kubeletRoot: join(node, 'kubelet'),
    podLogs: join(node, 'pod-logs'),
    volumePlugins: join(node, 'volume-plugins'),
  };
}

export type Layout = ReturnType<typeof layout>;
