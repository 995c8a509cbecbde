/** Small helpers of the kind tier's tests: apply an object as cluster admin, retry until true. */
import { kubectl, kubectlJson } from '../../e2e/support/target.ts';

export async function apply(manifest: unknown, namespace?: string): Promise<void> {
  const ns = namespace ? ['-n', namespace] : [];
  await kubectl(['apply', ...ns, '-f', '-'], {
    input: typeof manifest === 'string' ? manifest : JSON.stringify(manifest),
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

/** resourceVersion of each object `kubectl get <kinds>` lists in `namespace` (none: cluster-scoped). */
export async function versions(
  kinds: string,
  namespace?: string,
  names?: (n: string) => boolean,
): Promise<Map<string, string>> {
  const list = await kubectlJson<{
    items: { kind: string; metadata: { name: string; resourceVersion: string } }[];
  }>(['get', kinds, ...(namespace ? ['-n', namespace] : [])]);
  return new Map(
    list.items
      .filter((o) => !names || names(o.metadata.name))
      .map((o) => [`${namespace ?? ''}/${o.kind}/${o.metadata.name}`, o.metadata.resourceVersion]),
  );
}
