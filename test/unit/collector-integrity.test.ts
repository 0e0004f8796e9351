// The central integrity monitor (collector/integrity/, docs/integrity.md §Central checks): every check's
// good, suspect and fail on realistic message streams, and what must NOT be flagged (one spike, an outbox
// backlog, a shutdown).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createIntegrityMonitor } from '../../collector/integrity/monitor.ts';
import type { CheckHealth, IntegrityMonitor } from '../../collector/integrity/types.ts';
import type { IntegrityMonitorOverrides } from '../../collector/integrity/options.ts';
import type { MonitorCycle } from '../../collector/monitor/types.ts';
import { Agent, decode, type WindowOptions } from './collector-integrity-fixture.ts';

const T0 = 1_767_225_600_000;

function check(
  m: IntegrityMonitor,
  deviceId: string,
  name: string,
  subject: string | null = null,
): CheckHealth {
  const h = m.deviceHealth(deviceId);
  assert.ok(h !== undefined, `device ${deviceId} unknown`);
  const c = h.checks.find((x) => x.check === `integrity.${name}` && x.subject === subject);
  assert.ok(
    c !== undefined,
    `no ${name}/${String(subject)} in ${h.checks.map((x) => `${x.check}/${String(x.subject)}`).join(' ')}`,
  );
  return c;
}

/** Feeds n windows (each with o or o(i)), evaluating every 10 windows; returns the cycles. */
function run(
  m: IntegrityMonitor,
  a: Agent,
  n: number,
  o: WindowOptions | ((i: number) => WindowOptions) = {},
): MonitorCycle[] {
  const cycles: MonitorCycle[] = [];
  for (let i = 0; i < n; i++) {
    m.observe(a.window(typeof o === 'function' ? o(i) : o));
    if ((i + 1) % 10 === 0) cycles.push(m.evaluate(a.t));
  }
  cycles.push(m.evaluate(a.t));
  return cycles;
}

function setup(opts: IntegrityMonitorOverrides = {}): { m: IntegrityMonitor; a: Agent } {
  return { m: createIntegrityMonitor(opts), a: new Agent('dev-1', 1001, T0) };
}

function nonGood(m: IntegrityMonitor, deviceId = 'dev-1'): string[] {
  return (m.deviceHealth(deviceId)?.checks ?? [])
    .filter((c) => c.status !== 'good')
    .map((c) => `${c.check}/${String(c.subject)}: ${c.summary}`);
}

describe('central integrity: options', () => {
  it('refuses bad and unknown options with EDGELOOP_ERR_CONFIG_INVALID', () => {
    assert.throws(() => createIntegrityMonitor({ staleAfterS: -1 }), { code: 'EDGELOOP_ERR_CONFIG_INVALID' });
    assert.throws(() => createIntegrityMonitor({ lossSuspectShare: 0.5, lossFailShare: 0.1 }), {
      code: 'EDGELOOP_ERR_CONFIG_INVALID',
    });
    assert.throws(
      () => createIntegrityMonitor({ staleAfterSeconds: 3 } as IntegrityMonitorOverrides),
      /unknown option staleAfterSeconds/,
    );
    assert.throws(
      () =>
        createIntegrityMonitor({
          physics: { magUt: { failMin: 50, suspectMin: 10, suspectMax: 100, failMax: 400 } },
        }),
      { code: 'EDGELOOP_ERR_CONFIG_INVALID' },
    );
  });
});

describe('central integrity: a healthy stream', () => {
  it('is good on every check, writes no rows and emits no observations', () => {
    const { m, a } = setup();
    const cycles = run(m, a, 400);
    assert.deepEqual(nonGood(m), []);
    assert.equal(
      cycles.reduce((s, c) => s + c.results.length + c.observations.length, 0),
      0,
    );
    const h = m.deviceHealth('dev-1');
    assert.equal(h?.state, 'online');
    assert.equal(h.status, 'good');
    assert.equal(m.deviceHealth('nope'), undefined);
    assert.deepEqual(m.summary(), {
      devices: 1,
      online: 1,
      offline: 0,
      stale: 0,
      channels: { good: 12, suspect: 0, fail: 0 },
    });
  });
});

