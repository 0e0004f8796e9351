// The collector's only import of the `mqtt` package (STYLE.md: one adapter file per I/O library): the
// subscriber that receives every device's messages, from the embedded broker (./broker.ts) or an external
// one such as Mosquitto (docs/collector.md §Broker modes).
//
// A persistent session: MQTT 3.1.1 with clean=false and a fixed client id, QoS 1 subscriptions. While the
// collector is away the broker queues our QoS 1 messages, and close() sends DISCONNECT without cleaning the
// session, so a restart (or a drain on SIGTERM) loses nothing the broker kept.
//
// Acknowledgement (docs/collector.md §Delivery): MQTT.js sends the PUBACK of a QoS 1 message when its
// handleMessage hook calls back, and it does not read the next packet before that. We call back as soon as
// the message is in ingest's bounded queue, so the PUBACK precedes the database commit: a crash (SIGKILL,
// power) loses what was queued but not yet committed, at most one batch. When the queue is full the handler
// returns a promise and we call back only once it resolves: the socket stops being read, and the broker
// holds the backlog (backpressure instead of an unbounded buffer).

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
}

export type SubscriberEvent =
  | { readonly kind: 'connected'; readonly sessionPresent: boolean }
  | { readonly kind: 'disconnected'; readonly reason: string }
  | { readonly kind: 'subscribeRefused'; readonly filter: string };

export interface Subscriber {
  connected(): boolean;
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

  client.handleMessage = (packet, callback) => {
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    let wait: Promise<void> | undefined;
    try {
      wait = o.onMessage(packet.topic, payload);
    } catch (err) {
      // A throw here is a bug in ingest; acknowledging keeps the link alive and the bug visible in logs.
      callback(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    if (wait === undefined) callback();
    else
      wait.then(
        () => {
          callback();
        },
        (err: unknown) => {
          callback(err instanceof Error ? err : new Error(String(err)));
        },
      );
  };

  client.on('connect', (connack) => {
    isConnected = true;
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
    if (!isConnected) return;
    isConnected = false;
    o.onEvent?.({ kind: 'disconnected', reason: lastError === '' ? 'connection closed' : lastError });
  });

  let closing: Promise<void> | undefined;
  return {
    connected: () => isConnected,
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
