// The collector's only import of aedes (STYLE.md: one adapter file per I/O library): the embedded MQTT
// broker `edgeloop collector` runs when no --mqtt is given (docs/collector.md §Broker modes).
//
// Who may do what is decided here, in aedes' authenticate / authorizePublish / authorizeSubscribe hooks,
// from the credentials the collector was given (deviceId → password, plus one collector identity):
// - a device (user name = its device id) may publish only under `edgeloop/v1/devices/<its id>/`, and never
//   on its model command topic (the collector sends those), and may subscribe only to that command topic;
// - the collector may subscribe to every device topic and publish model commands and its alert topics
//   (`edgeloop/v1/alerts/...`, docs/mqtt.md §Alerts (collector));
// - anyone else is refused at CONNECT. Every refusal is counted (refusals()) and reported once per event
//   through onRefused, so an operator sees a misconfigured or hostile device in the metrics.

import { timingSafeEqual } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import { EdgeloopError } from '../../shared/errors.ts';
import { ALERTS_ROOT, TOPIC_ROOT, topicSpecs } from '../../shared/mqtt/topics.ts';

export interface BrokerCredentials {
  /** deviceId → password. A device connects with user name = its device id. */
  readonly devices: ReadonlyMap<string, string>;
  /** The collector's own identity on the broker. */
  readonly collector: { readonly username: string; readonly password: string };
}

export type RefusalKind = 'connect' | 'publish' | 'subscribe';

export interface EmbeddedBrokerOptions {
  readonly credentials: BrokerCredentials;
  /** TCP port; 0 picks a free one. */
  readonly port: number;
  /** Interface to bind. Default 0.0.0.0 (devices connect from the network). */
  readonly host?: string;
  /** Told about every refused operation (for logs and metrics). */
  readonly onRefused?: (kind: RefusalKind, who: string, detail: string) => void;
}

export interface EmbeddedBroker {
  readonly port: number;
  /** mqtt://host:port for the collector's own subscriber. */
  readonly url: string;
  connectedClients(): number;
  refusals(): Readonly<Record<RefusalKind, number>>;
  /** Idempotent: closes every client, then the listener. */
  close(): Promise<void>;
}

interface Identity {
  readonly role: 'device' | 'collector';
  readonly name: string;
}

const devicePrefix = `${TOPIC_ROOT}/devices/`;

/** Constant-time comparison, so a password cannot be guessed byte by byte from response times. */
function samePassword(expected: string, given: Buffer | undefined): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(expected, 'utf8');
  return a.length === given.length && timingSafeEqual(a, given);
}

function authError(): AuthenticateError {
  // CONNACK return code 4 (MQTT 3.1.1 §3.2.2.3): bad user name or password.
  const err = new Error('bad user name or password') as AuthenticateError;
  (err as { returnCode: number }).returnCode = 4;
  return err;
}

/** The ACL as a pure function, so it is testable without a socket. */
export function mayPublish(who: Identity, topic: string): boolean {
  if (who.role === 'collector') return topic.startsWith(devicePrefix) || topic.startsWith(`${ALERTS_ROOT}/`);
  const own = `${devicePrefix}${who.name}/`;
  return topic.startsWith(own) && topic !== `${own}${topicSpecs.modelCommand.suffix}`;
}

export function maySubscribe(who: Identity, filter: string): boolean {
  if (who.role === 'collector')
    return (
      filter.startsWith(devicePrefix) || filter.startsWith(`${ALERTS_ROOT}/`) || filter === `${TOPIC_ROOT}/#`
    );
  return filter === `${devicePrefix}${who.name}/${topicSpecs.modelCommand.suffix}`;
}

export async function startEmbeddedBroker(options: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  const { credentials } = options;
  const identities = new WeakMap<Client, Identity>();
  const refused: Record<RefusalKind, number> = { connect: 0, publish: 0, subscribe: 0 };
  const refuse = (kind: RefusalKind, who: string, detail: string): void => {
    refused[kind]++;
    options.onRefused?.(kind, who, detail);
  };

  const broker = await Aedes.createBroker({
    authenticate(client, username, password, done) {
      const c = credentials.collector;
      if (username === c.username && samePassword(c.password, password)) {
        identities.set(client, { role: 'collector', name: username });
        done(null, true);
        return;
      }
      const expected = username === undefined ? undefined : credentials.devices.get(username);
      if (username !== undefined && expected !== undefined && samePassword(expected, password)) {
        identities.set(client, { role: 'device', name: username });
        done(null, true);
        return;
      }
      refuse('connect', username ?? `(client ${client.id})`, 'bad user name or password');
      done(authError(), false);
    },
    authorizePublish(client, packet, callback) {
      // client is null for the broker's own publishes ($SYS), which no device can cause.
      if (client === null) {
        callback(null);
        return;
      }
      const who = identities.get(client);
      if (who !== undefined && mayPublish(who, packet.topic)) {
        callback(null);
        return;
      }
      refuse('publish', who?.name ?? client.id, packet.topic);
      // An error makes aedes close the connection: a device publishing outside its prefix is broken or
      // hostile, and Mosquitto's ACL is no kinder to it (it drops the message silently).
      callback(new Error(`not authorised to publish on ${packet.topic}`));
    },
    authorizeSubscribe(client, sub, callback) {
      const who = identities.get(client);
      if (who !== undefined && maySubscribe(who, sub.topic)) {
        callback(null, sub);
        return;
      }
      refuse('subscribe', who?.name ?? client.id, sub.topic);
      // null: SUBACK 0x80 for this filter; the connection stays up.
      callback(null, null);
    },
  });

  const sockets = new Set<Socket>();
  const server: Server = createServer((sock) => {
    sockets.add(sock);
    sock.once('close', () => sockets.delete(sock));
    broker.handle(sock);
  });
  const host = options.host ?? '0.0.0.0';
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await new Promise<void>((resolve) => {
      broker.close(() => {
        resolve();
      });
    });
    const e = err as NodeJS.ErrnoException;
    throw new EdgeloopError(
      'EDGELOOP_ERR_BROKER_LISTEN',
      `the embedded broker cannot listen on ${host}:${options.port}: ${e.code ?? e.message}`,
      { cause: err },
    );
  }
  const port = (server.address() as { port: number }).port;
  const local = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  let closing: Promise<void> | undefined;
  return {
    port,
    url: `mqtt://${local.includes(':') ? `[${local}]` : local}:${port}`,
    connectedClients: () => broker.connectedClients,
    refusals: () => ({ ...refused }),
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        // aedes.close() ends its clients; sockets it has not adopted yet are ended here.
        broker.close(() => {
          for (const s of sockets) s.destroy();
        });
      });
      return closing;
    },
  };
}
