// The agent's only import of the `mqtt` package (STYLE.md: one adapter file per I/O library). The rest of
// the agent sees `MqttLink`: publish with a Result that settles on PUBACK, subscriptions that survive
// reconnects, typed link events, and an idempotent close().
//
// Why we reconnect ourselves instead of using MQTT.js's `reconnectPeriod`:
//  - MQTT.js retries at a fixed period; a fleet that lost its broker would reconnect in lockstep. We use
//    jittered, capped exponential backoff (shared/backoff.ts, STYLE.md habit 7).
//  - With clean: false, MQTT.js keeps unacknowledged QoS 1 publishes in its in-memory store and resends
//    them after a reconnect, while the outbox (docs/outbox.md) also hands them out again after linkDown().
//    Every message would go out twice after each outage. A fresh MqttClient per connection (empty store)
//    leaves the outbox as the only source of retransmission; the broker session itself (subscriptions,
//    queued commands) still persists because the client id and clean: false are the same every time.
//  - The will is rebuilt per connection (will() is called in #open), so each CONNECT carries fresh content:
//    that connection's tsMs, the active model, and the firmware and boot id once a HELLO gave them
//    (issue #8 §2). A will cannot change on a live connection (MQTT-3.1.2-8, no update in 3.1.1 or 5).
//    MQTT.js 5.x would also take a mutated client.options.will at its own reconnect (it copies
//    options.will into each CONNECT packet in MqttClient.connect), but we never use its reconnect.

import { readFileSync } from 'node:fs';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { Backoff } from '../../shared/backoff.ts';
import { EdgeloopError, fail, ok, type Result } from '../../shared/errors.ts';

export type MqttQoS = 0 | 1 | 2;

export interface MqttMessageOut {
  readonly topic: string;
  readonly payload: Uint8Array;
  readonly qos: MqttQoS;
  readonly retain: boolean;
}

export interface MqttTlsOptions {
  /** PEM file of the CA that signed the broker's certificate. Default: the system CAs. */
  readonly caFile?: string;
  /** PEM client certificate and key, for mutual TLS. Both or neither. */
  readonly certFile?: string;
  readonly keyFile?: string;
  /** Verify the broker certificate. Default true; turn off only for a test broker. */
  readonly rejectUnauthorized?: boolean;
}

export interface MqttLinkOptions {
  /** mqtt://host:1883, or mqtts://host:8883 for TLS. */
  readonly url: string;
  /** MQTT client id; the agent uses its device id, so a broker ACL `%c` pattern applies. */
  readonly clientId: string;
  /** Built anew for every connection (MQTT-3.1.2-8): the retained offline status. */
  readonly will?: () => MqttMessageOut;
  /** Keepalive, seconds (MQTT-3.1.2-24). Default 30. */
  readonly keepaliveSec?: number;
  /** Give up a connection attempt after this long, ms. Default 10000. */
  readonly connectTimeoutMs?: number;
  /** First reconnect delay ceiling, ms; doubles per failed attempt, full jitter. Default 1000. */
  readonly reconnectPeriodMs?: number;
  /** Largest reconnect delay, ms. Default 30000. */
  readonly reconnectMaxMs?: number;
  readonly username?: string;
  readonly password?: string;
  readonly tls?: MqttTlsOptions;
  /** 4 = MQTT 3.1.1 (default; the embedded aedes broker speaks it), 5 = MQTT 5. */
  readonly protocolVersion?: 4 | 5;
  /** MQTT 5 only: how long the broker keeps the session after a disconnect, s. Default 7 days. */
  readonly sessionExpirySec?: number;
  /** Randomness for the backoff jitter; injected in tests. */
  readonly random?: () => number;
}

export type MqttLinkEvent =
  | { readonly kind: 'connected'; readonly sessionPresent: boolean }
  | { readonly kind: 'disconnected'; readonly reason: string }
  | {
      readonly kind: 'connectFailed';
      readonly code: 'EDGELOOP_ERR_MQTT_CONNECT';
      readonly message: string;
      readonly retryInMs: number;
    };

export interface MqttLinkStats {
  readonly connected: boolean;
  readonly connects: number;
  readonly disconnects: number;
  readonly connectFailures: number;
  /** Publishes waiting for their PUBACK. */
  readonly pending: number;
}

