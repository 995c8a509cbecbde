import { describe, expect, it } from 'vitest';
import { environmentRow } from '../../test/fixtures/environments.ts';
import { environmentsOf } from './environments.ts';
import { parseConfig } from './load.ts';
import { checkRules, RULES } from './rules.ts';

const input = {
  git: { repoUrl: 'ssh://git@h/r.git' },
  environments: { namespaces: ['staging', { name: 'production', restricted: true }] },
};
const config = parseConfig(input);

describe('rules', () => {
  it('are named functions, each with the sections it reads', () => {
    for (const rule of RULES) {
      expect(rule.check.name).not.toBe('');
      expect(rule.needs.length).toBeGreaterThan(0);
    }
  });

  it('pass on a valid config', () => {
    expect(checkRules(config)).toEqual([]);
  });

  it('run only when their sections are present', () => {
    const webhooks = { ...config.webhooks, enabled: true };
    // webhookSettingsComplete reads webhooks and git: without git it does not run.
    expect(checkRules({ webhooks })).toEqual([]);
    expect(checkRules({ webhooks, git: config.git })).toEqual([
      { path: 'webhooks.provider', message: expect.stringContaining('required when webhooks.enabled') },
      { path: 'webhooks.argocdUrl', message: expect.stringContaining('required when webhooks.enabled') },
    ]);
    expect(checkRules({})).toEqual([]);
  });
});

describe('environmentsOf', () => {
  it('lists the namespaces, then the logging namespace, with their Application names', () => {
    expect(environmentsOf(config)).toEqual([
      environmentRow('staging', false, false, 'seldon-gitops-staging'),
      environmentRow('production', true, false, 'seldon-gitops-production'),
      environmentRow('seldon-logs', false, true, 'seldon-gitops-seldon-logs'),
    ]);
  });

  it('leaves the logging namespace out when disabled', () => {
    const c = {
      environments: { ...config.environments, logging: { ...config.environments.logging, enabled: false } },
    };
    expect(environmentsOf(c).map((e) => e.namespace)).toEqual(['staging', 'production']);
  });
});
