// The models the collector explains with: each model version a window names, opened from the registry
// mounted in the same collector (its bundle files are content-addressed blobs the registry certified at
// push) and kept open for the next request. At most `max` sessions stay open; the least recently used is
// closed first. A version the registry does not hold is EDGELOOP_ERR_EXPLAIN_UNAVAILABLE.

import { readFileSync } from 'node:fs';
import { parseManifest, type Manifest } from '../../shared/bundle/manifest.ts';
import { fail, type Result } from '../../shared/errors.ts';
import type { ModelRef } from '../../shared/mqtt/schemas.ts';
import type { OnnxSessionLoader } from '../../shared/platform/onnx.ts';
import type { Registry } from '../registry/registry.ts';
import type { ModelMetricsSource } from './drop-monitor.ts';
import { openExplainModel, type ExplainModel } from './model.ts';

/**
 * What a model version's test report measured, from its manifest metrics (accuracy, ece), cached; undefined
 * for a version this registry does not hold (looked up again after `retryMs`).
 */
/** A model version's parsed manifest from the registry, undefined when it does not hold it. */
function readManifest(registry: Pick<Registry, 'file'>, ref: ModelRef): Result<Manifest> | undefined {
  const f = registry.file(ref.name, ref.version, 'manifest.json');
  if (!f.ok) return undefined;
  return parseManifest(JSON.parse(readFileSync(f.value.diskPath, 'utf8')));
}

export function registryModelMetrics(
  registry: Pick<Registry, 'file'>,
  nowMs: () => number,
  retryMs = 60_000,
): ModelMetricsSource {
  const cache = new Map<string, { readonly accuracy: number | null; readonly ece: number | null } | number>();
  const num = (m: Record<string, unknown>, k: string): number | null =>
    typeof m[k] === 'number' && Number.isFinite(m[k]) ? m[k] : null;
  return (ref) => {
    const key = `${ref.name}@${ref.version}`;
    const hit = cache.get(key);
    if (typeof hit === 'object') return hit;
    if (typeof hit === 'number' && nowMs() < hit) return undefined;
    const manifest = readManifest(registry, ref);
    if (manifest === undefined || !manifest.ok) {
      cache.set(key, nowMs() + retryMs);
      return undefined;
    }
    const m: Record<string, unknown> = manifest.value.metrics;
    const value = { accuracy: num(m, 'accuracy'), ece: num(m, 'ece') };
    cache.set(key, value);
    return value;
  };
}

export interface ExplainModels {
  get(ref: ModelRef): Promise<Result<ExplainModel>>;
  close(): Promise<void>;
}

/** Open sessions kept by default: a fleet runs a production and a canary version, seldom more. */
export const DEFAULT_OPEN_MODELS = 4;

export function registryExplainModels(
  registry: Pick<Registry, 'file'>,
  load: OnnxSessionLoader,
  max = DEFAULT_OPEN_MODELS,
): ExplainModels {
  const open = new Map<string, Promise<Result<ExplainModel>>>();
  const read = (ref: ModelRef, path: string): Uint8Array | undefined => {
    const f = registry.file(ref.name, ref.version, path);
    return f.ok ? new Uint8Array(readFileSync(f.value.diskPath)) : undefined;
  };
  const openOne = async (ref: ModelRef): Promise<Result<ExplainModel>> => {
    const manifest = readManifest(registry, ref);
    if (manifest === undefined)
      return fail(
        'EDGELOOP_ERR_EXPLAIN_UNAVAILABLE',
        `${ref.name}@${ref.version} is not in this collector's registry`,
      );
    if (!manifest.ok) return fail('EDGELOOP_ERR_EXPLAIN_UNAVAILABLE', manifest.message);
    return openExplainModel(manifest.value, (p) => read(ref, p), load);
  };
  const release = async (p: Promise<Result<ExplainModel>>): Promise<void> => {
    const r = await p;
    if (r.ok) await r.value.close();
  };
  return {
    async get(ref) {
      const key = `${ref.name}@${ref.version}`;
      let p = open.get(key);
      if (p !== undefined) {
        open.delete(key); // re-inserted below: Map order is the LRU order
      } else {
        p = openOne(ref);
      }
      open.set(key, p);
      const r = await p;
      if (!r.ok) open.delete(key); // not cached: it may be pushed later
      while (open.size > max) {
        const [oldest, q] = open.entries().next().value as [string, Promise<Result<ExplainModel>>];
        open.delete(oldest);
        await release(q);
      }
      return r;
    },
    async close() {
      const all = [...open.values()];
      open.clear();
      await Promise.all(all.map(release));
    },
  };
}
