/**
 * Pure builders of every configuration file and command line of the real-node cluster. Nothing here touches
 * the host; `cluster.ts` writes what these return and starts the processes.
 */
import {
  CGROUP_ROOT,
  CLUSTER_DOMAIN,
  CNI_BRIDGE,
  CNI_NETWORK,
  COREDNS_IMAGE,
  DNS_SERVICE_IP,
  type Layout,
  MIRRORED_REGISTRIES,
  NODE_NAME,
  NODE_POD_CIDR,
  PAUSE_IMAGE,
  POD_CIDR,
  SERVICE_CIDR,
} from './layout.ts';

export interface Ports {
  etcdClient: number;
  etcdPeer: number;
  apiserver: number;
  controllerManager: number;
  scheduler: number;
  kubelet: number;
  kubeletHealthz: number;
  kubeProxyMetrics: number;
  kubeProxyHealthz: number;
  registry: number;
}

export interface Params {
  l: Layout;
  nodeIP: string;
  ports: Ports;
  /** host:port of the local registry, as containerd and docker reach it. */
  registry: string;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** A kubeconfig with embedded data, so the file stands alone (`.e2e/kubeconfig` is handed to users). */
export function kubeconfig(
  server: string,
  caPem: string,
  user: string,
  cred: { cert: string; key: string },
): string {
  return JSON.stringify(
    {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'sd-e2e', cluster: { server, 'certificate-authority-data': b64(caPem) } }],
      users: [
        { name: user, user: { 'client-certificate-data': b64(cred.cert), 'client-key-data': b64(cred.key) } },
      ],
      contexts: [{ name: 'sd-e2e', context: { cluster: 'sd-e2e', user } }],
      'current-context': 'sd-e2e',
    },
    null,
    2,
  );
}

export function etcdArgs({ l, ports }: Params): string[] {
  const client = `http://127.0.0.1:${ports.etcdClient}`;
  const peer = `http://127.0.0.1:${ports.etcdPeer}`;
  return [
    '--name=sd-e2e',
    `--data-dir=${l.etcdData}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=sd-e2e=${peer}`,
    // A throw-away test database: durability costs I/O and buys nothing.
    '--unsafe-no-fsync=true',
    '--quota-backend-bytes=8589934592',
    '--log-level=warn',
  ];
}

/**
 * kube-apiserver as kwokctl runs it for the KWOK cluster (authorization Node,RBAC, the default admission
 * plugins, the same audit policy), plus what a real node needs: a non-loopback advertise address (the
 * `kubernetes` Service's endpoint), NodeRestriction, and verified TLS towards the kubelet.
 */
export function apiserverArgs({ l, nodeIP, ports }: Params): string[] {
  const pki = (n: string) => `${l.pki}/${n}`;
  return [
    `--etcd-servers=http://127.0.0.1:${ports.etcdClient}`,
    '--bind-address=0.0.0.0',
    `--advertise-address=${nodeIP}`,
    `--secure-port=${ports.apiserver}`,
    `--service-cluster-ip-range=${SERVICE_CIDR}`,
    '--allow-privileged=true',
    '--authorization-mode=Node,RBAC',
    '--enable-admission-plugins=NodeRestriction',
    `--tls-cert-file=${pki('apiserver.crt')}`,
    `--tls-private-key-file=${pki('apiserver.key')}`,
    `--client-ca-file=${pki('ca.crt')}`,
    `--kubelet-client-certificate=${pki('apiserver-kubelet-client.crt')}`,
    `--kubelet-client-key=${pki('apiserver-kubelet-client.key')}`,
    `--kubelet-certificate-authority=${pki('ca.crt')}`,
    '--kubelet-preferred-address-types=InternalIP,Hostname',
    `--service-account-issuer=https://kubernetes.default.svc.${CLUSTER_DOMAIN}`,
    `--service-account-key-file=${pki('sa.pub')}`,
    `--service-account-signing-key-file=${pki('sa.key')}`,
    `--audit-policy-file=${l.auditPolicy}`,
    `--audit-log-path=${l.auditLog}`,
    '--audit-log-maxsize=0',
    '--profiling=false',
    '--v=1',
  ];
}

export function controllerManagerArgs({ l, ports }: Params): string[] {
  const kc = `${l.config}/controller-manager.kubeconfig`;
  return [
    `--kubeconfig=${kc}`,
    `--authentication-kubeconfig=${kc}`,
    `--authorization-kubeconfig=${kc}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${ports.controllerManager}`,
    '--leader-elect=false',
    '--use-service-account-credentials=true',
    `--root-ca-file=${l.pki}/ca.crt`,
    `--service-account-private-key-file=${l.pki}/sa.key`,
    `--cluster-signing-cert-file=${l.pki}/ca.crt`,
    `--cluster-signing-key-file=${l.pki}/ca.key`,
    `--service-cluster-ip-range=${SERVICE_CIDR}`,
    `--cluster-cidr=${POD_CIDR}`,
    '--allocate-node-cidrs=true',
    '--node-cidr-mask-size=24',
    '--v=1',
  ];
}

