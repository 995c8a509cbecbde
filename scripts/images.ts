/**
 * `npm run images`: builds every image the kind tier needs (tools/images/project.ts: the project's image from
 * the real Dockerfile, and Argo CD's from tools/images/argocd.ts) and loads or pushes them.
 */
import { runningKind } from '../tools/cluster/local.ts';
import { registryArg } from '../tools/images/docker.ts';
import { ensureImages, loadArgocdImages, log, USAGE } from '../tools/images/project.ts';
import { ensureAll } from '../tools/manifests.ts';

const args = process.argv.slice(2);
if (args.includes('--help')) {
  process.stdout.write(`${USAGE}\n\nArgo CD's images, alone:\n${(await loadArgocdImages()).USAGE}\n`);
  process.exit(0);
}
const registry = registryArg(args);
const kindCluster = registry ? undefined : runningKind();
try {
  const t0 = Date.now();
  await ensureAll((line) => log(line));
  const r = await ensureImages({
    ...(registry ? { registry } : {}),
    ...(kindCluster ? { kind: { container: kindCluster.container, registry: kindCluster.registry } } : {}),
    argocd: !args.includes('--project-only'),
  });
  if (!registry && !kindCluster)
    log('no --registry and no kind cluster (npm run cluster:up -- --kind): built only');
  else if (r.argocd.missing.length > 0) {
    log(
      `Argo CD images missing from ${registry ?? `the kind cluster ${kindCluster?.id}`}: ${r.argocd.missing.join(', ')}${r.argocd.why ? ` (${r.argocd.why})` : ''}`,
    );
  }
  log(`done in ${((Date.now() - t0) / 1000).toFixed(0)}s`);
  process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
} catch (err) {
  log((err as Error).message);
  process.exit(1);
}
