/**
 * The normalised configuration every step reads. Produced by `loadConfig` (src/config/load.ts) from the
 * YAML file after defaults are filled in and every rule has passed; steps never see raw input.
 * The schema with descriptions and defaults lives in src/config/schema.ts (single source of truth);
 * this type must equal `z.output<typeof configSchema>` (a type test enforces it).
 */
import type { ARGOCD_COMPONENTS } from './components.ts';

export interface SecretRef {
  name: string;
  /** Defaults to the run's namespace (POD_NAMESPACE) when absent. */
  namespace?: string | undefined;
}

/** A Secret or ConfigMap key with PEM CA certificates. */
export interface CaBundleRef {
  name: string;
  key: string;
  namespace?: string | undefined;
}

export interface Config {
  argocd: {
    namespace: string;
    version: string;
    install: { source: 'bundled' | 'file' | 'url' | 'skip'; file?: string; url?: string; sha256?: string };
    adminPassword: {
      secretRef: SecretRef & { key: string };
      /** When the Secret does not exist: generate a password once and store it there. */
      generate: boolean;
    };
    server: { insecure: boolean; rootPath: string };
    virtualService: { enabled: 'auto' | boolean; gateway: string; hosts: string[] };
    /** Milliseconds (normalised). YAML accepts "10m", "90s", "1h30m" or a number of seconds in YAML. */
    rolloutTimeout: number;
    /** Argo CD's workloads shaped to the site, by name. */
    components: Partial<
      Record<
        (typeof ARGOCD_COMPONENTS)[number],
        {
          replicas?: number | undefined;
          resources?:
            | {
                requests?: Record<string, string | number> | undefined;
                limits?: Record<string, string | number> | undefined;
              }
            | undefined;
          nodeSelector?: Record<string, string> | undefined;
          tolerations?:
            | {
                key?: string | undefined;
                operator?: 'Exists' | 'Equal' | undefined;
                value?: string | undefined;
                effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute' | undefined;
                tolerationSeconds?: number | undefined;
              }[]
            | undefined;
          extraArgs?: string[] | undefined;
          env?: { name: string; value: string }[] | undefined;
        }
      >
    >;
    /** Argo CD's external URL (argocd-cm `url`). */
    url?: string | undefined;
    /** Extra keys of Argo CD's ConfigMaps. */
    settings: {
      cm: Record<string, string>;
      cmdParams: Record<string, string>;
      rbac: Record<string, string>;
    };
    sso: {
      enabled: boolean;
      name: string;
      issuer?: string | undefined;
      clientID?: string | undefined;
      clientSecret: { secretRef: { name: string; key: string } };
      scopes: string[];
      /** PEM of the provider's CA (oidc.config rootCA). */
      rootCA?: string | undefined;
      /** Group → Argo CD role. */
      groups: Record<string, string>;
      disableAdmin: boolean;
    };
    /** Allow a lower major version than the one installed. */
    allowDowngrade: boolean;
  };
  git: {
    repoUrl: string;
    credentials: { secretRef: SecretRef };
    /** Exactly one of the two refs is set. */
    caBundle?: { secretRef?: CaBundleRef | undefined; configMapRef?: CaBundleRef | undefined } | undefined;
    /** A plain http:// repoUrl is allowed (test setups). */
    allowInsecureHttp: boolean;
    verify: boolean;
  };
  environments: {
    project: string;
    namespaces: { name: string; restricted: boolean }[];
    /** Template; `{namespace}` is replaced. */
    applicationName: string;
    logging: { enabled: boolean; namespace: string; restricted: boolean };
    waitForSync: boolean;
    /** Milliseconds (normalised), same formats as rolloutTimeout. */
    syncTimeout: number;
    /** When an environment leaves the list, also delete what its Application deployed. */
    deleteRemovedResources: boolean;
  };
  seldonDeploy: { namespace: string; gitCredentialsSecret: string; sshKeyName: string };
  webhooks: {
    enabled: boolean;
    provider?: 'github' | 'gitlab' | 'bitbucket' | undefined;
    apiUrl?: string | undefined;
    repository?: string | undefined;
    token: { secretRef: SecretRef & { key: string } };
    argocdUrl?: string | undefined;
    seldonDeployUrl?: string | undefined;
    /** In the run's namespace: the generated Argo CD webhook secret and the registered hooks. */
    secretName: string;
    insecureSkipTlsVerify: boolean;
  };
  report: { configMap: string };
}

/** The process environment, validated with envalid (src/config/env.ts). */
export interface Env {
  SD_BOOTSTRAP_CONFIG: string;
  LOG_LEVEL: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
  LOG_FORMAT: 'json' | 'pretty' | 'auto' | undefined;
  /** Overall deadline of one run, ms (from e.g. "15m"). */
  SD_BOOTSTRAP_TIMEOUT_MS: number;
  POD_NAMESPACE: string | undefined;
}
