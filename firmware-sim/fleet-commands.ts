// Model commands for `edgeloop sim --fleet` (docs/firmware-sim.md §Model commands): one update state
// machine (fleet-updates.ts) per answering device, subscribed to its command topic, its transitions
// published in order through the fleet's bounded sender, and bundle downloads bounded across the fleet.
// No I/O of its own: the link, the HTTP GET and the model loader come in.

import { EdgeloopError, type Failure, type Result } from '../shared/errors.ts';
import { buildTopic } from '../shared/mqtt/topics.ts';
import type { FleetDevice, FleetMessage } from './fleet-device.ts';
import type { FleetModel } from './fleet-model.ts';
import type { FleetModelCache } from './fleet-models.ts';
import { FleetUpdater, type DownloadRequest, type FleetUpdateConfig } from './fleet-updates.ts';
import type { FleetLink } from './fleet.ts';

/** HTTP GET of a bundle with retry (adapters/download.ts getBundle in production). */
export type FleetBundleGet = (o: {
  readonly url: string;
  readonly deadlineMs: number;
  readonly attemptTimeoutMs: number;
  readonly maxBytes: number;
  readonly retryBaseMs: number;
  readonly retryCapMs: number;
  readonly random: () => number;
  readonly signal: AbortSignal;
  readonly onRetry: DownloadRequest['onRetry'];
}) => Promise<Result<Uint8Array>>;

/** Model commands (fleet-updates.ts): every device not in `silent` answers them as an agent does. */
export interface FleetUpdatesOptions {
  readonly config: FleetUpdateConfig;
  /** Sessions of installed bundles, one per bundle (the --model one adopted). */
  readonly models: FleetModelCache;
  readonly get: FleetBundleGet;
  /** Devices that never answer (not subscribed: as if offline for commands). Default none. */
  readonly silent?: ReadonlySet<string>;
  /** Bundle downloads in flight across the fleet, at most; others wait their turn. Default 8. */
  readonly maxDownloads?: number;
}

/** Counts of the model commands the fleet answered, by final state. */
export interface FleetUpdateCounts {
  readonly committed: number;
  readonly rolledBack: number;
  readonly failed: number;
}

export interface DeviceUpdater {
  readonly outcomes: FleetUpdateCounts;
  close(): Promise<void>;
}

/** At most `limit` tasks at once; waiters are bounded by the callers (one download per device at most). */
function limiter(limit: number): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async (task) => {
    if (running >= limit) await new Promise<void>((r) => waiting.push(r));
    running++;
    try {
      return await task();
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve(); // aborted already: addEventListener would never fire
      return;
    }
    const t = setTimeout(done, ms);
    t.unref();
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Subscribes every answering device to its command topic, with its own updater; a refused SUBSCRIBE fails the run. */
export async function startUpdaters(
  u: FleetUpdatesOptions,
  devices: readonly FleetDevice[],
  links: readonly FleetLink[],
  send: (link: FleetLink, m: FleetMessage) => Promise<void>,
  initial: FleetModel | undefined,
): Promise<DeviceUpdater[] | Failure> {
  if (initial !== undefined) u.models.adopt(initial);
  const gate = limiter(u.maxDownloads ?? 8);
  const c = u.config;
  const out: DeviceUpdater[] = [];
  const subscribing: Promise<Result<void>>[] = [];
  for (let i = 0; i < devices.length; i++) {
    const device = devices[i] as FleetDevice;
    const link = links[i] as FleetLink;
    if (u.silent?.has(device.deviceId) === true) continue;
    if (link.subscribe === undefined)
      throw new EdgeloopError('EDGELOOP_ERR_CONFIG_INVALID', 'model commands need a link that can subscribe');
    // Publishes of one device stay in order (DOWNLOADING before VERIFYING on the retained topic).
    let chain = Promise.resolve();
    const publish = (m: () => FleetMessage): void => {
      chain = chain.then(() => send(link, m()));
    };
    const updater = new FleetUpdater(
      {
        deviceId: device.deviceId,
        config: c,
        models: u.models,
        download: (r) =>
          gate(() =>
            u.get({
              url: r.url,
              deadlineMs: c.downloadDeadlineMs,
              attemptTimeoutMs: c.downloadAttemptTimeoutMs,
              maxBytes: c.maxBundleBytes,
              retryBaseMs: c.retryBaseMs,
              retryCapMs: c.retryCapMs,
              random: r.random,
              signal: r.signal,
              onRetry: r.onRetry,
            }),
          ),
        report: (body) => {
          publish(() => device.modelState(body));
        },
        serve: (m) => {
          device.setModel(m);
        },
        changed: () => {
          publish(() => device.updated());
        },
        sleep: abortableSleep,
      },
      initial,
    );
    const topic = buildTopic('modelCommand', device.deviceId);
    if (!topic.ok) return topic;
    subscribing.push(
      link.subscribe(topic.value, (bytes) => {
        void updater.handle(bytes);
      }),
    );
    // SUBSCRIBEs go out 50 at a time (as the connections), each batch waiting for its SUBACKs.
    if (subscribing.length >= 50) {
      const bad = (await Promise.all(subscribing.splice(0))).find((r): r is Failure => !r.ok);
      if (bad !== undefined) return bad;
    }
    out.push({
      outcomes: updater.outcomes,
      close: async () => {
        await updater.close();
        await chain; // this device's last reports are handed to MQTT before its offline status
      },
    });
  }
  const bad = (await Promise.all(subscribing)).find((r): r is Failure => !r.ok);
  return bad ?? out;
}
