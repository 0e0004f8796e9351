// A rollout test bench: a real registry (openRegistry over real SQLite and blobs, real signed bundles
// certified in onnxruntime), a real SQLite loop database, a manual clock, and a simulated fleet that answers
// model commands as docs/agent-models.md says an agent does (deploySeq guard with DOWNGRADE, install →
// COMMITTED or ROLLED_BACK by its health window, rollback → last known good, an install of the model
// already serving commits at once) and sends telemetry windows of the model it serves.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeMessage } from '../../shared/mqtt/codec.ts';
import type { ModelCommandPayload, ModelRef, ModelStateName } from '../../shared/mqtt/schemas.ts';
import { ManualClock } from '../../shared/platform/clock.ts';
import { MemoryLogger } from '../../shared/platform/logger.ts';
import { loadOnnxSession } from '../../shared/platform/onnx.ts';
import { openSqliteDatabase, type SqliteDatabase } from '../../shared/platform/sqlite.ts';
import { generateSigningKeyPair } from '../../shared/bundle/signing.ts';
import { openRegistry, type Registry } from '../../collector/registry/registry.ts';
import { createRolloutController } from '../../collector/rollout/controller.ts';
import type { RolloutController } from '../../collector/rollout/types.ts';
import type {
  DeviceRecord,
  IncomingMessage,
  TelemetryStore,
  WindowRecord,
} from '../../collector/storage/types.ts';
import { archiveOf, makeBundle } from './registry-fixture.ts';

export const MODEL = 'pump-condition';
export const WINDOW_MS = 1000;

export type Behaviour = 'ok' | 'rollback' | 'offline' | 'slow';

export interface SimDevice {
  readonly id: string;
  behaviour: Behaviour;
  active: ModelRef | null;
  lastKnownGood: ModelRef | null;
  lastDeploySeq: number;
  /** (fromMs, model) changes of the serving model, for telemetry. */
  readonly timeline: { fromMs: number; model: ModelRef | null }[];
  readonly commands: ModelCommandPayload[];
}

export interface Bench {
  readonly dir: string;
  readonly registry: Registry;
  readonly clock: ManualClock;
  readonly logger: MemoryLogger;
  readonly devices: Map<string, SimDevice>;
  readonly published: { topic: string; command: ModelCommandPayload }[];
  db: SqliteDatabase;
  controller: RolloutController;
  /** Delivers queued device answers to the controller (as ingest's onWritten would). */
  deliver(): Promise<void>;
  /** Moves the clock and ticks. */
  advance(ms: number): void;
  /** A fresh controller on the same database file (a collector restart). */
  restart(): void;
  /** A status message; `reason` defaults to 'reconnect' (online) or 'lwt' (offline). */
  status(
    id: string,
    state: 'online' | 'offline',
    reason?: 'startup' | 'reconnect' | 'lwt' | 'shutdown',
  ): void;
  modelOf(id: string): string | null;
}

let msgSeq = 0;

