/**
 * A kind node image built offline: what `kind build node-image` makes, assembled from what this project
 * already builds, because no registry (registry.k8s.io, docker.io) is reachable here.
 *
 * - Base: the debootstrap'd Debian bookworm image (`ensureBaseImage`), plus Debian's systemd 252 (cgroup v1
 *   still supported), containerd 1.6, runc 1.1, CNI plugins, iptables, conntrack — from the Debian mirror.
 * - kind's own base files from the `sigs.k8s.io/kind` module (entrypoint, systemd units, containerd config),
 *   laid out as kind's images/base/Dockerfile does.
 * - kubeadm, kubelet, kubectl from the pinned Kubernetes build (tools/cluster/build.sh).
 * - The control-plane images kubeadm runs (kube-apiserver, -controller-manager, -scheduler, kube-proxy, etcd,
 *   CoreDNS, pause), each a tiny image around the cached binary, tagged exactly as
 *   `kubeadm config images list` prints, saved into `/kind/images/control-plane.tar`. `KindContainer` imports
 *   that archive into containerd's `k8s.io` namespace when the node starts (unpacking needs overlayfs on the
 *   node's `/var` volume, which an image build does not have), so nothing is ever pulled.
 *
 * Cache: the image is tagged `sd-local/kind-node:<kube version>-<hash of every input>`; an existing tag is
 * reused (a warm run takes about a second).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeToolsBin, toolsBin } from '../cluster/bin.ts';
import { BASE_IMAGE, buildImage, docker, ensureBaseImage, imageExists } from '../images/docker.ts';
import { KIND_VERSION, KUBE_VERSION } from '../versions.ts';

const here = dirname(fileURLToPath(import.meta.url));

const RECIPE = 'v1'; // bump when the recipe changes in a way the hash cannot see
export const NODE_IMAGE_REPO = 'sd-local/kind-node';

const NODE_PACKAGES = [
  'systemd',
  'systemd-sysv',
  'dbus',
  'conntrack',
  'iptables',
  'nftables',
  'iproute2',
  'ethtool',
  'util-linux',
  'mount',
  'kmod',
  'libseccomp2',
  'pigz',
  'bash',
  'ca-certificates',
  'curl',
  'jq',
  'procps',
  'containerd',
  'runc',
  'containernetworking-plugins',
  'socat',
  'ebtables',
];

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) {
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-30).join('\n');
    throw new Error(`${cmd} ${args.slice(0, 3).join(' ')} failed (exit ${r.status}):\n${out}`);
  }
  return r.stdout;
}

/** kind's images/base/files, from the Go module cache (go mod download fetches it when absent). */
export function kindBaseFiles(): string {
  const out = run('go', ['mod', 'download', '-json', `sigs.k8s.io/kind@${KIND_VERSION}`]);
  const dir = (JSON.parse(out) as { Dir: string }).Dir;
  return join(dir, 'images', 'base', 'files');
}

/** `kubeadm config images list` for the pinned version: upstream name per image. */
export function controlPlaneImages(kubeadm: string): Record<string, string> {
  const list = run(kubeadm, ['config', 'images', 'list', '--kubernetes-version', KUBE_VERSION])
    .trim()
    .split('\n');
  const by = (part: string): string => {
    const ref = list.find((r) => r.split(':')[0]!.endsWith(`/${part}`));
    if (!ref) throw new Error(`kubeadm config images list has no ${part}: ${list.join(', ')}`);
    return ref;
  };
  return {
    'kube-apiserver': by('kube-apiserver'),
    'kube-controller-manager': by('kube-controller-manager'),
    'kube-scheduler': by('kube-scheduler'),
    'kube-proxy': by('kube-proxy'),
    etcd: by('etcd'),
    coredns: by('coredns'),
    pause: by('pause'),
  };
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)],
  );
}

/** Builds `tag` from a Dockerfile and files on disk (name in the context → path), RUN steps on the host network. */
function dockerBuild(tag: string, dockerfile: string, files: Record<string, string>): void {
  const context = Object.fromEntries(Object.entries(files).map(([name, from]) => [name, { copyFrom: from }]));
  buildImage(tag, { dockerfile, files: context, network: 'host' });
}

