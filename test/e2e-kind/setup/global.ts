/**
 * Global setup of the `e2e-kind` project: which kind node image the suite runs.
 *
 * - `KIND_NODE_IMAGE` set (e.g. the official `kindest/node:v1.36.x` on a machine that can pull): that image.
 * - Otherwise the offline build (test/kind/node-image.ts), cached by the hash of its inputs.
 * - Prerequisites missing (no Docker; for the local build, no Go or debootstrap): one line saying what to
 *   install, and the suite is skipped; in CI (`CI=true`) that is an error instead.
 */
import { spawnSync } from 'node:child_process';
import type { TestProject } from 'vitest/node';
import { ensureNodeImage } from '../../kind/node-image.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    kindNodeImage: string;
  }
}

const say = (m: string): void => {
  process.stderr.write(`[e2e-kind] ${m}\n`);
};
const ok = (cmd: string, args: string[]): boolean =>
  spawnSync(cmd, args, {
    stdio: 'ignore',
    env: { ...process.env, PATH: `/usr/sbin:/sbin:${process.env.PATH ?? ''}` },
  }).status === 0;

export default function setup(project: TestProject): void {
  const skip = (why: string): void => {
    if (process.env.CI === 'true') throw new Error(`e2e-kind cannot run: ${why}`);
    say(`skipped: ${why}`);
    project.provide('kindNodeImage', '');
  };
  if (!ok('docker', ['info'])) return void skip('Docker is not running (install Docker, or start dockerd)');
  const preset = process.env.KIND_NODE_IMAGE;
  if (preset) {
    project.provide('kindNodeImage', preset);
    return;
  }
  if (!ok('go', ['version']))
    return void skip(
      'no Go toolchain to build the kind node image (or set KIND_NODE_IMAGE=kindest/node:v1.36.x)',
    );
  if (!ok('which', ['debootstrap']))
    return void skip(
      'no debootstrap for the node image base (apt-get install debootstrap, or set KIND_NODE_IMAGE)',
    );
  const t0 = Date.now();
  const tag = ensureNodeImage(say);
  say(`node image ${tag} (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
  project.provide('kindNodeImage', tag);
}
