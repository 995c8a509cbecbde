/**
 * Argo CD health checks (Lua, run by Argo CD's embedded gopher-lua, a Lua 5.1 VM) for Seldon's resources,
 * which Argo CD v3.5.1 has none of (its resource_customizations/ has KServe's InferenceService, nothing of
 * machinelearning.seldon.io or mlops.seldon.io). Without them an Application whose SeldonDeployment failed is
 * Healthy. They go into argocd-cm as `resource.customizations.health.<group>_<kind>` (argocd-settings.ts);
 * `argocd.settings.cm` may replace any of them with its own script, or remove it with `null`.
 *
 * Written from Seldon's sources (SeldonIO/seldon-core, as stored by the code index on 2026-12-07):
 * - Core 1, `operator/apis/machinelearning.seldon.io/v1/seldon_deployment_status.go` (commit 08d7cd6, the v1
 *   API of the 1.x line): `status.state` is Available, Creating or Failed, `status.description` says why,
 *   and the knative `duckv1.Status` adds `conditions` (DeploymentsReady, ServicesReady, … and the summary
 *   `Ready`, a living condition set) and `observedGeneration`.
 * - Core 2, `operator/apis/mlops/v1alpha1/{model_conditions,pipeline_types,experiment_types}.go` and
 *   `operator/scheduler/model.go` (main): no state field; knative conditions (ModelReady, PipelineReady, …,
 *   summarised in `Ready`). The operator sets Ready False for every state but Available, with the
 *   scheduler's reason text only (`CreateAndSetCondition(ModelReady, false, reason)`): False while loading
 *   and on failure alike, the scheduler's state name as message (`ModelAvailable`, `ModelProgressing`,
 *   `ScheduleFailed`, … — Seldon's docs show `kubectl get model` with `message: ModelAvailable`) and its
 *   reason sentence. So False is Progressing without any text or with an in-progress state name,
 *   Suspended for ModelScaledDown, and Degraded otherwise (ScheduleFailed, ModelFailed, PipelineFailed, …).
 * Modelled on Argo CD's own checks (argoproj/argo-cd resource_customizations/, e.g.
 * serving.kserve.io/InferenceService/health.lua): `obj` is the live object; return {status, message}.
 * tools/health/ runs each script against the fixtures next to its test in gopher-lua itself.
 */

/**
 * Shared by both scripts: the `Ready` condition, its text, and whether the operator has seen the current spec.
 * Only Lua's base and table libraries: Argo CD opens no others for a health script (no `string`, so no
 * `string.find` or `s:lower()`), and the harness in tools/health/ runs the scripts with exactly those.
 */
const LUA_HELPERS = `local function ready_condition(status)
  if status == nil or status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == "Ready" then
      return c
    end
  end
  return nil
end

local function condition_text(c)
  local text = ""
  if c.reason ~= nil and c.reason ~= "" then
    text = c.reason
  end
  if c.message ~= nil and c.message ~= "" then
    if text ~= "" then
      text = text .. ": "
    end
    text = text .. c.message
  end
  return text
end

local function stale(o)
  return o.status ~= nil and o.status.observedGeneration ~= nil and o.metadata ~= nil
    and o.metadata.generation ~= nil and o.status.observedGeneration < o.metadata.generation
end
`;

/** SeldonDeployment (Core 1): `status.state` first, then the `Ready` condition when there is no state. */
export const SELDON_DEPLOYMENT_HEALTH_LUA = `${LUA_HELPERS}
local hs = {}
if obj.status == nil or (obj.status.state == nil and obj.status.conditions == nil) then
  hs.status = "Progressing"
  hs.message = "Waiting for the Seldon operator to report the SeldonDeployment's status"
  return hs
end
if stale(obj) then
  hs.status = "Progressing"
  hs.message = "Waiting for the Seldon operator to observe generation " .. obj.metadata.generation
  return hs
end
local state = obj.status.state
local description = obj.status.description
if state == "Failed" then
  hs.status = "Degraded"
  if description ~= nil and description ~= "" then
    hs.message = "Failed: " .. description
  else
    hs.message = "Failed"
  end
  return hs
end
if state == "Available" then
  hs.status = "Healthy"
  hs.message = "Available"
  return hs
end
local ready = ready_condition(obj.status)
if state == nil and ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = "Ready"
  return hs
end
if state == nil and ready ~= nil and ready.status == "False" then
  hs.status = "Degraded"
  hs.message = "Not ready: " .. condition_text(ready)
  return hs
end
hs.status = "Progressing"
if description ~= nil and description ~= "" then
  hs.message = (state or "Creating") .. ": " .. description
elseif ready ~= nil and condition_text(ready) ~= "" then
  hs.message = (state or "Creating") .. ": " .. condition_text(ready)
else
  hs.message = state or "Creating"
end
return hs
`;

/**
 * Model, Pipeline and Experiment (Core 2): the `Ready` condition. False is Degraded when it names a failure,
 * Progressing without a text or with an in-progress state name, Suspended when the model is scaled down.
 */
export const SELDON_CORE2_HEALTH_LUA = `${LUA_HELPERS}
local hs = {}
local ready = ready_condition(obj.status)
if ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Seldon operator to report the " .. obj.kind .. "'s status"
  return hs
end
if stale(obj) then
  hs.status = "Progressing"
  hs.message = "Waiting for the Seldon operator to observe generation " .. obj.metadata.generation
  return hs
end
-- The scheduler's state names the operator writes as the message (or reason) of a condition that is not
-- True yet: work in progress, not a failure.
local in_progress = {
  ModelStateUnknown = true, ModelProgressing = true, ModelTerminating = true, LoadRequested = true,
  Loading = true, PipelineStatusUnknown = true, PipelineCreate = true, PipelineCreating = true,
  PipelineTerminate = true, PipelineTerminating = true, PipelineRebalancing = true,
}
local text = condition_text(ready)
if ready.status == "True" then
  hs.status = "Healthy"
  if text ~= "" then
    hs.message = "Ready: " .. text
  else
    hs.message = "Ready"
  end
  return hs
end
if ready.status == "False" and (ready.message == "ModelScaledDown" or ready.reason == "ModelScaledDown") then
  hs.status = "Suspended"
  hs.message = "Scaled down"
  return hs
end
if ready.status == "False" and text ~= "" and not in_progress[ready.message or ""] and not in_progress[ready.reason or ""] then
  hs.status = "Degraded"
  hs.message = "Not ready: " .. text
  return hs
end
hs.status = "Progressing"
if text ~= "" then
  hs.message = "Not ready yet: " .. text
else
  hs.message = "Not ready yet"
end
return hs
`;

/** argocd-cm key → script, for every kind this program ships a check for. */
export const SELDON_HEALTH_CHECKS: Readonly<Record<string, string>> = Object.freeze({
  'resource.customizations.health.machinelearning.seldon.io_SeldonDeployment': SELDON_DEPLOYMENT_HEALTH_LUA,
  'resource.customizations.health.mlops.seldon.io_Model': SELDON_CORE2_HEALTH_LUA,
  'resource.customizations.health.mlops.seldon.io_Pipeline': SELDON_CORE2_HEALTH_LUA,
  'resource.customizations.health.mlops.seldon.io_Experiment': SELDON_CORE2_HEALTH_LUA,
});
