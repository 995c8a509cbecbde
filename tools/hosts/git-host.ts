/**
 * The Git server of the kind tier as a container of its own, started through testcontainers on the kind
 * cluster's Docker network: pods (Argo CD's repo-server, the bootstrap's Job) and the CLI run in a container
 * on that network reach it by name (`git.sd-e2e.internal`), through CoreDNS forwarding to Docker's DNS —
 * the way a site's Git host is reached, not by an address of the machine running the tests.
 *
 * The image is Debian (the project's debootstrap base) with git, OpenSSH's sshd, nginx and fcgiwrap.
 * The servers themselves are tools/git/git-ssh-server.ts and git-https-server.ts unchanged: their
 * processes run in this container (`docker exec`) and their files live in a host directory mounted at the
 * same path, so the tests create repositories and commits from the host with plain `git`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GenericContainer, type StartedTestContainer } from 'testcontainers';
import type { ServerHost } from '../git/net.ts';
import { BASE_IMAGE, docker, ensureBaseDerivedImage } from '../images/docker.ts';
import { KIND_LABEL } from '../kind/kind-container.ts';

export const GIT_HOST_NAME = 'git.sd-e2e.internal';
const PACKAGES = ['git', 'openssh-server', 'nginx-light', 'fcgiwrap'];

/** `sd-local/git-server:<hash of the recipe and the base>`, built once (about a minute) and reused. */
export function ensureGitServerImage(log: (m: string) => void = () => {}): string {
  return ensureBaseDerivedImage(
    'git-server',
    {
      dockerfile: `FROM ${BASE_IMAGE}
RUN apt-get update -qq \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${PACKAGES.join(' ')} \\
 && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \\
 && rm -f /etc/ssh/ssh_host_*
CMD ["sh", "-c", "mkdir -p /run/sshd && exec sleep infinity"]
`,
      network: 'host',
    },
    log,
  );
}

export interface GitHost extends ServerHost {
  /** A host directory mounted at the same path in the container: the servers' roots go under it. */
  dir: string;
  container: StartedTestContainer;
  stop(): Promise<void>;
}

/** Starts the Git host container on `network` (the kind cluster's), labelled for the cluster's teardown. */
export async function startGitHost(opts: {
  network: string;
  clusterId: string;
  /** The shared directory (default: a new temp dir, removed by `stop`). */
  dir?: string;
  /** Container name (default: testcontainers' own). */
  name?: string;
  /**
   * Servers that outlive this process (the demo's, polled by Argo CD until `cluster:down`): started
   * detached in the container (`docker exec -d`), whose own client then exits 0 at once.
   */
  persistent?: boolean;
  log?: (m: string) => void;
}): Promise<GitHost> {
  const image = ensureGitServerImage(opts.log);
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'sd-git-host-'));
  const builder = new GenericContainer(image);
  if (opts.name) builder.withName(opts.name);
  const container = await builder
    .withNetworkMode(opts.network)
    .withNetworkAliases(GIT_HOST_NAME)
    .withLabels({ [KIND_LABEL]: opts.clusterId })
    .withBindMounts([{ source: dir, target: dir, mode: 'rw' }])
    .withPullPolicy({ shouldPull: () => false })
    .start();
  const id = container.getId();
  const ip = container.getIpAddress(opts.network);
  let next = 2222;
  return {
    dir,
    container,
    listen: '0.0.0.0',
    advertise: GIT_HOST_NAME,
    probe: ip,
    // The container's own network namespace: nothing else listens there.
    port: async (preferred) => preferred ?? next++,
    spawn: (cmd, args, o): ChildProcess => {
      // Detached (`docker exec -d`): the server lives on when this process ends; the client exits 0 at once.
      const detach = opts.persistent ? ['-d'] : [];
      return spawn(
        'docker',
        ['exec', ...detach, id, cmd, ...args],
        opts.persistent ? { stdio: 'ignore' } : o,
      );
    },
    async stop() {
      await container.stop({ remove: true, removeVolumes: true, timeout: 2_000 }).catch(() => {});
      // Files the servers wrote as root in the container are the host's root's too: plain removal works.
      if (!opts.dir) rmSync(dir, { recursive: true, force: true });
      docker(['rm', '-f', id], { allowFail: true });
    },
  };
}