export interface MqttLink {
  readonly connected: boolean;
  /** Starts connecting; reconnects by itself until close(). Idempotent. */
  start(): void;
  /**
   * Publishes one message. QoS 1/2 settle ok on PUBACK/PUBCOMP, QoS 0 once written. Fails with
   * EDGELOOP_ERR_MQTT_PUBLISH when not connected or when the connection drops first; never throws.
   */
  publish(message: MqttMessageOut): Promise<Result<void>>;
  /** Adds a subscription, (re)applied on every connection. */
  subscribe(filter: string, qos: MqttQoS): void;
  /** Returns an unsubscribe function. */
  onEvent(listener: (e: MqttLinkEvent) => void): () => void;
  /**
   * Incoming messages. The payload is a fresh copy at offset 0: MQTT.js hands out slices of its socket
   * buffer at any byte offset, which a Float32Array view cannot use (docs/mqtt.md §Raw samples).
   */
  onMessage(listener: (topic: string, payload: Uint8Array) => void): () => void;
  stats(): MqttLinkStats;
  /**
   * Idempotent. Publishes `finalMessage` first when connected (waits at most timeoutMs for its PUBACK),
   * then disconnects with DISCONNECT, so the broker does not publish the will.
   */
  close(options?: { readonly finalMessage?: MqttMessageOut; readonly timeoutMs?: number }): Promise<void>;
}

interface Pending {
  readonly settle: (r: Result<void>) => void;
}

function readPem(path: string | undefined, what: string): Buffer | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path);
  } catch (err) {
    throw new EdgeloopError(
      'EDGELOOP_ERR_CONFIG_INVALID',
      `mqtt ${what} file ${path}: ${(err as Error).message}`,
    );
  }
}

