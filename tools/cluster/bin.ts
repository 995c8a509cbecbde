/**
 * The pinned binaries of both local clusters, built or reused by their build scripts (instant when the
 * cache is warm; tools/lib/build-lib.sh says where the cache lives and how it is keyed).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

function lastLine(script: string): string {
  const r = spawnSync(join(import.meta.dirname, script), [], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`tools/cluster/${script} failed (exit ${r.status})`);
  return r.stdout.trim().split('\n').pop()!;
}

/** etcd, the control plane, kubelet, kubectl, kubeadm, kwok(ctl) and helm (tools/cluster/build.sh). */
export function toolsBin(): string {
  return lastLine('build.sh');
}

/** CoreDNS, crictl and pause for the kind node image (tools/cluster/node/build.sh). */
export function nodeToolsBin(): string {
  return lastLine('node/build.sh');
}
