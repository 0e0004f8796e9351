// One simulated device of `edgeloop sim --fleet` (docs/firmware-sim.md §Fleet mode): a simulated board's
// wire bytes go through the same shared decoder, loss accounting, windowing and integrity checks the agent
// runs, the shared feature pipeline computes each window's vector, and the shared telemetry builder makes
// the payload, so what it publishes is what an agent with no model would publish for that board, or,
// given the fleet's model (fleet-model.ts), what an agent serving that model would publish.
// Pull-based with no I/O and no clock of its own: `advance(untilUs)` (`advanceAsync` with a model, whose
// session runs are asynchronous) returns the messages for device time up to untilUs; fleet.ts paces and
// publishes them.

import { EdgeloopError } from '../shared/errors.ts';
import type { FeaturePipeline, FeaturePipelineRef } from '../shared/features/pipeline.ts';
import { DeviceStream } from '../shared/ingest/device-stream.ts';
import { encodeJsonPayload } from '../shared/mqtt/codec.ts';
import {
  PAYLOAD_VERSION,
  type ModelStatePayload,
  type StatusPayload,
  type TelemetryPayload,
} from '../shared/mqtt/schemas.ts';
import { buildTelemetryPayload, type TelemetryCounters } from '../shared/mqtt/telemetry.ts';
import { deviceTopics } from '../shared/mqtt/topics.ts';
import type { Window } from '../shared/samples.ts';
import type { SensorDescriptor } from '../shared/sensors.ts';
import { FrameDecoder } from '../shared/serial/decoder.ts';
import { Windower } from '../shared/windowing/windower.ts';
import { Board, FIRMWARE_VERSION } from './board.ts';
import type { FleetModel, FleetPrediction } from './fleet-model.ts';
import type { Scenario } from './scenario.ts';

/** What the status payload names as the sending software (an agent sends its own version). */
const utf8 = new TextEncoder();

export const FLEET_AGENT_VERSION = 'edgeloop-sim-fleet 0.1.0';

/** One MQTT message, ready to publish. */
export interface FleetMessage {
  readonly topic: string;
  readonly payload: Uint8Array;
  readonly qos: 1;
  readonly retain: boolean;
}

export interface FleetDeviceOptions {
  readonly deviceId: string;
  readonly scenario: Scenario;
  /** This device's own seed (derived from the fleet seed with deriveSeed). */
  readonly seed: number;
  /** u32 run id of this device's message sequence. */
  readonly runId: number;
  readonly pipeline: FeaturePipeline;
  /** Window length and hop, ms. Default 1000, as the agent. */
  readonly windowMs?: number;
  /** Wall clock for tsMs, ms since the epoch (the only non-deterministic field). */
  readonly nowMs: () => number;
  /**
   * Replay mode: compute only the first `replayWindows` windows, then send them again in a ring (new
   * window index and times, msgSeq, tsMs and growing counters), without running the board. 0 = off.
   */
  readonly replayWindows?: number;
  /**
   * The model every device of the fleet shares (fleet-model.ts). Given, each window is predicted as the
   * agent does and published with `prediction` and `model`; use advanceAsync then. Default: none.
   */
  readonly model?: FleetModel;
}

/** Replay state: the computed payloads, and the counters and timing at the switch. */
interface Ring {
  readonly payloads: readonly TelemetryPayload[];
  readonly counters: TelemetryCounters;
  readonly windows: number;
  /** How long after its end the last computed window was sent, µs (kept for replayed windows). */
  readonly lagUs: number;
  readonly last: TelemetryPayload;
  /** Windows replayed so far. */
  replayed: number;
  /** Each recorded window's input vector and the pipeline that computed it, to predict it again after a model change. */
  readonly vectors: readonly RecordedVector[];
}

interface RecordedVector {
  readonly pipeline: FeaturePipelineRef;
  readonly values: Float32Array;
}

/** The body of a modelState payload (fleet-updates.ts reports it; the device adds the envelope). */
export type ModelStateBody = Omit<ModelStatePayload, 'v' | 'deviceId' | 'runId' | 'msgSeq' | 'tsMs'>;

const samePipeline = (a: FeaturePipelineRef, b: FeaturePipelineRef): boolean =>
  a.id === b.id && a.paramsHash === b.paramsHash;