const PATH_ENV = 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

function nodeDockerfile(pause: string): string {
  // Packages first: kind's /etc/containerd/config.toml in place would make dpkg ask about a conffile.
  return `FROM ${BASE_IMAGE}
RUN apt-get update -qq \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${NODE_PACKAGES.join(' ')} \\
 && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
COPY files/usr/local/bin/ /usr/local/bin/
COPY files/kind/ /kind/
COPY files/etc/ /etc/
RUN chmod 755 /usr/local/bin/* /kind /kind/bin /kind/bin/* \\
 && find /lib/systemd/system/sysinit.target.wants/ -name "systemd-tmpfiles-setup.service" -delete \\
 && rm -f /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/* \\
 && rm -f /lib/systemd/system/local-fs.target.wants/* /lib/systemd/system/sockets.target.wants/*udev* \\
 && rm -f /lib/systemd/system/sockets.target.wants/*initctl* /lib/systemd/system/basic.target.wants/* \\
 && echo "ReadKMsg=no" >> /etc/systemd/journald.conf \\
 && ln -sf /usr/lib/systemd/systemd /sbin/init \\
 && ln -sf /usr/bin/containerd /usr/local/bin/containerd \\
 && ln -sf /usr/bin/containerd-shim-runc-v2 /usr/local/bin/containerd-shim-runc-v2 \\
 && mkdir -p /opt/cni && rm -rf /opt/cni/bin && ln -s /usr/lib/cni /opt/cni/bin \\
 && ctr oci spec | jq '.hooks.createContainer[.hooks.createContainer| length] |= . + {"path": "/kind/bin/mount-product-files.sh"}' \\
    | jq 'del(.process.rlimits)' > /etc/containerd/cri-base.json \\
 && systemctl enable kubelet.service containerd.service undo-mount-hacks.service \\
 && systemctl mask systemd-binfmt.service \\
 && mkdir -p /etc/kubernetes/manifests /kind/images
COPY bin/ /usr/bin/
COPY crictl /usr/local/bin/crictl
COPY cgroup-shim.sh /kind/bin/sd-cgroup-shim.sh
COPY images/ /kind/images/
RUN chmod 755 /usr/bin/kubeadm /usr/bin/kubelet /usr/bin/kubectl /kind/bin/sd-cgroup-shim.sh \\
 && echo "${KUBE_VERSION}" > /kind/version \\
 && sed -i 's#^\\( *sandbox_image = \\).*#\\1"${pause}"#' /etc/containerd/config.toml \\
 && grep -q 'sandbox_image = "${pause}"' /etc/containerd/config.toml
${PATH_ENV}
ENV container=docker
STOPSIGNAL SIGRTMIN+3
ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]
`;
}

/** Dockerfile of one control-plane image around a cached binary. */
function componentDockerfile(name: string, binary: string): string {
  if (name === 'kube-proxy') {
    // kube-proxy programs iptables and conntrack: Debian's, in the node's network namespace.
    return `FROM ${BASE_IMAGE}
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends iptables conntrack ipset kmod \\
 && apt-get clean && rm -rf /var/lib/apt/lists/*
COPY ${binary} /usr/local/bin/${binary}
`;
  }
  const entry =
    name === 'coredns' ? 'ENTRYPOINT ["/coredns"]\n' : name === 'pause' ? 'ENTRYPOINT ["/pause"]\n' : '';
  const dest = name === 'coredns' || name === 'pause' ? `/${binary}` : `/usr/local/bin/${binary}`;
  return `FROM scratch\nCOPY ${binary} ${dest}\n${PATH_ENV}\n${entry}`;
}

export interface NodeImageInputs {
  tools: string;
  nodeTools: string;
  kindFiles: string;
}