describe('central integrity: message loss', () => {
  it('judges holes only once settled, and a backlog that fills them clears them', () => {
    const { m, a } = setup();
    run(m, a, 150);
    // An outage: 30 messages held in the agent's outbox, live data resumes first.
    const held: ReturnType<Agent['window']>[] = [];
    for (let i = 0; i < 30; i++) held.push(a.window());
    run(m, a, 20);
    assert.equal(
      check(m, 'dev-1', 'msg_loss').status,
      'good',
      'a hole younger than lossSettleS is not loss yet',
    );
    for (const h of held) m.observe({ ...h, receivedMs: a.t });
    run(m, a, 200);
    assert.equal(check(m, 'dev-1', 'msg_loss').status, 'good');
    assert.match(check(m, 'dev-1', 'msg_loss').summary, /loss 0 of \d+ \(0\.00 %\) in msgSeq 1\.\./);
  });

  it('is suspect at 2 % lost and fail at 20 % lost', () => {
    const s = setup();
    run(s.m, s.a, 450, (i) => ({ lose: i % 50 === 0 ? 1 : 0 }));
    const c = check(s.m, 'dev-1', 'msg_loss');
    assert.equal(c.status, 'suspect', c.summary);
    assert.equal(c.evidence[0]?.method, 'msg_loss');
    const f = setup();
    run(f.m, f.a, 450, (i) => ({ lose: i % 4 === 0 ? 1 : 0 }));
    assert.equal(check(f.m, 'dev-1', 'msg_loss').status, 'fail');
    assert.equal(check(f.m, 'dev-1', 'msg_loss').severity, 'critical');
  });

  it('does not count from a retained status delivered when the collector subscribes', () => {
    const { m, a } = setup();
    // The run's online status (msgSeq 1) is retained; the live stream is at 50,000 by now.
    m.observe(a.status('online', 'startup'));
    a.seq = 50_000;
    run(m, a, 300);
    const c = check(m, 'dev-1', 'msg_loss');
    assert.equal(c.status, 'good', c.summary);
    assert.match(c.summary, /msgSeq 50\d\d\d\.\./);
  });

  it('does not count the part of a run before the collector joined it', () => {
    const { m, a } = setup();
    a.seq = 50_000; // the agent has been running for a long time
    run(m, a, 300);
    assert.equal(check(m, 'dev-1', 'msg_loss').status, 'good');
  });
});

describe('central integrity: sample loss from the agent counters', () => {
  it('is good, suspect and fail by the lost share', () => {
    for (const [missing, every, want] of [
      [0, 1, 'good'],
      [20, 5, 'suspect'],
      [900, 1, 'fail'],
    ] as const) {
      const { m, a } = setup();
      run(m, a, 60, (i) => ({ samplesMissing: i % every === 0 ? missing : 0 }));
      assert.equal(
        check(m, 'dev-1', 'sample_loss').status,
        want,
        `${missing}: ${check(m, 'dev-1', 'sample_loss').summary}`,
      );
    }
  });
});

