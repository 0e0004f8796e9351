// The collector's only import of the `mqtt` package (STYLE.md: one adapter file per I/O library): the
// subscriber that receives every device's messages, from the embedded broker (./broker.ts) or an external
// one such as Mosquitto (docs/collector.md §Broker modes).
//
// A persistent session: MQTT 3.1.1 with clean=false and a fixed client id, QoS 1 subscriptions. While the
// collector is away the broker queues our QoS 1 messages, and close() sends DISCONNECT without cleaning the
// session, so a restart (or a drain on SIGTERM) loses nothing the broker kept.
//
// Acknowledgement (docs/collector.md §Delivery): MQTT.js sends the PUBACK of a QoS 1 message as soon as
// its handleMessage hook calls back, and reads no further packet before that, so holding the callback until
// a batch commits would allow one message per batch delay. Instead we call back at once and hold the PUBACK
// itself: each message gets a tag from `ackTag()` (the ingest batch that makes it durable), and
// release(tag) sends the held PUBACKs of every batch up to it once it is committed. A crash before the
// commit leaves those messages unacknowledged, and the broker sends them again to our persistent session.
// Holding PUBACKs reaches into MQTT.js's private _sendPacket (the one place that sends them); if a future
// MQTT.js lacks it, we fall back to acknowledging on receipt and say so through holdsAcks().
//
// When ingest's queue is full or ingest has stopped, onMessage returns a promise and we call back only once
// it resolves: the socket stops being read, and the broker holds the backlog.

import { connect, type IClientOptions, type MqttClient } from 'mqtt';

export interface SubscriberOptions {
  /** mqtt://host:port or mqtts://... */
  readonly url: string;
  /** Fixed, so the broker finds our persistent session again after a restart. */
  readonly clientId: string;
  readonly username?: string;
  readonly password?: string;
  /** Subscription filters, all QoS 1. */
  readonly filters: readonly string[];
  /** Reconnect delay, ms. Default 1000. */
  readonly reconnectMs?: number;
  /**
   * Called for every message, in arrival order. Return a promise to hold the PUBACK and the next read
   * until it settles (backpressure); return undefined to acknowledge at once.
   */
  readonly onMessage: (topic: string, payload: Uint8Array) => Promise<void> | undefined;
  readonly onEvent?: (event: SubscriberEvent) => void;
  /** The tag of the message onMessage just took: its PUBACK is held until release(tag or more). */
  readonly ackTag?: () => number;
}

export type SubscriberEvent =
  | { readonly kind: 'connected'; readonly sessionPresent: boolean }
  /**
   * The connection ended, or (reason `cannot connect: ...`) the first attempt of a streak failed: a broker
   * down, a wrong --mqtt port or refused credentials. Not emitted for our own close().
   */
  | { readonly kind: 'disconnected'; readonly reason: string }
  | { readonly kind: 'subscribeRefused'; readonly filter: string };

export interface Subscriber {
  connected(): boolean;
  /** False when PUBACKs go out on receipt (no ackTag, or an MQTT.js without the hook we use). */
  holdsAcks(): boolean;
  /** Sends the held PUBACKs of messages tagged up to `tag` (their batch is committed). */
  release(tag: number): void;
  /** PUBACKs held now. */
  heldAcks(): number;
  /**
   * Publishes one message on the same connection (the collector's alert topics, docs/mqtt.md). Rejects at
   * once when not connected, rather than joining MQTT.js's unbounded offline queue: the caller's bounded
   * queue retries (collector/alerts/queue.ts). QoS 1 resolves on PUBACK; a refusal (ACL) rejects.
   */
  publish(
    topic: string,
    payload: Uint8Array | string,
    options: { readonly qos: 0 | 1; readonly retain: boolean },
  ): Promise<void>;
  /** Idempotent. DISCONNECT without cleaning the session: the broker keeps queueing for us. */
  close(timeoutMs?: number): Promise<void>;
}