function inputHash(inputs: NodeImageInputs, images: Record<string, string>): string {
  const h = createHash('sha256');
  const baseId = docker(['image', 'inspect', '--format', '{{.Id}}', BASE_IMAGE]).stdout.trim();
  h.update(JSON.stringify({ RECIPE, KUBE_VERSION, KIND_VERSION, NODE_PACKAGES, baseId, images }));
  h.update(nodeDockerfile(images.pause!));
  for (const name of Object.keys(images)) h.update(componentDockerfile(name, name));
  h.update(readFileSync(join(here, 'cgroup-shim.sh')));
  for (const f of walk(inputs.kindFiles).sort()) {
    h.update(`\0${relative(inputs.kindFiles, f)}\0`);
    h.update(readFileSync(f));
  }
  // Binaries: their cache directories are keyed by their pins; size and mtime catch a rebuilt file.
  for (const b of [
    'kubeadm',
    'kubelet',
    'kubectl',
    'kube-apiserver',
    'kube-controller-manager',
    'kube-scheduler',
    'kube-proxy',
    'etcd',
  ]) {
    const s = statSync(join(inputs.tools, b));
    h.update(`${inputs.tools}/${b}:${s.size}:${s.mtimeMs}\n`);
  }
  for (const b of ['coredns', 'pause', 'crictl']) {
    const s = statSync(join(inputs.nodeTools, b));
    h.update(`${inputs.nodeTools}/${b}:${s.size}:${s.mtimeMs}\n`);
  }
  return h.digest('hex').slice(0, 16);
}

/**
 * The local kind node image: reused when Docker has the tag for these inputs, else built (a few minutes
 * cold: Debian packages, one docker save of the control-plane images).
 */
export function ensureNodeImage(log: (m: string) => void = () => {}): string {
  const t0 = Date.now();
  ensureBaseImage(log);
  const inputs: NodeImageInputs = {
    tools: toolsBin(),
    nodeTools: nodeToolsBin(),
    kindFiles: kindBaseFiles(),
  };
  const images = controlPlaneImages(join(inputs.tools, 'kubeadm'));
  const tag = `${NODE_IMAGE_REPO}:${KUBE_VERSION}-${inputHash(inputs, images)}`;
  if (imageExists(tag)) return tag;
  log(`building kind node image ${tag}`);
  const binaryOf = (name: string): string => {
    if (name === 'coredns' || name === 'pause') return join(inputs.nodeTools, name);
    return join(inputs.tools, name);
  };
  for (const [name, ref] of Object.entries(images)) {
    const bin = binaryOf(name);
    dockerBuild(ref, componentDockerfile(name, name), { [name]: bin });
  }
  const ctx = mkdtempSync(join(tmpdir(), 'sd-kind-node-'));
  try {
    mkdirSync(join(ctx, 'images'));
    docker(['save', '-o', join(ctx, 'images', 'control-plane.tar'), ...Object.values(images)]);
    writeFileSync(join(ctx, 'images', 'images.txt'), `${Object.values(images).join('\n')}\n`);
    dockerBuild(tag, nodeDockerfile(images.pause!), {
      files: inputs.kindFiles,
      'bin/kubeadm': join(inputs.tools, 'kubeadm'),
      'bin/kubelet': join(inputs.tools, 'kubelet'),
      'bin/kubectl': join(inputs.tools, 'kubectl'),
      'cgroup-shim.sh': join(here, 'cgroup-shim.sh'),
      crictl: join(inputs.nodeTools, 'crictl'),
      images: join(ctx, 'images'),
    });
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
  // The component tags were only a step to the archive inside the node image.
  docker(['rmi', ...Object.values(images)], { allowFail: true });
  // Older builds of the node image (other input hashes) are of no use any more: untag them.
  const older = docker(['image', 'ls', NODE_IMAGE_REPO, '--format', '{{.Repository}}:{{.Tag}}'])
    .stdout.split('\n')
    .filter((t) => t && t !== tag);
  if (older.length) docker(['rmi', ...older], { allowFail: true });
  log(`built ${tag} in ${((Date.now() - t0) / 1000).toFixed(0)}s`);
  return tag;
}

// `node tools/kind/node-image.ts`: build (or reuse) the image, print its tag.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const t0 = Date.now();
  const tag = ensureNodeImage((m) => process.stderr.write(`[kind-node] ${m}\n`));
  process.stderr.write(`[kind-node] ${tag} ready in ${((Date.now() - t0) / 1000).toFixed(1)}s\n`);
  process.stdout.write(`${tag}\n`);
}
