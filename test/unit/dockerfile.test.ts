/** The Dockerfile bundles and checks exactly the Argo CD manifests the program knows (src/). */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BUNDLED_VERSIONS } from '../../src/config/bundled.ts';
import { BUNDLED_HA_SHA256, BUNDLED_SHA256 } from '../../src/manifests/argocd.ts';

const dockerfile = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');

describe('Dockerfile', () => {
  it('ARGOCD_BUNDLED lists every bundled version with the sha256 the program pins', () => {
    const arg = /^ARG ARGOCD_BUNDLED="([^"]*)"$/m.exec(dockerfile)?.[1];
    expect(arg).toBeDefined();
    const pairs = Object.fromEntries(arg!.split(/\s+/).map((p) => p.split('=') as [string, string]));
    expect(Object.keys(pairs)).toEqual([...BUNDLED_VERSIONS]);
    expect(pairs).toEqual(Object.fromEntries(BUNDLED_VERSIONS.map((v) => [v, BUNDLED_SHA256[v]])));
  });

  it('ARGOCD_BUNDLED_HA lists every bundled version with the sha256 of its HA manifest', () => {
    const arg = /^ARG ARGOCD_BUNDLED_HA="([^"]*)"$/m.exec(dockerfile)?.[1];
    expect(arg).toBeDefined();
    const pairs = Object.fromEntries(arg!.split(/\s+/).map((p) => p.split('=') as [string, string]));
    expect(pairs).toEqual(Object.fromEntries(BUNDLED_VERSIONS.map((v) => [v, BUNDLED_HA_SHA256[v]])));
  });

  it('runs as a numeric non-root user, from the built program', () => {
    expect(dockerfile).toMatch(/^USER [1-9][0-9]*:[1-9][0-9]*$/m);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "\/app\/dist\/main.js"\]$/m);
    expect(dockerfile).toMatch(/^ARG BASE_IMAGE=node:24-slim$/m);
  });
});
