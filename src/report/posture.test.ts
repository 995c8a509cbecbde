import { describe, expect, it } from 'vitest';
import { sampleConfig } from '../../test/fixtures/sample-config.ts';
import { BUNDLED_VERSIONS } from '../config/bundled.ts';
import { loadArgocdManifest } from '../manifests/argocd.ts';
import {
  adminCheck,
  anonymousCheck,
  CORE_NETWORK_POLICIES,
  insecureCheck,
  networkPolicyCheck,
} from './posture.ts';

const config = sampleConfig();
const skip = sampleConfig((c) => (c.argocd.install.source = 'skip'));

describe('argocd.posture.admin (informative)', () => {
  it('admin enabled by default: ready, not required, naming SSO as the alternative', () => {
    const c = adminCheck(config, {});
    expect(c).toMatchObject({ id: 'argocd.posture.admin', ready: true, required: false });
    expect(c.message).toMatch(/^local admin user enabled \(argocd-cm admin\.enabled unset\)/);
    expect(c.message).toContain('argocd.sso.disableAdmin: true');
  });

  it('admin.enabled "true" is enabled too; only "false" disables it, as Argo CD reads it', () => {
    expect(adminCheck(config, { 'admin.enabled': 'true' }).message).toMatch(
      /enabled \(argocd-cm admin\.enabled: "true"\)/,
    );
    expect(adminCheck(config, { 'admin.enabled': 'no' }).message).toMatch(/^local admin user enabled/);
    const off = adminCheck(config, { 'admin.enabled': 'false' });
    expect(off).toMatchObject({ ready: true, required: false });
    expect(off.message).toMatch(/^local admin user disabled/);
  });

  it('argocd-cm missing: said, not ready, still informative', () => {
    expect(adminCheck(config, null)).toMatchObject({ ready: false, required: false });
  });
});

describe('argocd.posture.anonymous', () => {
  it('unset or false: ready, required', () => {
    expect(anonymousCheck(config, {})).toMatchObject({ ready: true, required: true });
    expect(anonymousCheck(config, { 'users.anonymous.enabled': 'false' })).toMatchObject({
      ready: true,
      required: true,
    });
  });

  it('enabled in the cluster, not by the config: not ready, naming the key and both fixes', () => {
    for (const value of ['true', 'True', '1']) {
      const c = anonymousCheck(config, { 'users.anonymous.enabled': value });
      expect(c).toMatchObject({ id: 'argocd.posture.anonymous', ready: false, required: true });
      expect(c.message).toContain('remove the key from argocd/argocd-cm');
      expect(c.message).toContain('argocd.settings.cm."users.anonymous.enabled"');
    }
  });

  it('enabled because argocd.settings.cm says so: informative, said', () => {
    const chosen = sampleConfig((c) => (c.argocd.settings.cm['users.anonymous.enabled'] = 'true'));
    const c = anonymousCheck(chosen, { 'users.anonymous.enabled': 'true' });
    expect(c).toMatchObject({ ready: true, required: false });
    expect(c.message).toMatch(/^anonymous access enabled, as argocd\.settings\.cm sets it/);
  });
});

describe('argocd.posture.server-insecure (informative)', () => {
  it('"true": expected behind Istio, and says the TLS is off on purpose', () => {
    const c = insecureCheck(config, { 'server.insecure': 'true' });
    expect(c).toMatchObject({ id: 'argocd.posture.server-insecure', ready: true, required: false });
    expect(c.message).toContain("Istio's gateway terminates TLS");
    expect(c.message).toContain('on purpose');
  });

  it('"false" or unset: argocd-server serves TLS itself; informative', () => {
    const c = insecureCheck(config, { 'server.insecure': 'false' });
    expect(c).toMatchObject({ ready: true, required: false });
    expect(c.message).toMatch(/^server\.insecure "false" .*serves TLS itself/);
    expect(insecureCheck(config, {}).message).toMatch(/^server\.insecure unset/);
    expect(insecureCheck(config, null)).toMatchObject({ ready: false, required: false });
  });
});

describe('argocd.posture.network-policies', () => {
  const manifestNps = [
    'argocd-application-controller-network-policy',
    'argocd-redis-network-policy',
    'argocd-repo-server-network-policy',
    'argocd-server-network-policy',
  ];

  it('all of the manifest present: ready, required when the bootstrap installs Argo CD', () => {
    const c = networkPolicyCheck(config, { expected: manifestNps, present: [...manifestNps, 'site-own'] });
    expect(c).toMatchObject({ id: 'argocd.posture.network-policies', ready: true, required: true });
    expect(c.message).toMatch(/^4 NetworkPolicies of Argo CD present in argocd/);
  });

  it('one missing: not ready, naming it; apply re-creates it', () => {
    const c = networkPolicyCheck(config, {
      expected: manifestNps,
      present: manifestNps.filter((n) => n !== 'argocd-repo-server-network-policy'),
    });
    expect(c).toMatchObject({ ready: false, required: true });
    expect(c.message).toBe(
      'NetworkPolicies missing in argocd: argocd-repo-server-network-policy: apply re-creates them from the install manifest',
    );
  });

  it("a manifest without the controller's and repo-server's: not ready, the manifest named", () => {
    const c = networkPolicyCheck(config, {
      expected: ['argocd-server-network-policy'],
      present: ['argocd-server-network-policy'],
    });
    expect(c.ready).toBe(false);
    expect(c.message).toMatch(
      /install manifest \(argocd\.install\) has no argocd-application-controller-network-policy, argocd-repo-server-network-policy/,
    );
  });

  it('install.source skip: the core two looked for, informative, reports what it sees', () => {
    expect(networkPolicyCheck(skip, { expected: [], present: [] })).toMatchObject({
      ready: false,
      required: false,
    });
    expect(networkPolicyCheck(skip, { expected: [], present: manifestNps })).toMatchObject({
      ready: true,
      required: false,
    });
  });

  it('a list refused: the error said (skip: why the chart grants none)', () => {
    const c = networkPolicyCheck(skip, { expected: [], present: { error: 'forbidden (403)' } });
    expect(c).toMatchObject({ ready: false, required: false });
    expect(c.message).toMatch(
      /^cannot list the NetworkPolicies in argocd: forbidden \(403\) \(with argocd.install.source: skip/,
    );
  });
});

describe('the bundled manifests', () => {
  it.each(BUNDLED_VERSIONS)('%s ships 7 NetworkPolicies, the core two among them', async (version) => {
    const { objects } = await loadArgocdManifest(sampleConfig((c) => (c.argocd.version = version)).argocd);
    const names = objects.filter((o) => o.kind === 'NetworkPolicy').map((o) => o.metadata.name);
    expect(names).toHaveLength(7);
    expect(names).toEqual(expect.arrayContaining([...CORE_NETWORK_POLICIES]));
    expect(names.every((n) => /^argocd-[a-z-]+-network-policy$/.test(n))).toBe(true);
  });
});
