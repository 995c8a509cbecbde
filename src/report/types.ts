/** The readiness report (DESIGN "Readiness report"): one document, written to a ConfigMap and printed. */

/** One thing a person would otherwise verify by hand. */
export interface Check {
  /** Stable, dotted: `argocd.rollout.argocd-server`, `env.application.staging.sync`. */
  id: string;
  ready: boolean;
  /** Only required checks decide `ready`; the others are informative. */
  required: boolean;
  /** A sentence a person can act on. Never a secret value. */
  message: string;
}

export interface ChangeCounts {
  created: number;
  updated: number;
  unchanged: number;
  /** Objects of the inventory deleted because they left the config (or the manifest). */
  deleted: number;
}

export interface ReadinessReport {
  kind: 'ReadinessReport';
  version: 1;
  /** True when every required check is ready. */
  ready: boolean;
  generatedAt: string;
  durationMs: number;
  argocd: { namespace: string; version: string; url: string };
  changes: ChangeCounts;
  /**
   * Every object this run changed that existed before (`updated`), named, with the changed fields when
   * known: `ConfigMap argocd/argocd-cmd-params-cm (data.server.rootpath)`. A hand-made change to a field
   * the bootstrap owns shows up here when the run sets it back. Created objects are only counted.
   */
  updated: string[];
  /** Seldon Deploy's chart values that use this setup (`gitops:`), and its credentials Secret. */
  seldonDeploy?: { values: string; secret: { namespace: string; name: string } };
  /**
   * The container images the run needs (what a site mirrors): every container and initContainer image of
   * the install manifest the config selects, and the bootstrap's own when known. Absent when not known
   * (`install.source: url` in status, nothing to list with `skip`).
   */
  images?: string[];
  /** What this run removed because it left the config: `Application argocd/x: no longer an environment…`. */
  removed?: string[];
  checks: Check[];
}
