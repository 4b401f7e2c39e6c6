-- Argo CD health check for safesynth.io/SafeSynthJob.
-- Without one, Argo CD reports every custom resource Healthy at once. This maps
-- the operator's .status to Argo CD health, the way Argo CD treats a batch Job:
--   no status yet, or a spec generation the operator has not seen -> Progressing
--   Failed condition or Stalled condition True, or phase Failed    -> Degraded
--   phase Succeeded, or Ready condition True                        -> Healthy
--   phase Suspended (spec.suspend: true)                            -> Suspended
--   phase Pending or Running                                        -> Progressing
-- Conditions follow metav1.Condition; Stalled mirrors Failed for Flux's kstatus.
local hs = {}

local function condition(status, ctype)
  if status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == ctype then
      return c
    end
  end
  return nil
end

local function is_true(c)
  return c ~= nil and c.status == "True"
end

local function first_text(...)
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    if v ~= nil and v ~= "" then
      return v
    end
  end
  return nil
end

local status = obj.status
if status == nil or status.phase == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the safesynth operator to pick up the job"
  return hs
end

local generation = obj.metadata.generation
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

local failed = condition(status, "Failed")
local stalled = condition(status, "Stalled")
if status.phase == "Failed" or is_true(failed) or is_true(stalled) then
  local reason = nil
  if is_true(failed) then
    reason = failed.reason
  elseif is_true(stalled) then
    reason = stalled.reason
  end
  hs.status = "Degraded"
  hs.message = first_text(status.message, reason, "The SafeSynthJob failed")
  return hs
end

if status.phase == "Succeeded" or is_true(condition(status, "Ready")) then
  hs.status = "Healthy"
  local scores = {}
  local headline = status.headline or {}
  if headline.sqs ~= nil then
    table.insert(scores, string.format("quality %.1f", headline.sqs))
  end
  if headline.dps ~= nil then
    table.insert(scores, string.format("privacy %.1f", headline.dps))
  end
  if headline.epsilonSpent ~= nil then
    table.insert(scores, string.format("epsilon %.2f", headline.epsilonSpent))
  end
  hs.message = first_text(status.message, "Succeeded")
  if #scores > 0 then
    hs.message = hs.message .. " (" .. table.concat(scores, ", ") .. ")"
  end
  return hs
end

if status.phase == "Suspended" then
  hs.status = "Suspended"
  hs.message = first_text(status.message, "spec.suspend is true")
  return hs
end

if status.phase == "Pending" or status.phase == "Running" then
  hs.status = "Progressing"
  local stage = nil
  if status.stage ~= nil then
    stage = "stage " .. status.stage
  end
  hs.message = first_text(status.message, stage, status.phase)
  return hs
end

hs.status = "Unknown"
hs.message = "Unrecognised phase " .. tostring(status.phase)
return hs
