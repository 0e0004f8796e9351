// `edgeloop sim --fleet <n>` (docs/firmware-sim.md §Fleet mode): n simulated devices in one process, each
// with its own board, seed, scenario, message sequence and MQTT connection, publishing what an agent with
// no model would publish, or with `model`, what an agent serving that model would publish. Device time advances one window at a time for all devices; real time by default,
// faster with `speed`. The MQTT connections come in through `connect` (the adapter in adapters/mqtt.ts in
// production, the same adapter against an embedded broker in tests), so this file does no I/O itself.

import { EdgeloopError, fail, ok, type Failure, type Result } from '../shared/errors.ts';
import { createFeaturePipeline } from '../shared/features/pipeline.ts';
import { deriveSeed } from '../shared/random.ts';
import { FleetDevice, type FleetMessage } from './fleet-device.ts';
import type { FleetModel } from './fleet-model.ts';
import { startUpdaters, type FleetUpdatesOptions, type FleetUpdateCounts } from './fleet-commands.ts';
import type { Scenario } from './scenario.ts';

/** One device's broker connection (structurally adapters/mqtt.ts FleetMqttLink). */
export interface FleetLink {
  publish(m: FleetMessage): Promise<Result<void>>;
  /** force: drop the connection without waiting for unacknowledged publishes. */
  close(force?: boolean): Promise<void>;
  /** Subscribes to a topic (QoS 1); needed for model commands (FleetOptions.updates). */
  subscribe?(topic: string, listener: (payload: Uint8Array) => void): Promise<Result<void>>;
}

export type FleetConnect = (deviceId: string, will: FleetMessage) => Promise<Result<FleetLink>>;

export type { FleetBundleGet, FleetUpdateCounts, FleetUpdatesOptions } from './fleet-commands.ts';

export interface FleetOptions {
  readonly devices: number;
  /** Device id prefix; ids are prefix + 1-based index zero-padded to the width of n (at least 2). */
  readonly prefix: string;
  /** The scenario of each device, by device id (fleetDeviceIds order). */
  readonly scenarioOf: (deviceId: string, index: number) => Scenario;
  readonly seed: number;
  /** Device seconds per wall second, or 'max'. */
  readonly speed: number | 'max';
  /** Device time to simulate, seconds. */
  readonly durationS: number;
  /** Window length, ms. Default 1000. */
  readonly windowMs?: number;
  /** Replay mode (fleet-device.ts): compute this many windows per device, then replay them. 0 = off. */
  readonly replayWindows?: number;
  /** QoS 1 publishes awaiting PUBACK across the fleet, at most. Default 1000. */
  readonly maxInFlight?: number;
  /** At the end, wait this long for outstanding PUBACKs before counting them as errors, ms. Default 10,000. */
  readonly drainTimeoutMs?: number;
  /** Connections opened at once. Default 50. */
  readonly connectConcurrency?: number;
  readonly connect: FleetConnect;
  /** One loaded model for every device (adapters/fleet-bundle.ts loadFleetModel). Default: none. */
  readonly model?: FleetModel;
  /** Answer model commands (docs/firmware-sim.md §Model commands). Default: not subscribed. */
  readonly updates?: FleetUpdatesOptions;
  readonly nowMs: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly signal?: AbortSignal;
  /** Called at most once per wall second while running. */
  readonly onProgress?: (p: FleetProgress) => void;
}

export interface FleetCounts {
  readonly devices: number;
  readonly windows: number;
  /** Messages handed to MQTT (telemetry and status). */
  readonly messages: number;
  readonly acked: number;
  /** Publishes that failed (not acknowledged) plus payloads the builder refused. */
  readonly errors: number;
  /** Windows published without a prediction because the model could not run on them (0 without a model). */
  readonly inferenceFailures: number;
}

export interface FleetProgress extends FleetCounts {
  readonly deviceTimeS: number;
  readonly wallS: number;
  readonly inFlight: number;
  /** How far behind real time × speed the run is, s (0 when keeping up). */
  readonly behindS: number;
}

