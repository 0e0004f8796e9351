import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock, systemClock } from '../../shared/platform/clock.ts';
import { createLogger, formatLogRecord, MemoryLogger, noopLogger } from '../../shared/platform/logger.ts';

const sink = (): { lines: string[]; stream: { write(s: string): boolean } } => {
  const lines: string[] = [];
  return {
    lines,
    stream: {
      write: (s) => {
        lines.push(s);
        return true;
      },
    },
  };
};

test('text lines: timestamp, level, fixed message, then key=value fields (quoted when needed)', () => {
  const out = sink();
  const log = createLogger({ stream: out.stream, nowMs: () => Date.UTC(2026, 0, 1) });
  log.info('broker link up', { outageMs: 36012, backlog: 412 });
  log.warn('serial port lost; reconnecting', { path: '/dev/ttyUSB0', reason: 'unplugged (EIO)' });
  assert.deepEqual(out.lines, [
    '2026-01-01T00:00:00.000Z INFO  broker link up outageMs=36012 backlog=412\n',
    '2026-01-01T00:00:00.000Z WARN  serial port lost; reconnecting path=/dev/ttyUSB0 reason="unplugged (EIO)"\n',
  ]);
});

test('JSON lines: one object per event, fields at the top level, errors as message [code]', () => {
  const out = sink();
  const log = createLogger({ stream: out.stream, format: 'json', nowMs: () => 0 });
  log.error('model command failed unexpectedly', {
    error: Object.assign(new Error('bad'), { code: 'EDGELOOP_ERR_CONFIG_INVALID' }),
    n: 2n,
    msg: 'shadowed',
  });
  assert.equal(out.lines.length, 1);
  const line = out.lines[0] ?? '';
  assert.ok(line.endsWith('\n'));
  assert.deepEqual(JSON.parse(line), {
    ts: '1970-01-01T00:00:00.000Z',
    level: 'error',
    msg: 'model command failed unexpectedly',
    error: 'bad [EDGELOOP_ERR_CONFIG_INVALID]',
    n: '2',
  });
});

test('level filter, child loggers bind fields, no-op and in-memory loggers', () => {
  const out = sink();
  const log = createLogger({ stream: out.stream, level: 'warn', fields: { deviceId: 'pump-07' } });
  log.info('dropped');
  log.debug('dropped too');
  log.child({ component: 'outbox' }).warn('kept', { depth: 3 });
  assert.equal(out.lines.length, 1);
  assert.match(out.lines[0] ?? '', /WARN {2}kept deviceId=pump-07 component=outbox depth=3\n$/);

  noopLogger.error('nothing happens');
  noopLogger.child({ a: 1 }).info('still nothing');

  const mem = new MemoryLogger(() => 5);
  mem.child({ component: 'link' }).info('broker link up', { outageMs: 10 });
  mem.warn('cannot reach broker');
  assert.deepEqual(mem.find('broker link up'), [
    { tsMs: 5, level: 'info', message: 'broker link up', fields: { component: 'link', outageMs: 10 } },
  ]);
  assert.equal(mem.find(/broker/, 'warn').length, 1);
  assert.match(mem.text(), /INFO {2}broker link up component=link outageMs=10/);
  assert.equal(
    formatLogRecord({ tsMs: 0, level: 'debug', message: 'm', fields: { u: undefined } }, 'text'),
    '1970-01-01T00:00:00.000Z DEBUG m',
  );
});

test('ManualClock: advance runs due timers in order, moves both times; cancel and wall steps', () => {
  const c = new ManualClock(1000);
  const ran: string[] = [];
  c.setTimeout(() => ran.push(`b@${c.monotonicMs()}`), 20);
  c.setTimeout(() => {
    ran.push(`a@${c.monotonicMs()}`);
    c.setTimeout(() => ran.push(`c@${c.monotonicMs()}`), 5);
  }, 10);
  const cancelled = c.setTimeout(() => ran.push('never'), 15);
  cancelled.cancel();
  cancelled.cancel();
  c.advance(12);
  assert.deepEqual(ran, ['a@10']);
  assert.equal(c.nowMs(), 1012);
  c.advance(100);
  assert.deepEqual(ran, ['a@10', 'c@15', 'b@20']);
  assert.equal(c.monotonicMs(), 112);
  assert.equal(c.pending, 0);
  c.setWallMs(0);
  assert.equal(c.nowMs(), 0);
  assert.equal(c.monotonicMs(), 112);
});

test('systemClock: real times, and its timers do not hold the process', async () => {
  const before = Date.now();
  assert.ok(systemClock.nowMs() >= before);
  const m = systemClock.monotonicMs();
  assert.ok(systemClock.monotonicMs() >= m);
  await new Promise<void>((resolve) => {
    systemClock.setTimeout(resolve, 1);
    // A ref'd timer keeps this test alive until the unref'd one has fired.
    setTimeout(() => undefined, 50);
  });
  const t = systemClock.setTimeout(() => assert.fail('cancelled'), 1);
  t.cancel();
});
