// The drift monitors' ReferenceSource over the model registry mounted in the same collector: the reference
// profile of a model version is the bundle's reference file (manifest `reference.path`, role `reference`),
// read from the registry's content-addressed blob once and cached. The registry certified the bundle at
// push (signature, hashes), so nothing is verified again here.
//
// A version the registry does not hold (a device running a model pushed elsewhere) is remembered as
// missing for `retryMs`, then looked up again: it may be pushed later.

import { readFileSync } from 'node:fs';
import { parseReferenceProfile, type ReferenceProfile } from '../../shared/bundle/reference.ts';
import type { ModelRef } from '../../shared/mqtt/schemas.ts';
import type { Registry } from '../registry/registry.ts';
import type { ReferenceSource } from './types.ts';

export interface RegistryReferenceOptions {
  readonly nowMs: () => number;
  /** How long a missing or unreadable reference is not looked up again, ms. Default 60 s. */
  readonly retryMs?: number;
  /** Told once per model version whose reference cannot be read (not a missing version). */
  readonly onError?: (model: ModelRef, message: string) => void;
}

type Entry = { readonly profile: ReferenceProfile } | { readonly missingUntilMs: number };

function readReference(registry: Registry, model: ModelRef): ReferenceProfile | string | undefined {
  const manifestFile = registry.file(model.name, model.version, 'manifest.json');
  if (!manifestFile.ok) return undefined;
  const manifest = JSON.parse(readFileSync(manifestFile.value.diskPath, 'utf8')) as {
    reference?: { path?: unknown };
  };
  const path = manifest.reference?.path;
  if (typeof path !== 'string') return 'the manifest names no reference file';
  const file = registry.file(model.name, model.version, path);
  if (!file.ok) return `${path}: ${file.message}`;
  const parsed = parseReferenceProfile(JSON.parse(readFileSync(file.value.diskPath, 'utf8')));
  return parsed.ok ? parsed.value : `${path}: ${parsed.message}`;
}

export function registryReferences(registry: Registry, options: RegistryReferenceOptions): ReferenceSource {
  const cache = new Map<string, Entry>();
  const retryMs = options.retryMs ?? 60_000;
  return {
    reference(model) {
      const key = `${model.name}@${model.version}`;
      const hit = cache.get(key);
      if (hit !== undefined) {
        if ('profile' in hit) return hit.profile;
        if (options.nowMs() < hit.missingUntilMs) return undefined;
      }
      let found: ReferenceProfile | string | undefined;
      try {
        found = readReference(registry, model);
      } catch (err) {
        found = (err as Error).message;
      }
      if (typeof found === 'object') {
        cache.set(key, { profile: found });
        return found;
      }
      if (typeof found === 'string' && hit === undefined) options.onError?.(model, found);
      cache.set(key, { missingUntilMs: options.nowMs() + retryMs });
      return undefined;
    },
  };
}
