// Shutdown of the runtime half, in the documented order (docs/agent.md "Shutdown"): runner drained and
// closed → model manager → last model state → live outbox drained → publisher (PUBACKs, offline status) →
// link (DISCONNECT, no will) → outbox → metrics → HTTP. Each step is bounded, so SIGTERM never hangs past
// the unit's TimeoutStopSec. The ingestion half closes before this (it flushes the last windows).

import type { MqttLink } from '../adapters/mqtt.ts';
import type { AgentHttpServer } from '../adapters/http.ts';
import type { InferenceRunner } from '../inference/runner.ts';
import type { AgentMetrics } from '../metrics.ts';
import type { ModelManager } from '../models/manager.ts';
import type { Outbox } from '../outbox/types.ts';
import type { Publisher } from '../publish/publisher.ts';
import type { ModelStates } from './models.ts';

export interface ClosableServices {
  readonly runner: InferenceRunner;
  readonly manager: ModelManager;
  readonly states: ModelStates;
  readonly outbox: Outbox;
  readonly publisher: Publisher;
  readonly link: MqttLink;
  readonly http: AgentHttpServer;
  /** Closed only when the agent built it (a caller's registry is the caller's to close). */
  readonly ownMetrics: AgentMetrics | null;
}

/**
 * Waits (bounded) until the live part of the outbox is delivered, so the windows flushed at shutdown go
 * out now rather than on the next start. The backlog is not waited for: it is replayed at a limited rate
 * and survives in the outbox file anyway.
 */
async function drainLive(outbox: Outbox, publisher: Publisher, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  const live = (): number => {
    const o = outbox.stats();
    return o.depth - o.backlogDepth;
  };
  // Timers not unref'd: shutdown must not end early because nothing else holds the event loop.
  while (publisher.stats().connected && live() > 0 && Date.now() < end)
    await new Promise((r) => setTimeout(r, 10));
}

export async function closeServices(s: ClosableServices, drainTimeoutMs: number): Promise<void> {
  // Every window the reader flushed gets its telemetry before the runner stops.
  await s.runner.whenIdle();
  await s.runner.close();
  await s.manager.close();
  await s.states.settle(drainTimeoutMs);
  await drainLive(s.outbox, s.publisher, drainTimeoutMs);
  await s.publisher.close({ drainTimeoutMs });
  await s.link.close({ timeoutMs: Math.max(100, drainTimeoutMs) });
  s.outbox.close();
  s.ownMetrics?.close();
  await s.http.close();
}