describe('central integrity: staleness and offline', () => {
  it('goes stale (suspect), then fail, then back to good with inactive observations', () => {
    const { m, a } = setup();
    run(m, a, 20);
    const last = a.t;
    assert.equal(check(m, 'dev-1', 'stale').status, 'good');
    m.evaluate(last + 31_000);
    assert.equal(check(m, 'dev-1', 'stale').status, 'suspect');
    assert.equal(m.summary().stale, 1);
    const late = m.evaluate(last + 301_000);
    assert.equal(check(m, 'dev-1', 'stale').status, 'fail');
    const o = late.observations.find((x) => x.check === 'integrity.stale');
    assert.equal(o?.active, true);
    assert.equal(o.severity, 'critical');
    assert.equal(o.action?.kind, 'check_connectivity');
    a.t = last + 310_000;
    const back = run(m, a, 5);
    assert.equal(check(m, 'dev-1', 'stale').status, 'good');
    const inactive = back.flatMap((c) => c.observations).filter((x) => x.check === 'integrity.stale');
    assert.ok(inactive.length > 0 && inactive.every((x) => !x.active));
  });

  it('reports a last will as fail, dated by arrival; an online status clears it', () => {
    const { m, a } = setup();
    run(m, a, 20);
    // The will's tsMs is the CONNECT that armed it, days ago.
    const will = a.status('offline', 'lwt', { tsMs: T0 - 3 * 86_400_000 });
    m.observe(will);
    const c = m.evaluate(a.t + 5000);
    const o = c.observations.find((x) => x.check === 'integrity.offline');
    assert.equal(o?.active, true);
    assert.equal(o.severity, 'critical');
    assert.equal(o.sinceMs, will.receivedMs);
    assert.equal(check(m, 'dev-1', 'offline').status, 'fail');
    assert.equal(m.deviceHealth('dev-1')?.state, 'offline');
    // Silence while offline is not also "stale".
    m.evaluate(a.t + 600_000);
    assert.equal(check(m, 'dev-1', 'stale').status, 'good');
    a.t += 600_000;
    m.observe(a.status('online', 'reconnect'));
    run(m, a, 10);
    assert.equal(check(m, 'dev-1', 'offline').status, 'good');
    assert.equal(m.deviceHealth('dev-1')?.state, 'online');
  });

  it('reports a clean shutdown as offline with severity info', () => {
    const { m, a } = setup();
    run(m, a, 20);
    m.observe(a.status('offline', 'shutdown'));
    const c = m.evaluate(a.t + 60_000);
    const o = c.observations.find((x) => x.check === 'integrity.offline');
    assert.equal(o?.active, true);
    assert.equal(o.severity, 'info');
    assert.equal(o.action?.kind, 'none');
    assert.equal(
      m.deviceHealth('dev-1')?.status,
      'good',
      'an expected shutdown does not make the device suspect',
    );
    assert.equal(m.summary().offline, 1);
  });

  it('ignores the will of an older run that arrives after the new run is online', () => {
    const { m, a } = setup();
    run(m, a, 20);
    const oldWill = a.status('offline', 'lwt');
    a.runId = 2002;
    a.seq = 0;
    m.observe(a.status('online', 'startup'));
    run(m, a, 5);
    m.observe({ ...oldWill, receivedMs: a.t });
    m.evaluate(a.t + 1000);
    assert.equal(check(m, 'dev-1', 'offline').status, 'good');
  });
});