export function schedulerArgs({ l, ports }: Params): string[] {
  const kc = `${l.config}/scheduler.kubeconfig`;
  return [
    `--kubeconfig=${kc}`,
    `--authentication-kubeconfig=${kc}`,
    `--authorization-kubeconfig=${kc}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${ports.scheduler}`,
    '--leader-elect=false',
    '--v=1',
  ];
}

/**
 * containerd (Debian's 1.6) with the CRI plugin, entirely on its own socket, root and state — never
 * Docker's. Registry mirrors come from `hosts.toml` files under `certs.d` (`config_path`).
 */
export function containerdConfig({ l }: Params): string {
  return `version = 2
root = "${l.containerdRoot}"
state = "${l.containerdState}"
# Plugins that would write outside root/state or are of no use here.
disabled_plugins = [
  "io.containerd.internal.v1.opt",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
]

[grpc]
  address = "${l.containerdSocket}"

[ttrpc]
  address = "${l.containerdSocket}.ttrpc"

[debug]
  level = "warn"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${PAUSE_IMAGE}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  # Network namespaces as mounts under the state directory, not /var/run/netns.
  netns_mounts_under_state_dir = true
  enable_selinux = false
  # This host withholds CAP_SYS_RESOURCE from everything (even root), so no process may lower its
  # oom_score_adj; the kubelet asks -998 for every sandbox. Clamp to containerd's own value instead of
  # failing every pod (what kind does for rootless nodes).
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "runc"
        Root = "${l.runcRoot}"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${l.cniConfDir}"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "${l.certsD}"
`;
}

/**
 * `certs.d/<registry>/hosts.toml`: every mirrored upstream registry is served by the local one — and only
 * by it: no fallback to the real registry, which is unreachable here and would only turn a missing image
 * into a slow DNS timeout. A manifest naming `quay.io/argoproj/argocd:v3.5.1` pulls
 * `<local>/argoproj/argocd:v3.5.1`.
 */
export function hostsTomls(registry: string): Record<string, string> {
  const local = `http://${registry}`;
  const toml = `# Written by the real-node cluster: served by the local registry.
server = "${local}"

[host."${local}"]
  capabilities = ["pull", "resolve"]
  skip_verify = true
`;
  return Object.fromEntries([...MIRRORED_REGISTRIES, registry].map((r) => [r, toml]));
}

