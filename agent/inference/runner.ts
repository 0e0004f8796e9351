// Serialises inference: windows from ingestion enter a bounded queue and are inferred one at a time, in
// order, by whichever engine is active when the window leaves the queue. `swap()` replaces that engine
// synchronously, so the swap always falls between two windows: each window is run by exactly one engine,
// none is skipped and none runs twice (issue #4 §4; test/integration/agent-model-swap.test.ts counts it).
//
// Ingestion never waits for inference: submit() only enqueues. If the model is slower than the window
// rate for long, the oldest queued windows are dropped and counted (STYLE.md habit 4); samples are never
// lost upstream, because windowing does not depend on this queue.

import { fail, type Result } from '../../shared/errors.ts';
import type { Window } from '../../shared/samples.ts';
import type { SensorDescriptor } from '../../shared/sensors.ts';
import type { InferenceEngine, Prediction } from './engine.ts';

export interface InferenceOutcome {
  readonly window: Window;
  /** The engine that ran this window, or null when no model was active. */
  readonly engine: InferenceEngine | null;
  /** null when no model was active; otherwise the prediction or why it failed. */
  readonly result: Result<Prediction> | null;
}

export type OutcomeListener = (outcome: InferenceOutcome) => void;

export interface RunnerStats {
  readonly submitted: number;
  readonly inferred: number;
  readonly failed: number;
  /** Windows that passed while no model was active. */
  readonly unserved: number;
  /** Windows dropped from a full queue (oldest first). */
  readonly dropped: number;
  readonly queueDepth: number;
  readonly swaps: number;
}

export interface RunnerOptions {
  /** Windows waiting for inference before the oldest is dropped. Default 64 (a minute at 1 window/s). */
  readonly maxQueue?: number;
}

interface Item {
  readonly window: Window;
  readonly sensors: readonly SensorDescriptor[];
}

export class InferenceRunner {
  private engine: InferenceEngine | null = null;
  private readonly queue: Item[] = [];
  private readonly maxQueue: number;
  private readonly listeners = new Set<OutcomeListener>();
  private running: InferenceEngine | null = null;
  private pumping = false;
  private idleWaiters: (() => void)[] = [];
  private closed = false;
  private counts = { submitted: 0, inferred: 0, failed: 0, unserved: 0, dropped: 0, swaps: 0 };

  constructor(options: RunnerOptions = {}) {
    this.maxQueue = options.maxQueue ?? 64;
    if (!Number.isInteger(this.maxQueue) || this.maxQueue < 1)
      throw new RangeError(`maxQueue must be a positive integer, got ${this.maxQueue}`);
  }

  /** The engine the next window will use. */
  get active(): InferenceEngine | null {
    return this.engine;
  }

  /** Replaces the active engine between two windows and returns the previous one (not closed). */
  swap(next: InferenceEngine | null): InferenceEngine | null {
    const prev = this.engine;
    this.engine = next;
    this.counts.swaps++;
    return prev;
  }

  /** Adds a listener for every outcome, in window order; returns its remover. */
  observe(listener: OutcomeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Queues a window. Returns false when the runner is closed. Never blocks. */
  submit(window: Window, sensors: readonly SensorDescriptor[]): boolean {
    if (this.closed) return false;
    this.counts.submitted++;
    if (this.queue.length >= this.maxQueue) {
      this.queue.shift();
      this.counts.dropped++;
    }
    this.queue.push({ window, sensors });
    if (!this.pumping) void this.pump();
    return true;
  }

  /** True while `engine` is running a window (its session must not be closed yet). */
  isRunning(engine: InferenceEngine): boolean {
    return this.running === engine;
  }

  /** Resolves when the queue is empty and no window is in flight. */
  whenIdle(): Promise<void> {
    if (!this.pumping) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Resolves once `engine` has no window in flight, so it may be closed. */
  async whenReleased(engine: InferenceEngine): Promise<void> {
    while (this.running === engine) await new Promise((r) => setImmediate(r));
  }

  stats(): RunnerStats {
    return { ...this.counts, queueDepth: this.queue.length };
  }

  /** Stops accepting windows, drops the queue, waits for the window in flight. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    this.counts.dropped += this.queue.length;
    this.queue.length = 0;
    await this.whenIdle();
    this.listeners.clear();
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      for (let item = this.queue.shift(); item !== undefined; item = this.queue.shift()) {
        // The one read of the engine reference for this window: a swap() after this line affects the next.
        const engine = this.engine;
        let result: Result<Prediction> | null = null;
        if (engine === null) {
          this.counts.unserved++;
        } else {
          this.running = engine;
          try {
            result = await engine.infer(item.window, item.sensors);
          } catch (err) {
            // An engine should return failures as values; a throw is still counted, never fatal.
            result = fail('EDGELOOP_ERR_ONNX_RUN', err instanceof Error ? err.message : String(err));
          } finally {
            this.running = null;
          }
          if (result.ok) this.counts.inferred++;
          else this.counts.failed++;
        }
        const outcome: InferenceOutcome = { window: item.window, engine, result };
        for (const l of this.listeners) {
          try {
            l(outcome);
          } catch {
            // A listener bug must not stop inference; listeners log their own failures.
          }
        }
      }
    } finally {
      this.pumping = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }
}
