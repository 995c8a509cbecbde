/**
 * Helpers of the real-node tests: images pushed under upstream names, a namespace per file, waits that
 * report what the pod is doing instead of "timed out".
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { BASE_IMAGE, type ImageBuild, pushImage } from '../../cluster/real-node/images.ts';
import { kubectl, kubectlJson, target, uniqueName } from '../../e2e/support/target.ts';

/**
 * Builds an image with Docker and pushes it to the local registry where the mirror serves `upstream`
 * (e.g. `quay.io/argoproj/argocd:v3.5.1`): a manifest naming `upstream` then runs unchanged. Returns the
 * digest (what `imageID` of a container shows).
 */
export function pushUpstreamImage(upstream: string, build: ImageBuild): string {
  const registry = target().registry;
  if (!registry) throw new Error('no local registry: not a real-node cluster');
  return pushImage(registry, upstream, build).digest;
}

/**
 * The tests' general-purpose image: Debian bookworm with curl, busybox (httpd, nc, nslookup), procps.
 * Pushed as `ghcr.io/sd-e2e/toolbox:1`.
 */
export const TOOLBOX = 'ghcr.io/sd-e2e/toolbox:1';
export function pushToolbox(): string {
  return pushUpstreamImage(TOOLBOX, { dockerfile: `FROM ${BASE_IMAGE}\nRUN mkdir -p /www\n` });
}

/** A namespace for one `describe` block, created before its tests and deleted after them. */
export function useNamespace(prefix: string): { readonly name: string } {
  const ns = { name: uniqueName(prefix) };
  beforeAll(async () => {
    await kubectl(['create', 'namespace', ns.name]);
    // Pods need the namespace's default ServiceAccount, made asynchronously by the controller manager.
    await kubectl([
      'wait',
      '--for=jsonpath={.metadata.name}=default',
      'serviceaccount/default',
      '-n',
      ns.name,
      '--timeout=60s',
    ]);
  });
  afterAll(async () => {
    await kubectl(['delete', 'namespace', ns.name, '--wait=false']).catch(() => {});
  });
  return ns;
}

export async function apply(manifest: unknown, namespace?: string): Promise<void> {
  const ns = namespace ? ['-n', namespace] : [];
  await kubectl(['apply', ...ns, '-f', '-'], {
    input: typeof manifest === 'string' ? manifest : JSON.stringify(manifest),
  });
}

interface PodStatus {
  status?: {
    phase?: string;
    podIP?: string;
    containerStatuses?: {
      name: string;
      image: string;
      imageID: string;
      ready: boolean;
      restartCount: number;
      state?: {
        waiting?: { reason?: string; message?: string };
        terminated?: { exitCode: number; reason?: string; message?: string };
      };
    }[];
  };
}

export type Pod = PodStatus;

/** Waits until `pod` is Ready; the error says what its containers are waiting on. */
export async function waitForPodReady(namespace: string, pod: string, timeoutSec = 120): Promise<Pod> {
  try {
    await kubectl([
      'wait',
      '--for=condition=Ready',
      `pod/${pod}`,
      '-n',
      namespace,
      `--timeout=${timeoutSec}s`,
    ]);
  } catch (err) {
    const p = await kubectlJson<Pod>(['get', 'pod', pod, '-n', namespace]).catch(() => undefined);
    const events = await kubectl([
      'get',
      'events',
      '-n',
      namespace,
      '--field-selector',
      `involvedObject.name=${pod}`,
      '-o',
      'custom-columns=REASON:.reason,MESSAGE:.message',
    ]).catch(() => '');
    throw new Error(
      `pod ${namespace}/${pod} not Ready: ${JSON.stringify(p?.status?.containerStatuses?.map((c) => c.state) ?? p?.status?.phase)}\n${events}`,
      { cause: err },
    );
  }
  return kubectlJson<Pod>(['get', 'pod', pod, '-n', namespace]);
}

/** A pod spec running `command` in the toolbox image. */
export function toolboxPod(name: string, command: string, extra: Record<string, unknown> = {}): unknown {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { app: name } },
    spec: {
      terminationGracePeriodSeconds: 1,
      containers: [{ name: 'main', image: TOOLBOX, command: ['sh', '-c', command] }],
      ...extra,
    },
  };
}

/** A busybox httpd serving `body` on port 8080 at `/`, and a ClusterIP Service `name` on port 80. */
export function webServer(name: string, body: string): unknown[] {
  return [
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, labels: { app: name } },
      spec: {
        terminationGracePeriodSeconds: 1,
        containers: [
          {
            name: 'main',
            image: TOOLBOX,
            command: [
              'sh',
              '-c',
              `printf '%s' '${body}' > /www/index.html && exec busybox httpd -f -p 8080 -h /www`,
            ],
            ports: [{ containerPort: 8080, name: 'http' }],
            readinessProbe: { httpGet: { path: '/', port: 8080 }, periodSeconds: 1 },
          },
        ],
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name },
      spec: { selector: { app: name }, ports: [{ port: 80, targetPort: 'http', name: 'http' }] },
    },
  ];
}

/** Runs `args` in a container and returns stdout, stderr and the exit code (kubectl exec). */
export function exec(
  namespace: string,
  pod: string,
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const t = target();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(
      join(t.binDir, 'kubectl'),
      ['--kubeconfig', t.kubeconfig, 'exec', '-n', namespace, pod, '--', ...args],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

/** Retries `fn` until it resolves or `timeoutMs` passes; rethrows the last error. */
export async function eventually<T>(fn: () => Promise<T>, timeoutMs = 30_000, intervalMs = 500): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }
}
