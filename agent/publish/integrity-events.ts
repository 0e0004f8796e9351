// Integrity events (docs/mqtt.md §integrity): one message each time a channel's worst status changes
// (good → suspect → fail and back), not one per window, so a broken sensor is one event and its recovery
// another. Telemetry already carries every window's flags; these events are what an operator subscribes
// to. A channel entering `fail` also raises an edge alert (alerts.ts), at most once per channel per
// `alertHoldoffWindows`, so a sensor flapping between good and fail is many events but few alerts.
//
// Every channel starts `good`: the first window with a flag is a change. A channel absent from a window
// (a sensor that did not report) keeps its last status. Events go through the outbox in class
// `integrity`, evicted just before alerts (docs/outbox.md).

import { fail, ok, type Result } from '../../shared/errors.ts';
import { EdgeloopError } from '../../shared/errors.ts';
import { worse } from '../../shared/integrity/check.ts';
import { encodeJsonPayload } from '../../shared/mqtt/codec.ts';
import { PAYLOAD_VERSION, type IntegrityEventPayload } from '../../shared/mqtt/schemas.ts';
import { buildTopic, topicSpecs } from '../../shared/mqtt/topics.ts';
import type { FlagStatus, IntegrityCheckName, IntegrityFlag, Window } from '../../shared/samples.ts';
import type { OutboxMessage } from '../outbox/types.ts';
import type { AlertBuilder } from './alerts.ts';
import type { MessageSequence } from './sequence.ts';
import { systemClock, type WallClock } from '../../shared/platform/clock.ts';

export interface IntegrityEventsOptions {
  readonly deviceId: string;
  readonly sequence: MessageSequence;
  /** Raises an alert when a channel enters fail; none when absent. */
  readonly alerts?: AlertBuilder;
  /** Windows after a channel's fail alert before that channel may raise another. Default 60. */
  readonly alertHoldoffWindows?: number;
  /** Wall clock. Default the system clock. */
  readonly clock?: WallClock;
}

export interface IntegrityEventsStats {
  readonly events: number;
  readonly alerts: number;
  /** Payloads refused by the schema check (a bug upstream; never published). */
  readonly invalid: number;
}

interface ChannelState {
  status: FlagStatus;
  /** The flag behind the current non-good status (names the check a recovery ends). */
  flag: IntegrityFlag | undefined;
  /** Windows seen since the last fail alert of this channel; Infinity when none was raised. */
  sinceAlert: number;
}

/** The flag that decides a channel's status: the first one at its worst status. */
function worstFlag(flags: readonly IntegrityFlag[], channel: string): IntegrityFlag | undefined {
  let best: IntegrityFlag | undefined;
  for (const f of flags) {
    if (f.channel !== channel) continue;
    if (best === undefined || worse(best.status, f.status) !== best.status) best = f;
  }
  return best;
}

export class IntegrityEvents {
  readonly topic: string;
  readonly #o: IntegrityEventsOptions;
  readonly #holdoff: number;
  readonly #channels = new Map<string, ChannelState>();
  #events = 0;
  #alerts = 0;
  #invalid = 0;

  constructor(options: IntegrityEventsOptions) {
    const t = buildTopic('integrity', options.deviceId);
    if (!t.ok) throw new EdgeloopError('EDGELOOP_ERR_CONFIG_INVALID', t.message);
    this.topic = t.value;
    this.#o = options;
    this.#holdoff = Math.max(0, Math.floor(options.alertHoldoffWindows ?? 60));
  }

  /** The current worst status of every channel seen. */
  get statuses(): ReadonlyMap<string, FlagStatus> {
    return new Map([...this.#channels].map(([k, v]) => [k, v.status]));
  }

  stats(): IntegrityEventsStats {
    return { events: this.#events, alerts: this.#alerts, invalid: this.#invalid };
  }

  /** The events (and fail alerts) one window causes, in channel order; advances the per-channel state. */
  observe(w: Window): OutboxMessage[] {
    const out: OutboxMessage[] = [];
    for (const [channel, status] of Object.entries(w.integrity.channels)) {
      let s = this.#channels.get(channel);
      if (s === undefined) {
        s = { status: 'good', flag: undefined, sinceAlert: Number.POSITIVE_INFINITY };
        this.#channels.set(channel, s);
      }
      s.sinceAlert++;
      if (status === s.status) continue;
      const previous = s.status;
      const flag = status === 'good' ? undefined : worstFlag(w.integrity.flags, channel);
      const e = this.#event(w, channel, status, previous, flag, s.flag);
      s.status = status;
      s.flag = flag;
      if (e.ok) out.push(e.value);
      if (status === 'fail' && this.#o.alerts !== undefined && s.sinceAlert > this.#holdoff) {
        const a = this.#o.alerts.build({
          severity: 'warning',
          source: 'integrity',
          message: `${channel} failed its ${flag?.check ?? 'integrity'} check: ${flag?.reason ?? 'no reason given'}`,
          channel,
          ...(flag?.value === undefined ? {} : { value: flag.value }),
          ...(flag?.threshold === undefined ? {} : { threshold: flag.threshold }),
        });
        if (a.ok) {
          s.sinceAlert = 0;
          this.#alerts++;
          out.push(a.value);
        } else this.#invalid++;
      }
    }
    return out;
  }

  #event(
    w: Window,
    channel: string,
    status: FlagStatus,
    previous: FlagStatus,
    flag: IntegrityFlag | undefined,
    before: IntegrityFlag | undefined,
  ): Result<OutboxMessage> {
    // A recovery names the check that had flagged the channel; a flag-less status change (a bug in the
    // summary) names none we could know, so it is reported as the range check with that said.
    const check: IntegrityCheckName = flag?.check ?? before?.check ?? 'range';
    const reason =
      flag?.reason ??
      (status === 'good'
        ? `recovered: no ${check} flag in this window (was ${previous}${before === undefined ? '' : `: ${before.reason}`})`
        : `${status} without a flag`);
    const payload: IntegrityEventPayload = {
      v: PAYLOAD_VERSION,
      deviceId: this.#o.deviceId,
      runId: this.#o.sequence.runId,
      msgSeq: 1, // placeholder until the payload is known to be valid (no false gap for receivers)
      tsMs: Math.floor((this.#o.clock ?? systemClock).nowMs()),
      bootId: w.bootId >>> 0,
      windowIndex: Math.max(0, Math.floor(w.index)),
      windowStartUs: w.startUs,
      windowEndUs: w.endUs,
      channel,
      check,
      status,
      previousStatus: previous,
      reason,
      ...(flag?.value !== undefined && Number.isFinite(flag.value) ? { value: flag.value } : {}),
      ...(flag?.threshold !== undefined && Number.isFinite(flag.threshold)
        ? { threshold: flag.threshold }
        : {}),
    };
    const check1 = encodeJsonPayload('integrity', payload);
    if (!check1.ok) {
      this.#invalid++;
      return fail('EDGELOOP_ERR_MQTT_PAYLOAD', `integrity event not published: ${check1.message}`);
    }
    const bytes = encodeJsonPayload('integrity', { ...payload, msgSeq: this.#o.sequence.next() });
    if (!bytes.ok) {
      this.#invalid++;
      return fail('EDGELOOP_ERR_MQTT_PAYLOAD', `integrity event not published: ${bytes.message}`);
    }
    this.#events++;
    return ok({
      topic: this.topic,
      payload: bytes.value,
      qos: topicSpecs.integrity.qos,
      retain: topicSpecs.integrity.retain,
      class: 'integrity',
      createdAtMs: payload.tsMs,
    });
  }
}
