// Brokers and a subscriber for the agent MQTT integration tests
// (test/integration/agent-mqtt-*.test.ts). Real brokers only: the embedded aedes on port 0, a Mosquitto of
// our own on a free port (so a test may stop and restart it), and the system Mosquitto on 127.0.0.1:1883.

import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import { connect, type MqttClient } from 'mqtt';
import { decodeMessage, type DecodedMessage } from '../../shared/mqtt/codec.ts';
import { SequenceTracker, streamKey } from '../../shared/mqtt/sequence.ts';
import { waitFor } from '../helpers/wait.ts';

export interface Broker {
  readonly name: string;
  /** The broker's temp directory (own Mosquitto only), for certificates and password files. */
  readonly dir?: string;
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
  /** Starts again on the same port. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A port that was free a moment ago. Only for Mosquitto, which cannot listen on port 0 and report the port
 * back; another process can take it before Mosquitto binds it, so startMosquitto retries on EADDRINUSE.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => {
        resolve(port);
      });
    });
  });
}

export function tcpReachable(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = netConnect({ host, port });
    const t = setTimeout(() => {
      sock.destroy();
      resolve(false);
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(t);
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => {
      clearTimeout(t);
      resolve(false);
    });
  });
}

/** The embedded aedes broker on a port-0 TCP server. stop() drops every client and the broker state. */
export async function startAedes(): Promise<Broker> {
  let broker: Aedes | undefined;
  let server: Server | undefined;
  const sockets = new Set<Socket>();
  let port = 0;
  const up = async (): Promise<void> => {
    const b = await Aedes.createBroker();
    const s = createServer((sock) => {
      sockets.add(sock);
      sock.once('close', () => sockets.delete(sock));
      b.handle(sock);
    });
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        resolve();
      });
    });
    port = (s.address() as { port: number }).port;
    broker = b;
    server = s;
  };
  const down = async (): Promise<void> => {
    const s = server;
    const b = broker;
    server = undefined;
    broker = undefined;
    for (const sock of sockets) sock.destroy();
    if (s !== undefined)
      await new Promise<void>((r) => {
        s.close(() => {
          r();
        });
      });
    if (b !== undefined)
      await new Promise<void>((r) => {
        b.close(() => {
          r();
        });
      });
  };
  await up();
  return {
    name: 'aedes',
    get url() {
      return `mqtt://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    stop: down,
    restart: up,
    close: down,
  };
}

/**
 * A Mosquitto of our own on a free port. Persistence is on (in a temp dir) so that a restart keeps the
 * test subscriber's persistent session and the QoS 1 messages queued for it: the outage test must see
 * loss only if the agent loses something, not because the broker forgot a subscriber. max_queued_messages
 * 0 (unlimited) so a slow subscriber never has QoS 1 messages dropped by the broker's default cap of 1000.
 *
 * Mosquitto cannot listen on port 0 and report the port, so the port comes from freePort() and another
 * process may take it before Mosquitto binds it: the first start then retries on a new port. Readiness is
 * Mosquitto's own "running" log line (printed once every listener is bound), not a TCP probe, which the
 * process that took the port would answer too.
 */
export async function startMosquitto(
  options: {
    /**
     * Listener and auth lines; default one plain listener on `port` allowing anonymous clients. Called
     * again with a new port if the first one was taken.
     */
    readonly listener?: (port: number, dir: string) => readonly string[];
  } = {},
): Promise<Broker> {
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-mosq-'));
  // Started as root, mosquitto drops to user "mosquitto", which must still write its persistence file.
  chmodSync(dir, 0o777);
  const conf = join(dir, 'mosquitto.conf');
  let port = 0;
  const writeConfig = (): void => {
    writeFileSync(
      conf,
      [
        ...(options.listener?.(port, dir) ?? [`listener ${port} 127.0.0.1`, 'allow_anonymous true']),
        'persistence true',
        `persistence_location ${dir}/`,
        'autosave_interval 0',
        'max_queued_messages 0',
        'max_inflight_messages 0',
        // Errors (a taken port) and information (the "running" line) only: spawnOnce reads them.
        'log_dest stderr',
        'log_type error',
        'log_type information',
        '',
      ].join('\n'),
    );
  };
  let child: ChildProcess | undefined;
  /** Starts mosquitto on `port`: 'running', or 'in-use' when the port was taken; throws on other failures. */
  const spawnOnce = async (): Promise<'running' | 'in-use'> => {
    const c = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = c;
    let log = '';
    // An object, not a `let`: it changes in callbacks, where narrowing cannot follow it.
    const run: { state: 'starting' | 'running' | 'exited' } = { state: 'starting' };
    c.stderr.on('data', (d: Buffer) => {
      // Keep what startup printed; later connection notices are read and dropped, so the pipe never fills.
      if (log.length < 64 * 1024) log += d.toString();
      if (run.state === 'starting' && / running$/m.test(log)) run.state = 'running';
    });
    c.once('error', (e) => {
      log += String(e);
      run.state = 'exited';
    });
    c.once('exit', () => {
      if (run.state === 'starting') run.state = 'exited';
    });
    try {
      await waitFor(
        () => `mosquitto to start on port ${port} (it printed: ${log})`,
        () => run.state !== 'starting',
      );
    } catch (e) {
      c.kill('SIGKILL'); // or it outlives the test and keeps the test process from exiting
      throw e;
    }
    if (run.state === 'running') return 'running';
    if (log.includes('Address already in use')) return 'in-use';
    throw new Error(`mosquitto exited on start: ${log}`);
  };
  const up = async (): Promise<void> => {
    if (port !== 0) {
      // A restart keeps its port: clients reconnect to the same URL.
      if ((await spawnOnce()) === 'in-use') throw new Error(`mosquitto restart: port ${port} was taken`);
      return;
    }
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      writeConfig();
      if ((await spawnOnce()) === 'running') return;
      if (attempt === 5) throw new Error('mosquitto: 5 free ports in a row were taken before it bound them');
    }
  };
  const down = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (c === undefined || c.exitCode !== null) return;
    // SIGTERM: mosquitto saves its persistence file (sessions, queued QoS 1 messages) and exits.
    await new Promise<void>((resolve) => {
      c.once('exit', () => {
        resolve();
      });
      c.kill('SIGTERM');
    });
  };
  await up();
  return {
    name: 'mosquitto (own)',
    url: `mqtt://127.0.0.1:${port}`,
    dir,
    port,
    stop: down,
    restart: up,
    close: async () => {
      await down();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The system Mosquitto on 127.0.0.1:1883 (CI starts it), or undefined when it is not reachable. */
export async function systemMosquitto(): Promise<Broker | undefined> {
  if (!(await tcpReachable('127.0.0.1', 1883))) return undefined;
  const fail = (): Promise<void> => Promise.reject(new Error('the system mosquitto is not ours to stop'));
  return {
    name: 'mosquitto (127.0.0.1:1883)',
    url: 'mqtt://127.0.0.1:1883',
    port: 1883,
    stop: fail,
    restart: fail,
    close: () => Promise.resolve(),
  };
}

export interface Received {
  readonly topic: string;
  readonly message: DecodedMessage;
  readonly retained: boolean;
}

/**
 * A test subscriber: decodes every message with the shared codec (a payload that fails it fails the test
 * via `invalid`), and deduplicates by (deviceId, runId, msgSeq) with SequenceTracker.
 */
export class Subscriber {
  readonly received: Received[] = [];
  readonly invalid: string[] = [];
  readonly trackers = new Map<string, SequenceTracker>();
  duplicates = 0;
  readonly #client: MqttClient;

  private constructor(client: MqttClient) {
    this.#client = client;
    client.on('message', (topic, payload, packet) => {
      const r = decodeMessage(topic, payload);
      if (!r.ok) {
        this.invalid.push(`${topic}: ${r.message}`);
        return;
      }
      const m = r.value;
      const seq = m.kind === 'raw' ? m.payload.msgSeq : m.payload.msgSeq;
      const runId = m.kind === 'raw' ? m.payload.runId : m.payload.runId;
      const key = streamKey(m.deviceId, runId);
      let t = this.trackers.get(key);
      if (t === undefined) {
        t = new SequenceTracker({ maxRanges: 100_000 });
        this.trackers.set(key, t);
      }
      const verdict = t.accept(seq);
      if (verdict === 'duplicate' || verdict === 'stale') {
        this.duplicates++;
        return;
      }
      this.received.push({ topic, message: m, retained: packet.retain });
    });
  }

  static async connect(
    url: string,
    filter: string,
    options: { readonly clientId?: string; readonly persistent?: boolean } = {},
  ): Promise<Subscriber> {
    const client = connect(url, {
      clientId: options.clientId ?? `test-sub-${Math.random().toString(16).slice(2)}`,
      clean: options.persistent !== true,
      reconnectPeriod: 200,
      keepalive: 10,
    });
    const s = new Subscriber(client);
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => {
        client.subscribe(filter, { qos: 1 }, (err) => {
          if (err) reject(err);
          else resolve();
        });
      });
      client.once('error', reject);
    });
    return s;
  }

  /** Distinct messages of one kind, in arrival order. */
  of<K extends DecodedMessage['kind']>(kind: K): Extract<DecodedMessage, { kind: K }>[] {
    return this.received
      .map((r) => r.message)
      .filter((m): m is Extract<DecodedMessage, { kind: K }> => m.kind === kind);
  }

  close(): Promise<void> {
    return this.#client.endAsync(true);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// The agent side (synthetic windows, the wired publishing path) lives in agent-mqtt-stack.ts.
export { fakeCounters, fakeWindow, startAgentStack, type AgentStack } from './agent-mqtt-stack.ts';
