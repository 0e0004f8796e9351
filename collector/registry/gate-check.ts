// The production gate against the store: the model's policy, the candidate's and current production's
// metrics, and whether the candidate was ever staged. Synchronous, so the caller can judge and move the
// alias with no await in between (no other move can slip into the gap).

import type { Manifest } from '../../shared/bundle/manifest.ts';
import { evaluateGate, type PromotionPolicy } from './gate.ts';
import type { RegistryStore, VersionRow } from './store.ts';

const metricsOf = (row: VersionRow): unknown => (JSON.parse(row.manifestJson) as Manifest).metrics;

/** Reasons the candidate may not become production under the policy; empty when it may. */
export function productionGateReasons(
  store: RegistryStore,
  policy: PromotionPolicy,
  candidate: VersionRow,
): string[] {
  const prodAlias = store.getAlias(candidate.model, 'production');
  const prod = prodAlias === undefined ? undefined : store.getVersion(candidate.model, prodAlias.version);
  const wasStaged = store
    .aliasHistory(candidate.model)
    .some((h) => h.to === candidate.version && h.alias !== 'production');
  return evaluateGate({
    policy,
    candidate: { version: candidate.version, metrics: metricsOf(candidate) },
    ...(prod === undefined ? {} : { production: { version: prod.version, metrics: metricsOf(prod) } }),
    wasStaged,
  });
}