/** bridge + host-local + portmap (loopback is added by containerd itself). */
export function cniConflist({ l }: Params): string {
  return JSON.stringify(
    {
      cniVersion: '1.0.0',
      name: CNI_NETWORK,
      plugins: [
        {
          type: 'bridge',
          bridge: CNI_BRIDGE,
          isGateway: true,
          ipMasq: true,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            dataDir: l.cniIpamDir,
            ranges: [[{ subnet: NODE_POD_CIDR }]],
            routes: [{ dst: '0.0.0.0/0' }],
          },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  );
}

/**
 * The kubelet, configured as kind configures it, plus the traps of this host: cgroup v1 (kubelet ≥ 1.35
 * refuses it unless `failCgroupV1: false`), containerd 1.6 (no RuntimeConfig call: the cgroup driver is set
 * here), swap tolerated, disk-based eviction off (a test node on a shared disk must not evict its pods).
 */
export function kubeletConfig({ l, ports }: Params): string {
  return JSON.stringify(
    {
      apiVersion: 'kubelet.config.k8s.io/v1beta1',
      kind: 'KubeletConfiguration',
      failCgroupV1: false,
      cgroupDriver: 'cgroupfs',
      cgroupRoot: `/${CGROUP_ROOT}`,
      failSwapOn: false,
      // The kubelet's own score: it cannot be lowered here (no CAP_SYS_RESOURCE), so do not ask.
      oomScoreAdj: 0,
      memorySwap: {},
      containerRuntimeEndpoint: `unix://${l.containerdSocket}`,
      imageServiceEndpoint: `unix://${l.containerdSocket}`,
      authentication: {
        anonymous: { enabled: false },
        webhook: { enabled: true },
        x509: { clientCAFile: `${l.pki}/ca.crt` },
      },
      authorization: { mode: 'Webhook' },
      tlsCertFile: `${l.pki}/kubelet-serving.crt`,
      tlsPrivateKeyFile: `${l.pki}/kubelet-serving.key`,
      port: ports.kubelet,
      healthzBindAddress: '127.0.0.1',
      healthzPort: ports.kubeletHealthz,
      readOnlyPort: 0,
      clusterDomain: CLUSTER_DOMAIN,
      clusterDNS: [DNS_SERVICE_IP],
      podLogsDir: l.podLogs,
      volumePluginDir: l.volumePlugins,
      evictionHard: { 'nodefs.available': '0%', 'nodefs.inodesFree': '0%', 'imagefs.available': '0%' },
      imageGCHighThresholdPercent: 100,
      serializeImagePulls: false,
      rotateCertificates: false,
      serverTLSBootstrap: false,
      registerNode: true,
      maxPods: 110,
      // Quick feedback in tests: the defaults (10 s / 40 s) are tuned for big clusters.
      nodeStatusUpdateFrequency: '4s',
      syncFrequency: '10s',
      fileCheckFrequency: '10s',
    },
    null,
    2,
  );
}

export function kubeletArgs({ l, nodeIP }: Params): string[] {
  return [
    `--config=${l.config}/kubelet.json`,
    `--kubeconfig=${l.config}/kubelet.kubeconfig`,
    `--root-dir=${l.kubeletRoot}`,
    `--cert-dir=${l.kubeletRoot}/pki`,
    `--hostname-override=${NODE_NAME}`,
    `--node-ip=${nodeIP}`,
    '--v=1',
  ];
}

/** kube-proxy in iptables mode; it must not rewrite the host's conntrack or route_localnet sysctls. */
export function kubeProxyConfig({ l, ports }: Params): string {
  return JSON.stringify(
    {
      apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
      kind: 'KubeProxyConfiguration',
      mode: 'iptables',
      clientConnection: { kubeconfig: `${l.config}/kube-proxy.kubeconfig` },
      hostnameOverride: NODE_NAME,
      oomScoreAdj: 0,
      clusterCIDR: POD_CIDR,
      metricsBindAddress: `127.0.0.1:${ports.kubeProxyMetrics}`,
      healthzBindAddress: `127.0.0.1:${ports.kubeProxyHealthz}`,
      iptables: { localhostNodePorts: false, syncPeriod: '10s', minSyncPeriod: '0s' },
      conntrack: { maxPerCore: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
    },
    null,
    2,
  );
}

export const COREDNS_CONFIG = `.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes ${CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    cache 30
    loop
    reload
    loadbalance
}
`;

/** CoreDNS as kubeadm deploys it (ServiceAccount, RBAC, Corefile, Deployment, the kube-dns Service). */
export function corednsManifest(): string {
  const labels = { 'k8s-app': 'kube-dns' };
  const ns = 'kube-system';
  const items = [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'coredns', namespace: ns } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'system:coredns' },
      rules: [
        {
          apiGroups: [''],
          resources: ['endpoints', 'services', 'pods', 'namespaces'],
          verbs: ['list', 'watch'],
        },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'system:coredns' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:coredns' },
      subjects: [{ kind: 'ServiceAccount', name: 'coredns', namespace: ns }],
    },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'coredns', namespace: ns },
      data: { Corefile: COREDNS_CONFIG },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'coredns', namespace: ns, labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: 'coredns',
            priorityClassName: 'system-cluster-critical',
            dnsPolicy: 'Default',
            containers: [
              {
                name: 'coredns',
                image: COREDNS_IMAGE,
                args: ['-conf', '/etc/coredns/Corefile'],
                resources: { requests: { cpu: '50m', memory: '70Mi' }, limits: { memory: '170Mi' } },
                volumeMounts: [{ name: 'config-volume', mountPath: '/etc/coredns', readOnly: true }],
                ports: [
                  { containerPort: 53, name: 'dns', protocol: 'UDP' },
                  { containerPort: 53, name: 'dns-tcp', protocol: 'TCP' },
                  { containerPort: 9153, name: 'metrics', protocol: 'TCP' },
                ],
                securityContext: {
                  allowPrivilegeEscalation: false,
                  capabilities: { add: ['NET_BIND_SERVICE'], drop: ['ALL'] },
                  readOnlyRootFilesystem: true,
                },
                livenessProbe: {
                  httpGet: { path: '/health', port: 8080, scheme: 'HTTP' },
                  initialDelaySeconds: 60,
                  timeoutSeconds: 5,
                  failureThreshold: 5,
                },
                readinessProbe: { httpGet: { path: '/ready', port: 8181, scheme: 'HTTP' }, periodSeconds: 2 },
              },
            ],
            volumes: [
              {
                name: 'config-volume',
                configMap: { name: 'coredns', items: [{ key: 'Corefile', path: 'Corefile' }] },
              },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'kube-dns', namespace: ns, labels: { ...labels, 'kubernetes.io/name': 'CoreDNS' } },
      spec: {
        selector: labels,
        clusterIP: DNS_SERVICE_IP,
        ports: [
          { name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 },
          { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 },
          { name: 'metrics', port: 9153, protocol: 'TCP', targetPort: 9153 },
        ],
      },
    },
  ];
  return JSON.stringify({ apiVersion: 'v1', kind: 'List', items });
}

/** Debian's docker-registry (distribution v2): storage in the state directory, HTTP on loopback only. */
export function registryConfig({ l, ports }: Params): string {
  return JSON.stringify({
    version: 0.1,
    log: { level: 'warn', accesslog: { disabled: true } },
    storage: { filesystem: { rootdirectory: l.registryData }, delete: { enabled: true } },
    http: { addr: `127.0.0.1:${ports.registry}` },
  });
}