function asBuffer(u: Uint8Array): Buffer {
  // A view, not a copy: MQTT.js accepts Buffers and the outbox's payload is not reused after publish.
  return Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

/** Builds the MQTT.js options once; TLS files are read at start so a bad path fails fast (config error). */
function clientOptions(o: MqttLinkOptions): IClientOptions {
  if ((o.tls?.certFile === undefined) !== (o.tls?.keyFile === undefined)) {
    throw new EdgeloopError(
      'EDGELOOP_ERR_CONFIG_INVALID',
      'mqtt tls: certFile and keyFile go together (mutual TLS)',
    );
  }
  const v5 = (o.protocolVersion ?? 4) === 5;
  const opts: IClientOptions = {
    clientId: o.clientId,
    // MQTT-3.1.2-4 (3.1.1) / clean start 0 (5): keep the session across connections, so subscriptions
    // and QoS 1 messages queued for us while offline (model commands) survive an outage.
    clean: false,
    protocolVersion: v5 ? 5 : 4,
    keepalive: o.keepaliveSec ?? 30,
    connectTimeout: o.connectTimeoutMs ?? 10_000,
    reconnectPeriod: 0,
    resubscribe: false,
    queueQoSZero: false,
  };
  if (v5) opts.properties = { sessionExpiryInterval: o.sessionExpirySec ?? 7 * 24 * 3600 };
  if (o.username !== undefined) opts.username = o.username;
  if (o.password !== undefined) opts.password = o.password;
  const ca = readPem(o.tls?.caFile, 'tls.caFile');
  const cert = readPem(o.tls?.certFile, 'tls.certFile');
  const key = readPem(o.tls?.keyFile, 'tls.keyFile');
  if (ca !== undefined) opts.ca = ca;
  if (cert !== undefined) opts.cert = cert;
  if (key !== undefined) opts.key = key;
  if (o.tls?.rejectUnauthorized !== undefined) opts.rejectUnauthorized = o.tls.rejectUnauthorized;
  return opts;
}

export function createMqttLink(options: MqttLinkOptions): MqttLink {
  return new MqttJsLink(options);
}

class MqttJsLink implements MqttLink {
  readonly #o: MqttLinkOptions;
  readonly #base: IClientOptions;
  readonly #backoff: Backoff;
  readonly #subs = new Map<string, MqttQoS>();
  readonly #eventListeners = new Set<(e: MqttLinkEvent) => void>();
  readonly #messageListeners = new Set<(topic: string, payload: Uint8Array) => void>();
  #client: MqttClient | undefined;
  readonly #pending = new Set<Pending>();
  #connected = false;
  #started = false;
  #closing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #lastError = '';
  #connects = 0;
  #disconnects = 0;
  #connectFailures = 0;

  constructor(options: MqttLinkOptions) {
    this.#o = options;
    this.#base = clientOptions(options);
    this.#backoff = new Backoff({
      baseMs: options.reconnectPeriodMs ?? 1000,
      capMs: options.reconnectMaxMs ?? 30_000,
      floorMs: 50,
      ...(options.random === undefined ? {} : { random: options.random }),
    });
  }

  get connected(): boolean {
    return this.#connected;
  }

  start(): void {
    if (this.#started || this.#closing !== undefined) return;
    this.#started = true;
    this.#open();
  }

  publish(m: MqttMessageOut): Promise<Result<void>> {
    const client = this.#client;
    if (!this.#connected || client === undefined) {
      return Promise.resolve(fail('EDGELOOP_ERR_MQTT_PUBLISH', `not connected to ${this.#o.url}`));
    }
    return new Promise((resolve) => {
      let done = false;
      const p: Pending = {
        settle: (r) => {
          if (done) return;
          done = true;
          this.#pending.delete(p);
          resolve(r);
        },
      };
      this.#pending.add(p);
      client.publish(m.topic, asBuffer(m.payload), { qos: m.qos, retain: m.retain }, (err) => {
        // MQTT.js passes null on success although its typings say Error | undefined.
        const e = err as Error | null | undefined;
        p.settle(e == null ? ok(undefined) : fail('EDGELOOP_ERR_MQTT_PUBLISH', e.message));
      });
    });
  }

  subscribe(filter: string, qos: MqttQoS): void {
    this.#subs.set(filter, qos);
    if (this.#connected) this.#client?.subscribe(filter, { qos });
  }

  onEvent(listener: (e: MqttLinkEvent) => void): () => void {
    this.#eventListeners.add(listener);
    return () => this.#eventListeners.delete(listener);
  }

  onMessage(listener: (topic: string, payload: Uint8Array) => void): () => void {
    this.#messageListeners.add(listener);
    return () => this.#messageListeners.delete(listener);
  }

  stats(): MqttLinkStats {
    return {
      connected: this.#connected,
      connects: this.#connects,
      disconnects: this.#disconnects,
      connectFailures: this.#connectFailures,
      pending: this.#pending.size,
    };
  }

  close(
    options: { readonly finalMessage?: MqttMessageOut; readonly timeoutMs?: number } = {},
  ): Promise<void> {
    this.#closing ??= this.#close(options);
    return this.#closing;
  }

  async #close(options: {
    readonly finalMessage?: MqttMessageOut;
    readonly timeoutMs?: number;
  }): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    const client = this.#client;
    const timeoutMs = options.timeoutMs ?? 5000;
    if (client !== undefined && this.#connected) {
      if (options.finalMessage !== undefined)
        await withTimeout(this.publish(options.finalMessage), timeoutMs);
      // end(false) sends DISCONNECT (MQTT-3.14.4-3: the broker discards the will).
      await withTimeout(
        new Promise<void>((resolve) =>
          client.end(false, {}, () => {
            resolve();
          }),
        ),
        timeoutMs,
      );
    }
    this.#dropClient('closed');
  }

  #emit(e: MqttLinkEvent): void {
    for (const l of this.#eventListeners) l(e);
  }

  #open(): void {
    if (this.#closing !== undefined) return;
    const opts: IClientOptions = { ...this.#base };
    const will = this.#o.will?.();
    if (will !== undefined) {
      opts.will = { topic: will.topic, payload: asBuffer(will.payload), qos: will.qos, retain: will.retain };
    }
    const client = connect(this.#o.url, opts);
    this.#client = client;
    let settled = false;
    client.on('connect', (connack) => {
      if (this.#client !== client) return;
      this.#connected = true;
      this.#connects++;
      this.#backoff.reset();
      // Resubscribe every time: a broker that lost our session (restart without persistence) would
      // otherwise never send us model commands again.
      for (const [filter, qos] of this.#subs) client.subscribe(filter, { qos });
      this.#emit({ kind: 'connected', sessionPresent: connack.sessionPresent });
    });
    client.on('message', (topic, payload) => {
      if (this.#client !== client) return;
      const copy = new Uint8Array(payload);
      for (const l of this.#messageListeners) l(topic, copy);
    });
    client.on('error', (err) => {
      this.#lastError = err.message;
    });
    client.on('close', () => {
      if (settled || this.#client !== client) return;
      settled = true;
      this.#lost(client);
    });
  }

  #lost(client: MqttClient): void {
    const wasConnected = this.#connected;
    this.#dropClient(this.#lastError === '' ? 'connection closed' : this.#lastError);
    client.end(true);
    if (this.#closing !== undefined) return;
    if (wasConnected) {
      this.#disconnects++;
      this.#emit({
        kind: 'disconnected',
        reason: this.#lastError === '' ? 'connection closed' : this.#lastError,
      });
    }
    const delay = this.#backoff.next();
    if (!wasConnected) {
      this.#connectFailures++;
      this.#emit({
        kind: 'connectFailed',
        code: 'EDGELOOP_ERR_MQTT_CONNECT',
        message: this.#lastError === '' ? `cannot connect to ${this.#o.url}` : this.#lastError,
        retryInMs: delay,
      });
    }
    this.#lastError = '';
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#open();
    }, delay);
    this.#timer.unref();
  }

  /** Forgets the current client and fails every publish still waiting for its PUBACK. */
  #dropClient(reason: string): void {
    const client = this.#client;
    this.#client = undefined;
    this.#connected = false;
    for (const p of [...this.#pending]) {
      p.settle(fail('EDGELOOP_ERR_MQTT_PUBLISH', `connection lost before PUBACK: ${reason}`));
    }
    if (client !== undefined && this.#closing !== undefined) client.end(true);
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve) => {
    // Not unref'd: close() waits for this bounded timeout even when nothing else keeps the loop alive.
    const t = setTimeout(() => {
      resolve(undefined);
    }, ms);
    void p.then((v) => {
      clearTimeout(t);
      resolve(v);
    });
  });
}
