// Model manager options: one defaults object, one zod schema, validated once and frozen (STYLE.md habit 8).
// The agent's composition root maps its config file / flags / EDGELOOP_* variables onto these names;
// docs/agent-models.md lists them with defaults and units.

import { z } from 'zod';
import { EdgeloopError } from '../../shared/errors.ts';
import { describeIssue } from '../../shared/config.ts';

export const modelManagerDefaults = {
  /** Pinned Ed25519 public keys, PEM text. A bundle signed by any other key is refused. Required. */
  trustedKeys: [] as readonly string[],
  /** Largest bundle archive accepted, bytes. */
  maxBundleBytes: 64 * 1024 * 1024,
  /** How long one install keeps retrying an unreachable registry before FAILED, ms. */
  downloadDeadlineMs: 30 * 60_000,
  /** Time for one download attempt (connect and whole body), ms. */
  downloadAttemptTimeoutMs: 60_000,
  /** Retry backoff: first ceiling and cap, ms (full jitter, shared/backoff.ts). */
  retryBaseMs: 500,
  retryCapMs: 30_000,
  /** Bearer token for registries that need one for reads ('' = none). */
  registryToken: '',
  /** The health window ends after this many windows inferred by the new model... */
  healthWindows: 30,
  /** ...or after this long, ms, whichever comes first. */
  healthMaxMs: 120_000,
  /** Roll back as soon as failed inferences exceed this share of healthWindows (0..1). */
  healthMaxErrorRate: 0.1,
  /** Roll back when the new model's p95 latency exceeds this many times the old model's p95... */
  healthLatencyFactor: 3,
  /** ...and exceeds it by at least this much, ms (sub-millisecond models would otherwise trip on noise). */
  healthLatencyMarginMs: 2,
  /** Absolute p95 latency limit in the health window, ms; 0 disables it. Applies to first installs too. */
  healthMaxLatencyMs: 0,
};

export type ModelManagerConfig = Readonly<typeof modelManagerDefaults>;

const ms = z
  .number()
  .int()
  .min(1)
  .max(7 * 24 * 3600_000);
const schema = z.strictObject({
  trustedKeys: z.array(z.string().min(1)).min(1, 'needs at least one pinned public key (PEM)'),
  maxBundleBytes: z.number().int().min(1024),
  downloadDeadlineMs: ms,
  downloadAttemptTimeoutMs: ms,
  retryBaseMs: ms,
  retryCapMs: ms,
  registryToken: z.string(),
  healthWindows: z.number().int().min(1).max(100_000),
  healthMaxMs: ms,
  healthMaxErrorRate: z.number().min(0).max(1),
  healthLatencyFactor: z.number().min(1),
  healthLatencyMarginMs: z.number().min(0),
  healthMaxLatencyMs: z.number().min(0),
});

/** Defaults filled in, validated, frozen. Throws EdgeloopError(EDGELOOP_ERR_CONFIG_INVALID) when invalid. */
export function resolveModelManagerConfig(input: Partial<ModelManagerConfig>): ModelManagerConfig {
  const r = schema.safeParse({ ...modelManagerDefaults, ...input });
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new EdgeloopError(
      'EDGELOOP_ERR_CONFIG_INVALID',
      issue === undefined ? 'model manager options invalid' : describeIssue(issue.path, issue.message),
    );
  }
  return Object.freeze({ ...r.data, trustedKeys: Object.freeze([...r.data.trustedKeys]) });
}
