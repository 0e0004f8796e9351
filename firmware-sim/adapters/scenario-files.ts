// Reads scenario files: bundled ones by name (firmware-sim/scenarios/<name>.json) or any file by path.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { basename, join } from 'node:path';
import { fail, type Result } from '../../shared/errors.ts';
import { parseScenarioText, type Scenario } from '../scenario.ts';

const bundledDir = fileURLToPath(new URL('../scenarios/', import.meta.url));

export interface ScenarioInfo {
  readonly name: string;
  readonly description: string;
  readonly path: string;
}

/** The bundled scenarios, sorted by name. */
export function listScenarios(): ScenarioInfo[] {
  return readdirSync(bundledDir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const path = join(bundledDir, f);
      const r = parseScenarioText(readFileSync(path, 'utf8'), f);
      return {
        name: basename(f, '.json'),
        description: r.ok ? r.value.description : `(invalid: ${r.message})`,
        path,
      };
    });
}

/** Loads a bundled scenario by name, or a scenario file by path (anything with a slash or ending in .json). */
export function loadScenario(nameOrPath: string): Result<Scenario> {
  const looksLikePath = nameOrPath.includes('/') || nameOrPath.endsWith('.json');
  const path = looksLikePath ? nameOrPath : join(bundledDir, `${nameOrPath}.json`);
  if (!/^[\w.-]+$/.test(nameOrPath) && !looksLikePath) return notFound(nameOrPath);
  if (!existsSync(path)) return notFound(nameOrPath);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    return fail(
      'EDGELOOP_ERR_SCENARIO_NOT_FOUND',
      `${nameOrPath}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  return parseScenarioText(text, looksLikePath ? nameOrPath : `${nameOrPath}.json`);
}

function notFound(nameOrPath: string): Result<never> {
  const names = listScenarios().map((s) => s.name);
  return fail('EDGELOOP_ERR_SCENARIO_NOT_FOUND', `no scenario "${nameOrPath}"; bundled: ${names.join(', ')}`);
}
