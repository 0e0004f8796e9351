// A rollout plan: defaults filled in, checked against the registry and the known devices, and the devices
// of each phase chosen deterministically (issue #10 §3 "Devices are selected deterministically (seeded)").
// Selection: the device ids sorted, then shuffled with the plan's seed (shared/random.ts, stream
// "rollout"), so the same devices and seed always give the same canary and phases, whatever order the
// devices were named in. The canary is the named devices, or ceil(percent % of all) (at least one); each
// phase takes ceil(percent % of the devices not yet chosen), in shuffled order. The last phase must be 100 %.

import { fail, ok, type Result } from '../../shared/errors.ts';
import { validateDeviceId } from '../../shared/mqtt/topics.ts';
import { Prng, shuffled } from '../../shared/random.ts';
import type { Registry } from '../registry/registry.ts';
import type { DeviceRecord } from '../storage/types.ts';
import {
  defaultAnalysisPolicy,
  type AnalysisPolicy,
  type ResolvedPlan,
  type RolloutPlanInput,
} from './types.ts';

export const PLAN_DEFAULTS = Object.freeze({
  canaryPercent: 10,
  canaryBakeS: 60,
  phases: Object.freeze([
    Object.freeze({ percent: 50, bakeS: 60 }),
    Object.freeze({ percent: 100, bakeS: 0 }),
  ]),
  seed: 1,
  deviceTimeoutS: 600,
  autoProceed: true,
});

/** Longest bake or timeout accepted, seconds (30 days): a typo in ms instead of s is refused. */
const MAX_SECONDS = 30 * 24 * 3600;

const invalid = (detail: string): Result<never> => fail('EDGELOOP_ERR_ROLLOUT_INVALID_PLAN', detail);

function checkSeconds(name: string, v: number): string | undefined {
  return Number.isFinite(v) && v >= 0 && v <= MAX_SECONDS
    ? undefined
    : `${name} must be a number of seconds in 0..${MAX_SECONDS}, got ${v}`;
}

function checkPercent(name: string, v: number): string | undefined {
  return Number.isFinite(v) && v > 0 && v <= 100 ? undefined : `${name} must be in (0, 100], got ${v}`;
}

function checkPolicy(p: Partial<AnalysisPolicy>): string | undefined {
  for (const [k, v] of Object.entries(p)) {
    if (!(k in defaultAnalysisPolicy))
      return `analysis.${k} is not a policy option (${Object.keys(defaultAnalysisPolicy).join(', ')})`;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
      return `analysis.${k} must be a number >= 0, got ${String(v)}`;
  }
  return undefined;
}

export interface PlanContext {
  readonly registry: Pick<Registry, 'getVersion' | 'listAliases'>;
  readonly knownDevices: readonly DeviceRecord[];
}