describe('central integrity: clock', () => {
  it('calls a sender 10 s behind suspect and 2 min behind fail', () => {
    for (const [skewMs, want] of [
      [-1000, 'good'],
      [-10_000, 'suspect'],
      [-120_000, 'fail'],
    ] as const) {
      const { m, a } = setup();
      run(m, a, 200, { skewMs });
      const c = check(m, 'dev-1', 'clock_skew');
      assert.equal(c.status, want, c.summary);
    }
  });

  it('calls a sender ahead at once, before a whole window of data', () => {
    const { m, a } = setup();
    run(m, a, 3, { skewMs: 20_000 });
    const c = check(m, 'dev-1', 'clock_skew');
    assert.equal(c.status, 'suspect');
    assert.match(c.summary, /ahead/);
    assert.equal(c.evidence[0]?.method, 'clock_skew');
  });

  it('does not call an outbox backlog skew: old tsMs, new receivedMs, live data alongside', () => {
    const { m, a } = setup();
    run(m, a, 150);
    // 10 minutes offline: 600 windows held in the outbox, then live data first and the backlog after.
    const held: ReturnType<Agent['window']>[] = [];
    for (let i = 0; i < 600; i++) held.push(a.window());
    for (let i = 0; i < 300; i++) {
      m.observe(a.window());
      const h1 = held.shift();
      const h2 = held.shift();
      if (h1 !== undefined) m.observe({ ...h1, receivedMs: a.t });
      if (h2 !== undefined) m.observe({ ...h2, receivedMs: a.t });
      if (i % 10 === 0) m.evaluate(a.t);
    }
    m.evaluate(a.t);
    assert.deepEqual(nonGood(m), []);
  });

  it('reports a wall clock stepping back, but not one slow window', () => {
    const { m, a } = setup();
    run(m, a, 30);
    // The agent stalls 1.5 s on one window, then catches up: processing delay, not a jump.
    run(m, a, 3, (i) => ({ skewMs: i === 0 ? 1500 : 0 }));
    assert.equal(check(m, 'dev-1', 'clock_jump').status, 'good');
    a.t -= 5000; // NTP steps the clock back 5 s; device time runs on
    run(m, a, 10);
    const c = check(m, 'dev-1', 'clock_jump');
    assert.equal(c.status, 'suspect');
    assert.match(c.summary, /stepped back 5\.\d s/);
    m.evaluate(a.t + 601_000);
    assert.equal(check(m, 'dev-1', 'clock_jump').status, 'good', 'held clockJumpHoldS, then clears');
  });

  it('does not call the burst of late windows after a serial outage a leap', () => {
    const { m, a } = setup();
    run(m, a, 30);
    // The cable is out for 6 s: no window closes; when data resumes the six windows of the gap close
    // together, each as late as it is old.
    a.t += 6000;
    for (let i = 0; i < 6; i++)
      m.observe({ message: decode('telemetry', a.payload()), receivedMs: a.t + 40 });
    a.t += 1000;
    run(m, a, 30);
    assert.equal(check(m, 'dev-1', 'clock_jump').status, 'good', check(m, 'dev-1', 'clock_jump').summary);
  });

  it('reports a forward leap that lasts', () => {
    const { m, a } = setup();
    run(m, a, 30);
    a.t += 30_000;
    a.deviceUs -= 0; // device time continues while the wall clock leapt 30 s
    run(m, a, 10);
    assert.match(check(m, 'dev-1', 'clock_jump').summary, /leapt forward 30\.\d s/);
  });

  it('reports each reboot as info, and too many in an hour as suspect', () => {
    const { m, a } = setup();
    run(m, a, 20);
    a.bootId = 8;
    a.deviceUs = 1_000_000;
    a.index = 0;
    m.observe(a.window());
    let c = m.evaluate(a.t);
    const o = c.observations.find((x) => x.check === 'integrity.reboot');
    assert.equal(o?.active, true);
    assert.equal(o.severity, 'info');
    assert.match(o.summary, /bootId 7 -> 8/);
    c = m.evaluate(a.t + 10_000);
    assert.equal(c.observations.find((x) => x.check === 'integrity.reboot')?.active, false);
    for (const b of [9, 10]) {
      a.bootId = b;
      run(m, a, 10);
    }
    const r = check(m, 'dev-1', 'reboot');
    assert.equal(r.status, 'suspect');
    assert.equal(r.severity, 'warning');
    m.evaluate(a.t + 3_700_000);
    assert.equal(check(m, 'dev-1', 'reboot').status, 'good');
  });
});

