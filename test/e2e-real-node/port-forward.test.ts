/**
 * Issue 4, test 6: `kubectl port-forward` to a Service works (API server → kubelet → containerd's
 * streaming server → the pod's network namespace).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { target } from '../e2e/support/target.ts';
import { apply, pushToolbox, useNamespace, waitForPodReady, webServer } from './support/node.ts';

/** Starts `kubectl port-forward` on a free local port; resolves with that port once it listens. */
function portForward(
  namespace: string,
  resource: string,
  remote: number,
): Promise<{ port: number; child: ChildProcess }> {
  const t = target();
  const child = spawn(
    join(t.binDir, 'kubectl'),
    ['--kubeconfig', t.kubeconfig, 'port-forward', '-n', namespace, resource, `:${remote}`],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return new Promise((resolvePromise, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`port-forward did not start: ${out}`)), 30_000);
    const onData = (d: Buffer) => {
      out += d;
      const m = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolvePromise({ port: Number(m[1]), child });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`port-forward exited (${code}): ${out}`)));
  });
}

describe.skipIf(!target().realNode)('kubectl port-forward', () => {
  const ns = useNamespace('rn-pf');
  const body = randomBytes(8).toString('hex');
  let pf: { port: number; child: ChildProcess } | undefined;

  beforeAll(async () => {
    pushToolbox();
    await apply({ apiVersion: 'v1', kind: 'List', items: webServer('web', body) }, ns.name);
    await waitForPodReady(ns.name, 'web');
  });

  afterAll(() => {
    pf?.child.kill();
  });

  it('forwards a local port to a Service', async () => {
    pf = await portForward(ns.name, 'service/web', 80);
    for (let i = 0; i < 3; i++) {
      // Several requests over the same tunnel: each opens a new stream.
      const res = await fetch(`http://127.0.0.1:${pf.port}/`);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe(body);
    }
  });
});
