import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { boolOption, flagsToOptions, intOption, listOption, parseCliArgs } from '../../shared/config.ts';
import { EdgeloopError } from '../../shared/errors.ts';
import { configInvalid, loadConfig } from '../../shared/platform/config.ts';

const defaults = { port: 8080, dataDir: '/var/lib/x', verbose: false, keys: [] as readonly string[] };
const schema = z
  .object({
    port: intOption(0, 65_535),
    dataDir: z.string().min(1, 'is required'),
    verbose: boolOption,
    keys: listOption,
  })
  .strict();

function fileWith(t: TestContext, content: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-config-'));
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const path = join(dir, 'c.json');
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

const unknownNaming = (want: string) => (e: unknown) =>
  e instanceof EdgeloopError &&
  e.code === 'EDGELOOP_ERR_CONFIG_UNKNOWN_OPTION' &&
  e.message.includes(`did you mean ${want}?`);

test('precedence: defaults < config file < EDGELOOP_* variables < flags', (t) => {
  const file = fileWith(t, { port: 1, dataDir: '/from/file', verbose: true });
  const c = loadConfig({
    defaults,
    schema,
    configFile: file,
    env: { EDGELOOP_PORT: '2', EDGELOOP_DATA_DIR: '/from/env', PATH: '/bin' },
    flags: { port: '3' },
  });
  assert.equal(c.port, 3);
  assert.equal(c.dataDir, '/from/env');
  assert.equal(c.verbose, true);
  assert.deepEqual(c.keys, []);
  const d = loadConfig({ defaults, schema });
  assert.deepEqual(d, { port: 8080, dataDir: '/var/lib/x', verbose: false, keys: [] });
  // Flags given as undefined (unset) do not override.
  assert.equal(loadConfig({ defaults, schema, flags: { port: undefined } }).port, 8080);
});

test('an unknown key in the file, a variable or a flag is refused with the closest name', (t) => {
  const file = fileWith(t, { prot: 1 });
  assert.throws(() => loadConfig({ defaults, schema, configFile: file }), unknownNaming('port'));
  assert.throws(
    () => loadConfig({ defaults, schema, env: { EDGELOOP_DATA_DRI: '/x' } }),
    unknownNaming('EDGELOOP_DATA_DIR'),
  );
  assert.throws(() => loadConfig({ defaults, schema, flags: { dataDri: '/x' } }), unknownNaming('dataDir'));
  // Variables of other edgeloop parts pass, and so do those the caller lists.
  const c = loadConfig({
    defaults,
    schema,
    env: { EDGELOOP_FROM_SOURCE: '1', EDGELOOP_MQTT: 'mqtt://b' },
    envIgnore: ['EDGELOOP_MQTT'],
  });
  assert.equal(c.port, 8080);
  // Another command's variables exported on the same host (the agent's broker URL and serial path) are
  // passed over by a command that has no such option; only a near miss of one of its own is refused.
  const other = loadConfig({
    defaults,
    schema,
    env: { EDGELOOP_MQTT: 'mqtt://b', EDGELOOP_SERIAL: '/dev/ttyUSB0', EDGELOOP_WINDOW_MS: '500' },
  });
  assert.equal(other.port, 8080);
  assert.throws(
    () => loadConfig({ defaults, schema, env: { EDGELOOP_PROT: '1' } }),
    unknownNaming('EDGELOOP_PORT'),
  );
});

test('EDGELOOP_<COMMAND>_<OPTION> wins over EDGELOOP_<OPTION>, so commands sharing an option name share one environment', () => {
  const env = { EDGELOOP_PORT: '1', EDGELOOP_KEYGEN_PORT: '2', EDGELOOP_TRAIN_DATA_DIR: '/train' };
  const keygen = loadConfig({ command: 'keygen', defaults, schema, env });
  assert.equal(keygen.port, 2, 'the scoped variable wins');
  assert.equal(keygen.dataDir, '/var/lib/x', "another command's scoped variable is passed over");
  assert.equal(loadConfig({ command: 'train', defaults, schema, env }).dataDir, '/train');
  assert.equal(
    loadConfig({ command: 'features', defaults, schema, env }).port,
    1,
    'the plain one still serves',
  );
  // A near miss inside the command's own scope is refused with the scoped name suggested.
  assert.throws(
    () =>
      loadConfig({ command: 'registry-serve', defaults, schema, env: { EDGELOOP_REGISTRY_SERVE_PROT: '1' } }),
    unknownNaming('EDGELOOP_REGISTRY_SERVE_PORT'),
  );
});

test('the result is frozen, arrays included', () => {
  const c = loadConfig({ defaults, schema, env: { EDGELOOP_KEYS: 'a.pub, b.pub' } });
  assert.deepEqual(c.keys, ['a.pub', 'b.pub']);
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.keys));
  assert.throws(() => {
    (c as { port: number }).port = 1;
  }, TypeError);
});

test('a schema error names the option; crossCheck and finish run after validation', (t) => {
  const invalidNaming = (re: RegExp) => (e: unknown) =>
    e instanceof EdgeloopError && e.code === 'EDGELOOP_ERR_CONFIG_INVALID' && re.test(e.message);
  assert.throws(() => loadConfig({ defaults, schema, flags: { port: 'fast' } }), invalidNaming(/^port: /));
  assert.throws(() => loadConfig({ defaults, schema, flags: { port: '70000' } }), invalidNaming(/^port: /));
  assert.throws(
    () => loadConfig({ defaults, schema, env: { EDGELOOP_DATA_DIR: '' } }),
    invalidNaming(/^dataDir: is required/),
  );
  assert.throws(
    () => loadConfig({ defaults, schema, configFile: fileWith(t, '[1]') }),
    invalidNaming(/must hold one JSON object/),
  );
  assert.throws(
    () => loadConfig({ defaults, schema, configFile: fileWith(t, '{ nope') }),
    invalidNaming(/cannot read config file/),
  );
  assert.throws(
    () =>
      loadConfig({
        defaults,
        schema,
        flags: { verbose: 'true' },
        crossCheck: (c) => {
          if (c.verbose && c.port === 8080) throw configInvalid('verbose: not on the default port');
        },
      }),
    invalidNaming(/^verbose: not on the default port/),
  );
  const f = loadConfig({ defaults, schema, finish: (c) => ({ ...c, url: `http://127.0.0.1:${c.port}` }) });
  assert.equal(f.url, 'http://127.0.0.1:8080');
  assert.ok(Object.isFrozen(f));
});

test('flagsToOptions maps kebab-case flags to option names', () => {
  const args = parseCliArgs(['--data-dir', '/d', '--trusted-key', 'a', '--config', 'c.json'], {
    'data-dir': { type: 'string' },
    'trusted-key': { type: 'string', multiple: true },
    config: { type: 'string' },
  });
  assert.deepEqual(flagsToOptions(args.values, { 'trusted-key': 'trustedKeys' }), {
    dataDir: '/d',
    trustedKeys: ['a'],
  });
});