export class FleetDevice {
  readonly deviceId: string;
  readonly scenarioName: string;
  readonly runId: number;
  readonly #o: FleetDeviceOptions;
  readonly #topics: { readonly telemetry: string; readonly status: string; readonly modelState: string };
  readonly #board: Board;
  readonly #decoder = new FrameDecoder();
  readonly #stream = new DeviceStream();
  #windower: Windower | undefined;
  #sensors: readonly SensorDescriptor[] = [];
  #names: readonly string[] = [];
  #seq = 0;
  #windows = 0;
  #gaps = 0;
  #samplesMissing = 0;
  #bootId: number | null = null;
  #recorded: TelemetryPayload[] = [];
  #vectors: RecordedVector[] = [];
  #lastVector: RecordedVector | undefined;
  #ring: Ring | undefined;
  /** The model serving now: the fleet's --model at start, then whatever model commands installed. */
  #model: FleetModel | undefined;
  /** Payloads the shared builder refused (a bug: never published). */
  invalidPayloads = 0;
  /** Windows the model could not predict (published without a prediction, as the agent does). */
  inferenceFailures = 0;

  constructor(options: FleetDeviceOptions) {
    const t = deviceTopics(options.deviceId);
    if (!t.ok) throw new EdgeloopError('EDGELOOP_ERR_CONFIG_INVALID', t.message);
    this.#topics = { telemetry: t.value.telemetry, status: t.value.status, modelState: t.value.modelState };
    this.deviceId = options.deviceId;
    this.scenarioName = options.scenario.name;
    this.runId = options.runId;
    this.#o = options;
    this.#model = options.model;
    this.#board = new Board({ scenario: options.scenario, seed: options.seed, deviceId: options.deviceId });
  }

  /** Device time simulated so far, µs. */
  get timeUs(): number {
    return this.#board.timeUs;
  }

  /** msgSeq of the last message built (0 before the first). */
  get lastSeq(): number {
    return this.#seq;
  }

  /** The retained last will: offline, reason lwt, msgSeq 0 (docs/mqtt.md §status). */
  will(): FleetMessage {
    return this.#status('offline', 'lwt', 0);
  }

  online(): FleetMessage {
    return this.#status('online', 'startup', ++this.#seq);
  }

  offline(): FleetMessage {
    return this.#status('offline', 'shutdown', ++this.#seq);
  }

  /** The retained online status after the serving model changed (docs/mqtt.md §status, reason update). */
  updated(): FleetMessage {
    return this.#status('online', 'update', ++this.#seq);
  }

  /** The model serving now (undefined: none). */
  get model(): FleetModel | undefined {
    return this.#model;
  }

  /** Swaps the serving model between two windows (ACTIVATING, a rollback). */
  setModel(model: FleetModel | undefined): void {
    this.#model = model;
  }

