/** The names of Argo CD's workloads `argocd.components` can shape (the config layer's copy of the list). */
export const ARGOCD_COMPONENTS = [
  'argocd-server',
  'argocd-repo-server',
  'argocd-application-controller',
  'argocd-applicationset-controller',
  'argocd-dex-server',
  'argocd-redis',
  'argocd-notifications-controller',
  // argocd.install.profile: ha (Redis HA in place of argocd-redis)
  'argocd-redis-ha-server',
  'argocd-redis-ha-haproxy',
] as const;
