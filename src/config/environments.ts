import type { Config } from './types.ts';

/** One GitOps environment: a configured namespace, or the logging namespace. */
export interface Environment {
  namespace: string;
  restricted: boolean;
  /** The Argo CD Application's name (environments.applicationName rendered for this namespace). */
  applicationName: string;
  /** True for the logging namespace (environments.logging). */
  logging: boolean;
}

export const NAMESPACE_PLACEHOLDER = '{namespace}';

export function renderApplicationName(template: string, namespace: string): string {
  return template.replaceAll(NAMESPACE_PLACEHOLDER, namespace);
}

/** Every environment the run manages, in config order, the logging namespace last (when enabled). */
export function environmentsOf(config: Pick<Config, 'environments'>): Environment[] {
  const { namespaces, logging, applicationName } = config.environments;
  const list = namespaces.map((ns) => ({ namespace: ns.name, restricted: ns.restricted, logging: false }));
  if (logging.enabled) {
    list.push({ namespace: logging.namespace, restricted: logging.restricted, logging: true });
  }
  return list.map((e) => ({ ...e, applicationName: renderApplicationName(applicationName, e.namespace) }));
}
