// firmware-sim's only import of the `mqtt` package (STYLE.md: one adapter file per I/O library). Fleet mode
// (fleet.ts) opens one of these per simulated device: the client id is the device id, so a broker ACL
// (`%c`/`%u` patterns) and the last will apply per device, as with real agents.
//
// Unlike the agent's link there is no outbox behind it: a simulator that loses its broker may lose
// messages. MQTT.js reconnects by itself (fixed period) and resends QoS 1 publishes not yet acknowledged;
// fleet.ts bounds what is in flight, so its queue cannot grow without limit.

import { readFileSync } from 'node:fs';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { fail, ok, type Result } from '../../shared/errors.ts';

export interface FleetMqttMessage {
  readonly topic: string;
  readonly payload: Uint8Array;
  readonly qos: 0 | 1;
  readonly retain: boolean;
}

export interface FleetMqttOptions {
  /** mqtt://host:1883 or mqtts://host:8883. */
  readonly url: string;
  readonly clientId: string;
  readonly username?: string;
  readonly password?: string;
  /** The retained offline status the broker publishes if this device vanishes. */
  readonly will: FleetMqttMessage;
  /** Give up on the first connection after this long, ms. Default 10,000. */
  readonly connectTimeoutMs?: number;
}

/** One device's connection: publishes settle on PUBACK (QoS 1). */
export interface FleetMqttLink {
  publish(m: FleetMqttMessage): Promise<Result<void>>;
  /**
   * Ends the connection cleanly (the will is not published), after outstanding PUBACKs; force drops it
   * at once (the broker then publishes the will). Idempotent.
   */
  close(force?: boolean): Promise<void>;
  /**
   * Subscribes (QoS 1) to one topic, e.g. the device's model command topic; every message on it goes to
   * the listener. MQTT.js subscribes again after a reconnect. Resolves once the SUBACK arrived.
   */
  subscribe(topic: string, listener: (payload: Uint8Array) => void): Promise<Result<void>>;
}

function asBuffer(u: Uint8Array): Buffer {
  return Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

/** Connects one device; EDGELOOP_ERR_MQTT_CONNECT when the first CONNECT is refused or times out. */
export async function connectFleetDevice(o: FleetMqttOptions): Promise<Result<FleetMqttLink>> {
  const timeoutMs = o.connectTimeoutMs ?? 10_000;
  const opts: IClientOptions = {
    clientId: o.clientId,
    clean: true,
    keepalive: 30,
    reconnectPeriod: 1000,
    connectTimeout: timeoutMs,
    will: { topic: o.will.topic, payload: asBuffer(o.will.payload), qos: o.will.qos, retain: o.will.retain },
    ...(o.username === undefined ? {} : { username: o.username }),
    ...(o.password === undefined ? {} : { password: o.password }),
  };
  const client: MqttClient = connect(o.url, opts);
  const up = await new Promise<Result<void>>((resolve) => {
    const timer = setTimeout(() => {
      done(fail('EDGELOOP_ERR_MQTT_CONNECT', `${o.clientId}: no CONNACK from ${o.url} in ${timeoutMs} ms`));
    }, timeoutMs);
    const onConnect = (): void => {
      done(ok(undefined));
    };
    const onError = (err: Error): void => {
      done(fail('EDGELOOP_ERR_MQTT_CONNECT', `${o.clientId}: ${err.message}`));
    };
    function done(r: Result<void>): void {
      clearTimeout(timer);
      client.off('connect', onConnect);
      client.off('error', onError);
      resolve(r);
    }
    client.once('connect', onConnect);
    client.once('error', onError);
  });
  if (!up.ok) {
    client.end(true);
    return up;
  }
  // Later errors (a dropped connection) are retried by MQTT.js; publishes report their own failures.
  client.on('error', () => undefined);
  let closing: Promise<void> | undefined;
  const listeners = new Map<string, (payload: Uint8Array) => void>();
  client.on('message', (topic, payload) => {
    // A copy: MQTT.js payloads may share a larger buffer at an unaligned offset.
    listeners.get(topic)?.(new Uint8Array(payload));
  });
  return ok({
    subscribe(topic, listener) {
      listeners.set(topic, listener);
      return new Promise((resolve) => {
        client.subscribe(topic, { qos: 1 }, (err, granted) => {
          // A broker ACL refusing the filter answers SUBACK 0x80 (MQTT-3.9.3), not an error.
          const refused = granted?.some((g) => g.qos === 128) === true;
          resolve(
            err != null
              ? fail('EDGELOOP_ERR_MQTT_CONNECT', `subscribe ${topic}: ${err.message}`)
              : refused
                ? fail('EDGELOOP_ERR_MQTT_CONNECT', `subscribe ${topic}: refused by the broker (ACL)`)
                : ok(undefined),
          );
        });
      });
    },
    publish(m) {
      return new Promise((resolve) => {
        client.publish(m.topic, asBuffer(m.payload), { qos: m.qos, retain: m.retain }, (err) => {
          // MQTT.js passes null on success although its typings say Error | undefined.
          const e = err as Error | null | undefined;
          resolve(e == null ? ok(undefined) : fail('EDGELOOP_ERR_MQTT_PUBLISH', e.message));
        });
      });
    },
    close(force = false) {
      closing ??= new Promise<void>((resolve) => {
        client.end(force, {}, () => {
          resolve();
        });
      });
      return closing;
    },
  });
}

/** The collector's `--credentials-file` (docs/collector.md): `{ "devices": { "<id>": "<password>" } }`. */
function collectorCredentials(path: string, text: string): Result<Map<string, string>> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return fail(
      'EDGELOOP_ERR_CONFIG_INVALID',
      `${path}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  const devices = (json as { devices?: unknown }).devices;
  if (typeof devices !== 'object' || devices === null)
    return fail('EDGELOOP_ERR_CONFIG_INVALID', `${path}: expected { "devices": { "<id>": "<password>" } }`);
  const out = new Map<string, string>();
  for (const [id, pw] of Object.entries(devices)) {
    if (typeof pw !== 'string')
      return fail('EDGELOOP_ERR_CONFIG_INVALID', `${path}: devices.${id} is not a string`);
    out.set(id, pw);
  }
  return ok(out);
}

/**
 * `--mqtt-credentials <file>`: one `<username>:<password>` per line (blank lines and `#` comments
 * skipped), the plain-text form `mosquitto_passwd -U` hashes into a Mosquitto password file; or the
 * collector's JSON credentials file (its `devices` map), so one file serves both.
 */
export function readFleetCredentials(path: string): Result<Map<string, string>> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    return fail('EDGELOOP_ERR_INPUT_READ', `${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const out = new Map<string, string>();
  if (text.trimStart().startsWith('{')) return collectorCredentials(path, text);
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).trim();
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon < 1)
      return fail('EDGELOOP_ERR_CONFIG_INVALID', `${path}:${i + 1}: expected <username>:<password>`);
    out.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return ok(out);
}
