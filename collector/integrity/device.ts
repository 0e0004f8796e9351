// The central integrity state of one device: its streams, one instance of each check, and the ledger of
// its subjects' statuses. Everything here is bounded: rings and small maps per check, two runs of
// msgSeq ranges, one entry per channel of the board.

import type { IncomingMessage } from '../storage/types.ts';
import type { QcStatus } from '../monitor/types.ts';
import { ClockJumpCheck } from './clock-jump.ts';
import { ClockSkewCheck } from './clock-skew.ts';
import { EdgeFlagsCheck } from './edge-flags.ts';
import { Ledger } from './ledger.ts';
import { LivenessCheck } from './liveness.ts';
import { MsgLossCheck, SampleLossCheck } from './loss.ts';
import type { IntegrityMonitorOptions } from './options.ts';
import { PhysicsCheck } from './physics.ts';
import { RebootCheck } from './reboot.ts';
import { DeviceStreams } from './streams.ts';
import { worse, type DeviceCheck, type Verdict } from './types.ts';

export class DeviceIntegrity {
  readonly streams = new DeviceStreams();
  readonly liveness: LivenessCheck;
  readonly reboot: RebootCheck;
  readonly edge: EdgeFlagsCheck;
  readonly physics: PhysicsCheck;
  readonly ledger: Ledger;
  readonly #checks: readonly DeviceCheck[];
  /** Messages this monitor had seen already (its own SequenceTracker): not judged twice. */
  duplicates = 0;

  constructor(deviceId: string, o: IntegrityMonitorOptions) {
    this.liveness = new LivenessCheck(o);
    this.reboot = new RebootCheck(o);
    this.edge = new EdgeFlagsCheck(o);
    this.physics = new PhysicsCheck(o);
    this.#checks = [
      this.liveness,
      new MsgLossCheck(o, this.streams),
      new SampleLossCheck(o),
      new ClockSkewCheck(o),
      new ClockJumpCheck(o),
      this.reboot,
      this.edge,
      this.physics,
    ];
    this.ledger = new Ledger(deviceId, o.resultIntervalS * 1000, o.reportGoodCycles);
  }

  observe(incoming: IncomingMessage): void {
    const m = incoming.message;
    // Model commands are the collector's own messages (its runId, not the device's): not device evidence.
    if (m.kind === 'modelCommand') return;
    const { runId, msgSeq } = m.payload;
    let newest = false;
    if (msgSeq !== 0) {
      const placed = this.streams.place(runId, msgSeq, m.kind === 'status' || m.kind === 'modelState');
      if (placed.verdict === 'duplicate' || placed.verdict === 'stale') {
        // Still proof the link is alive (a QoS 1 redelivery), but its content was judged already.
        this.duplicates++;
        if (incoming.receivedMs > this.liveness.lastReceivedMs)
          this.liveness.lastReceivedMs = incoming.receivedMs;
        return;
      }
      newest = placed.newest;
    }
    const input = {
      message: m,
      receivedMs: incoming.receivedMs,
      newest,
      currentRun: this.streams.current?.runId ?? null,
    };
    for (const c of this.#checks) c.observe(input);
  }

  judge(nowMs: number): Verdict[] {
    const out: Verdict[] = [];
    for (const c of this.#checks) c.judge(nowMs, out);
    return out;
  }

  /**
   * Worst current status of a channel from the edge flags and physics checks. `accel.z`: its own edge
   * flags and the accel physics check. `accel` (a sensor) or `accel.magnitude`: every accel channel too.
   * A feature name (`accel.z.rms`) is judged as its channel.
   */
  channelStatus(name: string): QcStatus {
    const dot = name.indexOf('.');
    const sensor = dot < 0 ? name : name.slice(0, dot);
    let s = this.physics.status(sensor);
    const channels = this.edge.channels;
    let channel = name;
    while (!channels.has(channel) && channel.includes('.'))
      channel = channel.slice(0, channel.lastIndexOf('.'));
    if (channels.has(channel) && !name.startsWith(`${sensor}.magnitude`))
      return worse(s, this.edge.status(channel));
    // A sensor name, a magnitude, or a channel the edge never reported: every channel of the sensor.
    for (const [c, st] of channels) {
      if (c === sensor || c.startsWith(`${sensor}.`)) s = worse(s, st.persistence.status);
    }
    return s;
  }
}
