/**
 * What an identity may do, asked of the API server (a SelfSubjectRulesReview as that identity), and which of
 * its rules could grant rights: directly (bind, escalate, impersonate, writing RBAC objects, creating
 * anything — a create cannot be limited to names) or through Argo CD (any write, or a Secret read, in its
 * namespace), or by running code under another ServiceAccount (writing pods or workloads anywhere).
 * test/e2e/standing-rights.test.ts writes its figures with `writeStandingRightsFigures`; the reliability
 * doc's generator reads them with `readStandingRightsFigures`.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { repoRoot } from './bootstrap.ts';
import { kubectl } from './target.ts';

export interface RulesReviewRule {
  verbs: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
}

/**
 * The resource rules the API server says `user` has in `namespace` (cluster-wide ones included). A
 * ServiceAccount is asked with the groups its token carries, so rules bound to them count too.
 */
export async function rulesOf(user: string, namespace: string): Promise<RulesReviewRule[]> {
  const sa = /^system:serviceaccount:([^:]+):/.exec(user);
  const groups = sa
    ? ['system:serviceaccounts', `system:serviceaccounts:${sa[1]}`, 'system:authenticated']
    : ['system:authenticated'];
  const as = [`--as=${user}`, ...groups.map((g) => `--as-group=${g}`)];
  // --validate=false: kubectl's schema check would LIST CRDs as that identity.
  const out = await kubectl(['create', '--validate=false', '-o', 'json', ...as, '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SelfSubjectRulesReview',
      spec: { namespace },
    }),
  });
  const review = JSON.parse(out) as { status: { resourceRules?: RulesReviewRule[]; incomplete?: boolean } };
  return review.status.resourceRules ?? [];
}

/** What every authenticated identity may create (system:basic-user and the like): reviews about itself. */
const SELF_REVIEWS = new Set([
  'authorization.k8s.io/selfsubjectaccessreviews',
  'authorization.k8s.io/selfsubjectrulesreviews',
  'authentication.k8s.io/selfsubjectreviews',
]);
const RBAC = ['roles', 'rolebindings', 'clusterroles', 'clusterrolebindings'];
const WORKLOADS = ['pods', 'deployments', 'statefulsets', 'daemonsets', 'replicasets', 'jobs', 'cronjobs'];
/** Cluster-scoped resources: a rules review in a namespace lists them too, but they are not in it. */
const CLUSTER_SCOPED = [
  'namespaces',
  'nodes',
  'persistentvolumes',
  'clusterroles',
  'clusterrolebindings',
  'customresourcedefinitions',
  'mutatingwebhookconfigurations',
  'validatingwebhookconfigurations',
  'apiservices',
  'certificatesigningrequests',
];
const WRITES = ['create', 'update', 'patch', 'delete', 'deletecollection', '*'];
const READS = ['get', 'list', 'watch'];

/**
 * The findings of one namespace's rules: each a sentence naming the verb, resource and why it grants rights.
 * `argoNamespace`: Argo CD's, where any write or Secret read is cluster-admin-equivalent.
 */
export function grantingRules(rules: RulesReviewRule[], namespace: string, argoNamespace: string): string[] {
  const found: string[] = [];
  for (const rule of rules) {
    for (const group of rule.apiGroups ?? ['']) {
      for (const resource of rule.resources ?? []) {
        const key = `${group}/${resource}`;
        const what = `${rule.verbs.join(',')} ${key}${rule.resourceNames?.length ? ` [${rule.resourceNames.join(',')}]` : ''} in ${namespace}`;
        const has = (verbs: string[]) => rule.verbs.some((v) => verbs.includes(v));
        const res = (list: string[]) => resource === '*' || list.includes(resource.split('/')[0]!);
        if (has(['bind', 'escalate', 'impersonate', '*'])) found.push(`${what}: bind/escalate/impersonate`);
        if (has(['create']) && !SELF_REVIEWS.has(key))
          found.push(`${what}: create (cannot be limited to names)`);
        if (has(WRITES) && res(RBAC)) found.push(`${what}: writes RBAC objects`);
        if (has(WRITES) && res(WORKLOADS)) found.push(`${what}: writes pods or workloads`);
        if (has(WRITES) && res(['mutatingwebhookconfigurations', 'validatingwebhookconfigurations']))
          found.push(`${what}: writes admission webhooks`);
        const inArgo =
          namespace === argoNamespace && !SELF_REVIEWS.has(key) && !CLUSTER_SCOPED.includes(resource);
        if (inArgo && has(WRITES)) found.push(`${what}: writes in Argo CD's namespace`);
        if (inArgo && has(READS) && res(['secrets']))
          found.push(`${what}: reads Secrets in Argo CD's namespace`);
      }
    }
  }
  return [...new Set(found)];
}

export interface StandingRightsFigures {
  /** Each identity checked, with the event after which it was (`helm install`, `helm upgrade`, schedule or not). */
  checked: { identity: string; after: string }[];
  /** Identities with at least one rule that can grant rights (must be 0). */
  identitiesThatCanGrantRights: number;
  /** Attempts to bind cluster-admin-equivalent rights with a standing identity's token, and how many the API server refused. */
  bindAttempts: number;
  bindAttemptsRefused: number;
}

const FIGURES = join(repoRoot, '.e2e', 'figures', 'standing-rights.json');

export function writeStandingRightsFigures(figures: StandingRightsFigures): void {
  mkdirSync(dirname(FIGURES), { recursive: true });
  writeFileSync(FIGURES, `${JSON.stringify(figures, null, 2)}\n`);
}

/** The figures of the last run of test/e2e/standing-rights.test.ts, or undefined when it has not run. */
export function readStandingRightsFigures(): StandingRightsFigures | undefined {
  return existsSync(FIGURES)
    ? (JSON.parse(readFileSync(FIGURES, 'utf8')) as StandingRightsFigures)
    : undefined;
}