/** Fills defaults and checks the plan; the devices are sorted and unique. */
export function resolvePlan(input: RolloutPlanInput, ctx: PlanContext): Result<ResolvedPlan> {
  if (typeof input.model !== 'string' || input.model === '') return invalid('model is required');
  if (typeof input.toVersion !== 'string' || input.toVersion === '') return invalid('toVersion is required');
  const to = ctx.registry.getVersion(input.model, input.toVersion);
  if (!to.ok) return invalid(`toVersion: ${to.message}`);
  let fromVersion: string | null;
  if (input.fromVersion !== undefined) {
    const from = ctx.registry.getVersion(input.model, input.fromVersion);
    if (!from.ok) return invalid(`fromVersion: ${from.message}`);
    fromVersion = input.fromVersion;
  } else {
    const aliases = ctx.registry.listAliases(input.model);
    fromVersion = aliases.ok ? (aliases.value.find((a) => a.alias === 'production')?.version ?? null) : null;
  }
  if (fromVersion === input.toVersion)
    return invalid(
      `toVersion ${input.toVersion} is the version the devices should already run (fromVersion)`,
    );

  const canaryNamed = input.canary?.devices ?? [];
  const listed =
    input.devices ?? ctx.knownDevices.filter((d) => d.model?.name === input.model).map((d) => d.deviceId);
  const devices = [...new Set([...listed, ...canaryNamed])].sort();
  for (const d of devices) {
    const v = validateDeviceId(d);
    if (!v.ok) return invalid(`device "${d}": ${v.message}`);
  }
  if (devices.length === 0)
    return fail(
      'EDGELOOP_ERR_ROLLOUT_NO_DEVICES',
      `no device reports model ${input.model}, and the plan names none (devices)`,
    );

  const canaryPercent = input.canary?.percent ?? PLAN_DEFAULTS.canaryPercent;
  const phases = input.phases ?? PLAN_DEFAULTS.phases;
  const canaryBakeS = input.canaryBakeS ?? PLAN_DEFAULTS.canaryBakeS;
  const deviceTimeoutS = input.deviceTimeoutS ?? PLAN_DEFAULTS.deviceTimeoutS;
  const seed = input.seed ?? PLAN_DEFAULTS.seed;
  const problems = [
    canaryNamed.length === 0 ? checkPercent('canary.percent', canaryPercent) : undefined,
    checkSeconds('canaryBakeS', canaryBakeS),
    checkSeconds('deviceTimeoutS', deviceTimeoutS),
    Number.isSafeInteger(seed) && seed >= 0 ? undefined : `seed must be an integer >= 0, got ${seed}`,
    phases.length === 0 ? 'phases must not be empty (the last one is 100 %)' : undefined,
    ...phases.flatMap((p, i) => [
      checkPercent(`phases[${i}].percent`, p.percent),
      checkSeconds(`phases[${i}].bakeS`, p.bakeS),
    ]),
    phases.length > 0 && phases[phases.length - 1]?.percent !== 100
      ? 'the last phase must be 100 % (of the devices left), or some devices would never be updated'
      : undefined,
    input.deviceTimeoutS === 0 ? 'deviceTimeoutS must be > 0' : undefined,
    checkPolicy(input.analysis ?? {}),
  ].filter((p): p is string => p !== undefined);
  if (problems.length > 0) return invalid(problems.join('; '));

  return ok({
    model: input.model,
    toVersion: input.toVersion,
    fromVersion,
    devices,
    canary:
      canaryNamed.length > 0 ? { devices: [...new Set(canaryNamed)].sort() } : { percent: canaryPercent },
    canaryBakeS,
    phases: phases.map((p) => ({ percent: p.percent, bakeS: p.bakeS })),
    seed,
    deviceTimeoutS,
    analysis: { ...defaultAnalysisPolicy, ...input.analysis },
    autoProceed: input.autoProceed ?? PLAN_DEFAULTS.autoProceed,
    reason: input.reason ?? '',
    updateRequestId: input.updateRequestId ?? null,
  });
}

/** The devices of each phase, canary first: deterministic for (devices, canary, phases, seed). */
export function selectPhases(plan: ResolvedPlan): string[][] {
  const order = shuffled([...plan.devices].sort(), new Prng(plan.seed, 'rollout'));
  const named = plan.canary.devices;
  let canary: string[];
  if (named !== undefined && named.length > 0) canary = [...named].sort();
  else {
    const n = Math.max(
      1,
      Math.ceil(((plan.canary.percent ?? PLAN_DEFAULTS.canaryPercent) / 100) * order.length),
    );
    canary = order.slice(0, n);
  }
  const chosen = new Set(canary);
  let remaining = order.filter((d) => !chosen.has(d));
  const out: string[][] = [canary];
  plan.phases.forEach((p, i) => {
    const last = i === plan.phases.length - 1;
    const n = last ? remaining.length : Math.ceil((p.percent / 100) * remaining.length);
    out.push(remaining.slice(0, n));
    remaining = remaining.slice(n);
  });
  return out;
}

/** The next deploySeq for a device: above the last sent (and the last the device reported), at least now. */
export function nextDeploySeq(lastSent: number | null, lastReported: number | null, nowMs: number): number {
  return Math.max((lastSent ?? 0) + 1, (lastReported ?? 0) + 1, Math.floor(nowMs));
}

/**
 * The deploySeq a device said it has applied, from a FAILED EDGELOOP_ERR_MODEL_DOWNGRADE reason
 * ("deploySeq 5 is not greater than 9, the last one applied; refused"), or null when it does not say.
 */
export function reportedLastSeq(reason: string): number | null {
  const m = /not greater than (\d+)/.exec(reason);
  return m?.[1] === undefined ? null : Number(m[1]);
}
