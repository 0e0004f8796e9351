// Issue #10 §4 "The loop end to end", with real components only: three firmware-sim boards on real
// pseudo-terminals, three whole agents reading them through the real serialport binding and publishing to
// the collector's embedded aedes broker, the collector with its registry, monitors, update requests,
// retraining (a real child process) and rollout controller. One board's accelerometer drifts (a bias ramp
// on accel.x, the calibration-drift scenario); the collector must raise a drift alert and one update
// request for that device only, retrain on its captured data plus lab data under the estimated conditions,
// pass the gate, roll the candidate out canary first (the drifting device) and then to the fleet, move
// production by compare-and-set, and see the drift alert resolve once the new model serves. The new
// model's lineage must name the request, the captured data and the label sources.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { loadAgentConfig, startAgent } from '../../agent/index.ts';
import { registryCommand } from '../../cli/registry.ts';
import { trainCommand } from '../../cli/train.ts';
import { ptyOutput } from '../../firmware-sim/adapters/pty.ts';
import { runSim } from '../../firmware-sim/run.ts';
import { parseScenario } from '../../firmware-sim/scenario.ts';
import { MemoryLogger } from '../../shared/platform/logger.ts';
import { runCommand } from '../helpers/run-command.ts';
import { waitFor } from '../helpers/wait.ts';
import { startTestCollector } from '../integration/collector-fixture.ts';

const MODEL = 'pump-condition';
const DEVICES = ['pump-a', 'pump-b', 'pump-c'] as const;
const DRIFTING = 'pump-c';
const COLLECTOR = { username: 'collector', password: 'collector-secret-0123' };
const TOKEN = 'loop-e2e-token-0123456789';
const SPEED = 5;
const ONSET_S = 90;
const workerPath = fileURLToPath(new URL('../../cli/retrain-worker.ts', import.meta.url));

const scenarioOf = (deviceId: string): unknown => ({
  name: deviceId === DRIFTING ? 'calibration-drift-loop' : 'steady-loop',
  durationS: 7200,
  deviceId,
  machine: { state: 'normal', load: 0.8 },
  events:
    deviceId === DRIFTING
      ? [{ kind: 'bias_ramp', at: ONSET_S, channel: 'accel.x', delta: 0.15, durationS: 30 }]
      : [],
});

interface Json {
  [k: string]: unknown;
}