export async function startBench(
  t: { after(fn: () => unknown): void },
  deviceIds: readonly string[],
  options: { publishFails?: (deviceId: string) => boolean } = {},
): Promise<Bench> {
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-rollout-'));
  const key = generateSigningKeyPair();
  const registry = openRegistry({
    dataDir: join(dir, 'registry'),
    trustedKeys: [key.publicKeyPem],
    loadModel: (bytes) => loadOnnxSession(bytes),
  });
  for (const version of ['1.0.0', '1.1.0']) {
    const r = await registry.push(MODEL, archiveOf(await makeBundle(key, { version })), 'ci');
    if (!r.ok) throw new Error(r.message);
  }
  const moved = registry.moveAlias({
    model: MODEL,
    alias: 'production',
    version: '1.0.0',
    reason: 'seed',
    actor: 'ci',
  });
  if (!moved.ok) throw new Error(moved.message);
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const logger = new MemoryLogger();
  const startMs = clock.nowMs() - 3_600_000;
  const devices = new Map<string, SimDevice>();
  for (const id of deviceIds) {
    const m = { name: MODEL, version: '1.0.0' };
    devices.set(id, {
      id,
      behaviour: 'ok',
      active: m,
      lastKnownGood: null,
      lastDeploySeq: 0,
      timeline: [{ fromMs: startMs, model: m }],
      commands: [],
    });
  }
  const queue: IncomingMessage[] = [];
  const published: { topic: string; command: ModelCommandPayload }[] = [];

  const state = (
    d: SimDevice,
    s: ModelStateName,
    deploySeq: number,
    target: ModelRef | null,
    code: string | null,
    reason: string,
  ): void => {
    queue.push({
      receivedMs: clock.nowMs(),
      message: {
        kind: 'modelState',
        deviceId: d.id,
        payload: {
          v: 1,
          deviceId: d.id,
          runId: 7,
          msgSeq: ++msgSeq,
          tsMs: clock.nowMs(),
          state: s,
          deploySeq,
          target,
          active: d.active,
          reason,
          code,
        },
      },
    });
  };
  const serve = (d: SimDevice, m: ModelRef | null): void => {
    d.active = m;
    d.timeline.push({ fromMs: clock.nowMs(), model: m });
  };

  function answer(d: SimDevice, c: ModelCommandPayload): void {
    d.commands.push(c);
    if (d.behaviour === 'offline') return;
    if (c.deploySeq <= d.lastDeploySeq) {
      state(
        d,
        'FAILED',
        c.deploySeq,
        c.action === 'install' ? c.model : null,
        'EDGELOOP_ERR_MODEL_DOWNGRADE',
        `deploySeq ${c.deploySeq} is not greater than ${d.lastDeploySeq}, the last one applied; refused`,
      );
      return;
    }
    d.lastDeploySeq = c.deploySeq;
    if (c.action === 'rollback') {
      const back = d.lastKnownGood;
      serve(d, back);
      state(d, 'ACTIVATING', c.deploySeq, back, null, 'rolling back');
      state(d, 'ROLLED_BACK', c.deploySeq, null, null, `rolled back: ${c.reason}`);
      return;
    }
    if (d.active?.version === c.model.version) {
      state(d, 'COMMITTED', c.deploySeq, c.model, null, 'already serving');
      return;
    }
    state(d, 'DOWNLOADING', c.deploySeq, c.model, null, 'downloading');
    state(d, 'HEALTH_CHECK', c.deploySeq, c.model, null, 'health window');
    if (d.behaviour === 'rollback') {
      state(
        d,
        'ROLLED_BACK',
        c.deploySeq,
        c.model,
        'EDGELOOP_ERR_MODEL_HEALTH_ERRORS',
        'health window failed',
      );
      return;
    }
    d.lastKnownGood = d.active;
    serve(d, c.model);
    state(d, 'COMMITTED', c.deploySeq, c.model, null, 'committed');
  }

  const telemetry = {
    devices(): DeviceRecord[] {
      return [...devices.values()].map((d) => ({
        deviceId: d.id,
        firstSeenMs: startMs,
        lastSeenMs: clock.nowMs(),
        lastStatus: null,
        bootId: 1,
        runId: 7,
        model: d.active,
        firmwareVersion: null,
        agentVersion: '1.0.0',
      }));
    },
    windows(range: { deviceId: string; fromMs: number; toMs: number }): WindowRecord[] {
      const d = devices.get(range.deviceId);
      if (d === undefined || d.behaviour === 'offline') return [];
      const out: WindowRecord[] = [];
      const from = Math.ceil(Math.max(range.fromMs, startMs) / WINDOW_MS) * WINDOW_MS;
      const to = Math.min(range.toMs, clock.nowMs() + 1);
      let seg = 0;
      for (let ts = from; ts < to; ts += WINDOW_MS) {
        while (seg + 1 < d.timeline.length && (d.timeline[seg + 1]?.fromMs ?? Infinity) <= ts) seg++;
        const model = d.timeline[seg]?.model ?? null;
        const slow = d.behaviour === 'slow' && model?.version === '1.1.0';
        out.push({
          deviceId: d.id,
          runId: 7,
          msgSeq: ts,
          tsMs: ts,
          receivedMs: ts,
          bootId: 1,
          windowIndex: ts / WINDOW_MS,
          startUs: 0,
          endUs: 0,
          featurePipeline: null,
          featureNames: ['f0'],
          values: Float32Array.of(0),
          model,
          prediction:
            model === null
              ? null
              : {
                  label: 'normal',
                  probabilities: { normal: 0.9, imbalance: 0.1 },
                  latencyMs: slow ? 40 : 2,
                },
          integrityStatus: 'good',
          integrityFlags: [],
          counters: {
            framesDecoded: 0,
            framesInvalid: 0,
            samples: 0,
            gaps: 0,
            samplesMissing: 0,
            windows: 0,
          },
        });
      }
      return out;
    },
  } as unknown as TelemetryStore;

  const dbPath = join(dir, 'loop.sqlite');
  const make = (db: SqliteDatabase): RolloutController =>
    createRolloutController({
      db,
      registry,
      store: telemetry,
      publish(topic, payload) {
        const decoded = decodeMessage(topic, payload);
        if (!decoded.ok || decoded.value.kind !== 'modelCommand') throw new Error(`bad command on ${topic}`);
        const d = devices.get(decoded.value.deviceId);
        published.push({ topic, command: decoded.value.payload });
        if (options.publishFails?.(decoded.value.deviceId) === true)
          return Promise.reject(new Error('broker down'));
        if (d !== undefined) answer(d, decoded.value.payload);
        return Promise.resolve();
      },
      bundleUrl: (m, v) => `http://127.0.0.1:1/api/v1/models/${m}/versions/${v}/bundle`,
      reference: () => undefined,
      clock,
      logger,
    });
  const bench: Bench = {
    dir,
    registry,
    clock,
    logger,
    devices,
    published,
    db: openSqliteDatabase(dbPath),
    controller: undefined as unknown as RolloutController,
    async deliver() {
      await new Promise((r) => setImmediate(r));
      while (queue.length > 0) bench.controller.observe(queue.splice(0));
    },
    advance(ms) {
      clock.advance(ms);
      bench.controller.tick(clock.nowMs());
    },
    restart() {
      bench.controller.close();
      bench.db.close();
      bench.db = openSqliteDatabase(dbPath);
      bench.controller = make(bench.db);
    },
    status(id, s, reason) {
      bench.controller.observe([
        {
          receivedMs: clock.nowMs(),
          message: {
            kind: 'status',
            deviceId: id,
            payload: {
              v: 1,
              deviceId: id,
              runId: 7,
              msgSeq: ++msgSeq,
              tsMs: clock.nowMs(),
              state: s,
              reason: reason ?? (s === 'online' ? 'reconnect' : 'lwt'),
              model: devices.get(id)?.active ?? null,
              firmwareVersion: null,
              agentVersion: '1.0.0',
              bootId: 1,
            },
          },
        },
      ]);
    },
    modelOf(id) {
      return devices.get(id)?.active?.version ?? null;
    },
  };
  bench.controller = make(bench.db);
  t.after(() => {
    bench.controller.close();
    bench.db.close();
    registry.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return bench;
}

export const fleet = (n: number): string[] =>
  Array.from({ length: n }, (_, i) => `dev-${String(i + 1).padStart(2, '0')}`);
