// Issue 10 ("closing the loop") as a user meets it, from docs/rollouts.md, docs/firmware-sim.md "Model
// commands", docs/update-requests.md, docs/retraining.md and `--help` alone: the real CLI as child
// processes (`edgeloop keygen`, `train`, `collector`, `registry push/promote`, `sim --fleet`, `rollout
// start/status/pause/resume/abort/inventory`), Mosquitto's `mosquitto_sub` on the collector's embedded
// broker, `promtool check metrics`, and plain HTTP as curl sends it. Every port is picked by the OS.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { haveCommand, promtoolCheck, requireTool } from '../helpers/tools.ts';
import { waitFor } from '../helpers/wait.ts';

const bin = fileURLToPath(new URL('../../bin/edgeloop.js', import.meta.url));
const TOKEN = 'loop-user-docs-token-0123456789';
const baseEnv: NodeJS.ProcessEnv = { ...process.env, EDGELOOP_FROM_SOURCE: '1' };
delete baseEnv.EDGELOOP_REGISTRY_TOKEN;
delete baseEnv.EDGELOOP_COLLECTOR_URL;

interface Run {
  readonly code: number | null;
  readonly out: string;
  readonly err: string;
}

/** Runs `edgeloop <args>` to its end (asynchronously: the background processes' pipes keep draining). */
function cli(args: readonly string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 120_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      env: { ...baseEnv, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

interface Proc {
  readonly child: ChildProcess;
  out: string;
  err: string;
  exit: Promise<number | null>;
}

function background(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn(cmd, [...args], { env: { ...baseEnv, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const proc: Proc = {
    child,
    out: '',
    err: '',
    exit: new Promise((resolve) => {
      child.on('close', (code) => {
        resolve(code);
      });
    }),
  };
  child.stdout.on('data', (d: Buffer) => (proc.out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (proc.err += d.toString()));
  return proc;
}

async function stop(proc: Proc | undefined): Promise<void> {
  if (proc === undefined || proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  proc.child.kill('SIGTERM');
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), 20_000);
  await proc.exit;
  clearTimeout(timer);
}

interface Collector {
  readonly proc: Proc;
  readonly url: string;
  readonly brokerPort: number;
}

async function startCollector(args: readonly string[]): Promise<Collector> {
  const proc = background(process.execPath, [bin, 'collector', ...args], { EDGELOOP_REGISTRY_TOKEN: TOKEN });
  let m: RegExpExecArray | null = null;
  await waitFor(
    () => `collector listening line (stderr: ${proc.err.slice(-400)})`,
    () => {
      if (proc.child.exitCode !== null) throw new Error(`collector exited: ${proc.err}`);
      m = /listening on (http:\/\/127\.0\.0\.1:\d+) \(broker mqtt:\/\/127\.0\.0\.1:(\d+)/.exec(proc.out);
      return m !== null;
    },
    { timeoutMs: 60_000, intervalMs: 100 },
  );
  const match = m as unknown as RegExpExecArray;
  return { proc, url: match[1] as string, brokerPort: Number(match[2]) };
}

async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** POST as curl's `-d` does (form content type unless `json`), with the write token unless `token` is null. */
async function post(
  url: string,
  body: unknown,
  token: string | null = TOKEN,
  json = true,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers: Record<string, string> = {
    'content-type': json ? 'application/json' : 'application/x-www-form-urlencoded',
  };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const errCode = (body: Record<string, unknown>): string =>
  (body.error as { code?: string } | undefined)?.code ?? '';

interface RolloutView {
  id: string;
  state: string;
  production: { moved: boolean } | null;
  devices: { deviceId: string; state: string; modelState: string | null; code: string | null }[];
  events: { kind: string; actor: string; message: string }[];
  phases: { name: string; state: string }[];
}

async function rollout(url: string, id: string): Promise<RolloutView> {
  const r = await getJson(`${url}/api/v1/rollouts/${id}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.rollout as RolloutView;
}

const DEVICES = ['sim-01', 'sim-02', 'sim-03', 'sim-04', 'sim-05', 'sim-06'];

test(
  'issue 10 from the docs: train, push, a simulated fleet answering rollouts, pause/resume/abort, restart',
  {
    timeout: 420_000,
  },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'edgeloop-loop-user-'));
    const procs: Proc[] = [];
    t.after(async () => {
      for (const p of procs.reverse()) await stop(p);
      rmSync(dir, { recursive: true, force: true });
    });

    // keygen + two tiny models of one name (docs/training.md, `edgeloop train --help`).
    const keygen = await cli(['keygen', '--out', join(dir, 'keys')]);
    assert.equal(keygen.code, 0, keygen.err);
    const key = join(dir, 'keys', 'edgeloop-signing.key');
    const pub = join(dir, 'keys', 'edgeloop-signing.pub');
    const trainArgs = (out: string, version: string, seed: string): string[] => [
      'train',
      '--out',
      join(dir, out),
      '--key',
      key,
      '--name',
      'pump',
      '--version',
      version,
      '--seed',
      seed,
      '--devices-per-state',
      '2',
      '--trials',
      '1',
      '--hidden',
      '0',
    ];
    const [t1, t2] = await Promise.all([
      cli(trainArgs('m1', '1.0.0', '1')),
      cli(trainArgs('m2', '1.1.0', '2')),
    ]);
    assert.equal(t1.code, 0, t1.err);
    assert.equal(t2.code, 0, t2.err);

    // The collector with the embedded broker, a credentials file, the registry (--trusted-key) and a token.
    const creds = join(dir, 'creds.json');
    writeFileSync(
      creds,
      JSON.stringify({
        devices: Object.fromEntries(DEVICES.map((d, i) => [d, `device-secret-${i}`])),
        collector: { username: 'edgeloop-collector', password: 'collector-secret-1' },
      }),
    );
    const dataDir = join(dir, 'data');
    const collectorArgs = (httpPort: string, brokerPort: string): string[] => [
      '--data-dir',
      dataDir,
      '--credentials-file',
      creds,
      '--trusted-key',
      pub,
      '--http-port',
      httpPort,
      '--broker-port',
      brokerPort,
    ];
    let col = await startCollector(collectorArgs('0', '0'));
    procs.push(col.proc);
    const url = col.url;

    for (const m of ['m1', 'm2']) {
      const push = await cli(['registry', 'push', join(dir, m), '--url', url, '--token', TOKEN]);
      assert.equal(push.code, 0, push.err);
    }
    const promote = await cli(['registry', 'promote', 'pump', '1.0.0', '--to', 'production', '--url', url], {
      EDGELOOP_REGISTRY_TOKEN: TOKEN,
    });
    assert.equal(promote.code, 0, promote.err);

    // The fleet (docs/firmware-sim.md): 6 devices serving 1.0.0, sim-06 silent for model commands.
    const simArgs = (brokerPort: number, model: string): string[] => [
      bin,
      'sim',
      '--fleet',
      '6',
      '--mqtt',
      `mqtt://127.0.0.1:${brokerPort}`,
      '--mqtt-credentials',
      creds,
      '--model',
      join(dir, model),
      '--trusted-key',
      pub,
      '--speed',
      '1',
      '--replay',
      '5',
      '--duration',
      '900',
      '--silent',
      '6',
      '--state-latency',
      '50',
    ];
    let sim = background(process.execPath, simArgs(col.brokerPort, 'm1'));
    procs.push(sim);
    await waitFor(
      'every device in the inventory on pump@1.0.0',
      async () => {
        if (sim.child.exitCode !== null) throw new Error(`sim exited: ${sim.err.slice(-600)}`);
        const inv = await getJson(`${url}/api/v1/inventory`);
        const devices = (inv.body.devices ?? []) as { deviceId: string; model: { version: string } | null }[];
        return devices.filter((d) => d.model?.version === '1.0.0').length === DEVICES.length;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );

    const fast = ['--canary-bake-s', '1', '--device-timeout-s', '8', '--interval-ms', '200'];
    const lenient = ['--analysis', 'minWindows=2,maxPredictionMixJs=1'];

    await t.test('refused plans and requests carry the documented status and code', async () => {
      const plan = (extra: Record<string, unknown>): Record<string, unknown> => ({
        model: 'pump',
        toVersion: '1.1.0',
        ...extra,
      });
      const cases: [string, Record<string, unknown>, number, string][] = [
        ['unknown version', plan({ toVersion: '9.9.9' }), 400, 'EDGELOOP_ERR_ROLLOUT_INVALID_PLAN'],
        ['to = from', plan({ toVersion: '1.0.0' }), 400, 'EDGELOOP_ERR_ROLLOUT_INVALID_PLAN'],
        [
          'last phase < 100',
          plan({ phases: [{ percent: 50, bakeS: 1 }] }),
          400,
          'EDGELOOP_ERR_ROLLOUT_INVALID_PLAN',
        ],
        ['canary 0 %', plan({ canary: { percent: 0 } }), 400, 'EDGELOOP_ERR_ROLLOUT_INVALID_PLAN'],
        ['timeout 0', plan({ deviceTimeoutS: 0 }), 400, 'EDGELOOP_ERR_ROLLOUT_INVALID_PLAN'],
        ['bake > 30 days', plan({ canaryBakeS: 30 * 86_400 + 1 }), 400, 'EDGELOOP_ERR_ROLLOUT_INVALID_PLAN'],
        ['bad device id', plan({ devices: ['bad id!'] }), 400, 'EDGELOOP_ERR_ROLLOUT_INVALID_PLAN'],
        [
          'unknown analysis option',
          plan({ analysis: { nope: 1 } }),
          400,
          'EDGELOOP_ERR_ROLLOUT_INVALID_PLAN',
        ],
      ];
      for (const [what, body, status, code] of cases) {
        const r = await post(`${url}/api/v1/rollouts`, body);
        assert.equal(r.status, status, `${what}: ${JSON.stringify(r.body)}`);
        assert.equal(errCode(r.body), code, what);
      }
      // An unknown field is refused (400), never ignored.
      const unknown = await post(`${url}/api/v1/rollouts`, plan({ bogus: 1 }));
      assert.equal(unknown.status, 400);
      assert.match(JSON.stringify(unknown.body), /bogus/);
      // Writes need the registry's write token.
      assert.equal((await post(`${url}/api/v1/rollouts`, plan({}), null)).status, 401);
      assert.equal((await post(`${url}/api/v1/rollouts`, plan({}), 'not-the-token-0123456789')).status, 401);
      const noToken = await cli(['rollout', 'start', '--model', 'pump', '--to', '1.1.0', '--url', url]);
      assert.equal(noToken.code, 1, noToken.err);
      assert.match(noToken.err, /EDGELOOP_ERR_REGISTRY_UNAUTHORIZED/);
      // Query parameters and ids.
      for (const q of ['foo=1', 'limit=0', 'limit=1001', 'state=weird']) {
        const r = await getJson(`${url}/api/v1/rollouts?${q}`);
        assert.equal(r.status, 400, q);
      }
      const missing = await getJson(`${url}/api/v1/rollouts/ro-999`);
      assert.equal(missing.status, 404);
      assert.equal(errCode(missing.body), 'EDGELOOP_ERR_ROLLOUT_NOT_FOUND');
      for (const path of [
        'update-requests?foo=1',
        'update-requests?state=nope',
        'training-jobs?foo=1',
        'labels?foo=1',
      ]) {
        const r = await getJson(`${url}/api/v1/${path}`);
        assert.equal(r.status, 400, path);
        assert.equal(errCode(r.body), 'EDGELOOP_ERR_HTTP_BAD_REQUEST', path);
      }
      const ur = await getJson(`${url}/api/v1/update-requests/ur-999`);
      assert.equal(ur.status, 404);
      assert.equal(errCode(ur.body), 'EDGELOOP_ERR_HTTP_NOT_FOUND');
      const job = await post(`${url}/api/v1/training-jobs`, {
        model: { name: 'pump', version: '1.0.0' },
        devices: ['sim-01'],
        fromMs: 10,
        toMs: 5,
      });
      assert.equal(job.status, 422);
      assert.equal(errCode(job.body), 'EDGELOOP_ERR_TRAINING_JOB_INVALID');
      // The CLI: usage is exit 2, a collector that does not answer is EDGELOOP_ERR_ROLLOUT_UNREACHABLE.
      const usage = await cli(['rollout', 'start', '--model', 'pump']);
      assert.equal(usage.code, 2, usage.err);
      const unreachable = await cli(['rollout', 'status', '--url', 'http://127.0.0.1:1']);
      assert.equal(unreachable.code, 1);
      assert.match(unreachable.err, /EDGELOOP_ERR_ROLLOUT_UNREACHABLE/);
    });

    await t.test(
      'a non-integer seed breaks the request schema: 400 EDGELOOP_ERR_HTTP_BAD_REQUEST naming it (docs/rollouts.md "Refused plans")',
      async () => {
        const r = await post(`${url}/api/v1/rollouts`, { model: 'pump', toVersion: '1.1.0', seed: 1.5 });
        assert.equal(r.status, 400);
        assert.equal(errCode(r.body), 'EDGELOOP_ERR_HTTP_BAD_REQUEST');
        assert.match(JSON.stringify(r.body), /seed/);
      },
    );

    await t.test("operator labels: POST as the docs' curl does (no content type), then listed", async () => {
      const now = Date.now();
      const label = {
        deviceId: 'sim-02',
        state: 'normal',
        fromMs: now - 60_000,
        toMs: now,
        note: 'inspected, healthy',
      };
      const r = await post(`${url}/api/v1/labels`, label, TOKEN, false);
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const created = r.body.label as { id: string; actor: string };
      assert.match(created.id, /^lb-\d+$/);
      assert.equal(created.actor, 'admin');
      const bad = await post(`${url}/api/v1/labels`, { ...label, state: 'melting' });
      assert.equal(bad.status, 422);
      assert.equal(errCode(bad.body), 'EDGELOOP_ERR_LABEL_INVALID');
      const list = await getJson(`${url}/api/v1/labels?deviceId=sim-02`);
      assert.deepEqual(
        ((list.body.labels ?? []) as { id: string }[]).map((l) => l.id),
        [created.id],
      );
    });

    let retained = '';
    await t.test(
      'rollout start --wait completes: devices answer, production moves, states are retained',
      async (st) => {
        const start = await cli(
          [
            'rollout',
            'start',
            '--model',
            'pump',
            '--to',
            '1.1.0',
            '--canary-devices',
            'sim-01,sim-02',
            '--phases',
            '50:1,100:0',
            '--reason',
            'docs journey',
            '--wait',
            ...fast,
            ...lenient,
            '--url',
            url,
          ],
          { EDGELOOP_REGISTRY_TOKEN: TOKEN },
        );
        assert.equal(start.code, 0, `${start.out}\n${start.err}`);
        assert.match(start.out, /completed/);
        const ro = await rollout(url, 'ro-1');
        assert.equal(ro.state, 'completed');
        assert.equal(ro.production?.moved, true);
        const byId = new Map(ro.devices.map((d) => [d.deviceId, d]));
        assert.equal(byId.get('sim-06')?.state, 'timed_out', 'the silent device times out');
        for (const d of DEVICES.slice(0, 5)) assert.equal(byId.get(d)?.state, 'committed', d);
        const kinds = new Set(ro.events.map((e) => e.kind));
        for (const k of [
          'started',
          'phase_started',
          'phase_settled',
          'analysis',
          'device_timed_out',
          'completed',
        ]) {
          assert.ok(kinds.has(k), `event ${k} in ${[...kinds].join(',')}`);
        }
        const history = await cli(['registry', 'history', 'pump', '--alias', 'production', '--url', url]);
        assert.equal(history.code, 0, history.err);
        assert.match(history.out, /rollout:ro-1\s+rollout ro-1 completed: docs journey/);
        const inv = await cli(['rollout', 'inventory', '--url', url, '--json']);
        assert.equal(inv.code, 0, inv.err);
        const rows = (
          JSON.parse(inv.out) as {
            devices: { deviceId: string; model: { version: string } | null; rolloutId: string | null }[];
          }
        ).devices;
        for (const d of DEVICES.slice(0, 5)) {
          const row = rows.find((r) => r.deviceId === d);
          assert.equal(row?.model?.version, '1.1.0', d);
          assert.equal(row.rolloutId, 'ro-1', d);
        }

        if (
          !requireTool(
            st,
            haveCommand('mosquitto_sub', ['--help']),
            'mosquitto_sub',
            'apt-get install mosquitto-clients',
          )
        )
          return;
        const sub = await new Promise<string>((resolve) => {
          const child = spawn('mosquitto_sub', [
            '-h',
            '127.0.0.1',
            '-p',
            String(col.brokerPort),
            '-u',
            'edgeloop-collector',
            '-P',
            'collector-secret-1',
            '-i',
            `loop-user-docs-${process.pid}`,
            '-t',
            'edgeloop/v1/devices/+/model/state',
            '-v',
            '-F',
            '%r %t %p',
            '-W',
            '4',
          ]);
          let out = '';
          child.stdout.on('data', (d: Buffer) => (out += d.toString()));
          child.on('close', () => {
            resolve(out);
          });
        });
        retained = sub;
        const lines = sub.split('\n').filter((l) => l.length > 0);
        const devicesWithState = new Set(lines.map((l) => /devices\/([^/]+)\/model/.exec(l)?.[1]));
        assert.deepEqual([...devicesWithState].sort(), DEVICES.slice(0, 5), sub);
        for (const l of lines) {
          assert.ok(l.startsWith('1 '), `retained: ${l}`);
          assert.match(l, /"state":"COMMITTED"/);
        }
      },
    );

    await t.test('rollout start --wait prints no Node warning', async () => {
      // Re-run a --wait on the ended rollout's model: a fresh start that ends quickly (abort it) is
      // enough; the warning came in the completed run above, so check a long poll on its own.
      const wait = await cli(
        [
          'rollout',
          'start',
          '--model',
          'pump',
          '--to',
          '1.0.0',
          '--devices',
          'sim-06',
          '--canary-bake-s',
          '0',
          '--phases',
          '100:0',
          '--device-timeout-s',
          '4',
          '--interval-ms',
          '100',
          '--wait',
          '--url',
          url,
        ],
        { EDGELOOP_REGISTRY_TOKEN: TOKEN },
      );
      // sim-06 never answers: the canary times out, is inconclusive, and the rollout pauses (exit 3).
      assert.equal(wait.code, 3, `${wait.out}\n${wait.err}`);
      const abort = await cli(['rollout', 'abort', 'ro-2', '--url', url, '--token', TOKEN]);
      assert.equal(abort.code, 0, abort.err);
      await waitFor('ro-2 aborted', async () => (await rollout(url, 'ro-2')).state === 'aborted', {
        timeoutMs: 30_000,
        intervalMs: 200,
      });
      assert.doesNotMatch(wait.err, /Warning/);
    });

    await t.test(
      '--manual pauses after each passed phase (--wait exit 3); pause/resume/abort as documented',
      async () => {
        // Find the next id from the list rather than assuming one.
        const before = (await getJson(`${url}/api/v1/rollouts?model=pump`)).body.rollouts as {
          id: string;
          state: string;
        }[];
        for (const r of before)
          assert.ok(['completed', 'rolled_back', 'aborted'].includes(r.state), `${r.id} ${r.state}`);
        const start = await cli(
          [
            'rollout',
            'start',
            '--model',
            'pump',
            '--to',
            '1.0.0',
            '--devices',
            DEVICES.slice(0, 5).join(','),
            '--canary-devices',
            'sim-01',
            '--phases',
            '50:1,100:0',
            '--manual',
            '--wait',
            ...fast,
            ...lenient,
            '--url',
            url,
          ],
          { EDGELOOP_REGISTRY_TOKEN: TOKEN },
        );
        assert.equal(start.code, 3, `${start.out}\n${start.err}`);
        const id = /started (ro-\d+)/.exec(start.out)?.[1] ?? '';
        assert.match(id, /^ro-\d+$/, start.out);
        let ro = await rollout(url, id);
        assert.equal(ro.state, 'paused');
        assert.equal(ro.phases[0]?.state, 'passed');

        const env = { EDGELOOP_COLLECTOR_URL: url, EDGELOOP_REGISTRY_TOKEN: TOKEN };
        const pauseAgain = await cli(['rollout', 'pause', id], env);
        assert.equal(pauseAgain.code, 1);
        assert.match(pauseAgain.err, /EDGELOOP_ERR_ROLLOUT_STATE/);
        const resume = await cli(['rollout', 'resume', id], env);
        assert.equal(resume.code, 0, resume.err);
        await waitFor(
          `${id} paused after phase 1`,
          async () => {
            ro = await rollout(url, id);
            return ro.state === 'paused' && ro.phases[1]?.state === 'passed';
          },
          { timeoutMs: 60_000, intervalMs: 200 },
        );

        const abort = await cli(['rollout', 'abort', id, '--reason', 'wrong model'], env);
        assert.equal(abort.code, 0, abort.err);
        await waitFor(`${id} aborted`, async () => (await rollout(url, id)).state === 'aborted', {
          timeoutMs: 30_000,
          intervalMs: 200,
        });
        ro = await rollout(url, id);
        const states = ro.devices.map((d) => `${d.deviceId}:${d.state}`).sort();
        // canary sim-01 + 2 of phase 1 were committed and go back; phase 2's 2 devices were never commanded.
        assert.equal(states.filter((s) => s.endsWith(':reverted')).length, 3, states.join());
        assert.equal(states.filter((s) => s.endsWith(':untouched')).length, 2, states.join());
        assert.ok(
          ro.events.some((e) => e.kind === 'abort' && e.actor === 'admin' && e.message === 'wrong model'),
        );
        assert.equal(ro.production, null, 'production never moves on abort');
        const resumeEnded = await cli(['rollout', 'resume', id], env);
        assert.equal(resumeEnded.code, 1);
        assert.match(resumeEnded.err, /EDGELOOP_ERR_ROLLOUT_STATE/);
        const abortAgain = await cli(['rollout', 'abort', id], env);
        assert.equal(abortAgain.code, 1);
        assert.match(abortAgain.err, /EDGELOOP_ERR_ROLLOUT_STATE/);
        const status = await cli(['rollout', 'status', '--state', 'aborted', '--url', url]);
        assert.equal(status.code, 0, status.err);
        assert.match(status.out, new RegExp(`${id}\\s+pump\\s+1\\.1\\.0\\s+1\\.0\\.0\\s+aborted`));
      },
    );

    await t.test('the loop metrics pass promtool and count what happened', async (st) => {
      const res = await fetch(`${url}/metrics`);
      const text = await res.text();
      for (const m of [
        'edgeloop_collector_rollouts{state="completed"} 1',
        'edgeloop_collector_rollout_publish_failures_total 0',
        'edgeloop_collector_update_requests{state="open"} 0',
        'edgeloop_collector_training_jobs{state="queued"} 0',
      ]) {
        assert.ok(text.includes(m), m);
      }
      assert.match(text, /edgeloop_collector_rollout_commands_total\{action="install"\} [1-9]/);
      assert.match(text, /edgeloop_collector_rollout_commands_total\{action="rollback"\} [1-9]/);
      assert.match(text, /edgeloop_collector_rollout_analyses_total\{verdict="pass"\} [1-9]/);
      assert.match(text, /edgeloop_collector_rollout_device_timeouts_total [1-9]/);
      const check = promtoolCheck(text);
      if (!requireTool(st, check !== undefined, 'promtool', 'apt-get install prometheus')) return;
      assert.equal(check?.status, 0, check?.output);
    });

    await t.test(
      'prediction_mix fails only when the mix moved vs before AND vs control (docs/rollouts.md "Analysis")',
      async () => {
        // A limit of 0: any change of the mix is "above the limit". With every device in the canary there is
        // no control, so by the docs' "and" the check cannot fail.
        const res = await post(`${url}/api/v1/rollouts`, {
          model: 'pump',
          toVersion: '1.0.0',
          devices: DEVICES.slice(0, 5),
          canary: { percent: 100 },
          canaryBakeS: 1,
          phases: [{ percent: 100, bakeS: 0 }],
          deviceTimeoutS: 15,
          analysis: { minWindows: 2, maxPredictionMixJs: 0 },
        });
        assert.equal(res.status, 201, JSON.stringify(res.body));
        const id = (res.body.rollout as { id: string }).id;
        await waitFor(
          `${id} ended`,
          async () => ['completed', 'rolled_back', 'aborted'].includes((await rollout(url, id)).state),
          { timeoutMs: 90_000, intervalMs: 250 },
        );
        const r = await getJson(`${url}/api/v1/rollouts/${id}`);
        const analysis = (
          r.body.rollout as {
            analyses: {
              checks: { name: string; status: string; detail: string }[];
              figures: { predictionMixJs: { afterVsBefore: number | null; afterVsControl: number | null } };
            }[];
          }
        ).analyses[0];
        assert.ok(analysis !== undefined);
        assert.equal(analysis.figures.predictionMixJs.afterVsControl, null, 'no control group');
        assert.ok((analysis.figures.predictionMixJs.afterVsBefore ?? 0) > 0, 'the mix moved vs before');
        const mix = analysis.checks.find((c) => c.name === 'prediction_mix');
        assert.notEqual(mix?.status, 'fail', mix?.detail);
      },
    );

    await t.test(
      'SIGTERM with a rollout running exits 0; the restarted collector shows it and finishes it',
      async () => {
        // sim-06 is silent: the canary waits for its timeout, so the rollout is running when we stop. It goes
        // to whichever version production is not on now (the subtests before moved it).
        const aliases = await getJson(`${url}/api/v1/models/pump/aliases`);
        const production = (aliases.body.aliases as { alias: string; version: string }[]).find(
          (a) => a.alias === 'production',
        )?.version;
        const target = production === '1.0.0' ? '1.1.0' : '1.0.0';
        const startRes = await post(`${url}/api/v1/rollouts`, {
          model: 'pump',
          toVersion: target,
          canary: { devices: ['sim-01', 'sim-06'] },
          canaryBakeS: 1,
          phases: [{ percent: 100, bakeS: 0 }],
          deviceTimeoutS: 20,
          analysis: { minWindows: 2, maxPredictionMixJs: 1 },
          reason: 'across a restart',
        });
        assert.equal(startRes.status, 201, JSON.stringify(startRes.body));
        const id = (startRes.body.rollout as { id: string }).id;
        // sim-01 answers (a device killed mid-install would lose the command: commands are not retained).
        await waitFor(
          'sim-01 committed while sim-06 is still installing',
          async () => {
            const ro = await rollout(url, id);
            return ro.devices.find((d) => d.deviceId === 'sim-01')?.state === 'committed';
          },
          { timeoutMs: 30_000, intervalMs: 100 },
        );
        assert.equal((await rollout(url, id)).state, 'running');

        col.proc.child.kill('SIGTERM');
        assert.equal(await col.proc.exit, 0, col.proc.err.slice(-800));
        await stop(sim);

        const httpPort = new URL(url).port;
        col = await startCollector(collectorArgs(httpPort, '0'));
        procs.push(col.proc);
        assert.equal(col.url, url);
        const again = await rollout(url, id);
        assert.ok(['running', 'completed'].includes(again.state), again.state);
        assert.ok(again.events.some((e) => e.kind === 'started'));

        // The simulator keeps no installed model across its own restart (an agent would): it comes back
        // with the target's bundle, as the devices that committed it would.
        sim = background(process.execPath, simArgs(col.brokerPort, target === '1.0.0' ? 'm1' : 'm2'));
        procs.push(sim);
        await waitFor(
          () => `${id} completed after the restart`,
          async () => {
            if (sim.child.exitCode !== null) throw new Error(`sim exited: ${sim.err.slice(-600)}`);
            const ro = await rollout(url, id);
            if (['rolled_back', 'aborted', 'paused'].includes(ro.state))
              throw new Error(JSON.stringify(ro.events));
            return ro.state === 'completed';
          },
          { timeoutMs: 120_000, intervalMs: 500 },
        );
        const ro = await rollout(url, id);
        assert.equal(ro.production?.moved, true);
        assert.equal(ro.devices.find((d) => d.deviceId === 'sim-06')?.state, 'timed_out');
        assert.ok(retained.length > 0);
      },
    );
  },
);