test(
  'the loop: calibration drift on one device of three → update request → retraining → gate → canary → fleet → drift resolved',
  { timeout: 580_000 },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'edgeloop-loop-'));
    t.after(() => {
      rmSync(dir, { recursive: true, force: true });
    });
    // The default lab data (6 devices per state × 30 s) with a 4-trial search: a smaller baseline calls a
    // healthy pump at load 0.8 `overheating` now and then, and its class-conditional drift then raises
    // requests for healthy devices (measured: 3 devices per state did). Retraining regenerates the same
    // lab data from the lineage.
    const bundle = join(dir, 'bundle');
    const trained = await runCommand(
      trainCommand,
      [
        '--out',
        bundle,
        '--seed',
        '1',
        '--name',
        MODEL,
        '--version',
        '1.0.0',
        '--devices-per-state',
        '6',
        '--trials',
        '4',
      ],
      {},
      true,
    );
    assert.equal(trained.code, 0, trained.err);
    const pub = `${bundle}.signing.pub`;

    const passwords = Object.fromEntries(DEVICES.map((d) => [d, `${d}-secret-0123456789`]));
    const credentialsFile = join(dir, 'credentials.json');
    writeFileSync(credentialsFile, JSON.stringify({ devices: passwords, collector: COLLECTOR }));
    const fx = await startTestCollector(
      {
        credentialsFile,
        trustedKeys: [pub],
        evaluateIntervalMs: 500,
        driftWindow: 60,
        // 3 s of wall time, 15 s of device time at SPEED 5: a decision still needs a sustained move.
        driftPersistence: 6,
        commissioningS: 60,
        alertMqtt: false,
        autoRollout: true,
        updateFitWindowS: 30,
        updateCaptureS: 1800,
        rolloutCanaryBakeS: 5,
        rolloutBakeS: 10,
        // This test is about the loop, not latency: on a loaded 2-core CI box a canary's p95 moved 4x
        // (15 → 65 ms) with the same workload and rolled a sound model back. The latency check has its own
        // tests (a slowed model fails it: test/integration/rollout-controller.test.ts).
        rolloutMaxLatencyRatio: 1000,
      },
      {
        trustedKeys: [readFileSync(pub, 'utf8')],
        registryTokens: [{ token: TOKEN, actor: 'test' }],
        retrainWorkerPath: workerPath,
      },
    );
    t.after(() => fx.close());
    const http = fx.collector.httpUrl;
    const api = async (path: string, body?: unknown): Promise<Json> => {
      const res = await fetch(`${http}${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const json = (await res.json()) as Json;
      assert.ok(res.ok, `${path}: ${res.status} ${JSON.stringify(json)}`);
      return json;
    };
    const pushed = await runCommand(
      registryCommand,
      ['push', bundle, '--url', http, '--token', TOKEN],
      {},
      true,
    );
    assert.equal(pushed.code, 0, pushed.err);

    // Agents pin the operator's key (the baseline) and the collector's own (what it retrains).
    const signing = fx.collector.signingKey;
    assert.ok(signing !== undefined, 'the collector has a signing key with a registry mounted');
    const collectorPub = join(dir, 'collector-signing.pub');
    writeFileSync(collectorPub, signing.publicKeyPem);

    const stop = new AbortController();
    const sims: Promise<unknown>[] = [];
    const agents: Awaited<ReturnType<typeof startAgent>>[] = [];
    t.after(async () => {
      stop.abort();
      await Promise.allSettled(sims);
      for (const a of agents) await a.close();
    });
    for (const deviceId of DEVICES) {
      const pty = await ptyOutput();
      assert.ok(pty.ok, pty.ok ? '' : pty.message);
      t.after(() => pty.value.close());
      const agent = await startAgent(
        loadAgentConfig(
          {
            serial: pty.value.target,
            deviceId,
            mqtt: `mqtt://127.0.0.1:${String(fx.collector.brokerPort)}`,
            mqttUsername: deviceId,
            mqttPassword: passwords[deviceId],
            dataDir: join(dir, `agent-${deviceId}`),
            trustedKeys: [pub, collectorPub],
            registry: `${http}/api/v1`,
            metricsPort: '0',
            modelHealthWindows: '4',
          },
          {},
        ),
        { log: new MemoryLogger(), mqttReconnectPeriodMs: 100 },
      );
      agents.push(agent);
      await waitFor(`${deviceId} connected`, () => agent.services?.link.connected === true, {
        timeoutMs: 20_000,
      });
      const parsed = parseScenario(scenarioOf(deviceId), deviceId);
      assert.ok(parsed.ok, parsed.ok ? '' : parsed.message);
      sims.push(
        runSim({
          scenario: parsed.value,
          seed: 11 + agents.length,
          speed: SPEED,
          out: pty.value,
          deviceId,
          signal: stop.signal,
        }),
      );
    }
    const windowsOf = (deviceId: string): number =>
      fx.collector.store.windows({ deviceId, fromMs: 0, toMs: Date.now() + 3_600_000, limit: 100_000 })
        .length;
    await waitFor('telemetry from every device', () => DEVICES.every((d) => windowsOf(d) >= 10), {
      timeoutMs: 60_000,
    });

    // The first install is a rollout too: the baseline to the whole fleet; completing it makes it production.
    const first = (await api('/api/v1/rollouts', {
      model: MODEL,
      toVersion: '1.0.0',
      devices: DEVICES,
      canary: { devices: ['pump-a'] },
      canaryBakeS: 0,
      phases: [{ percent: 100, bakeS: 0 }],
    })) as { rollout: { id: string } };
    const rolloutState = async (id: string): Promise<Json> =>
      ((await api(`/api/v1/rollouts/${id}`)) as { rollout: Json }).rollout;
    await waitFor(
      'the baseline rollout completed',
      async () => {
        const r = await rolloutState(first.rollout.id);
        assert.ok(!['rolled_back', 'aborted', 'paused'].includes(String(r.state)), JSON.stringify(r));
        return r.state === 'completed';
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    const aliases = async (): Promise<Record<string, string>> => {
      const a = (await api(`/api/v1/models/${MODEL}/aliases`)) as {
        aliases: { alias: string; version: string }[];
      };
      return Object.fromEntries(a.aliases.map((x) => [x.alias, x.version]));
    };
    assert.equal((await aliases()).production, '1.0.0');

    // The maintenance log: every pump ran normally all along (operator labels for the captured data).
    const fromMs = Date.now() - 3_600_000;
    for (const deviceId of DEVICES)
      await api('/api/v1/labels', { deviceId, state: 'normal', fromMs, toMs: fromMs + 6 * 3_600_000 });

    // Drift on pump-c → one update request naming pump-c only → a retraining job.
    let requestId = '';
    const alertsNow = (): string =>
      JSON.stringify(
        fx.collector.store
          .alerts({ limit: 200 })
          .filter((a) => a.severity !== 'info')
          .map((a) => ({
            device: a.deviceId,
            kind: a.kind,
            channel: a.channel,
            state: a.state,
            message: a.message,
            cause: (a.details as { cause?: string } | undefined)?.cause,
          })),
      ).slice(0, 8000);
    let driftNow = '';
    await waitFor(
      () =>
        `an update request for the drifting device; alerts: ${alertsNow()}\n${DRIFTING} drift: ${driftNow}`,
      async () => {
        driftNow = JSON.stringify(
          ((await api(`/api/v1/devices/${DRIFTING}`)) as { drift?: unknown }).drift,
        ).slice(0, 8000);
        const list = (await api('/api/v1/update-requests')) as { updateRequests: Json[] };
        const r = list.updateRequests[0];
        if (r === undefined) return false;
        requestId = String(r.id);
        return true;
      },
      { timeoutMs: 240_000, intervalMs: 1000 },
    );
    const request = async (): Promise<Json> =>
      ((await api(`/api/v1/update-requests/${requestId}`)) as { updateRequest: Json }).updateRequest;
    const devicesOf = (r: Json): string[] => (r.devices as { deviceId: string }[]).map((d) => d.deviceId);
    const raised = await request();
    assert.deepEqual(devicesOf(raised), [DRIFTING]);
    // Raised by the bias on accel.x, not by anything before it.
    assert.match(JSON.stringify(raised.evidence), /accel\.x\.mean/, JSON.stringify(raised.evidence));

    await waitFor(
      'the update request rolled a retrained model out to the fleet',
      async () => {
        const r = await request();
        if (
          ['candidate_refused', 'rollout_failed', 'blocked', 'dismissed', 'failed'].includes(String(r.state))
        ) {
          const rollout = typeof r.rolloutId === 'string' ? await rolloutState(r.rolloutId) : null;
          assert.fail(
            `request ${String(r.state)}: ${JSON.stringify(r)}\nrollout: ${JSON.stringify(rollout?.analyses ?? null)}\n${JSON.stringify(rollout?.devices ?? null)}`,
          );
        }
        return r.state === 'resolved';
      },
      { timeoutMs: 300_000, intervalMs: 1000 },
    );
    const done = await request();
    assert.deepEqual(
      devicesOf(done),
      [DRIFTING],
      `the steady devices never joined the request: ${JSON.stringify(done.evidence).slice(0, 6000)}`,
    );
    const jobId = String(done.trainingJobId);
    const job = ((await api(`/api/v1/training-jobs/${jobId}`)) as { job: Json }).job;
    assert.equal(job.state, 'succeeded', JSON.stringify(job));
    const candidate = String(job.candidateVersion);
    assert.equal((await aliases()).production, candidate);

    // Canary first: the drifting device's install committed before any other device got the command.
    const rollout = await rolloutState(String(done.rolloutId));
    assert.equal(rollout.state, 'completed', JSON.stringify(rollout));
    // --rollout-max-latency-ratio reached the plan the update request proposed.
    assert.equal(
      (rollout.plan as { analysis: { maxLatencyP95Ratio: number } }).analysis.maxLatencyP95Ratio,
      1000,
    );
    // The margins of each phase's checks, for the run's log: a flaky verdict shows here first.
    for (const a of rollout.analyses as {
      phase: number;
      verdict: string;
      checks: { name: string; detail: string }[];
    }[])
      t.diagnostic(
        `phase ${a.phase} ${a.verdict}: ${a.checks.map((c) => `${c.name} ${c.detail}`).join('; ')}`,
      );
    const phases = rollout.phases as { devices: string[]; verdict: string | null }[];
    assert.deepEqual(phases[0]?.devices, [DRIFTING]);
    assert.equal(phases[0].verdict, 'pass', JSON.stringify(phases[0]));
    for (const deviceId of DEVICES)
      assert.equal(fx.collector.store.device(deviceId)?.model?.version, candidate, deviceId);

    // Lineage names the request, the captured data (device, range, digest) and the label sources.
    const lineage = (await api(`/api/v1/models/${MODEL}/versions/${candidate}/lineage`)) as {
      retraining: {
        updateRequest: string;
        trainingJob: string;
        captured: { deviceId: string; fromMs: number; toMs: number; windows: number; digest: string }[];
        labelSources: { source: string; partition: string; rows: number; digest: string }[];
      } | null;
    };
    const re = lineage.retraining;
    assert.ok(re !== null, 'the retrained version has retraining lineage');
    assert.equal(re.updateRequest, requestId);
    assert.equal(re.trainingJob, jobId);
    assert.deepEqual(
      re.captured.map((c) => c.deviceId),
      [DRIFTING],
    );
    for (const c of re.captured) {
      assert.ok(c.windows > 0 && c.fromMs < c.toMs, JSON.stringify(c));
      assert.match(c.digest, /^(sha256:)?[0-9a-f]{64}$/);
    }
    const sources = new Set(re.labelSources.map((s) => s.source));
    for (const source of ['lab', 'operator', 'lab_conditions'])
      assert.ok(sources.has(source), `label source ${source}: ${JSON.stringify(re.labelSources)}`);
    assert.ok(
      re.labelSources.some((s) => s.source === 'operator' && s.partition === 'test' && s.rows > 0),
      'recent (operator-labelled captured) rows held out for the test partition',
    );

    // The drift alert on pump-c resolves once the new model serves; the others never had one.
    await waitFor(
      () =>
        `the drift alert of the drifting device resolved: ${JSON.stringify(
          fx.collector.store
            .alerts({ deviceId: DRIFTING })
            .filter((a) => a.kind === 'drift' && a.state !== 'resolved')
            .map((a) => ({ channel: a.channel, message: a.message, details: a.details })),
        ).slice(0, 6000)}`,
      () => {
        const live = fx.collector.store
          .alerts({ deviceId: DRIFTING })
          .filter((a) => a.kind === 'drift' && a.state !== 'resolved');
        return live.length === 0;
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    const drifted = fx.collector.store.alerts({ deviceId: DRIFTING }).filter((a) => a.kind === 'drift');
    assert.ok(drifted.length > 0, 'pump-c had a drift alert');
    // The steady pumps never joined a request (asserted above) and no rollout was about them alone. Their
    // drift alerts are not asserted: against the lab reference a healthy pump's magnetometer level (its
    // mounting) can sit off the few lab devices of its class (a known limitation of the monitor, see
    // docs/update-requests.md); the device-change rule is what keeps that from becoming a model update.
    const requests = (await api('/api/v1/update-requests')) as { updateRequests: Json[] };
    for (const r of requests.updateRequests)
      assert.deepEqual(devicesOf(r), [DRIFTING], `every request is about ${DRIFTING}: ${JSON.stringify(r)}`);
  },
);