export interface FleetSummary extends FleetCounts {
  readonly deviceTimeS: number;
  readonly wallMs: number;
  /** The largest lag behind the requested pace, s: above a window length, the fleet was too big. */
  readonly maxBehindS: number;
  readonly aborted: boolean;
  /** With FleetOptions.updates: how the model commands ended. */
  readonly updates?: FleetUpdateCounts;
}

/** Device ids: prefix + zero-padded 1-based index. */
export function fleetDeviceIds(n: number, prefix: string): string[] {
  const width = Math.max(2, String(n).length);
  return Array.from({ length: n }, (_, i) => `${prefix}${String(i + 1).padStart(width, '0')}`);
}

/** Runs the fleet to the end of durationS (or the abort signal); fails only if a device cannot connect. */
export async function runFleet(o: FleetOptions): Promise<Result<FleetSummary>> {
  if (!Number.isInteger(o.devices) || o.devices < 1)
    throw new EdgeloopError('EDGELOOP_ERR_CONFIG_INVALID', `fleet size ${o.devices}`);
  const windowMs = o.windowMs ?? 1000;
  const maxInFlight = o.maxInFlight ?? 1000;
  // The default pipeline: for every window without a model, and for a window the model fails on (as the
  // agent's fallback); the model computes its own vector with the bundle's pipeline.
  const pipeline = createFeaturePipeline();
  const ids = fleetDeviceIds(o.devices, o.prefix);
  const devices = ids.map(
    (deviceId, i) =>
      new FleetDevice({
        deviceId,
        scenario: o.scenarioOf(deviceId, i),
        seed: deriveSeed(o.seed, 'fleet', deviceId),
        // Deterministic, so one seed gives the same messages: a re-run is deduplicated by a collector.
        runId: deriveSeed(o.seed, 'fleet-run', deviceId),
        pipeline,
        windowMs,
        nowMs: o.nowMs,
        replayWindows: o.replayWindows ?? 0,
        ...(o.model === undefined ? {} : { model: o.model }),
      }),
  );

  const counts = { windows: 0, messages: 0, acked: 0, errors: 0, inferenceFailures: 0 };
  let inFlight = 0;
  let slotFree: (() => void) | undefined;
  const send = async (link: FleetLink, m: FleetMessage): Promise<void> => {
    // Bounded in flight: wait for a PUBACK before handing MQTT.js more (its queue is unbounded).
    while (inFlight >= maxInFlight && o.signal?.aborted !== true) await slot();
    inFlight++;
    counts.messages++;
    void link.publish(m).then((r) => {
      inFlight--;
      if (r.ok) counts.acked++;
      else counts.errors++;
      const f = slotFree;
      slotFree = undefined;
      f?.();
    });
  };
  // Woken by a PUBACK, or after 100 ms so an abort or the drain deadline is noticed with a dead broker.
  const slot = (): Promise<unknown> => Promise.race([new Promise<void>((r) => (slotFree = r)), o.sleep(100)]);
  /** Waits for outstanding PUBACKs up to the deadline; returns how many never came. */
  const drain = async (): Promise<number> => {
    const deadline = o.nowMs() + (o.drainTimeoutMs ?? 10_000);
    while (inFlight > 0 && o.nowMs() < deadline) await slot();
    return inFlight;
  };

  const links: FleetLink[] = [];
  const closeAll = async (force = false): Promise<void> => {
    await Promise.all(links.map((l) => l.close(force)));
  };
  const concurrency = o.connectConcurrency ?? 50;
  for (let i = 0; i < devices.length; i += concurrency) {
    const batch = devices.slice(i, i + concurrency);
    const rs = await Promise.all(batch.map((d) => o.connect(d.deviceId, d.will())));
    for (const r of rs) if (r.ok) links.push(r.value);
    const bad = rs.find((r): r is Failure => !r.ok);
    if (bad !== undefined) {
      await closeAll();
      return fail(bad.code, bad.message);
    }
  }

  let startMs = o.nowMs();
  const lastEndUs = o.durationS * 1e6;
  let maxBehindS = 0;
  let lastProgressMs = startMs;
  let deviceUs = 0;
  const progress = (force: boolean): void => {
    const now = o.nowMs();
    if (!force && now - lastProgressMs < 1000) return;
    lastProgressMs = now;
    // The final line follows the unpaced tail (fleet.ts end): no pace to be behind of.
    const behindS =
      o.speed === 'max' || force ? 0 : Math.max(0, (now - startMs) / 1000 - deviceUs / 1e6 / o.speed);
    o.onProgress?.({
      devices: devices.length,
      ...counts,
      deviceTimeS: deviceUs / 1e6,
      wallS: (now - startMs) / 1000,
      inFlight,
      behindS,
    });
  };
  const publishAll = async (untilUs: number): Promise<void> => {
    for (let i = 0; i < devices.length; i++) {
      const d = devices[i] as FleetDevice;
      const link = links[i] as FleetLink;
      const before = d.invalidPayloads;
      const failedBefore = d.inferenceFailures;
      const msgs = await d.advanceAsync(untilUs, lastEndUs);
      counts.errors += d.invalidPayloads - before;
      counts.inferenceFailures += d.inferenceFailures - failedBefore;
      for (const m of msgs) {
        counts.windows++;
        await send(link, m);
      }
    }
  };

  for (let i = 0; i < devices.length; i++)
    await send(links[i] as FleetLink, (devices[i] as FleetDevice).online());
  const updaters =
    o.updates === undefined ? [] : await startUpdaters(o.updates, devices, links, send, o.model);
  if (!Array.isArray(updaters)) {
    await closeAll();
    return updaters;
  }
  // Pace from here: subscribing hundreds of devices takes a moment that is not simulation time.
  if (o.updates !== undefined) startMs = o.nowMs();
  const stepUs = windowMs * 1000;
  let aborted = false;
  for (let t = stepUs; t <= lastEndUs; t += stepUs) {
    if (o.signal?.aborted === true) {
      aborted = true;
      break;
    }
    let wait = 0;
    if (o.speed !== 'max') {
      wait = startMs + t / 1000 / o.speed - o.nowMs();
      if (wait <= 0) maxBehindS = Math.max(maxBehindS, -wait / 1000);
    }
    // Always yield between windows, so sockets flush and PUBACKs land also when unpaced or behind.
    await o.sleep(Math.max(0, wait));
    await publishAll(t);
    deviceUs = t;
    progress(false);
  }
  // Windows close once their slowest sensor has reported (up to ~2 s of device time after their end):
  // run the boards a little past the end, unpaced, so every window inside the duration is sent.
  if (!aborted) await publishAll(lastEndUs + 2 * stepUs + 2e6);
  // Commands still running end FAILED (closed) before the devices say offline.
  await Promise.all(updaters.map((u) => u.close()));
  for (let i = 0; i < devices.length; i++)
    await send(links[i] as FleetLink, (devices[i] as FleetDevice).offline());
  const unacked = await drain();
  // Publishes still unacknowledged are lost for this run: errors, and the connections are dropped.
  counts.errors += unacked;
  progress(true);
  await closeAll(unacked > 0);
  return ok({
    devices: devices.length,
    ...counts,
    deviceTimeS: deviceUs / 1e6,
    wallMs: o.nowMs() - startMs,
    maxBehindS,
    aborted,
    ...(o.updates === undefined
      ? {}
      : {
          updates: updaters.reduce(
            (a, u) => ({
              committed: a.committed + u.outcomes.committed,
              rolledBack: a.rolledBack + u.outcomes.rolledBack,
              failed: a.failed + u.outcomes.failed,
            }),
            { committed: 0, rolledBack: 0, failed: 0 },
          ),
        }),
  });
}
