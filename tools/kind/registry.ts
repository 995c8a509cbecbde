/**
 * A local registry for a kind cluster, the way kind's own documentation sets one up ("Local Registry"): a
 * registry container on the cluster's Docker network, and containerd in the node told (`certs.d/<host>/
 * hosts.toml`) to pull docker.io, quay.io, ghcr.io, public.ecr.aws and registry.k8s.io images from it.
 *
 * Why not only `kind load docker-image`: a loaded image serves pods whose pull policy lets the kubelet use
 * what the node has. Argo CD's own manifest says `imagePullPolicy: Always` for every container, so the
 * kubelet asks the registry each time — here, this one, under the upstream name the manifest uses.
 *
 * The registry is Debian's `docker-registry` (distribution 2.8, installed by .ci/run) in a small image on
 * the debootstrap base; images are pushed from the host to its mapped port (`localhost:<port>`, which Docker
 * treats as an insecure registry by default).
 */
import { existsSync } from 'node:fs';
import { GenericContainer, type StartedTestContainer } from 'testcontainers';
import { BASE_IMAGE, docker, ensureBaseDerivedImage, pushAs } from '../images/docker.ts';
import { KIND_LABEL } from './kind-container.ts';

export const REGISTRY_NAME = 'registry.sd-e2e.internal';
const PORT = 5000;
const BINARY = '/usr/bin/docker-registry';
/** Upstream registries the node pulls from this one instead (their API hosts). */
export const MIRRORED: Record<string, string> = {
  'docker.io': 'https://registry-1.docker.io',
  'quay.io': 'https://quay.io',
  'ghcr.io': 'https://ghcr.io',
  'public.ecr.aws': 'https://public.ecr.aws',
  'registry.k8s.io': 'https://registry.k8s.io',
};

const CONFIG = `version: 0.1
log: { level: warn }
storage:
  filesystem: { rootdirectory: /var/lib/registry }
  delete: { enabled: true }
http:
  addr: :${PORT}
`;

/** Why the registry cannot run here, if it cannot. */
export function registryMissing(): string | undefined {
  return existsSync(BINARY) ? undefined : `no ${BINARY} (apt-get install docker-registry)`;
}

/** `sd-local/registry:<hash>`: the base plus Debian's registry binary and its config. */
export function ensureRegistryImage(log: (m: string) => void = () => {}): string {
  const missing = registryMissing();
  if (missing) throw new Error(missing);
  return ensureBaseDerivedImage(
    'registry',
    {
      dockerfile: `FROM ${BASE_IMAGE}
COPY docker-registry /usr/bin/docker-registry
COPY config.yml /etc/docker/registry/config.yml
ENTRYPOINT ["/usr/bin/docker-registry", "serve", "/etc/docker/registry/config.yml"]
`,
      files: { 'docker-registry': { copyFrom: BINARY }, 'config.yml': CONFIG },
    },
    log,
  );
}

/** hosts.toml for one mirrored registry: its pulls go to the local registry, nowhere else. */
export function hostsToml(server: string): string {
  return `server = "${server}"\n\n[host."http://${REGISTRY_NAME}:${PORT}"]\n  capabilities = ["pull", "resolve"]\n`;
}

export interface KindRegistry {
  /** `localhost:<mapped port>`: where the host pushes. */
  pushTo: string;
  container: StartedTestContainer;
  /** Tags `local` under `upstream` in this registry and pushes it; the node then pulls `upstream` from it. */
  push(local: string, upstream: string): { ref: string; digest: string };
}

/**
 * Starts the registry on the cluster's network and points the node's containerd at it (KindContainer
 * sets containerd's `config_path` to `/etc/containerd/certs.d`, read at every pull: no restart).
 */
export async function startKindRegistry(opts: {
  network: string;
  clusterId: string;
  nodeContainer: string;
  log?: (m: string) => void;
}): Promise<KindRegistry> {
  const image = ensureRegistryImage(opts.log);
  const container = await new GenericContainer(image)
    .withNetworkMode(opts.network)
    .withNetworkAliases(REGISTRY_NAME)
    .withLabels({ [KIND_LABEL]: opts.clusterId })
    .withExposedPorts(PORT)
    .withPullPolicy({ shouldPull: () => false })
    .start();
  for (const [host, server] of Object.entries(MIRRORED)) {
    docker(
      [
        'exec',
        '-i',
        opts.nodeContainer,
        'sh',
        '-c',
        `mkdir -p /etc/containerd/certs.d/${host} && cat > /etc/containerd/certs.d/${host}/hosts.toml`,
      ],
      {
        input: hostsToml(server),
      },
    );
  }
  const pushTo = `localhost:${container.getMappedPort(PORT)}`;
  return {
    pushTo,
    container,
    push: (local, upstream) => pushAs(pushTo, local, upstream),
  };
}