  /** One model-state transition as the retained modelState message, validated (a refusal is a bug). */
  modelState(body: ModelStateBody): FleetMessage {
    const payload: ModelStatePayload = {
      v: PAYLOAD_VERSION,
      deviceId: this.deviceId,
      runId: this.runId,
      msgSeq: ++this.#seq,
      tsMs: Math.floor(this.#o.nowMs()),
      ...body,
    };
    const bytes = encodeJsonPayload('modelState', payload);
    if (!bytes.ok) throw new EdgeloopError(bytes.code, bytes.message);
    return { topic: this.#topics.modelState, payload: bytes.value, qos: 1, retain: true };
  }

  /**
   * Simulates the board up to untilUs of device time; one telemetry message per window closed. Windows
   * ending after lastEndUs (the end of the run) are not sent.
   */
  advance(untilUs: number, lastEndUs = Number.POSITIVE_INFINITY): FleetMessage[] {
    if (this.#ring !== undefined)
      return this.#replay(this.#ring, untilUs, lastEndUs).map((p) => this.#encode('telemetry', p, false));
    const out: FleetMessage[] = [];
    for (const w of this.#closeWindows(untilUs)) {
      if (w.endUs > lastEndUs) continue;
      if (this.#emit(out, this.#telemetry(w, null), w, untilUs)) break;
    }
    return out;
  }

  /**
   * advance() with the model (FleetDeviceOptions.model): each window is predicted before its telemetry
   * is built. Without a model it is advance(). Replayed windows repeat the recorded predictions.
   */
  async advanceAsync(untilUs: number, lastEndUs = Number.POSITIVE_INFINITY): Promise<FleetMessage[]> {
    const model = this.#model;
    if (this.#ring !== undefined) return this.#replayAsync(this.#ring, untilUs, lastEndUs);
    if (model === undefined) return this.advance(untilUs, lastEndUs);
    const out: FleetMessage[] = [];
    for (const w of this.#closeWindows(untilUs)) {
      if (w.endUs > lastEndUs) continue;
      const r = await model.predict(w, this.#sensors);
      if (!r.ok) this.inferenceFailures++;
      if (this.#emit(out, this.#telemetry(w, r.ok ? r.value : null), w, untilUs)) break;
    }
    return out;
  }

  /** Runs the board to untilUs through decoder, stream and windower; the windows that closed. */
  #closeWindows(untilUs: number): Window[] {
    const windows: Window[] = [];
    this.#decoder.push(this.#board.generate(untilUs), (e) => {
      if (!e.ok) return; // counted in decoder.counters (framesInvalid)
      this.#stream.push(e.frame, (s) => {
        if (s.kind === 'hello' && (s.first || s.reboot)) {
          if (this.#windower !== undefined) windows.push(...this.#windower.flush());
          this.#sensors = s.device.sensors;
          this.#names = this.#o.pipeline.featureNames(this.#sensors);
          this.#bootId = s.device.bootId;
          const windowMs = this.#o.windowMs ?? 1000;
          this.#windower = new Windower({
            deviceId: s.device.deviceId,
            bootId: s.device.bootId,
            sensors: this.#sensors,
            windowMs,
            hopMs: windowMs,
          });
        } else if (s.kind === 'block' && this.#windower !== undefined) {
          windows.push(...this.#windower.push(s.block));
        } else if (s.kind === 'sampleGap') {
          this.#gaps++;
          this.#samplesMissing += Math.max(0, s.lost);
        }
      });
    });
    return windows;
  }

  /** Adds a built payload; true when the replay ring just filled (the caller stops computing windows). */
  #emit(out: FleetMessage[], p: TelemetryPayload | null, w: Window, untilUs: number): boolean {
    if (p === null) return false;
    out.push(this.#encode('telemetry', p, false));
    const k = this.#o.replayWindows ?? 0;
    if (k === 0 || this.#recorded.length >= k) return false;
    this.#recorded.push(p);
    if (this.#lastVector !== undefined) this.#vectors.push(this.#lastVector);
    if (this.#recorded.length < k) return false;
    this.#ring = {
      payloads: this.#recorded,
      counters: p.counters,
      windows: this.#windows,
      lagUs: Math.max(0, untilUs - w.endUs),
      last: p,
      replayed: 0,
      vectors: this.#vectors,
    };
    return true; // windows closed after the ring filled are replayed, not sent as computed
  }

  /**
   * Replayed windows with the model serving now: the recorded prediction while it is the recorded model;
   * after a model change, the new model run on the recorded input vector when its pipeline computed that
   * vector, else no prediction (counted in inferenceFailures).
   */
  async #replayAsync(ring: Ring, untilUs: number, lastEndUs: number): Promise<FleetMessage[]> {
    const out: FleetMessage[] = [];
    const model = this.#model;
    for (const p of this.#replay(ring, untilUs, lastEndUs)) {
      const same =
        (model === undefined && p.model === null) ||
        (model !== undefined &&
          p.model?.name === model.model.name &&
          p.model.version === model.model.version);
      if (same) {
        out.push(this.#encode('telemetry', p, false));
        continue;
      }
      const v = ring.vectors[(p.window.index - ring.last.window.index - 1) % ring.payloads.length];
      const r =
        model !== undefined && v !== undefined && samePipeline(v.pipeline, model.pipeline.ref)
          ? await model.predictVector(v.values)
          : undefined;
      if (model !== undefined && r?.ok !== true) this.inferenceFailures++;
      const prediction =
        r?.ok === true
          ? {
              label: r.value.label,
              probabilities: { ...r.value.probabilities },
              latencyMs: r.value.latencyMs,
            }
          : null;
      out.push(
        this.#encode(
          'telemetry',
          { ...p, prediction, model: r?.ok === true ? { ...r.value.model } : null },
          false,
        ),
      );
    }
    return out;
  }

  #replay(ring: Ring, untilUs: number, lastEndUs: number): TelemetryPayload[] {
    const out: TelemetryPayload[] = [];
    const span = ring.last.window.endUs - ring.last.window.startUs;
    for (;;) {
      const m = ring.replayed + 1;
      const startUs = ring.last.window.startUs + m * span;
      const endUs = startUs + span;
      if (endUs + ring.lagUs > untilUs || endUs > lastEndUs) break;
      const src = ring.payloads[(m - 1) % ring.payloads.length] as TelemetryPayload;
      // Totals grow at the rate measured over the computed windows (deterministic, integer).
      const grow = (x: number): number => x + Math.round((x * m) / ring.windows);
      const c = ring.counters;
      this.#windows++;
      const payload: TelemetryPayload = {
        ...src,
        msgSeq: ++this.#seq,
        tsMs: Math.floor(this.#o.nowMs()),
        window: { index: ring.last.window.index + m, startUs, endUs },
        counters: {
          framesDecoded: grow(c.framesDecoded),
          framesInvalid: grow(c.framesInvalid),
          samples: grow(c.samples),
          gaps: grow(c.gaps),
          samplesMissing: grow(c.samplesMissing),
          windows: ring.windows + m,
        },
      };
      ring.replayed = m;
      out.push(payload);
    }
    return out;
  }

  /** The telemetry `counters` block, as the agent's IngestCounterTracker computes it from binary ingest. */
  counters(): TelemetryCounters {
    const st = this.#stream.counters;
    let samples = 0;
    for (const n of Object.values(st.samples)) samples += n;
    return {
      framesDecoded: this.#decoder.counters.frames,
      framesInvalid: this.#decoder.counters.invalidTotal,
      samples,
      gaps: this.#gaps,
      samplesMissing: Math.max(st.samplesLostTotal, this.#samplesMissing),
      windows: this.#windows,
    };
  }

  #telemetry(w: Window, prediction: FleetPrediction | null): TelemetryPayload | null {
    this.#windows++;
    const model = this.#model;
    // As the agent (agent/runtime/telemetry.ts): with a prediction, the vector the model saw under the
    // model pipeline's names; without one, the default pipeline's vector with imputed features as null.
    const features =
      prediction !== null && model !== undefined
        ? {
            pipeline: model.pipeline.id,
            names: model.pipeline.featureNames(this.#sensors),
            values: prediction.features,
          }
        : (() => {
            const v = this.#o.pipeline.computeDetailed(w, this.#sensors);
            return { pipeline: this.#o.pipeline.id, names: this.#names, values: v.values, valid: v.valid };
          })();
    // Kept while recording the replay ring, so a model installed later can predict replayed windows.
    if ((this.#o.replayWindows ?? 0) > this.#recorded.length)
      this.#lastVector = {
        pipeline: prediction !== null && model !== undefined ? model.pipeline.ref : this.#o.pipeline.ref,
        values: features.values,
      };
    const r = buildTelemetryPayload(
      {
        window: w,
        features,
        prediction:
          prediction === null
            ? null
            : {
                label: prediction.label,
                probabilities: prediction.probabilities,
                model: prediction.model,
                latencyMs: prediction.latencyMs,
              },
        counters: this.counters(),
      },
      { deviceId: this.deviceId, runId: this.runId, tsMs: this.#o.nowMs(), nextSeq: () => ++this.#seq },
    );
    if (!r.ok) {
      this.invalidPayloads++;
      return null;
    }
    return r.value;
  }

  #status(state: StatusPayload['state'], reason: StatusPayload['reason'], msgSeq: number): FleetMessage {
    const payload: StatusPayload = {
      v: PAYLOAD_VERSION,
      deviceId: this.deviceId,
      runId: this.runId,
      msgSeq,
      tsMs: Math.floor(this.#o.nowMs()),
      state,
      reason,
      // The serving model, as an agent's status names it (docs/mqtt.md §status).
      model: this.#model === undefined ? null : { ...this.#model.model },
      firmwareVersion: FIRMWARE_VERSION,
      agentVersion: FLEET_AGENT_VERSION,
      bootId: this.#bootId,
    };
    return this.#encode('status', payload, true);
  }

  #encode(
    kind: 'telemetry' | 'status',
    payload: TelemetryPayload | StatusPayload,
    retain: boolean,
  ): FleetMessage {
    const topic = kind === 'telemetry' ? this.#topics.telemetry : this.#topics.status;
    // Telemetry was validated by buildTelemetryPayload already (a second schema pass would cost as much
    // as the serialisation); status is validated here. A refusal is a bug, not an input problem.
    if (kind === 'telemetry') return { topic, payload: utf8.encode(JSON.stringify(payload)), qos: 1, retain };
    const bytes = encodeJsonPayload('status', payload as StatusPayload);
    if (!bytes.ok) throw new EdgeloopError(bytes.code, bytes.message);
    return { topic, payload: bytes.value, qos: 1, retain };
  }
}
