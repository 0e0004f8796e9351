import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff } from '../../shared/backoff.ts';
import { closest, envOptions, parseCliArgs } from '../../shared/config.ts';
import { EdgeloopError } from '../../shared/errors.ts';
import { loadAgentConfig } from '../../agent/config.ts';

test('a misspelled flag is an error that names the right one', () => {
  assert.throws(
    () => parseCliArgs(['--baudd', '9600'], { baud: { type: 'string' } }),
    (e: unknown) =>
      e instanceof EdgeloopError &&
      e.code === 'EDGELOOP_ERR_CONFIG_UNKNOWN_OPTION' &&
      /--baud\?/.test(e.message),
  );
  assert.equal(closest('windowms', ['windowMs', 'hopMs']), 'windowMs');
});

test('EDGELOOP_* variables map to options, and an unknown one is an error', () => {
  assert.deepEqual(envOptions({ EDGELOOP_WINDOW_MS: '500', PATH: '/bin' }, ['windowMs']), {
    windowMs: '500',
  });
  assert.throws(() => envOptions({ EDGELOOP_WINDOW_SM: '500' }, ['windowMs']), /EDGELOOP_WINDOW_MS/);
  // Variables of other edgeloop parts pass, unless this process has an option of that name.
  assert.deepEqual(
    envOptions({ EDGELOOP_FROM_SOURCE: '1', EDGELOOP_REGISTRY_URL: 'http://r' }, ['windowMs']),
    {},
  );
  assert.deepEqual(envOptions({ EDGELOOP_REGISTRY_TOKEN: 't' }, ['registryToken']), { registryToken: 't' });
});

test('agent config: defaults, precedence, validation with the option named', () => {
  const c = loadAgentConfig({ serial: '/dev/x', baud: '115200' }, { EDGELOOP_WINDOW_MS: '500' });
  assert.equal(c.baud, 115200);
  assert.equal(c.windowMs, 500);
  assert.equal(c.hopMs, 500);
  assert.ok(Object.isFrozen(c));
  assert.throws(() => loadAgentConfig({}, {}), /serial: is required/);
  assert.throws(
    () => loadAgentConfig({ serial: '/dev/x', baud: 'fast' }, {}),
    (e: unknown) => e instanceof EdgeloopError && /baud/.test(e.message),
  );
  assert.throws(() => loadAgentConfig({ serial: '/dev/x', mode: 'csv' }, {}), /csv-channels/);
});

test('backoff grows, is capped, never goes below its floor, and resets', () => {
  const b = new Backoff({ baseMs: 100, capMs: 1000, floorMs: 10, random: () => 0.999 });
  const d = Array.from({ length: 8 }, () => b.next());
  assert.deepEqual(d.slice(0, 4), [99, 199, 399, 799]);
  assert.ok(d.every((x) => x <= 1000));
  const zero = new Backoff({ random: () => 0 });
  assert.equal(zero.next(), 10);
  b.reset();
  assert.equal(b.next(), 99);
});