describe('central integrity: persistent edge flags', () => {
  const spike = { channel: 'accel.x', check: 'spike', status: 'fail', value: 45, threshold: 40 } as const;
  const flat = {
    channel: 'accel.z',
    check: 'flatline',
    status: 'fail',
    value: 1000,
    threshold: 500,
  } as const;

  it('does not flag a single spike', () => {
    const { m, a } = setup();
    for (let i = 0; i < 40; i++) {
      m.observe(a.window({ flags: i === 30 ? [spike] : [] }));
      assert.equal(m.channelStatus('dev-1', 'accel.x'), 'good');
    }
    const cycles = run(m, a, 20);
    assert.equal(
      cycles.reduce((s, c) => s + c.observations.length + c.results.length, 0),
      0,
    );
    assert.deepEqual(nonGood(m), []);
  });

  it('fails accel.z on a flatline that lasts; accel fails with it, the rest stay good', () => {
    const { m, a } = setup();
    run(m, a, 20);
    for (let i = 0; i < 2; i++) m.observe(a.window({ flags: [flat] }));
    assert.equal(m.channelStatus('dev-1', 'accel.z'), 'good', 'two of five windows are not yet persistent');
    m.observe(a.window({ flags: [flat] }));
    assert.equal(m.channelStatus('dev-1', 'accel.z'), 'fail');
    assert.equal(m.channelStatus('dev-1', 'accel'), 'fail');
    assert.equal(m.channelStatus('dev-1', 'accel.magnitude'), 'fail');
    assert.equal(m.channelStatus('dev-1', 'accel.z.rms'), 'fail');
    assert.equal(m.channelStatus('dev-1', 'accel.x'), 'good');
    assert.equal(m.channelStatus('dev-1', 'gyro'), 'good');
    assert.equal(m.channelStatus('dev-1', 'humidity'), 'good');
    assert.equal(m.channelStatus('other', 'accel.z'), 'good');
    const c = m.evaluate(a.t);
    const o = c.observations.find((x) => x.check === 'integrity.edge_flags');
    assert.equal(o?.subject, 'accel.z');
    assert.equal(o.cause, 'broken_sensor');
    assert.equal(o.action?.kind, 'check_sensor');
    assert.equal(o.severity, 'critical');
    assert.equal(o.evidence[0]?.method, 'edge.flatline');
    assert.equal(o.evidence[0].statistic, 1000);
    assert.equal(o.evidence[0].threshold, 500);
    assert.deepEqual(m.summary().channels, { good: 11, suspect: 0, fail: 1 });
    assert.equal(c.results.length, 1);
  });

  it('clears only after clearWindows clean windows (hysteresis)', () => {
    const { m, a } = setup();
    run(m, a, 10, { flags: [flat] });
    for (let i = 0; i < 4; i++) m.observe(a.window());
    assert.equal(m.channelStatus('dev-1', 'accel.z'), 'fail', 'four clean windows are not enough');
    m.observe(a.window());
    assert.equal(m.channelStatus('dev-1', 'accel.z'), 'good');
  });

  it('does not count persistent suspect spikes (impulsive vibration), but counts spike fails', () => {
    const { m, a } = setup();
    const s = { channel: 'accel.x', check: 'spike', status: 'suspect', value: 20, threshold: 12 } as const;
    run(m, a, 30, { flags: [s] });
    assert.equal(m.channelStatus('dev-1', 'accel.x'), 'good');
    run(m, a, 5, { flags: [spike] });
    assert.equal(m.channelStatus('dev-1', 'accel.x'), 'fail');
    const strict = setup({ edgeSuspectIgnored: [] });
    run(strict.m, strict.a, 10, { flags: [s] });
    assert.equal(strict.m.channelStatus('dev-1', 'accel.x'), 'suspect');
    assert.throws(() => createIntegrityMonitor({ edgeSuspectIgnored: ['spikes'] }), /edgeSuspectIgnored/);
  });

  it('takes suspect flags as suspect', () => {
    const { m, a } = setup();
    run(m, a, 20, {
      flags: [{ channel: 'gyro.y', check: 'clipping', status: 'suspect', value: 0.002, threshold: 0.001 }],
    });
    assert.equal(m.channelStatus('dev-1', 'gyro.y'), 'suspect');
    assert.equal(check(m, 'dev-1', 'edge_flags', 'gyro.y').severity, 'warning');
  });

  it('ignores backlog windows older than the newest one', () => {
    const { m, a } = setup();
    const held = [a.window({ flags: [flat] }), a.window({ flags: [flat] }), a.window({ flags: [flat] })];
    run(m, a, 20);
    for (const h of held) m.observe({ ...h, receivedMs: a.t });
    assert.equal(m.channelStatus('dev-1', 'accel.z'), 'good');
  });
});

