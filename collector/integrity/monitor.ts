// The collector's central integrity monitor (issue #9 §3, docs/integrity.md §Central checks): what only
// the collector can see, per device and channel, as good / suspect / fail. Ingest feeds it every accepted
// message after its commit (observe); the monitor engine evaluates it on a timer (evaluate), and the drift
// monitor asks channelStatus before judging a channel, so a broken sensor never reads as drift. No I/O,
// no clock of its own: time comes from receivedMs and evaluate(nowMs).

import type { MonitorResultInput } from '../storage/types.ts';
import type { IncomingMessage } from '../storage/types.ts';
import type { MonitorCycle, Observation, QcStatus } from '../monitor/types.ts';
import { DeviceIntegrity } from './device.ts';
import { resolveIntegrityMonitorOptions, type IntegrityMonitorOverrides } from './options.ts';
import { worse, type DeviceHealth, type IntegrityMonitor, type IntegritySummary } from './types.ts';

export const INTEGRITY_MONITOR_NAME = 'integrity';

/**
 * Builds the monitor. `options` overlay defaultIntegrityMonitorOptions (options.ts); the collector passes
 * at least { staleAfterS, clockSkewMaxMs } from its config. Throws EDGELOOP_ERR_CONFIG_INVALID on bad options.
 */
export function createIntegrityMonitor(options: IntegrityMonitorOverrides = {}): IntegrityMonitor {
  const o = resolveIntegrityMonitorOptions(options);
  const devices = new Map<string, DeviceIntegrity>();
  const forgetMs = o.forgetAfterS * 1000;
  let lastEvaluateMs: number | null = null;

  function device(deviceId: string): DeviceIntegrity {
    let d = devices.get(deviceId);
    if (d === undefined) {
      d = new DeviceIntegrity(deviceId, o);
      devices.set(deviceId, d);
    }
    return d;
  }

  return {
    name: INTEGRITY_MONITOR_NAME,

    observe(message: IncomingMessage): void {
      if (message.message.kind === 'modelCommand') return;
      device(message.message.deviceId).observe(message);
    },

    evaluate(nowMs: number): MonitorCycle {
      lastEvaluateMs = nowMs;
      const observations: Observation[] = [];
      const results: MonitorResultInput[] = [];
      for (const [id, d] of devices) {
        if (nowMs - d.liveness.lastReceivedMs > forgetMs) {
          d.ledger.release(nowMs, observations);
          devices.delete(id);
          continue;
        }
        d.ledger.update(d.judge(nowMs), nowMs, observations, results);
      }
      return { observations, results };
    },

    channelStatus(deviceId: string, channel: string): QcStatus {
      return devices.get(deviceId)?.channelStatus(channel) ?? 'good';
    },

    summary(nowMs?: number): IntegritySummary {
      const at = nowMs ?? lastEvaluateMs ?? Number.NEGATIVE_INFINITY;
      const s = {
        devices: devices.size,
        online: 0,
        offline: 0,
        stale: 0,
        channels: { good: 0, suspect: 0, fail: 0 },
      };
      for (const d of devices.values()) {
        s[d.liveness.state(at)]++;
        for (const channel of d.edge.channels.keys()) s.channels[d.channelStatus(channel)]++;
      }
      return s;
    },

    deviceHealth(deviceId: string): DeviceHealth | undefined {
      const d = devices.get(deviceId);
      if (d === undefined) return undefined;
      const checks = d.ledger.checks();
      const ls = d.liveness.lastStatus;
      return {
        deviceId,
        state: d.liveness.state(lastEvaluateMs ?? d.liveness.lastReceivedMs),
        lastReceivedMs: d.liveness.lastReceivedMs,
        lastStatus: ls === null ? null : { state: ls.state, reason: ls.reason, atMs: ls.atMs },
        runId: d.streams.current?.runId ?? null,
        bootId: d.reboot.bootId,
        // Expected states (severity info: a shutdown, one reboot) do not make the device suspect.
        status: checks.reduce<QcStatus>((w, c) => (c.severity === 'info' ? w : worse(w, c.status)), 'good'),
        checks,
        evaluatedMs: d.ledger.evaluatedMs,
      };
    },
  };
}
