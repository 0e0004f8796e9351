// Which edgeloop and which libraries are running, for lineage and the ONNX producer (docs/model-bundle.md
// "lineage"). The code runs from source (cli/, collector/ ...) and from the build (dist/cli/ ...), so a
// fixed relative path to package.json is wrong in one of them (issue #8 §5: from dist/ it found no
// package.json and recorded "edgeloop 0.0.0"). We search upward for the package.json whose name is edgeloop.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PACKAGE_NAME = 'edgeloop';

interface PackageJson {
  readonly name?: unknown;
  readonly version?: unknown;
}

function readPackageJson(path: string): PackageJson | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as PackageJson;
  } catch {
    return undefined; // absent or unreadable: keep looking further up
  }
}

/**
 * The directory of the nearest package.json named `name`, from `start` upwards, or undefined. A
 * package.json with another name (or none, like a `{ "type": "module" }` marker in a build output) is
 * skipped, not taken.
 */
export function findPackageRoot(start: string, name = PACKAGE_NAME): string | undefined {
  let dir = start;
  for (;;) {
    const pkg = readPackageJson(join(dir, 'package.json'));
    if (pkg?.name === name) return dir;
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

const here = dirname(fileURLToPath(import.meta.url));
let cachedRoot: string | null | undefined;

/** The edgeloop package root (where its package.json is), or undefined when it cannot be found. */
export function edgeloopRoot(): string | undefined {
  if (cachedRoot === undefined) cachedRoot = findPackageRoot(here) ?? null;
  return cachedRoot ?? undefined;
}

/** The version of the package whose root is `root`, or undefined. */
export function packageVersionAt(root: string): string | undefined {
  const v = readPackageJson(join(root, 'package.json'))?.version;
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** edgeloop's own version from its package.json; '0.0.0' only when no package.json can be found at all. */
export function edgeloopVersion(): string {
  const root = edgeloopRoot();
  return (root === undefined ? undefined : packageVersionAt(root)) ?? '0.0.0';
}

/** The installed version of a dependency, resolved as edgeloop resolves it, or undefined when absent. */
export function libraryVersion(name: string): string | undefined {
  try {
    const require = createRequire(join(edgeloopRoot() ?? here, 'package.json'));
    return packageVersionAt(dirname(require.resolve(`${name}/package.json`)));
  } catch {
    return undefined; // not installed, or its package.json is not exported
  }
}

/** `{ node, edgeloop, <name>: version ... }` for a lineage's `libraries`, leaving out what is not installed. */
export function lineageLibraries(names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = { node: process.versions.node, edgeloop: edgeloopVersion() };
  for (const name of names) {
    const v = libraryVersion(name);
    if (v !== undefined) out[name] = v;
  }
  return out;
}
