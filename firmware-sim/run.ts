// runSim: drives a Board against an output in (scaled) real time. `speed` 1 paces bytes at device time,
// larger values run faster, 'max' writes as fast as the output accepts (backpressure, never a busy loop).
// A disconnect fault really unplugs a pty output (kill/restart socat); on other outputs the bytes stop.

import { setTimeout as sleep } from 'node:timers/promises';
import { FrameDecoder } from '../shared/serial/decoder.ts';
import { writeTextFile } from './adapters/files.ts';
import { BLOCK_US, createBoard, type Board } from './board.ts';
import { groundTruthLines, type GroundTruth } from './ground-truth.ts';
import type { SimOutput } from './output.ts';
import type { Scenario } from './scenario.ts';

export type Speed = number | 'max';

export interface SimProgress {
  /** Scenario time generated, seconds. */
  readonly timeS: number;
  /** The device's own clock, seconds since its boot. */
  readonly deviceTimeS: number;
  readonly frames: number;
  readonly bytes: number;
  /** Bytes per wall-clock second since the previous report. */
  readonly bytesPerS: number;
  readonly linkUp: boolean;
}

export interface RunSimOptions {
  readonly scenario: Scenario;
  readonly seed: number;
  /** Seconds of device time; default the scenario's durationS. */
  readonly durationS?: number | undefined;
  readonly speed: Speed;
  readonly out: SimOutput;
  readonly deviceId?: string | undefined;
  /** Writes the ground truth as JSON Lines here when the run ends (also on abort). */
  readonly groundTruthPath?: string | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Called at most once per wall-clock second. */
  readonly onProgress?: ((p: SimProgress) => void) | undefined;
  /** Called once the board exists, e.g. to read stateAt() while it runs. */
  readonly onBoard?: ((board: Board) => void) | undefined;
}

export interface SimSummary {
  readonly timeS: number;
  readonly frames: number;
  readonly bytes: number;
  readonly wallMs: number;
  readonly aborted: boolean;
  readonly helloRequests: number;
  readonly groundTruth: GroundTruth;
}

/** Chunk of device time per write: ~20 ms of wall time at the requested speed, within 10 ms .. 1 s. */
function chunkUs(speed: Speed): number {
  if (speed === 'max') return 1_000_000;
  return Math.min(1_000_000, Math.max(BLOCK_US, Math.round((20_000 * speed) / BLOCK_US) * BLOCK_US));
}

export async function runSim(opts: RunSimOptions): Promise<SimSummary> {
  if (opts.speed !== 'max' && !(opts.speed > 0))
    throw new RangeError(`speed must be > 0 or 'max', got ${opts.speed}`);
  const board = createBoard({ scenario: opts.scenario, seed: opts.seed, deviceId: opts.deviceId });
  opts.onBoard?.(board);
  const endUs = Math.round(((opts.durationS ?? opts.scenario.durationS) * 1e6) / BLOCK_US) * BLOCK_US;
  const signal = opts.signal;
  let helloRequests = 0;
  if (opts.out.onData !== undefined) {
    // The host may ask for HELLO at any time (docs/serial-protocol.md §HELLO_REQUEST).
    const decoder = new FrameDecoder();
    opts.out.onData((chunk) => {
      decoder.push(chunk, (e) => {
        if (e.ok && e.frame.type === 'helloRequest') {
          helloRequests++;
          board.requestHello();
        }
      });
    });
  }
  const step = chunkUs(opts.speed);
  const t0 = performance.now();
  let bytes = 0;
  let lastReport = t0;
  let lastBytes = 0;
  let linkActionAt = -1;
  let aborted = false;
  try {
    while (board.timeUs < endUs) {
      if (signal?.aborted === true) {
        aborted = true;
        break;
      }
      const change = board.nextLinkChangeUs();
      if (change === board.timeUs && linkActionAt !== change) {
        linkActionAt = change;
        // linkUp still describes the state before this block: up means the cable is about to be pulled.
        if (board.linkUp) await opts.out.unplug?.();
        else await opts.out.replug?.();
      }
      let until = Math.min(endUs, board.timeUs + step);
      if (change !== null && change > board.timeUs && change < until) until = change;
      const chunk = board.generate(until);
      if (chunk.length > 0) {
        await opts.out.write(chunk, signal);
        bytes += chunk.length;
      }
      const now = performance.now();
      if (opts.speed === 'max') {
        // Let I/O callbacks (HELLO requests, drain) run between chunks.
        await new Promise<void>((resolve) => setImmediate(resolve));
      } else {
        const due = t0 + board.timeUs / 1000 / opts.speed;
        // Not unref'd: this sleep is the run itself, the process must stay alive for it.
        if (due > now + 1) await sleep(due - now, undefined, signal === undefined ? {} : { signal });
      }
      if (opts.onProgress !== undefined && now - lastReport >= 1000) {
        opts.onProgress({
          timeS: board.timeUs / 1e6,
          deviceTimeS: board.deviceTimeUs / 1e6,
          frames: board.groundTruth.frames.built,
          bytes,
          bytesPerS: ((bytes - lastBytes) * 1000) / (now - lastReport),
          linkUp: board.linkUp,
        });
        lastReport = now;
        lastBytes = bytes;
      }
    }
  } catch (err) {
    // Once a stop was asked, any write failure is part of the stop (the peer or the pty going away with
    // the same Ctrl-C): the run ends as aborted and still writes its ground truth.
    if (signal?.aborted !== true) throw err;
    aborted = true;
  }
  if (opts.groundTruthPath !== undefined)
    await writeTextFile(opts.groundTruthPath, groundTruthLines(board.groundTruth));
  return {
    timeS: board.timeUs / 1e6,
    frames: board.groundTruth.frames.built,
    bytes,
    wallMs: performance.now() - t0,
    aborted,
    helloRequests,
    groundTruth: board.groundTruth,
  };
}