describe('central integrity: physics cross-checks', () => {
  const cases: [string, Readonly<Record<string, number | null>>, string, 'suspect' | 'fail'][] = [
    [
      'a dead accelerometer (0 g)',
      { 'accel.x.mean': 0, 'accel.y.mean': 0, 'accel.z.mean': 0.001 },
      'accel',
      'fail',
    ],
    ['accel at 1.15 g at rest', { 'accel.z.mean': 1.15 }, 'accel', 'suspect'],
    ['a magnetometer reading 150 uT', { 'mag.magnitude.mean': 150 }, 'mag', 'suspect'],
    ['a magnetometer reading 0.5 uT', { 'mag.magnitude.mean': 0.5 }, 'mag', 'fail'],
    ['humidity at 104 %RH', { 'humidity.mean': 104 }, 'humidity', 'fail'],
    ['pressure at 200 hPa', { 'pressure.mean': 200 }, 'pressure', 'fail'],
    ['temperature at 85 degC', { 'temperature.mean': 85 }, 'temperature', 'suspect'],
  ];
  for (const [what, features, subject, want] of cases) {
    it(`flags ${what} as ${want} when it lasts, not in one window`, () => {
      const { m, a } = setup();
      run(m, a, 20, (i) => (i === 10 ? { features } : {}));
      assert.equal(check(m, 'dev-1', 'physics', subject).status, 'good');
      run(m, a, 5, { features });
      const c = check(m, 'dev-1', 'physics', subject);
      assert.equal(c.status, want, c.summary);
      assert.equal(m.channelStatus('dev-1', subject), want);
      assert.equal(c.evidence[0]?.thresholdOrigin, 'physics');
    });
  }

  it('accepts a heavily vibrating machine: mean vector 1.05 g with |a| std 0.5 g', () => {
    const { m, a } = setup();
    run(m, a, 30, {
      features: { 'accel.z.mean': 1.05, 'accel.magnitude.mean': 1.16, 'accel.magnitude.std': 0.5 },
    });
    assert.deepEqual(nonGood(m), []);
  });

  it('skips imputed (null) features', () => {
    const { m, a } = setup();
    run(m, a, 30, { features: { 'humidity.mean': null } });
    assert.deepEqual(nonGood(m), []);
  });
});

describe('central integrity: results and observations', () => {
  it('writes a row on each status change and at most one a minute while non-good', () => {
    const { m, a } = setup({ reportGoodCycles: 4 });
    run(m, a, 10);
    const flat = { channel: 'accel.z', check: 'flatline', status: 'fail' } as const;
    const bad = run(m, a, 300, { flags: [flat] }); // 5 minutes, 30 evaluations
    const rows = bad.flatMap((c) => c.results);
    assert.ok(rows.length >= 5 && rows.length <= 7, `${rows.length} rows`);
    assert.ok(
      rows.every(
        (r) => r.monitor === 'integrity.edge_flags' && r.channel === 'accel.z' && r.status === 'fail',
      ),
    );
    assert.ok(bad.every((c) => c.observations.filter((o) => o.active).length === 1));
    const good = run(m, a, 100);
    const goodRows = good.flatMap((c) => c.results);
    assert.deepEqual(
      goodRows.map((r) => r.status),
      ['good'],
    );
    const inactive = good.flatMap((c) => c.observations);
    assert.equal(inactive.length, 4, 'reported inactive for reportGoodCycles evaluations, then silent');
    assert.ok(inactive.every((o) => !o.active && o.kind === 'integrity'));
  });

  it('forgets a device not heard from for forgetAfterS', () => {
    const { m, a } = setup({ forgetAfterS: 3600 });
    run(m, a, 10);
    m.evaluate(a.t + 600_000);
    assert.ok(check(m, 'dev-1', 'stale').status === 'fail');
    const c = m.evaluate(a.t + 3_700_000);
    assert.equal(m.deviceHealth('dev-1'), undefined);
    assert.equal(m.summary().devices, 0);
    assert.ok(c.observations.some((o) => o.check === 'integrity.stale' && !o.active));
  });
});
