// The architecture lives in lint (STYLE.md, eslint.config.js): this test proves each zone's rule still
// fires, so a config change that silently disables one (a zone deleted, import-x's no-cycle finding
// nothing without a parser for .ts) fails CI. It lints a miniature project in a temp directory with a
// copy of the real eslint.config.js and tsconfig.json: nothing is written into the source folders, so other
// tests and engineers never see half-written fixture files (issue #7 §4).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Fixture files, by path in the miniature project. Each offending import sits on line 1. */
const files: Readonly<Record<string, string>> = {
  // A cycle inside shared/.
  'shared/cycle-a.ts': "import { b } from './cycle-b.ts';\nexport const a = (): number => b();\n",
  'shared/cycle-b.ts': "import { a } from './cycle-a.ts';\nexport const b = (): number => a();\n",
  // Pure shared/: no I/O (fs is fine in shared/platform/, not here) and no reaching into shared/platform/.
  'shared/io.ts': "import { readFileSync } from 'node:fs';\nexport const r = readFileSync;\n",
  'shared/uses-platform.ts': "import { p } from './platform/thing.ts';\nexport const u = p;\n",
  'shared/contract.ts': 'export const contract = 1;\n',
  'shared/platform/thing.ts':
    "import { readFileSync } from 'node:fs';\nimport { contract } from '../contract.ts';\nexport const p = [readFileSync, contract];\n",
  // A runtime importing another runtime, and an I/O library outside adapters/.
  'agent/cross.ts': "import { c } from '../collector/thing.ts';\nexport const x = c;\n",
  'agent/io.ts': "import { SerialPort } from 'serialport';\nexport const s = SerialPort;\n",
  // Allowed: a runtime using shared/ and shared/platform/; an adapter using an I/O library.
  'agent/ok.ts':
    "import { contract } from '../shared/contract.ts';\nimport { p } from '../shared/platform/thing.ts';\nexport const ok = [contract, p];\n",
  'agent/adapters/serial.ts': "import { SerialPort } from 'serialport';\nexport const s = SerialPort;\n",
  'agent/index.ts': "export { ok } from './ok.ts';\n",
  'collector/thing.ts': 'export const c = 1;\n',
  'collector/index.ts': "export { c } from './thing.ts';\n",
  'firmware-sim/cli.ts': 'export const simCommand = 1;\n',
  'firmware-sim/board.ts': 'export const board = 1;\n',
  // cli/: a runtime's internals are refused, its index.ts and cli.ts are allowed.
  'cli/internals.ts':
    "import { c } from '../collector/thing.ts';\nimport { board } from '../firmware-sim/board.ts';\nexport const i = [c, board];\n",
  'cli/entries.ts':
    "import { c } from '../collector/index.ts';\nimport { ok } from '../agent/index.ts';\nimport { simCommand } from '../firmware-sim/cli.ts';\nexport const e = [c, ok, simCommand];\n",
};

test('each lint zone fires: cycles, runtime boundaries, I/O placement, pure shared/, cli entry points', async (t) => {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'edgeloop-lint-')));
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  copyFileSync(join(root, 'eslint.config.js'), join(dir, 'eslint.config.js'));
  copyFileSync(join(root, 'tsconfig.json'), join(dir, 'tsconfig.json'));
  // The config's plugins and serialport's types resolve through the repository's node_modules.
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }

  const eslint = new ESLint({ cwd: dir, overrideConfigFile: join(dir, 'eslint.config.js') });
  const results = await eslint.lintFiles(Object.keys(files).map((p) => join(dir, p)));
  const found = (path: string): string[] =>
    (results.find((r) => r.filePath === join(dir, path))?.messages ?? []).map(
      (m) => `${m.ruleId ?? m.message}:${m.line}`,
    );
  const expect = (path: string, wanted: readonly string[], why: string): void => {
    const got = found(path).filter((r) => !r.startsWith('@typescript-eslint/'));
    assert.deepEqual(got.sort(), [...wanted].sort(), `${path}: ${why}`);
  };

  expect('shared/cycle-a.ts', ['import-x/no-cycle:1'], 'a cycle');
  expect('shared/io.ts', ['no-restricted-imports:1'], 'I/O in pure shared/');
  expect(
    'shared/uses-platform.ts',
    ['import-x/no-restricted-paths:1'],
    'pure shared/ importing shared/platform/',
  );
  expect('shared/platform/thing.ts', [], 'shared/platform/ may do I/O and use the contracts');
  expect('agent/cross.ts', ['import-x/no-restricted-paths:1'], 'a runtime importing another runtime');
  expect('agent/io.ts', ['no-restricted-imports:1'], 'an I/O library outside adapters/');
  expect('agent/ok.ts', [], 'a runtime may import shared/ and shared/platform/');
  expect('agent/adapters/serial.ts', [], 'an adapter may import its I/O library');
  expect(
    'cli/internals.ts',
    ['import-x/no-restricted-paths:1', 'import-x/no-restricted-paths:2'],
    "cli/ importing a runtime's internals",
  );
  expect('cli/entries.ts', [], "cli/ may import a runtime's index.ts and cli.ts");
});