export function startSubscriber(o: SubscriberOptions): Subscriber {
  const opts: IClientOptions = {
    clientId: o.clientId,
    clean: false,
    protocolVersion: 4,
    reconnectPeriod: o.reconnectMs ?? 1000,
    connectTimeout: 10_000,
    keepalive: 30,
    // The session's subscriptions live on the broker; we resubscribe on every connect anyway, in case the
    // broker lost the session (restart without persistence).
    resubscribe: false,
  };
  if (o.username !== undefined) opts.username = o.username;
  if (o.password !== undefined) opts.password = o.password;
  const client: MqttClient = connect(o.url, opts);
  let isConnected = false;
  let lastError = '';
  /** A failed connection attempt was reported; the next ones of the streak are not (reconnects ~1 s). */
  let failureReported = false;

  type SendPacket = (packet: { cmd: string }, cb?: (err?: Error) => void, ...rest: unknown[]) => void;
  const internals = client as unknown as { _sendPacket?: SendPacket };
  const rawSend = internals._sendPacket;
  const ackTag = o.ackTag;
  const holding = ackTag !== undefined && typeof rawSend === 'function';
  // PUBACKs held, in arrival order, with the connection they belong to: a PUBACK is only meaningful on
  // the connection that received the message (after a reconnect the broker resends it anyway).
  let held: { tag: number; packet: { cmd: string }; generation: number }[] = [];
  let generation = 0;
  let released = 0;
  let tagOfCurrent: number | undefined;
  const send = rawSend?.bind(client);
  if (holding && send !== undefined) {
    internals._sendPacket = (packet, cb, ...rest) => {
      if (packet.cmd === 'puback' && tagOfCurrent !== undefined && tagOfCurrent > released) {
        held.push({ tag: tagOfCurrent, packet, generation });
        // cb lets MQTT.js go on to the next packet; the PUBACK itself waits.
        cb?.();
        return;
      }
      send(packet, cb, ...rest);
    };
  }
  const ack = (callback: (err?: Error) => void, err?: Error): void => {
    tagOfCurrent = holding && err === undefined ? ackTag() : undefined;
    try {
      callback(err);
    } finally {
      tagOfCurrent = undefined;
    }
  };

  client.handleMessage = (packet, callback) => {
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    let wait: Promise<void> | undefined;
    try {
      wait = o.onMessage(packet.topic, payload);
    } catch (err) {
      // A throw here is a bug in ingest: MQTT.js reports it and sends no PUBACK.
      callback(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    if (wait === undefined) ack(callback);
    else
      wait.then(
        () => {
          ack(callback);
        },
        (err: unknown) => {
          ack(callback, err instanceof Error ? err : new Error(String(err)));
        },
      );
  };

  client.on('connect', (connack) => {
    isConnected = true;
    lastError = '';
    failureReported = false;
    o.onEvent?.({ kind: 'connected', sessionPresent: connack.sessionPresent });
    client.subscribe([...o.filters], { qos: 1 }, (err, granted) => {
      // MQTT.js reports a SUBACK failure (0x80) as an error carrying the packet.
      const codes = (err as { packet?: { granted?: number[] } } | null)?.packet?.granted;
      if (codes !== undefined)
        codes.forEach((code, i) => {
          if (code === 128) o.onEvent?.({ kind: 'subscribeRefused', filter: o.filters[i] ?? '?' });
        });
      else if (err)
        o.onEvent?.({ kind: 'subscribeRefused', filter: `${o.filters.join(' ')}: ${err.message}` });
      else
        for (const g of granted ?? []) {
          if ((g.qos as number) === 128) o.onEvent?.({ kind: 'subscribeRefused', filter: g.topic });
        }
    });
  });
  client.on('error', (err) => {
    lastError = err.message;
  });
  client.on('close', () => {
    generation++;
    held = [];
    const was = isConnected;
    isConnected = false;
    // Our own close() at shutdown is not news (it read as a WARN in every clean stop's log).
    if (closing !== undefined) return;
    if (was) {
      failureReported = true;
      o.onEvent?.({ kind: 'disconnected', reason: lastError === '' ? 'connection closed' : lastError });
    } else if (!failureReported) {
      // A collector pointed at a broker it cannot reach said nothing at all while MQTT.js retried.
      failureReported = true;
      o.onEvent?.({
        kind: 'disconnected',
        reason: `cannot connect: ${lastError === '' ? 'connection closed' : lastError}`,
      });
    }
  });

  let closing: Promise<void> | undefined;
  return {
    connected: () => isConnected,
    holdsAcks: () => holding,
    heldAcks: () => held.length,
    release(tag) {
      if (tag > released) released = tag;
      if (send === undefined || held.length === 0) return;
      const keep: typeof held = [];
      for (const h of held) {
        if (h.generation !== generation) continue;
        if (h.tag <= released) send(h.packet);
        else keep.push(h);
      }
      held = keep;
    },
    publish(topic, payload, options) {
      if (!isConnected || closing !== undefined)
        return Promise.reject(new Error(`not connected: cannot publish on ${topic}`));
      const body = typeof payload === 'string' ? payload : Buffer.from(payload);
      return new Promise<void>((resolve, reject) => {
        client.publish(topic, body, { qos: options.qos, retain: options.retain }, (err) => {
          if (err) reject(err);
          else resolve();
        });
      });
    },
    close(timeoutMs = 5000) {
      closing ??= new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          client.end(true);
          resolve();
        }, timeoutMs);
        // end(false): wait for in-flight packets, then DISCONNECT; clean=false keeps the session.
        client.end(false, {}, () => {
          clearTimeout(t);
          resolve();
        });
      });
      return closing;
    },
  };
}
