// The promotion gate (issue #3 section 6): a policy per model that a version must meet before the
// production alias may point at it. Pure: the caller passes the candidate's and production's metrics.

import { z } from 'zod';

export const promotionPolicySchema = z.strictObject({
  /** The candidate's test macro-F1 (manifest metrics.macroF1) must be at least this. */
  minMacroF1: z.number().min(0).max(1).optional(),
  /** The candidate's macro-F1 may be at most this much below the current production version's. */
  maxRegressionVsProduction: z.number().min(0).max(1).optional(),
  /** The candidate must have been pointed at by staging or canary before (alias history). Default false. */
  requireStagingFirst: z.boolean().optional(),
  /**
   * The worst device group's accuracy may be at most this far below the overall test accuracy (manifest
   * metrics.worstDeviceGap, from the test report's per-group performance).
   */
  maxGroupGap: z.number().min(0).max(1).optional(),
});
export type PromotionPolicy = z.infer<typeof promotionPolicySchema>;

export interface GateInput {
  readonly policy: PromotionPolicy;
  readonly candidate: { readonly version: string; readonly metrics: unknown };
  /** The version production points at now, if any. */
  readonly production?: { readonly version: string; readonly metrics: unknown };
  /** Whether staging or canary ever pointed at the candidate. */
  readonly wasStaged: boolean;
}

/** Reads manifest metrics.macroF1, accepting a nested `test.macroF1` too. */
export function macroF1Of(metrics: unknown): number | undefined {
  if (typeof metrics !== 'object' || metrics === null) return undefined;
  const m = metrics as Record<string, unknown>;
  if (typeof m.macroF1 === 'number') return m.macroF1;
  const test = m.test;
  if (
    typeof test === 'object' &&
    test !== null &&
    typeof (test as Record<string, unknown>).macroF1 === 'number'
  ) {
    return (test as Record<string, number>).macroF1;
  }
  return undefined;
}

/** Reads manifest metrics.worstDeviceGap. */
export function worstDeviceGapOf(metrics: unknown): number | undefined {
  if (typeof metrics !== 'object' || metrics === null) return undefined;
  const gap = (metrics as Record<string, unknown>).worstDeviceGap;
  return typeof gap === 'number' ? gap : undefined;
}

/** Returns the reasons the candidate fails the gate; empty means it passes. */
export function evaluateGate(input: GateInput): string[] {
  const { policy, candidate, production } = input;
  const reasons: string[] = [];
  const f1 = macroF1Of(candidate.metrics);
  const needsF1 =
    policy.minMacroF1 !== undefined ||
    (policy.maxRegressionVsProduction !== undefined && production !== undefined);
  if (needsF1 && f1 === undefined)
    reasons.push(`version ${candidate.version} has no macroF1 metric to check the gate against`);
  if (policy.minMacroF1 !== undefined && f1 !== undefined && f1 < policy.minMacroF1) {
    reasons.push(`macroF1 ${f1.toFixed(4)} is below the minimum ${policy.minMacroF1}`);
  }
  if (
    policy.maxRegressionVsProduction !== undefined &&
    production !== undefined &&
    production.version !== candidate.version
  ) {
    const prodF1 = macroF1Of(production.metrics);
    // A production version without the metric cannot be regressed against; the min rule still applies.
    if (prodF1 !== undefined && f1 !== undefined && prodF1 - f1 > policy.maxRegressionVsProduction) {
      reasons.push(
        `macroF1 ${f1.toFixed(4)} is ${(prodF1 - f1).toFixed(4)} below production ${production.version} (${prodF1.toFixed(4)}); at most ${policy.maxRegressionVsProduction} is allowed`,
      );
    }
  }
  if (policy.maxGroupGap !== undefined) {
    const gap = worstDeviceGapOf(candidate.metrics);
    if (gap === undefined)
      reasons.push(`version ${candidate.version} has no worstDeviceGap metric to check maxGroupGap against`);
    else if (gap > policy.maxGroupGap)
      reasons.push(
        `its worst device group is ${(gap * 100).toFixed(1)} points of accuracy below overall; at most ${(policy.maxGroupGap * 100).toFixed(1)} is allowed`,
      );
  }
  if (policy.requireStagingFirst === true && !input.wasStaged) {
    reasons.push(`version ${candidate.version} was never in staging or canary`);
  }
  return reasons;
}
