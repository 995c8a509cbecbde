/**
 * Step 4: the Istio VirtualService that serves Argo CD under `<rootPath>/` through the gateway.
 * Reconciled means: it exists as built (enabled: true), or exists when Istio serves the kind (auto), or
 * nothing is done (false). A VirtualService this program created earlier is not deleted when disabled.
 */
import { messageOf, StepError } from '../errors.ts';
import { includesDesired } from '../kube/objects.ts';
import type { KubeObject } from '../kube/types.ts';
import { rootPrefix } from '../manifests/common.ts';
import {
  VIRTUAL_SERVICE_API_VERSIONS,
  VIRTUAL_SERVICE_NAME,
  virtualService,
} from '../manifests/virtualservice.ts';
import type { Check } from '../report/types.ts';
import type { Step, StepContext } from './context.ts';

const NAME = 'expose-argocd';

/** The first VirtualService API version the cluster serves, or undefined without Istio's CRD. */
export function servedVirtualServiceVersion(ctx: StepContext): Promise<string | undefined> {
  return ctx.once('virtualservice-version', async () => {
    for (const apiVersion of VIRTUAL_SERVICE_API_VERSIONS) {
      if (await ctx.kube.hasKind(apiVersion, 'VirtualService')) return apiVersion;
    }
    return undefined;
  });
}

/** Whether this run manages the VirtualService, and with which API version. */
export async function virtualServicePlan(
  ctx: StepContext,
): Promise<{ create: false; reason: string } | { create: true; apiVersion: string }> {
  const { enabled } = ctx.config.argocd.virtualService;
  if (enabled === false) return { create: false, reason: 'disabled (argocd.virtualService.enabled: false)' };
  const apiVersion = await servedVirtualServiceVersion(ctx);
  if (apiVersion) return { create: true, apiVersion };
  if (enabled === 'auto') {
    return {
      create: false,
      reason: 'Istio VirtualService kind not served: not created (argocd.virtualService.enabled: auto)',
    };
  }
  throw new StepError(
    NAME,
    'argocd.virtualService.enabled is true but the cluster does not serve networking.istio.io VirtualService: install Istio, or set enabled to "auto" or false',
  );
}

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

export const exposeArgocd: Step = { name: NAME, reconcile, report };
