// The architecture lives in lint (STYLE.md): this test proves the rules still fire, so a config change
// that silently disables them (import-x's no-cycle finds nothing without a parser for .ts) fails CI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ESLint } from 'eslint';

const root = new URL('../..', import.meta.url).pathname;

test('lint rejects cycles, cross-runtime imports, I/O outside adapters and I/O in shared/', async (t) => {
  const dir = mkdtempSync(join(root, 'shared', 'zz-lint-'));
  const agentDir = mkdtempSync(join(root, 'agent', 'zz-lint-'));
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(agentDir, { recursive: true, force: true });
  });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'a.ts'), "import { b } from './b.ts';\nexport const a = (): number => b();\n");
  writeFileSync(join(dir, 'b.ts'), "import { a } from './a.ts';\nexport const b = (): number => a();\n");
  writeFileSync(
    join(dir, 'io.ts'),
    "import { readFileSync } from 'node:fs';\nexport const r = readFileSync;\n",
  );
  writeFileSync(
    join(agentDir, 'x.ts'),
    "import { SerialPort } from 'serialport';\nimport { certifyModel } from '../../collector/registry/push-check.ts';\nimport { topicKinds } from '../../shared/mqtt/topics.ts';\nexport const x = [SerialPort, certifyModel, topicKinds];\n",
  );
  const eslint = new ESLint({ cwd: root });
  const results = await eslint.lintFiles([join(dir, 'a.ts'), join(dir, 'io.ts'), join(agentDir, 'x.ts')]);
  const rules = (file: string): string[] =>
    (results.find((r) => r.filePath.endsWith(file))?.messages ?? []).map(
      (m) => `${m.ruleId ?? ''}:${m.line}`,
    );
  assert.ok(rules('a.ts').includes('import-x/no-cycle:1'), `cycle not caught: ${rules('a.ts').join(',')}`);
  assert.ok(rules('io.ts').includes('no-restricted-imports:1'), 'fs in shared/ not caught');
  const x = rules('x.ts');
  assert.ok(x.includes('no-restricted-imports:1'), 'serialport outside an adapter not caught');
  assert.ok(x.includes('import-x/no-restricted-paths:2'), 'agent importing collector not caught');
  assert.ok(!x.some((r) => r.endsWith(':3')), 'importing shared/mqtt must be allowed');
});
