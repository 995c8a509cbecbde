/**
 * Step 5: the Istio VirtualService that serves Argo CD under `<rootPath>/` through the gateway.
 * Reconciled means: it exists as built (enabled: true), or exists when Istio serves the kind (auto), or
 * nothing is done (false). A VirtualService this program created earlier is not deleted when disabled.
 */

import type { Config } from '../config/types.ts';
import { messageOf } from '../errors.ts';
import { virtualServicePlan } from '../inputs/inputs.ts';
import { groupOf, includesDesired } from '../kube/objects.ts';
import { applyPermissions, type Permission } from '../kube/rbac.ts';
import type { KubeObject } from '../kube/types.ts';
import { rootPrefix } from '../manifests/common.ts';
import { VIRTUAL_SERVICE_NAME, virtualService } from '../manifests/virtualservice.ts';
import type { Check } from '../report/types.ts';
import type { NeedsInputs, Step, StepContext } from './context.ts';

const NAME = 'expose-argocd';

async function reconcile(ctx: StepContext): Promise<string | undefined> {
  const plan = await virtualServicePlan(ctx);
  if (!plan.create) {
    return plan.reason;
  }
  await ctx.apply([virtualService(ctx.config, plan.apiVersion)]);
}

async function report(ctx: StepContext): Promise<Check[]> {
  const check = { id: 'argocd.virtualservice' };
  const { namespace, virtualService: wanted, server } = ctx.config.argocd;
  try {
    const plan = await virtualServicePlan(ctx);
    if (!plan.create) return [{ ...check, ready: false, required: false, message: plan.reason }];
    const live = await ctx.kube.get<KubeObject & { spec?: Record<string, unknown> }>({
      apiVersion: plan.apiVersion,
      kind: 'VirtualService',
      namespace,
      name: VIRTUAL_SERVICE_NAME,
    });
    const where = `VirtualService ${namespace}/${VIRTUAL_SERVICE_NAME}`;
    if (!live) return [{ ...check, ready: false, required: true, message: `${where} does not exist` }];
    const desired = virtualService(ctx.config, plan.apiVersion);
    if (!includesDesired(live.spec, desired.spec)) {
      return [{ ...check, ready: false, required: true, message: `${where} differs from the configuration` }];
    }
    const prefix = rootPrefix(server.rootPath);
    return [
      {
        ...check,
        ready: true,
        required: true,
        message: `${where} routes ${prefix} on ${wanted.hosts.join(', ')} via ${wanted.gateway} to argocd-server:80`,
      },
    ];
  } catch (err) {
    return [{ ...check, ready: false, required: true, message: messageOf(err) }];
  }
}

/** The VirtualService, when this run applies one. */
function needs(config: Config, inputs: NeedsInputs): Permission[] {
  if (inputs.run !== 'full' || !inputs.virtualServiceApiVersion) return [];
  return applyPermissions(
    groupOf(inputs.virtualServiceApiVersion),
    'virtualservices',
    config.argocd.namespace,
  );
}

export const exposeArgocd: Step = { name: NAME, needs, reconcile, report };
