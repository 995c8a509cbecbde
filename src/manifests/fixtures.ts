/** A normalised sample configuration for unit tests (what parseConfig returns for a typical file). */
import type { Config } from '../config/types.ts';

export function sampleConfig(overrides: (c: Config) => void = () => {}): Config {
  const config: Config = {
    argocd: {
      namespace: 'argocd',
      version: 'v3.5.1',
      install: { source: 'bundled' },
      adminPassword: { secretRef: { name: 'argocd-admin-password', key: 'password' }, generate: true },
      server: { insecure: true, rootPath: '/argocd' },
      virtualService: { enabled: 'auto', gateway: 'istio-system/seldon-gateway', hosts: ['*'] },
      rolloutTimeout: 600_000,
    },
    git: {
      repoUrl: 'ssh://git@git.example.com/acme/gitops.git',
      credentials: { secretRef: { name: 'gitops-source-creds' } },
      verify: true,
    },
    environments: {
      project: 'seldon',
      namespaces: [
        { name: 'staging', restricted: false },
        { name: 'production', restricted: true },
      ],
      applicationName: 'seldon-gitops-{namespace}',
      logging: { enabled: true, namespace: 'seldon-logs', restricted: false },
      waitForSync: true,
      syncTimeout: 300_000,
    },
    seldonDeploy: { namespace: 'seldon-system', gitCredentialsSecret: 'git-creds', sshKeyName: 'id_rsa' },
    webhooks: { enabled: false },
    report: { configMap: 'sd-gitops-bootstrap-report' },
  };
  overrides(config);
  return config;
}
