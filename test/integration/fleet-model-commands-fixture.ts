// Shared pieces of the fleet model-command tests: a real HTTP server on port 0 serving real signed bundles
// (with a switch that makes it unreachable), a command publisher and a collector of everything a fleet
// publishes, decoded with the shared codec.

import { strict as assert } from 'node:assert';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect, type MqttClient } from 'mqtt';
import { decodeMessage, type DecodedMessage } from '../../shared/mqtt/codec.ts';
import type { ModelCommandPayload, ModelStatePayload } from '../../shared/mqtt/schemas.ts';
import { buildTopic } from '../../shared/mqtt/topics.ts';

export interface BundleServer {
  readonly url: string;
  /** Paths requested, in order (including refused ones). */
  readonly requests: string[];
  set(path: string, bytes: Uint8Array): void;
  /** While down, every connection is reset before an answer (as an unreachable registry). */
  down: boolean;
  close(): Promise<void>;
}

export async function startBundleServer(): Promise<BundleServer> {
  const files = new Map<string, Uint8Array>();
  const requests: string[] = [];
  const state = { down: false };
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/';
    requests.push(path);
    if (state.down) {
      req.socket.destroy();
      return;
    }
    const body = files.get(path);
    if (body === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/x-tar', 'content-length': body.byteLength });
    res.end(Buffer.from(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    set: (path, bytes) => files.set(path, bytes),
    get down() {
      return state.down;
    },
    set down(v: boolean) {
      state.down = v;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

export interface Got {
  readonly topic: string;
  readonly retained: boolean;
  readonly message: DecodedMessage;
}

/** A test client: subscribes to filters, decodes every message (a bad one fails the test), publishes commands. */
export class Observer {
  readonly got: Got[] = [];
  #seq = 0;
  private constructor(readonly client: MqttClient) {}

  static async start(url: string, filters: string[]): Promise<Observer> {
    const client = connect(url, {
      clientId: `fmc-test-${process.pid}-${Math.random().toString(16).slice(2)}`,
      reconnectPeriod: 0,
    });
    const o = new Observer(client);
    client.on('message', (topic, payload, packet) => {
      if (payload.byteLength === 0) return; // a retained message being cleared
      const d = decodeMessage(topic, payload);
      assert.ok(d.ok, d.ok ? '' : `${topic}: ${d.message}`);
      o.got.push({ topic, retained: packet.retain, message: d.value });
    });
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => {
        client.subscribe(filters, { qos: 1 }, (err) => {
          if (err) reject(err);
          else resolve();
        });
      });
      client.once('error', reject);
    });
    return o;
  }

  /** Every modelState payload of a device (live ones, in arrival order). */
  states(deviceId: string): ModelStatePayload[] {
    return this.got.flatMap((g) =>
      g.message.kind === 'modelState' && g.message.deviceId === deviceId && !g.retained
        ? [g.message.payload]
        : [],
    );
  }

  /** The last state of a device for one deploySeq, if any. */
  last(deviceId: string, deploySeq: number): ModelStatePayload | undefined {
    return this.states(deviceId)
      .filter((s) => s.deploySeq === deploySeq)
      .at(-1);
  }

  async install(
    deviceId: string,
    o: { deploySeq: number; name: string; version: string; url: string; digest: string },
  ): Promise<void> {
    await this.#send(deviceId, {
      action: 'install',
      deploySeq: o.deploySeq,
      model: { name: o.name, version: o.version },
      url: o.url,
      digest: o.digest,
    });
  }

  async rollback(deviceId: string, deploySeq: number, reason: string): Promise<void> {
    await this.#send(deviceId, { action: 'rollback', deploySeq, reason });
  }

  async #send(
    deviceId: string,
    body:
      | Omit<
          Extract<ModelCommandPayload, { action: 'install' }>,
          'v' | 'deviceId' | 'runId' | 'msgSeq' | 'tsMs'
        >
      | Omit<
          Extract<ModelCommandPayload, { action: 'rollback' }>,
          'v' | 'deviceId' | 'runId' | 'msgSeq' | 'tsMs'
        >,
  ): Promise<void> {
    const topic = buildTopic('modelCommand', deviceId);
    assert.ok(topic.ok);
    const payload = { v: 1, deviceId, runId: 77, msgSeq: ++this.#seq, tsMs: Date.now(), ...body };
    await this.client.publishAsync(topic.value, JSON.stringify(payload), { qos: 1, retain: false });
  }

  close(): Promise<void> {
    return this.client.endAsync();
  }
}

export const TERMINAL = new Set(['COMMITTED', 'ROLLED_BACK', 'FAILED']);
